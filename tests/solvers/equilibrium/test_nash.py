"""Nash LP, exploitability and maximal lotteries against hand-derived answers, pref_voting and OpenSpiel."""

from __future__ import annotations

import importlib.util
import itertools
from fractions import Fraction

import numpy as np
import pytest

import aligngames
from aligngames.game import Dynamics, GameInfo, MatrixGame, Utility
from aligngames.solvers.equilibrium import nash

MATCHING_PENNIES = np.array([[1.0, -1.0], [-1.0, 1.0]])
RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
# Rock beats scissors by 2; paper beats rock and scissors beats paper by 1. For the skew-symmetric
# cycle [[0, -a, b], [a, 0, -c], [-b, c, 0]] the equilibrium is (c, b, a) / (a + b + c) = (1, 2, 1) / 4.
PERTURBED_RPS = np.array([[0.0, -1.0, 2.0], [1.0, 0.0, -1.0], [-2.0, 1.0, 0.0]])
# Interior 2x2: x = 3/7 makes the column player indifferent (3x - 2(1-x) = -x + (1-x)), y = 2/7 makes
# the row player indifferent (3y - (1-y) = -2y + (1-y)); value 3 * 2/7 - 5/7 = 1/7.
INTERIOR_2X2 = np.array([[3.0, -1.0], [-2.0, 1.0]])


@pytest.mark.parametrize(("payoffs", "row", "col", "value"), [
    (MATCHING_PENNIES, [0.5, 0.5], [0.5, 0.5], 0.0),
    (RPS, [1 / 3] * 3, [1 / 3] * 3, 0.0),
    (PERTURBED_RPS, [0.25, 0.5, 0.25], [0.25, 0.5, 0.25], 0.0),
    (INTERIOR_2X2, [3 / 7, 4 / 7], [2 / 7, 5 / 7], 1 / 7),
    # column 2 is dominated for the minimiser; the row player's maximin is the pure second row
    (np.array([[1.0, 0.0, 5.0], [2.0, 3.0, 4.0]]), [0.0, 1.0], [1.0, 0.0, 0.0], 2.0),
], ids=["matching_pennies", "rps", "perturbed_rps", "interior_2x2", "dominated_2x3"])
def test_known_equilibria(payoffs, row, col, value):
    solution = nash.solve_zero_sum(payoffs)
    np.testing.assert_allclose(solution.row, row, atol=1e-9)
    np.testing.assert_allclose(solution.col, col, atol=1e-9)
    assert solution.value == pytest.approx(value, abs=1e-9)
    assert nash.exploitability(payoffs, solution.row, solution.col) == pytest.approx(0.0, abs=1e-9)


def test_exploitability_by_hand():
    # row plays rock, column plays (1/2 rock, 1/2 paper): A col = (-1/2, 1/2, 0) so max 1/2;
    # row^T A = (0, -1, 1) so min -1: NashConv = 1/2 - (-1) = 3/2.
    assert nash.exploitability(RPS, [1, 0, 0], [0.5, 0.5, 0]) == pytest.approx(1.5)
    batch = np.stack([RPS, MATCHING_PENNIES[[0, 1, 1]][:, [0, 1, 1]]])  # two 3x3 games in one array
    rows = np.array([[1.0, 0, 0], [1 / 3] * 3])
    cols = np.array([[0.5, 0.5, 0], [1 / 3] * 3])
    gaps = nash.exploitability(batch, rows, cols)
    assert gaps.shape == (2,)
    assert gaps[0] == pytest.approx(1.5)
    assert gaps[1] == pytest.approx(nash.exploitability(batch[1], rows[1], cols[1]))


def test_large_random_game_is_an_equilibrium():
    payoffs = np.random.default_rng(0).uniform(-1, 1, (120, 90))
    solution = nash.solve_zero_sum(payoffs)
    assert nash.exploitability(payoffs, solution.row, solution.col) < 1e-9
    assert solution.row @ payoffs @ solution.col == pytest.approx(solution.value, abs=1e-9)


def test_constant_sum_and_constant_games():
    shifted = MatrixGame(np.stack([INTERIOR_2X2 + 1.0, 1.0 - INTERIOR_2X2]),
                         GameInfo(2, Utility.CONSTANT_SUM, Dynamics.SIMULTANEOUS, constant_sum=2.0))
    solution = nash.solve_zero_sum(shifted)
    assert solution.value == pytest.approx(1 / 7 + 1.0)
    np.testing.assert_allclose(solution.row, [3 / 7, 4 / 7], atol=1e-9)
    flat = nash.solve_zero_sum(np.full((2, 3), 0.25))
    assert flat.value == 0.25


def test_refuses_games_it_does_not_apply_to():
    general = MatrixGame(np.stack([INTERIOR_2X2, INTERIOR_2X2]), GameInfo(2, Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS))
    with pytest.raises(ValueError, match=r"two-player zero-sum or constant-sum.*general_sum"):
        nash.solve_zero_sum(general)
    with pytest.raises(ValueError, match="general-sum"):
        nash.solve_zero_sum(np.stack([INTERIOR_2X2, INTERIOR_2X2]))
    three = MatrixGame(np.zeros((3, 2, 2, 2)), GameInfo(3, Utility.ZERO_SUM, Dynamics.SIMULTANEOUS))
    with pytest.raises(ValueError, match="3 players"):
        nash.solve_zero_sum(three)
    with pytest.raises(ValueError, match="skew-symmetric"):
        nash.maximal_lottery(INTERIOR_2X2)


def test_food_scenario_maximal_lottery_by_hand():
    # margins: burger beats sushi by 0.3, sushi beats pasta by 0.5, pasta beats burger by 0.2; in a
    # 3-cycle each answer's weight is the margin of the edge it is not part of: (0.5, 0.2, 0.3).
    game = aligngames.make("preference_game_v0", mode="tabular", scenario="food").unwrapped.matrix_game()
    lottery = nash.maximal_lottery(2.0 * game.row_payoffs)  # row payoffs P - 1/2, margins 2P - 1
    np.testing.assert_allclose(lottery, [0.5, 0.2, 0.3], atol=1e-9)
    assert game.action_names[0] == ("burger", "sushi", "pasta")


def test_maximal_lottery_matches_pref_voting():
    from pref_voting.profiles import Profile
    from pref_voting.voting_methods import maximal_lottery

    rng = np.random.default_rng(7)
    for _ in range(5):
        num_candidates = int(rng.integers(3, 7))
        rankings = [list(rng.permutation(num_candidates)) for _ in range(9)]
        counts = [int(c) for c in rng.integers(1, 6, size=9)]
        if sum(counts) % 2 == 0:
            counts[0] += 1  # an odd number of strict voters makes the maximal lottery unique
        profile = Profile(rankings, rcounts=counts)
        margins = np.array([[profile.margin(a, b) for b in range(num_candidates)] for a in range(num_candidates)], float)
        expected = maximal_lottery(profile)
        ours = nash.maximal_lottery(margins)
        np.testing.assert_allclose(ours, [expected.get(c, 0.0) for c in range(num_candidates)], atol=1e-7)


def _openspiel_lp_missing() -> str | None:
    for module in ("cvxpy", "ecos"):
        if importlib.util.find_spec(module) is None:
            return f"OpenSpiel's LP solver needs {module}: pip install -e '.[bench]'"
    return None


@pytest.mark.skipif(_openspiel_lp_missing() is not None, reason=str(_openspiel_lp_missing()))
def test_value_matches_openspiel_lp():
    import pyspiel
    from open_spiel.python.algorithms import lp_solver

    rng = np.random.default_rng(3)
    for shape in [(4, 4), (7, 5), (30, 30)]:
        payoffs = rng.uniform(-1, 1, shape)
        game = pyspiel.create_matrix_game(payoffs.tolist(), (-payoffs).tolist())
        row, col, value, _ = lp_solver.solve_zero_sum_matrix_game(game)
        ours = nash.solve_zero_sum(payoffs)
        assert ours.value == pytest.approx(value, abs=1e-6)
        assert nash.exploitability(payoffs, np.asarray(row).ravel().clip(0), np.asarray(col).ravel().clip(0)) < 1e-5
        assert nash.exploitability(payoffs, ours.row, ours.col) < 1e-9


def _interior_point_games():
    rng = np.random.default_rng(42)
    yield "square", rng.standard_normal((160, 160))
    yield "wide", rng.standard_normal((150, 260))
    yield "tall", rng.standard_normal((260, 150))
    base = rng.standard_normal((150, 150))
    yield "duplicated rows", np.vstack([base, base[:40]])
    yield "integer ties", rng.integers(-2, 3, (170, 170)).astype(float)
    skew = rng.standard_normal((170, 170))
    yield "skew-symmetric", skew - skew.T
    # rank 4: the normal matrix turns singular near the optimum (a larger ridge keeps the method going)
    yield "low rank", rng.standard_normal((160, 4)) @ rng.standard_normal((4, 170))


@pytest.mark.parametrize(("name", "payoffs"), list(_interior_point_games()), ids=lambda v: v if isinstance(v, str) else "")
def test_dense_interior_point_agrees_with_highs(name, payoffs):
    from aligngames.solvers.equilibrium import nash

    fast = nash.solve_zero_sum(payoffs, method="interior_point")
    reference = nash.solve_zero_sum(payoffs, method="highs")
    assert fast.value == pytest.approx(reference.value, abs=1e-8)
    assert nash.exploitability(payoffs, fast.row, fast.col) <= 1e-9 * np.ptp(payoffs)
    assert fast.row.min() >= 0 and fast.col.min() >= 0
    assert fast.row.sum() == pytest.approx(1.0) and fast.col.sum() == pytest.approx(1.0)


def test_auto_method_uses_the_interior_point_on_large_games_and_checks_it():
    from aligngames.solvers.equilibrium import nash

    payoffs = np.random.default_rng(3).standard_normal((200, 200))
    assert payoffs.size >= nash.DENSE_INTERIOR_POINT_ENTRIES
    auto = nash.solve_zero_sum(payoffs)
    assert nash.exploitability(payoffs, auto.row, auto.col) <= nash.ACCEPTED_NASH_CONV * np.ptp(payoffs)
    with pytest.raises(ValueError, match=r"method must be one of \['auto', 'highs', 'interior_point'\]"):
        nash.solve_zero_sum(payoffs, method="simplex")


def test_interior_point_route_stops_at_the_first_polished_iterate_that_passes(monkeypatch):
    # the supports read from an iterate's scores are polished before the method reaches its tolerance
    payoffs = np.random.default_rng(4).standard_normal((200, 200))
    original, seen = nash.iterate_game_lp, []

    def recorded(*args, **kwargs):
        for iterate in original(*args, **kwargs):
            seen.append(iterate)
            yield iterate

    monkeypatch.setattr(nash, "iterate_game_lp", recorded)
    solution = nash.solve_zero_sum(payoffs, method="interior_point")
    assert not seen[-1].converged and seen[-1].error <= nash.EARLY_POLISH_ERROR
    assert nash.exploitability(payoffs, solution.row, solution.col) <= nash.ACCEPTED_NASH_CONV * np.ptp(payoffs)
    assert solution.value == pytest.approx(nash.solve_zero_sum(payoffs, method="highs").value, abs=1e-12)


def test_equalising_system_solves_both_players_and_their_pivot_directions():
    system = nash._EqualisingSystem.of(INTERIOR_2X2)
    row, col, value = system.solve()
    np.testing.assert_allclose(row, [3 / 7, 4 / 7])
    np.testing.assert_allclose(col, [2 / 7, 5 / 7])
    assert value == pytest.approx(1 / 7)
    # weight t on an entering column (rows earn 0 and 2 against it): q + t d and t still equalise both rows
    entering, step = np.array([0.0, 2.0]), 0.1
    moved = col + step * system.col_direction(entering)
    payoffs = INTERIOR_2X2 @ moved + step * entering
    assert payoffs[0] == pytest.approx(payoffs[1]) and moved.sum() + step == pytest.approx(1.0)
    # likewise an entering row (earning 1 and -3 against the two columns)
    entering = np.array([1.0, -3.0])
    moved = row + step * system.row_direction(entering)
    costs = moved @ INTERIOR_2X2 + step * entering
    assert costs[0] == pytest.approx(costs[1]) and moved.sum() + step == pytest.approx(1.0)


def test_polish_pivots_a_support_guess_off_by_one_column_to_the_exact_equilibrium():
    payoffs = np.random.default_rng(0).standard_normal((40, 40))
    exact = nash.solve_zero_sum(payoffs, method="highs")
    rows, cols = np.flatnonzero(exact.row > 0), np.flatnonzero(exact.col > 0)
    # the guess swaps the lightest support column for the cheapest column outside the support
    outside = np.setdiff1d(np.arange(40), cols)
    guess = cols.copy()
    guess[np.argmin(exact.col[cols])] = outside[np.argmin((exact.row @ payoffs)[outside])]
    accepted = 1e-12 * np.ptp(payoffs)
    assert nash._polish_supports(payoffs, rows, guess, accepted, swaps=0) is None
    row, col = nash._polish_supports(payoffs, rows, guess, accepted, swaps=1)
    np.testing.assert_allclose(row, exact.row, atol=1e-12)
    np.testing.assert_allclose(col, exact.col, atol=1e-12)


# --- badly scaled games: HiGHS's 1e-7 tolerances are refined to NashConv <= 1e-9 x the payoff range ---

def exact_two_row_value(payoffs: np.ndarray) -> Fraction:
    """The value of a 2 x n game in rational arithmetic: the top of the lower envelope
    ``max_p min_j p A[0, j] + (1 - p) A[1, j]``, attained at p = 0, p = 1 or where two lines cross."""
    top, bottom = ([Fraction(float(a)) for a in row] for row in payoffs)
    slopes = [t - b for t, b in zip(top, bottom)]
    candidates = {Fraction(0), Fraction(1)}
    for j, k in itertools.combinations(range(len(top)), 2):
        if slopes[j] != slopes[k]:
            p = (bottom[k] - bottom[j]) / (slopes[j] - slopes[k])
            if 0 <= p <= 1:
                candidates.add(p)
    return max(min(b + p * s for b, s in zip(bottom, slopes)) for p in candidates)


def badly_scaled_games(seed: int, count: int, low: int, high: int):
    """Gaussian games whose rows and columns are scaled by 10^U(-6, 6) (entries span up to 1e24)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        num_rows, num_cols = (int(size) for size in rng.integers(low, high, 2))
        payoffs = rng.standard_normal((num_rows, num_cols))
        yield payoffs * 10.0 ** rng.uniform(-6, 6, (num_rows, 1)) * 10.0 ** rng.uniform(-6, 6, (1, num_cols))


def test_badly_scaled_two_by_three_game_matches_nashpy_and_the_exact_value():
    # HiGHS alone returned the pure profile (row 1, column 0), value -9.7e-05 and NashConv 1.2e-4 (7e-9 x range)
    payoffs = np.array([[2.7e-05, -0.460427, -9180.52952], [-9.7e-05, 0.62654, 8255.11155]])
    solution = nash.solve_zero_sum(payoffs)
    assert nash.exploitability(payoffs, solution.row, solution.col) <= 1e-9 * np.ptp(payoffs)
    np.testing.assert_allclose(solution.row, [0.47346189, 0.52653811], atol=1e-8)
    assert solution.value == pytest.approx(float(exact_two_row_value(payoffs)), abs=1e-12)
    assert solution.value == pytest.approx(-3.8290726e-05, rel=1e-7)
    nashpy = pytest.importorskip("nashpy")
    (row, col), = nashpy.Game(payoffs).support_enumeration()
    np.testing.assert_allclose(solution.row, row, atol=1e-8)
    assert solution.value == pytest.approx(row @ payoffs @ col, abs=1e-12)


def test_columns_scaled_from_one_millionth_to_a_million():
    # HiGHS alone: NashConv 0.50 on this game (range 2.7e6, so 1.8e-7 x range)
    payoffs = np.random.default_rng(3).standard_normal((8, 7)) * 10.0 ** np.linspace(-6, 6, 7)
    solution = nash.solve_zero_sum(payoffs)
    assert nash.exploitability(payoffs, solution.row, solution.col) <= 1e-9 * np.ptp(payoffs)
    transposed = nash.solve_zero_sum(-payoffs.T)  # the same game seen by the column player
    assert transposed.value == pytest.approx(-solution.value, abs=2e-9 * np.ptp(payoffs))


@pytest.mark.parametrize(("seed", "count", "low", "high"), [(0, 150, 2, 15), (1, 15, 15, 60)], ids=["small", "medium"])
def test_badly_scaled_families_reach_the_accepted_nash_conv(seed, count, low, high):
    for payoffs in badly_scaled_games(seed, count, low, high):
        scale = np.ptp(payoffs)
        solution = nash.solve_zero_sum(payoffs)
        gap = nash.exploitability(payoffs, solution.row, solution.col)
        assert gap <= nash.ACCEPTED_NASH_CONV * scale, payoffs.shape
        # the value lies between the two players' guarantees, so it is within NashConv of the true value
        assert (solution.row @ payoffs).min() - 1e-12 * scale <= solution.value <= (payoffs @ solution.col).max() + 1e-12 * scale
        if payoffs.shape[0] == 2:
            assert solution.value == pytest.approx(float(exact_two_row_value(payoffs)), abs=nash.ACCEPTED_NASH_CONV * scale)


def test_an_answer_that_cannot_be_refined_is_an_error(monkeypatch):
    # stand-in for a game HiGHS cannot resolve: every attempt returns the uniform profile
    def uniform(shifted, tight):
        yield np.full(shifted.shape[0], 1 / shifted.shape[0]), np.full(shifted.shape[1], 1 / shifted.shape[1])

    monkeypatch.setattr(nash, "refined_solutions", uniform)
    # uniform play: A y = (1/3, 1/3) and x^T A = (1/2, 1/2, 0), so NashConv = 1/3 - 0
    payoffs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    with pytest.raises(RuntimeError, match=r"did not reach the accepted accuracy on this 2x3 game: the best NashConv "
                                           r"found is 0\.333, above 1e-09 x the payoff range"):
        nash.solve_zero_sum(payoffs)
