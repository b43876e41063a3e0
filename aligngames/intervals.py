"""Confidence intervals for means: Student's t (tournament payoffs, win rates) and the percentile
bootstrap (judge accuracies), both from scipy.stats."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_and_ci95(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% t-interval (NaN for fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float(values.mean()) if values.size else float("nan"), float("nan")
    sem = float(values.std(ddof=1)) / np.sqrt(values.size)
    return float(values.mean()), float(stats.t.ppf(0.975, values.size - 1) * sem)


def bootstrap_interval(values: Sequence[float], confidence: float, resamples: int,
                       rng: np.random.Generator) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and a percentile-bootstrap interval over ``values``."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if values.size < 2 or np.all(values == values[0]):
        return mean, mean, mean  # no spread to resample
    result = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=resamples,
                             method="percentile", rng=rng)
    return mean, float(result.confidence_interval.low), float(result.confidence_interval.high)
