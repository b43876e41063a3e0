"""The LoRA corrector of aligner_v0's language mode trains on the tiny random model: it reads the
``##Question ##Answer ##Correction`` transcript, its rewards are the judge's P(corrected > original), its advantages
are centred within each group of episodes that share a seed, and only its adapter moves."""

from __future__ import annotations

import json

import pytest
import torch

from aligngames.agents.aligner import FixedAnswerPolicy
from aligngames.agents.llm import lora
from aligngames.agents.llm.testing import save_tiny_model, tiny_handle
from aligngames.cli import main
from aligngames.solvers.training import aligner_training
from aligngames.solvers.training.aligner_training import CorrectorTrainingConfig, train_corrector
from aligngames.solvers.training.settings import LoRASettings, TrainerSettings


def test_the_corrector_adapter_trains_on_the_judges_reward(monkeypatch):
    handle = tiny_handle(seed=3)
    base = {name: parameter.detach().clone() for name, parameter in handle.model.named_parameters()}
    seen = []
    original_update = aligner_training.PolicyGradientTrainer.update

    def recording_update(self, rollouts, weights, **kwargs):
        seen.append(rollouts)
        return original_update(self, rollouts, weights, **kwargs)

    monkeypatch.setattr(aligner_training.PolicyGradientTrainer, "update", recording_update)
    config = CorrectorTrainingConfig(steps=1, prompts_per_step=2, group_size=2, max_new_tokens=6,
                                     lora=LoRASettings(rank=2, alpha=4.0),
                                     trainer=TrainerSettings(learning_rate=1e-2, micro_batch_size=8))
    result = train_corrector(handle, FixedAnswerPolicy("Boil it."),
                             {"prompts": ["How do I boil an egg?", "What is a prime?"], "rounds": 2}, config)
    assert [line["step"] for line in result.metrics] == [1]
    for line in result.metrics:
        assert 0.0 <= line["improvement"] <= 1.0 and line["sequences"] == 8  # 4 episodes x 2 turns
        assert line["tokens"] > 0
    rollouts = seen[0]
    # multi-turn: the second turn's prompt holds the first turn's question, answer and correction
    assert all("##Answer: Boil it. ##Correction:" in prompt for prompt in rollouts.prompts)
    assert sum(prompt.count("##Question:") == 2 for prompt in rollouts.prompts) == 4
    # advantages are centred within each group (2 adjacent episodes, the same turn)
    advantages = rollouts.advantages.reshape(2, 2, 2)  # (seed, episode in group, turn)
    assert advantages.sum(dim=1) == pytest.approx(torch.zeros(2, 2), abs=1e-6)
    # only the corrector's adapter moved
    trained = dict(handle.model.named_parameters())
    for name, value in trained.items():
        if "lora_" not in name:  # the base model's weights, under peft's wrapper names
            plain = name.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(value.detach(), base[plain]), name
    # the adapter starts as the identity (lora_B = 0); training moved it
    moved = [name for name, value in trained.items() if f"lora_B.{result.adapter}" in name and value.abs().sum() > 0]
    assert moved
    assert result.adapter in handle.adapters and lora.trainable_parameters(handle, result.adapter)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="group_size"):
        CorrectorTrainingConfig(group_size=1)


@pytest.fixture(scope="module")
def tiny_model_folder(tmp_path_factory) -> str:
    return str(save_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=3))


def _cli(model: str, out, *extra: str) -> list[str]:
    return ["solve", "aligner", "--train", "3", "--out", str(out), "--model", model,
            "--upstream", "aligner_fixed_answer:answer=Boil it.", "--prompts-per-step", "2", "--group-size", "2",
            "--max-new-tokens", "4", "--lora-rank", "2", "--learning-rate", "0.01",
            "-e", 'prompts=["How do I boil an egg?", "What is a prime?"]', *extra]


def test_the_cli_trains_in_a_run_folder_and_resumes_exactly(tiny_model_folder, tmp_path, monkeypatch, capsys):
    """``solve aligner --train``: the run folder's files; a run stopped after its second update and rerun ends with
    the metrics and adapter of a run never stopped (adapter, optimiser and seed stream from the checkpoint)."""
    assert main(_cli(tiny_model_folder, tmp_path / "whole")) == 0
    printed = capsys.readouterr().out
    assert "3 steps: corrector reward" in printed and str(tmp_path / "whole") in printed
    whole = tmp_path / "whole"
    for name in ("config.yaml", "manifest.json", "metrics.jsonl", "summary.json", "training.png",
                 "adapters/corrector/adapter_model.safetensors", "checkpoints"):
        assert (whole / name).exists(), name
    lines = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3] and all(0.0 <= line["improvement"] <= 1.0 for line in lines)

    real_update, calls = aligner_training.PolicyGradientTrainer.update, []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(aligner_training.PolicyGradientTrainer, "update", interrupted)
    assert main(_cli(tiny_model_folder, tmp_path / "cut")) != 0  # the CLI reports the interruption
    assert "what was recorded is kept" in capsys.readouterr().err
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 2
    monkeypatch.setattr(aligner_training.PolicyGradientTrainer, "update", real_update)
    assert main(_cli(tiny_model_folder, tmp_path / "cut")) == 0
    for name in ("metrics.jsonl", "adapters/corrector/adapter_model.safetensors"):
        assert (tmp_path / "cut" / name).read_bytes() == (whole / name).read_bytes(), name


def test_the_cli_refuses_tabular_flags_with_train(tmp_path, capsys):
    assert main(["solve", "aligner", "--train", "1"]) == 2
    assert "--train needs --out RUN_DIR" in capsys.readouterr().err
    assert main(["solve", "aligner", "--train", "1", "--out", str(tmp_path / "x"), "--beta", "0.5"]) == 2
    assert "['--beta'] are the tabular solver's" in capsys.readouterr().err
