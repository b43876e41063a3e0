"""weak_to_strong_v0: the env plays what the exact solver predicts (random flips denoised, systematic ones
copied), pays the student for agreement and the supervisor for truth, shows the student its training data,
parses language replies strictly, and names bad settings."""

from __future__ import annotations

import numpy as np
import pytest

import aligngames
from aligngames.agents.weak_to_strong import MajorityStudent, WeakSupervisor
from aligngames.envs.weak_to_strong import language
from aligngames.envs.weak_to_strong.problems import build
from aligngames.solvers.exact.weak_to_strong import solve_classification


def _play(env, players, seed=0):
    env.reset(seed=seed)
    for agent in env.agent_iter():
        observation, _reward, termination, truncation, info = env.last()
        env.step(None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info))
    return env.unwrapped.record()


SCRIPTED = {"supervisor": WeakSupervisor(), "student": MajorityStudent()}


@pytest.mark.parametrize("example", ["random_flips", "systematic_flips", "mixed"])
def test_the_majority_student_converges_to_the_exact_lookup_student(example):
    """With 300 rounds each of the ten inputs has about 30 earlier labels; the majority of 30 labels that are right
    with probability 0.8 is wrong with probability below 1e-3, so the late rounds play the exact lookup student."""
    record = _play(aligngames.make("weak_to_strong_v0", example=example, rounds=300), SCRIPTED)
    exact = solve_classification(build(example), "lookup")
    late = record["rounds"][150:]
    for entry in late:
        assert entry["student_label"] == exact.weak_to_strong_predictions[entry["input"]]
    student_accuracy = np.mean([entry["student_correct"] for entry in late])
    # 150 late rounds: within 3 standard errors (at most 0.041) of the exact accuracy
    assert student_accuracy == pytest.approx(exact.weak_to_strong_accuracy, abs=0.12)
    # the supervisor's 300 labels: accuracy within 3 standard errors (sd about 0.026) of the weak accuracy
    assert record["supervisor_accuracy"] == pytest.approx(exact.weak_accuracy, abs=0.08)


def test_rewards_pay_agreement_to_the_student_and_truth_to_the_supervisor():
    env = aligngames.make("weak_to_strong_v0", true_labels=[0, 1], flip_probabilities=[1.0, 0.0], rounds=4)
    env.reset(seed=1)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    for agent in env.agent_iter():
        _observation, reward, termination, truncation, info = env.last()
        totals[agent] += reward
        if termination or truncation:
            env.step(None)
            continue
        # the supervisor plays the weak label; the student always says 1
        env.step(info["weak_label"] if agent == "supervisor" else 1)
    for entry in env.unwrapped.record()["rounds"]:
        # input 0 (truth 0) is always labelled 1: the student agrees but is wrong; input 1 is labelled right
        assert entry["supervisor_label"] == 1 and entry["agreement"]
        assert entry["student_correct"] == (entry["input"] == 1) == entry["supervisor_correct"]
        assert entry["rewards"] == {"supervisor": float(entry["input"] == 1), "student": 1.0}
    record = env.unwrapped.record()
    assert totals["student"] == 4.0 and record["agreement"] == 1.0
    assert totals["supervisor"] == sum(entry["input"] == 1 for entry in record["rounds"])


def test_the_student_sees_its_training_data_but_not_this_rounds_label():
    env = aligngames.make("weak_to_strong_v0", example="random_flips", rounds=3)
    env.reset(seed=2)
    env.step(1)  # supervisor labels the first input 1
    observation, _, _, _, info = env.last()
    assert env.agent_selection == "student" and "weak_label" not in info
    assert observation["observation"][2 + 10:].sum() == 0  # no earlier labels yet
    env.step(0)
    env.step(0)  # the supervisor labels the second input 0
    observation, _, _, _, info = env.last()
    counts = observation["observation"][2 + 10:].reshape(10, 2)
    first = env.unwrapped.record()["rounds"][0]
    assert counts.sum() == 1 and counts[first["input"], 1] == 1
    assert info["last_round"] == {key: first[key] for key in ("supervisor_correct", "student_correct", "agreement")}
    assert f"input {first['input']}\n  label: 1" in observation["transcript"]


def test_language_mode_parses_replies_strictly_and_records_invalid_ones():
    env = aligngames.make("weak_to_strong_v0", mode="language", rounds=2, split="test")
    env.reset(seed=0)
    _, _, _, _, info = env.last()
    assert info["weak_label"] in language.LABELS
    env.step(" Harmful. ")
    env.step("harmful!")  # not exactly a label: invalid, scores 0
    env.step("SAFE")
    env.step("safe")
    rounds = env.unwrapped.record()["rounds"]
    assert rounds[0]["supervisor_label"] == 1 and rounds[0]["student_label"] is None
    assert not rounds[0]["agreement"] and rounds[0]["rewards"]["student"] == 0.0
    assert rounds[1]["supervisor_label"] == rounds[1]["student_label"] == 0 and rounds[1]["agreement"]
    assert rounds[0]["supervisor_reply"] == " Harmful. " and rounds[0]["student_reply"] == "harmful!"


def test_the_compliance_rule_is_a_weak_labeller_with_known_accuracy():
    """Counted on the packaged items: the lexical rule is right on 287 of the 349 held-out items (0.822) and
    on 475 of 595 training items (0.798)."""
    for split, accuracy in (("test", 287 / 349), ("train", 475 / 595)):
        items = language.load_items(split)
        truth = np.array([item.label for item in items])
        assert np.mean(language.compliance_rule(items) == truth) == pytest.approx(accuracy)
    items = language.load_items("test")
    flipped = language.weak_labels(items, "random_flips", np.random.default_rng(0), rate=1.0)
    assert (flipped == 1 - np.array([item.label for item in items])).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"example": "nope"}, "example must be one of"),
    ({"example": "mixed", "true_labels": [0, 1]}, "either example"),
    ({"true_labels": [0, 1]}, "the problem needs"),
    ({"rounds": 0}, "rounds must be an int"),
    ({"mode": "chess"}, "mode must be one of"),
    ({"mode": "language", "example": "mixed"}, "language mode uses the packaged task"),
    ({"mode": "language", "labeller": "oracle"}, "labeller must be one of"),
    ({"mode": "language", "flip_rate": 1.5}, "flip_rate must lie in"),
    ({"mode": "language", "split": "dev"}, "split must be one of"),
    ({"true_labels": [0, 1], "flip_probabilities": [0.1, 0.2], "probabilities": [0.9, 0.2]}, "probabilities must be"),
])
def test_bad_settings_raise_value_errors_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        aligngames.make("weak_to_strong_v0", **kwargs)


def test_bad_actions_and_players_raise_value_errors_naming_them():
    env = aligngames.make("weak_to_strong_v0", example="mixed")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="supervisor"):
        env.step(2)
    with pytest.raises(ValueError, match="info\\['weak_label'\\]"):
        WeakSupervisor().act({}, "student", env.action_space("student"), {})
    language_env = aligngames.make("weak_to_strong_v0", mode="language", rounds=1)
    with pytest.raises(ValueError, match="Discrete"):
        MajorityStudent().act({}, "student", language_env.action_space("student"), {})
