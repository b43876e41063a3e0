"""Policy-gradient training of language-model policies: the loss, advantages, step sizes, the trainer.

Papers: Williams (1992), REINFORCE; Shao et al. (2024), "DeepSeekMath" (GRPO: advantages relative to
the other samples of the same prompt); Sokota et al. (2023), magnetic mirror descent (the objective
below); Wang, Ma, et al. (2024), MPO (the same objective with a moving magnet); Munos et al. (2023),
Nash-MD (the same objective with other weights, see :mod:`aligngames.solvers.training.preference_training`).

One update maximises, over the policy ``pi``, on answers ``y`` sampled from ``pi_old`` (the policy when
they were sampled)::

    J(pi) = E_y[A(y)] - alpha KL(pi || magnet) - beta KL(pi || reference) - (1/eta) KL(pi || pi_old)

token by token, with importance ratios ``r_t = pi(y_t | x, y_<t) / pi_old(y_t | x, y_<t)``:

1. advantages ``A``: a sequence's reward minus the mean reward of its group (the samples of the same
   prompt; one group of the whole batch is REINFORCE with a batch-mean baseline), optionally divided by
   the group's standard deviation (:func:`group_advantages`);
2. reward term per sequence ``sum_t r_t A``: at ``pi = pi_old`` its gradient is ``A grad log pi(y)``,
   REINFORCE; on later passes over the same samples the ratios correct for the policy having moved;
3. KL term per visited state, ``k_t(q) = r_t (log pi_t - log q_t) - (r_t - 1)``: an unbiased estimate of
   ``KL(pi(.|s_t) || q(.|s_t))`` (since ``E_{pi_old}[r] = 1``) whose gradient has no zero-mean noise term
   (:func:`kl_estimate`); summed over the sequence's tokens; for ``q = pi_old`` it is ``r log r - r + 1 >= 0``;
4. loss = minus the weighted mean over sequences of ``sum_t mask_t (r_t A - alpha k_t(magnet) -
   beta k_t(reference) - (1/eta) k_t(pi_old))`` (:func:`policy_gradient_loss`, a pure function);
5. the trainer (:class:`PolicyGradientTrainer`) makes ``epochs`` passes over the samples, each one
   optimiser step: micro-batches with gradient accumulation, gradients averaged across data-parallel
   processes (``torchrun``, :mod:`torch.distributed`), clipped, then AdamW with the learning rate of
   :func:`learning_rate` (warm-up, then constant, linear or cosine decay).

With one pass, the ``1/eta`` term has zero gradient (the policy is still ``pi_old``); from the second
pass on it holds the policy near ``pi_old``, the proximal step of mirror descent. For a categorical
"one-token" policy and exact expectations the minimiser of this loss is the closed-form magnetic
mirror step (:func:`aligngames.solvers.equilibrium.simplex.mirror_step`); ``tests/solvers/training/test_policy_gradient.py`` checks it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from aligngames.agents.llm import lora
from aligngames.agents.llm.generation import sequence_logprobs
from aligngames.agents.llm.models import LoadedModel
from aligngames.solvers.training.checkpoints import load_optimizer_state, optimizer_state
from aligngames.solvers.training.settings import SCHEDULES, TrainerSettings

log = logging.getLogger(__name__)


# --- the math (pure functions) -----------------------------------------------------------------------

def group_advantages(rewards: torch.Tensor, group_size: int, *, scale: bool = False, epsilon: float = 1e-6
                     ) -> torch.Tensor:
    """``A_i = r_i - mean(group of i)`` (divided by the group's standard deviation with ``scale``).

    ``rewards`` has shape ``(batch,)``; consecutive blocks of ``group_size`` are the groups (the samples
    of one prompt). ``group_size = batch`` is REINFORCE with the batch-mean baseline.
    """
    if rewards.ndim != 1 or group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"need a 1-D batch of rewards divisible into groups of {group_size}, got shape {tuple(rewards.shape)}")
    groups = rewards.reshape(-1, group_size)  # (groups, group_size)
    advantages = groups - groups.mean(dim=1, keepdim=True)
    if scale:
        if group_size < 2:
            raise ValueError("scaling advantages by the group's standard deviation needs groups of 2 or more")
        advantages = advantages / (groups.std(dim=1, keepdim=True) + epsilon)
    return advantages.reshape(-1)


def kl_estimate(logprobs: torch.Tensor, sample_logprobs: torch.Tensor, target_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token estimate of ``KL(pi || q)`` at the visited states, from tokens sampled by ``pi_old``.

    ``k = r (log pi - log q) - (r - 1)`` with ``r = pi / pi_old``; every argument has shape ``(batch, time)``
    (log-probabilities of the sampled tokens under ``pi`` (with gradients), ``pi_old`` and ``q``).
    """
    ratio = torch.exp(logprobs - sample_logprobs)
    return ratio * (logprobs - target_logprobs) - (ratio - 1.0)


@dataclass(frozen=True)
class RegularizerWeights:
    """The KL weights of the objective in the module docstring.

    Attributes:
        magnet: ``alpha``, toward the magnet.
        reference: ``beta``, toward a fixed reference policy.
        proximal: ``1/eta``, toward ``pi_old`` (the policy that sampled the batch).
    """

    magnet: float = 0.0
    reference: float = 0.0
    proximal: float = 0.0

    def __post_init__(self) -> None:
        if min(self.magnet, self.reference, self.proximal) < 0:
            raise ValueError(f"KL weights must be >= 0, got {self}")


@dataclass
class LossTerms:
    """The loss and its parts; each part is the weighted mean over sequences of a per-sequence sum over tokens.

    Attributes:
        loss: the scalar to minimise.
        reward: ``sum_t r_t A`` (the surrogate of the expected advantage).
        kl_magnet, kl_reference, kl_proximal: the KL estimates (``None`` where a term is off).
    """

    loss: torch.Tensor
    reward: torch.Tensor
    kl_magnet: torch.Tensor | None
    kl_reference: torch.Tensor | None
    kl_proximal: torch.Tensor


def policy_gradient_loss(logprobs: torch.Tensor, sample_logprobs: torch.Tensor, advantages: torch.Tensor,
                         mask: torch.Tensor, *, weights: RegularizerWeights,
                         magnet_logprobs: torch.Tensor | None = None, reference_logprobs: torch.Tensor | None = None,
                         sequence_weights: torch.Tensor | None = None) -> LossTerms:
    """Steps 2-4 of the module docstring.

    Args:
        logprobs: ``log pi`` of each sampled token, ``(batch, time)``, with gradients.
        sample_logprobs: ``log pi_old`` of the same tokens, ``(batch, time)``.
        advantages: ``A`` per sequence, ``(batch,)``.
        mask: 1 for real tokens, 0 for padding, ``(batch, time)``.
        weights: the KL weights; a positive ``magnet``/``reference`` weight needs those log-probs.
        magnet_logprobs, reference_logprobs: ``log q`` of the sampled tokens, ``(batch, time)``.
        sequence_weights: how much each sequence counts, ``(batch,)`` (default ``1/batch`` each: the mean).
    """
    batch = logprobs.shape[0]
    if sequence_weights is None:
        sequence_weights = torch.full((batch,), 1.0 / batch, dtype=logprobs.dtype, device=logprobs.device)
    mask = mask.to(logprobs.dtype)
    sample_logprobs = sample_logprobs.detach()

    def per_sequence(values: torch.Tensor) -> torch.Tensor:  # (batch, time) -> weighted mean of the row sums
        return (sequence_weights * (values * mask).sum(dim=1)).sum()

    ratio = torch.exp(logprobs - sample_logprobs)  # (batch, time)
    reward = per_sequence(ratio * advantages.detach()[:, None])
    objective = reward
    kl_terms: dict[str, torch.Tensor | None] = {"magnet": None, "reference": None}
    for name, weight, target in (("magnet", weights.magnet, magnet_logprobs),
                                 ("reference", weights.reference, reference_logprobs)):
        if weight == 0:
            continue
        if target is None:
            raise ValueError(f"a {name} KL weight of {weight} needs {name}_logprobs")
        kl_terms[name] = per_sequence(kl_estimate(logprobs, sample_logprobs, target.detach()))
        objective = objective - weight * kl_terms[name]
    kl_proximal = per_sequence(kl_estimate(logprobs, sample_logprobs, sample_logprobs))
    objective = objective - weights.proximal * kl_proximal
    return LossTerms(-objective, reward, kl_terms["magnet"], kl_terms["reference"], kl_proximal)


def learning_rate(update: int, *, base: float, warmup_steps: int = 0, total_steps: int | None = None,
                  schedule: str = "constant") -> float:
    """The learning rate of optimiser step ``update`` (counting from 0).

    Linear warm-up ``base * (update + 1) / warmup_steps`` for the first ``warmup_steps``, then
    ``constant``, or ``linear`` / ``cosine`` decay to 0 at ``total_steps``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
    if update < warmup_steps:
        return base * (update + 1) / warmup_steps
    if schedule == "constant":
        return base
    if total_steps is None or total_steps <= warmup_steps:
        raise ValueError(f"a {schedule} schedule needs total_steps > warmup_steps, got {total_steps} and {warmup_steps}")
    progress = min(1.0, (update - warmup_steps) / (total_steps - warmup_steps))
    if schedule == "linear":
        return base * (1.0 - progress)
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def pad_rows(rows: Sequence[Sequence[float]] | Sequence[torch.Tensor], *, device: torch.device | str = "cpu",
             dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad rows of different lengths into ``(values, mask)``, each ``(batch, longest)``."""
    longest = max(len(row) for row in rows)
    values = torch.zeros((len(rows), longest), dtype=dtype, device=device)
    mask = torch.zeros((len(rows), longest), dtype=dtype, device=device)
    for index, row in enumerate(rows):
        values[index, :len(row)] = torch.as_tensor(row, dtype=dtype, device=device) if len(row) else 0.0
        mask[index, :len(row)] = 1.0
    return values, mask


# --- the trainer -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicyRef:
    """A policy to score tokens with: a model and one of its LoRA adapters (``None``: the model without one)."""

    handle: LoadedModel
    adapter: str | None


@dataclass
class Rollouts:
    """Sampled completions to learn from.

    Attributes:
        prompts: the full prompt strings (chat template applied), one per sequence.
        completion_ids: the sampled tokens of each completion.
        sample_logprobs: ``log pi_old`` of each sampled token (recorded while sampling), or ``None`` to
            score them with the policy before the first pass (needed when another engine sampled them).
        advantages: ``A`` per sequence, shape ``(batch,)``.
    """

    prompts: list[str]
    completion_ids: list[list[int]]
    sample_logprobs: list[list[float]] | None
    advantages: torch.Tensor

    def __post_init__(self) -> None:
        sizes = {len(self.prompts), len(self.completion_ids), int(self.advantages.shape[0])}
        if self.sample_logprobs is not None:
            sizes.add(len(self.sample_logprobs))
        if len(sizes) != 1:
            raise ValueError(f"rollouts need one prompt, completion, log-prob list and advantage per sequence; got {sizes}")
        if any(len(ids) == 0 for ids in self.completion_ids):
            raise ValueError("every completion needs at least one token")

    @classmethod
    def from_turns(cls, turns: Iterable[tuple[Mapping[str, Any], float]]) -> Rollouts | None:
        """The rollouts of recorded text turns (``play_episodes(..., record_turns=True)``), each given with its
        advantage; turns that sampled no tokens are left out, and None is returned when none is left."""
        kept = [(turn, advantage) for turn, advantage in turns if turn.get("completion_ids")]
        if not kept:
            return None
        return cls([turn["prompt"] for turn, _ in kept], [turn["completion_ids"] for turn, _ in kept],
                   [turn["token_logprobs"] for turn, _ in kept],
                   torch.tensor([advantage for _, advantage in kept], dtype=torch.float32))

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def num_tokens(self) -> int:
        return sum(len(ids) for ids in self.completion_ids)


def score_tokens(refs: Sequence[PolicyRef], prompts: Sequence[str], completions: Sequence[Sequence[int]],
                 *, micro_batch_size: int, autocast: bool = False) -> list[list[torch.Tensor]]:
    """Log-probabilities of the completions under each of ``refs``, without gradients.

    Policies that share a model are scored together, one adapter per batch row (one forward pass of
    ``len(refs) * micro_batch_size`` rows instead of ``len(refs)`` passes). Returns ``[ref][sequence]``.
    """
    results: list[list[torch.Tensor]] = [[] for _ in refs]
    by_model: dict[int, list[int]] = {}
    for index, ref in enumerate(refs):
        by_model.setdefault(id(ref.handle), []).append(index)
    with torch.no_grad(), _autocast(refs[0].handle.device if refs else torch.device("cpu"), autocast):
        for start in range(0, len(prompts), micro_batch_size):
            chunk_prompts = list(prompts[start:start + micro_batch_size])
            chunk_completions = list(completions[start:start + micro_batch_size])
            for indices in by_model.values():
                handle = refs[indices[0]].handle
                adapters = [refs[i].adapter for i in indices for _ in chunk_prompts]
                scored = sequence_logprobs(handle, chunk_prompts * len(indices), chunk_completions * len(indices),
                                           adapter=adapters if handle.is_peft else None).token_logprobs
                for position, index in enumerate(indices):
                    rows = scored[position * len(chunk_prompts):(position + 1) * len(chunk_prompts)]
                    results[index].extend(row.float() for row in rows)
    return results


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


class PolicyGradientTrainer:
    """Optimises one policy (a LoRA adapter, or every weight of the model) on :class:`Rollouts`.

    Args:
        policy: the policy to train. With an adapter, only the adapter's weights are trained; with
            ``adapter=None``, every parameter of the model (full fine-tuning).
        settings: learning rate, schedule, epochs, micro-batches, clipping.
        total_updates: optimiser steps in the whole run (the decay schedules end there).
        distributed: data-parallel training inside an initialised :mod:`torch.distributed` run
            (``torchrun``): each process trains on its own share of the rollouts and PyTorch's
            ``DistributedDataParallel`` averages the gradients.
    """

    def __init__(self, policy: PolicyRef, settings: TrainerSettings, *, total_updates: int | None = None,
                 distributed: bool = False) -> None:
        self.policy = policy
        self.settings = settings
        self.total_updates = total_updates
        handle = policy.handle
        if policy.adapter is not None:
            self.parameters = lora.trainable_parameters(handle, policy.adapter)
        else:
            if handle.is_peft:
                raise ValueError("full fine-tuning (adapter=None) needs a model without LoRA adapters")
            self.parameters = [parameter for parameter in handle.model.parameters()]
            for parameter in self.parameters:
                parameter.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(self.parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
        self.updates = 0  # optimiser steps taken (the learning-rate schedule's clock)
        self._parallel = None
        if distributed:
            # the forward used for gradients goes through DDP; generation and scoring use the bare model
            self._parallel = DistributedDataParallel(handle.model, broadcast_buffers=False)
            self._parallel.eval()  # no dropout, and peft picks the adapter per row as in the bare model

    @property
    def num_trainable(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters)

    def _training_handle(self) -> LoadedModel:
        if self._parallel is None:
            return self.policy.handle
        return dataclasses.replace(self.policy.handle, model=self._parallel)

    def update(self, rollouts: Rollouts, weights: RegularizerWeights, *, magnet: PolicyRef | None = None,
               reference: PolicyRef | None = None, sequence_weights: torch.Tensor | None = None) -> dict[str, float]:
        """``settings.epochs`` optimiser steps on ``rollouts`` (steps 4-5 of the module docstring).

        ``sequence_weights`` (default ``1/len(rollouts)`` each) sets how much each sequence counts; with
        data parallelism each process passes its own share and the gradients are averaged, so equal
        shares give the mean over all processes' sequences.
        """
        settings = self.settings
        handle = self.policy.handle
        count = len(rollouts)
        if sequence_weights is None:
            sequence_weights = torch.full((count,), 1.0 / count)
        fixed: list[PolicyRef] = []
        if rollouts.sample_logprobs is None:
            fixed.append(self.policy)
        if weights.magnet > 0:
            if magnet is None:
                raise ValueError("a magnet KL weight needs the magnet policy")
            fixed.append(magnet)
        if weights.reference > 0:
            if reference is None:
                raise ValueError("a reference KL weight needs the reference policy")
            fixed.append(reference)
        scored = score_tokens(fixed, rollouts.prompts, rollouts.completion_ids,
                              micro_batch_size=settings.micro_batch_size, autocast=settings.autocast)
        sample_rows = scored.pop(0) if rollouts.sample_logprobs is None else rollouts.sample_logprobs
        magnet_rows = scored.pop(0) if weights.magnet > 0 else None
        reference_rows = scored.pop(0) if weights.reference > 0 else None

        training_handle = self._training_handle()
        totals: dict[str, float] = {}
        for _ in range(settings.epochs):
            rate = self.begin_update()
            sums = {"loss": 0.0, "reward_surrogate": 0.0, "kl_magnet": 0.0, "kl_reference": 0.0, "kl_proximal": 0.0}
            starts = list(range(0, count, settings.micro_batch_size))
            for number, start in enumerate(starts):
                stop = start + settings.micro_batch_size

                def rows(values, start=start, stop=stop):  # (micro-batch, longest) on the model's device, or None
                    return None if values is None else pad_rows(values[start:stop], device=handle.device)[0]

                with self._sync(last=number == len(starts) - 1):
                    with _autocast(handle.device, settings.autocast):
                        current = sequence_logprobs(training_handle, rollouts.prompts[start:stop],
                                                    rollouts.completion_ids[start:stop],
                                                    adapter=self.policy.adapter).token_logprobs
                    logprobs, mask = pad_rows([row.float() for row in current], device=handle.device)
                    terms = policy_gradient_loss(
                        logprobs, rows(sample_rows), rollouts.advantages[start:stop].to(handle.device), mask,
                        weights=weights, magnet_logprobs=rows(magnet_rows), reference_logprobs=rows(reference_rows),
                        sequence_weights=sequence_weights[start:stop].to(handle.device))
                    terms.loss.backward()  # gradients add up over micro-batches (the weights make it the batch mean)
                for key, value in (("loss", terms.loss), ("reward_surrogate", terms.reward),
                                   ("kl_proximal", terms.kl_proximal), ("kl_magnet", terms.kl_magnet),
                                   ("kl_reference", terms.kl_reference)):
                    if value is not None:
                        sums[key] += float(value.detach())
            sums["grad_norm"] = self.finish_update()
            sums["learning_rate"] = rate
            totals = sums  # report the last pass: the state the step ends in
        totals["tokens"] = float(rollouts.num_tokens)
        return totals

    def begin_update(self) -> float:
        """Set the learning rate of the next optimiser step (:func:`learning_rate` at ``self.updates``) and clear
        the gradients; return the rate. Other losses on the same policy (the pairwise losses of
        :mod:`aligngames.solvers.training.offline_preference_language`) use this and :meth:`finish_update`."""
        settings = self.settings
        rate = learning_rate(self.updates, base=settings.learning_rate, warmup_steps=settings.warmup_steps,
                             total_steps=self.total_updates, schedule=settings.schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        self.optimizer.zero_grad(set_to_none=True)
        return rate

    def finish_update(self) -> float:
        """Clip the accumulated gradients, take the optimiser step; return the gradient norm before clipping."""
        norm = torch.nn.utils.clip_grad_norm_(self.parameters, self.settings.max_grad_norm or float("inf"))
        self.optimizer.step()
        self.updates += 1
        return float(norm)

    def _sync(self, *, last: bool):
        """DDP averages gradients on the last micro-batch only (``no_sync`` before it)."""
        if self._parallel is None or last:
            return contextlib.nullcontext()
        return self._parallel.no_sync()

    # --- checkpoints ----------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The optimiser's state as tensors (for safetensors) and JSON (step counts, hyper-parameters)."""
        tensors, meta = optimizer_state(self.optimizer)
        meta["updates"] = self.updates
        return tensors, meta

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        load_optimizer_state(self.optimizer, tensors, meta)
        self.updates = int(meta["updates"])


__all__ = [
    "LossTerms", "PolicyGradientTrainer", "PolicyRef", "RegularizerWeights", "Rollouts", "group_advantages", "kl_estimate", "learning_rate", "pad_rows", "policy_gradient_loss",
    "score_tokens",
]
