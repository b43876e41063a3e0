"""Preference-conditioned multi-objective problems written down as tables (after Panacea, Zhong et al. 2024,
"Panacea: Pareto alignment via preference adaptation for LLMs", arXiv:2402.02030).

A :class:`ParetoPreferenceProblem` has the ``answers`` a policy can give, the ``objectives`` its judges score
(``helpful``, ``harmless``, ``honest``), a reward table ``rewards[answer][objective]`` (one reward vector
``r(a)`` per answer), a reference policy over the answers (default uniform), a KL weight ``beta >= 0``, a
scalarisation and a distribution over user types. A user type is a preference vector ``w`` on the simplex
``{w >= 0, sum_i w_i = 1}``: explicit ``weights`` with ``weight_probs``, or ``grid=k``, every simplex point
whose coordinates are multiples of ``1/k`` (``C(k + K - 1, K - 1)`` points for ``K`` objectives), uniformly.

Scalarisations of a reward vector ``r`` under ``w``:

- ``"linear"``: ``s_w(r) = w . r``;
- ``"tchebycheff"``: ``s_w(r) = -max_i w_i (z*_i - r_i)``, with the ideal point ``z*_i = max_a r_i(a)`` (the
  best reward on each objective over the answers; Miettinen 1999, *Nonlinear multiobjective optimization*,
  ch. 3.4). ``s_w <= 0``, with equality only at the ideal point.

Named examples (:data:`EXAMPLES`): ``helpful_harmless`` (comply / hedge / refuse / lecture scored on helpful
and harmless; lecture lies below the chord from hedge to refuse, so the front of deterministic answers is
not convex) and ``helpful_harmless_honest`` (five answers, three objectives).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from aligngames.tables import NotADistributionError, TableShapeError, distribution, names, table

SCALARISATIONS = ("linear", "tchebycheff")

#: The grid used when neither ``weights`` nor ``grid`` is given.
DEFAULT_GRID = 4

#: The largest grid of preference vectors a problem builds (it has ``C(k + K - 1, K - 1)`` points).
MAX_GRID_POINTS = 100_000


def simplex_grid(num_objectives: int, k: int) -> np.ndarray:
    """Every point of the simplex in ``R^num_objectives`` with coordinates in ``{0, 1/k, ..., 1}``.

    Shape ``(C(k + K - 1, K - 1), K)``, in lexicographic order of the integer numerators, decreasing in the
    first coordinate (``k = 2``, ``K = 2``: ``(1, 0), (1/2, 1/2), (0, 1)``). Built by stars and bars: the
    ``K - 1`` bar positions among ``k + K - 1`` slots give the numerators.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"grid must be an int >= 1 (the denominator of the simplex grid), got {k!r}")
    if isinstance(num_objectives, bool) or not isinstance(num_objectives, (int, np.integer)) or num_objectives < 1:
        raise ValueError(f"the simplex grid needs at least one objective, got {num_objectives!r}")
    k, size = int(k), int(num_objectives)
    if size == 1:
        return np.ones((1, 1))
    bars = np.array(list(combinations(range(k + size - 1), size - 1)), dtype=np.int64).reshape(-1, size - 1)
    if len(bars) > MAX_GRID_POINTS:
        raise ValueError(f"grid={k} over {size} objectives has {len(bars)} points (at most {MAX_GRID_POINTS})")
    edges = np.hstack([np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), k + size - 1)])
    numerators = np.diff(edges, axis=1) - 1
    return numerators[::-1].astype(np.float64) / k


def simplex_points(value, name: str, num_objectives: int) -> np.ndarray:
    """``value`` as preference vectors on the simplex, shape ``(num_types, num_objectives)``.

    A ``TableShapeError`` for the wrong shape; a ``NotADistributionError`` naming the row for a vector off the
    simplex (a negative entry, or entries that do not sum to 1).
    """
    points = table(value, name, None, "[type][objective]")
    if points.ndim != 2 or points.shape[1] != num_objectives or points.shape[0] == 0:
        raise TableShapeError(f"{name} is indexed [type][objective] and needs one row per user type with "
                              f"{num_objectives} entries (one per objective), got shape {points.shape}")
    rows = []
    for index, row in enumerate(points):
        try:
            rows.append(distribution(row, f"{name}[{index}]", num_objectives))
        except NotADistributionError as error:
            raise NotADistributionError(f"{name}[{index}] = {row.tolist()} is off the simplex (a preference "
                                        f"vector is >= 0 and sums to 1): {error}") from None
    return np.array(rows)


def user_types(num_objectives: int, weights=None, weight_probs=None, grid: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, int | None]:
    """The user types ``(weights, weight_probs, grid)`` from the keywords both modes share.

    Explicit ``weights`` (``[type][objective]``, each row on the simplex) with ``weight_probs`` (default
    uniform), or ``grid=k`` (default :data:`DEFAULT_GRID` when neither is given), uniformly; ``grid`` comes back
    as ``None`` with explicit weights.
    """
    if weights is not None and grid is not None:
        raise ValueError("give either weights (with weight_probs) or grid=k, not both")
    grid = None if weights is not None else (DEFAULT_GRID if grid is None else grid)
    points = (simplex_grid(num_objectives, grid) if grid is not None else
              simplex_points(weights, "weights", num_objectives))
    probs = (np.full(len(points), 1.0 / len(points)) if weight_probs is None else
             distribution(weight_probs, "weight_probs", len(points)))
    return points, probs, None if grid is None else int(grid)


@dataclass(frozen=True)
class ParetoPreferenceProblem:
    """A tabular preference-conditioned multi-objective problem.

    Attributes:
        answers: answer names.
        objectives: objective names (one judge each).
        rewards: shape ``(num_answers, num_objectives)``, ``[answer][objective]``.
        reference: shape ``(num_answers,)``, a distribution (default uniform).
        beta: the KL weight (>= 0).
        weights: shape ``(num_types, num_objectives)``, preference vectors on the simplex (default: ``grid``).
        weight_probs: shape ``(num_types,)`` (default uniform).
        grid: with ``weights`` not given, the simplex grid's denominator ``k`` (default :data:`DEFAULT_GRID`).
        scalarisation: ``"linear"`` or ``"tchebycheff"``.
        name: a label.
    """

    answers: tuple[str, ...]
    objectives: tuple[str, ...]
    rewards: np.ndarray
    reference: np.ndarray | None = None
    beta: float = 0.1
    weights: np.ndarray | None = None
    weight_probs: np.ndarray | None = None
    grid: int | None = None
    scalarisation: str = "linear"
    name: str = "custom"

    def __post_init__(self) -> None:
        answers = names(self.answers, "answers")
        objectives = names(self.objectives, "objectives")
        rewards = table(self.rewards, "rewards", (len(answers), len(objectives)), "[answer][objective]")
        reference = (np.full(len(answers), 1.0 / len(answers)) if self.reference is None else
                     distribution(self.reference, "reference", len(answers)))
        beta = float(self.beta)
        if not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta}")
        if self.scalarisation not in SCALARISATIONS:
            raise ValueError(f"scalarisation must be one of {list(SCALARISATIONS)}, got {self.scalarisation!r}")
        weights, weight_probs, grid = user_types(len(objectives), self.weights, self.weight_probs, self.grid)
        for key, value in (("answers", answers), ("objectives", objectives), ("rewards", rewards),
                           ("reference", reference), ("beta", beta), ("weights", weights),
                           ("weight_probs", weight_probs), ("grid", grid)):
            object.__setattr__(self, key, value)

    @property
    def num_answers(self) -> int:
        return len(self.answers)

    @property
    def num_objectives(self) -> int:
        return len(self.objectives)

    @property
    def num_types(self) -> int:
        return len(self.weights)

    @property
    def ideal(self) -> np.ndarray:
        """``z*``, shape ``(num_objectives,)``: the best reward on each objective over the answers."""
        return self.rewards.max(axis=0)

    def scalarised(self, weight: np.ndarray) -> np.ndarray:
        """Shape ``(num_answers,)``: each answer's scalarised reward ``s_w(r(a))`` (the env's reward)."""
        return scalarise(self.rewards, weight, self.scalarisation, self.ideal)

    def with_options(self, **options: Any) -> ParetoPreferenceProblem:
        """A copy with some attributes replaced (``grid=k`` replaces the user types by the grid)."""
        data = {"answers": self.answers, "objectives": self.objectives, "rewards": self.rewards,
                "reference": self.reference, "beta": self.beta, "weights": self.weights,
                "weight_probs": self.weight_probs, "grid": None, "scalarisation": self.scalarisation,
                "name": self.name}
        if options.get("grid") is not None:
            data.update(weights=None, weight_probs=None)
        data.update(options)
        return ParetoPreferenceProblem(**data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ParetoPreferenceProblem:
        """A problem from plain data (a YAML / JSON file) with the attribute names as keys."""
        required = ("answers", "objectives", "rewards")
        optional = ("reference", "beta", "weights", "weight_probs", "grid", "scalarisation", "name")
        missing = [key for key in required if key not in data]
        if missing:
            raise ValueError(f"a pareto_preference problem needs the keys {list(required)}; missing {missing}")
        unknown = sorted(set(data) - {*required, *optional})
        if unknown:
            raise ValueError(f"unknown keys in a pareto_preference problem: {unknown}; allowed: "
                             f"{[*required, *optional]}")
        return cls(data["answers"], data["objectives"], data["rewards"], data.get("reference"),
                   float(data.get("beta", 0.1)), data.get("weights"), data.get("weight_probs"), data.get("grid"),
                   str(data.get("scalarisation", "linear")), str(data.get("name", "custom")))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "answers": list(self.answers), "objectives": list(self.objectives),
                "rewards": self.rewards.tolist(), "reference": self.reference.tolist(), "beta": self.beta,
                "weights": self.weights.tolist(), "weight_probs": self.weight_probs.tolist(),
                "scalarisation": self.scalarisation}


def scalarise(rewards: np.ndarray, weight: np.ndarray, scalarisation: str, ideal: np.ndarray | None = None) -> np.ndarray:
    """``s_w`` of each row of ``rewards`` (shape ``(..., K)``): ``w . r`` or ``-max_i w_i (z*_i - r_i)``.

    ``ideal`` (``z*``) defaults to the per-objective maximum over the rows.
    """
    rewards, weight = np.asarray(rewards, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    if scalarisation == "linear":
        return rewards @ weight
    if scalarisation == "tchebycheff":
        z = rewards.reshape(-1, rewards.shape[-1]).max(axis=0) if ideal is None else np.asarray(ideal, dtype=np.float64)
        return -np.max(weight * (z - rewards), axis=-1)
    raise ValueError(f"scalarisation must be one of {list(SCALARISATIONS)}, got {scalarisation!r}")


def helpful_harmless() -> ParetoPreferenceProblem:
    """Comply / hedge / refuse / lecture on (helpful, harmless); beta 0.1, the grid with k = 10.

    Lecture (0.2, 0.8) lies below the chord from hedge (0.6, 0.7) to refuse (0.05, 1.0) (at helpful 0.2 the
    chord has harmless 0.918), so no linear scalarisation picks it, and mixtures of hedge and refuse dominate it.
    """
    return ParetoPreferenceProblem(("comply", "hedge", "refuse", "lecture"), ("helpful", "harmless"),
                                   [[1.0, 0.1], [0.6, 0.7], [0.05, 1.0], [0.2, 0.8]], beta=0.1, grid=10,
                                   name="helpful_harmless")


def helpful_harmless_honest() -> ParetoPreferenceProblem:
    """Five answers scored on (helpful, harmless, honest); beta 0.1, the grid with k = 4 (15 user types)."""
    return ParetoPreferenceProblem(("comply", "hedge", "refuse", "explain", "flatter"),
                                   ("helpful", "harmless", "honest"),
                                   [[1.0, 0.2, 0.6], [0.6, 0.7, 0.5], [0.1, 1.0, 0.8], [0.5, 0.6, 1.0],
                                    [0.8, 0.5, 0.1]], beta=0.1, grid=4, name="helpful_harmless_honest")


EXAMPLES = {"helpful_harmless": helpful_harmless, "helpful_harmless_honest": helpful_harmless_honest}


def build(example: str) -> ParetoPreferenceProblem:
    if example not in EXAMPLES:
        raise ValueError(f"unknown pareto_preference example {example!r}; valid examples: {sorted(EXAMPLES)}")
    return EXAMPLES[example]()


def custom(answers: Sequence[str], objectives: Sequence[str], rewards, **options: Any) -> ParetoPreferenceProblem:
    return ParetoPreferenceProblem(answers, objectives, rewards, **options)
