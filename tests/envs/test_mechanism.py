"""mechanism_v0: rewards are the mechanism's utilities net of payments, the Parallel and AEC forms agree, each
stakeholder sees only its own preferences, and language-mode reports are read as the docs say."""

from __future__ import annotations

import numpy as np
import pytest

import aligngames
from aligngames.agents.mechanism import FixedReportStakeholder, ScaledStakeholder
from aligngames.envs.mechanism import parse_threshold
from aligngames.envs.mechanism.problems import build, run


def _parallel_round(env, players):
    observations, infos = env.reset(seed=0)
    actions = {agent: players[agent].act(observations[agent], agent, env.action_space(agent), infos[agent])
               for agent in env.agents}
    _, rewards, *_ = env.step(actions)
    return rewards


def test_median_with_truthful_reports():
    env = aligngames.make_parallel("mechanism_v0", example="refusal_threshold")
    honest = ScaledStakeholder(1.0)
    rewards = _parallel_round(env, dict.fromkeys(env.possible_agents, honest))
    assert env.unwrapped.record()["rounds"][0]["outcome"] == pytest.approx(0.2)
    assert rewards == pytest.approx({"safety_team": -0.1, "moderator": 0.0, "power_user": -0.7}, abs=1e-6)  # float32 reports


def test_exaggerating_pays_under_the_mean_only():
    for mechanism, gain in (("mean", True), ("median", False)):
        returns = {}
        for scale in (1.0, 3.0):
            env = aligngames.make_parallel("mechanism_v0", example="refusal_threshold", mechanism=mechanism)
            players = {"safety_team": ScaledStakeholder(scale), "moderator": ScaledStakeholder(1.0),
                       "power_user": ScaledStakeholder(1.0)}
            returns[scale] = _parallel_round(env, players)["safety_team"]
        assert (returns[3.0] > returns[1.0] + 1e-9) == gain


def test_vcg_rewards_are_values_net_of_payments_in_both_forms():
    problem = build("fine_tuning")
    expected = run(problem, "vcg", problem.true_reports())
    honest = ScaledStakeholder(1.0)
    parallel = aligngames.make_parallel("mechanism_v0", example="fine_tuning", mechanism="vcg")
    rewards = _parallel_round(parallel, dict.fromkeys(parallel.possible_agents, honest))
    np.testing.assert_allclose(list(rewards.values()), expected.utilities, atol=1e-6)  # reports pass through float32
    aec = aligngames.make("mechanism_v0", example="fine_tuning", mechanism="vcg")
    aec.reset(seed=0)
    for agent in aec.agent_iter():
        observation, _, termination, truncation, info = aec.last()
        aec.step(None if termination or truncation else honest.act(observation, agent, aec.action_space(agent), info))
    assert aec.unwrapped.record()["rounds"] == parallel.unwrapped.record()["rounds"]
    payments = aec.unwrapped.record()["rounds"][0]["payments"]
    np.testing.assert_allclose(list(payments.values()), expected.payments, atol=1e-6)


def test_each_stakeholder_sees_only_its_own_preferences():
    env = aligngames.make_parallel("mechanism_v0", example="refusal_threshold", rounds=2)
    observations, infos = env.reset(seed=0)
    assert infos["moderator"]["type"] == [0.2]
    transcript = observations["moderator"]["transcript"]
    assert "Your ideal threshold is 0.200" in transcript and "0.900" not in transcript
    np.testing.assert_allclose(observations["power_user"]["observation"][2], 0.9)


def test_reports_are_checked():
    env = aligngames.make("mechanism_v0", example="fine_tuning")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"report entries must be finite and in \[-4, 4\]"):
        env.step(np.array([5.0, 0.0, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match=r"a report is one reward per response \['refuse', 'hedge', 'comply'\] \(shape \(3,\)\)"):
        env.step(np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match=r"mechanism 'median' does not apply to a fine_tuning problem"):
        aligngames.make("mechanism_v0", example="fine_tuning", mechanism="median")


def test_parse_threshold():
    assert parse_threshold("I'd set it at 0.3, maybe 0.4") == 0.3
    assert parse_threshold("30% please") == 0.3
    assert parse_threshold("around .25") == 0.25
    assert parse_threshold("as high as 7") is None
    assert parse_threshold("no idea") is None


def test_language_mode_reads_reports_and_abstentions():
    env = aligngames.make_parallel("mechanism_v0", example="refusal_threshold", mode="language")
    env.reset(seed=0)
    env.step({"safety_team": "0.1 is what I want", "moderator": "I abstain", "power_user": "90%"})
    entry = env.unwrapped.record()["rounds"][0]
    assert entry["reports"] == {"safety_team": [0.1], "moderator": [None], "power_user": [0.9]}
    assert entry["outcome"] == pytest.approx(0.1)  # the lower median of the two reports
    tuning = aligngames.make_parallel("mechanism_v0", example="fine_tuning", mode="language")
    observations, infos = tuning.reset(seed=0)
    inflate = ScaledStakeholder(2.0)
    actions = {agent: inflate.act(observations[agent], agent, tuning.action_space(agent), infos[agent]) for agent in tuning.agents}
    assert actions["safety_team"] == "My ratings: refuse: 2.0000, hedge: 1.0000, comply: -2.0000."
    tuning.step(actions)
    reports = tuning.unwrapped.record()["rounds"][0]["reports"]
    np.testing.assert_allclose(reports["users"], [-1.0, 0.6, 2.0])


def test_fixed_reports_are_checked_against_the_game():
    env = aligngames.make_parallel("mechanism_v0", example="fine_tuning")
    observations, infos = env.reset(seed=0)
    with pytest.raises(ValueError, match="FixedReportStakeholder has a report of 1 numbers; this game takes 3"):
        FixedReportStakeholder(0.5).act(observations["users"], "users", env.action_space("users"), infos["users"])
