"""Recursive debate rules (``envs/debate/recursive.py``) through ``RulesAECEnv``: PettingZoo's api and seed tests,
the honest debater winning against every liar strategy within ceil(log2 n) rounds, consultancy's 1/2 + 1/(2n),
the noisy check, observations, and checked input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.debate.recursive import EXAMPLE_KWARGS, consistent_value, make_recursive_rules
from aligngames.solvers.exact.recursive_debate import consultancy_accuracy


def _make(**kwargs) -> RulesAECEnv:
    return RulesAECEnv(make_recursive_rules(**kwargs))


@pytest.mark.parametrize("kwargs", EXAMPLE_KWARGS)
def test_pettingzoo_api_and_seed(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        api_test(_make(**kwargs), num_cycles=30)
        seed_test(lambda: _make(**kwargs), num_cycles=30)


def _statement(info, liar: str, rng) -> int:
    """Honest: the true value at the midpoint. Liars: ``agree`` (always the truth, keeps the right half),
    ``consistent`` (the value from which its own claim follows, keeps the left half), ``random``."""
    if info["honest"] or liar == "agree":
        return info["true_chain"][info["midpoint"]]
    if liar == "consistent":
        return consistent_value(np.array(info["tables"]), info["hi"], info["claim"], info["midpoint"])
    return int(rng.integers(len(info["tables"][0])))


def _play(env, seed, liar="consistent", consultant_lies_at=None):
    rng = np.random.default_rng(seed + 1000)
    env.reset(seed=seed)
    for agent in env.agent_iter():
        _observation, _reward, termination, truncation, info = env.last()
        if termination or truncation:
            env.step(None)
            continue
        if agent == "consultant":
            chain, step = info["true_chain"], info["step"]
            steps = len(chain) - 1
            if info["honest"]:
                action = chain[step]
            else:  # true up to the wrong step, then consistent with the false answer
                wrong = consultant_lies_at if consultant_lies_at is not None else steps
                action = chain[step] if step < wrong else consistent_value(np.array(info["tables"]), steps,
                                                                           info["answer"], step)
        else:
            action = _statement(info, liar, rng)
        env.step(action)
    return env.rules.record()


@pytest.mark.parametrize("steps", [2, 5, 8, 13])
def test_the_honest_debater_always_wins_within_ceil_log2_n_rounds(steps):
    env = _make(protocol="recursive", steps=steps, values=4)
    for liar in ("agree", "consistent", "random"):
        records = [_play(env, seed, liar) for seed in range(60)]
        assert all(record["judge_correct"] for record in records)
        assert max(len(record["rounds"]) for record in records) <= math.ceil(math.log2(steps))
        for record in records:
            honest = "debater_a" if record["correct_position"] == "A" else "debater_b"
            assert record["payoffs"][honest] == 1.0
    assert {len(_play(env, seed, "agree")["rounds"]) for seed in range(5)} == {math.ceil(math.log2(steps))}


def test_a_noisy_check_costs_debate_delta_and_consultancy_follows_its_formula():
    episodes = 2000
    env = _make(protocol="recursive", steps=6, check_error=0.2)
    share = np.mean([_play(env, seed)["judge_correct"] for seed in range(episodes)])
    assert abs(share - 0.8) < 4 * math.sqrt(0.16 / episodes)
    for check_error in (0.0, 0.1):
        env = _make(protocol="recursive_consultancy", steps=4, check_error=check_error)
        exact = consultancy_accuracy(4, check_error)  # 0.625, 0.6
        share = np.mean([_play(env, seed, consultant_lies_at=2)["judge_correct"] for seed in range(episodes)])
        assert abs(share - exact) < 4 * math.sqrt(exact * (1 - exact) / episodes)


def test_observations_and_the_kept_half():
    env = _make(protocol="recursive", steps=8, values=4, correct_position="A")
    env.reset(seed=3)
    rules = env.rules
    features = env.observe("debater_a")["observation"]
    assert features[:4].tolist() == [0, 0, 8, 4] and features[8:17].tolist() == rules.chain
    env.step(rules.chain[4])          # A (honest) states x_4
    assert env.unwrapped.infos["debater_b"]["statement_a"] == rules.chain[4]
    env.step(rules.chain[4])          # B agrees: keep [4, 8]
    assert (rules.lo, rules.hi, rules.agreed) == (4, 8, rules.chain[4])
    env.step(rules.chain[6])
    env.step((rules.chain[6] + 1) % 4)  # B disagrees: keep [4, 6]
    assert (rules.lo, rules.hi) == (4, 6) and rules.claims["A"] == rules.chain[6]
    env.step(rules.chain[5])
    env.step(rules.chain[5])          # agree at 5: one step left, the judge checks T_6
    assert rules.checked_step == 6 and rules.verdict == "A" and env.rewards == {"debater_a": 1.0, "debater_b": -1.0}


def test_bad_settings_and_actions_name_the_argument():
    for kwargs, name in (({"steps": 1}, "steps"), ({"values": 1}, "values"), ({"check_error": 0.8}, "check_error"),
                         ({"protocol": "debate"}, "protocol"), ({"correct_position": "C"}, "correct_position"),
                         ({"consultant_position": "A"}, "consultant_position"), ({"mode": "video"}, "mode"),
                         ({"judge": "player"}, "judge")):
        with pytest.raises(ValueError, match=name):
            make_recursive_rules(**kwargs)
    env = _make(protocol="recursive", steps=4, values=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="out of range"):
        env.step(3)
