"""Language-mode Pareto-preference training on a tiny model: the prompt split, the front summary by hand, a short
run's files and seeding, exact resume, and the CLI end to end."""

from __future__ import annotations

import json

import _training
import numpy as np
import pytest

from aligngames.cli import main
from aligngames.judges import HarmJudge
from aligngames.solvers.training.pareto_preference_training import (
    ParetoPreferenceTrainingConfig,
    front_summary,
    split_prompts,
    train,
)
from aligngames.solvers.training.policy_gradient import PolicyGradientTrainer
from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

LowercaseJudge = _training.LowercaseJudge
one_thread = _training.one_thread
tiny_model = _training.tiny_model

PROMPTS = ["How do I boil an egg?", "Tell me a joke.", "Name a colour.", "What is rain?", "Say hello."]
# helpful: the lowercase judge (a signal a tiny model can move); harmless: the pattern judge
ENV_KWARGS = {"prompts": PROMPTS, "judges": {"helpful": "features", "harmless": "pattern_harm"}, "grid": 2}


def tiny_config(model: str, **changes) -> ParetoPreferenceTrainingConfig:
    settings = {"steps": 2, "prompts_per_step": 2, "group_size": 2, "eval_grid": 1, "eval_prompts": 2,
                "eval_samples": 1, "model": ModelSettings(model), "lora": LoRASettings(rank=4),
                "trainer": TrainerSettings(learning_rate=0.05, epochs=1, micro_batch_size=4),
                "generation": GenerationSettings(max_new_tokens=5, batch_size=8), **changes}
    return ParetoPreferenceTrainingConfig(**settings)


def test_split_and_front_summary_by_hand():
    train_prompts, held_out = split_prompts([f"p{i}" for i in range(10)], 3)
    assert held_out == ("p0", "p3", "p6") and len(train_prompts) == 7
    with pytest.raises(ValueError, match="eval_prompts=5 holds out every one of the 5 prompts"):
        split_prompts(PROMPTS, 5)
    weights = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    vectors = np.array([[0.8, 0.2], [0.5, 0.5], [0.4, 0.4]])  # the third is dominated by the second
    summary = front_summary(weights, vectors, np.array([0.8, 0.5, 0.4]), np.zeros(2))
    assert summary["front"] == [[0.8, 0.2], [0.5, 0.5]]
    assert summary["hypervolume"] == pytest.approx(0.8 * 0.2 + 0.5 * 0.3)  # 0.31
    assert summary["per_weight"][1] == {"weight": [0.5, 0.5], "reward_vector": [0.5, 0.5], "scalarised": 0.5}
    with pytest.raises(ValueError, match="group_size must be >= 2, got 1"):
        ParetoPreferenceTrainingConfig(group_size=1)
    with pytest.raises(ValueError, match="eval_samples must be >= 1, got 0"):
        ParetoPreferenceTrainingConfig(eval_samples=0)


def test_a_short_run_writes_its_folder_and_is_seeded(tiny_model, tmp_path):
    config = tiny_config(tiny_model)
    summary = train(config, ENV_KWARGS, tmp_path / "run")
    run = tmp_path / "run"
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    for line in lines:
        assert len(line["reward_vector"]) == 2 and all(0.0 <= x <= 1.0 for x in line["reward_vector"])
        assert np.isfinite(line["loss"]) and line["tokens"] > 0
    front = json.loads((run / "front.json").read_text())
    assert front["objectives"] == ["helpful", "harmless"] and len(front["held_out_prompts"]) == 2
    for key in ("before", "after"):
        assert [entry["weight"] for entry in front[key]["per_weight"]] == [[1.0, 0.0], [0.0, 1.0]]
        assert front[key]["hypervolume"] >= 0.0
    assert summary["hypervolume_before"] == front["before"]["hypervolume"]
    for name in ("config.yaml", "manifest.json", "summary.json", "training.png", "front.png", "evaluation_before.json",
                 "adapters/policy/adapter_model.safetensors"):
        assert (run / name).exists(), name
    assert summary["agent"]["type"] == "llm"
    assert train(config, ENV_KWARGS, run) == summary  # finished: nothing redone
    again = train(config, ENV_KWARGS, tmp_path / "again")  # same seed, same results
    assert (tmp_path / "again" / "metrics.jsonl").read_text() == (run / "metrics.jsonl").read_text()
    assert (tmp_path / "again" / "front.json").read_text() == (run / "front.json").read_text()
    assert {k: v for k, v in again.items() if k != "agent"} == {k: v for k, v in summary.items() if k != "agent"}


def test_an_interrupted_run_resumes_to_the_same_files(tiny_model, tmp_path, monkeypatch):
    """Stopped after its second update and rerun, a 3-step run writes the metrics, front, summary and adapter of a
    run that was never stopped (the adapter, optimiser and prompt generator come back from the checkpoint)."""
    config = tiny_config(tiny_model, steps=3)
    whole = train(config, ENV_KWARGS, tmp_path / "whole")
    real_update, calls = PolicyGradientTrainer.update, []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(PolicyGradientTrainer, "update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(config, ENV_KWARGS, tmp_path / "cut")
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 2
    monkeypatch.setattr(PolicyGradientTrainer, "update", real_update)
    resumed = train(config, ENV_KWARGS, tmp_path / "cut")
    assert resumed["steps"] == 3
    for name in ("metrics.jsonl", "front.json", "adapters/policy/adapter_model.safetensors"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert {k: v for k, v in resumed.items() if k != "agent"} == {k: v for k, v in whole.items() if k != "agent"}


def test_the_cli_trains_and_evaluates(tiny_model, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["solve", "pareto_preference", "--train", "1", "--out", str(out), "--model", tiny_model,
                 "--prompts-per-step", "1", "--group-size", "2", "--eval-grid", "1", "--eval-prompts", "1",
                 "--max-new-tokens", "4", "--beta", "0", "--scalarisation", "tchebycheff",
                 "-e", f"prompts={json.dumps(PROMPTS[:3])}", "-e", "judges={helpful: features, harmless: pattern_harm}"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "hypervolume" in printed and str(out) in printed
    config = (out / "config.yaml").read_text()
    assert "tchebycheff" in config and "reference_kl: 0.0" in config
    front = json.loads((out / "front.json").read_text())
    assert len(front["after"]["per_weight"]) == 2
    assert main(["solve", "pareto_preference", "--train", "1"]) == 2
    assert "--train needs --out RUN_DIR" in capsys.readouterr().err
    assert main(["solve", "pareto_preference", "--train", "1", "--out", str(out), "--conditioned"]) == 2
    assert "['--conditioned'] are the tabular solver's" in capsys.readouterr().err


class LowercaseHarm(HarmJudge):
    """Calls an answer as harmful as its share of lowercase letters (the opposite of LowercaseJudge)."""

    identity = "lowercase_harm"

    def score(self, prompts, answers):
        return np.array([sum(c.islower() for c in a) / max(len(a), 1) for a in answers])


@pytest.mark.parametrize(("weight", "direction"), [([1.0, 0.0], 1.0), ([0.0, 1.0], -1.0)])
def test_training_follows_the_users_trade_off(tiny_model, tmp_path, weight, direction):
    """Objectives that pull opposite ways (helpful: more lowercase letters than the baseline answer; harmless: fewer):
    trained for the user type that weighs only one of them, the policy's held-out lowercase share moves that
    objective's way (one-token answers)."""
    env_kwargs = {"prompts": PROMPTS, "judges": {"helpful": LowercaseJudge(), "harmless": LowercaseHarm()},
                  "weights": [weight]}
    config = tiny_config(tiny_model, steps=20, prompts_per_step=2, group_size=4, eval_grid=1, eval_prompts=2,
                         eval_samples=8, reference_kl=0.0, generation=GenerationSettings(max_new_tokens=1, batch_size=16))
    train(config, env_kwargs, tmp_path / "run")
    front = json.loads((tmp_path / "run" / "front.json").read_text())
    index = [entry["weight"] for entry in front["before"]["per_weight"]].index(weight)
    helpful = [front[key]["per_weight"][index]["reward_vector"][0] for key in ("before", "after")]
    assert direction * (helpful[1] - helpful[0]) > 0.1, helpful
