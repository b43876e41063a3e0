"""A best-response oracle for PSRO that trains a new LoRA adapter by policy gradient (any language-mode env).

Papers: Lanctot et al. (2017), PSRO with a reinforcement-learning oracle; Ma et al. (2023), GRTS (a
red-team best response rewarded for semantic diversity, through :attr:`PolicyGradientOracle.reward_bonus`;
:mod:`aligngames.solvers.training.llm_grts`). The loss and the trainer are
:mod:`aligngames.solvers.training.policy_gradient`.

``best_response(seat, mixtures)`` for population member ``k`` of ``seat``:

1. a new LoRA adapter on the shared base model (``B = 0``: it starts as the base model, the reference);
2. ``steps`` times: draw ``episodes_per_step`` env seeds and, for each, one opponent per other seat from
   that seat's meta-strategy mixture; play each (seed, opponents) ``group_size`` times with the learner
   (an :class:`~aligngames.agents.llm.LLMAgent` at temperature 1; the copies sample different answers),
   recording every turn's prompt, tokens and log-probabilities (:func:`aligngames.play.rollout.play_episodes`);
3. return of an episode = the seat's return (+ ``reward_bonus``, e.g. GRTS's diversity bonus for red);
   advantage = return minus the mean over its group (same seed and opponents); every turn the learner
   took in the episode gets its episode's advantage (REINFORCE on the episode return);
4. ``trainer.epochs`` optimiser steps on ``E[A] - reference_kl * KL(pi || base)`` (token level);
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
import torch

from aligngames import registry
from aligngames.agent import AgentSpec
from aligngames.agents.llm import GenerationConfig, LLMAgent, load_model, lora
from aligngames.config import to_mapping
from aligngames.play.rollout import play_episodes
from aligngames.runs import append_line
from aligngames.seeding import derive_seed, make_rng
from aligngames.solvers.population.psro import BestResponseOracle, Mixture
from aligngames.solvers.training.policy_gradient import (
    PolicyGradientTrainer,
    PolicyRef,
    RegularizerWeights,
    Rollouts,
    group_advantages,
)
from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

log = logging.getLogger(__name__)

#: ``bonus(seat, episodes, population) -> (num_episodes,)``: extra reward per episode for the learner.
RewardBonus = Callable[[str, Sequence[Any], Sequence[AgentSpec]], np.ndarray]

_INSTANCES = itertools.count()  # distinct adapter names when several oracles share a loaded model


@dataclass(frozen=True)
class OracleSettings:
    """Settings of the policy-gradient best-response oracle (its seed is the PSRO run's).

    Attributes:
        steps: policy-gradient steps per best response.
        episodes_per_step: env seeds (each with its own draw of opponents) per step.
        group_size: plays of each (seed, opponents); advantages are relative to the group's mean return.
        reference_kl: weight of KL(pi || base model), token level.
        system_prompts: per-seat system prompts of the learner (and of the agent spec it returns).
        model: the base model; every adapter shares it.
        lora: each new adapter (rank >= 1).
        trainer: the optimiser steps of each policy-gradient step.
        generation: how the learner samples its turns (the transformers backend).
    """

    steps: int = 8
    episodes_per_step: int = 4
    group_size: int = 2
    reference_kl: float = 0.05
    system_prompts: dict[str, str] = field(default_factory=dict)
    model: ModelSettings = field(default_factory=ModelSettings)
    lora: LoRASettings = field(default_factory=LoRASettings)
    trainer: TrainerSettings = field(default_factory=lambda: TrainerSettings(learning_rate=5e-4, epochs=1))
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_new_tokens=48, batch_size=16))

    def __post_init__(self) -> None:
        if self.steps < 1 or self.episodes_per_step < 1 or self.group_size < 2 or self.lora.rank < 1:
            raise ValueError("need steps >= 1, episodes_per_step >= 1, group_size >= 2 and lora.rank >= 1 "
                             "(each best response is a new adapter)")
        if self.reference_kl < 0:
            raise ValueError(f"reference_kl must be >= 0, got {self.reference_kl}")
        if self.generation.backend != "transformers":
            raise ValueError("the oracle's learner plays with a LoRA adapter and records token log-probabilities, "
                             "which the vLLM agent backend does not: use generation.backend transformers")


class PolicyGradientOracle(BestResponseOracle):
    """PSRO's best responses trained as LoRA adapters (see the module docstring).

    Args:
        env, env_kwargs: the env (language mode) the best responses play.
        settings: the oracle's settings.
        out: where adapters (``policies/``) and the training log (``oracle.jsonl``) go.
        seed: the run seed (PSRO's).
        reward_bonus: extra reward per episode (GRTS: the red seat's semantic-diversity bonus).
    """

    def __init__(self, env: str, env_kwargs: Mapping[str, Any], settings: OracleSettings, out: str | Path, *,
                 seed: int = 0, reward_bonus: RewardBonus | None = None) -> None:
        self.env = env
        self.env_kwargs = dict(env_kwargs)
        self.settings = settings
        self.out = Path(out)
        self.seed = seed
        self.reward_bonus = reward_bonus
        self.instance = next(_INSTANCES)

    def handle(self):
        model = self.settings.model
        return load_model(model.name, device=model.device, dtype=model.dtype)

    def agent_spec(self, folder: Path) -> AgentSpec:
        model = self.settings.model
        kwargs: dict[str, Any] = {"model": model.name, "adapter": str(folder.resolve()), "temperature": 1.0,
                                  "max_new_tokens": self.settings.generation.max_new_tokens}
        for key in ("device", "dtype"):
            if getattr(model, key) is not None:
                kwargs[key] = getattr(model, key)
        if self.settings.system_prompts:
            kwargs["system_prompts"] = dict(self.settings.system_prompts)
        return AgentSpec("llm", kwargs)

    def best_response(self, seat: str, mixtures: Mapping[str, Mixture]) -> tuple[str, AgentSpec]:
        settings = self.settings
        index = len(mixtures[seat])  # the new member's place in its population
        rng = make_rng(self.seed, "llm-oracle", seat, index)
        handle = self.handle()
        name = lora.add_adapter(handle, f"{seat}_br{index}_{self.instance}", rank=settings.lora.rank,
                                alpha=settings.lora.alpha, target_modules=settings.lora.target_modules,
                                seed=derive_seed(self.seed, "llm-oracle-lora", seat, index))
        learner = LLMAgent(handle, adapter=name, system_prompts=settings.system_prompts,
                           generation=GenerationConfig(max_new_tokens=settings.generation.max_new_tokens, temperature=1.0),
                           max_batch_size=settings.generation.batch_size)
        trainer = PolicyGradientTrainer(PolicyRef(handle, name), settings.trainer,
                                        total_updates=settings.steps * settings.trainer.epochs)
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
            learner.reset(derive_seed(self.seed, "llm-oracle-agent", seat, index, step))
            episodes: list[Any] = [None] * (settings.episodes_per_step * settings.group_size)
            profiles: dict[tuple[int, ...], list[int]] = {}  # opponents drawn -> episode indices that face them
            for episode in range(settings.episodes_per_step):
                profile = tuple(int(draws[other][episode]) for other in opponents)
                profiles.setdefault(profile, []).append(episode)
            for profile, members in profiles.items():
                seat_agents = {seat: learner}
                for other, choice in zip(opponents, profile):
                    agent = opponent(opponents[other][choice][0])
                    agent.reset(derive_seed(self.seed, "llm-oracle-opponent", seat, index, step, other, choice))
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
        advantages = group_advantages(torch.tensor(rewards, dtype=torch.float32), self.settings.group_size)
        turns = []
        for episode, advantage in zip(episodes, advantages.tolist()):
            for turn in episode.steps:
                if turn["seat"] != seat:
                    continue
                if "completion_ids" not in turn:
                    raise ValueError(f"the policy-gradient oracle trains text turns; {seat} made a turn without tokens "
                                     f"({sorted(turn)})")
                turns.append((turn, advantage))
        rollouts = Rollouts.from_turns(turns)
        if rollouts is None:
            raise ValueError(f"{seat} took no text turns in the sampled episodes; nothing to train")
        weights = RegularizerWeights(reference=self.settings.reference_kl)
        return trainer.update(rollouts, weights, reference=PolicyRef(handle, None))

    def records(self) -> dict[str, Path]:
        return {"oracle.jsonl": self.out / "oracle.jsonl"}

    def saved_folders(self) -> list[Path]:
        return [self.out / "policies"]

    def describe(self) -> dict[str, Any]:
        return {"class": "PolicyGradientOracle", "env": self.env, "settings": to_mapping(self.settings),
                "seed": self.seed,
                "reward_bonus": None if self.reward_bonus is None else getattr(self.reward_bonus, "__name__", "custom")}


def _normalised(mixture: Sequence[tuple[AgentSpec, float]]) -> np.ndarray:
    weights = np.array([probability for _, probability in mixture], dtype=np.float64)
    return weights / weights.sum()


__all__ = ["OracleSettings", "PolicyGradientOracle", "RewardBonus"]
