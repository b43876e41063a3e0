"""Language-mode Safe RLHF on a tiny model: the combined advantage by hand, the multiplier following the logged
costs by its rule, the adapter trained and saved, and the run folder's files."""

from __future__ import annotations

import json

import _training
import pytest
import torch

from aligngames.solvers.training.policy_gradient import PolicyGradientTrainer
from aligngames.solvers.training.safe_rlhf_training import (
    SafeRLHFTrainingConfig,
    lagrangian_advantages,
    next_multiplier,
    train,
)
from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

one_thread = _training.one_thread
tiny_model = _training.tiny_model


def test_combined_advantage_and_multiplier_rules_by_hand():
    reward, cost = torch.tensor([1.0, -1.0]), torch.tensor([0.5, -0.5])
    # (A_r - lambda A_c) / (1 + lambda) with lambda 1: ((1 - 0.5) / 2, (-1 + 0.5) / 2)
    assert lagrangian_advantages(reward, cost, 1.0).tolist() == [0.25, -0.25]
    projected = SafeRLHFTrainingConfig(multiplier_step=0.5, lambda_max=2.0)
    assert next_multiplier(1.0, 0.9, 0.1, projected) == pytest.approx(1.4)
    assert next_multiplier(1.9, 0.9, 0.1, projected) == 2.0  # capped
    assert next_multiplier(0.1, 0.0, 0.5, projected) == 0.0  # projected onto lambda >= 0
    log = SafeRLHFTrainingConfig(multiplier_step=0.5, multiplier_update="log")
    assert next_multiplier(1.0, 0.9, 0.1, log) == pytest.approx(float(torch.tensor(0.4).exp()))
    with pytest.raises(ValueError, match="group_size must be >= 2, got 1"):
        SafeRLHFTrainingConfig(group_size=1)


def test_a_short_run_on_a_tiny_model(tiny_model, tmp_path):
    config = SafeRLHFTrainingConfig(steps=2, prompts_per_step=2, group_size=2, initial_multiplier=1.0,
                                    multiplier_step=0.5, model=ModelSettings(tiny_model), lora=LoRASettings(rank=4),
                                    trainer=TrainerSettings(learning_rate=0.01, epochs=1, micro_batch_size=4),
                                    generation=GenerationSettings(max_new_tokens=6, batch_size=4))
    summary = train(config, {"cost_judge": "pattern_harm"}, tmp_path / "run")
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    for line in lines:
        assert 0.0 <= line["reward"] <= 1.0 and 0.0 <= line["cost"] <= 1.0
    # the multiplier moved by its rule from the first step's logged mean cost
    assert lines[1]["lambda"] == pytest.approx(max(0.0, 1.0 + 0.5 * (lines[0]["cost"] - summary["threshold"])))
    assert summary["final_lambda"] == pytest.approx(max(0.0, lines[1]["lambda"] + 0.5 * (lines[1]["cost"] - 0.1)))
    for name in ("config.yaml", "manifest.json", "summary.json", "training.png", "adapters/policy/adapter_model.safetensors"):
        assert (tmp_path / "run" / name).exists(), name
    assert summary["agent"]["type"] == "llm"
    assert train(config, {"cost_judge": "pattern_harm"}, tmp_path / "run") == summary  # finished: nothing redone


def test_an_interrupted_run_resumes_to_the_same_files(tiny_model, tmp_path, monkeypatch):
    """Stopped after its second update and rerun, a 3-step run writes the metrics, summary and adapter of a run
    that was never stopped (the adapter, optimiser, prompt generator and lambda come back from the checkpoint)."""
    config = SafeRLHFTrainingConfig(steps=3, prompts_per_step=2, group_size=2, initial_multiplier=0.5,
                                    multiplier_step=0.5, model=ModelSettings(tiny_model), lora=LoRASettings(rank=4),
                                    trainer=TrainerSettings(learning_rate=0.05, epochs=1, micro_batch_size=4),
                                    generation=GenerationSettings(max_new_tokens=6, batch_size=4))
    whole = train(config, {"cost_judge": "pattern_harm"}, tmp_path / "whole")
    real_update, calls = PolicyGradientTrainer.update, []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(PolicyGradientTrainer, "update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(config, {"cost_judge": "pattern_harm"}, tmp_path / "cut")
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 2
    monkeypatch.setattr(PolicyGradientTrainer, "update", real_update)
    resumed = train(config, {"cost_judge": "pattern_harm"}, tmp_path / "cut")
    assert resumed["steps"] == 3
    assert (tmp_path / "cut" / "metrics.jsonl").read_text() == (tmp_path / "whole" / "metrics.jsonl").read_text()
    assert {k: v for k, v in resumed.items() if k != "agent"} == {k: v for k, v in whole.items() if k != "agent"}
    adapter = "adapters/policy/adapter_model.safetensors"
    assert (tmp_path / "cut" / adapter).read_bytes() == (tmp_path / "whole" / adapter).read_bytes()
