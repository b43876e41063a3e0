"""Problems of ``weak_to_strong_v0``'s tabular mode: a finite, ordered input set with true labels and a weak
labeller that flips them (random errors, systematic errors, or both).

Named examples (:data:`EXAMPLES`; ten uniform inputs ``x = 0..9`` with true label ``1[x >= 5]``):

- ``random_flips``: every weak label flips with probability 0.2 (weak accuracy 0.8);
- ``systematic_flips``: the weak label is always wrong on ``x = 3, 4`` (the weak boundary sits at 3);
- ``interior_error``: always wrong on ``x = 2`` only (a threshold cannot represent that error);
- ``mixed``: flips with probability 0.2 everywhere and always on ``x = 4``.

The exact weak-to-strong analysis is in :mod:`aligngames.solvers.exact.weak_to_strong`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def check_array(value, name: str, ndim: int) -> np.ndarray:
    """``value`` as a finite float64 array with ``ndim`` dimensions, or a ``ValueError`` naming ``name``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {value!r:.80}") from None
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def check_vector(value, name: str, size: int | None = None) -> np.ndarray:
    """``value`` as a finite 1-D float64 array (of length ``size`` where given)."""
    array = check_array(value, name, 1)
    if size is not None and array.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {array.shape}")
    return array


@dataclass(frozen=True)
class ClassificationProblem:
    """A finite, ordered input set with true labels and a weak labeller that flips them.

    Attributes:
        probabilities: ``p(x)`` over the inputs (a distribution).
        true_labels: ``t(x)`` in {0, 1}.
        flip_probabilities: ``q(x)`` in [0, 1], the chance the weak label is ``1 - t(x)``.
        name: a label for reports.
    """

    probabilities: np.ndarray
    true_labels: np.ndarray
    flip_probabilities: np.ndarray
    name: str = "custom"

    def __post_init__(self) -> None:
        probabilities = check_vector(self.probabilities, "probabilities")
        size = probabilities.size
        if size < 1:
            raise ValueError("probabilities must have at least one input")
        if (probabilities < 0).any() or abs(probabilities.sum() - 1.0) > 1e-9:
            raise ValueError(f"probabilities must be a distribution (>= 0, sum 1), got sum {probabilities.sum():.6g}")
        labels = check_vector(self.true_labels, "true_labels", size)
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"true_labels must be 0 or 1, got {sorted(set(labels.tolist()))}")
        flips = check_vector(self.flip_probabilities, "flip_probabilities", size)
        if (flips < 0).any() or (flips > 1).any():
            raise ValueError("flip_probabilities must lie in [0, 1]")
        object.__setattr__(self, "probabilities", probabilities)
        object.__setattr__(self, "true_labels", labels.astype(np.int64))
        object.__setattr__(self, "flip_probabilities", flips)

    @property
    def num_inputs(self) -> int:
        return self.probabilities.size

    @classmethod
    def random_flips(cls, true_labels, rate: float, probabilities=None, name: str = "random") -> ClassificationProblem:
        """Each weak label flips independently with probability ``rate`` (uniform inputs by default)."""
        labels = np.asarray(true_labels)
        if not (np.isfinite(rate) and 0 <= rate <= 1):
            raise ValueError(f"rate must lie in [0, 1], got {rate}")
        probabilities = np.full(labels.size, 1.0 / max(labels.size, 1)) if probabilities is None else probabilities
        return cls(probabilities, labels, np.full(labels.size, float(rate)), name)

    @classmethod
    def systematic_flips(cls, true_labels, region: Sequence[int], probabilities=None, rate: float = 0.0,
                         name: str = "systematic") -> ClassificationProblem:
        """The weak label is always wrong on ``region`` (input indices) and flips with ``rate`` elsewhere."""
        labels = np.asarray(true_labels)
        region = list(region)
        if any(isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < labels.size for i in region):
            raise ValueError(f"region must be input indices in [0, {labels.size - 1}], got {region}")
        if not (np.isfinite(rate) and 0 <= rate <= 1):
            raise ValueError(f"rate must lie in [0, 1], got {rate}")
        flips = np.full(labels.size, float(rate))
        flips[region] = 1.0
        probabilities = np.full(labels.size, 1.0 / max(labels.size, 1)) if probabilities is None else probabilities
        return cls(probabilities, labels, flips, name)

    def weak_label_one_probabilities(self) -> np.ndarray:
        """``P(weak label = 1 | x)``."""
        return np.where(self.true_labels == 1, 1.0 - self.flip_probabilities, self.flip_probabilities)

    def to_dict(self) -> dict:
        return {"name": self.name, "probabilities": self.probabilities.tolist(),
                "true_labels": self.true_labels.tolist(), "flip_probabilities": self.flip_probabilities.tolist()}


_THRESHOLD_TRUTH = [int(x >= 5) for x in range(10)]


def _examples() -> dict[str, ClassificationProblem]:
    return {
        "random_flips": ClassificationProblem.random_flips(_THRESHOLD_TRUTH, 0.2, name="random_flips"),
        "systematic_flips": ClassificationProblem.systematic_flips(_THRESHOLD_TRUTH, [3, 4], name="systematic_flips"),
        "interior_error": ClassificationProblem.systematic_flips(_THRESHOLD_TRUTH, [2], name="interior_error"),
        "mixed": ClassificationProblem.systematic_flips(_THRESHOLD_TRUTH, [4], rate=0.2, name="mixed"),
    }


EXAMPLES = tuple(_examples())


def build(name: str) -> ClassificationProblem:
    """The named example problem."""
    examples = _examples()
    if name not in examples:
        raise ValueError(f"example must be one of {list(examples)}, got {name!r}")
    return examples[name]


def from_mapping(data) -> ClassificationProblem:
    """A problem from a mapping with ``true_labels`` and ``flip_probabilities`` (and optionally ``probabilities``,
    uniform by default, and ``name``)."""
    if not isinstance(data, dict):
        raise ValueError(f"a weak-to-strong problem is a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - {"true_labels", "flip_probabilities", "probabilities", "name"})
    if unknown:
        raise ValueError(f"unknown problem keys {unknown}; expected true_labels, flip_probabilities, probabilities, name")
    missing = [key for key in ("true_labels", "flip_probabilities") if key not in data]
    if missing:
        raise ValueError(f"the problem needs {missing}")
    labels = np.asarray(data["true_labels"])
    probabilities = data.get("probabilities")
    if probabilities is None:
        probabilities = np.full(labels.size, 1.0 / max(labels.size, 1))
    return ClassificationProblem(probabilities, labels, data["flip_probabilities"], str(data.get("name", "custom")))


__all__ = ["EXAMPLES", "ClassificationProblem", "build", "check_array", "check_vector", "from_mapping"]
