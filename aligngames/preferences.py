"""Populations of annotator groups and the pairwise preference matrices they induce.

A group ``g`` has a weight ``w_g`` (its share of the population) and a utility ``u_g(i)`` for each
candidate answer ``i``. With rationality ``beta_g`` it prefers ``i`` to ``j`` with probability
``sigmoid(beta_g * (u_g(i) - u_g(j)))`` (Bradley-Terry); with ``beta_g = inf`` it prefers the answer
it ranks higher with certainty (and is indifferent, 1/2, between equal utilities). The population's
preference is the weighted mixture

    P[i, j] = sum_g w_g * P_g(i > j),     P[i, j] + P[j, i] = 1,   P[i, i] = 1/2.

With deterministic groups that rank answers differently, the majority relation can be cyclic
(Condorcet's paradox), which is what makes the preference game non-transitive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class AnnotatorGroup:
    """One group of annotators.

    Attributes:
        name: a label for reports.
        weight: the group's share of the population (weights are normalised over groups).
        utilities: one utility per candidate; higher is preferred.
        beta: rationality; ``inf`` means the group always picks its higher-utility answer.
    """

    name: str
    weight: float
    utilities: tuple[float, ...]
    beta: float = float("inf")

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise ValueError(f"group {self.name!r}: weight must be > 0, got {self.weight}")
        if not self.beta > 0:
            raise ValueError(f"group {self.name!r}: beta must be > 0 (inf for deterministic), got {self.beta}")
        object.__setattr__(self, "utilities", tuple(float(u) for u in self.utilities))

    @classmethod
    def from_ranking(cls, name: str, weight: float, ranking: Sequence[int], num_candidates: int) -> AnnotatorGroup:
        """A deterministic group that ranks candidates as ``ranking`` (candidate ids, best first)."""
        if sorted(ranking) != list(range(num_candidates)):
            raise ValueError(
                f"group {name!r}: ranking must list each of the {num_candidates} candidates exactly once, got {list(ranking)}"
            )
        utilities = [0.0] * num_candidates
        for position, candidate in enumerate(ranking):
            utilities[candidate] = float(num_candidates - position)
        return cls(name, weight, tuple(utilities))

    def preference_matrix(self) -> np.ndarray:
        """``P_g[i, j]``, the probability this group prefers candidate ``i`` to ``j``."""
        u = np.asarray(self.utilities)
        difference = u[:, None] - u[None, :]  # (n, n)
        if np.isinf(self.beta):
            return 0.5 + 0.5 * np.sign(difference)
        return expit(self.beta * difference)

    def ranking(self) -> list[int]:
        """Candidates ordered best first (ties by candidate id)."""
        return sorted(range(len(self.utilities)), key=lambda i: (-self.utilities[i], i))


def population_preferences(groups: Sequence[AnnotatorGroup]) -> np.ndarray:
    """The population's preference matrix ``P[i, j] = sum_g w_g P_g(i > j)`` with weights normalised."""
    if not groups:
        raise ValueError("a population needs at least one annotator group")
    sizes = {len(group.utilities) for group in groups}
    if len(sizes) != 1:
        raise ValueError(f"every group must rate the same candidates; got utility vectors of lengths {sorted(sizes)}")
    total = sum(group.weight for group in groups)
    return sum((group.weight / total) * group.preference_matrix() for group in groups)


def check_preference_matrix(preferences: np.ndarray, name: str = "preferences") -> np.ndarray:
    """Return ``preferences`` as float64 if it is a valid pairwise preference matrix; else raise ``ValueError``.

    Valid: square, entries in [0, 1], ``P + P^T = 1`` (so the diagonal is 1/2).
    """
    matrix = np.asarray(preferences, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {matrix.shape}")
    if not np.all((matrix >= 0) & (matrix <= 1)):
        raise ValueError(f"{name} entries must be probabilities in [0, 1]")
    if not np.allclose(matrix + matrix.T, 1.0, atol=1e-9):
        raise ValueError(f"{name} must satisfy P[i, j] + P[j, i] = 1 (and P[i, i] = 1/2)")
    return matrix


def margins(preferences: np.ndarray) -> np.ndarray:
    """The skew-symmetric margin matrix ``M = 2P - 1`` (``M[i, j] > 0`` iff a majority prefers i to j)."""
    return 2.0 * check_preference_matrix(preferences) - 1.0
