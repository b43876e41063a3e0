"""Alignment elasticity in a categorical model: how much fine-tuning data undoes an alignment fine-tune.

Source: Ji et al. 2024, "Language models resist alignment" (arXiv:2406.06144): a model fine-tuned toward a
behaviour on ``N_align`` examples returns toward its pre-training distribution after fine-tuning on far fewer
examples of the opposite behaviour, a Hooke's-law-like pull whose stiffness grows with the pre-training data.
This module is the tabular known answer for that experiment.

The policy is a softmax ``pi_theta`` over ``K`` behaviours. Pre-training fitted ``N_pre`` examples with
empirical distribution ``p_pre``; alignment adds ``N_align`` examples of ``p_align``; undoing adds ``N_undo``
examples of ``p_undo``. Alignment is measured along the alignment direction ``d_a = p_align - p_pre``:

    A(pi) = <pi - p_pre, d_a>,   c = <d_a, d_a>,   s = <p_undo - p_pre, d_a>,   remaining R = A(undone) / A(aligned).

(a) Pooled maximum likelihood (every example kept, trained to convergence). The cross-entropy over all data is
minimised by the mixture ``(N_pre p_pre + N_align p_align + N_undo p_undo) / (N_pre + N_align + N_undo)``, so
with ``M = N_pre + N_align``:

    A_aligned = N_align c / M,   A(N_undo) = (N_align c + N_undo s) / (M + N_undo),
    R = M (N_align c + N_undo s) / ((M + N_undo) N_align c),
    N_half = M N_align c / (N_align c - 2 M s)      (infinite when N_align c <= 2 M s),
    N_align / N_half = N_align / M - 2 s / c.

For two behaviours, aligning onto behaviour ``t`` with pre-training mass ``q`` and undoing onto the other,
``-s / c = q / (1 - q)``: the ratio is ``N_align / M + 2 q / (1 - q)``. Aligning toward a rare behaviour
(``q -> 0``) needs ``N_half -> M`` (the whole data set again: the mixture view has no elasticity); toward a
common one (``q -> 1``) the ratio grows without bound.

(b) The elastic view (sequential fine-tuning with a pull back to pre-training). Each stage ``s`` fine-tunes from
the current parameters on the stage objective ``N_pre KL(p_pre || pi) + N_s CE(p_s, pi)`` (the pre-training
memory, stiffness ``N_pre``, plus the stage's data only: the earlier stage's examples are not replayed),
divided by ``N_pre + N_s``, which equals ``CE(m_s, pi)`` + const with ``m_s = (N_pre p_pre + N_s p_s) /
(N_pre + N_s)``. Its natural-gradient flow in the logits, ``dtheta/dt = (m_s - pi) / pi`` (``F^+ (m_s - pi)``
with the softmax Fisher ``F = diag(pi) - pi pi^T``), is linear in the probabilities, ``dpi/dt = m_s - pi``, so
after training time ``t_s = eta N_s`` (one pass at learning rate ``eta`` per example):

    pi_after = m_s + (pi_before - m_s) exp(-eta N_s)                       (exact, no linearisation)
    A_aligned = w_a c (1 - exp(-eta N_align)),       w_s = N_s / (N_pre + N_s),
    R = exp(-eta N_undo) + w_u s (1 - exp(-eta N_undo)) / A_aligned.

The first term is the restoring (Hooke) term: the undo stage's pre-training memory pulls back whatever its data
say; the second is the push of the opposite data. First order (``N << N_pre``, ``eta N << 1``): the converged
change is ``delta theta = (N_s / N_pre) F^+ (p_s - p_pre)`` (:func:`first_order_logit_change`), the aligned
gain is ``A_aligned ~ eta N_align^2 c / N_pre`` and

    R ~ 1 - eta N_undo + (N_undo / N_align)^2 s / c,

so the half-undo ``N_undo`` solves ``eta N + (N / N_align)^2 r = 1 / 2`` with ``r = -s / c``:
``N_half = (sqrt(eta^2 + 2 r / N_align^2) - eta) / (2 r / N_align^2)``. Toward a rare behaviour (``r -> 0``) it
tends to ``1 / (2 eta)`` whatever ``N_align`` is (the restoring term alone); toward a common one (``r`` large)
``N_half ~ N_align / sqrt(2 r)``, a small fraction of ``N_align``. With undo data drawn from the pre-training
distribution itself (``p_undo = p_pre``, ``s = 0``) the elastic view gives ``R = exp(-eta N_undo)`` exactly,
``N_half = ln 2 / eta``, while the pooled view needs ``N_half = M`` (pure dilution). ``N_pre`` cancels from ``R``
as ``N_pre -> infinity`` (``R -> exp(-eta N_u) + (N_u / N_a) (s / c) (1 - exp(-eta N_u)) / (1 - exp(-eta N_a))``);
as ``N_pre -> 0`` each stage relaxes onto its own data ``p_s`` (full overwrite when trained long enough).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

VIEWS = ("pooled", "elastic")


def _distribution(name: str, values: Any, size: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"{name} must be a 1-D distribution over at least 2 behaviours, got shape {array.shape}")
    if size is not None and array.size != size:
        raise ValueError(f"{name} has {array.size} entries; p_pre has {size}")
    if np.any(array < 0) or not np.isclose(array.sum(), 1.0):
        raise ValueError(f"{name} is not a probability distribution: {array.tolist()}")
    return array


def _count(name: str, value: float, positive: bool = False) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} and finite, got {value}")
    return value


@dataclass(frozen=True)
class ElasticityProblem:
    """Three data sets pulling one categorical policy.

    Attributes:
        p_pre: pre-training distribution, shape ``(K,)``, positive everywhere.
        p_align: distribution of the alignment examples, shape ``(K,)``.
        p_undo: distribution of the undo examples, shape ``(K,)``.
        n_pre: pre-training examples (the stiffness of the pull back).
        n_align: alignment examples.
        learning_rate: ``eta``, training time per fine-tuning example (elastic view).
    """

    p_pre: np.ndarray
    p_align: np.ndarray
    p_undo: np.ndarray
    n_pre: float
    n_align: float
    learning_rate: float = 0.01

    def __post_init__(self) -> None:
        pre = _distribution("p_pre", self.p_pre)
        if np.any(pre <= 0):
            raise ValueError(f"p_pre must be positive on every behaviour, got {pre.tolist()}")
        object.__setattr__(self, "p_pre", pre)
        object.__setattr__(self, "p_align", _distribution("p_align", self.p_align, pre.size))
        object.__setattr__(self, "p_undo", _distribution("p_undo", self.p_undo, pre.size))
        object.__setattr__(self, "n_pre", _count("n_pre", self.n_pre))
        object.__setattr__(self, "n_align", _count("n_align", self.n_align, positive=True))
        object.__setattr__(self, "learning_rate", _count("learning_rate", self.learning_rate, positive=True))
        if self.alignment_norm() == 0:
            raise ValueError("p_align equals p_pre: there is no alignment to measure")

    def alignment_norm(self) -> float:
        """``c = <d_a, d_a>``."""
        direction = self.p_align - self.p_pre
        return float(direction @ direction)

    def undo_projection(self) -> float:
        """``s = <p_undo - p_pre, d_a>`` (negative when the undo data oppose the alignment)."""
        return float((self.p_undo - self.p_pre) @ (self.p_align - self.p_pre))

    def alignment(self, policy: np.ndarray) -> float:
        """``A(pi) = <pi - p_pre, d_a>``."""
        return float((np.asarray(policy) - self.p_pre) @ (self.p_align - self.p_pre))

    def reversed(self) -> ElasticityProblem:
        """The reverse direction: align on ``p_undo``, undo with ``p_align``."""
        return ElasticityProblem(self.p_pre, self.p_undo, self.p_align, self.n_pre, self.n_align, self.learning_rate)


def mixture(distributions: list[np.ndarray], counts: list[float]) -> np.ndarray:
    """``sum_i n_i p_i / sum_i n_i``: the maximum-likelihood categorical policy on the pooled data."""
    total = float(sum(counts))
    if total <= 0:
        raise ValueError(f"counts must have a positive sum, got {counts}")
    return sum(n * p for n, p in zip(counts, distributions)) / total


def relax(policy: np.ndarray, target: np.ndarray, time: float) -> np.ndarray:
    """``m + (pi - m) exp(-t)``: the natural-gradient flow of ``CE(m, pi_theta)`` run for time ``t``."""
    return target + (np.asarray(policy) - target) * np.exp(-time)


def aligned_policy(problem: ElasticityProblem, view: str) -> np.ndarray:
    """The policy after the alignment stage."""
    if view == "pooled":
        return mixture([problem.p_pre, problem.p_align], [problem.n_pre, problem.n_align])
    if view == "elastic":
        target = mixture([problem.p_pre, problem.p_align], [problem.n_pre, problem.n_align])
        return relax(problem.p_pre, target, problem.learning_rate * problem.n_align)
    raise ValueError(f"view must be one of {VIEWS}, got {view!r}")


def undone_policy(problem: ElasticityProblem, n_undo: float, view: str) -> np.ndarray:
    """The policy after the undo stage on ``n_undo`` examples."""
    n_undo = _count("n_undo", n_undo)
    if view == "pooled":
        return mixture([problem.p_pre, problem.p_align, problem.p_undo], [problem.n_pre, problem.n_align, n_undo])
    start = aligned_policy(problem, view)
    if n_undo == 0:
        return start
    target = mixture([problem.p_pre, problem.p_undo], [problem.n_pre, n_undo])
    return relax(start, target, problem.learning_rate * n_undo)


def remaining_fraction(problem: ElasticityProblem, n_undo: float, view: str) -> float:
    """``R = A(undone) / A(aligned)``, from the closed forms in the module docstring."""
    n_undo = _count("n_undo", n_undo)
    c, s, n_align, n_pre = problem.alignment_norm(), problem.undo_projection(), problem.n_align, problem.n_pre
    if view == "pooled":
        total = n_pre + n_align
        return total * (n_align * c + n_undo * s) / ((total + n_undo) * n_align * c)
    if view == "elastic":
        eta = problem.learning_rate
        aligned = n_align / (n_pre + n_align) * c * (1 - np.exp(-eta * n_align))
        weight = n_undo / (n_pre + n_undo) if n_undo > 0 else 0.0
        return float(np.exp(-eta * n_undo) + weight * s * (1 - np.exp(-eta * n_undo)) / aligned)
    raise ValueError(f"view must be one of {VIEWS}, got {view!r}")


def half_undo(problem: ElasticityProblem, view: str, limit: float = 1e9) -> float:
    """The smallest ``N_undo`` with ``R = 1/2`` (``inf`` when none below ``limit``).

    Pooled: ``M N_align c / (N_align c - 2 M s)``. Elastic: the first crossing of ``R = 1/2`` by root finding
    (``R`` starts at 1; a geometric scan brackets the crossing).
    """
    c, s, n_align = problem.alignment_norm(), problem.undo_projection(), problem.n_align
    if view == "pooled":
        total = problem.n_pre + n_align
        denominator = n_align * c - 2 * total * s
        return float(total * n_align * c / denominator) if denominator > 0 else float("inf")
    if view != "elastic":
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    low = 0.0
    for high in np.geomspace(1e-6, limit, 400):
        if remaining_fraction(problem, high, view) <= 0.5:
            return float(brentq(lambda n: remaining_fraction(problem, n, view) - 0.5, low, high, xtol=1e-12, rtol=1e-12))
        low = high
    return float("inf")


def kl(first: np.ndarray, second: np.ndarray) -> float:
    """``KL(first || second)``."""
    mask = first > 0
    return float(np.sum(first[mask] * np.log(first[mask] / second[mask])))


def first_order_logit_change(p_pre: np.ndarray, p_fine_tune: np.ndarray, n_pre: float, n_fine_tune: float) -> np.ndarray:
    """``(N_ft / N_pre) F^+ (p_ft - p_pre)`` with ``F = diag(p_pre) - p_pre p_pre^T``: the first-order logit change
    of a converged fine-tune (centred logits; ``F^+ v = v / p_pre`` centred, for ``v`` summing to 0)."""
    p_pre = _distribution("p_pre", p_pre)
    p_fine_tune = _distribution("p_fine_tune", p_fine_tune, p_pre.size)
    change = (_count("n_fine_tune", n_fine_tune) / _count("n_pre", n_pre, positive=True)) * (p_fine_tune - p_pre) / p_pre
    return change - change.mean()


def sweep(problem: ElasticityProblem, n_undo_grid: list[float]) -> dict[str, Any]:
    """Both views on a grid of ``N_undo``: remaining fraction, KL to the base and to the aligned policy, half-undo."""
    result: dict[str, Any] = {"n_pre": problem.n_pre, "n_align": problem.n_align, "learning_rate": problem.learning_rate,
                              "p_pre": problem.p_pre.tolist(), "p_align": problem.p_align.tolist(),
                              "p_undo": problem.p_undo.tolist()}
    for view in VIEWS:
        aligned = aligned_policy(problem, view)
        rows = []
        for n_undo in n_undo_grid:
            policy = undone_policy(problem, n_undo, view)
            rows.append({"n_undo": float(n_undo), "remaining": remaining_fraction(problem, n_undo, view),
                         "policy": policy.tolist(), "kl_to_base": kl(policy, problem.p_pre),
                         "kl_to_aligned": kl(policy, aligned)})
        half = half_undo(problem, view)
        result[view] = {"aligned_policy": aligned.tolist(), "rows": rows, "half_undo": half,
                        "align_over_half_undo": problem.n_align / half if np.isfinite(half) else 0.0}
    return result
