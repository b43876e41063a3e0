"""Known answers of the alignment-elasticity model (:mod:`aligngames.solvers.exact.elasticity`).

Hand-derived cases (two behaviours, refuse / comply, align onto refuse with pre-training mass q, undo onto comply):
d_a = (1 - q, q - 1), c = 2 (1 - q)^2, s = <(-q, q), d_a> = -2 q (1 - q), so -s / c = q / (1 - q).

- pooled, q = 0.1, N_pre = 900, N_align = 100 (M = 1000): ratio N_align / N_half = 100/1000 + 2 (0.1/0.9) = 0.3222...,
  N_half = 310.34...; at N_undo = 1000 the refusal mass is (90 + 100) / 2000 = 0.095, below the base 0.1.
- undo data drawn from p_pre (s = 0): elastic R = exp(-eta N_undo) for every N_pre, N_half = ln 2 / eta; pooled
  N_half = M (dilution only).
- elastic, N_pre = 0: each stage ends at m_s = p_s relaxed for time eta N_s: refusal mass after aligning
  1 - 0.9 exp(-1) for eta N_align = 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

from aligngames.solvers.exact.elasticity import (
    ElasticityProblem,
    aligned_policy,
    first_order_logit_change,
    half_undo,
    mixture,
    remaining_fraction,
    sweep,
    undone_policy,
)


def two_behaviours(q=0.1, n_pre=900.0, n_align=100.0, learning_rate=0.01):
    return ElasticityProblem(np.array([q, 1 - q]), np.array([1.0, 0.0]), np.array([0.0, 1.0]), n_pre, n_align,
                             learning_rate)


def test_pooled_hand_derived_half_undo_and_ratio():
    problem = two_behaviours()
    assert half_undo(problem, "pooled") == pytest.approx(1000 * 100 / (100 + 2 * 1000 * 0.1 / 0.9))
    assert problem.n_align / half_undo(problem, "pooled") == pytest.approx(0.1 + 2 * 0.1 / 0.9)
    assert remaining_fraction(problem, half_undo(problem, "pooled"), "pooled") == pytest.approx(0.5)
    assert undone_policy(problem, 1000, "pooled")[0] == pytest.approx(0.095)


def test_pooled_mixture_is_the_numeric_maximum_likelihood_fit():
    rng = np.random.default_rng(0)
    distributions = [rng.dirichlet(np.ones(4)) for _ in range(3)]
    counts = [50.0, 7.0, 3.0]

    def loss(logits):
        log_policy = logits - np.log(np.exp(logits).sum())
        return -sum(n * p @ log_policy for n, p in zip(counts, distributions))

    fitted = minimize(loss, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    policy = np.exp(fitted) / np.exp(fitted).sum()
    np.testing.assert_allclose(policy, mixture(distributions, counts), atol=1e-6)


def test_closed_form_remaining_matches_the_policies_in_both_views():
    rng = np.random.default_rng(1)
    problem = ElasticityProblem(rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5)),
                                200.0, 30.0, 0.02)
    for view in ("pooled", "elastic"):
        aligned = problem.alignment(aligned_policy(problem, view))
        for n_undo in (0.0, 5.0, 40.0, 300.0):
            expected = problem.alignment(undone_policy(problem, n_undo, view)) / aligned
            assert remaining_fraction(problem, n_undo, view) == pytest.approx(expected, rel=1e-10)


def test_elastic_stage_is_the_natural_gradient_flow_in_logits():
    """Integrate dtheta/dt = (m - pi) / pi numerically for the undo stage and compare with the closed form."""
    problem = ElasticityProblem(np.array([0.2, 0.5, 0.3]), np.array([1.0, 0, 0]), np.array([0, 0.5, 0.5]), 100.0,
                                40.0, 0.03)
    start = aligned_policy(problem, "elastic")
    n_undo = 25.0
    target = mixture([problem.p_pre, problem.p_undo], [problem.n_pre, n_undo])

    def flow(_time, logits):
        policy = np.exp(logits - logits.max())
        policy /= policy.sum()
        return (target - policy) / policy

    end = solve_ivp(flow, (0, problem.learning_rate * n_undo), np.log(start), rtol=1e-11, atol=1e-12).y[:, -1]
    policy = np.exp(end) / np.exp(end).sum()
    np.testing.assert_allclose(policy, undone_policy(problem, n_undo, "elastic"), atol=1e-8)


def test_undo_on_pre_training_data_restores_by_the_pull_alone():
    """p_undo = p_pre (s = 0): elastic R = exp(-eta N_undo) for any N_pre, N_half = ln 2 / eta; pooled N_half = M."""
    for n_pre in (0.0, 50.0, 1e12):
        problem = ElasticityProblem(np.array([0.1, 0.9]), np.array([1.0, 0.0]), np.array([0.1, 0.9]), n_pre, 100.0, 0.01)
        assert half_undo(problem, "elastic") == pytest.approx(math.log(2) / 0.01, rel=1e-8)
        assert half_undo(problem, "pooled") == pytest.approx(n_pre + 100.0)


def test_no_pre_training_stiffness_overwrites():
    free = two_behaviours(n_pre=0.0, n_align=100.0)
    assert aligned_policy(free, "elastic")[0] == pytest.approx(1 - 0.9 * math.exp(-1))
    assert aligned_policy(free, "pooled")[0] == pytest.approx(1.0)


@pytest.mark.parametrize("q", [0.001, 0.999])
def test_elastic_first_order_half_undo_in_both_directions(q):
    """N << N_pre, eta N << 1: R ~ 1 - eta N + (N / N_align)^2 s / c, so N_half solves eta N + r (N / N_align)^2 = 1/2
    (r = -s/c = q / (1 - q)). eta = 1e-4, N_align = 10. q = 0.001 (aligning toward a rare behaviour): N_half = 218.6 (it tends to
    1 / (2 eta) = 5000 only as r -> 0); q = 0.999 (toward a common one): N_half = 0.2237 ~ N_align / sqrt(2 r)."""
    problem = two_behaviours(q=q, n_pre=1e9, n_align=10.0, learning_rate=1e-4)
    r = q / (1 - q)
    a, b = r / 10.0**2, 1e-4
    assert -problem.undo_projection() / problem.alignment_norm() == pytest.approx(r)
    assert half_undo(problem, "elastic") == pytest.approx((math.sqrt(b * b + 2 * a) - b) / (2 * a), rel=0.02)


def test_reverse_direction_is_easier_to_undo():
    forward = two_behaviours(q=0.1)
    for view in ("pooled", "elastic"):
        assert half_undo(forward.reversed(), view) < half_undo(forward, view)


def test_first_order_logit_change_matches_the_exact_small_fine_tune():
    p_pre, p_ft = np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.1, 0.3])
    exact = np.log(mixture([p_pre, p_ft], [1e5, 10.0])) - np.log(p_pre)
    exact -= exact.mean()
    np.testing.assert_allclose(first_order_logit_change(p_pre, p_ft, 1e5, 10.0), exact, rtol=2e-3)


def test_sweep_reports_kl_and_half_undo_for_both_views():
    result = sweep(two_behaviours(), [0.0, 100.0])
    for view in ("pooled", "elastic"):
        assert result[view]["rows"][0]["remaining"] == pytest.approx(1.0)
        assert result[view]["rows"][0]["kl_to_aligned"] == pytest.approx(0.0)
        assert result[view]["rows"][1]["kl_to_aligned"] > 0
    assert result["pooled"]["align_over_half_undo"] == pytest.approx(0.1 + 2 * 0.1 / 0.9)


@pytest.mark.parametrize(("change", "message"), [
    ({"p_pre": [0.5, 0.6]}, "p_pre is not a probability distribution"),
    ({"p_align": [1.0, 0.0, 0.0]}, "p_align has 3 entries"),
    ({"n_pre": -1.0}, "n_pre must be >= 0"),
    ({"n_align": 0.0}, "n_align must be > 0"),
    ({"p_pre": [0.0, 1.0]}, "p_pre must be positive"),
    ({"p_align": [0.1, 0.9]}, "p_align equals p_pre"),
])
def test_bad_input_names_the_argument(change, message):
    settings = {"p_pre": [0.1, 0.9], "p_align": [1.0, 0.0], "p_undo": [0.0, 1.0], "n_pre": 10.0, "n_align": 1.0}
    settings.update(change)
    with pytest.raises(ValueError, match=message):
        ElasticityProblem(**{key: np.asarray(value) if key.startswith("p_") else value for key, value in settings.items()})
    with pytest.raises(ValueError, match="view must be one of"):
        remaining_fraction(two_behaviours(), 1.0, "mixture")
