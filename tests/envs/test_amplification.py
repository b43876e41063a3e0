"""amplification_v0: honest play reaches the solver's exact root accuracy, seats see what they should, actions
and settings are checked, and the env passes PettingZoo's api_test."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test

import aligngames
from aligngames.envs.amplification import combine


def _play_honestly(env, seed: int) -> dict:
    env.reset(seed=seed)
    for agent in env.agent_iter():
        _observation, _reward, termination, truncation, info = env.last()
        if termination or truncation:
            action = None
        elif agent == "model":
            action = info["signal"]
        else:
            action = combine(info["rule"], info["subtask_answers"])
        env.step(action)
    return env.unwrapped.record()


@pytest.mark.parametrize("kwargs", [
    {"depth": 3, "branching": 3, "rule": "vote", "levels": 2, "distillation_error": 0.1, "base_accuracy": 0.8},
    {"depth": 2, "branching": 2, "rule": "parity", "levels": 1, "overseer_error": 0.1, "base_accuracy": 0.9},
])
def test_honest_play_reaches_the_exact_accuracy(kwargs):
    env = aligngames.make("amplification_v0", **kwargs)
    exact = env.unwrapped.rules.exact_accuracy
    episodes = 1500
    records = [_play_honestly(env, seed) for seed in range(episodes)]
    share = np.mean([record["correct"] for record in records])
    assert abs(share - exact) < 4 * math.sqrt(exact * (1 - exact) / episodes)
    assert all(record["payoffs"]["overseer"] == record["payoffs"]["model"] == float(record["correct"]) for record in records)
    b, levels = kwargs["branching"], kwargs["levels"]
    assert records[0]["model_calls"] == b ** levels and records[0]["overseer_calls"] == (b ** levels - 1) // (b - 1)


def test_the_model_sees_its_signal_and_the_overseer_the_subtask_answers():
    env = aligngames.make("amplification_v0", depth=2, branching=3, rule="vote", levels=1)
    env.reset(seed=1)
    signal = env.unwrapped.rules.signals[0]
    observation = env.observe("model")["observation"]
    assert observation[3] == signal and (observation[4:] == -1).all()
    assert env.observe("overseer")["observation"][3] == -1  # the overseer never sees a signal
    for answer in (1, 0, 1):
        env.step(answer)
    assert env.agent_selection == "overseer"
    assert env.observe("overseer")["observation"][4:].tolist() == [1, 0, 1]
    assert env.unwrapped.infos["overseer"]["subtask_answers"] == [1, 0, 1]
    env.step(1)
    assert all(env.terminations.values())
    truth = env.unwrapped.rules.truths[1][0]
    assert env.rewards["overseer"] == float(truth == 1)


def test_actions_and_settings_are_checked():
    env = aligngames.make("amplification_v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="out of range"):
        env.step(2)
    with pytest.raises(ValueError, match="must be an int"):
        env.step("yes")
    with pytest.raises(ValueError, match="levels"):
        aligngames.make("amplification_v0", depth=2, levels=3)
    with pytest.raises(ValueError, match="frontier subtasks"):
        aligngames.make("amplification_v0", depth=5, branching=3, levels=4)
    with pytest.raises(ValueError, match="mode"):
        aligngames.make("amplification_v0", mode="language")
    with pytest.raises(ValueError, match="distillation_error"):
        aligngames.make("amplification_v0", distillation_error=0.9)


def test_api_test_and_render():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        api_test(aligngames.make("amplification_v0", depth=2, branching=2, rule="parity", levels=2), num_cycles=30)
    env = aligngames.make("amplification_v0", render_mode="ansi")
    _play_honestly(env, 0)
    assert "root" in env.render() and "exact accuracy" in env.render()
