"""The OpenSpiel bridge: round trips, OpenSpiel's NashConv against the library's, and known game values."""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
from open_spiel.python.algorithms import exploitability as os_exploitability

import aligngames
from aligngames.envs.preference_game import matrix_game as preference_matrix_game
from aligngames.game import Dynamics, GameInfo, MatrixGame, Utility
from aligngames.solvers.equilibrium.nash import exploitability, nash_conv, solve_zero_sum
from aligngames.solvers.equilibrium.openspiel_bridge import (
    from_openspiel,
    reduced_normal_form,
    to_openspiel,
    to_openspiel_policy,
)


def _general_sum(seed: int, shape: tuple[int, ...]) -> MatrixGame:
    rng = np.random.default_rng(seed)
    payoffs = rng.normal(size=(len(shape), *shape))
    names = tuple(tuple(f"p{p}a{a}" for a in range(n)) for p, n in enumerate(shape))
    return MatrixGame(payoffs, GameInfo(len(shape), Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS), names)


def _zero_sum(seed: int, rows: int = 4, cols: int = 5) -> MatrixGame:
    rng = np.random.default_rng(seed)
    names = (tuple(f"r{i}" for i in range(rows)), tuple(f"c{j}" for j in range(cols)))
    return MatrixGame.zero_sum(rng.normal(size=(rows, cols)), names)


def _assert_same(result: MatrixGame, original: MatrixGame) -> None:
    assert np.array_equal(result.payoffs, original.payoffs)  # exactly, not approximately
    assert result.action_names == original.action_names
    assert result.info.num_players == original.info.num_players
    assert result.info.utility is original.info.utility
    assert result.info.constant_sum == original.info.constant_sum


# --- round trips ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_trip_general_sum(seed):
    game = _general_sum(seed, (3, 4))
    spiel = to_openspiel(game)
    assert isinstance(spiel, pyspiel.MatrixGame)
    assert spiel.get_type().utility == pyspiel.GameType.Utility.GENERAL_SUM
    assert spiel.row_utility(1, 2) == game.payoffs[0, 1, 2] and spiel.col_utility(1, 2) == game.payoffs[1, 1, 2]
    assert spiel.row_action_name(2) == "p0a2" and spiel.col_action_name(0) == "p1a0"
    _assert_same(from_openspiel(spiel), game)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_trip_zero_sum(seed):
    game = _zero_sum(seed)
    spiel = to_openspiel(game)
    assert spiel.get_type().utility == pyspiel.GameType.Utility.ZERO_SUM
    assert spiel.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS
    _assert_same(from_openspiel(spiel), game)


def test_round_trip_constant_sum_and_identical():
    rng = np.random.default_rng(5)
    row = rng.uniform(size=(3, 3))
    constant = MatrixGame(np.stack([row, 1.0 - row]), GameInfo(2, Utility.CONSTANT_SUM, Dynamics.SIMULTANEOUS,
                                                                constant_sum=1.0))
    spiel = to_openspiel(constant)
    assert spiel.get_type().utility == pyspiel.GameType.Utility.CONSTANT_SUM
    _assert_same(from_openspiel(spiel), constant)
    identical = MatrixGame(np.stack([row, row]), GameInfo(2, Utility.IDENTICAL, Dynamics.SIMULTANEOUS))
    spiel = to_openspiel(identical)
    assert spiel.get_type().utility == pyspiel.GameType.Utility.IDENTICAL
    _assert_same(from_openspiel(spiel), identical)


def test_round_trip_preference_game_scenario():
    game = preference_matrix_game(scenario="food")
    result = from_openspiel(to_openspiel(game))
    _assert_same(result, game)
    assert result.info == game.info  # zero-sum, simultaneous and symmetric, as the env says
    assert result.action_names == (("burger", "sushi", "pasta"),) * 2


def test_env_and_raw_env_are_accepted():
    game = preference_matrix_game(scenario="transitive")
    env = aligngames.make("preference_game_v0", mode="tabular", scenario="transitive")
    for source in (env, env.unwrapped):
        _assert_same(from_openspiel(to_openspiel(source)), game)


def test_three_players_become_a_tensor_game():
    game = _general_sum(7, (2, 3, 4))
    spiel = to_openspiel(game)
    assert isinstance(spiel, pyspiel.TensorGame) and list(spiel.shape()) == [2, 3, 4]
    assert spiel.player_utility(2, [1, 0, 3]) == game.payoffs[2, 1, 0, 3]
    assert spiel.action_name(1, 2) == "p1a2"
    _assert_same(from_openspiel(spiel), game)


# --- OpenSpiel's NashConv of the library's strategies ---------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_openspiel_nash_conv_equals_the_library_nash_conv(seed):
    game = _zero_sum(seed, 5, 6)
    spiel = to_openspiel(game)
    solution = solve_zero_sum(game)
    rng = np.random.default_rng(100 + seed)
    off = [rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(6))]  # not an equilibrium: the check can fail
    for row, col in ((solution.row, solution.col), tuple(off)):
        ours = exploitability(game, row, col)
        assert ours == pytest.approx(nash_conv(game.payoffs, [row, col]), abs=1e-12)
        theirs = os_exploitability.nash_conv(spiel, to_openspiel_policy(spiel, [row, col]))
        assert abs(theirs - ours) <= 1e-9
    assert exploitability(game, *off) > 0.1
    assert exploitability(game, solution.row, solution.col) <= 1e-9


def test_openspiel_nash_conv_of_a_three_player_game():
    game = _general_sum(11, (2, 3, 2))
    spiel = to_openspiel(game)
    rng = np.random.default_rng(12)
    strategies = [rng.dirichlet(np.ones(n)) for n in (2, 3, 2)]
    theirs = os_exploitability.nash_conv(spiel, to_openspiel_policy(spiel, strategies))
    assert abs(theirs - nash_conv(game.payoffs, strategies)) <= 1e-9


# --- known answers --------------------------------------------------------------------------------

def test_matrix_rps_is_rock_paper_scissors():
    game = from_openspiel(pyspiel.load_game("matrix_rps"))
    assert game.action_names == (("Rock", "Paper", "Scissors"),) * 2
    assert game.info.utility is Utility.ZERO_SUM and game.info.symmetric
    np.testing.assert_array_equal(game.payoffs[0], [[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
    solution = solve_zero_sum(game)
    assert abs(solution.value) <= 1e-12
    np.testing.assert_allclose(solution.row, np.full(3, 1 / 3), atol=1e-9)
    np.testing.assert_allclose(solution.col, np.full(3, 1 / 3), atol=1e-9)


def test_general_sum_matrix_game_from_the_registry():
    game = from_openspiel(pyspiel.load_game("matrix_pd"))
    assert game.info.utility is Utility.GENERAL_SUM and game.payoffs.shape == (2, 2, 2)
    spiel = pyspiel.load_game("matrix_pd")
    assert game.payoffs[0, 1, 0] == spiel.row_utility(1, 0) and game.payoffs[1, 1, 0] == spiel.col_utility(1, 0)


def test_one_shot_simultaneous_game_is_read_directly():
    spiel = pyspiel.load_game("blotto")  # 10 coins on 3 fields: 66 allocations each
    game = from_openspiel(spiel)
    assert game.payoffs.shape == (2, 66, 66) and game.info.utility is Utility.ZERO_SUM and game.info.symmetric
    state = spiel.new_initial_state()
    assert game.action_names[0][5] == state.action_to_string(0, state.legal_actions(0)[5])
    state.apply_actions([state.legal_actions(0)[5], state.legal_actions(1)[40]])
    assert list(game.payoffs[:, 5, 40]) == state.returns()
    assert abs(solve_zero_sum(game).value) <= 1e-9


def test_turn_based_matrix_game_has_the_same_normal_form():
    direct = from_openspiel(pyspiel.load_game("matrix_rps"))
    turn_based = from_openspiel(pyspiel.convert_to_turn_based(pyspiel.load_game("matrix_rps")))
    np.testing.assert_array_equal(turn_based.payoffs, direct.payoffs)
    assert [name.rsplit("=", 1)[1] for name in turn_based.action_names[1]] == ["Rock", "Paper", "Scissors"]


def test_kuhn_poker_reduced_normal_form_value():
    form = reduced_normal_form(pyspiel.load_game("kuhn_poker"))
    game = form.matrix_game
    assert game.payoffs.shape == (2, 27, 64)  # 3 choices per card for player 0, 2^6 for player 1
    assert game.info.utility is Utility.ZERO_SUM
    assert from_openspiel(pyspiel.load_game("kuhn_poker")).payoffs.shape == (2, 27, 64)
    solution = solve_zero_sum(game)
    assert abs(solution.value - (-1.0 / 18.0)) <= 1e-9
    # the mixed equilibrium, as a behaviour policy, is an equilibrium of the game tree for OpenSpiel too
    policy = form.behaviour_policy([solution.row, solution.col])
    assert abs(os_exploitability.nash_conv(form.game, policy)) <= 1e-9
    assert abs(os_exploitability.nash_conv(form.game, form.behaviour_policy(
        [np.full(27, 1 / 27), np.full(64, 1 / 64)])) - exploitability(game, np.full(27, 1 / 27), np.full(64, 1 / 64))) <= 1e-9


# --- errors ---------------------------------------------------------------------------------------

def test_clear_errors():
    with pytest.raises(TypeError, match="has no matrix_game"):
        to_openspiel(np.eye(2))
    with pytest.raises(TypeError, match="needs a pyspiel.Game"):
        from_openspiel(_zero_sum(0))
    with pytest.raises(ValueError, match="6561 reduced pure strategies, more than max_strategies=4096"):
        from_openspiel(pyspiel.load_game("kuhn_poker", {"players": 3}))
    with pytest.raises(ValueError, match="27 reduced pure strategies, more than max_strategies=10"):
        from_openspiel(pyspiel.load_game("kuhn_poker"), max_strategies=10)
    with pytest.raises(ValueError, match="marked identical-interest"):
        to_openspiel(MatrixGame(np.stack([np.eye(2), -np.eye(2)]), GameInfo(2, Utility.IDENTICAL, Dynamics.SIMULTANEOUS)))
    spiel = to_openspiel(_zero_sum(0))
    with pytest.raises(ValueError, match="one strategy per player"):
        to_openspiel_policy(spiel, [np.ones(4) / 4])
    with pytest.raises(ValueError, match="must have 5 entries"):
        to_openspiel_policy(spiel, [np.ones(4) / 4, np.ones(4) / 4])
    with pytest.raises(ValueError, match="sequential game use reduced_normal_form"):
        to_openspiel_policy(pyspiel.load_game("kuhn_poker"), [np.ones(2), np.ones(2)])
