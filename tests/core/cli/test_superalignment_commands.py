"""``aligngames solve amplification | recursive_debate`` run as a user runs them (a subprocess), with the known
answers: one vote level over a_0 = 0.9 with eps = 0.05 gives a_1 = 0.9248 (0.972 amplified), the vote threshold
for b = 3 is 1/6; recursive debate over 8 steps takes 3 rounds and the honest side always wins, while a
one-check consultancy catches a liar with one wrong step w.p. 1/8."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aligngames.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_solve_amplification_prints_and_writes_the_recursion(tmp_path):
    out = tmp_path / "amplification.json"
    result = run_cli("solve", "amplification", "--depth", "2", "--rule", "vote", "--base-accuracy", "0.9",
                     "--distillation-error", "0.05", "--reward-model-error", "0.05", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "    1       0.972000       0.924800" in result.stdout
    assert "noise per level < 0.166667" in result.stdout
    data = json.loads(out.read_text())
    assert data["distilled_accuracy"] == pytest.approx([0.9, 0.9248, data["distilled_accuracy"][2]])
    assert [row["model_calls"] for row in data["tradeoff"]] == [1, 3, 9]
    assert data["rrm"]["agent_accuracy"] == pytest.approx(data["distilled_accuracy"])


def test_solve_amplification_rejects_bad_input():
    result = run_cli("solve", "amplification", "--distillation-error", "0.8")
    assert result.returncode == 2 and "distillation_error must be a probability in [0, 0.5]" in result.stderr
    result = run_cli("solve", "amplification", "--rule", "majority", "--branching", "4")
    assert result.returncode == 2 and "branching must be odd" in result.stderr


def test_solve_recursive_debate_prints_and_writes_the_comparison(tmp_path):
    out = tmp_path / "recursive_debate.json"
    result = run_cli("solve", "recursive_debate", "--steps", "8", "--values", "3", "--check-error", "0.1",
                     "--instances", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "recursive debate   0.900000       1       3           6" in result.stdout
    assert "consultancy        0.550000       1       1           7" in result.stdout
    data = json.loads(out.read_text())
    assert [row["value"] for row in data["instances"]] == pytest.approx([0.9, 0.9])
    assert [row["consultancy_catch"] for row in data["instances"]] == pytest.approx([1 / 8, 1 / 8])
    assert [row["max_rounds"] for row in data["instances"]] == [3, 3]
    result = run_cli("solve", "recursive_debate", "--steps", "1")
    assert result.returncode == 2 and "--steps must be in 2..64, got 1" in result.stderr


def test_solve_recursive_debate_plays_both_protocols_with_an_agent(tmp_path):
    out = tmp_path / "played.json"
    result = run_cli("solve", "recursive_debate", "--steps", "4", "--values", "3", "--instances", "0",
                     "--play", "chain_debater", "--episodes", "40", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "played by chain_debater (recursive, 40 episodes): accuracy 1.000" in result.stdout
    data = json.loads(out.read_text())
    played = {row["protocol"]: row for row in data["played"]}
    assert played["recursive"]["oversight_gap_recovered"] == 1.0
    from aligngames.agent import AgentSpec
    from aligngames.solvers.evaluation.recursive_debate_eval import played_accuracy

    direct = played_accuracy(AgentSpec("chain_debater"), "recursive_consultancy", steps=4, values=3, episodes=40, seed=0)
    assert played["recursive_consultancy"] == direct.to_dict()  # the command reports what the library measures
    bad = run_cli("solve", "recursive_debate", "--play", "chain_debater", "--episodes", "0")
    assert bad.returncode == 2 and "--episodes must be >= 1, got 0" in bad.stderr
