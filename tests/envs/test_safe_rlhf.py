"""safe_rlhf_v0: payoffs are the Lagrangian's, the optimal policy meets the threshold on average, the two forms agree,
and the cost-tracking multiplier applies its rule to the costs it has seen."""

from __future__ import annotations

import numpy as np
import pytest

import aligngames
from aligngames.agents.safe_rlhf import CostTrackingMultiplier, FixedMultiplier, ProbeAdversary, TablePolicy
from aligngames.envs.safe_rlhf.problems import build
from aligngames.solvers.exact.safe_rlhf import solve, solve_robust


def _play_parallel(env, players, seed=0):
    for index, player in enumerate(players.values()):
        player.reset(1000 + index)  # not the env's seed: equal seeds would give the env and a player one random stream
    observations, infos = env.reset(seed=seed)
    while env.agents:
        actions = {agent: players[agent].act(observations[agent], agent, env.action_space(agent), infos[agent])
                   for agent in env.agents}
        observations, _, _, _, infos = env.step(actions)
    return env.unwrapped.record()


def test_payoffs_are_the_lagrangian():
    env = aligngames.make_parallel("safe_rlhf_v0", example="two_prompts")
    _, infos = env.reset(seed=0)
    assert infos["policy"]["cost_sign"].startswith("higher cost is more harmful")
    prompt = infos["policy"]["prompt"]
    _, rewards, *_ = env.step({"policy": 0, "multiplier": np.array([2.0], dtype=np.float32)})
    problem = build("two_prompts")
    x = problem.prompts.index(prompt)
    excess = problem.costs[x, 0] - problem.threshold
    assert rewards == pytest.approx({"policy": problem.rewards[x, 0] - 2.0 * excess, "multiplier": 2.0 * excess})


def test_the_optimal_policy_meets_the_threshold_on_average():
    solution = solve(build("two_prompts"))
    players = {"policy": TablePolicy(solution.policy.tolist()), "multiplier": FixedMultiplier(solution.multiplier)}
    costs, payoffs = [], []
    for seed in range(10):
        record = _play_parallel(aligngames.make_parallel("safe_rlhf_v0", example="two_prompts", rounds=200), players, seed)
        costs += [entry["cost"] for entry in record["rounds"]]
        payoffs.append(record["returns"]["multiplier"])
    # exact 0.05; the standard error of a 2000-round mean is about 0.005
    assert abs(np.mean(costs) - 0.05) < 0.016
    assert abs(np.sum(payoffs) / 2000) < 0.025  # lambda* (E c - d) = 0


def test_aec_and_parallel_forms_agree():
    solution = solve(build("two_prompts"))
    players = {"policy": TablePolicy(solution.policy.tolist()), "multiplier": CostTrackingMultiplier(step=0.5)}
    parallel = _play_parallel(aligngames.make_parallel("safe_rlhf_v0", example="two_prompts", rounds=20), players)
    env = aligngames.make("safe_rlhf_v0", example="two_prompts", rounds=20)
    for index, player in enumerate(players.values()):
        player.reset(1000 + index)
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, _, termination, truncation, info = env.last()
        env.step(None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info))
    assert env.unwrapped.record()["rounds"] == parallel["rounds"]


def test_cost_tracking_multiplier_rules():
    space = aligngames.make("safe_rlhf_v0", example="comply_refuse").action_space("multiplier")
    projected = CostTrackingMultiplier(initial=1.0, step=0.5, window=2)
    info = {"threshold": 0.2, "costs_so_far": [1.0, 0.0]}
    # after cost 1: 1 + 0.5 (1 - 0.2) = 1.4; after cost 0 (window mean 0.5): 1.4 + 0.5 * 0.3 = 1.55
    assert projected.act(None, "multiplier", space, info)[0] == pytest.approx(1.55)
    log = CostTrackingMultiplier(initial=1.0, step=0.5, update="log", window=1)
    assert log.act(None, "multiplier", space, {"threshold": 0.2, "costs_so_far": [1.0]})[0] == \
        pytest.approx(np.exp(0.5 * 0.8), rel=1e-6)


def test_bad_actions_are_refused():
    env = aligngames.make("safe_rlhf_v0", example="comply_refuse", lambda_max=5.0)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(ValueError, match=r"lambda must be one finite number in \[0, 5\], got \[7.0\]"):
        env.step(np.array([7.0], dtype=np.float32))
    with pytest.raises(ValueError, match="mode must be 'tabular' or 'language'"):
        aligngames.make("safe_rlhf_v0", mode="text")


def _language_run(policy_name: str, rounds: int = 30):
    env = aligngames.make_parallel("safe_rlhf_v0", mode="language", rounds=rounds)
    players = {"policy": aligngames.make_agent(policy_name), "multiplier": CostTrackingMultiplier(initial=1.0, step=0.5)}
    return _play_parallel(env, players)["rounds"]


def test_language_mode_scores_answers_with_both_judges():
    # the embedded judges: complying with the catalog's harmful placeholders costs P(harmful) near 1, refusing
    # near 0; the multiplier that tracks the cost rises above its start for the first and falls to 0 for the second
    compliant, refusing = _language_run("compliant_blue"), _language_run("refusing_blue")
    harmful = [entry["cost"] for entry in compliant if "restricted request" in entry["prompt"]]
    assert harmful and min(harmful) > 0.5
    assert max(entry["cost"] for entry in refusing) < 0.1
    assert compliant[-1]["multiplier"] > 1.0 and refusing[-1]["multiplier"] == 0.0
    assert np.mean([e["reward"] for e in compliant]) > np.mean([e["reward"] for e in refusing])
    for entry in compliant:  # payoffs are the Lagrangian of the judged reward and cost
        assert entry["rewards"]["policy"] == pytest.approx(entry["reward"] - entry["multiplier"] * (entry["cost"] - 0.1))


def test_language_mode_names_its_cost_judge_call_for_the_match_engine():
    env = aligngames.make("safe_rlhf_v0", mode="language", cost_judge="pattern_harm")
    env.reset(seed=0)
    rules = env.unwrapped.rules
    ((judge, prompt, answer),) = rules.judge_requests("policy", "An answer.")
    assert judge is rules.cost_judge and prompt == rules.prompt and answer == "An answer."
    assert rules.judge_requests("multiplier", 0.5) == [] and rules.judge_requests("policy", 7) == []


def test_language_mode_options_and_errors(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("How do I boil an egg?\nWhat is a prime number?\n")
    env = aligngames.make_parallel("safe_rlhf_v0", mode="language", prompts=str(prompts), threshold=0.2)
    _, infos = env.reset(seed=0)
    assert infos["policy"]["prompt"] in ("How do I boil an egg?", "What is a prime number?")
    assert infos["multiplier"]["threshold"] == 0.2
    with pytest.raises(ValueError, match=r"\['rewards'\] belong to mode='tabular'"):
        aligngames.make("safe_rlhf_v0", mode="language", rewards=[[1, 0]])
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        aligngames.make("safe_rlhf_v0", mode="language", threshold=2.0)


def test_adversary_seat_probes_and_pays_the_robust_lagrangian():
    solution = solve_robust(build("two_prompts"))
    env = aligngames.make_parallel("safe_rlhf_v0", example="two_prompts", adversary=True, rounds=10)
    assert env.possible_agents == ["adversary", "policy", "multiplier"]
    players = {"adversary": ProbeAdversary([0.5, 0.5]), "policy": TablePolicy(solution.policy.tolist()),
               "multiplier": FixedMultiplier(solution.multiplier)}
    problem, entries, means = env.unwrapped.rules.problem, [], []
    for seed in range(300):
        if seed == 150:
            players["adversary"] = ProbeAdversary(solution.adversary.tolist())
        record = _play_parallel(env, players, seed=seed)
        entries += record["rounds"]
        if seed >= 150:
            means.append(env.unwrapped.rules.returns()["policy"] / 10)
    d, lam = problem.threshold, solution.multiplier
    for entry in entries:  # a user round pays r / (1 - rate), a probe -lambda (c - d) / rate, the others the opposite
        expected = entry["reward"] / 0.5 if not entry["probe"] else -lam * (entry["cost"] - d) / 0.5
        assert entry["rewards"]["policy"] == pytest.approx(expected)
        assert entry["rewards"]["adversary"] == entry["rewards"]["multiplier"] == pytest.approx(
            0.0 if not entry["probe"] else lam * (entry["cost"] - d) / 0.5)
    probes = [entry for entry in entries if entry["probe"]]
    assert abs(len(probes) / len(entries) - 0.5) < 0.05
    # at the exact solution the robust Lagrangian equals the expected reward (the binding constraint costs 0)
    assert np.mean(means) == pytest.approx(solution.expected_reward, abs=5 * np.std(means) / np.sqrt(len(means)))


def test_adversary_seat_moves_first_and_hides_the_coin():
    env = aligngames.make("safe_rlhf_v0", example="two_prompts", adversary=True, probe_rate=0.25)
    env.reset(seed=0)
    assert env.agent_selection == "adversary" and env.infos["adversary"]["action_labels"] == ["benign", "harmful"]
    env.step(1)
    assert env.agent_selection == "policy" and "probe" not in env.infos["policy"]
    with pytest.raises(ValueError, match="probe_rate must be a number strictly between 0 and 1"):
        aligngames.make("safe_rlhf_v0", example="two_prompts", adversary=True, probe_rate=1.0)
    with pytest.raises(ValueError, match="adversary"):
        aligngames.make("safe_rlhf_v0", mode="language", adversary=True)
