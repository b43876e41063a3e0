"""``aligngames solve aligner`` run as a user runs it (a subprocess), with known answers: for rewards (0, 1), eps 1/2
and beta 1 the tilt gives ``mu*(good | bad) = e / (3 + e)`` and ``mu*(good | good) = 3e / (1 + 3e)``; the
stationary distribution of iterated distillation has odds ``e (1 + 3e) / (3 + e)`` (derivations in
``tests/solvers/exact/test_aligner.py``); a red team against a greedy corrector (beta 0) picks the prompt whose best
answer is worst."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
E = math.e


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aligngames.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_solve_aligner_writes_kernel_composite_and_distillation(tmp_path):
    problem = tmp_path / "problem.yaml"
    problem.write_text("answers: [bad, good]\nrewards: [0, 1]\nupstream: [0.5, 0.5]\neps: 0.5\nbeta: 1\n")
    out = tmp_path / "aligner.json"
    result = run_cli("solve", "aligner", "--problem", str(problem), "--rounds", "4", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "kernel mu*(y' | y)" in result.stdout and "expected reward per distillation round" in result.stdout
    data = json.loads(out.read_text())
    assert data["kernel"][0] == pytest.approx([3 / (3 + E), E / (3 + E)])
    assert data["kernel"][1] == pytest.approx([1 / (1 + 3 * E), 3 * E / (1 + 3 * E)])
    q_good = 0.5 * E / (3 + E) + 0.5 * 3 * E / (1 + 3 * E)
    assert data["composite"] == pytest.approx({"bad": 1 - q_good, "good": q_good})
    assert data["expected_reward"] == pytest.approx(q_good)
    assert data["win_rate_vs_upstream"] == pytest.approx(q_good / 2 + 0.25)
    assert len(data["round_expected_reward"]) == 4 and data["round_expected_reward"][0] == pytest.approx(q_good)
    odds = E * (1 + 3 * E) / (3 + E)
    assert data["fixed_point"] == pytest.approx({"bad": 1 / (1 + odds), "good": odds / (1 + odds)})


def test_solve_aligner_red_team_and_errors(tmp_path):
    problem = tmp_path / "red.json"
    problem.write_text(json.dumps({"prompts": ["a", "b"], "rewards": [[0, 1], [0, 0.6]],
                                   "upstream": [[1, 0], [0.5, 0.5]], "eps": 0.5, "beta": 0}))
    out = tmp_path / "red_out.json"
    result = run_cli("solve", "aligner", "--problem", str(problem), "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["red"]["value"] == pytest.approx(0.6) and data["red"]["strategy"] == pytest.approx({"a": 0.0, "b": 1.0})
    assert data["expected_reward"] == pytest.approx({"a": 1.0, "b": 0.6})
    result = run_cli("solve", "aligner", "--example", "three_answers", "--eps", "1.5")
    assert result.returncode == 2 and "eps must be in [0, 1]" in result.stderr
    problem.write_text(json.dumps({"rewards": [0, 1], "upstream": [0.5, 0.6]}))
    result = run_cli("solve", "aligner", "--problem", str(problem))
    assert result.returncode == 2 and "upstream['x'] is not a probability distribution" in result.stderr
