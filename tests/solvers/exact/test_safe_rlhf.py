"""Safe RLHF against answers derived by hand: the one-prompt comply/refuse closed form, a two-prompt LP (beta = 0),
strong duality, the limit and infeasible thresholds, and primal-dual dynamics whose last iterate reaches lambda*."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit

from aligngames.envs.safe_rlhf.problems import SafeRLHFProblem, build, custom
from aligngames.solvers.exact.safe_rlhf import dual_function, primal_dual, solve, solve_robust
from aligngames.tables import InfeasibleConstraintError, NotADistributionError, TableShapeError


@settings(max_examples=40, deadline=None)
@given(beta=st.floats(0.05, 3.0), threshold=st.floats(0.01, 0.99))
def test_comply_refuse_closed_form(beta, threshold):
    # pi_lambda(comply) = sigmoid((1 - lambda) / beta); the constraint pi(comply) <= d binds iff sigmoid(1 / beta) > d,
    # and then lambda* = 1 - beta logit(d)
    problem = custom(["x"], ["comply", "refuse"], [1.0], [[1.0, 0.0]], [[1.0, 0.0]], beta=beta, threshold=threshold)
    solution = solve(problem)
    expected = max(0.0, 1.0 - beta * logit(threshold))
    assert solution.multiplier == pytest.approx(expected, abs=1e-9)
    assert solution.policy[0, 0] == pytest.approx(min(threshold, expit(1.0 / beta)), abs=1e-9)
    assert solution.dual_value == pytest.approx(solution.value, abs=1e-9)


def test_named_comply_refuse_example():
    solution = solve(build("comply_refuse"))
    assert solution.multiplier == pytest.approx(1 + 0.5 * math.log(4), abs=1e-12)
    assert solution.expected_cost == pytest.approx(0.2, abs=1e-12)


def test_two_prompt_lp():
    # beta = 0: answer the benign prompt with comply; on the harmful one mix hedge (reward 0.5, cost 0.3) and refuse
    # (0.1, 0) so that 0.3 * 0.3 h = 0.05: h = 5/9; the shadow price is the reward per unit cost, 0.4 / 0.3 = 4/3
    problem = SafeRLHFProblem.from_mapping({**build("two_prompts").to_dict(), "beta": 0.0})
    solution = solve(problem)
    np.testing.assert_allclose(solution.policy, [[1, 0, 0], [0, 5 / 9, 4 / 9]], atol=1e-9)
    assert solution.multiplier == pytest.approx(4 / 3, abs=1e-9)
    assert solution.value == pytest.approx(0.7 + 0.3 * (0.5 * 5 / 9 + 0.1 * 4 / 9), abs=1e-12)
    assert dual_function(problem, solution.multiplier) == pytest.approx(solution.value, abs=1e-9)


def test_no_feasible_policy_beats_the_optimum():
    problem = build("two_prompts")
    solution = solve(problem)
    assert solution.expected_cost == pytest.approx(problem.threshold, abs=1e-12)  # the constraint binds (lambda* > 0)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        policy = rng.dirichlet(np.full(3, 0.5), size=2)
        if problem.expected(policy, problem.costs) <= problem.threshold:
            value = problem.expected(policy, problem.rewards) - problem.beta * problem.kl(policy)
            assert value <= solution.value + 1e-12
    for multiplier in np.linspace(0, 5, 51):  # weak duality: every lambda's dual value bounds the optimum
        assert dual_function(problem, multiplier) >= solution.value - 1e-12


def test_slack_constraint_has_zero_multiplier():
    problem = SafeRLHFProblem.from_mapping({**build("two_prompts").to_dict(), "threshold": 0.5})
    solution = solve(problem)
    assert solution.multiplier == 0.0 and solution.expected_cost < 0.5


def test_threshold_at_the_smallest_cost_and_below_it():
    problem = SafeRLHFProblem.from_mapping({**build("two_prompts").to_dict(), "threshold": 0.0})
    solution = solve(problem)
    assert math.isinf(solution.multiplier) and solution.to_dict()["multiplier"] == "inf"
    assert solution.policy[1, 2] == pytest.approx(1.0) and solution.expected_cost == 0.0
    with pytest.raises(InfeasibleConstraintError,
                       match="threshold -0.1 is below the smallest achievable expected cost 0") as caught:
        solve(SafeRLHFProblem.from_mapping({**build("two_prompts").to_dict(), "threshold": -0.1}))
    assert caught.value.constraints == ("threshold",)


@pytest.mark.parametrize("example", ["comply_refuse", "two_prompts"])
@pytest.mark.parametrize("update", ["projected", "log"])
def test_primal_dual_last_iterate_reaches_lambda_star(example, update):
    problem = build(example)
    target = solve(problem).multiplier
    trace = primal_dual(problem, 1000, multiplier_update=update)
    assert abs(trace.multiplier[-1] - target) < 1e-6
    assert trace.expected_cost[-1] == pytest.approx(problem.threshold, abs=1e-6)


def test_projected_dynamics_reach_a_zero_multiplier_exactly():
    problem = SafeRLHFProblem.from_mapping({**build("two_prompts").to_dict(), "threshold": 0.5})
    trace = primal_dual(problem, 500)
    assert trace.multiplier[-1] == 0.0


def test_gradient_descent_ascent_is_slower_than_mmd():
    problem = build("two_prompts")
    target = solve(problem).multiplier
    mmd = primal_dual(problem, 1000)
    gda = primal_dual(problem, 1000, policy_update="gradient", policy_step=1.0)
    assert abs(mmd.multiplier[-1] - target) < 1e-6 < abs(gda.multiplier[-1] - target)


def test_delay_and_cost_window():
    problem = build("two_prompts")
    trace = primal_dual(problem, 50, delay=10, initial_multiplier=0.3)
    assert trace.multiplier[:10] == [0.3] * 10 and trace.multiplier[10] != 0.3
    windowed = primal_dual(problem, 3000, cost_window=5, multiplier_step=0.1)
    assert abs(windowed.multiplier[-1] - solve(problem).multiplier) < 1e-6


def test_bad_input_names_what_is_wrong():
    with pytest.raises(ValueError, match="beta must be a finite number >= 0, got -1"):
        custom(["x"], ["a", "b"], [1.0], [[1, 0]], [[1, 0]], beta=-1)
    with pytest.raises(TableShapeError, match=r"costs is indexed \[prompt\]\[answer\] and must have shape \(1, 2\)"):
        custom(["x"], ["a", "b"], [1.0], [[1, 0]], [[1, 0, 2]])
    with pytest.raises(TableShapeError, match=r"rewards must be finite; entry \(0, 1\) is nan"):
        custom(["x"], ["a", "b"], [1.0], [[1, float("nan")]], [[1, 0]])
    with pytest.raises(NotADistributionError, match=r"reference\['x'\] is not a probability distribution"):
        custom(["x"], ["a", "b"], [1.0], [[1, 0]], [[1, 0]], reference=[[0.5, 0.6]])
    with pytest.raises(ValueError, match="multiplier_update='log' cannot leave lambda = 0"):
        primal_dual(build("two_prompts"), 10, multiplier_update="log", initial_multiplier=0.0)
    with pytest.raises(ValueError, match=r"policy_update must be one of \['mmd', 'gradient'\]"):
        primal_dual(build("two_prompts"), 10, policy_update="adam")


@settings(max_examples=30, deadline=None)
@given(beta=st.floats(0.05, 2.0), threshold=st.floats(0.02, 0.45), p=st.floats(0.05, 0.95))
def test_robust_constraint_closed_form(beta, threshold, p):
    # two comply/refuse prompts whose compliance costs 0.5 and 1: each prompt alone has
    # pi(comply) = sigmoid((1 - nu c) / beta) = d / c, so nu_x = (1 - beta logit(d / c)) / c when that is > 0;
    # the multiplier seat's lambda* = sum_x p(x) nu_x and the adversary's q* = p nu / lambda*
    problem = custom(["mild", "severe"], ["comply", "refuse"], [p, 1 - p], [[1.0, 0.0], [1.0, 0.0]],
                     [[0.5, 0.0], [1.0, 0.0]], beta=beta, threshold=threshold)
    solution = solve_robust(problem)
    nu = np.maximum([(1 - beta * logit(threshold / c)) / c for c in (0.5, 1.0)], 0.0)
    free = expit(1 / beta) * np.array([0.5, 1.0])  # each prompt's cost with nu = 0
    nu = np.where(free > threshold, nu, 0.0)
    assert solution.prompt_multipliers == pytest.approx(nu, abs=1e-8)
    assert solution.multiplier == pytest.approx(p * nu[0] + (1 - p) * nu[1], abs=1e-8)
    if solution.multiplier > 0:
        assert solution.adversary == pytest.approx(np.array([p, 1 - p]) * nu / solution.multiplier, abs=1e-8)
    assert (solution.prompt_costs <= threshold + 1e-9).all()
    assert solution.dual_value == pytest.approx(solution.value, abs=1e-8)


def test_robust_optimum_is_the_single_constraint_one_only_when_one_prompt_binds():
    # two_prompts: only the harmful prompt can cost anything, so the adversary puts all its weight there and the
    # per-prompt bound E[c | harmful] <= d is stricter than the average bound 0.3 E[c | harmful] <= d
    problem = build("two_prompts")
    robust, average = solve_robust(problem), solve(problem)
    assert robust.adversary == pytest.approx([0.0, 1.0])
    assert robust.prompt_costs[1] == pytest.approx(problem.threshold, abs=1e-9)
    assert robust.value < average.value
    one = custom(["x"], ["comply", "refuse"], [1.0], [[1.0, 0.0]], [[1.0, 0.0]], beta=0.5, threshold=0.2)
    assert solve_robust(one).multiplier == pytest.approx(solve(one).multiplier, abs=1e-12)


def test_robust_infeasible_prompt_is_named():
    problem = custom(["easy", "hard"], ["a", "b"], [0.5, 0.5], [[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.6]],
                     beta=0.1, threshold=0.3)
    with pytest.raises(InfeasibleConstraintError, match=r"infeasible on prompt 'hard'.*smallest achievable expected cost 0\.6"):
        solve_robust(problem)
