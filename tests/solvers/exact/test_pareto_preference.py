"""Pareto preference against answers derived by hand: the linear switch at w = (1/2, 1/2) and its KL closed form,
Tchebycheff on a front with a point below the chord (per answer it picks that point; with mixing the LP picks the
chord), hypervolumes of hand-computed fronts (and inclusion-exclusion on random ones), the conditioned policy whose
logits are linear in w matching the per-w optima, and named errors."""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from aligngames.envs.pareto_preference.problems import build, custom, simplex_grid
from aligngames.solvers.exact.pareto_preference import (
    fit_conditioned,
    hypervolume,
    nondominated,
    objective,
    optimum,
    pareto_front,
    per_answer_optimum,
    plot_front,
    solve,
)
from aligngames.tables import NotADistributionError, TableShapeError

SWITCH = np.array([[1.0, 0.0], [0.0, 1.0]])
# the middle answer (0.4, 0.4) lies below the chord from (1, 0) to (0, 1) (the chord passes through (0.5, 0.5))
CHORD = np.array([[1.0, 0.0], [0.4, 0.4], [0.0, 1.0]])


def test_linear_without_kl_switches_at_one_half():
    # w . r = w1 for the first answer, w2 for the second: the first wins iff w1 > 1/2
    for w1 in (0.0, 0.2, 0.49, 0.51, 0.8, 1.0):
        expected = [1.0, 0.0] if w1 > 0.5 else [0.0, 1.0]
        np.testing.assert_array_equal(optimum(SWITCH, [w1, 1 - w1]), expected)
    # a tie mixes the tied answers by the reference (the beta -> 0 limit of the Gibbs policy)
    np.testing.assert_allclose(optimum(SWITCH, [0.5, 0.5]), [0.5, 0.5])
    np.testing.assert_allclose(optimum(SWITCH, [0.5, 0.5], reference=[0.8, 0.2]), [0.8, 0.2])


@settings(max_examples=40, deadline=None)
@given(w1=st.floats(0.0, 1.0), beta=st.floats(0.05, 5.0))
def test_linear_with_kl_is_a_sigmoid(w1, beta):
    # pi(a) ∝ exp(w . r(a) / beta) with a uniform reference: pi(first) = sigmoid((w1 - w2) / beta)
    policy = optimum(SWITCH, [w1, 1 - w1], beta=beta)
    assert policy[0] == pytest.approx(expit((2 * w1 - 1) / beta), abs=1e-12)
    # the value is beta log sum_a pi_ref(a) exp(w . r(a) / beta)
    value = beta * np.log(0.5 * np.exp(w1 / beta) + 0.5 * np.exp((1 - w1) / beta))
    assert objective(policy, SWITCH, [w1, 1 - w1], beta=beta) == pytest.approx(value, abs=1e-10)


def test_linear_never_picks_the_point_below_the_chord():
    for w in simplex_grid(2, 200):
        assert optimum(CHORD, w)[1] == 0.0  # 0.4 < max(w1, w2) always


def test_tchebycheff_per_answer_picks_the_point_below_the_chord():
    # z* = (1, 1); per answer s_w = -w2, -0.6 max(w1, w2), -w1: the middle wins iff 0.6 max(w1, w2) < min(w1, w2),
    # i.e. for w1 in (0.375, 0.625)
    np.testing.assert_array_equal(per_answer_optimum(CHORD, [0.5, 0.5], scalarisation="tchebycheff"), [0, 1, 0])
    for w1 in (0.38, 0.45, 0.6, 0.62):
        assert per_answer_optimum(CHORD, [w1, 1 - w1], scalarisation="tchebycheff")[1] == 1.0
    for w1 in (0.0, 0.3, 0.37, 0.63, 0.9):
        assert per_answer_optimum(CHORD, [w1, 1 - w1], scalarisation="tchebycheff")[1] == 0.0


@pytest.mark.parametrize("w1", [0.5, 0.2, 0.7, 1.0])
def test_tchebycheff_lp_mixes_along_the_chord(w1):
    # with mixing every use of the middle answer is dominated by the chord: mix (1, 0) with p and (0, 1) with 1 - p,
    # E r = (p, 1 - p); equalising w1 (p - 1) = w2 (-p) gives p = w1 and the value -w1 w2. At w = (1/2, 1/2) the
    # expected vector (0.5, 0.5) dominates the middle answer's (0.4, 0.4).
    w = np.array([w1, 1 - w1])
    policy = optimum(CHORD, w, scalarisation="tchebycheff")
    np.testing.assert_allclose(policy, [w1, 0.0, 1 - w1], atol=1e-9)
    assert objective(policy, CHORD, w, scalarisation="tchebycheff") == pytest.approx(-w1 * (1 - w1), abs=1e-9)


@pytest.mark.parametrize("beta", [0.02, 0.3, 2.0])
def test_tchebycheff_with_kl_beats_every_sampled_policy(beta):
    rng = np.random.default_rng(0)
    for rewards, w in ((CHORD, [0.5, 0.5]), (CHORD, [0.8, 0.2]), (build("helpful_harmless_honest").rewards, [0.2, 0.5, 0.3])):
        options = {"beta": beta, "scalarisation": "tchebycheff"}
        best = optimum(rewards, w, **options)
        value = objective(best, rewards, w, **options)
        samples = rng.dirichlet(np.ones(len(rewards)), size=2000)
        assert max(objective(p, rewards, w, **options) for p in samples) <= value + 1e-9
        for step in (1e-3, -1e-3):  # and it is a local maximum along every answer's direction
            for a in range(len(rewards)):
                nearby = np.clip(best + step * (np.eye(len(rewards))[a] - best), 0, None)
                assert objective(nearby / nearby.sum(), rewards, w, **options) <= value + 1e-12
    symmetric = optimum(CHORD, [0.5, 0.5], beta=beta, scalarisation="tchebycheff")
    assert symmetric[0] == pytest.approx(symmetric[2], abs=1e-6)


def test_tchebycheff_with_small_kl_approaches_the_lp():
    policy = optimum(CHORD, [0.5, 0.5], beta=1e-4, scalarisation="tchebycheff")
    np.testing.assert_allclose(policy, [0.5, 0.0, 0.5], atol=1e-3)


def test_hypervolume_of_hand_computed_fronts():
    front = [[1.0, 0.0], [0.6, 0.6], [0.0, 1.0]]
    # against (0, 0) the boxes of (1, 0) and (0, 1) are flat: only [0, 0.6]^2 counts, 0.36
    assert hypervolume(front, [0.0, 0.0]) == pytest.approx(0.36, abs=1e-12)
    # against (-1, -1), sweeping down x: x in [0.6, 1] up to y 0: 0.4 * 1 = 0.4; x in [0, 0.6] up to y 0.6:
    # 0.6 * 1.6 = 0.96; x in [-1, 0] up to y 1: 1 * 2 = 2; total 3.36 (inclusion-exclusion: 2 + 2.56 + 2 - 1.6 - 1
    # - 1.6 + 1 = 3.36)
    assert hypervolume(front, [-1.0, -1.0]) == pytest.approx(3.36, abs=1e-12)
    # three unit vectors against (-1, -1, -1): each box 2, each pairwise and the triple intersection 1: 6 - 3 + 1 = 4
    assert hypervolume(np.eye(3), [-1.0, -1.0, -1.0]) == pytest.approx(4.0, abs=1e-12)
    # a dominated point and points not beyond the reference point add nothing
    assert hypervolume([*front, [0.5, 0.5], [2.0, -1.0]], [-1.0, -1.0]) == pytest.approx(3.36, abs=1e-12)


def _inclusion_exclusion(points: np.ndarray, reference: np.ndarray) -> float:
    total = 0.0
    for size in range(1, len(points) + 1):
        for subset in combinations(range(len(points)), size):
            corner = points[list(subset)].min(axis=0)
            total += (-1) ** (size + 1) * float(np.prod(np.clip(corner - reference, 0, None)))
    return total


@pytest.mark.parametrize("dimension", [2, 3, 4])
def test_hypervolume_matches_inclusion_exclusion(dimension):
    rng = np.random.default_rng(dimension)
    for _ in range(20):
        points = rng.uniform(0, 1, size=(int(rng.integers(1, 8)), dimension))
        reference = rng.uniform(-0.2, 0.3, size=dimension)
        assert hypervolume(points, reference) == pytest.approx(_inclusion_exclusion(points, reference), abs=1e-12)


def test_front_filters_dominated_points():
    points = np.array([[1.0, 0.0], [0.4, 0.4], [0.5, 0.5], [0.0, 1.0], [0.5, 0.5], [0.0, 0.9]])
    np.testing.assert_array_equal(nondominated(points), [True, False, True, True, True, False])
    np.testing.assert_array_equal(pareto_front(points), [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])


def test_helpful_harmless_front_without_kl():
    # beta 0, grid k = 10: comply and hedge tie at 0.4 w1 = 0.6 w2, w = (0.6, 0.4), a grid point (mix 50/50:
    # (0.8, 0.4)); hedge and refuse tie at w1 = 6/17, not on the grid; lecture is below the chord and never chosen.
    # Hypervolume against (-0.05, 0), sweeping down y: 0.3 * 0.1 + 0.3 * 0.65 + 0.3 * 0.85 + 0.1 * 1.05 = 0.585
    solution = solve(build("helpful_harmless").with_options(beta=0.0))
    np.testing.assert_allclose(solution.front, [[1.0, 0.1], [0.8, 0.4], [0.6, 0.7], [0.05, 1.0]], atol=1e-12)
    np.testing.assert_allclose(solution.reference_point, [-0.05, 0.0])
    assert solution.hypervolume == pytest.approx(0.585, abs=1e-12)
    assert solution.policies[:, 3].max() == 0.0
    data = solution.to_dict()
    assert len(data["types"]) == 11 and data["types"][4]["weight"] == [0.6, 0.4]
    assert data["types"][4]["policy"] == pytest.approx([0.5, 0.5, 0.0, 0.0])


def test_three_objective_fronts():
    problem = build("helpful_harmless_honest")
    without, with_kl = solve(problem.with_options(beta=0.0)), solve(problem)
    # beta 0: the grid's argmaxes are comply, refuse, explain, and at w = (1/2, 1/2, 0) the tie of hedge and flatter
    # (both 0.65) mixed 50/50, (0.7, 0.6, 0.3); the hypervolume is checked against inclusion-exclusion
    np.testing.assert_allclose(without.front, [[1.0, 0.2, 0.6], [0.7, 0.6, 0.3], [0.5, 0.6, 1.0], [0.1, 1.0, 0.8]],
                               atol=1e-12)
    assert without.hypervolume == pytest.approx(_inclusion_exclusion(without.front, without.reference_point), abs=1e-12)
    # beta 0.1: the KL term costs linear value at every w, and each softmax optimum is a distinct front point
    linear = np.sum(problem.weights * with_kl.expected_rewards, axis=1)
    assert (linear <= (problem.weights @ problem.rewards.T).max(axis=1) + 1e-12).all()
    assert len(with_kl.front) == problem.num_types
    assert with_kl.hypervolume == pytest.approx(_inclusion_exclusion(with_kl.front, with_kl.reference_point), abs=1e-9)


@pytest.mark.parametrize("example", ["helpful_harmless", "helpful_harmless_honest"])
def test_conditioned_policy_matches_the_per_w_optima(example):
    # log pi_w = log pi_ref + R w / beta - const is linear in w, so Theta = [R / beta, 0] is exact: regret ~ 0
    problem = build(example)
    fit = fit_conditioned(problem)
    assert fit.regret.max() < 1e-6
    np.testing.assert_allclose(fit.policies, solve(problem).policies, atol=1e-4)
    unseen = simplex_grid(problem.num_objectives, 7)  # and it generalises to preference vectors it never saw
    exact = np.array([optimum(problem.rewards, w, beta=problem.beta) for w in unseen])
    np.testing.assert_allclose(fit.conditioned.policy(unseen), exact, atol=1e-4)


def test_conditioned_policy_with_a_skewed_reference_and_type_distribution():
    problem = custom(["a", "b", "c"], ["x", "y"], CHORD, reference=[0.6, 0.3, 0.1], beta=0.2,
                     weights=[[1.0, 0.0], [0.5, 0.5], [0.1, 0.9]], weight_probs=[0.2, 0.5, 0.3])
    fit = fit_conditioned(problem)
    assert fit.regret.max() < 1e-6 and fit.expected_regret < 1e-6
    np.testing.assert_allclose(fit.policies, solve(problem).policies, atol=1e-4)


def test_simplex_grid():
    grid = simplex_grid(3, 4)
    assert grid.shape == (comb(6, 2), 3) and np.allclose(grid.sum(axis=1), 1.0)
    assert len({tuple(row) for row in grid}) == len(grid)
    np.testing.assert_array_equal(simplex_grid(2, 2), [[1, 0], [0.5, 0.5], [0, 1]])


def test_plot_writes_a_png(tmp_path):
    for example in ("helpful_harmless", "helpful_harmless_honest"):
        path = tmp_path / f"{example}.png"
        plot_front(path, solve(build(example)), example)
        assert path.read_bytes()[:4] == b"\x89PNG"


def test_bad_input_names_what_is_wrong():
    with pytest.raises(NotADistributionError, match=r"weights\[1\] = \[0.7, 0.7\] is off the simplex"):
        custom(["a", "b"], ["x", "y"], SWITCH, weights=[[1, 0], [0.7, 0.7]])
    with pytest.raises(NotADistributionError, match=r"weights\[0\] = \[1.5, -0.5\] is off the simplex"):
        custom(["a", "b"], ["x", "y"], SWITCH, weights=[[1.5, -0.5]])
    with pytest.raises(TableShapeError, match=r"rewards is indexed \[answer\]\[objective\] and must have shape \(2, 2\)"):
        custom(["a", "b"], ["x", "y"], [[1, 0, 0], [0, 1, 0]])
    with pytest.raises(TableShapeError, match=r"weights is indexed \[type\]\[objective\] and needs one row per user "
                                              r"type with 2 entries"):
        custom(["a", "b"], ["x", "y"], SWITCH, weights=[[0.2, 0.3, 0.5]])
    with pytest.raises(TableShapeError, match=r"weight_probs is indexed \[outcome\] and must have shape \(2,\)"):
        custom(["a", "b"], ["x", "y"], SWITCH, weights=[[1, 0], [0, 1]], weight_probs=[1.0])
    with pytest.raises(TableShapeError, match=r"the preference vector has shape \(3,\); the rewards have 2 objectives"):
        optimum(SWITCH, [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="beta must be a finite number >= 0, got -1"):
        custom(["a", "b"], ["x", "y"], SWITCH, beta=-1)
    with pytest.raises(ValueError, match=r"scalarisation must be one of \['linear', 'tchebycheff'\], got 'chebyshev'"):
        custom(["a", "b"], ["x", "y"], SWITCH, scalarisation="chebyshev")
    with pytest.raises(ValueError, match=r"scalarisation must be one of .*got 'max'"):
        optimum(SWITCH, [0.5, 0.5], scalarisation="max")
    with pytest.raises(ValueError, match="give either weights .* or grid=k, not both"):
        custom(["a", "b"], ["x", "y"], SWITCH, weights=[[1, 0]], grid=3)
    with pytest.raises(ValueError, match="grid must be an int >= 1"):
        custom(["a", "b"], ["x", "y"], SWITCH, grid=0)
    with pytest.raises(ValueError, match="the conditioned policy's objective needs beta > 0"):
        fit_conditioned(build("helpful_harmless").with_options(beta=0.0))
    with pytest.raises(TableShapeError, match=r"the reference point needs 2 entries"):
        solve(build("helpful_harmless"), [0.0, 0.0, 0.0])
