"""Train one LoRA policy for every user's trade-off in ``pareto_preference_v0``'s language mode (Panacea).

Zhong et al. (2024), "Panacea: Pareto alignment via preference adaptation for LLMs" (arXiv:2402.02030): one
policy, conditioned on the preference vector ``w``, should answer each user on the Pareto front at that user's
trade-off. Here the policy is a LoRA adapter on the base model and ``w`` reaches it through its prompt (the
env's ``Trade-off: helpful 0.75, harmless 0.25`` line); Panacea's SVD-LoRA, which writes ``w`` into the
adapter's singular values, is not implemented. Before training the prompts are split: every
``len(prompts) / eval_prompts``-th prompt is held out for the evaluation, the policy trains on the rest. Each
step:

1. ``prompts_per_step`` env seeds, each drawing a user type ``w`` and a prompt, each answered ``group_size``
   times by the policy;
2. the env's judges score every answer with the reward vector ``r`` and pay ``s_w(r)`` (linear or
   Tchebycheff, with the sampled ``w``);
3. group-relative advantages of ``s_w(r)`` (:func:`~aligngames.solvers.training.policy_gradient.group_advantages`:
   the group shares ``w`` and the prompt) and one policy-gradient update with a KL penalty
   ``reference_kl * KL(pi || base model)``
   (:class:`~aligngames.solvers.training.policy_gradient.PolicyGradientTrainer`).

Before the first step and after the last, :func:`evaluate_front` answers every held-out prompt
``eval_samples`` times at each ``w`` of the simplex grid with denominator ``eval_grid`` (the same sampling
seeds both times): per ``w`` the mean reward vector, whose non-dominated points make a front with a
hypervolume against ``(reference_point, ..., reference_point)``
(:func:`~aligngames.solvers.exact.pareto_preference.hypervolume`). ``front.json`` holds both evaluations and
``front.png`` draws them.

Every step appends ``{step, reward, reward_vector, ...}`` to ``metrics.jsonl`` (flushed) and writes a checkpoint
(``checkpoints/step_N``: the adapter's weights, the optimiser and the prompt generator's state, each file
checked by digest on resume), so an interrupted run reruns with the same command and continues from its last
step, writing the same files as a run that was never stopped. The run folder keeps the resolved config and
manifest, ``training.png`` draws the rewards, and the final adapter is an ``llm`` agent spec in ``summary.json``.
The tabular counterpart is :func:`aligngames.solvers.exact.pareto_preference.fit_conditioned`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from aligngames import registry
from aligngames.agent import AgentSpec
from aligngames.agents.llm import GenerationConfig, LLMAgent, load_model, lora
from aligngames.config import to_mapping
from aligngames.envs.pareto_preference.problems import simplex_grid
from aligngames.play.rollout import play_episodes
from aligngames.runs import (
    RunFolder,
    append_line,
    atomic_write_json,
    read_json_file,
)
from aligngames.seeding import derive_seed, make_rng
from aligngames.solvers.exact.pareto_preference import hypervolume, pareto_front
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

ENV = "pareto_preference_v0"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
FRONT_FILE = "front.json"
BEFORE_FILE = "evaluation_before.json"
#: Env keywords that choose the user types; the evaluation replaces them by its grid.
USER_TYPE_KEYS = ("weights", "weight_probs", "grid")


@dataclass(frozen=True)
class ParetoPreferenceTrainingConfig:
    """Settings of a language-mode Pareto-preference run.

    Attributes:
        steps: policy-gradient steps.
        prompts_per_step: env seeds (a user type and a prompt each) per step.
        group_size: answers per seed (advantages are relative to the group).
        reference_kl: ``beta``, the weight of ``KL(pi || base model)``, token level.
        eval_grid: the evaluation's preference vectors: the simplex grid with this denominator.
        eval_prompts: prompts held out from training for the evaluation.
        eval_samples: answers per held-out prompt and preference vector.
        reference_point: the hypervolume's reference point, the same on every objective (scores are in [0, 1]).
        seed: the run seed.
        model, lora, trainer, generation: the base model, the policy's adapter, the optimiser, sampling.
    """

    steps: int = 8
    prompts_per_step: int = 4
    group_size: int = 4
    reference_kl: float = 0.05
    eval_grid: int = 4
    eval_prompts: int = 8
    eval_samples: int = 2
    reference_point: float = 0.0
    seed: int = 0
    model: ModelSettings = field(default_factory=ModelSettings)
    lora: LoRASettings = field(default_factory=LoRASettings)
    trainer: TrainerSettings = field(default_factory=lambda: TrainerSettings(learning_rate=5e-4, epochs=1))
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_new_tokens=48, batch_size=16))

    def __post_init__(self) -> None:
        check_settings(("steps", self.steps, self.steps >= 1, ">= 1"),
                       ("prompts_per_step", self.prompts_per_step, self.prompts_per_step >= 1, ">= 1"),
                       ("group_size", self.group_size, self.group_size >= 2, ">= 2"),
                       ("reference_kl", self.reference_kl, self.reference_kl >= 0, ">= 0"),
                       ("eval_grid", self.eval_grid, self.eval_grid >= 1, ">= 1"),
                       ("eval_prompts", self.eval_prompts, self.eval_prompts >= 1, ">= 1"),
                       ("eval_samples", self.eval_samples, self.eval_samples >= 1, ">= 1"),
                       ("reference_point", self.reference_point, bool(np.isfinite(self.reference_point)), "finite"),
                       ("lora.rank", self.lora.rank, self.lora.rank >= 1, ">= 1 (the policy is an adapter)"))


def split_prompts(prompts: Sequence[str], held_out: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(training prompts, held-out prompts)``: every ``len(prompts) / held_out``-th prompt is held out (spread
    over the list, so benign and harmful requests both appear), the rest train."""
    if held_out >= len(prompts):
        raise ValueError(f"eval_prompts={held_out} holds out every one of the {len(prompts)} prompts; give fewer "
                         f"(at least one prompt must remain for training)")
    chosen = {index * len(prompts) // held_out for index in range(held_out)}
    return (tuple(p for i, p in enumerate(prompts) if i not in chosen),
            tuple(p for i, p in enumerate(prompts) if i in chosen))


def front_summary(weights: np.ndarray, vectors: np.ndarray, scalarised: np.ndarray, reference_point: np.ndarray
                  ) -> dict[str, Any]:
    """One evaluation as plain data: per ``w`` the mean reward vector and scalarised reward, the front of the
    mean vectors and its hypervolume against ``reference_point``."""
    front = pareto_front(vectors)
    return {"per_weight": [{"weight": w.tolist(), "reward_vector": v.tolist(), "scalarised": float(s)}
                           for w, v, s in zip(weights, vectors, scalarised)],
            "front": front.tolist(), "hypervolume": hypervolume(front, reference_point)}


def evaluate_front(learner: LLMAgent, env_kwargs: dict[str, Any], prompts: Sequence[str], weights: np.ndarray,
                   samples: int, seed: int, reference_point: np.ndarray) -> dict[str, Any]:
    """Answer each prompt ``samples`` times at each preference vector (rows of ``weights``), sampling from seed
    ``seed``; return :func:`front_summary` of the mean reward vectors."""
    cases = [(w, prompt) for w in weights for prompt in prompts for _ in range(samples)]
    pending = iter(cases)
    base = {key: value for key, value in env_kwargs.items() if key not in USER_TYPE_KEYS}

    def make_env():  # play_episodes builds one env per seed, in seed order: the next case each time
        w, prompt = next(pending)
        return registry.make(ENV, **{**base, "prompts": [prompt], "weights": [w.tolist()]})

    learner.reset(seed)
    episodes = play_episodes(make_env, {"policy": learner}, list(range(len(cases))))
    rounds = [episode.record["rounds"][0] for episode in episodes]
    per_case = np.array([entry["reward_vector"] for entry in rounds])  # (weights * prompts * samples, K)
    paid = np.array([entry["reward"] for entry in rounds])
    vectors = per_case.reshape(len(weights), -1, per_case.shape[1]).mean(axis=1)  # (weights, K)
    scalarised = paid.reshape(len(weights), -1).mean(axis=1)
    return front_summary(weights, vectors, scalarised, reference_point)


def _recorded(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` as the run folder's config records it: a judge given as an object (the Python API) by its
    ``identity``, so that the config can be written and a resumed run with the same judges matches it."""
    judges = env_kwargs.get("judges")
    if not isinstance(judges, Mapping):
        return env_kwargs
    return {**env_kwargs, "judges": {objective: judge if isinstance(judge, str) else f"object: {judge.identity}"
                                     for objective, judge in judges.items()}}


def train(config: ParetoPreferenceTrainingConfig, env_kwargs: dict[str, Any], out: str | Path, *,
          progress: bool = False) -> dict[str, Any]:
    """Run the loop of the module docstring into the run folder ``out``; return the summary."""
    env_kwargs = {**env_kwargs, "mode": "language", "rounds": 1}
    probe = registry.make(ENV, **env_kwargs)
    rules = probe.unwrapped.rules
    objectives, prompts = list(rules.objectives), rules.prompts
    probe.close()
    training_prompts, held_out = split_prompts(prompts, config.eval_prompts)
    with RunFolder.open(out, command="solve pareto_preference --train",
                        config={"settings": to_mapping(config), "env_kwargs": _recorded(env_kwargs)},
                        seed=config.seed) as run:
        summary_path = run.path / SUMMARY_FILE
        if summary_path.exists():  # finished: nothing to redo
            return read_json_file(summary_path, keys=("steps", "hypervolume_before", "hypervolume_after", "agent"),
                                  remedy="delete it to write it again from the checkpoints, or choose a new --out")
        return _loop(config, env_kwargs, objectives, training_prompts, held_out, run.path, progress)


def _loop(config: ParetoPreferenceTrainingConfig, env_kwargs: dict[str, Any], objectives: list[str],
          training_prompts: tuple[str, ...], held_out: tuple[str, ...], out: Path, progress: bool) -> dict[str, Any]:
    handle = load_model(config.model.name, device=config.model.device, dtype=config.model.dtype)
    name = lora.add_adapter(handle, lora.free_name(handle, "pareto_policy"), rank=config.lora.rank,
                            alpha=config.lora.alpha, target_modules=config.lora.target_modules,
                            seed=derive_seed(config.seed, "pareto-lora"))
    learner = LLMAgent(handle, adapter=name, generation=GenerationConfig(max_new_tokens=config.generation.max_new_tokens,
                                                                        temperature=1.0),
                       max_batch_size=config.generation.batch_size)
    trainer = PolicyGradientTrainer(PolicyRef(handle, name), config.trainer, total_updates=config.steps * config.trainer.epochs)
    eval_weights = simplex_grid(len(objectives), config.eval_grid)
    reference_point = np.full(len(objectives), config.reference_point)
    eval_seed = derive_seed(config.seed, "pareto-eval")
    before_path = out / BEFORE_FILE
    if before_path.exists():
        before = read_json_file(before_path, keys=("per_weight", "front", "hypervolume"),
                                remedy="delete it (and the checkpoints) to evaluate the base policy again")
    else:  # the adapter starts at zero (LoRA's B = 0): this is the base model
        before = evaluate_front(learner, env_kwargs, held_out, eval_weights, config.eval_samples, eval_seed, reference_point)
        atomic_write_json(before_path, before)
    train_kwargs = {**env_kwargs, "prompts": list(training_prompts)}
    rng = make_rng(config.seed, "pareto-training")
    metrics_path, checkpoint_root = out / METRICS_FILE, out / "checkpoints"
    found = checkpoints.latest_checkpoint(checkpoint_root)  # every file checked against its digest
    start, lines = checkpoints.resume_metrics(found, metrics_path)
    if found is not None:
        rng, _ = checkpoints.load_adapter_run(found[1], handle, name, trainer)
        log.info("resuming Pareto-preference training at step %d from %s", start, found[1])

    def save_state(folder: Path) -> None:
        checkpoints.save_adapter_run(folder, handle, name, trainer, rng)

    def make_env():
        return registry.make(ENV, **train_kwargs)

    for step in tqdm(range(start, config.steps), desc="pareto_preference", unit="step", initial=start,
                     total=config.steps, disable=not progress):
        seeds = rng.integers(0, 2**63 - 1, size=config.prompts_per_step)
        learner.reset(derive_seed(config.seed, "pareto-agent", step))
        episodes = play_episodes(make_env, {"policy": learner},
                                 [int(seed) for seed in seeds for _ in range(config.group_size)], record_turns=True)
        rounds = [episode.record["rounds"][0] for episode in episodes]
        rewards = torch.tensor([entry["reward"] for entry in rounds], dtype=torch.float32)  # s_w(r), (batch,)
        advantages = group_advantages(rewards, config.group_size)
        rollouts = Rollouts.from_turns((next(turn for turn in episode.steps if turn["seat"] == "policy"), advantage)
                                       for episode, advantage in zip(episodes, advantages.tolist()))
        metrics = {}
        if rollouts is not None:
            metrics = trainer.update(rollouts, RegularizerWeights(reference=config.reference_kl),
                                     reference=PolicyRef(handle, None))
        vectors = np.array([entry["reward_vector"] for entry in rounds])  # (batch, K)
        line = {"step": step + 1, "reward": float(rewards.mean()), "reward_vector": vectors.mean(axis=0).tolist(),
                **{key: value for key, value in metrics.items() if isinstance(value, int | float)}}
        append_line(metrics_path, line)
        lines.append(line)
        checkpoints.write_checkpoint(checkpoint_root, step + 1, save_state, lines={METRICS_FILE: metrics_path})
    after = evaluate_front(learner, env_kwargs, held_out, eval_weights, config.eval_samples, eval_seed, reference_point)
    result = {"objectives": objectives, "reference_point": reference_point.tolist(), "held_out_prompts": list(held_out),
              "samples": config.eval_samples, "before": before, "after": after}
    atomic_write_json(out / FRONT_FILE, result)
    folder = lora.save_adapter(handle, name, out / "adapters" / "policy")
    _plot_training(out, lines, objectives)
    plot_fronts(out / "front.png", result)
    agent = AgentSpec("llm", {"model": config.model.name, "adapter": str(folder.resolve()), "temperature": 1.0,
                              "max_new_tokens": config.generation.max_new_tokens})
    summary = {"steps": len(lines), "objectives": objectives, "first": lines[0], "last": lines[-1],
               "hypervolume_before": before["hypervolume"], "hypervolume_after": after["hypervolume"],
               "agent": {"type": agent.type, "kwargs": agent.kwargs}}
    atomic_write_json(out / SUMMARY_FILE, summary)
    return summary


def _plot_training(out: Path, lines: list[dict[str, Any]], objectives: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [line["step"] for line in lines]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(steps, [line["reward"] for line in lines], marker="o")
    axes[0].set(xlabel="step", ylabel="mean s_w(r)", title="scalarised reward")
    for index, objective in enumerate(objectives):
        axes[1].plot(steps, [line["reward_vector"][index] for line in lines], marker="o", label=objective)
    axes[1].set(xlabel="step", ylabel="mean score", title="reward vector")
    axes[1].legend()
    figure.tight_layout()
    figure.savefig(out / "training.png", dpi=110)
    plt.close(figure)


def plot_fronts(path: Path, result: dict[str, Any]) -> None:
    """The per-``w`` mean reward vectors before and after training on the first two objectives (or the
    scalarised reward per ``w`` with one objective), each labelled with its ``w``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objectives = result["objectives"]
    figure, axis = plt.subplots(figsize=(5.2, 4.2))
    for key, marker in (("before", "o"), ("after", "s")):
        evaluation = result[key]
        vectors = np.array([entry["reward_vector"] for entry in evaluation["per_weight"]])
        if len(objectives) >= 2:
            axis.scatter(vectors[:, 0], vectors[:, 1], marker=marker,
                         label=f"{key} (hypervolume {evaluation['hypervolume']:.4f})")
            for entry, (x, y) in zip(evaluation["per_weight"], vectors[:, :2]):
                axis.annotate("w=(" + ",".join(f"{v:.2g}" for v in entry["weight"]) + ")", (x, y), fontsize=6)
        else:
            axis.plot(range(len(vectors)), vectors[:, 0], marker=marker, label=key)
    if len(objectives) >= 2:
        axis.set(xlabel=objectives[0], ylabel=objectives[1])
    axis.set_title("mean reward vector per w, held-out prompts")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
