"""Recursive debate, consultancy and no check under a one-step judge: exact values by game-tree search and
chain enumeration against the hand-derived answers.

Derivations (module docstring of ``aligngames.solvers.exact.recursive_debate``):
- debate: a truthful debater keeps the agreed value true, so the single check at the last disputed step finds the
  liar: accuracy 1 - delta for every n; the liar keeps the right half (length ceil(L/2)) by agreeing, so the
  longest game has ceil(log2 n) rounds: n = 2 -> 1, 3 -> 2, 5 -> 3, 8 -> 3, 9 -> 4, 12 -> 4;
- consultancy: a liar needs one wrong step (permutation tables), caught w.p. min_i p_i = 1/n under the uniform
  check; P(correct) = 1/2 (1 - delta) + 1/2 [(1 - delta)/n + delta (1 - 1/n)] = 1/2 + (1 - 2 delta)/(2n):
  n = 4, delta = 0 -> 0.625; n = 8, delta = 0.1 -> 0.55;
- no check: 1/2.
"""

from __future__ import annotations

import numpy as np
import pytest

from aligngames.envs.debate.recursive import max_rounds, random_steps, true_chain
from aligngames.solvers.exact.recursive_debate import (
    blind_accuracy,
    compare,
    consultancy_accuracy,
    consultancy_catch_probability,
    debate_accuracy,
    search_debate,
)


def _instance(rng, steps, values):
    tables = random_steps(rng, steps, values)
    start = int(rng.integers(values))
    end = true_chain(tables, start)[-1]
    return tables, start, (end + 1) % values


@pytest.mark.parametrize("steps", [2, 3, 4, 5, 7, 9])
def test_game_tree_value_is_one_minus_delta_whatever_the_liar_does(steps):
    rng = np.random.default_rng(steps)
    for check_error in (0.0, 0.2):
        tables, start, false_answer = _instance(rng, steps, 3)
        for honest_first in (True, False):
            search = search_debate(tables, start, false_answer, check_error=check_error, honest_first=honest_first)
            assert search.value == pytest.approx(1 - check_error)
            assert search.truthful_value == pytest.approx(1 - check_error)  # the truth is an optimal strategy
    assert search.value == pytest.approx(debate_accuracy(0.2))


def test_the_liar_forces_at_most_ceil_log2_n_rounds():
    rng = np.random.default_rng(0)
    for steps, rounds in ((2, 1), (3, 2), (5, 3), (8, 3), (9, 4), (12, 4)):
        assert max_rounds(steps) == rounds
        tables, start, false_answer = _instance(rng, steps, 2)
        assert search_debate(tables, start, false_answer).max_rounds == rounds


def test_consultancy_liar_is_caught_with_probability_one_over_n():
    rng = np.random.default_rng(1)
    for steps in (2, 3, 4, 5):
        tables, start, false_answer = _instance(rng, steps, 3)
        caught, chain = consultancy_catch_probability(tables, start, false_answer)
        assert caught == pytest.approx(1 / steps)
        full = (start, *chain, false_answer)
        wrong = [i for i in range(1, steps + 1) if tables[i - 1][full[i - 1]] != full[i]]
        assert len(wrong) == 1  # the best lie has exactly one wrong step
    # a non-uniform check is worse for the judge: the liar hides its wrong step where p_i is smallest
    tables, start, false_answer = _instance(rng, 4, 3)
    assert consultancy_catch_probability(tables, start, false_answer, [0.1, 0.4, 0.3, 0.2])[0] == pytest.approx(0.1)
    assert consultancy_accuracy(4) == pytest.approx(0.625) and consultancy_accuracy(8, 0.1) == pytest.approx(0.55)
    assert blind_accuracy() == 0.5


def test_compare_table():
    rows = {row["protocol"]: row for row in compare(8, 0.1)}
    assert rows["recursive debate"]["accuracy"] == pytest.approx(0.9) and rows["recursive debate"]["rounds"] == 3
    assert rows["consultancy"]["accuracy"] == pytest.approx(0.55) and rows["consultancy"]["statements"] == 7
    assert rows["no check"]["accuracy"] == 0.5 and rows["no check"]["checks"] == 0


def test_bad_input_names_the_argument():
    tables, start, false_answer = _instance(np.random.default_rng(2), 4, 3)
    with pytest.raises(ValueError, match="check_error"):
        search_debate(tables, start, false_answer, check_error=0.6)
    with pytest.raises(ValueError, match=r"tables\[1\] must be a permutation"):
        search_debate([[0, 1, 2], [0, 0, 1]], 0, 1)
    with pytest.raises(ValueError, match="false_answer"):
        search_debate(tables, start, true_chain(tables, start)[-1])
    with pytest.raises(ValueError, match="start"):
        search_debate(tables, 7, false_answer)
    with pytest.raises(ValueError, match="check_distribution must have shape"):
        consultancy_catch_probability(tables, start, false_answer, [0.5, 0.5])
    with pytest.raises(ValueError, match="not a probability distribution"):
        consultancy_catch_probability(tables, start, false_answer, [0.5, 0.5, 0.5, -0.5])
    with pytest.raises(ValueError, match="steps"):
        consultancy_accuracy(0)
