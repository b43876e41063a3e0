"""Preference optimisation of language-model policies in ``preference_game_v0``'s language mode:
MPO, with Nash-MD and SPO as baselines, under the one driver :func:`aligngames.solvers.equilibrium.mpo.iterate`.

Papers: Wang, Ma, et al. (2024), "Magnetic Preference Optimization" (arXiv 2410.16714); Munos et al.
(2023), "Nash Learning from Human Feedback" (Nash-MD); Swamy et al. (2024), "A Minimaximalist
Approach to RLHF" (SPO). The policy is a LoRA adapter on a shared base model (or, with
``lora_rank=0``, every weight of a private copy).

:class:`LanguagePolicy` implements :class:`~aligngames.solvers.equilibrium.mpo.MagneticPolicy`, so MPO on a
language model is ``mpo.iterate`` on it, exactly as on a :class:`~aligngames.solvers.equilibrium.mpo.TabularPolicy`.
Each ``mmd_step(magnet, alpha=, eta=)``:

1. draws ``prompts_per_step`` episodes of the env (their prompts and the observation an agent sees)
   and samples ``samples_per_prompt`` answers to each from the policy (temperature 1, so the sampling
   distribution is the policy whose log-probabilities are trained);
2. rewards each answer by the game's judge: MPO and SPO use self-play, ``r_i = mean_{j != i}
   P(y_i > y_j)`` over the other answers to the same prompt (an unbiased estimate of ``P(y_i > pi)``);
   Nash-MD plays against answers sampled from the token-level geometric mixture
   ``pi_mix ∝ pi^(1 - eta*alpha) * magnet^(eta*alpha)`` (:class:`GeometricMixtureModel`);
3. advantages relative to the other answers to the same prompt, then ``epochs`` optimiser steps on
   ``E[A] - w_magnet KL(pi || magnet) - w_proximal KL(pi || pi_old)``
   (:mod:`aligngames.solvers.training.policy_gradient`), with weights (:func:`regularizer_weights`):

   ========  ========================  =========================  =================================
   algorithm  w_magnet                  w_proximal                 magnet
   ========  ========================  =========================  =================================
   mpo       alpha                     1/eta                      the policy, copied every K steps
   nash_md   alpha (Nash-MD's tau)     (1 - eta*alpha)/eta        the initial policy (fixed)
   spo       0                         1/eta                      none (its win-rate reward only)
   ========  ========================  =========================  =================================

   For a categorical policy these are exactly the tabular updates: MPO's and Nash-MD's closed-form
   steps (:func:`~aligngames.solvers.equilibrium.simplex.mirror_step`, :func:`~aligngames.solvers.equilibrium.nash_md.nash_md_step`)
   are the minimisers of this loss, and one SPO step is one plain-gradient step on it
   (``tests/test_policy_gradient.py``).

Nash-MD and SPO never reset the magnet: the driver runs them as one regularised game of
``inner_steps * outer_steps`` steps. Every ``inner_steps`` steps (MPO: at the end of each
regularised game, before the magnet moves) the policy is evaluated: its win rate (the mean of
``P(current > other)``, both seat orders averaged) against the initial policy and against the policy
at the previous evaluation point (for MPO: the magnet of the game that just ended), on fixed episodes
with the same sampling seeds for both sides, with 95% confidence intervals.

The run folder (``aligngames solve mpo --env preference_game_v0 -e mode=language --out RUN``)::

    config.yaml      the env, its settings and every training setting (defaults filled in)
    manifest.json    seed, package versions, git commit, the model's identity (sha256), processes
    metrics.jsonl    one line per step (reward, KL terms, tokens, seconds), evaluation points included;
                     appended and flushed as the run goes
    checkpoints/     after every step: adapters, optimiser state, generator state (see
                     :mod:`aligngames.solvers.training.checkpoints`); a rerun resumes from the latest one
    adapters/policy  the final policy (load it with ``llm:adapter=RUN/adapters/policy``)
    summary.json     the final evaluation, the agent spec of the trained policy, totals
    win_rate.png, training.png
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from aligngames.config import ConfigError, load_yaml, to_mapping
from aligngames.solvers.training.distributed import SINGLE_PROCESS, World

if TYPE_CHECKING:  # torch and the trainer load when training starts, not when the CLI parses flags
    from aligngames.solvers.training.policy_gradient import PolicyRef, RegularizerWeights, TrainerSettings

log = logging.getLogger(__name__)

ALGORITHMS = ("mpo", "nash_md", "spo")
GENERATION_BACKENDS = ("transformers", "vllm")
METRICS_FILE = "metrics.jsonl"
SEAT = "player_0"


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
        model: embedded (SmolLM2-135M-Instruct) or a local model folder.
        device: cpu, cuda, cuda:1 ... (default: CUDA where available; each torchrun process takes its own GPU).
        dtype: float32, bfloat16 or float16 (default: bfloat16 on CUDA, float32 on the CPU).
        autocast: run forward passes under torch.autocast in bfloat16 (float32 weights on a GPU).
        lora_rank: LoRA rank; 0 trains every weight of the model (full fine-tuning).
        lora_alpha: LoRA scale numerator (updates are scaled by lora_alpha / lora_rank).
        lora_targets: comma-separated names of the modules that get LoRA adapters.
        learning_rate: AdamW's peak learning rate.
        warmup_steps: optimiser steps of linear warm-up.
        schedule: constant, linear or cosine decay of the learning rate to 0 at the last step.
        epochs: passes (optimiser steps) over each step's samples.
        micro_batch_size: sequences per forward/backward pass (gradients accumulate over the step).
        max_grad_norm: clip the gradient norm to this (0: no clipping).
        prompts_per_step: episodes (prompts) per step, shared among torchrun processes.
        samples_per_prompt: answers sampled per prompt (>= 2): the group of the group-relative advantage.
        scale_advantages: divide each advantage by its group's standard deviation.
        max_new_tokens: the longest answer, in tokens.
        generation_batch_size: sequences generated together.
        generation_backend: transformers, or vllm (GPU, extra vllm; LoRA training only).
        system_prompt: the system prompt (default: the LLM agent's).
        eval_episodes: episodes per evaluation point (each judged in both seat orders).
        seed: the run seed.
        keep_checkpoints: checkpoint folders kept (the newest ones).
    """

    algorithm: str = "mpo"
    alpha: float = 0.1
    eta: float = 1.0
    inner_steps: int = 5
    outer_steps: int = 4
    model: str = "embedded"
    device: str | None = None
    dtype: str | None = None
    autocast: bool = False
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_targets: str = "q_proj,v_proj"
    learning_rate: float = 1e-4
    warmup_steps: int = 0
    schedule: str = "constant"
    epochs: int = 2
    micro_batch_size: int = 8
    max_grad_norm: float = 1.0
    prompts_per_step: int = 4
    samples_per_prompt: int = 4
    scale_advantages: bool = False
    max_new_tokens: int = 32
    generation_batch_size: int = 32
    generation_backend: str = "transformers"
    system_prompt: str | None = None
    eval_episodes: int = 24
    seed: int = 0
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {list(ALGORITHMS)}, got {self.algorithm!r}")
        if self.generation_backend not in GENERATION_BACKENDS:
            raise ValueError(f"generation_backend must be one of {list(GENERATION_BACKENDS)}, got {self.generation_backend!r}")
        if self.alpha <= 0 or self.eta <= 0 or self.inner_steps < 1 or self.outer_steps < 1:
            raise ValueError("need alpha > 0, eta > 0, inner_steps >= 1 and outer_steps >= 1")
        if self.algorithm == "nash_md" and self.eta * self.alpha > 1:
            raise ValueError(f"Nash-MD needs eta * alpha <= 1 (the mixture weight), got {self.eta * self.alpha}")
        if self.samples_per_prompt < 2 or self.prompts_per_step < 1:
            raise ValueError("need samples_per_prompt >= 2 (self-play rewards compare answers) and prompts_per_step >= 1")
        if self.lora_rank < 0 or self.max_new_tokens < 1 or self.generation_batch_size < 1 or self.eval_episodes < 0:
            raise ValueError("need lora_rank >= 0, max_new_tokens >= 1, generation_batch_size >= 1 and eval_episodes >= 0")
        if self.generation_backend == "vllm" and self.lora_rank == 0:
            raise ValueError("vLLM generation here passes LoRA adapters to the engine; full fine-tuning (lora_rank 0) "
                             "would need the weights copied into the engine every step: use generation_backend transformers")
        if self.keep_checkpoints < 1:
            raise ValueError("keep_checkpoints must be >= 1")
        self.trainer_settings()  # checks the optimiser settings

    @property
    def total_steps(self) -> int:
        return self.inner_steps * self.outer_steps

    def trainer_settings(self) -> TrainerSettings:
        from aligngames.solvers.training.policy_gradient import TrainerSettings

        return TrainerSettings(learning_rate=self.learning_rate, warmup_steps=self.warmup_steps, schedule=self.schedule,
                               total_updates=self.total_steps * self.epochs, epochs=self.epochs,
                               micro_batch_size=self.micro_batch_size, max_grad_norm=self.max_grad_norm,
                               autocast=self.autocast)


# --- the algorithms' differences ----------------------------------------------------------------------

def regularizer_weights(algorithm: str, alpha: float, eta: float) -> RegularizerWeights:
    """The KL weights of each algorithm (the table in the module docstring)."""
    from aligngames.solvers.training.policy_gradient import RegularizerWeights

    if algorithm == "mpo":
        return RegularizerWeights(magnet=alpha, proximal=1.0 / eta)
    if algorithm == "nash_md":
        # Nash-MD's step argmax eta<q_mix, p> - KL(p || pi_mix) with pi_mix ∝ pi^(1-eta*alpha) mu^(eta*alpha)
        # splits into (1 - eta*alpha) KL(p || pi) + eta*alpha KL(p || mu) (+ a constant); divided by eta:
        return RegularizerWeights(magnet=alpha, proximal=(1.0 - eta * alpha) / eta)
    if algorithm == "spo":
        return RegularizerWeights(proximal=1.0 / eta)
    raise ValueError(f"algorithm must be one of {list(ALGORITHMS)}, got {algorithm!r}")


@dataclass(frozen=True)
class IterationSchedule:
    """How :func:`train_policy` calls :func:`~aligngames.solvers.equilibrium.mpo.iterate`.

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


# --- rewards from the judge ---------------------------------------------------------------------------

def symmetric_preferences(judge, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]) -> np.ndarray:
    """``(P(a > b) + 1 - P(b > a)) / 2`` per pair: both seat orders, so a judge's position bias cancels."""
    forward = judge.compare(list(prompts), list(first), list(second))
    backward = judge.compare(list(prompts), list(second), list(first))
    return 0.5 * (forward + 1.0 - backward)


def self_play_rewards(judge, prompts: Sequence[str], answers: Sequence[str], group_size: int) -> np.ndarray:
    """``r_i = mean_{j != i} P(y_i > y_j)`` within each group of ``group_size`` answers to one prompt."""
    pairs = [(group + i, group + j) for group in range(0, len(answers), group_size)
             for i in range(group_size) for j in range(i + 1, group_size)]
    left, right = zip(*pairs)
    preferences = symmetric_preferences(judge, [prompts[i] for i in left], [answers[i] for i in left],
                                        [answers[j] for j in right])
    totals = np.zeros(len(answers))
    for (i, j), p in zip(pairs, preferences):
        totals[i] += p
        totals[j] += 1.0 - p
    return totals / (group_size - 1)


def opponent_rewards(judge, prompts: Sequence[str], answers: Sequence[str], opponents: Sequence[str],
                     group_size: int) -> np.ndarray:
    """``r_i = mean_j P(y_i > y'_j)`` over the ``group_size`` opponent answers to the same prompt."""
    pairs = [(group + i, group + j) for group in range(0, len(answers), group_size)
             for i in range(group_size) for j in range(group_size)]
    left, right = zip(*pairs)
    preferences = symmetric_preferences(judge, [prompts[i] for i in left], [answers[i] for i in left],
                                        [opponents[j] for j in right])
    return preferences.reshape(len(answers), group_size).mean(axis=1)


def mean_and_ci95(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% t-interval (NaN for fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float(values.mean()) if values.size else float("nan"), float("nan")
    from scipy import stats

    sem = float(values.std(ddof=1)) / np.sqrt(values.size)
    return float(values.mean()), float(stats.t.ppf(0.975, values.size - 1) * sem)


def win_rate(judge, prompts: Sequence[str], mine: Sequence[str], theirs: Sequence[str]) -> dict[str, float]:
    """Mean ``P(mine > theirs)`` over episodes (both seat orders), its 95% CI, and the share of wins (ties 1/2)."""
    preferences = symmetric_preferences(judge, prompts, mine, theirs)
    mean, half_width = mean_and_ci95(preferences)
    wins = float(np.mean((preferences > 0.5) + 0.5 * (preferences == 0.5)))
    return {"win_rate": mean, "ci95": half_width, "wins": wins, "episodes": len(preferences)}


# --- sampling from a geometric mixture of two policies (Nash-MD) -------------------------------------------

class GeometricMixtureModel:
    """A causal LM whose next-token log-probabilities are ``(1 - w) log pi + w log mu`` (the softmax in
    :func:`~aligngames.agents.llm.generation.generate` renormalises them), so ``generate`` samples from
    the token-level geometric mixture ``pi^(1-w) mu^w`` (Nash-MD's ``pi_mix``). Each policy keeps its
    own key/value cache; the pair is the mixture's cache."""

    def __init__(self, first: PolicyRef, second: PolicyRef, weight: float) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"the mixture weight must lie in [0, 1], got {weight}")
        self.parts = (first, second)
        self.weight = weight
        self.generation_config = first.handle.model.generation_config

    def __call__(self, *, input_ids, attention_mask, position_ids, use_cache=True, past_key_values=None,
                 logits_to_keep=0):
        import torch

        from aligngames.agents.llm.generation import adapter_kwargs

        caches = past_key_values or (None, None)
        logprobs, new_caches = [], []
        for ref, cache in zip(self.parts, caches):
            output = ref.handle.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                      past_key_values=cache, use_cache=use_cache, logits_to_keep=logits_to_keep,
                                      **adapter_kwargs(ref.handle, ref.adapter, input_ids.shape[0]))
            logprobs.append(torch.log_softmax(output.logits.float(), dim=-1))  # (batch, time, vocab)
            new_caches.append(output.past_key_values)
        mixed = (1.0 - self.weight) * logprobs[0] + self.weight * logprobs[1]
        return SimpleNamespace(logits=mixed, past_key_values=tuple(new_caches))


def mixture_handle(first: PolicyRef, second: PolicyRef, weight: float):
    """A :class:`~aligngames.agents.llm.models.LoadedModel` that ``generate`` can sample the mixture from."""
    from aligngames.agents.llm.models import LoadedModel

    handle = first.handle
    return LoadedModel(GeometricMixtureModel(first, second, weight), handle.tokenizer,
                       {"source": f"mixture({weight})"}, handle.device, handle.dtype)


# --- the language-model policy --------------------------------------------------------------------------

_INSTANCES = itertools.count()  # distinct adapter names for policies that share one loaded model


class LanguagePolicy:
    """A language model that plays ``preference_game_v0`` in language mode, trained by ``mmd_step``.

    Args:
        config: the training settings.
        env_name, env_kwargs: the env (language mode); its prompts, judge and answer limits are used.
        world: this process's place among data-parallel processes.
    """

    def __init__(self, config: LanguagePreferenceConfig, env_name: str, env_kwargs: Mapping[str, Any], *,
                 world: World = SINGLE_PROCESS) -> None:
        from aligngames import registry
        from aligngames.agents.llm import GenerationConfig, LLMAgent, load_model, lora
        from aligngames.seeding import derive_seed, make_rng
        from aligngames.solvers.training.distributed import device_for
        from aligngames.solvers.training.policy_gradient import PolicyGradientTrainer, PolicyRef

        self.config = config
        self.world = world
        self.env = registry.make(env_name, **dict(env_kwargs))
        rules = getattr(self.env.unwrapped, "rules", None)
        if getattr(rules, "mode", None) != "language" or not hasattr(rules, "judge"):
            raise ConfigError(f"language-mode preference training needs a language-mode preference game; "
                              f"{env_name} with {dict(env_kwargs)} is not one (try -e mode=language)")
        self.judge = rules.judge
        self.rules = rules
        self.action_space = self.env.action_space(SEAT)
        base = load_model(config.model, device=device_for(world, config.device), dtype=config.dtype)
        self.tag = next(_INSTANCES)
        self._frozen = itertools.count()
        if config.lora_rank > 0:
            self.handle = base
            self.lora_settings = {"rank": config.lora_rank, "alpha": config.lora_alpha,
                                  "target_modules": tuple(t.strip() for t in config.lora_targets.split(",") if t.strip())}
            name = lora.add_adapter(base, f"policy{self.tag}", seed=derive_seed(config.seed, "lora"), **self.lora_settings)
            self.policy = PolicyRef(base, name)
        else:
            self.handle = _private_copy(base)  # full fine-tuning must not change the shared cached model
            self.policy = PolicyRef(self.handle, None)
        self.initial = self.freeze("initial")
        self.agent = LLMAgent(self.handle, system_prompt=config.system_prompt,
                              generation=GenerationConfig(max_new_tokens=config.max_new_tokens, temperature=1.0))
        self.trainer = PolicyGradientTrainer(self.policy, config.trainer_settings(), distributed=world.distributed)
        self.rng = make_rng(config.seed, "preference-training")
        self.steps = 0
        self.previous = self.initial  # the policy at the last evaluation point
        self.magnet: PolicyRef | None = None  # the magnet of the game being played (recorded by mmd_step)
        self._initial_answers: list[str] | None = None
        self._vllm = None

    # --- frozen copies ------------------------------------------------------------------------------
    def freeze(self, role: str) -> PolicyRef:
        """A frozen copy of the current policy (a new adapter, or a copy of the model)."""
        from aligngames.solvers.training.policy_gradient import PolicyRef

        if self.policy.adapter is None:
            copied = _private_copy(self.handle)
            for parameter in copied.model.parameters():
                parameter.requires_grad_(False)
            return PolicyRef(copied, None)
        from peft import set_peft_model_state_dict

        from aligngames.agents.llm import lora

        name = lora.add_adapter(self.handle, f"{role}{self.tag}_{next(self._frozen)}", **self.lora_settings)
        set_peft_model_state_dict(self.handle.model, lora.adapter_state(self.handle, self.policy.adapter), adapter_name=name)
        return PolicyRef(self.handle, name)

    def release(self, ref: PolicyRef) -> None:
        """Drop a frozen copy that nothing uses any more (never the policy, the initial policy or the magnet)."""
        if ref.adapter is None or any(ref is kept for kept in (self.policy, self.initial, self.magnet, self.previous)):
            return
        self.handle.model.delete_adapter(ref.adapter)
        del self.handle.adapters[ref.adapter]

    def snapshot(self) -> PolicyRef:
        old = self.magnet
        magnet = self.freeze("magnet")
        self.magnet = magnet
        if old is not None:
            self.release(old)
        return magnet

    # --- sampling -------------------------------------------------------------------------------------
    def episodes(self, seeds: Sequence[int]) -> tuple[list[str], list[str]]:
        """For each env seed: the prompt the judge sees and the full prompt string the model reads."""
        judge_prompts, model_prompts = [], []
        for seed in seeds:
            self.env.reset(seed=int(seed))
            judge_prompts.append(self.rules.prompt)
            model_prompts.append(self.agent.prompt(self.env.observe(SEAT), SEAT))
        return judge_prompts, model_prompts

    def sample(self, ref: PolicyRef, prompts: Sequence[str], seeds: Sequence[int], *, mixture: PolicyRef | None = None,
               mixture_weight: float = 0.0):
        """One completion per prompt from ``ref`` (or from its geometric mixture with ``mixture``),
        each drawn with its own seeded generator, ``generation_batch_size`` at a time."""
        import torch

        from aligngames.agents.llm import GenerationConfig, generate

        config = GenerationConfig(max_new_tokens=self.config.max_new_tokens, temperature=1.0)
        if self.config.generation_backend == "vllm" and mixture is None:
            return self._sample_vllm(ref, prompts, seeds, config)
        handle, adapter = ref.handle, ref.adapter
        if mixture is not None:
            handle, adapter = mixture_handle(ref, mixture, mixture_weight), None
        completions = []
        size = self.config.generation_batch_size
        for start in range(0, len(prompts), size):
            generators = [torch.Generator(device=ref.handle.device).manual_seed(int(seed)) for seed in seeds[start:start + size]]
            completions += generate(handle, list(prompts[start:start + size]), config, generators, adapter=adapter)
        return completions

    def _sample_vllm(self, ref: PolicyRef, prompts, seeds, config):
        """vLLM generation with the adapter saved to a scratch folder (a new LoRA id per call, so vLLM reloads it)."""
        import tempfile

        from aligngames.agents.llm import lora
        from aligngames.agents.llm.vllm_backend import VLLMGenerator

        if self._vllm is None:
            self._vllm = VLLMGenerator.for_model(self.handle, max_lora_rank=self.config.lora_rank)
            self._vllm_folder = Path(tempfile.mkdtemp(prefix="aligngames-vllm-"))
            self._vllm_calls = itertools.count(1)
        call = next(self._vllm_calls)
        folder = lora.save_adapter(self.handle, ref.adapter, self._vllm_folder / f"{ref.adapter}-{call}")
        return self._vllm.generate(list(prompts), config, [int(s) for s in seeds], lora=(ref.adapter, call, str(folder)))

    def answers(self, completions) -> list[str]:
        """The answers the env would judge: each completion cleaned into the action space."""
        from aligngames.agents.llm.agent import clean_text

        return [clean_text(completion.text, self.action_space) for completion in completions]

    # --- one MMD step ---------------------------------------------------------------------------------
    def mmd_step(self, magnet: PolicyRef, *, alpha: float, eta: float) -> dict[str, float]:
        """Steps 1-3 of the module docstring on this process's share of the prompts."""
        import torch

        from aligngames.solvers.training.policy_gradient import Rollouts, group_advantages

        config = self.config
        started = time.perf_counter()
        self.magnet = magnet
        group = config.samples_per_prompt
        # every process draws the whole step's seeds (so the stream does not depend on the number of
        # processes) and keeps its share
        env_seeds = self.rng.integers(0, 2**63 - 1, size=config.prompts_per_step)
        sample_seeds = self.rng.integers(0, 2**63 - 1, size=(config.prompts_per_step, group))
        opponent_seeds = self.rng.integers(0, 2**63 - 1, size=(config.prompts_per_step, group))
        mine = self.world.shard(config.prompts_per_step, "prompts_per_step")
        judge_prompts, model_prompts = self.episodes(env_seeds[mine])
        row_judge_prompts = [p for p in judge_prompts for _ in range(group)]
        row_model_prompts = [p for p in model_prompts for _ in range(group)]
        completions = self.sample(self.policy, row_model_prompts, sample_seeds[mine].ravel().tolist())
        answers = self.answers(completions)
        sampled = time.perf_counter()
        if config.algorithm == "nash_md":
            opponents = self.answers(self.sample(self.policy, row_model_prompts, opponent_seeds[mine].ravel().tolist(),
                                                 mixture=magnet, mixture_weight=eta * alpha))
            rewards = opponent_rewards(self.judge, row_judge_prompts, answers, opponents, group)
        else:
            rewards = self_play_rewards(self.judge, row_judge_prompts, answers, group)
        advantages = group_advantages(torch.tensor(rewards, dtype=torch.float32), group, scale=config.scale_advantages)
        recorded = None if config.generation_backend == "vllm" else [c.token_logprobs for c in completions]
        rollouts = Rollouts(row_model_prompts, [c.token_ids for c in completions], recorded, advantages)
        metrics = self.trainer.update(rollouts, regularizer_weights(config.algorithm, alpha, eta), magnet=magnet)
        finished = time.perf_counter()
        self.steps += 1
        values = {
            "reward": float(np.mean(rewards)),  # 1/2 by symmetry in self-play (MPO, SPO); vs the mixture in Nash-MD
            "reward_spread": float(np.mean(np.ptp(np.reshape(rewards, (-1, group)), axis=1))),  # the judge's signal
            "answer_tokens": float(np.mean([len(c.token_ids) for c in completions])),
            "answer_words": float(np.mean([len(a.split()) for a in answers])),
            **{key: value for key, value in metrics.items() if key not in ("tokens", "learning_rate")},
        }
        values = self.world.mean(values)
        values["learning_rate"] = metrics["learning_rate"]
        values["tokens"] = metrics["tokens"] * self.world.size
        values["seconds"] = finished - started
        values["sampling_seconds"] = sampled - started
        values["training_tokens_per_second"] = values["tokens"] / max(finished - sampled, 1e-9)
        return values

    # --- evaluation -----------------------------------------------------------------------------------
    def eval_answers(self, ref: PolicyRef) -> tuple[list[str], list[str]]:
        """``ref``'s answers on the fixed evaluation episodes (the same sampling seeds for every policy)."""
        from aligngames.seeding import derive_seed

        count = self.config.eval_episodes
        judge_prompts, model_prompts = self.episodes([derive_seed(self.config.seed, "eval-episode", e) for e in range(count)])
        seeds = [derive_seed(self.config.seed, "eval-sample", e) for e in range(count)]
        return judge_prompts, self.answers(self.sample(ref, model_prompts, seeds))

    def evaluate(self) -> dict[str, Any]:
        """Win rates against the initial policy and the policy at the previous evaluation point."""
        if self.config.eval_episodes == 0:
            return {}
        prompts, mine = self.eval_answers(self.policy)
        if self._initial_answers is None:
            self._initial_answers = self.eval_answers(self.initial)[1]  # the initial policy never changes
        result = {"vs_initial": win_rate(self.judge, prompts, mine, self._initial_answers),
                  "vs_previous": win_rate(self.judge, prompts, mine, self.eval_answers(self.previous)[1])}
        old, self.previous = self.previous, self.freeze("previous")
        self.release(old)
        return result

    # --- checkpoints --------------------------------------------------------------------------------
    def save_checkpoint(self, folder: Path, magnet: PolicyRef) -> None:
        from aligngames.runs import atomic_write_json
        from aligngames.solvers.training.checkpoints import (
            STATE_FILE,
            TENSORS_FILE,
            numpy_generator_state,
            save_tensors,
        )

        roles = {"policy": self.policy, "magnet": magnet, "previous": self.previous}
        stored = {}
        for role, ref in roles.items():
            if ref is self.initial:
                stored[role] = "initial"  # rebuilt from the seed, not stored
            else:
                _save_weights(ref, folder / "weights" / role)
                stored[role] = role
        tensors, optimizer = self.trainer.state()
        save_tensors(folder / TENSORS_FILE, tensors)
        atomic_write_json(folder / STATE_FILE, {"steps": self.steps, "optimizer": optimizer, "stored": stored,
                                                "numpy_generator": numpy_generator_state(self.rng)})

    def load_checkpoint(self, folder: Path) -> PolicyRef:
        """Restore the state :meth:`save_checkpoint` wrote; return the magnet of the game in progress."""
        from aligngames.solvers.training.checkpoints import (
            STATE_FILE,
            TENSORS_FILE,
            load_tensors,
            restore_numpy_generator,
        )

        state = json.loads((folder / STATE_FILE).read_text())
        refs = {}
        for role in ("policy", "magnet", "previous"):
            if state["stored"][role] == "initial":
                refs[role] = self.initial
            else:
                refs[role] = self.policy if role == "policy" else self.freeze(role)
                _load_weights(refs[role], folder / "weights" / role)
        self.trainer.load_state(load_tensors(folder / TENSORS_FILE), state["optimizer"])
        self.rng = restore_numpy_generator(state["numpy_generator"])
        self.steps = int(state["steps"])
        self.previous, self.magnet = refs["previous"], refs["magnet"]
        return refs["magnet"]

    def save_policy(self, folder: Path) -> Path:
        """The final policy as an adapter folder (or, fully fine-tuned, a model folder)."""
        if self.policy.adapter is not None:
            from aligngames.agents.llm import lora

            lora.save_adapter(self.handle, self.policy.adapter, folder)
            # the adapter in memory now is what the folder holds: an agent that loads the folder in this
            # process (a tournament, PSRO) shares it instead of refusing a second adapter of that name
            self.handle.adapters[self.policy.adapter] = str(Path(folder).resolve())
            return folder
        self.handle.model.save_pretrained(folder, safe_serialization=True)
        self.handle.tokenizer.save_pretrained(folder)
        return folder

    def agent_spec(self, folder: Path) -> dict[str, Any]:
        """The registry ``llm`` agent that plays the trained policy (as a tournament or PSRO agent spec)."""
        kwargs: dict[str, Any] = {"model": self.config.model, "temperature": 1.0,
                                  "max_new_tokens": self.config.max_new_tokens}
        if self.policy.adapter is not None:
            kwargs["adapter"] = str(folder.resolve())
        else:
            kwargs["model"] = str(folder.resolve())
        if self.config.system_prompt is not None:
            kwargs["system_prompt"] = self.config.system_prompt
        return {"type": "llm", "kwargs": kwargs}


def _private_copy(handle):
    """A copy of the model that nothing else shares. The shared model may carry other runs' LoRA adapters
    (peft changes it in place), so its weights are read again from its folder when it has one."""
    from aligngames.agents.llm.models import wrap_model

    if handle.is_peft:
        if handle.folder is None:
            raise ValueError("full fine-tuning needs a model loaded from a folder (this one carries LoRA adapters)")
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(handle.folder, dtype=handle.dtype, local_files_only=True)
    else:
        model = copy.deepcopy(handle.model)
    return wrap_model(model, handle.tokenizer, handle.identity, device=handle.device, folder=handle.folder)


def _save_weights(ref: PolicyRef, folder: Path) -> None:
    from aligngames.solvers.training.checkpoints import save_tensors

    if ref.adapter is not None:
        from aligngames.agents.llm import lora

        lora.save_adapter(ref.handle, ref.adapter, folder)
        return
    seen: set[int] = set()
    state = {}
    for name, tensor in ref.handle.model.state_dict().items():
        if tensor.data_ptr() in seen:  # tied weights (input and output embeddings) are stored once
            continue
        seen.add(tensor.data_ptr())
        state[name] = tensor
    save_tensors(folder / "model.safetensors", state)


def _load_weights(ref: PolicyRef, folder: Path) -> None:
    from aligngames.solvers.training.checkpoints import load_tensors

    if ref.adapter is not None:
        from peft import set_peft_model_state_dict

        from aligngames.agents.llm.lora import WEIGHTS_FILE

        set_peft_model_state_dict(ref.handle.model, load_tensors(folder / WEIGHTS_FILE), adapter_name=ref.adapter)
        return
    ref.handle.model.load_state_dict(load_tensors(folder / "model.safetensors"), strict=False)


# --- the driver (any MagneticPolicy) ------------------------------------------------------------------------

class ResumablePolicy(Protocol):
    """What :func:`train_policy` uses beyond :class:`~aligngames.solvers.equilibrium.mpo.MagneticPolicy` when a policy has it."""

    def save_checkpoint(self, folder: Path, magnet: Any) -> None: ...

    def load_checkpoint(self, folder: Path) -> Any: ...


class _MagnetRecorder:
    """Passes ``snapshot``/``mmd_step`` through to a policy and remembers the magnet in use (for checkpoints)."""

    def __init__(self, policy) -> None:
        self.policy = policy
        self.magnet = None

    def snapshot(self):
        return self.policy.snapshot()

    def mmd_step(self, magnet, *, alpha, eta):
        self.magnet = magnet
        return self.policy.mmd_step(magnet, alpha=alpha, eta=eta)


def train_policy(policy, schedule: IterationSchedule, out: str | Path | None = None, *, world: World = SINGLE_PROCESS,
                 stop_after: int | None = None, keep_checkpoints: int = 2, progress: bool = False) -> list[dict[str, Any]]:
    """Run ``mpo.iterate`` on ``policy`` with metrics, evaluation points and checkpoints; resume from ``out``.

    Works for any :class:`~aligngames.solvers.equilibrium.mpo.MagneticPolicy`: a policy with ``evaluate()`` is
    evaluated every ``schedule.evaluate_every`` steps and after the last; one with ``save_checkpoint`` /
    ``load_checkpoint`` is checkpointed after every step under ``out/checkpoints`` and a rerun resumes
    from the latest checkpoint. ``stop_after`` ends this call after that many steps (a later call resumes).

    Returns the metrics lines of every step taken so far (resumed runs include the earlier ones).
    """
    from tqdm.auto import tqdm

    from aligngames.runs import append_line, atomic_write_text, read_jsonl
    from aligngames.solvers.equilibrium import mpo
    from aligngames.solvers.training import checkpoints

    checkpointed = out is not None and hasattr(policy, "save_checkpoint")
    start, magnet, lines = 0, None, []
    if out is not None:
        out = Path(out)
        metrics_path = out / METRICS_FILE
        found = checkpoints.latest_checkpoint(out / "checkpoints") if checkpointed else None
        if found is not None:
            start, folder = found
            magnet = policy.load_checkpoint(folder)
            log.info("resuming at step %d from %s", start, folder)
        lines = read_jsonl(metrics_path, repair=world.is_main)
        kept = [line for line in lines if line["step"] <= start]  # lines past the checkpoint are redone
        if world.is_main and len(kept) != len(lines):
            atomic_write_text(metrics_path, "".join(json.dumps(line, sort_keys=True) + "\n" for line in kept))
        lines = kept
    recorder = _MagnetRecorder(policy)
    recorder.magnet = magnet
    bar = tqdm(total=schedule.total_steps, initial=start, unit="step", desc="training", disable=not progress)
    for step in mpo.iterate(recorder, alpha=schedule.alpha, eta=schedule.eta, inner_steps=schedule.inner_steps,
                            outer_steps=schedule.outer_steps, magnet=magnet, start=start):
        index = step.outer * schedule.inner_steps + step.inner + 1
        line: dict[str, Any] = {"step": index, "outer": step.outer, "inner": step.inner, **step.metrics}
        if hasattr(policy, "evaluate") and (index % schedule.evaluate_every == 0 or index == schedule.total_steps):
            if world.is_main:
                line.update(policy.evaluate())
            world.barrier()
        lines.append(line)
        if out is not None and world.is_main:
            append_line(metrics_path, line)
        if checkpointed:
            if world.is_main:
                checkpoints.write_checkpoint(out / "checkpoints", index,
                                             lambda folder: policy.save_checkpoint(folder, recorder.magnet),
                                             keep=keep_checkpoints)
            world.barrier()
        bar.update()
        if stop_after is not None and index - start >= stop_after:
            break
    bar.close()
    return lines


class CheckpointedTabularPolicy:
    """:class:`~aligngames.solvers.equilibrium.mpo.TabularPolicy` with checkpoints (JSON), for :func:`train_policy`."""

    def __init__(self, payoffs: np.ndarray, probabilities: np.ndarray | None = None) -> None:
        from aligngames.solvers.equilibrium.mpo import TabularPolicy

        self.tabular = TabularPolicy(payoffs, probabilities)

    @property
    def probabilities(self) -> np.ndarray:
        return self.tabular.probabilities

    def snapshot(self) -> np.ndarray:
        return self.tabular.snapshot()

    def mmd_step(self, magnet: np.ndarray, *, alpha: float, eta: float) -> dict[str, float]:
        return self.tabular.mmd_step(magnet, alpha=alpha, eta=eta)

    def save_checkpoint(self, folder: Path, magnet: np.ndarray) -> None:
        from aligngames.runs import atomic_write_json

        # float.hex keeps every bit, so a resumed run continues from exactly the same numbers
        atomic_write_json(folder / "tabular.json", {"probabilities": [float(p).hex() for p in self.tabular.probabilities],
                                                    "magnet": [float(p).hex() for p in magnet]})

    def load_checkpoint(self, folder: Path) -> np.ndarray:
        from aligngames.solvers.equilibrium.mpo import TabularPolicy

        data = json.loads((folder / "tabular.json").read_text())
        probabilities = np.array([float.fromhex(p) for p in data["probabilities"]])
        self.tabular = TabularPolicy(self.tabular.payoffs)
        self.tabular.probabilities = probabilities
        self.tabular._values = self.tabular.payoffs @ probabilities  # as TabularPolicy keeps it between steps
        return np.array([float.fromhex(p) for p in data["magnet"]])


# --- a language-mode run -------------------------------------------------------------------------------

def _check_resumable(out: Path, resolved: dict[str, Any]) -> None:
    path = out / "config.yaml"
    if not path.exists():
        return
    stored = load_yaml(path)
    if stored != resolved:
        differing = sorted(k for k in set(stored) | set(resolved) if stored.get(k) != resolved.get(k))
        if differing == ["settings"]:
            differing = sorted(k for k in set(stored["settings"]) | set(resolved["settings"])
                               if stored["settings"].get(k) != resolved["settings"].get(k))
        raise ConfigError(f"{out} holds a run with a different config ({differing} differ); resume it with the same "
                          f"settings or choose a new --out folder")


def run(config: LanguagePreferenceConfig, env_name: str, env_kwargs: Mapping[str, Any], out: str | Path, *,
        stop_after: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Train in ``out`` (resuming what is there); return the summary (also ``summary.json`` once finished)."""
    import yaml

    from aligngames.runs import atomic_write_json, atomic_write_text, build_manifest
    from aligngames.solvers.training.distributed import init_from_environment

    world = init_from_environment()
    out = Path(out)
    resolved = {"solver": "mpo" if config.algorithm == "mpo" else f"mpo ({config.algorithm} baseline)",
                "env": env_name, "env_kwargs": dict(env_kwargs), "settings": to_mapping(config)}
    if world.is_main:
        _check_resumable(out, resolved)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    world.barrier()
    started = time.perf_counter()
    policy = LanguagePolicy(config, env_name, env_kwargs, world=world)
    if world.is_main:
        atomic_write_json(out / "manifest.json", build_manifest(config.seed, extra={
            "solver": resolved["solver"], "env": env_name, "model": policy.handle.describe(),
            "trainable_parameters": policy.trainer.num_trainable, "processes": world.size,
            "judge": policy.judge.identity}))
    lines = train_policy(policy, iteration_schedule(config), out, world=world, stop_after=stop_after,
                         keep_checkpoints=config.keep_checkpoints, progress=progress and world.is_main)
    finished = bool(lines) and lines[-1]["step"] == config.total_steps
    summary: dict[str, Any] = {"algorithm": config.algorithm, "steps": lines[-1]["step"] if lines else 0,
                               "finished": finished, "seconds_this_call": time.perf_counter() - started,
                               "tokens": float(sum(line["tokens"] for line in lines))}
    evaluations = [line for line in lines if "vs_initial" in line]
    if evaluations:
        summary["final"] = {key: evaluations[-1][key] for key in ("step", "vs_initial", "vs_previous")}
    if world.is_main and lines:
        _plot(out, lines, config.algorithm)
    if finished and world.is_main:
        folder = policy.save_policy(out / "adapters" / "policy")
        summary["agent"] = policy.agent_spec(folder)
        atomic_write_json(out / "summary.json", summary)
    world.barrier()
    return summary


def _plot(out: Path, lines: list[dict[str, Any]], algorithm: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evaluations = [line for line in lines if "vs_initial" in line]
    if evaluations:
        figure, axes = plt.subplots(figsize=(6.5, 4.0))
        steps = [line["step"] for line in evaluations]
        for key, label in (("vs_initial", "vs the initial policy"), ("vs_previous", "vs the previous evaluation point")):
            axes.errorbar(steps, [line[key]["win_rate"] for line in evaluations],
                          yerr=[line[key]["ci95"] for line in evaluations], marker="o", capsize=3, label=label)
        axes.axhline(0.5, color="grey", linewidth=0.8)
        axes.set(xlabel="step", ylabel="win rate (mean P(current > other))", title=f"{algorithm}: judged win rate, 95% CI")
        axes.legend()
        figure.tight_layout()
        figure.savefig(out / "win_rate.png", dpi=110)
        plt.close(figure)
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    steps = [line["step"] for line in lines]
    axes[0].plot(steps, [line["reward"] for line in lines])
    axes[0].set(xlabel="step", ylabel="self-play reward", title="mean reward")
    for key in ("kl_magnet", "kl_proximal"):
        axes[1].plot(steps, [line.get(key, 0.0) for line in lines], label=key)
    axes[1].set(xlabel="step", ylabel="nats per answer", title="KL estimates")
    axes[1].legend()
    axes[2].plot(steps, [line["answer_words"] for line in lines])
    axes[2].set(xlabel="step", ylabel="words", title="answer length")
    figure.tight_layout()
    figure.savefig(out / "training.png", dpi=110)
    plt.close(figure)


# --- command line (reached through ``aligngames solve mpo ... -e mode=language``) ------------------------

#: Fields shared with the tabular :class:`~aligngames.solvers.equilibrium.mpo.MPOConfig`, whose flags mpo.py adds.
SHARED_FIELDS = ("alpha", "eta", "inner_steps", "outer_steps")


def add_language_arguments(parser: argparse.ArgumentParser) -> None:
    """The language-mode settings that the tabular solver does not have (flags named after the fields)."""
    from aligngames.cli import driver

    driver.add_config_arguments(parser, LanguagePreferenceConfig, exclude=SHARED_FIELDS, config_flag=False,
                                title="language mode (-e mode=language)")
    parser.add_argument("--baseline", dest="algorithm", choices=ALGORITHMS[1:], default=None,
                        help="same as --algorithm: train with a baseline instead of MPO")
    parser.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                        help="language mode: stop after this many steps in this call (a rerun on the same --out resumes)")


def language_flags_given(args: argparse.Namespace) -> list[str]:
    return [field.name for field in dataclasses.fields(LanguagePreferenceConfig)
            if field.name not in SHARED_FIELDS and getattr(args, field.name, None) is not None] + \
        (["stop_after"] if getattr(args, "stop_after", None) is not None else [])


def run_cli(args: argparse.Namespace) -> int:
    from aligngames.cli import driver

    if args.payoffs:
        raise ConfigError("language-mode training needs --env (a language-mode preference game), not --payoffs")
    config = driver.config_from_args(LanguagePreferenceConfig, args)
    summary = run(config, args.env, driver.env_kwargs(args), args.out, stop_after=args.stop_after, progress=True)
    final = summary.get("final")
    if final is None:
        text = f"{summary['steps']} of {config.total_steps} steps"
    else:
        initial, previous = final["vs_initial"], final["vs_previous"]
        text = (f"{summary['steps']} of {config.total_steps} steps; win rate vs the initial policy "
                f"{initial['win_rate']:.3f} ± {initial['ci95']:.3f}, vs the previous evaluation point "
                f"{previous['win_rate']:.3f} ± {previous['ci95']:.3f}")
    driver.report(args.out, f"{config.algorithm}: {text}")
    return 0


__all__ = [
    "ALGORITHMS", "CheckpointedTabularPolicy", "GeometricMixtureModel", "IterationSchedule", "LanguagePolicy",
    "LanguagePreferenceConfig", "ResumablePolicy", "iteration_schedule", "mean_and_ci95", "opponent_rewards",
    "regularizer_weights", "run", "self_play_rewards", "symmetric_preferences", "train_policy", "win_rate",
]
