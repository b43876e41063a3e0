"""The language-model policy of ``preference_game_v0``'s language mode: one MMD step, evaluation, checkpoints.

:class:`LanguagePolicy` implements :class:`~aligngames.solvers.equilibrium.mpo.MagneticPolicy`, so MPO on a
language model is ``mpo.iterate`` on it, exactly as on a :class:`~aligngames.solvers.equilibrium.mpo.TabularPolicy`.
Each ``mmd_step(magnet, alpha=, eta=)``:

1. draws ``prompts_per_step`` episodes of the env (their prompts and the observation an agent sees)
   and samples ``samples_per_prompt`` answers to each from the policy (temperature 1, so the sampling
   distribution is the policy whose log-probabilities are trained);
2. rewards each answer by the game's judge (:mod:`.rewards`): MPO and SPO use self-play,
   ``r_i = mean_{j != i} P(y_i > y_j)`` over the other answers to the same prompt (an unbiased estimate
   of ``P(y_i > pi)``); Nash-MD plays against answers sampled from the token-level geometric mixture
   ``pi_mix ∝ pi^(1 - eta*alpha) * magnet^(eta*alpha)`` (:mod:`.mixture`);
3. advantages relative to the other answers to the same prompt, then ``trainer.epochs`` optimiser steps on
   ``E[A] - w_magnet KL(pi || magnet) - w_proximal KL(pi || pi_old)``
   (:mod:`aligngames.solvers.training.policy_gradient`), with the weights of :func:`regularizer_weights`.
"""

from __future__ import annotations

import copy
import itertools
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aligngames import registry
from aligngames.agents.llm import GenerationConfig, LLMAgent, generate, load_model, lora
from aligngames.agents.llm.agent import clean_text
from aligngames.agents.llm.models import wrap_model
from aligngames.agents.llm.vllm_backend import VLLMGenerator
from aligngames.config import ConfigError
from aligngames.judges import make_preference_judge
from aligngames.runs import FRESH_START, atomic_write_json, read_json_file
from aligngames.seeding import derive_seed, make_rng
from aligngames.solvers.training.checkpoints import (
    STATE_FILE,
    TENSORS_FILE,
    load_tensors,
    numpy_generator_state,
    restore_numpy_generator,
    save_tensors,
)
from aligngames.solvers.training.distributed import SINGLE_PROCESS, World, device_for
from aligngames.solvers.training.policy_gradient import (
    PolicyGradientTrainer,
    PolicyRef,
    RegularizerWeights,
    Rollouts,
    group_advantages,
)
from aligngames.solvers.training.preference_training.config import ALGORITHMS, LanguagePreferenceConfig
from aligngames.solvers.training.preference_training.mixture import mixture_handle
from aligngames.solvers.training.preference_training.rewards import (
    opponent_rewards,
    self_play_rewards,
    win_rate,
)

SEAT = "player_0"
FULL_WEIGHTS_FILE = "model.safetensors"


def regularizer_weights(algorithm: str, alpha: float, eta: float) -> RegularizerWeights:
    """The KL weights of each algorithm.

    ========  ========================  =========================  =================================
    algorithm  w_magnet                  w_proximal                 magnet
    ========  ========================  =========================  =================================
    mpo       alpha                     1/eta                      the policy, copied every K steps
    nash_md   alpha (Nash-MD's tau)     (1 - eta*alpha)/eta        the initial policy (fixed)
    spo       0                         1/eta                      none (its win-rate reward only)
    ========  ========================  =========================  =================================

    For a categorical policy these are exactly the tabular updates: MPO's and Nash-MD's closed-form
    steps are the minimisers of this loss, and one SPO step is one plain-gradient step on it
    (``tests/solvers/training/test_policy_gradient.py``).
    """
    if algorithm == "mpo":
        return RegularizerWeights(magnet=alpha, proximal=1.0 / eta)
    if algorithm == "nash_md":
        # Nash-MD's step argmax eta<q_mix, p> - KL(p || pi_mix) with pi_mix ∝ pi^(1-eta*alpha) mu^(eta*alpha)
        # splits into (1 - eta*alpha) KL(p || pi) + eta*alpha KL(p || mu) (+ a constant); divided by eta:
        return RegularizerWeights(magnet=alpha, proximal=(1.0 - eta * alpha) / eta)
    if algorithm == "spo":
        return RegularizerWeights(proximal=1.0 / eta)
    raise ValueError(f"algorithm must be one of {list(ALGORITHMS)}, got {algorithm!r}")


def language_game(env_name: str, env_kwargs: Mapping[str, Any]):
    """``(env, rules)`` of a language-mode preference game (its rules carry the prompt and the judge), or a
    :class:`~aligngames.config.ConfigError` saying the env is not one."""
    env = registry.make(env_name, **dict(env_kwargs))
    rules = getattr(env.unwrapped, "rules", None)
    if getattr(rules, "mode", None) != "language" or not hasattr(rules, "judge"):
        env.close()
        raise ConfigError(f"language-mode preference training needs a language-mode preference game; "
                          f"{env_name} with {dict(env_kwargs)} is not one (try -e mode=language)")
    return env, rules


def episode_prompts(env, rules, agent: LLMAgent, seeds: Sequence[int]) -> tuple[list[str], list[str]]:
    """For each env seed: the prompt the judge sees and the full prompt string ``agent`` reads as ``player_0``."""
    judge_prompts, model_prompts = [], []
    for seed in seeds:
        env.reset(seed=int(seed))
        judge_prompts.append(rules.prompt)
        model_prompts.append(agent.prompt(env.observe(SEAT), SEAT))
    return judge_prompts, model_prompts


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
        self.config = config
        self.world = world
        self.env, rules = language_game(env_name, env_kwargs)
        self.judge = rules.judge
        self.eval_judges = {name: make_preference_judge(name) for name in config.eval_judge_names}
        self.rules = rules
        self.action_space = self.env.action_space(SEAT)
        base = load_model(config.model.name, device=device_for(world, config.model.device), dtype=config.model.dtype)
        self.tag = next(_INSTANCES)
        self._frozen = itertools.count()
        self.lora_settings = {"rank": config.lora.rank, "alpha": config.lora.alpha,
                              "target_modules": config.lora.target_modules}
        if config.lora.rank > 0:
            self.handle = base
            name = lora.add_adapter(base, f"policy{self.tag}", seed=derive_seed(config.seed, "lora"), **self.lora_settings)
            self.policy = PolicyRef(base, name)
        else:
            self.handle = private_copy(base)  # full fine-tuning must not change the shared cached model
            self.policy = PolicyRef(self.handle, None)
        self.initial = self.freeze("initial")
        self.sampling = GenerationConfig(max_new_tokens=config.generation.max_new_tokens, temperature=1.0)
        self.agent = LLMAgent(self.handle, system_prompt=config.system_prompt, generation=self.sampling)
        self.trainer = PolicyGradientTrainer(self.policy, config.trainer, total_updates=config.total_updates,
                                             distributed=world.distributed)
        self.rng = make_rng(config.seed, "preference-training")
        self.steps = 0
        self.previous = self.initial  # the policy at the last evaluation point
        self.magnet: PolicyRef | None = None  # the magnet of the game being played (recorded by mmd_step)
        self._initial_answers: list[str] | None = None
        self._vllm = None

    # --- frozen copies ------------------------------------------------------------------------------
    def freeze(self, role: str) -> PolicyRef:
        """A frozen copy of the current policy (a new adapter, or a copy of the model)."""
        if self.policy.adapter is None:
            copied = private_copy(self.handle)
            for parameter in copied.model.parameters():
                parameter.requires_grad_(False)
            return PolicyRef(copied, None)
        from peft import set_peft_model_state_dict

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
        return episode_prompts(self.env, self.rules, self.agent, seeds)

    def sample(self, ref: PolicyRef, prompts: Sequence[str], seeds: Sequence[int], *, mixture: PolicyRef | None = None,
               mixture_weight: float = 0.0):
        """One completion per prompt from ``ref`` (or from its geometric mixture with ``mixture``),
        each drawn with its own seeded generator, ``generation.batch_size`` at a time."""
        if self.config.generation.backend == "vllm" and mixture is None:
            return self._sample_vllm(ref, prompts, seeds)
        handle, adapter = ref.handle, ref.adapter
        if mixture is not None:
            handle, adapter = mixture_handle(ref, mixture, mixture_weight), None
        completions = []
        size = self.config.generation.batch_size
        for start in range(0, len(prompts), size):
            generators = [torch.Generator(device=ref.handle.device).manual_seed(int(seed)) for seed in seeds[start:start + size]]
            completions += generate(handle, list(prompts[start:start + size]), self.sampling, generators, adapter=adapter)
        return completions

    def _sample_vllm(self, ref: PolicyRef, prompts, seeds):
        """vLLM generation with the adapter saved to a scratch folder (a new LoRA id per call, so vLLM reloads it)."""
        if self._vllm is None:
            self._vllm = VLLMGenerator.for_model(self.handle, max_lora_rank=self.config.lora.rank)
            self._vllm_folder = Path(tempfile.mkdtemp(prefix="aligngames-vllm-"))
            self._vllm_calls = itertools.count(1)
        call = next(self._vllm_calls)
        folder = lora.save_adapter(self.handle, ref.adapter, self._vllm_folder / f"{ref.adapter}-{call}")
        return self._vllm.generate(list(prompts), self.sampling, [int(s) for s in seeds],
                                   lora=(ref.adapter, call, str(folder)))

    def answers(self, completions) -> list[str]:
        """The answers the env would judge: each completion cleaned into the action space."""
        return [clean_text(completion.text, self.action_space) for completion in completions]

    # --- one MMD step ---------------------------------------------------------------------------------
    def mmd_step(self, magnet: PolicyRef, *, alpha: float, eta: float) -> dict[str, float]:
        """Steps 1-3 of the module docstring on this process's share of the prompts."""
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
        recorded = None if config.generation.backend == "vllm" else [c.token_logprobs for c in completions]
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
        previous = self.eval_answers(self.previous)[1]
        result: dict[str, Any] = {"vs_initial": win_rate(self.judge, prompts, mine, self._initial_answers),
                                  "vs_previous": win_rate(self.judge, prompts, mine, previous)}
        if self.eval_judges:  # the same answers, scored by judges the policy was not trained on
            result["by_judge"] = {name: {"vs_initial": win_rate(judge, prompts, mine, self._initial_answers),
                                         "vs_previous": win_rate(judge, prompts, mine, previous)}
                                  for name, judge in self.eval_judges.items()}
        old, self.previous = self.previous, self.freeze("previous")
        self.release(old)
        return result

    # --- checkpoints --------------------------------------------------------------------------------
    def save_checkpoint(self, folder: Path, magnet: PolicyRef) -> None:
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
        state = read_json_file(folder / STATE_FILE, keys=("steps", "optimizer", "stored", "numpy_generator"),
                               remedy=f"delete {folder} to resume from the previous checkpoint, or {FRESH_START}")
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
        kwargs: dict[str, Any] = {"model": self.config.model.name, "temperature": 1.0,
                                  "max_new_tokens": self.config.generation.max_new_tokens}
        if self.policy.adapter is not None:
            kwargs["adapter"] = str(folder.resolve())
        else:
            kwargs["model"] = str(folder.resolve())
        if self.config.system_prompt is not None:
            kwargs["system_prompt"] = self.config.system_prompt
        return {"type": "llm", "kwargs": kwargs}


def private_copy(handle):
    """A copy of the model that nothing else shares. The shared model may carry other runs' LoRA adapters
    (peft changes it in place), so its weights are read again from its folder when it has one."""
    if handle.is_peft:
        if handle.folder is None:
            raise ValueError("full fine-tuning needs a model loaded from a folder (this one carries LoRA adapters)")
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(handle.folder, dtype=handle.dtype, local_files_only=True)
    else:
        model = copy.deepcopy(handle.model)
    return wrap_model(model, handle.tokenizer, handle.identity, device=handle.device, folder=handle.folder)


def _save_weights(ref: PolicyRef, folder: Path) -> None:
    if ref.adapter is not None:
        lora.save_adapter(ref.handle, ref.adapter, folder)
        return
    seen: set[int] = set()
    state = {}
    for name, tensor in ref.handle.model.state_dict().items():
        if tensor.data_ptr() in seen:  # tied weights (input and output embeddings) are stored once
            continue
        seen.add(tensor.data_ptr())
        state[name] = tensor
    save_tensors(folder / FULL_WEIGHTS_FILE, state)


def _load_weights(ref: PolicyRef, folder: Path) -> None:
    if ref.adapter is not None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(ref.handle.model, load_tensors(folder / lora.WEIGHTS_FILE), adapter_name=ref.adapter)
        return
    ref.handle.model.load_state_dict(load_tensors(folder / FULL_WEIGHTS_FILE), strict=False)


__all__ = ["LanguagePolicy", "episode_prompts", "language_game", "private_copy", "regularizer_weights"]
