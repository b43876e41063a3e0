"""``aligngames solve elasticity`` run as a user runs it (a subprocess), with the known answers of
:mod:`aligngames.solvers.exact.elasticity`: two behaviours, pre-training mass q = 0.1 on the aligned one,
N_pre = 1000, N_align = 100 (M = 1100). Pooled: N_align / N_half = N_align / M + 2 q / (1 - q) = 0.3131, so
N_half = 319.35; the reverse direction (q = 0.9): 100/1100 + 18 = 18.09. Elastic (eta = 0.01): R(N_undo = 0) = 1."""

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


def test_solve_elasticity_prints_and_writes_both_directions(tmp_path):
    out = tmp_path / "elasticity.json"
    result = run_cli("solve", "elasticity", "--n-undo", "0,100", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "pooled: half undone at N_undo = 319.4, N_align / N_half = 0.3131" in result.stdout
    data = json.loads(out.read_text())
    assert data["forward"]["pooled"]["half_undo"] == pytest.approx(1100 * 100 / (100 + 2 * 1100 * 0.1 / 0.9))
    assert data["reverse"]["pooled"]["align_over_half_undo"] == pytest.approx(100 / 1100 + 18)
    assert data["forward"]["elastic"]["rows"][0]["remaining"] == pytest.approx(1.0)
    assert data["forward"]["elastic"]["half_undo"] < data["forward"]["pooled"]["half_undo"]


def test_solve_elasticity_rejects_bad_input():
    result = run_cli("solve", "elasticity", "--p-pre", "0.5,0.6")
    assert result.returncode == 2 and "p_pre is not a probability distribution" in result.stderr
    result = run_cli("solve", "elasticity", "--target", "1", "--opposite", "1")
    assert result.returncode == 2 and "--target and --opposite are both 1" in result.stderr


def test_solve_elasticity_language_mode_on_the_tiny_model(tmp_path):
    """The LoRA experiment end to end on the tiny random model: no undo steps leave all of the alignment
    (R = 1 and zero KL to the aligned model, by definition); aligning toward refusal raises the refusal margin."""
    from aligngames.agents.llm.testing import save_tiny_model

    folder = save_tiny_model(tmp_path / "tiny")
    out = tmp_path / "language.json"
    result = run_cli("solve", "elasticity", "--language", "--model", str(folder), "--device", "cpu",
                     "--language-n-align", "3", "--language-n-undo", "0,3", "--num-prompts", "3",
                     "--lora-learning-rate", "0.05", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    for direction in ("forward", "reverse"):
        first = data[direction]["rows"][0]
        assert first["remaining"] == pytest.approx(1.0) and first["kl_to_aligned"] == pytest.approx(0.0, abs=1e-9)
        assert data[direction]["aligned_gain"] > 0
    result = run_cli("solve", "elasticity", "--language", "--language-n-undo", "0,1.5")
    assert result.returncode == 2 and "step counts are integers" in result.stderr
