"""The tournament report's ratings: Nash averaging and alpha-rank of a symmetric meta-game, and alpha-rank with one
population per seat, on tables whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from aligngames.play.report import _seat_ratings, _symmetric_ratings


def _rows(lines):
    return [line.split(" | ") for line in lines if line.startswith("| ") and "agent" not in line]


def test_symmetric_ratings_of_rock_paper_scissors_and_a_dominated_copy(tmp_path):
    # rock, paper, scissors and a "weak rock" that loses 0.5 to everyone: Nash averaging puts a third on each of
    # R, P, S and none on the weak rock, whose Nash average is its payoff -0.5 against the uniform mixture
    table = np.array([[0, -1, 1, 0.5], [1, 0, -1, 0.5], [-1, 1, 0, 0.5], [-0.5, -0.5, -0.5, 0]])
    lines = _symmetric_ratings(tmp_path, ["rock", "paper", "scissors", "weak"], table, table.mean(axis=1))
    rows = {row[0][2:]: row for row in _rows(lines)}
    for name in ("rock", "paper", "scissors"):
        assert float(rows[name][2]) == pytest.approx(1 / 3, abs=1e-3) and rows[name][3] == "+0.000"
    assert float(rows["weak"][2]) == 0.0 and rows["weak"][3] == "-0.500"
    assert float(rows["weak"][4].strip(" |")) < 0.05  # alpha-rank: the weak rock is almost never resident
    assert (tmp_path / "ratings.png").exists()


def test_seat_ratings_find_the_dominant_profile():
    # red's second agent and blue's first dominate: alpha-rank puts nearly all mass on (r1, b0)
    red = [[0.0, 0.2], [1.0, 0.8]]
    blue = [[0.5, 0.1], [0.6, 0.2]]
    data = {"seats": ["red", "blue"], "pools": {"red": ["r0", "r1"], "blue": ["b0", "b1"]},
            "mean": {"red": red, "blue": blue}}
    lines = _seat_ratings(data)
    top = next(line for line in lines if line.startswith("Top profile"))
    assert top.startswith("Top profile: red=r1, blue=b0") and float(top.split("mass ")[1].rstrip(").")) > 0.9
