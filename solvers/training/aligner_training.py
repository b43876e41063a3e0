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

:func:`train_corrector` returns one metrics dict per step; saving the adapter (``lora.save_adapter``) and a run
folder are the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from aligngames import registry
from aligngames.agent import Agent
from aligngames.agents.llm import GenerationConfig, LLMAgent, lora
from aligngames.agents.llm.models import LoadedModel
from aligngames.play.rollout import play_episodes
from aligngames.seeding import derive_seed, make_rng
from aligngames.solvers.inputs import check_settings
from aligngames.solvers.training.policy_gradient import (
    PolicyGradientTrainer,
    PolicyRef,
    RegularizerWeights,
    Rollouts,
    group_advantages,
)
from aligngames.solvers.training.settings import LoRASettings, TrainerSettings

ENV = "aligner_v0"


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


def train_corrector(handle: LoadedModel, upstream: Agent, env_kwargs: Mapping[str, Any] | None = None,
                    config: CorrectorTrainingConfig | None = None, *, adapter: str = "aligner_corrector") -> CorrectorTraining:
    """Run the loop of the module docstring; the corrector is a new LoRA adapter ``adapter`` on ``handle``."""
    config = config or CorrectorTrainingConfig()
    env_kwargs = {**dict(env_kwargs or {}), "mode": "language"}
    name = lora.add_adapter(handle, adapter, rank=config.lora.rank, alpha=config.lora.alpha,
                            target_modules=config.lora.target_modules, seed=derive_seed(config.seed, "aligner-lora"))
    corrector = LLMAgent(handle, adapter=name, generation=GenerationConfig(max_new_tokens=config.max_new_tokens,
                                                                          temperature=1.0),
                         max_batch_size=config.prompts_per_step * config.group_size)
    trainer = PolicyGradientTrainer(PolicyRef(handle, name), config.trainer,
                                    total_updates=config.steps * config.trainer.epochs)
    rng = make_rng(config.seed, "aligner-training")

    def make_env():
        return registry.make(ENV, **env_kwargs)

    metrics = []
    for step in range(config.steps):
        seeds = [int(seed) for seed in rng.integers(0, 2**63 - 1, size=config.prompts_per_step)
                 for _ in range(config.group_size)]  # group members are adjacent
        corrector.reset(derive_seed(config.seed, "aligner-corrector", step))
        upstream.reset(derive_seed(config.seed, "aligner-upstream", step))
        episodes = play_episodes(make_env, {"policy": upstream, "corrector": corrector}, seeds, record_turns=True)
        turns = [[turn for turn in episode.steps if turn["seat"] == "corrector"] for episode in episodes]
        rounds = [episode.record["rounds"] for episode in episodes]
        num_turns = len(rounds[0])
        # (episode, turn) rewards; groups: the same seed and turn, i.e. the group_size adjacent episodes
        rewards = torch.tensor([[entry["rewards"]["corrector"] for entry in episode] for episode in rounds],
                               dtype=torch.float32)  # (episodes, turns)
        advantages = torch.stack([group_advantages(rewards[:, turn], config.group_size) for turn in range(num_turns)],
                                 dim=1)  # (episodes, turns)
        prompts, completions, logprobs, kept = [], [], [], []
        for episode_turns, episode_advantages in zip(turns, advantages.tolist()):
            for turn, advantage in zip(episode_turns, episode_advantages):
                if turn.get("completion_ids"):
                    prompts.append(turn["prompt"])
                    completions.append(turn["completion_ids"])
                    logprobs.append(turn["token_logprobs"])
                    kept.append(advantage)
        update: dict[str, float] = {}
        if prompts:
            update = trainer.update(Rollouts(prompts, completions, logprobs, torch.tensor(kept, dtype=torch.float32)),
                                    RegularizerWeights(reference=config.reference_kl), reference=PolicyRef(handle, None))
        entries = [entry for episode in rounds for entry in episode]
        metrics.append({"step": step + 1, "reward": float(rewards.mean()),
                        "improvement": float(np.mean([entry["improvement"] for entry in entries])),
                        "copy_rate": float(np.mean([entry["correction"] == entry["answer"] for entry in entries])),
                        "sequences": float(len(prompts)),
                        **{key: value for key, value in update.items() if isinstance(value, int | float)}})
    return CorrectorTraining(name, metrics)
