"""Pieces of the language-model elasticity experiment with hand-computed answers (the end-to-end run on the tiny
model is in ``tests/core/cli/test_elasticity_command.py``).

- the half crossing on grid (0, 2, 4) with remaining (1, 0.7, 0.3): 2 + (0.7 - 0.5) / (0.7 - 0.3) * 2 = 3;
- the two-answer KL of (0.5, 0.5) to (0.9, 0.1): 0.5 ln(0.5 / 0.9) + 0.5 ln(0.5 / 0.1) = 0.5 ln(25 / 9), the same
  when the rows are unnormalised log-probabilities (a constant added per row).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aligngames.solvers.training.elasticity_language import (
    LanguageElasticityConfig,
    half_crossing,
    harmful_prompts,
    two_answer_kl,
)


def test_half_crossing_interpolates_the_first_crossing():
    assert half_crossing([0, 2, 4], [1.0, 0.7, 0.3]) == pytest.approx(3.0)
    assert half_crossing([0, 2, 4], [1.0, 0.9, 0.6]) == math.inf


def test_two_answer_kl_normalises_each_row():
    first = np.log([[0.5, 0.5]]) - 3.0
    second = np.log([[0.9, 0.1]]) + 7.0
    assert two_answer_kl(first, second) == pytest.approx(0.5 * math.log(25 / 9))
    assert two_answer_kl(second, second) == pytest.approx(0.0)


def test_prompts_come_from_the_catalog_and_config_checks_its_values():
    prompts = harmful_prompts(4)
    assert len(prompts) == 4 and len(set(prompts)) == 4 and all("restricted request" in p for p in prompts)
    with pytest.raises(ValueError, match="n_align must be >= 1"):
        LanguageElasticityConfig(n_align=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        LanguageElasticityConfig(learning_rate=0.0)
