"""``aligngames solve weak_to_strong`` run as a user runs it (a subprocess once, then in-process), with the known answers of
tests/solvers/exact/test_weak_to_strong.py: the mixed example's student copies x = 4 only (PGR 9/14 for both
families); correlated linear features recover rho^2 of the gap (0.25 at rho = 0.5); the auxiliary-confidence
loss raises the logistic student's PGR on random flips (seed 0)."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from aligngames.cli import main

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aligngames.cli", "solve", "weak_to_strong", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture
def run_here(capsys):
    """``aligngames solve weak_to_strong ARGS`` in this process: (exit status, stdout, stderr)."""

    def run(*args: str) -> SimpleNamespace:
        returncode = main(["solve", "weak_to_strong", *args])
        captured = capsys.readouterr()
        return SimpleNamespace(returncode=returncode, stdout=captured.out, stderr=captured.err)

    return run


def test_classification_prints_and_writes_the_exact_pgr_with_sampled_intervals(tmp_path):
    out = tmp_path / "mixed.json"
    result = run_cli("--example", "mixed", "--samples", "2000", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "lookup    weak 0.7200  weak-to-strong 0.9000  ceiling 1.0000  PGR 0.6429" in result.stdout
    data = json.loads(out.read_text())
    for family in ("lookup", "threshold"):
        entry = data["families"][family]
        assert entry["pgr"] == pytest.approx(9 / 14)
        assert entry["weak_to_strong_predictions"] == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
        sampled = entry["sampled"]
        assert sampled["num_examples"] == 2000
        assert sampled["pgr"]["low"] <= sampled["pgr"]["value"] <= sampled["pgr"]["high"]
        assert sampled["pgr"]["value"] == pytest.approx(9 / 14, abs=0.1)


def test_a_problem_file_and_one_family(tmp_path, run_here):
    problem = tmp_path / "problem.yaml"
    problem.write_text("true_labels: [0, 0, 1, 1]\nflip_probabilities: [1.0, 0.4, 0.0, 0.0]\n")
    out = tmp_path / "out.json"
    result = run_here("--problem", str(problem), "--family", "threshold", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert list(data["families"]) == ["threshold"]
    assert data["families"]["threshold"]["pgr"] == pytest.approx(-3 / 7)


def test_linear_setting_recovers_rho_squared(tmp_path, run_here):
    out = tmp_path / "linear.json"
    result = run_here("--setting", "linear", "--correlation", "0.5", "--samples", "5000", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["pgr"] == pytest.approx(0.25) and data["weak_mse"] == pytest.approx(0.75)
    assert data["weak_to_strong_mse"] == pytest.approx(0.5625) and data["misfit"] == pytest.approx(0.1875)
    assert data["sampled"]["pgr"]["value"] == pytest.approx(0.25, abs=0.08)
    problem = tmp_path / "linear.yaml"
    problem.write_text("covariance: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\ntarget: [1, 1, 2]\n"
                       "weak_indices: [0, 1]\nstrong_indices: [1, 2]\n")
    result = run_here("--setting", "linear", "--problem", str(problem), "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["pgr"] == pytest.approx(-1 / 3)


def test_logistic_setting_compares_the_auxiliary_confidence_loss(tmp_path, run_here):
    out = tmp_path / "logistic.json"
    result = run_here("--setting", "logistic", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["plain"]["weak_accuracy"] == pytest.approx(0.7)
    assert data["auxiliary"]["pgr"] > data["plain"]["pgr"]


def test_embeddings_setting_reports_the_held_out_evaluation(tmp_path, run_here, monkeypatch):
    """With a stand-in embedding (so no model loads): the compliance rule is right on 287 of 349 held-out items."""
    from aligngames.solvers.training import weak_to_strong as training

    def bag_of_words(texts):
        vectors = np.zeros((len(texts), 64))
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.encode()) % 64] += 1.0
        return vectors

    monkeypatch.setattr(training, "_default_embed", bag_of_words)
    out = tmp_path / "embeddings.json"
    result = run_here("--setting", "embeddings", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["weak"]["value"] == pytest.approx(287 / 349) and data["labeller"] == "compliance_rule"
    assert data["num_examples"] == 349 and "pgr" in data


@pytest.mark.parametrize(("args", "message"), [
    (("--setting", "linear", "--correlation", "1"), "--correlation must lie in (-1, 1)"),
    (("--setting", "linear", "--example", "mixed"), "--example names a classification problem"),
    (("--samples", "1"), "--samples must be 0"),
    (("--setting", "embeddings", "--example", "mixed"), "uses the packaged harm task"),
    (("--setting", "logistic", "--flip-rate", "2"), "flip_rate must lie in [0, 1]"),
])
def test_bad_options_exit_2_naming_them(args, message, run_here):
    result = run_here(*args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_bad_problem_files_exit_2_naming_the_key(tmp_path, run_here):
    problem = tmp_path / "bad.yaml"
    problem.write_text("true_labels: [0, 1]\nflip_probabilities: [0.1, 1.2]\n")
    result = run_here("--problem", str(problem))
    assert result.returncode == 2 and "flip_probabilities must lie in [0, 1]" in result.stderr
    problem.write_text("covariance: [[1, 0], [0, 1]]\ntarget: [1, 1]\nweak: [0]\n")
    result = run_here("--setting", "linear", "--problem", str(problem))
    assert result.returncode == 2 and "unknown keys ['weak']" in result.stderr


def test_lora_setting_trains_two_students_on_a_model_folder(tmp_path, run_here):
    from aligngames.agents.llm.testing import save_tiny_model

    model = save_tiny_model(tmp_path / "tiny", seed=2)
    out = tmp_path / "lora.json"
    result = run_here("--setting", "lora", "--model", str(model), "--num-train", "6", "--num-test", "6", "--steps", "2",
                      "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert f"LoRA students on {model}, weak labeller compliance_rule: 2 steps on 6 items" in result.stdout
    data = json.loads(out.read_text())
    assert data["setting"] == "lora" and len(data["losses"]["weak_to_strong"]) == 2
    assert data["settings"]["num_test"] == 6
    bad = run_here("--setting", "lora", "--example", "mixed")
    assert bad.returncode == 2 and "--setting lora uses the packaged harm task" in bad.stderr
