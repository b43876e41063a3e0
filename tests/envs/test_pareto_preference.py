"""pareto_preference_v0: the policy sees w and is paid the scalarised reward (linear or Tchebycheff) with the reward
vector recorded, the exact per-w player beats the answer that ignores w by the predicted margin, the two forms agree,
and bad settings and actions are refused with named errors."""

from __future__ import annotations

import numpy as np
import pytest

import aligngames
from aligngames.agents.pareto_preference import FixedAnswer, OptimalPreferencePolicy
from aligngames.envs import pareto_preference
from aligngames.envs.pareto_preference.problems import build
from aligngames.solvers.exact.pareto_preference import solve

CHORD = {"answers": ["left", "middle", "right"], "objectives": ["x", "y"], "rewards": [[1, 0], [0.4, 0.4], [0, 1]]}


def _play(env, player, seed=0):
    player.reset(1000)  # not the env's seed: equal seeds would give the env and the player one random stream
    observations, infos = env.reset(seed=seed)
    while env.agents:
        action = player.act(observations["policy"], "policy", env.action_space("policy"), infos["policy"])
        observations, _, _, _, infos = env.step({"policy": action})
    return env.unwrapped.record()


def test_the_policy_sees_w_and_is_paid_the_scalarised_reward():
    env = pareto_preference.parallel_env(example="helpful_harmless", rounds=3)
    observations, infos = env.reset(seed=0)
    problem = build("helpful_harmless")
    for _ in range(3):
        info = infos["policy"]
        w = np.array(info["weight"])
        np.testing.assert_allclose(observations["policy"]["observation"][2:], w, atol=1e-7)
        assert info["action_labels"] == list(problem.answers) and info["rewards"] == problem.rewards.tolist()
        assert "User weights: helpful" in observations["policy"]["transcript"]
        observations, rewards, _, _, infos = env.step({"policy": 1})  # hedge, (0.6, 0.7)
        assert rewards["policy"] == pytest.approx(0.6 * w[0] + 0.7 * w[1])
        assert infos["policy"]["last_reward_vector"] == [0.6, 0.7]
    assert not env.agents
    entries = env.record()["rounds"]
    assert [entry["reward_vector"] for entry in entries] == [[0.6, 0.7]] * 3
    assert env.record()["returns"]["policy"] == pytest.approx(sum(entry["reward"] for entry in entries))


def test_tchebycheff_pays_the_weighted_distance_to_the_ideal_point():
    env = pareto_preference.parallel_env(**CHORD, weights=[[0.5, 0.5]], scalarisation="tchebycheff", beta=0.0)
    _, infos = env.reset(seed=0)
    assert infos["policy"]["ideal"] == [1.0, 1.0]
    _, rewards, *_ = env.step({"policy": 1})
    assert rewards["policy"] == pytest.approx(-0.3)  # -max(0.5 * 0.6, 0.5 * 0.6)
    env.reset(seed=0)
    _, rewards, *_ = env.step({"policy": 0})
    assert rewards["policy"] == pytest.approx(-0.5)  # -max(0.5 * 0, 0.5 * 1)


def test_user_types_follow_weight_probs():
    env = pareto_preference.parallel_env(**CHORD, weights=[[1, 0], [0, 1]], weight_probs=[0.8, 0.2], rounds=500)
    users = [entry["user"] for entry in _play(env, FixedAnswer(0))["rounds"]]
    assert abs(np.mean(np.array(users) == 0) - 0.8) < 0.06  # standard error 0.018


def test_the_exact_player_beats_the_answer_that_ignores_w():
    # beta 0, linear: the exact player earns E_w max_a w . r(a) per round; always hedging earns E_w w . (0.6, 0.7)
    problem = build("helpful_harmless").with_options(beta=0.0)
    best = float(problem.weight_probs @ (problem.weights @ problem.rewards.T).max(axis=1))
    hedge = float(problem.weight_probs @ (problem.weights @ problem.rewards[1]))
    means = {}
    for name, player in (("exact", OptimalPreferencePolicy()), ("hedge", FixedAnswer("hedge"))):
        env = pareto_preference.parallel_env(example="helpful_harmless", beta=0.0, rounds=400)
        means[name] = _play(env, player)["returns"]["policy"] / 400
    assert means["exact"] == pytest.approx(best, abs=0.03)
    assert means["hedge"] == pytest.approx(hedge, abs=0.03)
    assert means["exact"] - means["hedge"] > 0.1  # predicted margin best - hedge = 0.8036 - 0.65 = 0.154


def test_the_exact_player_samples_the_solver_policy():
    problem = build("helpful_harmless_honest")
    solution = solve(problem)
    env = pareto_preference.parallel_env(example="helpful_harmless_honest")
    _, infos = env.reset(seed=3)
    player = OptimalPreferencePolicy()
    np.testing.assert_allclose(player.policy(infos["policy"]), solution.policies[infos["policy"]["user"]], atol=1e-12)
    per_answer = OptimalPreferencePolicy("per_answer")
    tchebycheff = pareto_preference.parallel_env(**CHORD, weights=[[0.5, 0.5]], scalarisation="tchebycheff", beta=0.0)
    _, infos = tchebycheff.reset(seed=0)
    np.testing.assert_array_equal(per_answer.policy(infos["policy"]), [0, 1, 0])  # the point below the chord
    np.testing.assert_allclose(player.policy(infos["policy"]), [0.5, 0, 0.5], atol=1e-9)  # the chord's middle


def test_aec_and_parallel_forms_agree():
    parallel = _play(pareto_preference.parallel_env(example="helpful_harmless", rounds=20), OptimalPreferencePolicy())
    env = pareto_preference.env(example="helpful_harmless", rounds=20)
    player = OptimalPreferencePolicy()
    player.reset(1000)
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, _, termination, truncation, info = env.last()
        env.step(None if termination or truncation else player.act(observation, agent, env.action_space(agent), info))
    assert env.unwrapped.record()["rounds"] == parallel["rounds"]


def test_overrides_and_grid():
    rules = pareto_preference.make_rules("helpful_harmless_honest", grid=2, scalarisation="tchebycheff", beta=0.0)
    assert rules.problem.num_types == 6 and rules.problem.scalarisation == "tchebycheff" and rules.problem.beta == 0.0
    assert pareto_preference.make_rules().problem.name == "helpful_harmless"
    assert pareto_preference.make_rules(**CHORD).problem.num_types == 5  # the default grid, k = 4


@pytest.mark.skipif("pareto_preference_v0" not in aligngames.list_envs(), reason="not registered yet")
def test_registered_by_name():
    env = aligngames.make_parallel("pareto_preference_v0", example="helpful_harmless")
    assert env.reset(seed=0)[1]["policy"]["objectives"] == ["helpful", "harmless"]


def test_bad_settings_and_actions_are_refused():
    env = pareto_preference.env(example="helpful_harmless")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="policy"):
        env.step(7)
    with pytest.raises(ValueError, match="mode must be 'tabular' or 'language'"):
        pareto_preference.make_rules(mode="text")
    with pytest.raises(ValueError, match="rounds must be an int >= 1, got 0"):
        pareto_preference.make_rules(rounds=0)
    with pytest.raises(ValueError, match="give either example='helpful_harmless' or explicit tables"):
        pareto_preference.make_rules("helpful_harmless", **CHORD)
    with pytest.raises(ValueError, match=r"explicit tables need all of .*missing \['rewards'\]"):
        pareto_preference.make_rules(answers=["a"], objectives=["x"])
    with pytest.raises(ValueError, match="unknown pareto_preference example 'nope'"):
        pareto_preference.make_rules("nope")
    space = pareto_preference.env().action_space("policy")
    with pytest.raises(ValueError, match=r"unknown answer 'shout'; the answers are \['a'\]"):
        FixedAnswer("shout").act(None, "policy", space, {"action_labels": ["a"]})
    with pytest.raises(ValueError, match="OptimalPreferencePolicy needs info"):
        OptimalPreferencePolicy().act(None, "policy", space, {})
    with pytest.raises(ValueError, match=r"target must be one of \['expected', 'per_answer'\]"):
        OptimalPreferencePolicy("mean")
