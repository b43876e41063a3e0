"""The robot's prior on the human's utility ``U`` for its action, in ``off_switch_v0``.

Two kinds: :class:`GaussianPrior` (``U ~ N(mean, std^2)``, as in Hadfield-Menell et al. 2017) and
:class:`DiscretePrior` (explicit values and probabilities). Each can draw ``U`` and report its moments;
the exact values of the robot's options are in :mod:`aligngames.solvers.exact.off_switch`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames.tables import TableShapeError, distribution, table

PRIORS = ("gaussian", "discrete")


@dataclass(frozen=True)
class GaussianPrior:
    """``U ~ N(mean, std^2)``.

    Attributes:
        mean: the prior mean of ``U``.
        std: the prior standard deviation (> 0).
    """

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise ValueError(f"mean must be finite, got {self.mean}")
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"std must be a finite number > 0, got {self.std}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.normal(self.mean, self.std))

    def describe(self) -> dict[str, Any]:
        return {"kind": "gaussian", "mean": float(self.mean), "std": float(self.std)}


@dataclass(frozen=True)
class DiscretePrior:
    """``U`` takes ``values[i]`` with probability ``probabilities[i]``.

    Attributes:
        values: the possible utilities.
        probabilities: a distribution over them (a named error if it is not one).
    """

    values: tuple[float, ...]
    probabilities: tuple[float, ...]

    def __post_init__(self) -> None:
        values = table(self.values, "values", None, "[outcome]")
        if values.ndim != 1 or values.size == 0:
            raise TableShapeError(f"values must be a non-empty list of numbers, got shape {values.shape}")
        probabilities = distribution(self.probabilities, "probabilities", values.size)
        object.__setattr__(self, "values", tuple(float(v) for v in values))
        object.__setattr__(self, "probabilities", tuple(float(p) for p in probabilities))

    @property
    def mean(self) -> float:
        return float(np.dot(self.values, self.probabilities))

    @property
    def std(self) -> float:
        values = np.asarray(self.values)
        return float(np.sqrt(np.dot((values - self.mean) ** 2, self.probabilities)))

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.values[int(rng.choice(len(self.values), p=np.asarray(self.probabilities)))])

    def describe(self) -> dict[str, Any]:
        return {"kind": "discrete", "values": list(self.values), "probabilities": list(self.probabilities)}


Prior = GaussianPrior | DiscretePrior


def build(prior: str = "gaussian", *, mean: float = 0.0, std: float = 1.0, values=None, probabilities=None) -> Prior:
    """A prior by kind: ``gaussian`` (``mean``, ``std``) or ``discrete`` (``values``, ``probabilities``)."""
    if prior == "gaussian":
        if values is not None or probabilities is not None:
            raise ValueError("values and probabilities belong to prior='discrete', not 'gaussian'")
        return GaussianPrior(float(mean), float(std))
    if prior == "discrete":
        if values is None or probabilities is None:
            raise ValueError("prior='discrete' needs values=[...] and probabilities=[...]")
        return DiscretePrior(tuple(values), tuple(probabilities))
    raise ValueError(f"unknown prior {prior!r}; valid priors: {list(PRIORS)}")
