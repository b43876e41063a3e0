"""The exact Aligner solver against hand-derived answers.

Two answers with rewards ``r = (0, 1)``, copy prior ``mu0 = (1 - eps) I + eps / 2`` with ``eps = 1/2`` (rows
``(3/4, 1/4)`` and ``(1/4, 3/4)``) and ``beta = 1``: the tilt ``mu*(y'|y) ∝ mu0(y'|y) e^{r(y')}`` gives
``mu*(1|0) = e / (3 + e)`` and ``mu*(1|1) = 3e / (1 + 3e)``; the corrector's value from ``y = 0`` is
``log(3/4 + e/4)``. A two-state chain's stationary odds are ``p(1) / p(0) = K[0,1] / K[1,0] = e (1 + 3e) / (3 + e)``,
which the closed form ``p*(y) ∝ e^{r(y)} ((1 - eps) e^{r(y)} + (eps / n) S)`` (``S = 1 + e``) reproduces:
``(e (1/4 + 3e/4)) / (3/4 + e/4)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aligngames.envs.aligner.problems import AlignerProblem, build
from aligngames.solvers.exact.aligner import (
    composite,
    copy_prior,
    corrector_kernel,
    distill,
    expected_reward,
    fixed_point,
    regularised_value,
    solve,
    stationary_distribution,
    tilt_fixed_point,
    win_rate,
)
from aligngames.tables import NotADistributionError, TableShapeError

E = math.e


def test_the_copy_prior_tilt_in_closed_form():
    kernel = corrector_kernel([0.0, 1.0], eps=0.5, beta=1.0)
    assert kernel[0] == pytest.approx([3 / (3 + E), E / (3 + E)])
    assert kernel[1] == pytest.approx([1 / (1 + 3 * E), 3 * E / (1 + 3 * E)])
    # the same kernel from the keep-or-resample form: keep y w.p. a(y), else draw from softmax(r / beta)
    rewards = np.array([0.2, -1.0, 0.7, 0.7])
    eps, beta = 0.3, 0.4
    tilt = np.exp(rewards / beta)
    softmax = tilt / tilt.sum()
    partition = (1 - eps) * tilt + eps / 4 * tilt.sum()
    keep = (1 - eps) * tilt / partition
    expected = keep[:, None] * np.eye(4) + (1 - keep)[:, None] * softmax[None, :]
    assert corrector_kernel(rewards, eps, beta) == pytest.approx(expected)


def test_the_tilt_maximises_the_regularised_objective_and_its_value_is_beta_log_z():
    rewards, eps, beta = np.array([0.0, 1.0, 0.3]), 0.4, 0.5
    prior = copy_prior(3, eps)
    kernel = corrector_kernel(rewards, eps, beta)

    def objective(row, y):
        return row @ rewards - beta * np.sum(row * np.log(row / prior[y]))

    rng = np.random.default_rng(0)
    for y in range(3):
        best = objective(kernel[y], y)
        assert best == pytest.approx(beta * math.log(prior[y] @ np.exp(rewards / beta)))
        for _ in range(20):  # every other distribution does worse (Gibbs variational principle)
            assert objective(rng.dirichlet(np.ones(3)), y) < best
    assert regularised_value([1.0, 0.0], [0.0, 1.0], 0.5, 1.0) == pytest.approx(math.log(0.75 + 0.25 * E))


def test_beta_zero_is_the_argmax_over_the_prior_support():
    # rewards (0, 1, 1): from y = 0 the two best answers each carry prior mass eps/3: one half each; from y = 1
    # the weights are 1 - eps + eps/3 = 0.8 and eps/3 = 0.1: 8/9 and 1/9
    kernel = corrector_kernel([0.0, 1.0, 1.0], eps=0.3, beta=0.0)
    assert kernel[0] == pytest.approx([0.0, 0.5, 0.5])
    assert kernel[1] == pytest.approx([0.0, 8 / 9, 1 / 9])
    assert corrector_kernel([0.0, 1.0, 1.0], eps=0.3, beta=1e-3) == pytest.approx(kernel, abs=1e-9)
    assert regularised_value([1.0, 0.0, 0.0], [0.0, 1.0, 1.0], 0.3, 0.0) == pytest.approx(1.0)
    # eps = 0: the support is y itself, so the corrector can only copy, at any beta
    for beta in (0.0, 1.0):
        assert corrector_kernel([0.0, 1.0, 2.0], eps=0.0, beta=beta) == pytest.approx(np.eye(3))
    # eps = 1: every row is softmax(r / beta), whatever y was
    kernel = corrector_kernel([0.0, math.log(3.0)], eps=1.0, beta=1.0)
    assert kernel == pytest.approx(np.array([[0.25, 0.75], [0.25, 0.75]]))


def test_composite_expected_reward_and_win_rate():
    # a greedy corrector (eps = 1, beta = 0) always outputs the better answer: q = (0, 1); against pi = (1/2, 1/2)
    # it wins when pi draws the worse answer (1/2) and ties otherwise (1/2 * 1/2): 3/4
    kernel = corrector_kernel([0.0, 1.0], eps=1.0, beta=0.0)
    corrected = composite([0.5, 0.5], kernel)
    assert corrected == pytest.approx([0.0, 1.0])
    assert expected_reward(corrected, [0.0, 1.0]) == pytest.approx(1.0)
    assert win_rate(corrected, [0.5, 0.5], [0.0, 1.0]) == pytest.approx(0.75)
    # a copying corrector wins exactly half of the time against its own upstream (P(>) = P(<) by symmetry)
    rng = np.random.default_rng(1)
    upstream, rewards = rng.dirichlet(np.ones(5)), rng.integers(0, 3, 5).astype(float)
    assert win_rate(composite(upstream, corrector_kernel(rewards, 0.0, 1.0)), upstream, rewards) == pytest.approx(0.5)


def test_the_stationary_distribution_of_iterated_correction():
    odds = E * (1 + 3 * E) / (3 + E)
    by_hand = np.array([1.0, odds]) / (1.0 + odds)
    kernel = corrector_kernel([0.0, 1.0], 0.5, 1.0)
    assert tilt_fixed_point([0.0, 1.0], 0.5, 1.0) == pytest.approx(by_hand)
    assert stationary_distribution(kernel) == pytest.approx(by_hand)
    # on a larger random instance: closed form = eigenvector = the limit of distillation rounds
    rng = np.random.default_rng(2)
    rewards, upstream = rng.normal(size=6), rng.dirichlet(np.ones(6))
    kernel = corrector_kernel(rewards, 0.2, 0.7)
    closed = tilt_fixed_point(rewards, 0.2, 0.7)
    assert stationary_distribution(kernel) == pytest.approx(closed, abs=1e-10)
    path = distill(upstream, kernel, rewards, 400)
    assert path.upstreams[-1] == pytest.approx(closed, abs=1e-9)
    assert path.fixed_point == pytest.approx(closed, abs=1e-10)
    assert path.composites[0] == pytest.approx(composite(upstream, kernel))  # pi_1 = q_0
    assert path.expected_rewards[0] == pytest.approx(expected_reward(path.composites[0], rewards))


def test_fixed_points_at_the_limits():
    # beta = 0: the chain lives on the best answers and is symmetric there: uniform over them
    kernel = corrector_kernel([0.0, 1.0, 1.0], 0.3, 0.0)
    assert fixed_point([1.0, 0.0, 0.0], kernel) == pytest.approx([0.0, 0.5, 0.5])
    # eps = 0: nothing moves; the stationary distribution is not unique and the limit is the start
    with pytest.raises(ValueError, match="not unique"):
        stationary_distribution(np.eye(3))
    assert fixed_point([0.2, 0.3, 0.5], np.eye(3)) == pytest.approx([0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="eps > 0 and beta > 0"):
        tilt_fixed_point([0.0, 1.0], 0.0, 1.0)


def test_solve_cooperative_matches_the_pieces():
    problem = AlignerProblem.from_tables([0.0, 1.0], [0.5, 0.5], eps=0.5, beta=1.0, answers=["bad", "good"])
    solution = solve(problem, rounds=3)
    result = solution.to_dict()
    assert result["kernel"][0] == pytest.approx([3 / (3 + E), E / (3 + E)])
    q_good = 0.5 * E / (3 + E) + 0.5 * 3 * E / (1 + 3 * E)
    assert result["composite"] == pytest.approx({"bad": 1 - q_good, "good": q_good})
    assert result["expected_reward"] == pytest.approx(q_good)
    # win when q draws good and pi bad, ties otherwise half: q_good/2 + (q_good/2 + (1 - q_good)/2)/2
    assert result["win_rate_vs_upstream"] == pytest.approx(q_good / 2 + 0.25)
    assert len(result["round_expected_reward"]) == 3 and result["round_expected_reward"][0] == pytest.approx(q_good)
    odds = E * (1 + 3 * E) / (3 + E)
    assert result["fixed_point"]["good"] == pytest.approx(odds / (1 + odds))


def test_red_team_value_and_strategy():
    # beta = 0, eps > 0: the corrector always reaches the best answer, so V(x) = max_y r(x, y); red picks the
    # prompt with the smallest best answer: value 0.6 on the second prompt
    problem = AlignerProblem.from_tables([[0.0, 1.0], [0.0, 0.6]], [[1.0, 0.0], [0.5, 0.5]], eps=0.5, beta=0.0)
    solution = solve(problem)
    assert solution.value == pytest.approx(0.6) and solution.red_strategy == pytest.approx([0.0, 1.0])
    assert solution.upstream_value == pytest.approx(0.0)  # without a corrector red picks the first prompt: 0
    # eps = 0: the corrector copies, so the value is the upstream's; a tie splits red's mixture
    copy = solve(AlignerProblem.from_tables([[0.0, 1.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]], eps=0.0, beta=1.0))
    assert copy.value == pytest.approx(0.5) and copy.red_strategy == pytest.approx([0.5, 0.5])
    # beta = 1, eps = 1/2, rewards (0, 1) on both prompts: the corrector's kernel is the module docstring's on
    # both; an upstream that always answers bad gets V = mu*(good | bad) = e / (3 + e), one that always answers
    # good V = mu*(good | good) = 3e / (1 + 3e); red picks the first prompt
    soft = solve(AlignerProblem.from_tables([[0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], eps=0.5, beta=1.0),
                 rounds=2)
    assert soft.expected_rewards == pytest.approx([E / (3 + E), 3 * E / (1 + 3 * E)])
    assert soft.value == pytest.approx(E / (3 + E)) and soft.red_strategy == pytest.approx([1.0, 0.0])
    assert soft.upstream_value == pytest.approx(0.0)
    # a second round: pi_1 = q_0, so red's value is then min_x E_{q_1} r with q_1 = pi_0 K K; from bad,
    # P(good) = K[0,1] K[1,1] + K[0,0] K[0,1]
    bad_to_good, good_to_good = E / (3 + E), 3 * E / (1 + 3 * E)
    weak_prompt = bad_to_good * good_to_good + (1 - bad_to_good) * bad_to_good
    assert soft.round_expected_rewards() == pytest.approx([bad_to_good, weak_prompt])
    assert weak_prompt > bad_to_good  # distillation helps the weak prompt
    result = solve(build("two_prompts"), rounds=2).to_dict()
    assert result["red"]["best_prompts"] == ["tricky"]
    assert set(result["expected_reward"]) == {"easy", "tricky"}
    assert result["round_expected_reward"][0] == pytest.approx(result["red"]["value"])


def test_bad_input_raises_named_errors():
    with pytest.raises(ValueError, match="eps must be in"):
        corrector_kernel([0.0, 1.0], eps=1.5, beta=1.0)
    with pytest.raises(ValueError, match="eps must be in"):
        AlignerProblem.from_tables([0.0, 1.0], [0.5, 0.5], eps=-0.1)
    with pytest.raises(ValueError, match="beta must be"):
        corrector_kernel([0.0, 1.0], eps=0.5, beta=-1.0)
    with pytest.raises(NotADistributionError, match="upstream"):
        composite([0.5, 0.6], np.eye(2))
    with pytest.raises(NotADistributionError, match="upstream"):
        AlignerProblem.from_tables([0.0, 1.0], [0.5, 0.6])
    with pytest.raises(NotADistributionError, match=r"kernel\[1\]"):
        composite([0.5, 0.5], [[1.0, 0.0], [0.7, 0.7]])
    with pytest.raises(TableShapeError, match="upstream must have the shape of rewards"):
        AlignerProblem.from_tables([0.0, 1.0, 2.0], [0.5, 0.5])
    with pytest.raises(TableShapeError, match="kernel must be a square"):
        composite([1.0], [[0.5, 0.5]])
    with pytest.raises(TableShapeError, match="answers has 3 labels"):
        AlignerProblem.from_tables([0.0, 1.0], [0.5, 0.5], answers=["a", "b", "c"])
    with pytest.raises(ValueError, match="rounds must be"):
        distill([1.0, 0.0], np.eye(2), [0.0, 1.0], 0)
    with pytest.raises(ValueError, match="unknown example"):
        build("nope")
