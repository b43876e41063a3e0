"""persuasion_v0: the rules, the scheme check, repeated play, language mode, and the env playing what the solver predicts."""

from __future__ import annotations

import numpy as np
import pytest

import aligngames
from aligngames.agents.persuasion import KeywordReceiver, ModelReceiver, SchemeSender, TemplateSender
from aligngames.envs.persuasion.problems import prosecutor
from aligngames.play.rollout import play_episodes
from aligngames.solvers.exact.persuasion import solve
from aligngames.tables import NotADistributionError, TableShapeError


def _play(env, players):
    for agent in env.agent_iter():
        observation, _reward, termination, truncation, info = env.last()
        env.step(None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info))
    return env.unwrapped.record()


def test_the_optimal_scheme_convicts_sixty_percent_of_the_time():
    scheme = solve(prosecutor()).scheme
    players = {"sender": SchemeSender(scheme.tolist()), "receiver": ModelReceiver("bayesian")}
    episodes = play_episodes(lambda: aligngames.make("persuasion_v0", example="prosecutor"), players, list(range(500)))
    convictions = np.mean([episode.record["rounds"][0]["action"] == "convict" for episode in episodes])
    assert abs(convictions - 0.6) < 0.066  # 3 standard errors of a 500-episode mean
    # the judge always convicts the guilty, and convicts the innocent exactly on the "convict" signal
    for episode in episodes:
        entry = episode.record["rounds"][0]
        assert entry["action"] == entry["signal"].removeprefix("recommend ")
        assert episode.returns["sender"] == (1.0 if entry["action"] == "convict" else 0.0)


def test_full_disclosure_convicts_exactly_the_guilty():
    env = aligngames.make("persuasion_v0", example="prosecutor", rounds=50)
    env.reset(seed=1)
    record = _play(env, {"sender": SchemeSender("full_disclosure"), "receiver": ModelReceiver()})
    assert len(record["rounds"]) == 50
    for entry in record["rounds"]:
        assert entry["action"] == ("convict" if entry["state"] == "guilty" else "acquit")
        assert entry["rewards"]["receiver"] == 1.0
    assert record["returns"]["receiver"] == 50.0


def test_scheme_rows_are_normalised_and_bad_schemes_refused():
    env = aligngames.make("persuasion_v0", example="prosecutor")
    env.reset(seed=0)
    env.step(np.array([[0.0, 0.5], [0.2, 0.2]], dtype=np.float32))
    _, _, _, _, info = env.last()
    np.testing.assert_allclose(info["scheme"], [[0.0, 1.0], [0.5, 0.5]])
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"agent 'sender': the scheme must have shape \(2, 2\)"):
        env.step(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"scheme entries must be finite weights in \[0, 1\]"):
        env.step(np.array([[-1.0, 1.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="a scheme is a table of numbers"):
        env.step("convict")
    env.step(np.zeros((2, 2)))  # a row of zeros reads as uniform
    assert env.agent_selection == "receiver"


def test_explicit_tables_and_their_errors():
    tables = {"states": ["good", "bad"], "actions": ["buy", "skip"], "prior": [0.5, 0.5],
              "sender_utility": [[1, 0], [1, 0]], "receiver_utility": [[1, 0], [-1, 0]]}
    env = aligngames.make("persuasion_v0", **tables)
    assert env.unwrapped.problem.states == ("good", "bad")
    with pytest.raises(NotADistributionError, match="prior"):
        aligngames.make("persuasion_v0", **{**tables, "prior": [0.7, 0.7]})
    with pytest.raises(TableShapeError, match=r"receiver_utility is indexed \[state\]\[action\]"):
        aligngames.make("persuasion_v0", **{**tables, "receiver_utility": [[1, 0]]})
    with pytest.raises(ValueError, match="missing"):
        aligngames.make("persuasion_v0", states=["a"], actions=["b"])
    with pytest.raises(ValueError, match="not both"):
        aligngames.make("persuasion_v0", example="prosecutor", **tables)
    with pytest.raises(ValueError, match="unknown persuasion example 'judge'"):
        aligngames.make("persuasion_v0", example="judge")


def test_repeated_play_shows_past_states():
    env = aligngames.make("persuasion_v0", example="prosecutor", rounds=2)
    env.reset(seed=3)
    env.step(np.eye(2, dtype=np.float32))
    env.step(0)
    observation = env.observe("receiver")
    assert "Finished rounds:" in observation["transcript"] and "the state was" in observation["transcript"]
    assert observation["observation"][0] == 1.0  # the round counter


def test_language_mode_with_scripted_players_and_the_same_seed_the_same_record():
    def episode(style):
        env = aligngames.make("persuasion_v0", example="prosecutor", mode="language", rounds=20, render_mode="ansi")
        env.reset(seed=11)
        return _play(env, {"sender": TemplateSender(style), "receiver": KeywordReceiver()})

    honest = episode("honest")
    for entry in honest["rounds"]:
        assert entry["message"] == f"The state is {entry['state']}."
        assert entry["action"] == ("convict" if entry["state"] == "guilty" else "acquit")
    pushy = episode("pushy")
    assert all(entry["message"] == "I recommend: convict." and entry["action"] == "convict" for entry in pushy["rounds"])
    assert [entry["state"] for entry in honest["rounds"]] == [entry["state"] for entry in pushy["rounds"]]
    assert episode("honest") == honest


def test_the_receiver_sees_the_message_and_the_labels():
    env = aligngames.make("persuasion_v0", example="prosecutor", mode="language")
    env.reset(seed=0)
    _, _, _, _, info = env.last()
    assert info["state"] in ("guilty", "innocent")
    env.step("Trust me: convict.")
    observation, _, _, _, info = env.last()
    assert info["action_labels"] == ["acquit", "convict"] and info["message"] == "Trust me: convict."
    assert "The sender says: Trust me: convict." in observation["transcript"]
