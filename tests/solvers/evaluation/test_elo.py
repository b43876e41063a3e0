"""Elo from tournament episodes: the decisive results read from ``matches.jsonl`` lines, checked against
the Bradley-Terry gap by hand."""

from __future__ import annotations

import numpy as np
import pytest

from aligngames.solvers.evaluation.elo import episode_results, fit_elo


def test_episode_results_from_tournament_lines_give_the_hand_elo_gap():
    """A beats B in 3 of 4 decisive episodes (one draw left out): the MLE gap is 400 log10(3) = 190.85."""
    lines = [{"match": 0, "seating": {"player_0": "A", "player_1": "B"}, "returns": {"player_0": [1, 1, 0, 0.5], "player_1": [0, 0, 1, 0.5]}},
             {"match": 1, "seating": {"player_0": "B", "player_1": "A"}, "returns": {"player_0": [0], "player_1": [1]}},
             {"match": 2, "seating": {"player_0": "A", "player_1": "A"}, "returns": {"player_0": [1], "player_1": [0]}}]
    results, draws = episode_results(lines, ["A", "B"])
    assert sorted(results) == [(0, 1), (0, 1), (0, 1), (1, 0)] and draws == 1
    ratings = fit_elo(2, results)
    assert ratings[0] - ratings[1] == pytest.approx(400 * np.log10(3), abs=1e-6)
    with pytest.raises(ValueError, match="two-seat game"):
        episode_results([{"match": 3, "seating": {"a": "A", "b": "B", "c": "A"}, "returns": {}}], ["A", "B"])
