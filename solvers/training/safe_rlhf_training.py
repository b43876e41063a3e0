"""Train a LoRA policy in ``safe_rlhf_v0``'s language mode against a learning Lagrange multiplier (Safe RLHF).

Dai et al. (2023), "Safe RLHF": maximise the reward judge's score subject to ``E[cost] <= d`` through the
Lagrangian, with the multiplier updated from the observed cost. Each step:

1. ``prompts_per_step`` prompts (env seeds), each answered ``group_size`` times by the policy (a LoRA adapter
   on the base model) while the multiplier seat plays the current ``lambda``;
2. the env's judges score every answer: reward ``r`` (``P(answer > baseline)``) and cost ``c`` (``P(harmful)``);
3. group-relative advantages of each (:func:`~aligngames.solvers.training.policy_gradient.group_advantages`),
   combined as Safe RLHF does, ``A = (A_r - lambda A_c) / (1 + lambda)`` (:func:`lagrangian_advantages`), and
   one policy-gradient update with a KL penalty to the base model
   (:class:`~aligngames.solvers.training.policy_gradient.PolicyGradientTrainer`);
4. the multiplier follows the step's mean cost ``J_c``: projected ``lambda += eta_lambda (J_c - d)`` or Safe
   RLHF's ``log lambda += eta_lambda lambda (J_c - d)``, capped at ``lambda_max``.

Every step appends ``{step, reward, cost, lambda, ...}`` to ``metrics.jsonl`` (flushed) and writes a checkpoint
(``checkpoints/step_N``: the adapter's weights, the optimiser, the prompt generator's state and ``lambda``,
each file checked by digest on resume), so an interrupted run reruns with the same command and continues from
its last step, writing the same files as a run that was never stopped. The run folder keeps the resolved config
and manifest, ``training.png`` draws reward, cost and lambda, and the final adapter is an ``llm`` agent spec in
``summary.json``. The tabular dynamics are :func:`aligngames.solvers.exact.safe_rlhf.primal_dual`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from aligngames import registry
from aligngames.agent import AgentSpec
from aligngames.agents.llm import GenerationConfig, LLMAgent, load_model, lora
from aligngames.agents.safe_rlhf import FixedMultiplier
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
from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

log = logging.getLogger(__name__)

ENV = "safe_rlhf_v0"
MULTIPLIER_UPDATES = ("projected", "log")
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class SafeRLHFTrainingConfig:
    """Settings of a language-mode Safe-RLHF run.

    Attributes:
        steps: policy-gradient steps.
        prompts_per_step: env seeds (prompts) per step.
        group_size: answers per prompt (advantages are relative to the group).
        initial_multiplier: lambda at the start.
        multiplier_step: ``eta_lambda``.
        multiplier_update: ``projected`` or ``log``.
        lambda_max: the largest lambda.
        reference_kl: weight of ``KL(pi || base model)``, token level.
        seed: the run seed.
        model, lora, trainer, generation: the base model, the policy's adapter, the optimiser, sampling.
    """

    steps: int = 8
    prompts_per_step: int = 4
    group_size: int = 4
    initial_multiplier: float = 1.0
    multiplier_step: float = 0.5
    multiplier_update: str = "projected"
    lambda_max: float = 100.0
    reference_kl: float = 0.05
    seed: int = 0
    model: ModelSettings = field(default_factory=ModelSettings)
    lora: LoRASettings = field(default_factory=LoRASettings)
    trainer: TrainerSettings = field(default_factory=lambda: TrainerSettings(learning_rate=5e-4, epochs=1))
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_new_tokens=48, batch_size=16))

    def __post_init__(self) -> None:
        check_settings(("steps", self.steps, self.steps >= 1, ">= 1"),
                       ("prompts_per_step", self.prompts_per_step, self.prompts_per_step >= 1, ">= 1"),
                       ("group_size", self.group_size, self.group_size >= 2, ">= 2"),
                       ("initial_multiplier", self.initial_multiplier, 0 <= self.initial_multiplier <= self.lambda_max,
                        "in [0, lambda_max]"),
                       ("multiplier_step", self.multiplier_step, self.multiplier_step > 0, "> 0"),
                       ("reference_kl", self.reference_kl, self.reference_kl >= 0, ">= 0"),
                       ("lora.rank", self.lora.rank, self.lora.rank >= 1, ">= 1 (the policy is an adapter)"))
        if self.multiplier_update not in MULTIPLIER_UPDATES:
            raise ValueError(f"multiplier_update must be one of {list(MULTIPLIER_UPDATES)}, got {self.multiplier_update!r}")
        if self.multiplier_update == "log" and self.initial_multiplier == 0:
            raise ValueError("multiplier_update='log' cannot leave lambda = 0: give initial_multiplier > 0")


def lagrangian_advantages(reward_advantages: torch.Tensor, cost_advantages: torch.Tensor, multiplier: float) -> torch.Tensor:
    """Safe RLHF's combined advantage ``(A_r - lambda A_c) / (1 + lambda)`` (the scale stays that of one advantage)."""
    return (reward_advantages - multiplier * cost_advantages) / (1.0 + multiplier)


def next_multiplier(multiplier: float, mean_cost: float, threshold: float, config: SafeRLHFTrainingConfig) -> float:
    """The multiplier after a step whose mean cost was ``mean_cost``."""
    excess = mean_cost - threshold
    if config.multiplier_update == "projected":
        return float(np.clip(multiplier + config.multiplier_step * excess, 0.0, config.lambda_max))
    return float(min(multiplier * np.exp(config.multiplier_step * multiplier * excess), config.lambda_max))


def train(config: SafeRLHFTrainingConfig, env_kwargs: dict[str, Any], out: str | Path, *,
          progress: bool = False) -> dict[str, Any]:
    """Run the loop of the module docstring into the run folder ``out``; return the summary."""
    env_kwargs = {**env_kwargs, "mode": "language", "rounds": 1}
    probe = registry.make(ENV, **env_kwargs)
    threshold = probe.unwrapped.rules.threshold
    probe.close()
    with RunFolder.open(out, command="solve safe_rlhf --train", config={"settings": _plain(config), "env_kwargs": env_kwargs},
                        seed=config.seed) as run:
        summary_path = run.path / SUMMARY_FILE
        if summary_path.exists():  # finished: nothing to redo
            return read_json_file(summary_path, keys=("steps", "final_lambda", "agent"),
                                  remedy="delete it to write it again from the checkpoints, or choose a new --out")
        return _loop(config, env_kwargs, threshold, run.path, progress)


def _plain(config: SafeRLHFTrainingConfig) -> dict[str, Any]:
    return to_mapping(config)


def _loop(config: SafeRLHFTrainingConfig, env_kwargs: dict[str, Any], threshold: float, out: Path,
          progress: bool) -> dict[str, Any]:
    handle = load_model(config.model.name, device=config.model.device, dtype=config.model.dtype)
    name = lora.add_adapter(handle, lora.free_name(handle, "safe_rlhf_policy"), rank=config.lora.rank, alpha=config.lora.alpha,
                            target_modules=config.lora.target_modules, seed=derive_seed(config.seed, "safe-rlhf-lora"))
    learner = LLMAgent(handle, adapter=name, generation=GenerationConfig(max_new_tokens=config.generation.max_new_tokens,
                                                                        temperature=1.0),
                       max_batch_size=config.generation.batch_size)
    trainer = PolicyGradientTrainer(PolicyRef(handle, name), config.trainer, total_updates=config.steps * config.trainer.epochs)
    rng = make_rng(config.seed, "safe-rlhf-training")
    multiplier = float(config.initial_multiplier)
    metrics_path, checkpoint_root = out / METRICS_FILE, out / "checkpoints"
    found = checkpoints.latest_checkpoint(checkpoint_root)  # every file checked against its digest
    start, lines = checkpoints.resume_metrics(found, metrics_path)
    if found is not None:
        rng, state = checkpoints.load_adapter_run(found[1], handle, name, trainer, keys=("multiplier",))
        multiplier = float(state["multiplier"])
        log.info("resuming Safe RLHF training at step %d from %s", start, found[1])

    def save_state(folder: Path) -> None:
        checkpoints.save_adapter_run(folder, handle, name, trainer, rng, multiplier=multiplier)

    def make_env():
        return registry.make(ENV, **env_kwargs)

    for step in tqdm(range(start, config.steps), desc="safe_rlhf", unit="step", initial=start, total=config.steps,
                     disable=not progress):
        seeds = rng.integers(0, 2**63 - 1, size=config.prompts_per_step)
        learner.reset(derive_seed(config.seed, "safe-rlhf-agent", step))
        seat_agents = {"policy": learner, "multiplier": FixedMultiplier(multiplier)}
        episodes = play_episodes(make_env, seat_agents, [int(seed) for seed in seeds for _ in range(config.group_size)],
                                 record_turns=True)
        rounds = [episode.record["rounds"][0] for episode in episodes]
        rewards = torch.tensor([entry["reward"] for entry in rounds], dtype=torch.float32)
        costs = torch.tensor([entry["cost"] for entry in rounds], dtype=torch.float32)
        advantages = lagrangian_advantages(group_advantages(rewards, config.group_size),
                                           group_advantages(costs, config.group_size), multiplier)
        rollouts = Rollouts.from_turns((next(turn for turn in episode.steps if turn["seat"] == "policy"), advantage)
                                       for episode, advantage in zip(episodes, advantages.tolist()))
        metrics = {}
        if rollouts is not None:
            metrics = trainer.update(rollouts, RegularizerWeights(reference=config.reference_kl),
                                     reference=PolicyRef(handle, None))
        mean_cost = float(costs.mean())
        line = {"step": step + 1, "reward": float(rewards.mean()), "cost": mean_cost, "lambda": multiplier,
                "violation": max(mean_cost - threshold, 0.0),
                **{key: value for key, value in metrics.items() if isinstance(value, int | float)}}
        append_line(metrics_path, line)
        lines.append(line)
        multiplier = next_multiplier(multiplier, mean_cost, threshold, config)
        checkpoints.write_checkpoint(checkpoint_root, step + 1, save_state, lines={METRICS_FILE: metrics_path})
    folder = lora.save_adapter(handle, name, out / "adapters" / "policy")
    _plot(out, lines, threshold)
    agent = AgentSpec("llm", {"model": config.model.name, "adapter": str(folder.resolve()), "temperature": 1.0,
                              "max_new_tokens": config.generation.max_new_tokens})
    summary = {"steps": len(lines), "threshold": threshold, "final_lambda": multiplier,
               "first": lines[0], "last": lines[-1], "agent": {"type": agent.type, "kwargs": agent.kwargs}}
    atomic_write_json(out / SUMMARY_FILE, summary)
    return summary


def _plot(out: Path, lines: list[dict[str, Any]], threshold: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [line["step"] for line in lines]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].plot(steps, [line["reward"] for line in lines], marker="o")
    axes[0].set(xlabel="step", ylabel="P(answer > baseline)", title="reward")
    axes[1].plot(steps, [line["cost"] for line in lines], marker="o")
    axes[1].axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    axes[1].set(xlabel="step", ylabel="P(harmful)", title="cost")
    axes[1].legend()
    axes[2].plot(steps, [line["lambda"] for line in lines], marker="o")
    axes[2].set(xlabel="step", ylabel="lambda", title="multiplier")
    figure.tight_layout()
    figure.savefig(out / "training.png", dpi=110)
    plt.close(figure)
