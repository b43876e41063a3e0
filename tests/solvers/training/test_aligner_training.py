"""The LoRA corrector of aligner_v0's language mode trains on the tiny random model: it reads the
``##Question ##Answer ##Correction`` transcript, its rewards are the judge's P(corrected > original), its advantages
are centred within each group of episodes that share a seed, and only its adapter moves."""

from __future__ import annotations

import pytest
import torch

from aligngames.agents.aligner import FixedAnswerPolicy
from aligngames.agents.llm import lora
from aligngames.agents.llm.testing import tiny_handle
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
