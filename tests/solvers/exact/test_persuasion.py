"""The persuasion LP against answers derived by hand.

Prosecutor and judge (Kamenica & Gentzkow 2011): prior P(guilty) = 0.3; the judge convicts iff
P(guilty | signal) >= 1/2; the prosecutor gets 1 for a conviction. The optimal scheme always recommends
"convict" when guilty and, when innocent, with probability q where 0.3 / (0.3 + 0.7 q) = 1/2, so q = 3/7
and P(convict) = 0.3 + 0.7 * 3/7 = 0.6; full disclosure convicts with probability 0.3, no disclosure never
(the prior 0.3 < 1/2). The judge is right with probability 0.3 + 0.7 * 4/7 = 0.7.

Variants, each from the same one-parameter family (recommend "convict" to the innocent with probability q):
- honest reporting with max_misleading = e: misleading = 0.7 q <= e, so q = min(e / 0.7, 3/7) and
  P(convict) = 0.3 + min(e, 0.3);
- a receiver floor f >= 0.7: the judge's utility 1 - 0.7 q >= f gives q = (1 - f) / 0.7, P(convict) = 1.3 - f;
- an anchored judge (belief 0.5 prior + 0.5 posterior): it convicts iff 0.15 + 0.5 p >= 0.5, i.e. the
  posterior p >= 0.7: 0.3 / (0.3 + 0.7 q) >= 0.7 gives q = 9/49 and P(convict) = 0.3 + 9/70 = 3/7;
- a credulous judge follows every recommendation: P(convict) = 1.

Recommendation example (prior heavy 0.4): the user buys premium iff P(heavy) >= 1/2; premium-signal from light
users with probability 2/3 gives sender 0.4 * 2 + 0.6 * (2/3 * 2 + 1/3 * 1) = 1.8, user 1.0.
"""

from __future__ import annotations

import numpy as np
import pytest

from aligngames.agents.persuasion import ReceiverModel
from aligngames.envs.persuasion.problems import PersuasionProblem, prosecutor, recommendation
from aligngames.solvers.exact.persuasion import evaluate_scheme, solve
from aligngames.tables import InfeasibleConstraintError, NotADistributionError, TableShapeError


def test_prosecutor_convicts_with_probability_0_6():
    solution = solve(prosecutor())
    assert solution.sender_value == pytest.approx(0.6, abs=1e-9)
    assert solution.receiver_value == pytest.approx(0.7, abs=1e-9)
    np.testing.assert_allclose(solution.scheme, [[0.0, 1.0], [4 / 7, 3 / 7]], atol=1e-9)  # [state][acquit, convict]
    assert solution.full_disclosure.sender_value == pytest.approx(0.3, abs=1e-12)
    assert solution.full_disclosure.receiver_value == pytest.approx(1.0, abs=1e-12)
    assert solution.no_disclosure.sender_value == pytest.approx(0.0, abs=1e-12)
    assert solution.no_disclosure.receiver_value == pytest.approx(0.7, abs=1e-12)
    # the judge obeys: its posterior after "convict" is exactly 1/2 and it convicts (ties go to the prosecutor)
    assert solution.optimal.actions == (0, 1)
    assert solution.optimal.beliefs[1, 0] == pytest.approx(0.5, abs=1e-9)
    assert solution.optimal.sender_value == pytest.approx(0.6, abs=1e-9)
    assert solution.misleading_probability == pytest.approx(0.3, abs=1e-9)
    data = solution.to_dict()
    assert data["scheme"]["innocent"]["convict"] == pytest.approx(3 / 7, abs=1e-9)
    assert data["full_disclosure"]["sender_value"] == pytest.approx(0.3) and data["no_disclosure"]["sender_value"] == 0.0


@pytest.mark.parametrize(("max_misleading", "conviction"), [(0.0, 0.3), (0.1, 0.4), (0.21, 0.51), (0.3, 0.6), (0.5, 0.6)])
def test_honest_reporting_caps_the_misleading_probability(max_misleading, conviction):
    solution = solve(prosecutor(), max_misleading=max_misleading)
    assert solution.sender_value == pytest.approx(conviction, abs=1e-9)
    assert solution.misleading_probability <= max_misleading + 1e-9


@pytest.mark.parametrize(("floor", "conviction"), [(0.5, 0.6), (0.7, 0.6), (0.85, 0.45), (1.0, 0.3)])
def test_a_receiver_floor_trades_conviction_for_accuracy(floor, conviction):
    solution = solve(prosecutor(), receiver_floor=floor)
    assert solution.sender_value == pytest.approx(conviction, abs=1e-9)
    assert solution.receiver_value >= floor - 1e-9


def test_non_bayesian_receivers():
    anchored = solve(prosecutor(), ReceiverModel("anchored", 0.5))
    assert anchored.sender_value == pytest.approx(3 / 7, abs=1e-9)
    assert anchored.scheme[1, 1] == pytest.approx(9 / 49, abs=1e-9)
    assert evaluate_scheme(prosecutor(), anchored.scheme, ReceiverModel("anchored", 0.5)).sender_value == \
        pytest.approx(3 / 7, abs=1e-9)
    # the optimal scheme against a Bayesian judge is not obeyed by the anchored one: it acquits after "convict"
    bayes = solve(prosecutor())
    assert evaluate_scheme(prosecutor(), bayes.scheme, ReceiverModel("anchored", 0.5)).sender_value == pytest.approx(0.0)
    assert solve(prosecutor(), ReceiverModel("anchored", 1.0)).sender_value == pytest.approx(0.0, abs=1e-9)
    assert solve(prosecutor(), ReceiverModel("credulous")).sender_value == pytest.approx(1.0, abs=1e-9)


def test_recommendation_example():
    solution = solve(recommendation())
    assert solution.sender_value == pytest.approx(1.8, abs=1e-9)
    assert solution.receiver_value == pytest.approx(1.0, abs=1e-9)
    assert solution.full_disclosure.sender_value == pytest.approx(1.4) and solution.no_disclosure.sender_value == pytest.approx(1.0)
    np.testing.assert_allclose(solution.scheme[1], [2 / 3, 1 / 3, 0.0], atol=1e-9)


def test_the_lp_beats_every_scheme_on_a_grid():
    """Brute force over two-signal schemes of a random 3-state, 2-action problem: none beats the LP."""
    rng = np.random.default_rng(4)
    problem = PersuasionProblem(("a", "b", "c"), ("x", "y"), [0.5, 0.3, 0.2], rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))
    best = solve(problem).sender_value
    grid = np.linspace(0.0, 1.0, 11)
    found = max(evaluate_scheme(problem, np.array([[p, 1 - p], [q, 1 - q], [r, 1 - r]])).sender_value
                for p in grid for q in grid for r in grid)
    assert found <= best + 1e-9 and found >= best - 0.05


def test_infeasible_constraints_say_which():
    with pytest.raises(InfeasibleConstraintError, match=r"receiver_floor=1.5; the most the receiver can get is 1") as caught:
        solve(prosecutor(), receiver_floor=1.5)
    assert caught.value.constraints == ("receiver_floor",)
    # an anchored judge (0.9 on the prior) never convicts on a signal, so only dishonest schemes are obeyed
    with pytest.raises(InfeasibleConstraintError, match=r"max_misleading=0.0 .*an anchored receiver \(anchoring 0.9\)") as caught:
        solve(prosecutor(), ReceiverModel("anchored", 0.9), max_misleading=0.0)
    assert caught.value.constraints == ("max_misleading",)
    with pytest.raises(ValueError, match=r"max_misleading is a probability and must be in \[0, 1\], got 1.5"):
        solve(prosecutor(), max_misleading=1.5)


def test_named_errors_for_bad_tables():
    good = {"states": ["s", "t"], "actions": ["a", "b"], "prior": [0.5, 0.5],
            "sender_utility": [[1, 0], [0, 1]], "receiver_utility": [[1, 0], [0, 1]]}
    PersuasionProblem.from_mapping(good)
    with pytest.raises(NotADistributionError, match=r"prior is not a probability distribution: its entries sum to 0.9"):
        PersuasionProblem.from_mapping({**good, "prior": [0.5, 0.4]})
    with pytest.raises(NotADistributionError, match=r"prior is not a probability distribution: entry 1 is -0.5 < 0"):
        PersuasionProblem.from_mapping({**good, "prior": [1.5, -0.5]})
    with pytest.raises(TableShapeError, match=r"sender_utility is indexed \[state\]\[action\] and must have shape \(2, 2\), got shape \(2, 3\)"):
        PersuasionProblem.from_mapping({**good, "sender_utility": [[1, 0, 0], [0, 1, 0]]})
    with pytest.raises(TableShapeError, match=r"receiver_utility .* ragged .*rows of lengths \[2, 1\]"):
        PersuasionProblem.from_mapping({**good, "receiver_utility": [[1, 0], [0]]})
    with pytest.raises(TableShapeError, match=r"prior .* shape \(2,\), got shape \(3,\)"):
        PersuasionProblem.from_mapping({**good, "prior": [0.2, 0.3, 0.5]})
    with pytest.raises(TableShapeError, match=r"states must be distinct; repeated: \['s'\]"):
        PersuasionProblem.from_mapping({**good, "states": ["s", "s"]})
    with pytest.raises(ValueError, match=r"missing \['receiver_utility'\]"):
        PersuasionProblem.from_mapping({key: value for key, value in good.items() if key != "receiver_utility"})
    assert issubclass(NotADistributionError, ValueError) and issubclass(TableShapeError, ValueError)
