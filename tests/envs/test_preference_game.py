"""preference_game_v0: payoffs against hand computations, bad input, golden transcript."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from _golden import GOLDEN_DIR, assert_close_structure

import aligngames
from aligngames.agents.basic import ConstantAgent, RandomAgent
from aligngames.agents.preference import TemplateAnswerer
from aligngames.envs.preference_game import matrix_game, parallel_env, scenarios
from aligngames.play.rollout import play_episodes

GOLDEN = GOLDEN_DIR / "preference_game_language_seed7.json"


def test_food_preferences_match_hand_computation():
    # groups: diner fans 0.40 (burger > sushi > pasta), seafood fans 0.35 (sushi > pasta > burger),
    # italian fans 0.25 (pasta > burger > sushi).
    # burger vs sushi: diner + italian = 0.65; sushi vs pasta: diner + seafood = 0.75;
    # pasta vs burger: seafood + italian = 0.60. A majority cycle.
    expected = np.array([
        [0.50, 0.65, 0.40],
        [0.35, 0.50, 0.75],
        [0.60, 0.25, 0.50],
    ])
    scenario = scenarios.food()
    assert scenario.answers == ("burger", "sushi", "pasta")
    np.testing.assert_allclose(scenario.preferences, expected, atol=1e-12)


def test_food_payoffs_through_the_env():
    env = aligngames.make_parallel("preference_game_v0", mode="tabular", scenario="food")
    env.reset(seed=0)
    _, rewards, terminations, _, infos = env.step({"player_0": 0, "player_1": 1})  # burger vs sushi
    assert rewards == pytest.approx({"player_0": 0.15, "player_1": -0.15})
    assert all(terminations.values())
    assert infos["player_0"]["preference"] == pytest.approx(0.65)
    assert env.agents == []


def test_food_matrix_game_has_the_hand_derived_equilibrium():
    # For a 3-cycle with margins m(b,s)=0.3, m(s,p)=0.5, m(p,b)=0.2 the maximal lottery puts
    # probability on each answer proportional to the margin of the pair it is not in:
    # p = (0.5, 0.2, 0.3) / 1.0. Check that no pure answer gains against it (value 0).
    game = matrix_game(scenario="food")
    p = np.array([0.5, 0.2, 0.3])
    np.testing.assert_allclose(p @ game.row_payoffs, 0.0, atol=1e-12)
    np.testing.assert_allclose(game.row_payoffs @ p, 0.0, atol=1e-12)
    assert game.info.symmetric and game.info.utility is aligngames.Utility.ZERO_SUM


def test_transitive_scenario_has_a_dominant_answer():
    game = matrix_game(scenario="transitive")
    best = int(np.argmax(game.row_payoffs.min(axis=1)))
    assert game.action_names[0][best] == "thorough"
    assert np.all(game.row_payoffs[best] >= 0)


def test_random_scenario_is_fixed_by_its_seed():
    a = matrix_game(scenario="random", num_answers=5, num_groups=3, scenario_seed=1).row_payoffs
    b = matrix_game(scenario="random", num_answers=5, num_groups=3, scenario_seed=1).row_payoffs
    c = matrix_game(scenario="random", num_answers=5, num_groups=3, scenario_seed=2).row_payoffs
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_allclose(a, -a.T, atol=1e-12)


def test_custom_preference_matrix():
    matrix = [[0.5, 0.9], [0.1, 0.5]]
    env = aligngames.make_parallel("preference_game_v0", mode="tabular", preferences=matrix, answers=["x", "y"])
    env.reset(seed=0)
    _, rewards, *_ = env.step({"player_0": 1, "player_1": 0})
    assert rewards["player_0"] == pytest.approx(-0.4)
    with pytest.raises(ValueError, match=r"P\[i, j\] \+ P\[j, i\] = 1"):
        aligngames.make("preference_game_v0", mode="tabular", preferences=[[0.5, 0.9], [0.9, 0.5]])


@pytest.mark.parametrize(
    ("kwargs", "action", "message"),
    [
        ({"mode": "tabular", "scenario": "food"}, 3, r"agent 'player_0': action 3 is out of range; legal actions are 0..2"),
        ({"mode": "tabular", "scenario": "food"}, "burger", r"agent 'player_0': action must be an int"),
        ({"mode": "language", "max_answer_length": 10}, "x" * 11, r"agent 'player_0'.*11 characters long; the limit is 10"),
        ({"mode": "language"}, "caf\u00e9", r"agent 'player_0'.*character '\u00e9'"),
        ({"mode": "language"}, 42, r"agent 'player_0': action must be a str"),
    ],
)
def test_illegal_actions_raise_and_record_nothing(kwargs, action, message):
    env = aligngames.make("preference_game_v0", **kwargs)
    env.reset(seed=0)
    before = env.observe("player_0")
    with pytest.raises(ValueError, match=message):
        env.step(action)
    assert env.agent_selection == "player_0"
    after = env.observe("player_0")
    assert after["transcript"] == before["transcript"]
    assert env.unwrapped.rules.answers == {}


def test_parallel_env_rejects_out_of_turn_and_missing_agents():
    env = parallel_env(mode="tabular", scenario="food")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="agent 'player_1' must act this step but has no action"):
        env.step({"player_0": 0})
    with pytest.raises(ValueError, match="agent 'referee' acted out of turn"):
        env.step({"player_0": 0, "player_1": 0, "referee": 1})
    env.step({"player_0": 0, "player_1": 0})
    with pytest.raises(ValueError, match="finished episode"):
        env.step({"player_0": 0, "player_1": 0})


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(KeyError, match=r"Valid envs: .*preference_game_v0"):
        aligngames.make("preference_game_v9")
    with pytest.raises(KeyError, match=r"unknown agent 'randm'.*Did you mean 'random'"):
        aligngames.make_agent("randm")
    with pytest.raises(ValueError, match=r"unknown scenario 'pizza'; valid scenarios: \['food', 'transitive', 'random'\]"):
        aligngames.make("preference_game_v0", mode="tabular", scenario="pizza")
    with pytest.raises(ValueError, match="mode must be one of"):
        aligngames.make("preference_game_v0", mode="audio")


def _golden_episode() -> dict:
    agents = {"player_0": TemplateAnswerer("concise"), "player_1": TemplateAnswerer("cautious")}
    (episode,) = play_episodes(lambda: aligngames.make("preference_game_v0", mode="language"), agents, [7])
    env = aligngames.make("preference_game_v0", mode="language", render_mode="ansi")
    env.reset(seed=7)
    env.step(episode.record["answers"]["player_0"])
    env.step(episode.record["answers"]["player_1"])
    return {"record": episode.record, "returns": episode.returns, "render": env.render()}


def test_golden_transcript():
    """A change in the game's text, prompt order or judge shows up here; regenerate deliberately with
    ``ALIGNGAMES_UPDATE_GOLDEN=1 pytest tests/envs/test_preference_game.py`` and review the diff."""
    actual = json.loads(json.dumps(_golden_episode()))
    if os.environ.get("ALIGNGAMES_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert_close_structure(expected, actual, "golden")


def test_judge_population_is_non_transitive_on_the_template_styles():
    from aligngames.agents.preference import compose
    from aligngames.datasets import preference_prompts
    from aligngames.judges import FeatureJudge

    judge = FeatureJudge()
    items = preference_prompts()

    def p(a: str, b: str) -> float:
        return float(np.mean(judge.compare([i.prompt for i in items], [compose(i, a) for i in items],
                                           [compose(i, b) for i in items])))

    assert p("concise", "detailed") > 0.5
    assert p("detailed", "cautious") > 0.5
    assert p("cautious", "concise") > 0.5
    # and every style beats the evasive non-answer
    for style in ("concise", "detailed", "cautious", "structured"):
        assert p(style, "evasive") > 0.55


def test_judge_is_antisymmetric_and_deterministic():
    from aligngames.judges import FeatureJudge

    judge = FeatureJudge()
    x = "How do I start composting at home?"
    a = "Mix green scraps with brown leaves, keep it moist, and turn it weekly."
    b = "It depends."
    assert judge.probability(x, a, b) + judge.probability(x, b, a) == pytest.approx(1.0)
    assert judge.probability(x, a, a) == pytest.approx(0.5)
    assert judge.probability(x, a, b) == FeatureJudge().probability(x, a, b)
    assert judge.probability(x, a, "") > 0.8  # an on-topic answer clearly beats an empty one


def test_constant_and_random_agents_in_tabular_mode():
    agents = {"player_0": ConstantAgent(0), "player_1": RandomAgent()}
    agents["player_1"].reset(5)
    episodes = play_episodes(lambda: aligngames.make("preference_game_v0", mode="tabular", scenario="food"),
                             agents, list(range(300)))
    # against a uniform opponent burger earns mean(P[0] - 1/2) = (0 + 0.15 - 0.10) / 3
    mean = np.mean([e.returns["player_0"] for e in episodes])
    assert mean == pytest.approx(0.05 / 3, abs=0.02)
    assert all(e.returns["player_0"] == -e.returns["player_1"] for e in episodes)
