"""Train a LoRA corrector in ``aligner_v0``'s language mode against the game's judge (Aligner, Ji et al. 2024).

Aligner trains a small corrector ``mu(y' | x, y)`` by supervised learning on (question, answer, correction) triples;
here the corrector learns by policy gradient from the judge instead, the game's own payoff. Each step:

1. ``prompts_per_step`` env seeds, each played ``group_size`` times: the ``upstream`` agent (any agent: a scripted
   answerer, another LLM, a fixed adapter) answers and the corrector (a LoRA adapter on ``handle``, sampling at
   temperature 1) writes the correction from the ``##Question ##Answer ##Correction`` transcript, earlier turns
   included. Episodes with the same seed see the same prompts (the env draws nothing else), so each
   (seed, turn) is a group;
2. the env's judge pays the corrector ``P(y' > y | x)`` (minus the harm of ``y'`` with a cost judge);
3. group-relative advantages (:func:`~aligngames.solvers.training.policy_gradient.group_advantages`) and one
   update of :class:`~aligngames.solvers.training.policy_gradient.PolicyGradientTrainer` with weight
   ``reference_kl`` on ``KL(mu || base model)``: the language-mode counterpart of the tabular game's KL toward
   the copy prior (the base model prompted to correct mostly copies or paraphrases).

:func:`train_corrector` returns one metrics dict per step on a model the caller loaded; :func:`run` (``aligngames solve
aligner --train STEPS --out RUN``) does the same in a run folder, with a checkpoint after every step and exact resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from aligngames import registry
from aligngames.agent import Agent, AgentSpec
from aligngames.agents.llm import GenerationConfig, LLMAgent, load_model, lora
from aligngames.agents.llm.models import LoadedModel
from aligngames.config import to_mapping
from aligngames.play.rollout import play_episodes
from aligngames.runs import (
    RunFolder,
    append_line,
    atomic_write_json,
    read_json_file,
)
from aligngames.seeding import derive_seed, make_rng
from aligngames.solvers.inputs import check_settings
from aligngames.solvers.training import checkpoints
from aligngames.solvers.training.policy_gradient import (
    PolicyGradientTrainer,
    PolicyRef,
    RegularizerWeights,
    Rollouts,
    group_advantages,
)
from aligngames.solvers.training.settings import LoRASettings, ModelSettings, TrainerSettings

ENV = "aligner_v0"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class CorrectorTrainingConfig:
    """Settings of a language-mode corrector run.

    Attributes:
        steps: policy-gradient steps.
        prompts_per_step: env seeds per step.
        group_size: episodes per seed (advantages are relative to the group).
        reference_kl: weight of ``KL(mu || base model)``, token level.
        max_new_tokens: the longest correction in tokens.
        seed: the run seed.
        lora, trainer: the corrector's adapter and the optimiser.
    """

    steps: int = 8
    prompts_per_step: int = 4
    group_size: int = 4
    reference_kl: float = 0.05
    max_new_tokens: int = 48
    seed: int = 0
    lora: LoRASettings = field(default_factory=LoRASettings)
    trainer: TrainerSettings = field(default_factory=lambda: TrainerSettings(learning_rate=5e-4, epochs=1))

    def __post_init__(self) -> None:
        check_settings(("steps", self.steps, self.steps >= 1, ">= 1"),
                       ("prompts_per_step", self.prompts_per_step, self.prompts_per_step >= 1, ">= 1"),
                       ("group_size", self.group_size, self.group_size >= 2, ">= 2"),
                       ("reference_kl", self.reference_kl, self.reference_kl >= 0, ">= 0"),
                       ("max_new_tokens", self.max_new_tokens, self.max_new_tokens >= 1, ">= 1"),
                       ("lora.rank", self.lora.rank, self.lora.rank >= 1, ">= 1 (the corrector is an adapter)"))


@dataclass
class CorrectorTraining:
    """What :func:`train_corrector` returns.

    Attributes:
        adapter: the name of the trained adapter on the handle.
        metrics: one dict per step: ``step``, ``reward`` (mean corrector reward), ``improvement`` (mean
            ``P(y' > y)``), ``copy_rate`` (share of corrections equal to the answer), and the trainer's numbers.
    """

    adapter: str
    metrics: list[dict[str, float]]


class _CorrectorLoop:
    """The state of a corrector run (adapter, trainer, seed stream) and one step of it."""

    def __init__(self, handle: LoadedModel, upstream: Agent, env_kwargs: Mapping[str, Any] | None,
                 config: CorrectorTrainingConfig, adapter: str) -> None:
        self.handle, self.upstream, self.config = handle, upstream, config
        self.env_kwargs = {**dict(env_kwargs or {}), "mode": "language"}
        self.adapter = lora.add_adapter(handle, adapter, rank=config.lora.rank, alpha=config.lora.alpha,
                                        target_modules=config.lora.target_modules,
                                        seed=derive_seed(config.seed, "aligner-lora"))
        self.corrector = LLMAgent(handle, adapter=self.adapter,
                                  generation=GenerationConfig(max_new_tokens=config.max_new_tokens, temperature=1.0),
                                  max_batch_size=config.prompts_per_step * config.group_size)
        self.trainer = PolicyGradientTrainer(PolicyRef(handle, self.adapter), config.trainer,
                                             total_updates=config.steps * config.trainer.epochs)
        self.rng = make_rng(config.seed, "aligner-training")

    def _make_env(self):
        return registry.make(ENV, **self.env_kwargs)

    def step(self, step: int) -> dict[str, float]:
        """Play and train step ``step`` (0-based); return its metrics line."""
        config = self.config
        seeds = [int(seed) for seed in self.rng.integers(0, 2**63 - 1, size=config.prompts_per_step)
                 for _ in range(config.group_size)]  # group members are adjacent
        self.corrector.reset(derive_seed(config.seed, "aligner-corrector", step))
        self.upstream.reset(derive_seed(config.seed, "aligner-upstream", step))
        episodes = play_episodes(self._make_env, {"policy": self.upstream, "corrector": self.corrector}, seeds,
                                 record_turns=True)
        turns = [[turn for turn in episode.steps if turn["seat"] == "corrector"] for episode in episodes]
        rounds = [episode.record["rounds"] for episode in episodes]
        num_turns = len(rounds[0])
        # (episode, turn) rewards; groups: the same seed and turn, i.e. the group_size adjacent episodes
        rewards = torch.tensor([[entry["rewards"]["corrector"] for entry in episode] for episode in rounds],
                               dtype=torch.float32)  # (episodes, turns)
        advantages = torch.stack([group_advantages(rewards[:, turn], config.group_size) for turn in range(num_turns)],
                                 dim=1)  # (episodes, turns)
        rollouts = Rollouts.from_turns(pair for episode_turns, episode_advantages in zip(turns, advantages.tolist())
                                       for pair in zip(episode_turns, episode_advantages))
        update: dict[str, float] = {}
        if rollouts is not None:
            update = self.trainer.update(rollouts, RegularizerWeights(reference=config.reference_kl),
                                         reference=PolicyRef(self.handle, None))
        entries = [entry for episode in rounds for entry in episode]
        return {"step": step + 1, "reward": float(rewards.mean()),
                "improvement": float(np.mean([entry["improvement"] for entry in entries])),
                "copy_rate": float(np.mean([entry["correction"] == entry["answer"] for entry in entries])),
                "sequences": float(len(rollouts) if rollouts is not None else 0),
                **{key: value for key, value in update.items() if isinstance(value, int | float)}}

    def save_state(self, folder: Path) -> None:
        """The checkpoint of the state after a step: the adapter, the optimiser and the seed stream."""
        checkpoints.save_adapter_run(folder, self.handle, self.adapter, self.trainer, self.rng)

    def load_state(self, folder: Path) -> None:
        self.rng, _ = checkpoints.load_adapter_run(folder, self.handle, self.adapter, self.trainer)


def train_corrector(handle: LoadedModel, upstream: Agent, env_kwargs: Mapping[str, Any] | None = None,
                    config: CorrectorTrainingConfig | None = None, *, adapter: str = "aligner_corrector") -> CorrectorTraining:
    """Run the loop of the module docstring; the corrector is a new LoRA adapter ``adapter`` on ``handle``."""
    config = config or CorrectorTrainingConfig()
    loop = _CorrectorLoop(handle, upstream, env_kwargs, config, adapter)
    return CorrectorTraining(loop.adapter, [loop.step(step) for step in range(config.steps)])


def run(config: CorrectorTrainingConfig, upstream: AgentSpec, env_kwargs: Mapping[str, Any], out: str | Path, *,
        model: ModelSettings | None = None, progress: bool = False) -> dict[str, Any]:
    """:func:`train_corrector` in the run folder ``out`` (``aligngames solve aligner --train``): ``config.yaml``,
    ``manifest.json``, ``metrics.jsonl`` (a line per step, appended and flushed), ``checkpoints/step_N`` after every
    step (written atomically; a rerun on ``out`` resumes from the last one and ends with the files of a run never
    stopped), ``adapters/corrector``, ``training.png`` and ``summary.json``. Returns the summary."""
    model = model or ModelSettings()
    out = Path(out)
    env_kwargs = {**dict(env_kwargs), "mode": "language"}
    resolved = {"settings": to_mapping(config), "model": to_mapping(model),
                "upstream": {"type": upstream.type, "kwargs": dict(upstream.kwargs)}, "env_kwargs": env_kwargs}
    with RunFolder.open(out, command="solve aligner --train", config=resolved, seed=config.seed) as run_folder:
        summary_path = out / SUMMARY_FILE
        if summary_path.exists():  # finished: nothing to redo
            return read_json_file(summary_path, keys=("steps", "first", "last", "agent"),
                                  remedy="delete it to write it again from the checkpoints, or choose a new --out")
        checkpoint_root, metrics_path = out / "checkpoints", out / METRICS_FILE
        found = checkpoints.latest_checkpoint(checkpoint_root)  # a damaged checkpoint is named before the model loads
        handle = load_model(model.name, device=model.device, dtype=model.dtype)
        run_folder.update_manifest(model=handle.describe(), upstream=upstream.type)
        loop = _CorrectorLoop(handle, upstream.build(), env_kwargs, config, lora.free_name(handle, "aligner_corrector"))
        start, lines = checkpoints.resume_metrics(found, metrics_path)
        if found is not None:
            loop.load_state(found[1])
        for step in tqdm(range(start, config.steps), desc="aligner corrector", unit="step", initial=start,
                         total=config.steps, disable=not progress):
            line = loop.step(step)
            append_line(metrics_path, line)
            lines.append(line)
            checkpoints.write_checkpoint(checkpoint_root, step + 1, loop.save_state, lines={METRICS_FILE: metrics_path})
        folder = lora.save_adapter(handle, loop.adapter, out / "adapters" / "corrector")
        plot_training(out / "training.png", lines)
        summary = {"steps": len(lines), "first": lines[0], "last": lines[-1],
                   "agent": {"type": "llm", "kwargs": {"model": model.name, "adapter": str(folder.resolve()),
                                                       "temperature": 1.0, "max_new_tokens": config.max_new_tokens}}}
        atomic_write_json(summary_path, summary)
        return summary


def plot_training(path: Path, lines: list[dict[str, Any]]) -> None:
    """The corrector's mean reward and improvement ``P(y' > y)`` and its copy rate per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [line["step"] for line in lines]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for key in ("reward", "improvement"):
        axes[0].plot(steps, [line[key] for line in lines], marker="o", label=key)
    axes[0].axhline(0.5, color="grey", linewidth=0.8)
    axes[0].set(xlabel="step", ylabel="mean", title="corrector reward (copying earns 1/2)")
    axes[0].legend()
    axes[1].plot(steps, [line["copy_rate"] for line in lines], marker="o")
    axes[1].set(xlabel="step", ylabel="share", title="corrections equal to the answer", ylim=(-0.05, 1.05))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
