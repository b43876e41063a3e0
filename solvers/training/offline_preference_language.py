"""DPO, IPO and EXO on a language model: the sampled pairwise losses of the tabular study
(:mod:`aligngames.solvers.training.offline_preference`) training a LoRA policy on preference pairs.

For a pair ``(x, y_w, y_l)`` (prompt, chosen, rejected) the log-ratios are summed over the completion tokens::

    h(y) = log pi_theta(y | x) - log pi_ref(y | x),    d = h(y_w) - h(y_l),

``pi_ref`` the initial policy (the base model: the LoRA adapter starts at the identity), ``sigma`` the logistic
function, and one pair's loss (:func:`pair_loss`) is

- ``dpo`` (Rafailov et al. 2023, Eq. 7): ``-log sigma(beta d)``;
- ``ipo`` (Azar et al. 2023, the sampled IPO loss, their ``tau`` = ``beta``): ``(d - 1 / (2 beta))^2``, with
  ``h`` *summed* over tokens as in the paper's definition (TRL averages over tokens instead; see the docs);
- ``exo`` (Ji et al. 2024, EXO-pref, K = 2): ``KL((sigma(beta d), sigma(-beta d)) || (1 - eps, eps))``, the
  reverse KL from the model's pair distribution to the label smoothed by ``epsilon``.

The tabular module's expected losses are these averaged over pairs ``(y1, y2) ~ pi_ref x pi_ref`` with
Bradley-Terry labels (``tests/solvers/training/test_offline_preference_language.py`` checks that they agree on a
categorical policy). Pairs come from one of two sources:

- offline (:class:`FilePairs`): a user's JSON-lines file (:func:`read_pairs`), one
  ``{"prompt", "chosen", "rejected"}`` object per line, visited in a seeded order, each pass a new permutation;
- online (:class:`JudgedPairs`, as in Guo et al. 2024, "Direct Language Model Alignment from Online AI
  Feedback"): per prompt of ``preference_game_v0``'s language mode, two answers sampled from the current policy
  at temperature 1, labelled by the game's judge: ``y1`` is chosen with probability
  ``P(y1 > y2)`` (both seat orders averaged), the Bradley-Terry data the tabular losses assume.

Each training step (:meth:`PairPolicy.mmd_step`, so that the loop of the language MPO path,
:func:`~aligngames.solvers.training.preference_training.loop.train_policy`, runs it with the same metrics,
checkpoints and resume): draw ``pairs_per_step`` pairs; score them under ``pi_ref`` (no gradients); then
``trainer.epochs`` optimiser steps, each on the mean pair loss over micro-batches (chosen and rejected rows in
one forward pass). The loop sees DPO as one KL-regularised game whose magnet is ``pi_ref`` and whose KL weight
``alpha`` is ``beta``; the mirror-descent step size ``eta`` plays no part.

K-sample losses (Ji et al. 2024, EXO and DPO-RW, the tabular module's ``exo_rw`` / ``dpo_rw`` with its
parameterisation): for ``K`` answers ``y_1..y_K`` of one prompt with rewards ``r_i`` (:func:`k_sample_loss`)::

    q = softmax_i(r_i / beta_r),   m = softmax_i(beta_pi h(y_i)),   beta_r = beta / beta_pi   (beta_pi default 1)
    exo_rw = KL(m || q)   (reverse KL),        dpo_rw = KL(q || m)   (forward KL),

each step on ``pairs_per_step`` such tuples (all ``K`` rows of a tuple in one forward pass). Tuples come from

- offline (:class:`FileRankings`): a JSON-lines file (:func:`read_rankings`), one
  ``{"prompt", "completions": [K strings], "rewards": [K numbers]}`` object per line, in the seeded order above;
- online (:class:`JudgedRankings`): ``samples_per_prompt`` answers per prompt from the current policy, every
  unordered pair judged (both seat orders averaged), and per-answer rewards from the Bradley-Terry identity
  (:func:`bradley_terry_rewards`) ``r_i = (1/K) sum_{j != i} logit P(y_i > y_j)``: if
  ``P(y_i > y_j) = sigma(s_i - s_j)`` it gives ``r_i = s_i - mean(s)``, the judge's rewards up to a constant,
  which the softmax ``q`` ignores.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aligngames.agents.llm import GenerationConfig, LLMAgent, generate, load_model, lora
from aligngames.agents.llm.agent import clean_text, render_chat
from aligngames.agents.llm.generation import encode, sequence_logprobs
from aligngames.config import ConfigError, to_mapping
from aligngames.datasets import read_records
from aligngames.runs import FRESH_START, RunFolder, atomic_write_json, read_json_file
from aligngames.seeding import derive_seed, make_rng
from aligngames.solvers.training import checkpoints
from aligngames.solvers.training.checkpoints import (
    STATE_FILE,
    TENSORS_FILE,
    load_tensors,
    numpy_generator_state,
    restore_numpy_generator,
    save_tensors,
)
from aligngames.solvers.training.offline_preference import EXO_EPSILON
from aligngames.solvers.training.policy_gradient import PolicyGradientTrainer, PolicyRef, score_tokens
from aligngames.solvers.training.preference_training.config import IterationSchedule
from aligngames.solvers.training.preference_training.loop import train_policy
from aligngames.solvers.training.preference_training.policy import SEAT, episode_prompts, language_game
from aligngames.solvers.training.preference_training.rewards import symmetric_preferences, win_rate
from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

PAIR_LOSSES = ("dpo", "ipo", "exo")
K_SAMPLE_LOSSES = ("dpo_rw", "exo_rw")
LANGUAGE_LOSSES = PAIR_LOSSES + K_SAMPLE_LOSSES
PAIR_FIELDS = ("prompt", "chosen", "rejected")
RANKING_FIELDS = ("prompt", "completions", "rewards")
#: Judge probabilities are clipped to [PREFERENCE_CLIP, 1 - PREFERENCE_CLIP] before their logit is taken.
PREFERENCE_CLIP = 1e-6


# --- the losses (pure functions) ---------------------------------------------------------------------

def pair_loss(name: str, chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor, beta: float, *,
              epsilon: float = EXO_EPSILON) -> torch.Tensor:
    """Per-pair loss ``(batch,)`` from the sequence log-ratios ``h(y_w)``, ``h(y_l)`` (each ``(batch,)``), with
    ``d = h(y_w) - h(y_l)``::

        dpo:  -log sigma(beta d)
        ipo:  (d - 1 / (2 beta))^2
        exo:  s (log s - log(1 - eps)) + (1 - s) (log(1 - s) - log eps),   s = sigma(beta d)
    """
    d = chosen_logratios - rejected_logratios
    if name == "dpo":
        return -torch.nn.functional.logsigmoid(beta * d)
    if name == "ipo":
        return (d - 1.0 / (2.0 * beta)) ** 2
    if name == "exo":
        log_s, log_not_s = torch.nn.functional.logsigmoid(beta * d), torch.nn.functional.logsigmoid(-beta * d)
        return log_s.exp() * (log_s - math.log1p(-epsilon)) + log_not_s.exp() * (log_not_s - math.log(epsilon))
    raise ValueError(f"unknown pair loss {name!r}; valid losses: {', '.join(PAIR_LOSSES)}")


def k_sample_loss(name: str, logratios: torch.Tensor, rewards: torch.Tensor, beta: float, *,
                  beta_pi: float = 1.0) -> torch.Tensor:
    """Per-tuple loss ``(tuples,)`` from the sequence log-ratios ``h(y_i)`` and rewards ``r_i`` (each
    ``(tuples, K)``), as the tabular module's ``_k_sample`` with ``beta_r = beta / beta_pi``::

        q = softmax(r / beta_r),  m = softmax(beta_pi h)
        dpo_rw:  KL(q || m) = sum_i q_i (log q_i - log m_i)
        exo_rw:  KL(m || q) = sum_i m_i (log m_i - log q_i)
    """
    beta_r = beta / beta_pi
    log_m = torch.log_softmax(beta_pi * logratios, dim=-1)   # (tuples, K)
    log_q = torch.log_softmax(rewards / beta_r, dim=-1)
    if name == "dpo_rw":
        return (log_q.exp() * (log_q - log_m)).sum(-1)
    if name == "exo_rw":
        return (log_m.exp() * (log_m - log_q)).sum(-1)
    raise ValueError(f"unknown K-sample loss {name!r}; valid losses: {', '.join(K_SAMPLE_LOSSES)}")


def bradley_terry_rewards(preferences: np.ndarray) -> np.ndarray:
    """Per-answer rewards ``(..., K)`` from pairwise preferences ``(..., K, K)``, ``preferences[..., i, j] =
    P(y_i > y_j)`` (the diagonal is ignored)::

        r_i = (1/K) sum_{j != i} logit(clip(P(y_i > y_j), 1e-6, 1 - 1e-6)).

    Under a Bradley-Terry judge, ``P(y_i > y_j) = sigma(s_i - s_j)``, this is ``s_i - mean_j s_j``: the
    rewards up to a constant (exactly while ``|s_i - s_j| < logit(1 - 1e-6)``), which ``softmax(r / beta_r)``
    ignores.
    """
    p = np.clip(np.asarray(preferences, dtype=float), PREFERENCE_CLIP, 1.0 - PREFERENCE_CLIP)
    logits = np.log(p) - np.log1p(-p)
    size = p.shape[-1]
    logits = np.where(np.eye(size, dtype=bool), 0.0, logits)
    return logits.sum(-1) / size


def judged_rewards(judge, judge_prompts: Sequence[str], answers: Sequence[str], size: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The rewards ``(prompts, size)`` of ``size`` answers per prompt (``answers[t * size + i]`` answers prompt
    ``t``): every unordered pair judged in both seat orders (:func:`symmetric_preferences`), then
    :func:`bradley_terry_rewards`. Also returns the judged ``P(y_i > y_j)`` of the pairs ``i < j``, flat."""
    count = len(judge_prompts)
    pairs = [(t, i, j) for t in range(count) for i in range(size) for j in range(i + 1, size)]
    judged = symmetric_preferences(judge, [judge_prompts[t] for t, _, _ in pairs],
                                   [answers[t * size + i] for t, i, _ in pairs],
                                   [answers[t * size + j] for t, _, j in pairs])
    matrix = np.full((count, size, size), 0.5)  # (prompts, K, K): P(y_i > y_j)
    for (t, i, j), p in zip(pairs, judged):
        matrix[t, i, j], matrix[t, j, i] = p, 1.0 - p
    return bradley_terry_rewards(matrix), np.asarray(judged, dtype=float)


# --- the pairs file ----------------------------------------------------------------------------------

class PairsFileError(ConfigError):
    """A preference-pairs file is malformed; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class PreferencePair:
    """One labelled pair.

    Attributes:
        prompt: the user's message (the chat template is applied when training).
        chosen: the preferred completion.
        rejected: the other completion.
    """

    prompt: str
    chosen: str
    rejected: str


def _pair(record: Any, where: str) -> PreferencePair:
    if not isinstance(record, Mapping):
        raise PairsFileError(f"{where}: expected a JSON object with {list(PAIR_FIELDS)}, got {type(record).__name__}")
    values = {}
    for key in PAIR_FIELDS:
        if key not in record or record[key] is None:
            raise PairsFileError(f"{where}: missing field {key!r} (the object has {sorted(record)})")
        if not isinstance(record[key], str):
            raise PairsFileError(f"{where}: field {key!r} must be a string, got {type(record[key]).__name__}")
        if not record[key].strip():
            raise PairsFileError(f"{where}: field {key!r} is an empty string")
        values[key] = record[key]
    return PreferencePair(**values)


def read_pairs(path: str | Path) -> tuple[PreferencePair, ...]:
    """The pairs of a JSON-lines file (one ``{"prompt", "chosen", "rejected"}`` object per line, blank lines
    skipped; other keys are ignored) or of a folder saved with ``datasets.Dataset.save_to_disk`` with those
    columns (read with ``pyarrow`` when it is installed).

    Raises:
        PairsFileError: (a :class:`~aligngames.config.ConfigError`) naming the file, the line and the problem:
            not JSON, not an object, a missing or non-string field, an empty string, no pairs at all.
    """
    path = Path(path)
    records = read_records(path, error=PairsFileError, export_as="pairs.jsonl",
                           missing=f"{path}: pairs file not found (give a .jsonl file of prompt / chosen / rejected "
                                   "objects)")
    pairs = tuple(_pair(record, where) for where, record in records)
    if not pairs:
        raise PairsFileError(f"{path}: no preference pairs (one JSON object per line with {list(PAIR_FIELDS)})")
    return pairs


class RankingsFileError(ConfigError):
    """A rankings file (K completions with rewards per prompt) is malformed; the message names the file, the line
    and the problem."""


@dataclass(frozen=True)
class RankedCompletions:
    """One prompt's ``K >= 2`` completions with their rewards.

    Attributes:
        prompt: the user's message (the chat template is applied when training).
        completions: the K completions.
        rewards: their rewards (finite; only differences matter: the target is ``softmax(r / beta_r)``).
    """

    prompt: str
    completions: tuple[str, ...]
    rewards: tuple[float, ...]


def _ranked(record: Any, where: str) -> RankedCompletions:
    if not isinstance(record, Mapping):
        raise RankingsFileError(f"{where}: expected a JSON object with {list(RANKING_FIELDS)}, "
                                f"got {type(record).__name__}")
    for key in RANKING_FIELDS:
        if key not in record or record[key] is None:
            raise RankingsFileError(f"{where}: missing field {key!r} (the object has {sorted(record)})")
    prompt, completions, rewards = (record[key] for key in RANKING_FIELDS)
    if not isinstance(prompt, str) or not prompt.strip():
        raise RankingsFileError(f"{where}: field 'prompt' must be a non-empty string")
    for key, values in (("completions", completions), ("rewards", rewards)):
        if not isinstance(values, list):
            raise RankingsFileError(f"{where}: field {key!r} must be a list, got {type(values).__name__}")
    if len(completions) < 2:
        raise RankingsFileError(f"{where}: field 'completions' needs K >= 2 completions, got {len(completions)}")
    if len(rewards) != len(completions):
        raise RankingsFileError(f"{where}: {len(completions)} completions but {len(rewards)} rewards (one each)")
    for index, text in enumerate(completions):
        if not isinstance(text, str) or not text.strip():
            raise RankingsFileError(f"{where}: completions[{index}] must be a non-empty string, got {text!r}")
    for index, value in enumerate(rewards):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RankingsFileError(f"{where}: rewards[{index}] must be a finite number, got {value!r}")
    return RankedCompletions(prompt, tuple(completions), tuple(float(value) for value in rewards))


def read_rankings(path: str | Path) -> tuple[RankedCompletions, ...]:
    """The K-answer records of a JSON-lines file, one ``{"prompt", "completions": [K strings], "rewards": [K
    numbers]}`` object per line (blank lines skipped, other keys ignored, the same ``K >= 2`` on every line), or
    of a saved ``datasets`` folder with those columns.

    Raises:
        RankingsFileError: (a :class:`~aligngames.config.ConfigError`) naming the file, the line and the problem:
            not JSON, not an object, a missing field, fewer than 2 completions, a reward count that differs,
            an empty completion, a reward that is not a finite number, a K that differs from the first line's,
            no records at all.
    """
    path = Path(path)
    records = read_records(path, error=RankingsFileError, export_as="rankings.jsonl",
                           missing=f"{path}: rankings file not found (give a .jsonl file of prompt / completions / "
                                   "rewards objects)")
    rankings = tuple(_ranked(record, where) for where, record in records)
    if not rankings:
        raise RankingsFileError(f"{path}: no rankings (one JSON object per line with {list(RANKING_FIELDS)})")
    size = len(rankings[0].completions)
    for (where, _), ranked in zip(records, rankings):
        if len(ranked.completions) != size:
            raise RankingsFileError(f"{where}: {len(ranked.completions)} completions, but the first line has {size} "
                                    "(every line needs the same K)")
    return rankings


def file_sha256(path: str | Path) -> str:
    """The digest of a pairs file (or of every file of a saved dataset folder, by name)."""
    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if file.is_file():
            digest.update(file.name.encode("utf-8") + b"\0" + file.read_bytes())
    return digest.hexdigest()


# --- settings ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LanguagePairConfig:
    """Settings of DPO / IPO / EXO on a language model.

    Attributes:
        loss: dpo, ipo or exo (EXO-pref, the label smoothed by epsilon) on pairs; dpo_rw or exo_rw (the K-sample
            losses) on K answers with rewards per prompt.
        beta: the KL weight toward the reference policy (IPO: its tau; K-sample: beta_r = beta / beta_pi).
        epsilon: exo's label smoothing (the authors' exp(-10)).
        beta_pi: dpo_rw / exo_rw only: the model softmax's weight on the log-ratios (the tabular default 1).
        samples_per_prompt: dpo_rw / exo_rw online only: answers sampled per prompt (K >= 2).
        steps: training steps; each takes pairs_per_step pairs and trainer.epochs optimiser steps.
        pairs_per_step: preference pairs per step (online: prompts, two answers each); dpo_rw / exo_rw: tuples
            (prompts with their K answers).
        eval_pairs: offline: the first eval_pairs pairs (or tuples) of the file whose margin and accuracy are
            reported at each evaluation point (tuples: the highest- minus the lowest-reward answer's log-ratio);
            online: evaluation prompts, win rate against the reference by the judge.
        evaluate_every: steps between evaluation points (and after the last step).
        system_prompt: a system prompt before each prompt (None: none offline; online the LLM agent's).
        seed: the run seed (LoRA start, order of the pairs, sampling, labels).
        keep_checkpoints: checkpoint folders kept (the newest ones).
        model: the base model (also the reference policy).
        lora: the policy's LoRA adapter (rank >= 1).
        trainer: the optimiser steps of each training step.
        generation: online only: how the two answers are sampled.
    """

    loss: str = "dpo"
    beta: float = 0.1
    epsilon: float = EXO_EPSILON
    beta_pi: float = 1.0
    samples_per_prompt: int = 4
    steps: int = 20
    pairs_per_step: int = 8
    eval_pairs: int = 16
    evaluate_every: int = 5
    system_prompt: str | None = None
    seed: int = 0
    keep_checkpoints: int = 2
    model: ModelSettings = field(default_factory=ModelSettings)
    lora: LoRASettings = field(default_factory=LoRASettings)
    trainer: TrainerSettings = field(default_factory=lambda: TrainerSettings(learning_rate=5e-5))
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_new_tokens=32))

    def __post_init__(self) -> None:
        if self.loss not in LANGUAGE_LOSSES:
            raise ValueError(f"loss must be one of {list(LANGUAGE_LOSSES)} in language mode, got {self.loss!r}")
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if not 0 < self.epsilon < 0.5:
            raise ValueError(f"epsilon must be in (0, 0.5), got {self.epsilon}")
        if not (math.isfinite(self.beta_pi) and self.beta_pi > 0):
            raise ValueError(f"beta_pi must be a finite number > 0, got {self.beta_pi}")
        if self.samples_per_prompt < 2:
            raise ValueError(f"samples_per_prompt must be >= 2 (K answers per prompt), got {self.samples_per_prompt}")
        if self.steps < 1 or self.pairs_per_step < 1 or self.evaluate_every < 1:
            raise ValueError("need steps >= 1, pairs_per_step >= 1 and evaluate_every >= 1")
        if self.eval_pairs < 0:
            raise ValueError(f"eval_pairs must be >= 0, got {self.eval_pairs}")
        if self.lora.rank < 1:
            raise ValueError("language-mode DPO / IPO / EXO trains a LoRA adapter: lora.rank must be >= 1 "
                             "(its reference is the base model)")
        if self.generation.backend != "transformers":
            raise ValueError("online pairs are sampled with generation.backend transformers")
        if self.keep_checkpoints < 1:
            raise ValueError("keep_checkpoints must be >= 1")

    @property
    def total_updates(self) -> int:
        return self.steps * self.trainer.epochs


def iteration_schedule(config: LanguagePairConfig) -> IterationSchedule:
    """One regularised game of ``steps`` steps whose magnet is ``pi_ref``, with ``alpha = beta`` (``eta`` unused)."""
    return IterationSchedule(config.beta, 1.0, config.steps, 1, config.evaluate_every)


# --- pair sources ------------------------------------------------------------------------------------

@dataclass
class PairBatch:
    """Pairs ready to score: full prompt strings and the token ids of the chosen and rejected completions."""

    prompts: list[str]
    chosen: list[list[int]]
    rejected: list[list[int]]


@dataclass
class TupleBatch:
    """K-answer tuples ready to score: full prompt strings, the token ids of each tuple's K completions and their
    rewards ``(tuples, K)``."""

    prompts: list[str]
    completions: list[list[list[int]]]
    rewards: np.ndarray

    def rows(self, start: int, stop: int) -> tuple[list[str], list[list[int]]]:
        """Tuples ``start..stop - 1`` as rows, tuple-major (the K rows of tuple ``t`` are ``t * K .. t * K + K - 1``)."""
        size = self.rewards.shape[1]
        return ([p for p in self.prompts[start:stop] for _ in range(size)],
                [ids for tuple_ids in self.completions[start:stop] for ids in tuple_ids])

    def extremes(self) -> tuple[np.ndarray, np.ndarray]:
        """The positions of each tuple's highest- and lowest-reward answer (the first on ties), ``(tuples,)`` each."""
        return self.rewards.argmax(1), self.rewards.argmin(1)


def seeded_order(size: int, seed: int, step: int, count: int) -> list[int]:
    """Positions ``step * count .. step * count + count - 1`` of the passes over ``size`` records laid end to end,
    pass ``k`` the permutation drawn from ``(seed, "pairs", k)``."""
    chosen, orders = [], {}
    for position in range(step * count, (step + 1) * count):
        epoch, offset = divmod(position, size)
        if epoch not in orders:
            orders[epoch] = make_rng(seed, "pairs", epoch).permutation(size)
        chosen.append(int(orders[epoch][offset]))
    return chosen


class FilePairs:
    """Offline pairs from a file, visited in a seeded order: pass ``k`` over the file is the permutation drawn
    from ``(seed, "pairs", k)``, so step ``t`` takes positions ``t * B .. t * B + B - 1`` of the passes laid end
    to end (nothing to checkpoint)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.pairs = read_pairs(self.path)
        self.sha256 = file_sha256(self.path)

    def describe(self) -> dict[str, Any]:
        return {"pairs": str(self.path.resolve()), "pairs_sha256": self.sha256, "num_pairs": len(self.pairs)}

    def indices(self, seed: int, step: int, count: int) -> list[int]:
        return seeded_order(len(self.pairs), seed, step, count)

    def batch(self, policy: PairPolicy, pairs: Sequence[PreferencePair]) -> PairBatch:
        tokenizer = policy.handle.tokenizer
        prompts = [policy.chat_prompt(pair.prompt) for pair in pairs]
        chosen, rejected = encode(tokenizer, [p.chosen for p in pairs]), encode(tokenizer, [p.rejected for p in pairs])
        return PairBatch(prompts, chosen, rejected)

    def draw(self, policy: PairPolicy, step: int) -> tuple[PairBatch, dict[str, float]]:
        indices = self.indices(policy.config.seed, step, policy.config.pairs_per_step)
        return self.batch(policy, [self.pairs[i] for i in indices]), {}

    def evaluate(self, policy: PairPolicy) -> dict[str, Any]:
        count = min(policy.config.eval_pairs, len(self.pairs))
        if count == 0:
            return {}
        margins = policy.margins(self.batch(policy, self.pairs[:count]))
        return {"eval_margin": float(margins.mean()), "eval_accuracy": float((margins > 0).mean())}


class JudgedPairs:
    """Online pairs: prompts of a language-mode preference game, two answers from the current policy, the label
    drawn from the game's judge (``P(y1 > y2)``, both seat orders averaged)."""

    def __init__(self, env_name: str, env_kwargs: Mapping[str, Any]) -> None:
        self.env_name, self.env_kwargs = env_name, dict(env_kwargs)
        self.env, self.rules = language_game(env_name, env_kwargs)
        self.judge = self.rules.judge
        self.action_space = self.env.action_space(SEAT)

    def describe(self) -> dict[str, Any]:
        return {"env": self.env_name, "env_kwargs": self.env_kwargs, "judge": self.judge.identity}

    def _answers(self, policy: PairPolicy, ref: PolicyRef, prompts: Sequence[str], seeds: Sequence[int]):
        size = policy.config.generation.batch_size
        completions = []
        for start in range(0, len(prompts), size):
            generators = [torch.Generator(device=ref.handle.device).manual_seed(int(s)) for s in seeds[start:start + size]]
            completions += generate(ref.handle, list(prompts[start:start + size]), policy.sampling, generators,
                                    adapter=ref.adapter)
        return completions, [clean_text(c.text, self.action_space) for c in completions]

    def draw(self, policy: PairPolicy, step: int) -> tuple[PairBatch, dict[str, float]]:
        count = policy.config.pairs_per_step
        env_seeds = policy.rng.integers(0, 2**63 - 1, size=count)
        sample_seeds = policy.rng.integers(0, 2**63 - 1, size=2 * count)
        judge_prompts, model_prompts = episode_prompts(self.env, self.rules, policy.agent, env_seeds)
        rows = [p for p in model_prompts for _ in range(2)]  # answers 2i and 2i + 1 answer prompt i
        completions, answers = self._answers(policy, policy.policy, rows, sample_seeds.tolist())
        preferences = symmetric_preferences(self.judge, judge_prompts, answers[0::2], answers[1::2])
        first_wins = policy.rng.random(count) < preferences  # the Bradley-Terry label
        chosen = [completions[2 * i + (0 if first_wins[i] else 1)].token_ids for i in range(count)]
        rejected = [completions[2 * i + (1 if first_wins[i] else 0)].token_ids for i in range(count)]
        return PairBatch(list(model_prompts), chosen, rejected), {
            "judge_preference": float(np.mean(np.maximum(preferences, 1.0 - preferences))),
            "answer_tokens": float(np.mean([len(c.token_ids) for c in completions]))}

    def evaluate(self, policy: PairPolicy) -> dict[str, Any]:
        count = policy.config.eval_pairs
        if count == 0:
            return {}
        seeds = [derive_seed(policy.config.seed, "eval-episode", e) for e in range(count)]
        judge_prompts, model_prompts = episode_prompts(self.env, self.rules, policy.agent, seeds)
        sample_seeds = [derive_seed(policy.config.seed, "eval-sample", e) for e in range(count)]
        mine = self._answers(policy, policy.policy, model_prompts, sample_seeds)[1]
        theirs = self._answers(policy, policy.reference, model_prompts, sample_seeds)[1]
        return {"vs_reference": win_rate(self.judge, judge_prompts, mine, theirs)}


class FileRankings:
    """Offline K-answer tuples with rewards from a file (:func:`read_rankings`), visited in the seeded order of
    :class:`FilePairs` (nothing to checkpoint)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rankings = read_rankings(self.path)
        self.sha256 = file_sha256(self.path)

    def describe(self) -> dict[str, Any]:
        return {"rankings": str(self.path.resolve()), "rankings_sha256": self.sha256,
                "num_rankings": len(self.rankings), "samples_per_ranking": len(self.rankings[0].completions)}

    def indices(self, seed: int, step: int, count: int) -> list[int]:
        return seeded_order(len(self.rankings), seed, step, count)

    def batch(self, policy: PairPolicy, rankings: Sequence[RankedCompletions]) -> TupleBatch:
        tokenizer = policy.handle.tokenizer
        return TupleBatch([policy.chat_prompt(r.prompt) for r in rankings],
                          [encode(tokenizer, list(r.completions)) for r in rankings],
                          np.array([r.rewards for r in rankings], dtype=float))

    def draw(self, policy: PairPolicy, step: int) -> tuple[TupleBatch, dict[str, float]]:
        indices = self.indices(policy.config.seed, step, policy.config.pairs_per_step)
        return self.batch(policy, [self.rankings[i] for i in indices]), {}

    def evaluate(self, policy: PairPolicy) -> dict[str, Any]:
        count = min(policy.config.eval_pairs, len(self.rankings))
        if count == 0:
            return {}
        batch = self.batch(policy, self.rankings[:count])
        logratios = policy.tuple_logratios(batch)  # (tuples, K)
        best, worst = batch.extremes()
        rows = np.arange(count)
        margins = logratios[rows, best] - logratios[rows, worst]
        return {"eval_margin": float(margins.mean()), "eval_accuracy": float((margins > 0).mean())}


class JudgedRankings(JudgedPairs):
    """Online K-answer tuples: ``samples_per_prompt`` answers per prompt of a language-mode preference game from
    the current policy, every unordered pair judged, rewards by :func:`bradley_terry_rewards` (evaluation as
    :class:`JudgedPairs`: the judged win rate against the reference)."""

    def draw(self, policy: PairPolicy, step: int) -> tuple[TupleBatch, dict[str, float]]:
        count, size = policy.config.pairs_per_step, policy.config.samples_per_prompt
        env_seeds = policy.rng.integers(0, 2**63 - 1, size=count)
        sample_seeds = policy.rng.integers(0, 2**63 - 1, size=size * count)
        judge_prompts, model_prompts = episode_prompts(self.env, self.rules, policy.agent, env_seeds)
        rows = [p for p in model_prompts for _ in range(size)]  # answers t * K .. t * K + K - 1 answer prompt t
        completions, answers = self._answers(policy, policy.policy, rows, sample_seeds.tolist())
        rewards, judged = judged_rewards(self.judge, judge_prompts, answers, size)
        ids = [[completions[t * size + i].token_ids for i in range(size)] for t in range(count)]
        return TupleBatch(list(model_prompts), ids, rewards), {
            "judge_preference": float(np.mean(np.maximum(judged, 1.0 - judged))),
            "answer_tokens": float(np.mean([len(c.token_ids) for c in completions]))}


PairSource = FilePairs | JudgedPairs | FileRankings | JudgedRankings


def check_source(config: LanguagePairConfig, source: PairSource) -> None:
    """Refuse a loss whose data the source does not give: dpo_rw / exo_rw need K answers with rewards per prompt
    (a rankings file or :class:`JudgedRankings`); dpo / ipo / exo need pairs."""
    tuples = isinstance(source, FileRankings | JudgedRankings)
    if config.loss in K_SAMPLE_LOSSES and not tuples:
        raise ConfigError(f"loss {config.loss} needs K answers with rewards per prompt: give --rankings FILE "
                          "(prompt / completions / rewards per line) or --env for online sampling; a pairs file "
                          "has a label, not rewards")
    if config.loss in PAIR_LOSSES and tuples:
        raise ConfigError(f"loss {config.loss} trains on preference pairs (--pairs FILE, or --env); a rankings file "
                          f"takes --loss {' or '.join(K_SAMPLE_LOSSES)}")


# --- the policy --------------------------------------------------------------------------------------

class PairPolicy:
    """A LoRA policy trained by a pairwise loss, in the shape :func:`train_policy` drives (``snapshot``,
    ``mmd_step``, ``evaluate``, checkpoints).

    Args:
        config: the settings.
        source: where each step's pairs come from (:class:`FilePairs` or :class:`JudgedPairs`).
    """

    def __init__(self, config: LanguagePairConfig, source: PairSource) -> None:
        check_source(config, source)
        self.config = config
        self.source = source
        self.handle = load_model(config.model.name, device=config.model.device, dtype=config.model.dtype)
        name = lora.add_adapter(self.handle, f"pairs{next(_INSTANCES)}", seed=derive_seed(config.seed, "lora"),
                                rank=config.lora.rank, alpha=config.lora.alpha, target_modules=config.lora.target_modules)
        self.policy = PolicyRef(self.handle, name)
        self.reference = PolicyRef(self.handle, None)  # the base model = the identity-initialised adapter's start
        self.trainer = PolicyGradientTrainer(self.policy, config.trainer, total_updates=config.total_updates)
        self.sampling = GenerationConfig(max_new_tokens=config.generation.max_new_tokens, temperature=1.0)
        self.agent = LLMAgent(self.handle, system_prompt=config.system_prompt, generation=self.sampling)
        self.rng = make_rng(config.seed, "pair-training")
        self.steps = 0

    def chat_prompt(self, prompt: str) -> str:
        """A pairs-file prompt as the model reads it: the chat template around it (and the system prompt)."""
        system = self.config.system_prompt
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return render_chat(self.handle.tokenizer, messages)

    def snapshot(self) -> PolicyRef:
        """The game's magnet is the fixed reference."""
        return self.reference

    def logprobs(self, batch: PairBatch, ref: PolicyRef | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``log pi(y | x)`` of the chosen and rejected completions under ``ref`` (default the policy), without
        gradients, ``(pairs,)`` each."""
        rows = score_tokens([ref or self.policy], batch.prompts * 2, batch.chosen + batch.rejected,
                            micro_batch_size=self.config.trainer.micro_batch_size)[0]
        totals = torch.stack([row.sum() for row in rows])
        return totals[:len(batch.prompts)], totals[len(batch.prompts):]

    def margins(self, batch: PairBatch) -> np.ndarray:
        """``d = h(y_w) - h(y_l)`` per pair, now."""
        chosen, rejected = self.logprobs(batch)
        reference_chosen, reference_rejected = self.logprobs(batch, self.reference)
        return ((chosen - reference_chosen) - (rejected - reference_rejected)).numpy()

    def tuple_reference(self, batch: TupleBatch, ref: PolicyRef | None = None) -> torch.Tensor:
        """``log pi(y_i | x)`` of every tuple's completions under ``ref`` (default the policy), without gradients,
        ``(tuples, K)``."""
        prompts, completions = batch.rows(0, len(batch.prompts))
        rows = score_tokens([ref or self.policy], prompts, completions,
                            micro_batch_size=self.config.trainer.micro_batch_size)[0]
        return torch.stack([row.sum() for row in rows]).reshape(batch.rewards.shape)

    def tuple_logratios(self, batch: TupleBatch) -> np.ndarray:
        """``h(y_i)`` of every tuple's completions, now, ``(tuples, K)``."""
        return (self.tuple_reference(batch) - self.tuple_reference(batch, self.reference)).numpy()

    def _pair_micro_batches(self, batch: PairBatch, magnet: PolicyRef, beta: float):
        """For each micro-batch of pairs: the per-pair losses (with gradients) and the metrics per pair."""
        config, count, size = self.config, len(batch.prompts), self.config.trainer.micro_batch_size
        reference_chosen, reference_rejected = self.logprobs(batch, magnet)

        def micro_batches():
            for start in range(0, count, size):
                stop = min(start + size, count)
                prompts = batch.prompts[start:stop]
                scored = sequence_logprobs(self.handle, prompts * 2, batch.chosen[start:stop] + batch.rejected[start:stop],
                                           adapter=self.policy.adapter).total  # (2 * micro-batch,), with gradients
                chosen = scored[:stop - start] - reference_chosen[start:stop]
                rejected = scored[stop - start:] - reference_rejected[start:stop]
                losses = pair_loss(config.loss, chosen, rejected, beta, epsilon=config.epsilon)
                margin = (chosen - rejected).detach()
                yield losses, (("margin", margin), ("accuracy", (margin > 0).float()),
                               ("chosen_logratio", chosen.detach()), ("rejected_logratio", rejected.detach()))

        keys = ("loss", "margin", "accuracy", "chosen_logratio", "rejected_logratio")
        return keys, micro_batches, sum(len(ids) for ids in batch.chosen + batch.rejected)

    def _tuple_micro_batches(self, batch: TupleBatch, magnet: PolicyRef, beta: float):
        """For each micro-batch of tuples (all K rows of a tuple in one pass; ``micro_batch_size // K`` tuples, at
        least one): the per-tuple losses (with gradients) and the metrics per tuple."""
        config, count = self.config, len(batch.prompts)
        size = batch.rewards.shape[1]
        per_pass = max(1, config.trainer.micro_batch_size // size)
        reference = self.tuple_reference(batch, magnet)  # (tuples, K)
        best, worst = (torch.as_tensor(index) for index in batch.extremes())

        def micro_batches():
            for start in range(0, count, per_pass):
                stop = min(start + per_pass, count)
                prompts, completions = batch.rows(start, stop)
                scored = sequence_logprobs(self.handle, prompts, completions, adapter=self.policy.adapter).total
                logratios = scored.reshape(stop - start, size) - reference[start:stop]  # (micro-batch, K), with gradients
                rewards = torch.as_tensor(batch.rewards[start:stop], dtype=logratios.dtype)
                losses = k_sample_loss(config.loss, logratios, rewards, beta, beta_pi=config.beta_pi)
                rows = torch.arange(stop - start)
                highest = logratios[rows, best[start:stop]].detach()
                lowest = logratios[rows, worst[start:stop]].detach()
                margin = highest - lowest
                yield losses, (("margin", margin), ("accuracy", (margin > 0).float()),
                               ("best_logratio", highest), ("worst_logratio", lowest))

        keys = ("loss", "margin", "accuracy", "best_logratio", "worst_logratio")
        return keys, micro_batches, sum(len(ids) for tuple_ids in batch.completions for ids in tuple_ids)

    def mmd_step(self, magnet: PolicyRef, *, alpha: float, eta: float) -> dict[str, float]:
        """One training step (the module docstring) with ``pi_ref = magnet`` and ``beta = alpha``; ``eta`` unused."""
        config = self.config
        started = time.perf_counter()
        batch, extra = self.source.draw(self, self.steps)
        sampled = time.perf_counter()
        count = len(batch.prompts)
        prepare = self._tuple_micro_batches if isinstance(batch, TupleBatch) else self._pair_micro_batches
        keys, micro_batches, tokens = prepare(batch, magnet, alpha)  # scores under pi_ref once (no gradients)
        trainer = self.trainer
        for _ in range(config.trainer.epochs):
            rate = trainer.begin_update()
            sums = dict.fromkeys(keys, 0.0)
            for losses, metrics in micro_batches():
                (losses.sum() / count).backward()  # gradients add up over micro-batches to the batch mean
                for key, values in (("loss", losses.detach()), *metrics):
                    sums[key] += float(values.sum()) / count
            sums["grad_norm"] = trainer.finish_update()
            sums["learning_rate"] = rate
        self.steps += 1
        finished = time.perf_counter()
        return {**sums, **extra, "tokens": float(tokens), "seconds": finished - started,
                "sampling_seconds": sampled - started}

    def evaluate(self) -> dict[str, Any]:
        return self.source.evaluate(self)

    # --- checkpoints --------------------------------------------------------------------------------
    def save_checkpoint(self, folder: Path, magnet: PolicyRef) -> None:
        lora.save_adapter(self.handle, self.policy.adapter, folder / "weights" / "policy")
        tensors, optimizer = self.trainer.state()
        save_tensors(folder / TENSORS_FILE, tensors)
        atomic_write_json(folder / STATE_FILE, {"steps": self.steps, "optimizer": optimizer,
                                                "numpy_generator": numpy_generator_state(self.rng)})

    def load_checkpoint(self, folder: Path) -> PolicyRef:
        """Restore what :meth:`save_checkpoint` wrote; return the magnet (the reference, rebuilt, not stored)."""
        from peft import set_peft_model_state_dict

        state = read_json_file(folder / STATE_FILE, keys=("steps", "optimizer", "numpy_generator"),
                               remedy=f"delete {folder} to resume from the previous checkpoint, or {FRESH_START}")
        set_peft_model_state_dict(self.handle.model, load_tensors(folder / "weights" / "policy" / lora.WEIGHTS_FILE),
                                  adapter_name=self.policy.adapter)
        self.trainer.load_state(load_tensors(folder / TENSORS_FILE), state["optimizer"])
        self.rng = restore_numpy_generator(state["numpy_generator"])
        self.steps = int(state["steps"])
        return self.reference

    def save_policy(self, folder: Path) -> Path:
        lora.save_adapter(self.handle, self.policy.adapter, folder)
        self.handle.adapters[self.policy.adapter] = str(Path(folder).resolve())  # as LanguagePolicy.save_policy
        return folder


_INSTANCES = itertools.count()  # distinct adapter names for policies that share one loaded model


# --- the run folder ----------------------------------------------------------------------------------

def plot_run(out: Path, lines: Sequence[Mapping[str, Any]], loss: str) -> None:
    """``training.png``: the loss; the mean log-ratios ``h`` of the chosen and rejected answers (K-sample losses:
    of each tuple's highest- and lowest-reward answer) and their margin ``h(y_w) - h(y_l)``; the evaluation points (accuracy on the file's first pairs, or the judged win rate against
    the reference)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [line["step"] for line in lines]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].plot(steps, [line["loss"] for line in lines])
    axes[0].set(xlabel="step", ylabel=loss, title="loss (this step's pairs)")
    curves = ((("best_logratio", "highest reward"), ("worst_logratio", "lowest reward")) if loss in K_SAMPLE_LOSSES
              else (("chosen_logratio", "chosen"), ("rejected_logratio", "rejected")))
    for key, label in (*curves, ("margin", "margin")):
        axes[1].plot(steps, [line.get(key, np.nan) for line in lines], label=label)
    axes[1].axhline(0.0, color="grey", linewidth=0.8)
    axes[1].set(xlabel="step", ylabel="log pi - log pi_ref", title="log-ratios (this step's pairs)")
    axes[1].legend()
    evaluations = [line for line in lines if "eval_accuracy" in line or "vs_reference" in line]
    if evaluations and "eval_accuracy" in evaluations[0]:
        axes[2].plot([line["step"] for line in evaluations], [line["eval_accuracy"] for line in evaluations], marker="o")
        axes[2].set(xlabel="step", ylabel="share with margin > 0", title="evaluation pairs", ylim=(-0.05, 1.05))
    elif evaluations:
        axes[2].plot([line["step"] for line in evaluations], [line["vs_reference"]["win_rate"] for line in evaluations],
                     marker="o")
        axes[2].axhline(0.5, color="grey", linewidth=0.8)
        axes[2].set(xlabel="step", ylabel="win rate", title="judged win rate vs the reference")
    else:
        axes[2].set_axis_off()
    figure.tight_layout()
    figure.savefig(out / "training.png", dpi=110)
    plt.close(figure)


def run(config: LanguagePairConfig, source: PairSource, out: str | Path, *, stop_after: int | None = None,
        progress: bool = False) -> dict[str, Any]:
    """Train in the run folder ``out`` (resuming what is there); return the summary (``summary.json`` once
    finished). The folder is laid out as the language MPO path's
    (:mod:`aligngames.solvers.training.preference_training.run_folder`): ``config.yaml``, ``manifest.json``,
    ``metrics.jsonl``, ``checkpoints/``, ``adapters/policy``, ``summary.json``. The pairs file's sha256 is part
    of the config, so a run does not resume on a changed file."""
    out = Path(out)
    check_source(config, source)  # before the run folder or the model
    resolved = {"solver": "offline_preference", "mode": "language", "source": source.describe(),
                "settings": to_mapping(config)}
    started = time.perf_counter()
    with RunFolder.open(out, command="solve offline_preference", config=resolved, seed=config.seed) as run_folder:
        checkpoints.latest_checkpoint(out / "checkpoints")  # a damaged checkpoint is named before the model loads
        policy = PairPolicy(config, source)
        run_folder.update_manifest(solver=f"offline_preference ({config.loss})", model=policy.handle.describe(),
                                   trainable_parameters=policy.trainer.num_trainable)
        lines = train_policy(policy, iteration_schedule(config), out, stop_after=stop_after,
                             keep_checkpoints=config.keep_checkpoints, progress=progress)
        finished = bool(lines) and lines[-1]["step"] == config.steps
        summary: dict[str, Any] = {"loss": config.loss, "steps": lines[-1]["step"] if lines else 0,
                                   "finished": finished, "seconds_this_call": time.perf_counter() - started}
        evaluations = [line for line in lines if any(key.startswith(("eval_", "vs_")) for key in line)]
        if evaluations:
            summary["final"] = {key: value for key, value in evaluations[-1].items()
                                if key == "step" or key.startswith(("eval_", "vs_"))}
        if lines:
            plot_run(out, lines, config.loss)
        if finished:
            folder = policy.save_policy(out / "adapters" / "policy")
            summary["agent"] = {"type": "llm", "kwargs": {"model": config.model.name, "adapter": str(folder.resolve())}}
            atomic_write_json(out / "summary.json", summary)
    return summary


__all__ = ["K_SAMPLE_LOSSES", "LANGUAGE_LOSSES", "PAIR_LOSSES", "FilePairs", "FileRankings", "JudgedPairs",
           "JudgedRankings", "LanguagePairConfig", "PairBatch", "PairPolicy", "PairsFileError", "PreferencePair",
           "RankedCompletions", "RankingsFileError", "TupleBatch", "bradley_terry_rewards", "check_source",
           "file_sha256", "iteration_schedule", "judged_rewards", "k_sample_loss", "pair_loss", "plot_run",
           "read_pairs", "read_rankings", "run", "seeded_order"]
