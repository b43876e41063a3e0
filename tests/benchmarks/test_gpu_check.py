"""The CPU-runnable parts of ``benchmarks/gpu_check.py`` (matmul, LoRA training, batched generation over
adapters, a gloo all-reduce under torchrun) on the tiny random model: the script runs end to end and
its report holds consistent numbers. The GPU numbers themselves come from a lent device (docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_runs_on_cpu_in_quick_mode(tmp_path):
    out = tmp_path / "gpu_check.json"
    completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick",
                                "--model", "tiny", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["gpu"] is None
    assert result["matmul"]["tflops"] > 0
    training = result["lora_training"]
    assert training["tokens_per_second"] > 0
    assert abs(training["mfu_6n"] / training["mfu_4n"] - 1.5) < 1e-9  # the two FLOP conventions, 6N vs 4N
    engine = result["engine"]
    assert engine["adapters"] == 2 and engine["batched_tokens_per_second"] > 0
    collectives = result["collectives"]
    assert collectives["backend"] == "gloo" and collectives["processes"] == 2 and collectives["bus_bandwidth_gb_per_s"] > 0
    assert "lora_training" in completed.stdout and "collectives" in completed.stdout
