"""contract_v0: the env plays what the solver predicts, hides effort from the principal, checks offers, reads
offers written in words, and records declines."""

from __future__ import annotations

import numpy as np
import pytest

import aligngames
from aligngames.agents.contract import BestResponseAgent, ContractPrincipal, offer_text
from aligngames.envs.contract import parse_wages
from aligngames.envs.contract.problems import build
from aligngames.play.rollout import play_episodes
from aligngames.solvers.exact.contract import solve


def _play(env, players):
    for agent in env.agent_iter():
        observation, _reward, termination, truncation, info = env.last()
        env.step(None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info))
    return env.unwrapped.record()


def test_the_optimal_contract_buys_genuine_work_and_earns_its_profit():
    players = {"principal": ContractPrincipal("optimal"), "agent": BestResponseAgent()}
    episodes = play_episodes(lambda: aligngames.make("contract_v0", example="coding_assistant", rounds=4),
                             players, list(range(100)))
    rounds = [entry for episode in episodes for entry in episode.record["rounds"]]
    assert {entry["effort"] for entry in rounds} == {"genuine"}
    profits = np.array([entry["rewards"]["principal"] for entry in rounds])
    # exact 3.7 - 0.7 * 5/3; the standard error of a 400-round mean is about 0.09
    assert abs(profits.mean() - solve(build("coding_assistant")).principal_profit) < 0.3
    for entry in rounds:  # paid 5/3 exactly on verified work
        assert entry["rewards"]["agent"] == pytest.approx((5 / 3 if entry["outcome"] == "verified" else 0.0) - 1.0, abs=1e-6)


def test_a_flat_wage_buys_shirking_and_a_test_bonus_buys_hacking():
    for wages, effort in (("first_best", "shirk"), ([0.0, 1.0, 1.0], "reward_hack")):
        env = aligngames.make("contract_v0", example="coding_assistant", rounds=3)
        env.reset(seed=0)
        record = _play(env, {"principal": ContractPrincipal(wages), "agent": BestResponseAgent()})
        assert {entry["effort"] for entry in record["rounds"]} == {effort}


def test_the_principal_sees_outcomes_not_efforts():
    env = aligngames.make("contract_v0", example="two_outcome", rounds=2)
    env.reset(seed=3)
    env.step(np.array([0.0, 2.5], dtype=np.float32))
    env.step(1)  # high effort
    principal = env.unwrapped.observe("principal")["transcript"]
    agent = env.unwrapped.observe("agent")["transcript"]
    assert "the agent chose high" in agent and "the agent chose" not in principal
    assert ("outcome success" in principal) or ("outcome failure" in principal)
    features = env.unwrapped.observe("principal")["observation"]
    assert features.shape == (5,) and features[0] == 1.0  # [round, over, declined, failure, success]


def test_offers_are_checked():
    env = aligngames.make("contract_v0", example="two_outcome")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"wages must be finite and in \[0, 30\] \(limited liability on\)"):
        env.step(np.array([-1.0, 2.0], dtype=np.float32))
    with pytest.raises(ValueError, match=r"the contract must have shape \(2,\)"):
        env.step(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="a contract is one wage per outcome"):
        env.step("pay me")
    free = aligngames.make("contract_v0", example="two_outcome", limited_liability=False)
    free.reset(seed=0)
    free.step(np.array([-1.0, 2.0], dtype=np.float32))  # allowed without limited liability
    assert free.unwrapped.infos["agent"]["wages"] == [-1.0, 2.0]


def test_parse_wages():
    outcomes = ("fail", "tests_pass", "verified")
    assert parse_wages("I pay 2 for verified work and nothing else.", outcomes) == \
        {"fail": None, "tests_pass": None, "verified": 2.0}
    assert parse_wages("Verified work gets $3, tests pass = 0.5", outcomes) == \
        {"fail": None, "tests_pass": 0.5, "verified": None}  # "work gets" is not a form it reads
    assert parse_wages("verified: 2; Tests pass: 0.5, fail -1", outcomes) == {"fail": -1.0, "tests_pass": 0.5, "verified": 2.0}
    assert parse_wages("pass 1, tests_pass 3", ("pass", "tests_pass")) == {"pass": 1.0, "tests_pass": 3.0}
    assert parse_wages(offer_text(outcomes, [0.0, 0.25, 1.6667]), outcomes) == \
        {"fail": 0.0, "tests_pass": 0.25, "verified": 1.6667}


def test_language_mode_reads_the_written_offer():
    env = aligngames.make("contract_v0", example="coding_assistant", mode="language")
    env.reset(seed=0)
    env.step(ContractPrincipal("optimal").act(None, "principal", env.action_space("principal"), env.unwrapped.infos["principal"]))
    info = env.unwrapped.infos["agent"]
    assert info["parsed_wages"]["verified"] == pytest.approx(5 / 3, abs=1e-4)
    assert BestResponseAgent().act(None, "agent", env.action_space("agent"), info) == 0  # genuine
    assert "The principal writes: I will pay:" in env.unwrapped.observe("agent")["transcript"]
    env.reset(seed=0)
    env.step("You get 40 on verified and 0 on fail.")  # tests_pass, not priced, pays 0
    assert env.unwrapped.infos["agent"]["wages"] == [0.0, 0.0, 40.0]
    assert env.unwrapped.infos["agent"]["parsed_wages"]["tests_pass"] is None
    env.reset(seed=0)
    env.step("verified: 100")  # clipped to max_wage, 5 / 0.1 by default; info keeps what was written
    assert env.unwrapped.infos["agent"]["wages"] == [0.0, 0.0, pytest.approx(50.0)]
    assert env.unwrapped.infos["agent"]["parsed_wages"]["verified"] == 100.0


def test_declining_gives_the_reservation_utility():
    env = aligngames.make("contract_v0", example="two_outcome", reservation_utility=0.5, rounds=2)
    env.reset(seed=0)
    record = _play(env, {"principal": ContractPrincipal([0.0, 0.0]), "agent": BestResponseAgent()})
    assert [entry["effort"] for entry in record["rounds"]] == ["decline", "decline"]
    assert record["returns"] == {"principal": 0.0, "agent": 1.0}
    fixed = aligngames.make_agent("contract_fixed_effort", effort="reward_hack")
    with pytest.raises(ValueError, match=r"unknown effort 'reward_hack'; this game's choices: \['low', 'high', 'decline'\]"):
        env.reset(seed=0)
        env.step(np.zeros(2, dtype=np.float32))
        fixed.act(None, "agent", env.action_space("agent"), env.unwrapped.infos["agent"])
