"""Confidence intervals: known values of the t-interval and the bootstrap's normal approximation."""

import math

import numpy as np

from aligngames.intervals import bootstrap_interval, mean_and_ci95


def test_t_interval_of_three_values():
    mean, half_width = mean_and_ci95([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert math.isclose(half_width, 4.30265272975 / math.sqrt(3), rel_tol=1e-10)  # t(0.975, 2) * s / sqrt(n)
    assert math.isnan(mean_and_ci95([5.0])[1]) and mean_and_ci95([5.0])[0] == 5.0
    assert all(math.isnan(v) for v in mean_and_ci95([]))


def test_bootstrap_interval():
    rng = np.random.default_rng(0)
    mean, low, high = bootstrap_interval([0.0, 1.0] * 50, 0.95, 2000, rng)
    assert mean == 0.5 and 0.38 < low < 0.45 and 0.55 < high < 0.62  # normal approx: 0.5 +- 0.098
    assert bootstrap_interval([1.0] * 10, 0.95, 100, rng) == (1.0, 1.0, 1.0)
