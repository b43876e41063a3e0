"""The settings of language-mode preference optimisation and how they drive :func:`~aligngames.solvers.equilibrium.mpo.iterate`."""

from __future__ import annotations

from dataclasses import dataclass, field

from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

ALGORITHMS = ("mpo", "nash_md", "spo")


@dataclass(frozen=True)
class LanguagePreferenceConfig:
    """Settings of preference optimisation in language mode.

    Attributes:
        algorithm: mpo, or a baseline: nash_md (opponents from the geometric mixture of the policy and
            the initial policy, which stays the magnet) or spo (self-play win-rate rewards, no magnet).
        alpha: KL weight toward the magnet (Nash-MD: its tau, toward the initial policy; SPO: unused).
        eta: mirror-descent step: the KL weight toward the policy that sampled the batch is 1/eta
            (Nash-MD: (1 - eta*alpha)/eta, and eta*alpha <= 1 is the mixture weight).
        inner_steps: steps per regularised game (MPO copies the policy into the magnet after them); the
            policy is evaluated every inner_steps steps.
        outer_steps: regularised games; the run takes inner_steps * outer_steps steps.
        prompts_per_step: episodes (prompts) per step, shared among torchrun processes.
        samples_per_prompt: answers sampled per prompt (>= 2): the group of the group-relative advantage.
        scale_advantages: divide each advantage by its group's standard deviation.
        system_prompt: the system prompt (None: the LLM agent's).
        eval_episodes: episodes per evaluation point (each judged in both seat orders).
        eval_judges: comma-separated registered preference judges that also score every evaluation point
            (``features,reward_model``...), so a policy that learns to please the training judge alone shows it;
            the env's judge still sets the rewards.
        seed: the run seed.
        keep_checkpoints: checkpoint folders kept (the newest ones).
        model: the base model.
        lora: the policy's LoRA adapter (rank 0: full fine-tuning of a private copy of the model).
        trainer: the optimiser steps of each MMD step (trainer.epochs passes over its samples).
        generation: how answers are sampled.
    """

    algorithm: str = "mpo"
    alpha: float = 0.1
    eta: float = 1.0
    inner_steps: int = 5
    outer_steps: int = 4
    prompts_per_step: int = 4
    samples_per_prompt: int = 4
    scale_advantages: bool = False
    system_prompt: str | None = None
    eval_episodes: int = 24
    eval_judges: str = ""
    seed: int = 0
    keep_checkpoints: int = 2
    model: ModelSettings = field(default_factory=ModelSettings)
    lora: LoRASettings = field(default_factory=LoRASettings)
    trainer: TrainerSettings = field(default_factory=lambda: TrainerSettings(learning_rate=1e-4, epochs=2))
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_new_tokens=32, batch_size=32))

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {list(ALGORITHMS)}, got {self.algorithm!r}")
        if self.alpha <= 0 or self.eta <= 0 or self.inner_steps < 1 or self.outer_steps < 1:
            raise ValueError("need alpha > 0, eta > 0, inner_steps >= 1 and outer_steps >= 1")
        if self.algorithm == "nash_md" and self.eta * self.alpha > 1:
            raise ValueError(f"Nash-MD needs eta * alpha <= 1 (the mixture weight), got {self.eta * self.alpha}")
        if self.samples_per_prompt < 2 or self.prompts_per_step < 1:
            raise ValueError("need samples_per_prompt >= 2 (self-play rewards compare answers) and prompts_per_step >= 1")
        if self.eval_episodes < 0:
            raise ValueError(f"eval_episodes must be >= 0, got {self.eval_episodes}")
        if self.generation.backend == "vllm" and self.lora.rank == 0:
            raise ValueError("vLLM generation here passes LoRA adapters to the engine; full fine-tuning (lora.rank 0) "
                             "would need the weights copied into the engine every step: use generation.backend transformers")
        if self.keep_checkpoints < 1:
            raise ValueError("keep_checkpoints must be >= 1")

    @property
    def eval_judge_names(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.eval_judges.split(",") if name.strip())

    @property
    def total_steps(self) -> int:
        return self.inner_steps * self.outer_steps

    @property
    def total_updates(self) -> int:
        """Optimiser steps in the whole run (where a decaying learning-rate schedule ends)."""
        return self.total_steps * self.trainer.epochs


@dataclass(frozen=True)
class IterationSchedule:
    """How :func:`~aligngames.solvers.training.preference_training.loop.train_policy` calls
    :func:`~aligngames.solvers.equilibrium.mpo.iterate`.

    Attributes:
        alpha, eta: passed to every ``mmd_step``.
        inner_steps: steps per regularised game (the magnet is copied from the policy before each game).
        outer_steps: regularised games.
        evaluate_every: steps between evaluation points (and after the last step).
    """

    alpha: float
    eta: float
    inner_steps: int
    outer_steps: int
    evaluate_every: int

    @property
    def total_steps(self) -> int:
        return self.inner_steps * self.outer_steps


def iteration_schedule(config: LanguagePreferenceConfig) -> IterationSchedule:
    """MPO resets the magnet every ``inner_steps``; the baselines play one game with a fixed magnet."""
    if config.algorithm == "mpo":
        return IterationSchedule(config.alpha, config.eta, config.inner_steps, config.outer_steps, config.inner_steps)
    return IterationSchedule(config.alpha, config.eta, config.total_steps, 1, config.inner_steps)


__all__ = ["ALGORITHMS", "IterationSchedule", "LanguagePreferenceConfig", "iteration_schedule"]
