"""``openspiel_v0``: OpenSpiel games as PettingZoo envs. Kuhn poker's value through the bridge (-1/18),
returns equal to OpenSpiel's own on the same moves, seeded deals, simultaneous games made turn-based,
and named errors."""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
from open_spiel.python import policy as policy_lib
from open_spiel.python.algorithms import expected_game_score

import aligngames
from aligngames.agents.basic import RandomAgent
from aligngames.play.rollout import play_episodes
from aligngames.solvers.equilibrium import nash, openspiel_bridge


def test_kuhn_poker_value_through_the_bridge():
    env = aligngames.make("openspiel_v0", game="kuhn_poker")
    solution = nash.solve_zero_sum(openspiel_bridge.from_openspiel(env.unwrapped.game))
    assert solution.value == pytest.approx(-1 / 18, abs=1e-9)
    assert env.unwrapped.game_info.num_players == 2 and env.unwrapped.game_info.utility.value == "zero_sum"


def test_random_play_matches_openspiel_uniform_value():
    """Uniform random agents' mean returns converge to OpenSpiel's exact value of the uniform policy."""
    game = pyspiel.load_game("kuhn_poker")
    exact = expected_game_score.policy_value(game.new_initial_state(), [policy_lib.UniformRandomPolicy(game)] * 2)
    agents = {seat: RandomAgent() for seat in ("player_0", "player_1")}
    for index, agent in enumerate(agents.values()):
        agent.reset(100 + index)
    episodes = play_episodes(lambda: aligngames.make("openspiel_v0", game="kuhn_poker"), agents, list(range(4000)))
    returns = np.array([[episode.returns["player_0"], episode.returns["player_1"]] for episode in episodes])
    np.testing.assert_allclose(returns.sum(axis=1), 0.0)  # zero-sum in every episode
    standard_error = returns[:, 0].std() / np.sqrt(len(returns))
    assert abs(returns[:, 0].mean() - exact[0]) < 4 * standard_error


def test_returns_equal_openspiel_on_the_same_moves_and_seeds_fix_the_deal():
    env = aligngames.make("openspiel_v0", game="leduc_poker")
    records = []
    for seed in (5, 5, 6):
        env.reset(seed=seed)
        rng = np.random.default_rng(0)
        for _ in env.agent_iter():
            _, _, termination, truncation, info = env.last()
            action = None if termination or truncation else int(rng.choice(np.flatnonzero(info["action_mask"])))
            env.step(action)
        records.append(env.unwrapped.record())
    assert records[0] == records[1] and records[0]["moves"] != records[2]["moves"]
    state = env.unwrapped.game.new_initial_state()  # replay the strings of the last episode in OpenSpiel
    for move in records[2]["moves"]:
        player = pyspiel.PlayerId.CHANCE if move["player"] == "chance" else int(move["player"].removeprefix("player_"))
        legal = state.chance_outcomes() if player == pyspiel.PlayerId.CHANCE else state.legal_actions()
        actions = [a if isinstance(a, int) else a[0] for a in legal]
        state.apply_action(next(a for a in actions if state.action_to_string(player, a) == move["action"]))
    assert state.is_terminal()
    assert records[2]["returns"] == {"player_0": state.returns()[0], "player_1": state.returns()[1]}


def test_simultaneous_games_become_turn_based():
    env = aligngames.make("openspiel_v0", game="matrix_rps")
    env.reset(seed=0)
    for agent in env.agent_iter():
        _, _, termination, truncation, _ = env.last()
        env.step(None if termination or truncation else (0 if agent == "player_0" else 2))  # rock vs scissors
    assert env.unwrapped.record()["returns"] == {"player_0": 1.0, "player_1": -1.0}


def test_bad_games_and_moves_are_named_errors():
    with pytest.raises(ValueError, match="game: OpenSpiel cannot load 'no_such_game'"):
        aligngames.make("openspiel_v0", game="no_such_game")
    env = aligngames.make("openspiel_v0", game="tic_tac_toe")
    env.reset(seed=0)
    env.step(4)
    with pytest.raises(ValueError, match=r"agent 'player_1': action 4 is masked out"):
        env.step(4)
