"""Every solver entry point refuses bad arrays with a message that names the argument, what it got and
what was expected (aligngames.solvers.inputs), instead of an error from inside numpy."""

from __future__ import annotations

import numpy as np
import pytest

from aligngames.solvers.equilibrium import mmd, mpo, nash, nash_md, spo
from aligngames.solvers.inputs import float_array, strategy_array
from aligngames.solvers.social_choice import generative, voting

PENNIES = [[1.0, -1.0], [-1.0, 1.0]]
PREFERENCES = [[0.5, 0.7], [0.3, 0.5]]

# one shared helper reads every array, so each bad input is tried on each kind of entry point
PAYOFF_ENTRIES = {
    "Nash LP": nash.solve_zero_sum,
    "MMD": lambda payoffs: mmd.solve(payoffs, iterations=2),
    "exploitability": lambda payoffs: nash.exploitability(payoffs, [0.5, 0.5], [0.5, 0.5]),
}
PREFERENCE_ENTRIES = {
    "MPO": lambda preferences: mpo.solve(preferences, outer_steps=1),
    "Nash-MD": lambda preferences: nash_md.solve(preferences, iterations=2),
    "SPO": lambda preferences: spo.solve(preferences, iterations=2),
}
BAD_ARRAYS = [
    ([], r"is empty \(shape \(0,\)\); expected"),
    ([[1.0, 2.0], [3.0]], r"is ragged \(rows of lengths \[2, 1\]\); expected"),
    ([["a", "b"], ["c", "d"]], r"must hold real numbers, got text \(shape \(2, 2\)\)"),
    ([[0.5, 1j], [0.5, 0.5]], r"must hold real numbers, got complex numbers"),
    ([[0.5, np.nan], [0.5, 0.5]], r"must be finite: 1 of its 4 entries are NaN or inf \(the first, at index \(0, 1\), is nan\)"),
    ([[0.5, 0.5], [np.inf, 0.5]], r"must be finite: .* at index \(1, 0\), is inf"),
    (None, r"is None; expected"),
]


@pytest.mark.parametrize(("value", "message"), BAD_ARRAYS, ids=["empty", "ragged", "text", "complex", "nan", "inf", "none"])
@pytest.mark.parametrize("solver", list(PAYOFF_ENTRIES))
def test_payoff_entry_points_name_the_bad_payoffs(solver, value, message):
    with pytest.raises(ValueError, match=rf"^{solver}: payoffs {message}"):
        PAYOFF_ENTRIES[solver](value)


@pytest.mark.parametrize(("value", "message"), BAD_ARRAYS, ids=["empty", "ragged", "text", "complex", "nan", "inf", "none"])
@pytest.mark.parametrize("solver", list(PREFERENCE_ENTRIES))
def test_preference_entry_points_name_the_bad_preferences(solver, value, message):
    with pytest.raises(ValueError, match=rf"^{solver}: preferences {message}"):
        PREFERENCE_ENTRIES[solver](value)


def test_wrong_number_of_axes():
    with pytest.raises(ValueError, match=r"Nash LP: expected a MatrixGame, a payoff matrix \(m, n\) or both players' "
                                         r"payoffs \(2, m, n\); got an array of shape \(3, 2, 2\)"):
        nash.solve_zero_sum(np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match=r"Nash LP: .*got an array of shape \(4,\)"):
        nash.solve_zero_sum([1.0, 2.0, 3.0, 4.0])
    for solver, solve in PREFERENCE_ENTRIES.items():
        with pytest.raises(ValueError, match=rf"{solver}: preferences must be a square preference matrix .*got shape \(2, 2, 2\)"):
            solve(np.full((2, 2, 2), 0.5))
    with pytest.raises(ValueError, match=r"margins must be a square margin matrix \(m, m\), got shape \(2, 2, 2\)"):
        nash.maximal_lottery(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"utilities must be an \(agents, statements\) utility matrix, got shape \(3,\)"):
        generative.greedy_slate([1.0, 2.0, 3.0], 1)


def test_strategy_lengths_and_values():
    with pytest.raises(ValueError, match=r"exploitability: row must have 2 entries \(one per action\) on its last axis, "
                                         r"got shape \(3,\)"):
        nash.exploitability(PENNIES, [1.0, 0.0, 0.0], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"exploitability: col must be finite: 1 of its 2 entries"):
        nash.exploitability(PENNIES, [0.5, 0.5], [np.nan, 1.0])
    with pytest.raises(ValueError, match=r"exploitability: the leading \(batch\) axes of payoffs \(3, 2, 2\), "
                                         r"row \(2, 2\) and col \(2,\) do not broadcast"):
        nash.exploitability(np.zeros((3, 2, 2)), np.full((2, 2), 0.5), [0.5, 0.5])
    with pytest.raises(ValueError, match=r"nash_conv: strategies\[1\] must have 3 entries"):
        nash.nash_conv(np.zeros((2, 2, 3)), [[0.5, 0.5], [1.0, 0.0]])
    with pytest.raises(ValueError, match=r"nash_conv: strategies must hold one strategy per player \(2\), got 1"):
        nash.nash_conv(np.zeros((2, 2, 3)), [[0.5, 0.5]])
    with pytest.raises(ValueError, match=r"nash_conv: payoffs must have shape \(num_players, n_1, ..., n_num_players\)"):
        nash.nash_conv(np.zeros((3, 2, 2)), [[0.5, 0.5]] * 3)
    with pytest.raises(ValueError, match=r"initial\[0\] must have 2 entries \(one per action\) on its last axis, got shape \(1,\)"):
        mmd.solve(PENNIES, iterations=2, initial=([1.0], [0.5, 0.5]))
    with pytest.raises(ValueError, match=r"magnet must be finite"):
        nash_md.solve(PREFERENCES, iterations=2, magnet=[np.nan, 0.5])
    with pytest.raises(ValueError, match=r"initial policy must be a probability vector"):
        mpo.solve(PREFERENCES, outer_steps=1, initial=[0.9, 0.9])
    with pytest.raises(ValueError, match="MPO needs alpha > 0"):
        mpo.solve(PREFERENCES, outer_steps=1, alpha=float("nan"))
    with pytest.raises(ValueError, match="eta must be > 0"):
        mmd.solve(PENNIES, iterations=2, eta=float("nan"))
    # the NashConv of a valid profile is unchanged: matching pennies, row plays heads, col mixes 50/50
    assert nash.exploitability(PENNIES, [1.0, 0.0], [0.5, 0.5]) == pytest.approx(1.0)


def test_preferences_within_rounding_of_the_unit_interval_are_clipped():
    # P(0 > 1) = 1 + 1e-13 (a sum of shares that rounds up): clipped to 1, the same game as exactly 1
    nearly = np.array([[0.5, 1.0 + 1e-13], [-1e-13, 0.5]])
    exact = np.array([[0.5, 1.0], [0.0, 0.5]])
    for solve in PREFERENCE_ENTRIES.values():
        np.testing.assert_array_equal(solve(nearly).policy, solve(exact).policy)
    np.testing.assert_allclose(mpo.solve(nearly, outer_steps=200).policy, [1.0, 0.0], atol=1e-6)  # 0 dominates
    for solver, solve in PREFERENCE_ENTRIES.items():
        with pytest.raises(ValueError, match=rf"{solver}: preferences entries must be probabilities in \[0, 1\] "
                                             r"\(up to 1e-12\); entry \(0, 1\) is 1.000000001"):
            solve(np.array([[0.5, 1.0 + 1e-9], [-1e-9, 0.5]]))


def test_voting_counts_and_greedy_slate_utilities():
    rankings = [[0, 1], [1, 0]]
    for rule in voting.WINNER_RULES.values():
        with pytest.raises(ValueError, match=r"counts must be finite: 1 of its 2 entries are NaN or inf"):
            rule(rankings, [1.0, np.nan])
    with pytest.raises(ValueError, match=r"counts must hold one weight per ranking: 2 rankings but 1 counts"):
        voting.plurality(rankings, [1.0])
    with pytest.raises(ValueError, match=r"counts must hold real numbers, got text"):
        voting.borda(rankings, ["1", "2"])
    with pytest.raises(ValueError, match=r"counts must be >= 0 and not all 0"):
        voting.copeland(rankings, [0.0, 0.0])
    with pytest.raises(ValueError, match=r"ranking 0: a ranking must list each of the 3 candidates 0..2 exactly once"):
        voting.copeland([[0, 1.5, 2]])
    with pytest.raises(ValueError, match=r"preferences is ragged \(rows of lengths \[2, 1\]\)"):
        voting.Election.from_preferences([[0.5, 0.5], [0.5]])
    with pytest.raises(ValueError, match=r"utilities must be finite: 1 of its 6 entries are NaN or inf "
                                         r"\(the first, at index \(1, 2\), is nan\)"):
        generative.greedy_slate([[1, 0, 4], [0, 1, np.nan]], 1)
    with pytest.raises(ValueError, match=r"utilities is ragged \(rows of lengths \[3, 2\]\)"):
        generative.greedy_slate([[1, 0, 4], [0, 1]], 1)


def test_the_helper_itself():
    np.testing.assert_array_equal(float_array([[1, 2], [3, 4]], "x", "a matrix", ndim=2), [[1.0, 2.0], [3.0, 4.0]])
    assert float_array([True, False], "x", "flags").dtype == np.float64
    with pytest.raises(ValueError, match=r"x must be a matrix, got shape \(2,\)"):
        float_array([1, 2], "x", "a matrix", ndim=2)
    with pytest.raises(ValueError, match=r"x must hold real numbers \(.*\); expected numbers"):
        float_array(np.array([1, object()], dtype=object), "x", "numbers")
    with pytest.raises(ValueError, match=r"x must be finite: .* \(missing\)$"):
        float_array([np.nan], "x", "numbers", hint=" (missing)")
    with pytest.raises(ValueError, match=r"s must have 3 entries \(one per action\) on its last axis, got shape \(\)"):
        strategy_array(0.5, 3, "s")
