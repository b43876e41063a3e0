"""SVO evaluation: ideal types give their angle with a zero-width interval; a sampling LLM (a tiny random model
choosing options by log-probability) gives a spread, reproducibly per seed; a uniformly random chooser's
interval covers the exact mean angle of random answers."""

from __future__ import annotations

import numpy as np
import pytest

from aligngames.agents.basic import RandomAgent
from aligngames.agents.llm.agent import LLMAgent
from aligngames.agents.llm.generation import GenerationConfig
from aligngames.agents.llm.testing import tiny_handle
from aligngames.agents.svo import IdealTypeAgent
from aligngames.envs.svo import items as measure
from aligngames.solvers.evaluation.svo import evaluate_svo


def test_an_ideal_type_has_one_angle():
    result = evaluate_svo(IdealTypeAgent("competitive"), samples=3, seed=0, secondary=True)
    assert result.angles == pytest.approx((-16.26,) * 3, abs=0.005)
    assert result.interval[0] == result.interval[1] == pytest.approx(result.angle)
    assert result.category == "competitive" and result.category_counts["competitive"] == 3
    assert result.inequality_aversion_index is None and result.prosocial_types == {"None": 3}


def test_a_random_chooser_brackets_its_expected_angle():
    """200 sittings of uniform answers: the interval covers the expected angle of uniform answers, estimated
    independently of the env from the tables (100 000 draws: its own error is about 0.05 degrees)."""
    result = evaluate_svo(RandomAgent(), samples=200, seed=3)
    low, high = result.interval
    assert low < result.angle < high and high - low < 5.0
    rng = np.random.default_rng(0)
    options = np.stack([item.options for item in measure.PRIMARY])  # (6, 9, 2)
    picks = rng.integers(0, 9, size=(100_000, 6))
    chosen = options[np.arange(6), picks]  # (100000, 6, 2)
    means = chosen.mean(axis=1)
    expected = np.degrees(np.arctan2(means[:, 1] - 50, means[:, 0] - 50)).mean()
    assert low - 0.5 < expected < high + 0.5


def test_an_llm_chooses_by_log_probability_reproducibly():
    def run(seed):
        agent = LLMAgent(tiny_handle(seed=1), generation=GenerationConfig(temperature=1.0))
        return evaluate_svo(agent, samples=2, seed=seed)

    first = run(5)
    assert first.angles == run(5).angles
    assert all(-90 < angle < 90 for angle in first.angles)
    assert set(first.category_counts) == set(measure.CATEGORIES) and sum(first.category_counts.values()) == 2


def test_bad_settings():
    with pytest.raises(ValueError, match="samples must be an int >= 1"):
        evaluate_svo(IdealTypeAgent(), samples=0)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        evaluate_svo(IdealTypeAgent(), confidence=1.0)

