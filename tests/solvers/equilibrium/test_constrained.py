"""Budgeted zero-sum games (the constrained preference game) against closed forms derived by hand on
rock-paper-scissors with a cost on paper, the shadow price against finite differences, and random games checked
by exploitability within the feasible sets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aligngames
from aligngames.game import BudgetConstraint
from aligngames.solvers.equilibrium.constrained import budgeted_exploitability, solve_budgeted
from aligngames.solvers.equilibrium.nash import solve_zero_sum

# rock, paper, scissors as a preference game: P - 1/2 with the winner preferred with probability 1
RPS = 0.5 * np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
PAPER_COSTS = [0.0, 1.0, 0.0]


@pytest.mark.parametrize("budget", [0.05, 0.2, 0.3])
def test_constrained_player_against_an_unconstrained_comparator(budget):
    # with P(paper) = p <= d binding, the row's worst case is 0.5 min(p - s, s - r, r - p); equalising the two
    # smallest terms gives s = 1/3, r = 2/3 - d and value 0.5 (d - 1/3), rising by 0.5 per unit of budget
    solution = solve_budgeted(RPS, BudgetConstraint(PAPER_COSTS, budget))
    np.testing.assert_allclose(solution.row, [2 / 3 - budget, budget, 1 / 3], atol=1e-9)
    assert solution.value == pytest.approx(0.5 * (budget - 1 / 3), abs=1e-12)
    assert solution.shadow_price == pytest.approx(0.5, abs=1e-9)
    assert solution.row_cost == pytest.approx(budget)


@pytest.mark.parametrize("budget", [0.05, 0.2, 0.3])
def test_both_players_constrained(budget):
    # (1 - d, d, 0) against itself: the best feasible reply puts d on paper (0.5 (1 - d)) and the rest on rock
    # (-0.5 d), worth exactly 0, so it is the symmetric equilibrium; the value stays 0 for every budget
    solution = solve_budgeted(RPS, BudgetConstraint(PAPER_COSTS, budget, "constrained"))
    np.testing.assert_allclose(solution.row, [1 - budget, budget, 0.0], atol=1e-9)
    np.testing.assert_allclose(solution.col, solution.row, atol=1e-9)
    assert solution.value == pytest.approx(0.0, abs=1e-12) and solution.shadow_price == pytest.approx(0.0, abs=1e-9)
    assert solution.col_cost <= budget + 1e-12


def test_a_slack_budget_changes_nothing():
    solution = solve_budgeted(RPS, BudgetConstraint(PAPER_COSTS, 0.5))
    np.testing.assert_allclose(solution.row, [1 / 3] * 3, atol=1e-9)
    assert solution.shadow_price == 0.0 and solution.value == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), constrained=st.booleans())
def test_random_budgeted_games(seed, constrained):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    skew = rng.uniform(-1, 1, (n, n))
    payoffs = skew - skew.T if constrained else rng.uniform(-1, 1, (n, n))
    costs = rng.uniform(0, 1, n)
    budget = float(rng.uniform(costs.min(), costs.max()))
    constraint = BudgetConstraint(costs, budget, "constrained" if constrained else "unconstrained")
    solution = solve_budgeted(payoffs, constraint)
    assert solution.row_cost <= budget + 1e-9
    assert budgeted_exploitability(payoffs, solution.row, solution.col, constraint) < 1e-8
    unconstrained = solve_zero_sum(payoffs).value
    if not constrained:  # a budget only takes options away from the row player
        assert solution.value <= unconstrained + 1e-9
        step = 1e-6  # the shadow price is the value's derivative in the budget (away from kinks)
        higher = solve_budgeted(payoffs, BudgetConstraint(costs, budget + step)).value
        assert higher - solution.value <= solution.shadow_price * step + 1e-9


def test_exploitability_detects_a_non_equilibrium():
    constraint = BudgetConstraint(PAPER_COSTS, 0.2)
    solution = solve_budgeted(RPS, constraint)
    assert budgeted_exploitability(RPS, solution.row, solution.col, constraint) == pytest.approx(0.0, abs=1e-12)
    assert budgeted_exploitability(RPS, np.array([1.0, 0.0, 0.0]), solution.col, constraint) > 0.1


def test_the_env_reports_costs_and_refuses_bad_budgets():
    env = aligngames.make_parallel("preference_game_v0", mode="tabular", scenario="food", costs=[0, 1, 0.5], budget=0.2)
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"player_0": 1, "player_1": 2})
    assert infos["player_0"]["cost"] == 1.0 and infos["player_1"]["cost"] == 0.5
    assert env.unwrapped.budget_constraint().to_dict() == {"costs": [0.0, 1.0, 0.5], "budget": 0.2,
                                                           "comparator": "unconstrained"}
    with pytest.raises(ValueError, match=r"budget -1 is infeasible: the cheapest action costs 0"):
        aligngames.make("preference_game_v0", mode="tabular", costs=[0, 1, 0.5], budget=-1)
    with pytest.raises(ValueError, match=r"costs has 2 entries for the 3 answers"):
        aligngames.make("preference_game_v0", mode="tabular", costs=[0, 1], budget=0.5)
    with pytest.raises(ValueError, match="costs and budget go together"):
        aligngames.make("preference_game_v0", mode="tabular", costs=[0, 1, 0.5])
    with pytest.raises(ValueError, match=r"comparator must be one of \['unconstrained', 'constrained'\]"):
        aligngames.make("preference_game_v0", mode="tabular", costs=[0, 1, 0.5], budget=0.5, comparator="both")
