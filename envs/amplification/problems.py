"""Amplification problems: binary tasks that decompose into a tree, and the accuracy recursion of IDA.

The model (iterated distillation and amplification, Christiano, Shlegeris & Amodei 2018, "Supervising
strong learners by amplifying weak experts"; HCH and its error accounting follow the same paper):

- A task of depth ``k >= 1`` has ``branching`` (``b``) subtasks of depth ``k - 1``; a depth-0 task is a
  leaf. Every answer is one bit. The true answer of a task is a fixed combination ``rule`` of the true
  answers of its subtasks:

  - ``"parity"``: the XOR of the ``b`` subtask answers (each subtask matters, as in a sum mod 2);
  - ``"majority"``: the majority of the ``b`` (odd) subtask answers, leaves uniform and independent;
  - ``"vote"``: the ``b`` (odd) subtasks are independent restatements of the task (redundant checks): all
    have the task's own answer, and the combination is the majority vote.

- ``M_0`` answers a leaf correctly with probability ``a_0`` (``base_accuracy``), independently across tasks.
- The amplified system ``Amp(M_{k-1})`` answers a depth-``k`` task: the overseer asks ``M_{k-1}`` each
  subtask and combines the answers with ``rule``; its own combination is wrong with probability
  ``delta`` (``overseer_error``).
- Distillation trains ``M_k`` to copy ``Amp(M_{k-1})``; the copy's answer is flipped with probability
  ``eps`` (``distillation_error``), independently.

Every error here is symmetric (the same probability whatever the true bit), so one number per level
describes a model, and with ``flip(a, e) = (1 - e) a + e (1 - a)``:

    A_k = flip(f(a_{k-1}), delta)          (amplified accuracy on depth-k tasks)
    a_k = flip(A_k, eps)                   (distilled accuracy)

where ``f`` is the accuracy of combining ``b`` independent answers each right with probability ``a``:

    parity:    f(a) = (1 + (2a - 1)^b) / 2                (the answer is right iff an even number is wrong)
    vote:      f(a) = P(Binomial(b, a) > b / 2)
    majority:  f(a) = sum_m C(b, m) / 2^b  P[(Bin(m, a) + Bin(b - m, 1 - a) > b / 2) == (m > b / 2)]
               (m true ones among the subtasks; a one stays a one w.p. a, a zero becomes one w.p. 1 - a)

The exact solver (fixed points, the compute / oversight trade-off, recursive reward modelling) is
:mod:`aligngames.solvers.exact.amplification`; this module holds the recursion the env also needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RULES = ("parity", "majority", "vote")
#: The env builds explicit trees up to this many frontier subtasks (b ** levels).
MAX_FRONTIER = 64


def flip(accuracy: float, error: float) -> float:
    """The accuracy of a binary answer of accuracy ``accuracy`` that is then flipped with probability ``error``:
    ``(1 - error) accuracy + error (1 - accuracy)``."""
    return (1.0 - error) * accuracy + error * (1.0 - accuracy)


def compose_errors(*errors: float) -> float:
    """The flip probability of independent flips in sequence: ``e1 + e2 - 2 e1 e2`` (and so on)."""
    total = 0.0
    for error in errors:
        total = total + error - 2.0 * total * error
    return total


def _binomial_pmf(trials: int, probability: float) -> np.ndarray:
    counts = np.arange(trials + 1)
    coefficients = np.array([math.comb(trials, int(count)) for count in counts], dtype=np.float64)
    return coefficients * probability ** counts * (1.0 - probability) ** (trials - counts)


def combination_accuracy(rule: str, accuracy: float, branching: int) -> float:
    """``f(a)``: the probability that combining ``branching`` independent answers, each right with probability
    ``accuracy``, by ``rule`` gives the right answer (see the module docstring)."""
    check_rule(rule, branching)
    b, a = branching, float(accuracy)
    if rule == "parity":
        return 0.5 * (1.0 + (2.0 * a - 1.0) ** b)
    if rule == "vote":
        return float(_binomial_pmf(b, a)[b // 2 + 1:].sum())
    total = 0.0
    for ones in range(b + 1):  # ones = the number of subtasks whose true answer is 1
        # distribution of the number of 1s among the answers: Bin(ones, a) + Bin(b - ones, 1 - a)
        reported = np.convolve(_binomial_pmf(ones, a), _binomial_pmf(b - ones, 1.0 - a))
        says_one = float(reported[b // 2 + 1:].sum())
        right = says_one if ones > b // 2 else 1.0 - says_one
        total += math.comb(b, ones) / 2.0 ** b * right
    return total


def combine(rule: str, bits: Sequence[int]) -> int:
    """The combined bit: XOR for ``parity``, the majority for ``majority`` and ``vote``."""
    if rule == "parity":
        return int(sum(bits) % 2)
    return int(2 * sum(bits) > len(bits))


def check_rule(rule: str, branching: int) -> None:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {list(RULES)}, got {rule!r}")
    if isinstance(branching, bool) or not isinstance(branching, int | np.integer) or branching < 1:
        raise ValueError(f"branching must be an int >= 1, got {branching!r}")
    if rule in ("majority", "vote") and branching % 2 == 0:
        raise ValueError(f"branching must be odd for rule={rule!r} (no ties), got {branching}")


def _probability(value: Any, name: str, high: float = 1.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a probability in [0, {high:g}], got {value!r:.80}") from None
    if not (np.isfinite(number) and 0.0 <= number <= high):
        raise ValueError(f"{name} must be a probability in [0, {high:g}], got {value!r}")
    return number


@dataclass(frozen=True)
class AmplificationProblem:
    """One amplification setting (see the module docstring).

    Attributes:
        depth: ``k``, the depth of the root task (``>= 1``).
        branching: ``b``, subtasks per task (odd for ``majority`` and ``vote``).
        rule: ``"parity"``, ``"majority"`` or ``"vote"``.
        base_accuracy: ``a_0``, ``M_0``'s accuracy on leaves, in [0, 1].
        distillation_error: ``eps``, in [0, 1/2].
        overseer_error: ``delta``, in [0, 1/2].
    """

    depth: int = 3
    branching: int = 3
    rule: str = "vote"
    base_accuracy: float = 0.9
    distillation_error: float = 0.05
    overseer_error: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int | np.integer) or not 1 <= self.depth <= 64:
            raise ValueError(f"depth must be an int in 1..64, got {self.depth!r}")
        check_rule(self.rule, self.branching)
        object.__setattr__(self, "depth", int(self.depth))
        object.__setattr__(self, "branching", int(self.branching))
        object.__setattr__(self, "base_accuracy", _probability(self.base_accuracy, "base_accuracy"))
        object.__setattr__(self, "distillation_error", _probability(self.distillation_error, "distillation_error", 0.5))
        object.__setattr__(self, "overseer_error", _probability(self.overseer_error, "overseer_error", 0.5))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AmplificationProblem:
        known = {"depth", "branching", "rule", "base_accuracy", "distillation_error", "overseer_error"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown amplification problem keys {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return {"depth": self.depth, "branching": self.branching, "rule": self.rule,
                "base_accuracy": self.base_accuracy, "distillation_error": self.distillation_error,
                "overseer_error": self.overseer_error}

    def amplify(self, accuracy: float) -> float:
        """One amplification step over a model of accuracy ``accuracy``: ``flip(f(a), delta)``."""
        return flip(combination_accuracy(self.rule, accuracy, self.branching), self.overseer_error)

    def distilled_accuracies(self) -> np.ndarray:
        """``[a_0, a_1, ..., a_depth]``: the distilled models' accuracies, shape ``(depth + 1,)``."""
        values = [self.base_accuracy]
        for _ in range(self.depth):
            values.append(flip(self.amplify(values[-1]), self.distillation_error))
        return np.array(values)

    def amplified_accuracy(self, levels: int) -> float:
        """The accuracy on the root (depth ``depth``) when the top ``levels`` levels are answered by the overseer
        (no distillation inside them) and the frontier subtasks, of depth ``depth - levels``, by the distilled
        ``M_{depth - levels}``. ``levels = 0``: ``M_depth`` alone; ``levels = depth``: full amplification (HCH)."""
        if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or not 0 <= levels <= self.depth:
            raise ValueError(f"levels must be an int in 0..{self.depth} (the depth), got {levels!r}")
        accuracy = float(self.distilled_accuracies()[self.depth - levels])
        for _ in range(levels):
            accuracy = self.amplify(accuracy)
        return accuracy


__all__ = ["MAX_FRONTIER", "RULES", "AmplificationProblem", "check_rule", "combination_accuracy", "combine",
           "compose_errors", "flip"]
