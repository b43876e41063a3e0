"""The optimal contract against answers derived by hand: the two-outcome moral-hazard case (risk-neutral with
limited liability, risk-neutral without it, and risk-averse), the coding-assistant example, and a grid of
contracts that never beats the solver."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aligngames.envs.contract.problems import ContractProblem, best_response, build, custom
from aligngames.solvers.exact.contract import evaluate, first_best, solve
from aligngames.tables import NotADistributionError, TableShapeError


def test_two_outcome_risk_neutral_with_limited_liability():
    # inducing high effort: pay nothing on failure and c / (p_high - p_low) = 1 / 0.4 = 2.5 on success;
    # expected wage 0.8 * 2.5 = 2, profit 0.8 * 6 - 2 = 2.8 > 2.4 (low effort for free); the agent keeps a
    # rent of 2 - 1 = 1, which is the whole agency cost (first best: 4.8 - 1 = 3.8)
    solution = solve(build("two_outcome"))
    np.testing.assert_allclose(solution.wages, [0.0, 2.5], atol=1e-9)
    assert solution.induced_effort == "high"
    assert solution.principal_profit == pytest.approx(2.8)
    assert solution.agent_rent == pytest.approx(1.0)
    assert (solution.first_best.effort, solution.first_best.profit) == ("high", pytest.approx(3.8))
    assert solution.agency_cost == pytest.approx(1.0)
    assert solution.by_effort[0].principal_profit == pytest.approx(2.4)


@settings(max_examples=40, deadline=None)
@given(p_low=st.floats(0.05, 0.6), gap=st.floats(0.1, 0.35), cost=st.floats(0.1, 3.0))
def test_two_outcome_bonus_is_cost_over_probability_gap(p_low, gap, cost):
    p_high = p_low + gap
    problem = custom(["low", "high"], ["failure", "success"], [[1 - p_low, p_low], [1 - p_high, p_high]],
                     [0.0, cost], [0.0, 100.0])
    contract = solve(problem).by_effort[1]
    np.testing.assert_allclose(contract.wages, [0.0, cost / gap], rtol=1e-7, atol=1e-9)
    assert contract.agent_utility == pytest.approx(p_low * cost / gap, rel=1e-7)  # the limited-liability rent


def test_without_limited_liability_a_risk_neutral_agent_costs_nothing_extra():
    # selling the project: a negative wage on failure; the expected wage is just the cost, so the agency cost is 0
    problem = ContractProblem.from_mapping({**build("two_outcome").to_dict(), "limited_liability": False})
    solution = solve(problem)
    assert solution.induced_effort == "high"
    assert solution.principal_profit == pytest.approx(3.8)
    assert solution.agent_rent == pytest.approx(0.0, abs=1e-9)
    assert solution.agency_cost == pytest.approx(0.0, abs=1e-9)
    assert solution.wages.min() < 0


def test_two_outcome_risk_averse_agent():
    # u = sqrt(w), U0 = 1: participation and incentive bind, 0.8 x_s + 0.2 x_f = 2 and 0.4 (x_s - x_f) = 1,
    # so x_f = 0, x_s = 2.5, w_s = 6.25, expected wage 5, profit 9.6 - 5 = 4.6 > 4.8 - 1 (low effort, w = 1);
    # first best pays (1 + 1)^2 = 4 flat: profit 5.6, agency cost 1 (a risk premium, no rent)
    problem = custom(["low", "high"], ["failure", "success"], [[0.6, 0.4], [0.2, 0.8]], [0.0, 1.0], [0.0, 12.0],
                     utility="sqrt", reservation_utility=1.0)
    solution = solve(problem)
    np.testing.assert_allclose(solution.wages, [0.0, 6.25], atol=1e-6)
    assert solution.induced_effort == "high"
    assert solution.principal_profit == pytest.approx(4.6, abs=1e-7)
    assert solution.agent_rent == pytest.approx(0.0, abs=1e-7)
    assert (solution.first_best.wage, solution.first_best.profit) == (pytest.approx(4.0), pytest.approx(5.6))
    assert solution.agency_cost == pytest.approx(1.0, abs=1e-7)
    np.testing.assert_allclose(solution.by_effort[0].wages, [1.0, 1.0], atol=1e-6)


def test_coding_assistant_pays_on_verified_work_only():
    # genuine work must beat shirking: (0.7 - 0.1) w_verified >= 1, and hacking: 0.6 w_verified >= 0.7
    problem = build("coding_assistant")
    solution = solve(problem)
    np.testing.assert_allclose(solution.wages, [0.0, 0.0, 5 / 3], atol=1e-9)
    assert solution.induced_effort == "genuine"
    assert solution.principal_profit == pytest.approx(3.7 - 0.7 * 5 / 3)
    # the naive contracts: a flat first-best wage buys shirking, paying on passing tests buys test hacking
    assert evaluate(problem, np.full(3, first_best(problem).wage))["effort"] == "shirk"
    assert evaluate(problem, [0.0, 1.0, 1.0])["effort"] == "reward_hack"
    assert best_response(problem, solution.wages) == 0


@pytest.mark.parametrize("utility", ["linear", "sqrt"])
def test_no_contract_on_a_grid_beats_the_optimum(utility):
    problem = ContractProblem.from_mapping({**build("coding_assistant").to_dict(), "utility": utility})
    best = solve(problem).principal_profit
    grid = np.linspace(0.0, 4.0, 21)
    profits = [evaluate(problem, wages)["principal_profit"] for wages in itertools.product(grid, repeat=3)]
    assert max(profits) <= best + 1e-9
    assert max(profits) >= best - 0.25  # the grid gets close: the solver is not merely an upper bound


def test_an_effort_no_contract_implements():
    # "busywork" costs more than shirking and changes nothing about the outcome
    problem = custom(["shirk", "busywork"], ["fail", "pass"], [[0.5, 0.5], [0.5, 0.5]], [0.0, 1.0], [0.0, 1.0])
    solution = solve(problem)
    assert not solution.by_effort[1].implementable
    assert solution.induced_effort == "shirk"
    assert solution.to_dict()["by_effort"][1] == {"effort": "busywork", "implementable": False}


def test_bad_tables_name_what_is_wrong():
    with pytest.raises(NotADistributionError, match=r"outcome_probs\['high'\] is not a probability distribution"):
        custom(["low", "high"], ["f", "s"], [[0.6, 0.4], [0.3, 0.8]], [0, 1], [0, 1])
    with pytest.raises(TableShapeError, match=r"effort_costs is indexed \[effort\] and must have shape \(2,\)"):
        custom(["low", "high"], ["f", "s"], [[0.6, 0.4], [0.2, 0.8]], [0, 1, 2], [0, 1])
    with pytest.raises(TableShapeError, match=r"outcome_probs is indexed \[effort\]\[outcome\]"):
        custom(["low", "high"], ["f", "s", "t"], [[0.6, 0.4], [0.2, 0.8]], [0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="utility='sqrt' is defined for wages >= 0 only"):
        custom(["low"], ["f"], [[1.0]], [0], [0], utility="sqrt", limited_liability=False)
    with pytest.raises(ValueError, match=r"utility must be one of \['linear', 'sqrt'\]"):
        custom(["low"], ["f"], [[1.0]], [0], [0], utility="log")
    with pytest.raises(ValueError, match=r"unknown keys in a contract problem: \['wage'\]"):
        ContractProblem.from_mapping({**build("two_outcome").to_dict(), "wage": 1})
