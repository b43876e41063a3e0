"""``pareto_preference_v0`` in language mode: PettingZoo's checks, the transcript states ``w``, the payoff is the
scalarisation of the judges' vector (stub judges with known scores), seeding, and errors that name the keyword."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test
from pettingzoo.utils.conversions import parallel_to_aec

import aligngames
from aligngames.envs import pareto_preference
from aligngames.judges import HarmJudge, PreferenceJudge


class LengthJudge(PreferenceJudge):
    """``P(answer > baseline) = min(len(answer), 10) / 10``: the score is known from the answer alone."""

    identity = "stub:length"

    def compare(self, prompts, first, second):
        return np.array([min(len(answer), 10) / 10 for answer in first])


class WordHarm(HarmJudge):
    """Harm 0.8 when the answer says "bad", else 0.1."""

    identity = "stub:word"

    def score(self, prompts, answers):
        return np.array([0.8 if "bad" in answer else 0.1 for answer in answers])


def stub_judges():
    return {"helpful": LengthJudge(), "harmless": WordHarm()}


PROMPTS = ["How do I boil an egg?", "Tell me a joke.", "Name a colour."]


def test_pettingzoo_checks_with_stub_judges():
    kwargs = {"mode": "language", "rounds": 3, "prompts": PROMPTS, "judges": stub_judges(), "grid": 2}
    api_test(pareto_preference.env(**kwargs), num_cycles=5)
    seed_test(lambda: pareto_preference.env(**kwargs), num_cycles=5)
    api_test(parallel_to_aec(pareto_preference.parallel_env(**kwargs)), num_cycles=5)


def test_the_observation_states_w_and_the_prompt():
    env = aligngames.make_parallel("pareto_preference_v0", mode="language", prompts=PROMPTS, judges=stub_judges(),
                                   weights=[[0.75, 0.25]])
    observations, infos = env.reset(seed=3)
    transcript, info = observations["policy"]["transcript"], infos["policy"]
    assert "Trade-off: helpful 0.75, harmless 0.25" in transcript
    assert f"User: {info['prompt']}" in transcript and info["prompt"] in PROMPTS
    assert observations["policy"]["observation"].tolist() == [0.0, 0.0, 0.75, 0.25]
    assert info["weight"] == [0.75, 0.25] and info["objectives"] == ["helpful", "harmless"]
    assert env.observation_space("policy").contains(observations["policy"])


@pytest.mark.parametrize("scalarisation", ["linear", "tchebycheff"])
def test_the_payoff_is_the_scalarised_vector_of_the_judges(scalarisation):
    env = aligngames.make_parallel("pareto_preference_v0", mode="language", prompts=PROMPTS, judges=stub_judges(),
                                   grid=4, rounds=6, scalarisation=scalarisation)
    _, infos = env.reset(seed=0)
    answers = ["bad", "a good long answer", "", "bad and long answer", "ok", "fine"]
    expected_vectors = [[0.3, 0.2], [1.0, 0.9], [0.0, 0.9], [1.0, 0.2], [0.2, 0.9], [0.4, 0.9]]
    for answer, vector in zip(answers, expected_vectors):
        w = np.array(infos["policy"]["weight"])
        _, rewards, _, _, infos = env.step({"policy": answer})
        assert infos["policy"]["last_reward_vector"] == pytest.approx(vector)
        expected = w @ vector if scalarisation == "linear" else -np.max(w * (1.0 - np.array(vector)))
        assert rewards["policy"] == pytest.approx(expected)
    record = env.unwrapped.record() if hasattr(env, "unwrapped") else env.record()
    assert [entry["answer"] for entry in record["rounds"]] == answers
    assert record["returns"]["policy"] == pytest.approx(sum(entry["reward"] for entry in record["rounds"]))


def test_nature_draws_w_and_the_prompt_from_the_env_seed():
    def draws(seed):
        env = aligngames.make_parallel("pareto_preference_v0", mode="language", prompts=PROMPTS, judges=stub_judges(),
                                       grid=4, rounds=8)
        _, infos = env.reset(seed=seed)
        seen = []
        while env.agents:
            seen.append((tuple(infos["policy"]["weight"]), infos["policy"]["prompt"]))
            _, _, _, _, infos = env.step({"policy": "x"})
        return seen

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)
    assert len({w for w, _ in draws(5)}) > 1


def test_default_and_registered_judges_by_name():
    env = aligngames.make("pareto_preference_v0", mode="language", rounds=1,
                          judges={"helpful": "features", "harmless": "pattern_harm", "careful": "pattern_harm"})
    rules = env.unwrapped.rules
    assert rules.objectives == ("helpful", "harmless", "careful")
    assert len(rules.weights) == 15  # the grid k = 4 over three objectives
    assert len(rules.prompts) == 40  # safe_rlhf_v0's default prompts: 24 benign, 16 harmful placeholders
    assert pareto_preference.DEFAULT_JUDGES == {"helpful": "features", "harmless": "minilm_harm"}


def test_bad_settings_name_the_keyword():
    language = {"mode": "language", "prompts": PROMPTS, "judges": stub_judges()}
    with pytest.raises(ValueError, match=r"\['beta', 'example'\] belong to mode='tabular'"):
        pareto_preference.make_rules("helpful_harmless", beta=0.1, **language)
    with pytest.raises(ValueError, match=r"\['judges', 'prompts'\] belong to mode='language'"):
        pareto_preference.make_rules(prompts=PROMPTS, judges={"x": "features"})
    with pytest.raises(ValueError, match="mode must be 'tabular' or 'language', got 'text'"):
        pareto_preference.make_rules(mode="text")
    with pytest.raises(ValueError, match=r"weights\[0\] = \[0.6, 0.6\] is off the simplex"):
        pareto_preference.make_rules(**language, weights=[[0.6, 0.6]])
    with pytest.raises(ValueError, match="give either weights .* or grid=k, not both"):
        pareto_preference.make_rules(**language, weights=[[0.5, 0.5]], grid=2)
    with pytest.raises(ValueError, match="scalarisation must be one of"):
        pareto_preference.make_rules(**language, scalarisation="max")
    with pytest.raises(ValueError, match=r"judge_kwargs names objectives \['honest'\]"):
        pareto_preference.make_rules(**language, judge_kwargs={"honest": {}})
    with pytest.raises(TypeError, match=r"judges\['helpful'\] .* needs a preference judge or a harm judge"):
        pareto_preference.make_rules(mode="language", judges={"helpful": object()})
    with pytest.raises(ValueError, match="prompts: .* is not a file"):
        pareto_preference.make_rules(mode="language", prompts="no-such-file.txt", judges=stub_judges())
    with pytest.raises(ValueError, match="rounds must be an int >= 1, got 0"):
        pareto_preference.make_rules(**language, rounds=0)


def test_a_judge_outside_0_1_is_an_error_not_a_payoff():
    class Broken(PreferenceJudge):
        identity = "stub:broken"

        def compare(self, prompts, first, second):
            return np.array([1.5] * len(first))

    env = aligngames.make_parallel("pareto_preference_v0", mode="language", prompts=PROMPTS,
                                   judges={"helpful": Broken()})
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"the 'helpful' judge \(stub:broken\) gave scores outside \[0, 1\]"):
        env.step({"policy": "hello"})
