"""A best-response oracle for PSRO that trains a new LoRA adapter by policy gradient (any language-mode env).

Papers: Lanctot et al. (2017), PSRO with a reinforcement-learning oracle; Ma et al. (2023), GRTS (a
red-team best response rewarded for semantic diversity, through :attr:`PolicyGradientOracle.reward_bonus`).
The loss and the trainer are :mod:`aligngames.solvers.training.policy_gradient`.

``best_response(seat, mixtures)`` for population member ``k`` of ``seat``:

1. a new LoRA adapter on the shared base model (``B = 0``: it starts as the base model, the reference);
2. ``steps`` times: draw ``episodes_per_step`` env seeds and, for each, one opponent per other seat from
   that seat's meta-strategy mixture; play each (seed, opponents) ``group_size`` times with the learner
   (an :class:`~aligngames.agents.llm.LLMAgent` at temperature 1; the copies sample different answers),
   recording every turn's prompt, tokens and log-probabilities (:func:`aligngames.play.rollout.play_episodes`);
3. return of an episode = the seat's return (+ ``reward_bonus``, e.g. GRTS's diversity bonus for red);
   advantage = return minus the mean over its group (same seed and opponents); every turn the learner
   took in the episode gets its episode's advantage (REINFORCE on the episode return);
4. ``epochs`` optimiser steps on ``E[A] - reference_kl * KL(pi || base)`` (token level);
5. the adapter is saved to ``out/policies/SEAT.K`` and returned as a registry ``llm`` agent spec, so the
   tournament runner (PSRO's meta-game estimation, any backend) plays it like any other agent.

Opponents that are ``llm`` agents on the same model load their adapters onto the same base model in
this process, so a whole LoRA population shares one copy of the weights. Everything random comes from
the run seed, the seat and ``k``: a PSRO run killed during an oracle call and resumed retrains the
same adapter.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aligngames.play.tournament import AgentSpec
from aligngames.solvers.population.psro import BestResponseOracle, Mixture

log = logging.getLogger(__name__)

#: ``bonus(seat, episodes, population) -> (num_episodes,)``: extra reward per episode for the learner.
RewardBonus = Callable[[str, Sequence[Any], Sequence[AgentSpec]], np.ndarray]

_INSTANCES = itertools.count()  # distinct adapter names when several oracles share a loaded model


@dataclass(frozen=True)
class OracleSettings:
    """Settings of the policy-gradient best-response oracle.

    Attributes:
        model: embedded (SmolLM2-135M-Instruct) or a local model folder; every adapter shares it.
        device: cpu, cuda, ... (default: CUDA where available).
        dtype: float32, bfloat16 or float16 (default: bfloat16 on CUDA, float32 on the CPU).
        lora_rank: rank of each new adapter.
        lora_alpha: LoRA scale numerator.
        lora_targets: comma-separated module names that get LoRA adapters.
        steps: policy-gradient steps per best response.
        episodes_per_step: env seeds (each with its own draw of opponents) per step.
        group_size: plays of each (seed, opponents); advantages are relative to the group's mean return.
        learning_rate: AdamW's learning rate.
        epochs: optimiser steps per batch of episodes.
        micro_batch_size: turns per forward/backward pass.
        max_grad_norm: gradient clipping (0: off).
        reference_kl: weight of KL(pi || base model), token level.
        max_new_tokens: the longest turn, in tokens.
        system_prompts: per-seat system prompts of the learner (and of the agent spec it returns).
        seed: the run seed.
    """

    model: str = "embedded"
    device: str | None = None
    dtype: str | None = None
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_targets: str = "q_proj,v_proj"
    steps: int = 8
    episodes_per_step: int = 4
    group_size: int = 2
    learning_rate: float = 5e-4
    epochs: int = 1
    micro_batch_size: int = 8
    max_grad_norm: float = 1.0
    reference_kl: float = 0.05
    max_new_tokens: int = 48
    system_prompts: dict[str, str] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.episodes_per_step < 1 or self.group_size < 2 or self.lora_rank < 1:
            raise ValueError("need steps >= 1, episodes_per_step >= 1, group_size >= 2 and lora_rank >= 1")
        if self.reference_kl < 0:
            raise ValueError(f"reference_kl must be >= 0, got {self.reference_kl}")


class PolicyGradientOracle(BestResponseOracle):
    """PSRO's best responses trained as LoRA adapters (see the module docstring).

    Args:
        env, env_kwargs: the env (language mode) the best responses play.
        settings: the oracle's settings.
        out: where adapters (``policies/``) and the training log (``oracle.jsonl``) go.
        reward_bonus: extra reward per episode (GRTS: the red seat's semantic-diversity bonus).
    """

    def __init__(self, env: str, env_kwargs: Mapping[str, Any], settings: OracleSettings, out: str | Path, *,
                 reward_bonus: RewardBonus | None = None) -> None:
        self.env = env
        self.env_kwargs = dict(env_kwargs)
        self.settings = settings
        self.out = Path(out)
        self.reward_bonus = reward_bonus
        self.instance = next(_INSTANCES)

    def handle(self):
        from aligngames.agents.llm import load_model

        return load_model(self.settings.model, device=self.settings.device, dtype=self.settings.dtype)

    def agent_spec(self, folder: Path) -> AgentSpec:
        kwargs: dict[str, Any] = {"model": self.settings.model, "adapter": str(folder.resolve()), "temperature": 1.0,
                                  "max_new_tokens": self.settings.max_new_tokens}
        for key in ("device", "dtype"):
            if getattr(self.settings, key) is not None:
                kwargs[key] = getattr(self.settings, key)
        if self.settings.system_prompts:
            kwargs["system_prompts"] = dict(self.settings.system_prompts)
        return AgentSpec("llm", kwargs)

    def best_response(self, seat: str, mixtures: Mapping[str, Mixture]) -> tuple[str, AgentSpec]:
        from aligngames import registry
        from aligngames.agents.llm import GenerationConfig, LLMAgent, lora
        from aligngames.play.rollout import play_episodes
        from aligngames.runs import append_line
        from aligngames.seeding import derive_seed, make_rng
        from aligngames.solvers.training.policy_gradient import (
            PolicyGradientTrainer,
            PolicyRef,
            TrainerSettings,
        )

        settings = self.settings
        index = len(mixtures[seat])  # the new member's place in its population
        rng = make_rng(settings.seed, "llm-oracle", seat, index)
        handle = self.handle()
        targets = tuple(t.strip() for t in settings.lora_targets.split(",") if t.strip())
        name = lora.add_adapter(handle, f"{seat}_br{index}_{self.instance}", rank=settings.lora_rank,
                                alpha=settings.lora_alpha, target_modules=targets,
                                seed=derive_seed(settings.seed, "llm-oracle-lora", seat, index))
        learner = LLMAgent(handle, adapter=name, system_prompts=settings.system_prompts,
                           generation=GenerationConfig(max_new_tokens=settings.max_new_tokens, temperature=1.0))
        trainer = PolicyGradientTrainer(PolicyRef(handle, name), TrainerSettings(
            learning_rate=settings.learning_rate, epochs=settings.epochs, micro_batch_size=settings.micro_batch_size,
            max_grad_norm=settings.max_grad_norm))
        opponents = {other: [(spec, probability) for spec, probability in mixture if probability > 0]
                     for other, mixture in mixtures.items() if other != seat}
        built: dict[str, Any] = {}  # one agent object per opponent spec, reused across steps

        def opponent(spec: AgentSpec):
            key = repr((spec.type, sorted(spec.kwargs.items(), key=lambda item: item[0])))
            if key not in built:
                built[key] = spec.build()
            return built[key]

        def make_env():
            return registry.make(self.env, **self.env_kwargs)

        population = [spec for spec, _ in mixtures[seat]]
        for step in range(settings.steps):
            env_seeds = rng.integers(0, 2**63 - 1, size=settings.episodes_per_step)
            draws = {other: rng.choice(len(mixture), size=settings.episodes_per_step, p=_normalised(mixture))
                     for other, mixture in opponents.items()}
            learner.reset(derive_seed(settings.seed, "llm-oracle-agent", seat, index, step))
            episodes: list[Any] = [None] * (settings.episodes_per_step * settings.group_size)
            profiles: dict[tuple[int, ...], list[int]] = {}  # opponents drawn -> episode indices that face them
            for episode in range(settings.episodes_per_step):
                profile = tuple(int(draws[other][episode]) for other in opponents)
                profiles.setdefault(profile, []).append(episode)
            for profile, members in profiles.items():
                seat_agents = {seat: learner}
                for other, choice in zip(opponents, profile):
                    agent = opponent(opponents[other][choice][0])
                    agent.reset(derive_seed(settings.seed, "llm-oracle-opponent", seat, index, step, other, choice))
                    seat_agents[other] = agent
                slots = [member * settings.group_size + copy for member in members for copy in range(settings.group_size)]
                played = play_episodes(make_env, seat_agents, [int(env_seeds[slot // settings.group_size]) for slot in slots],
                                       record_turns=True)
                for slot, result in zip(slots, played):
                    episodes[slot] = result
            returns = np.array([episode.returns[seat] for episode in episodes])
            bonus = (np.zeros(len(episodes)) if self.reward_bonus is None
                     else np.asarray(self.reward_bonus(seat, episodes, population), dtype=np.float64))
            metrics = self._update(trainer, seat, episodes, returns + bonus, handle)
            record = {"seat": seat, "member": index, "step": step, "mean_return": float(returns.mean()),
                      "mean_bonus": float(bonus.mean()), **metrics}
            self.out.mkdir(parents=True, exist_ok=True)
            append_line(self.out / "oracle.jsonl", record)
            log.info("%s best response %d, step %d: mean return %.4f", seat, index, step, record["mean_return"])
        folder = lora.save_adapter(handle, name, self.out / "policies" / f"{seat}.{index}")
        handle.adapters[name] = str(folder.resolve())  # in memory it is that folder now (agents share it)
        return f"{seat}.llm{index}", self.agent_spec(folder)

    def _update(self, trainer, seat: str, episodes: Sequence[Any], rewards: np.ndarray, handle) -> dict[str, float]:
        """Steps 3-4 of the module docstring."""
        import torch

        from aligngames.solvers.training.policy_gradient import (
            PolicyRef,
            RegularizerWeights,
            Rollouts,
            group_advantages,
        )

        advantages = group_advantages(torch.tensor(rewards, dtype=torch.float32), self.settings.group_size)
        prompts, completions, logprobs, turn_advantages = [], [], [], []
        for episode, advantage in zip(episodes, advantages.tolist()):
            for turn in episode.steps:
                if turn["seat"] != seat:
                    continue
                if "completion_ids" not in turn:
                    raise ValueError(f"the policy-gradient oracle trains text turns; {seat} made a turn without tokens "
                                     f"({sorted(turn)})")
                if not turn["completion_ids"]:
                    continue
                prompts.append(turn["prompt"])
                completions.append(turn["completion_ids"])
                logprobs.append(turn["token_logprobs"])
                turn_advantages.append(advantage)
        if not prompts:
            raise ValueError(f"{seat} took no text turns in the sampled episodes; nothing to train")
        rollouts = Rollouts(prompts, completions, logprobs, torch.tensor(turn_advantages, dtype=torch.float32))
        weights = RegularizerWeights(reference=self.settings.reference_kl)
        return trainer.update(rollouts, weights, reference=PolicyRef(handle, None))

    def describe(self) -> dict[str, Any]:
        from aligngames.config import to_mapping

        return {"class": "PolicyGradientOracle", "env": self.env, "settings": to_mapping(self.settings),
                "reward_bonus": None if self.reward_bonus is None else getattr(self.reward_bonus, "__name__", "custom")}


# --- command line: ``aligngames solve psro --env ENV --oracle llm`` ---------------------------------------

def add_arguments(parser) -> None:
    """``--oracle`` and one flag per oracle setting (``--steps``, ``--learning-rate``, ...; the seed is PSRO's)."""
    from aligngames.cli import driver

    parser.add_argument("--oracle", choices=["exact", "llm"], default="exact",
                        help="exact: best constant action of a tabular game; llm: train a LoRA adapter per best "
                             "response by policy gradient (language mode; on red_team_v0 through GRTS, with its "
                             "diversity bonus)")
    driver.add_config_arguments(parser, OracleSettings, exclude=("seed",), config_flag=False,
                                title="LLM oracle (--oracle llm)")


def flags_given(args) -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(OracleSettings) if f.name != "seed" and getattr(args, f.name, None) is not None]


def run_cli(args, config) -> int:
    """PSRO with the LLM oracle; ``red_team_v0`` runs GRTS (:mod:`aligngames.solvers.population.grts`) with it."""
    import dataclasses

    from aligngames.cli import driver
    from aligngames.solvers.population import psro

    settings = OracleSettings(**{name: getattr(args, name) for name in flags_given(args)}, seed=config.settings.seed)
    if config.env == "red_team_v0":
        from aligngames.solvers.population import grts

        defaults = grts.GRTSConfig()
        initial = {"initial_red": config.initial[grts.RED]} if grts.RED in config.initial else {}
        if grts.BLUE in config.initial:
            initial["initial_blue"] = config.initial[grts.BLUE]
        grts_config = dataclasses.replace(defaults, env_kwargs={**defaults.env_kwargs, **config.env_kwargs},
                                          settings=config.settings, oracle="llm", llm=settings, **initial)
        summary = grts.run(grts_config, args.out, progress=True)
        driver.report(args.out, f"GRTS with LLM best responses: {summary['epochs']} epochs; red Nash value "
                                f"{summary['nash_value_red']:.3f}; red population diversity "
                                f"{summary['red_population_diversity'][-1]:.3f}")
        return 0
    result = psro.run(config, args.out, oracle=PolicyGradientOracle(config.env, config.env_kwargs, settings, args.out),
                      progress=True)
    driver.report(args.out, f"{result.epochs} epochs with LLM best responses; NashConv on the meta-game "
                            f"{result.empirical_nash_conv[-1]:.3g}")
    return 0


def _normalised(mixture: Sequence[tuple[AgentSpec, float]]) -> np.ndarray:
    weights = np.array([probability for _, probability in mixture], dtype=np.float64)
    return weights / weights.sum()


__all__ = ["OracleSettings", "PolicyGradientOracle", "RewardBonus"]
