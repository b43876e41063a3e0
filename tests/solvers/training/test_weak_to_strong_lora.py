"""The LoRA weak-to-strong student on a tiny random model: it learns the labels it is given (a constant label
is learnt on held-out items too), only its adapter moves, and the experiment's weak accuracy is the weak
labeller's on the held-out items."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aligngames.agents.llm import lora
from aligngames.agents.llm.testing import tiny_handle
from aligngames.envs.weak_to_strong import language
from aligngames.solvers.training.weak_to_strong_lora import (
    LoRAStudentConfig,
    label_logits,
    lora_experiment,
    predict,
    prompts_of,
    train_student,
)


@pytest.mark.parametrize("label", [0, 1])
def test_a_student_learns_a_constant_label_and_only_its_adapter_moves(label):
    handle = tiny_handle(seed=3)
    name = lora.add_adapter(handle, "student", seed=1, rank=4)
    handle.model.eval()
    base = {key: value.clone() for key, value in handle.model.named_parameters() if "lora_" not in key}
    train, test = language.load_items("train")[:8], language.load_items("test")[:6]
    config = LoRAStudentConfig(steps=25, batch_size=4, learning_rate=0.02, rank=4)
    losses = train_student(handle, name, prompts_of(handle, train), np.full(len(train), label), config,
                           np.random.default_rng(0))
    assert losses[-1] < 0.1 < losses[0]
    assert (predict(handle, prompts_of(handle, test), name) == label).all()  # held-out items get the label too
    assert all(torch.equal(value, base[key]) for key, value in handle.model.named_parameters() if key in base)
    scores = label_logits(handle, prompts_of(handle, test[:2]), name)
    assert scores.shape == (2, 2) and (scores <= 0).all()  # log-probabilities of the two labels' first tokens


def test_experiment_reports_the_weak_labellers_accuracy_and_is_seeded():
    config = LoRAStudentConfig(labeller="compliance_rule", num_train=8, num_test=10, steps=3, batch_size=4, rank=4)
    first = lora_experiment(config, handle=tiny_handle(seed=5), resamples=50)
    test = language.load_items("test")[:10]
    truth = np.array([item.label for item in test])
    assert first.report.weak.value == pytest.approx(np.mean(language.compliance_rule(test) == truth))
    again = lora_experiment(config, handle=tiny_handle(seed=5), resamples=50)
    assert again.to_dict() == first.to_dict()
    assert set(first.losses) == {"weak_to_strong", "ceiling"} and len(first.losses["ceiling"]) == 3
    with pytest.raises(ValueError, match="num_train must be >= 2"):
        LoRAStudentConfig(num_train=1)


def test_a_zero_shot_language_model_as_the_weak_supervisor():
    """``labeller="zero_shot"``: the weak labels are the base model's own next-token readout without an adapter, so
    the report's weak accuracy is that readout's accuracy on the held-out items."""
    config = LoRAStudentConfig(labeller="zero_shot", num_train=8, num_test=10, steps=2, batch_size=4, rank=4)
    handle = tiny_handle(seed=5)
    test = language.load_items("test")[:10]
    zero_shot = predict(handle, prompts_of(handle, test), None)  # before any adapter exists
    truth = np.array([item.label for item in test])
    result = lora_experiment(config, handle=handle, resamples=50)
    assert result.report.weak.value == pytest.approx(np.mean(zero_shot == truth))
    with pytest.raises(ValueError, match="weak_model is zero_shot's model"):
        LoRAStudentConfig(labeller="compliance_rule", weak_model="embedded")
    with pytest.raises(ValueError, match="labeller must be one of"):
        LoRAStudentConfig(labeller="oracle")
