"""The policy-gradient best-response oracle: it learns what the judge rewards against the opponents'
mixture, is deterministic, and plugs into PSRO (meta-games by the tournament runner, resume)."""

from __future__ import annotations

import json

import _training
import numpy as np
import pytest
import torch

from aligngames.agent import AgentSpec
from aligngames.solvers.population import psro
from aligngames.solvers.training.llm_oracle import OracleSettings, PolicyGradientOracle
from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

# shared fixtures and helpers of the training tests (tests/_training.py)
LowercaseJudge = _training.LowercaseJudge
one_thread = _training.one_thread
tiny_model = _training.tiny_model

TEMPLATES = [(AgentSpec("template", {"style": "concise"}), 0.5), (AgentSpec("template", {"style": "evasive"}), 0.5)]


def test_best_response_learns_against_the_mixture_and_is_deterministic(tiny_model, tmp_path):
    from safetensors.torch import load_file

    from aligngames.agents.llm import load_model, next_token_logprobs

    settings = OracleSettings(model=ModelSettings(tiny_model), lora=LoRASettings(rank=4), steps=25, episodes_per_step=4,
                              group_size=4, trainer=TrainerSettings(learning_rate=0.01, micro_batch_size=16),
                              generation=GenerationSettings(max_new_tokens=1), reference_kl=0.0)
    env_kwargs = {"mode": "language", "judge": LowercaseJudge(), "max_answer_length": 40}
    mixtures = {"player_0": [(AgentSpec("template", {"style": "concise"}), 1.0)], "player_1": TEMPLATES}
    name, spec = PolicyGradientOracle("preference_game_v0", env_kwargs, settings, tmp_path / "a").best_response("player_0", mixtures)
    assert name == "player_0.llm1" and spec.type == "llm" and spec.kwargs["temperature"] == 1.0
    folder = tmp_path / "a" / "policies" / "player_0.1"
    assert spec.kwargs["adapter"] == str(folder.resolve())

    handle = load_model(tiny_model)
    tokenizer = handle.tokenizer
    lowercase = torch.tensor([len(tokenizer.decode([i])) == 1 and tokenizer.decode([i]).islower() for i in range(len(tokenizer))])
    agent = spec.build()  # loads the folder: the adapter the oracle trained, shared in this process
    prompt = agent.prompt({"transcript": "Prompt: How do I keep a basil plant alive on a windowsill?"}, "player_0")
    with torch.no_grad():
        trained = next_token_logprobs(handle, [prompt], adapter=agent.adapter).exp()[0, lowercase].sum()
        base = next_token_logprobs(handle, [prompt], adapter=None).exp()[0, lowercase].sum()
    assert base < 0.1 and trained > 2 * base  # the judge prefers lowercase answers to the templates
    log = [json.loads(line) for line in (tmp_path / "a" / "oracle.jsonl").read_text().splitlines()]
    assert len(log) == 25 and np.mean([r["mean_return"] for r in log[-5:]]) > np.mean([r["mean_return"] for r in log[:5]])

    short = OracleSettings(**{**settings.__dict__, "steps": 2})
    first = PolicyGradientOracle("preference_game_v0", env_kwargs, short, tmp_path / "b").best_response("player_0", mixtures)
    second = PolicyGradientOracle("preference_game_v0", env_kwargs, short, tmp_path / "c").best_response("player_0", mixtures)
    weights = [load_file(tmp_path / run / "policies" / "player_0.1" / "adapter_model.safetensors") for run in ("b", "c")]
    assert first[0] == second[0] and all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_psro_with_the_llm_oracle_resumes_after_a_kill(tiny_model, tmp_path):
    """PSRO on the language preference game with LoRA best responses for both seats; a run killed in
    its second oracle call and resumed ends with the same populations, meta-games and adapters."""
    settings = OracleSettings(model=ModelSettings(tiny_model), lora=LoRASettings(rank=4), steps=2, episodes_per_step=2,
                              group_size=2, trainer=TrainerSettings(learning_rate=0.01),
                              generation=GenerationSettings(max_new_tokens=4))
    env_kwargs = {"mode": "language", "max_answer_length": 40}
    config = psro.PSROConfig("preference_game_v0", env_kwargs,
                             {"player_0": AgentSpec("template", {"style": "concise"}),
                              "player_1": AgentSpec("template", {"style": "evasive"})},
                             psro.PSROSettings(iterations=1, meta_solver="nash", episodes=2, seed=4))
    whole = psro.run(config, tmp_path / "whole", oracle=PolicyGradientOracle(
        "preference_game_v0", env_kwargs, settings, tmp_path / "whole"))
    assert [spec.type for spec in whole.agents.values()].count("llm") == 2
    assert len(whole.empirical_nash_conv) == 2  # the initial populations and the final ones

    class Killed(PolicyGradientOracle):
        calls = 0

        def best_response(self, seat, mixtures):
            Killed.calls += 1
            if Killed.calls == 2:
                raise KeyboardInterrupt
            return super().best_response(seat, mixtures)

    with pytest.raises(KeyboardInterrupt):
        psro.run(config, tmp_path / "parts", oracle=Killed("preference_game_v0", env_kwargs, settings, tmp_path / "parts"))
    resumed = psro.run(config, tmp_path / "parts", oracle=PolicyGradientOracle(
        "preference_game_v0", env_kwargs, settings, tmp_path / "parts"))
    assert resumed.meta_strategies == whole.meta_strategies
    assert resumed.empirical_nash_conv == whole.empirical_nash_conv
    for seat in ("player_0", "player_1"):
        files = [(tmp_path / run / "policies" / f"{seat}.1" / "adapter_model.safetensors").read_bytes() for run in ("whole", "parts")]
        assert files[0] == files[1]


def test_grts_with_llm_best_responses(tiny_model, tmp_path):
    """GRTS on red_team_v0 with the LLM oracle: a red and a blue LoRA adapter join the populations, red's
    training reward carries the diversity bonus, and the run folder has GRTS's outputs; a rerun resumes."""
    from aligngames.config import from_mapping
    from aligngames.solvers.training import llm_grts

    config = from_mapping(llm_grts.LLMGRTSConfig, {
        "env_kwargs": {"rounds": 2, "benign_rate": 0.25, "helpfulness_weight": 1.0, "helpfulness_zero_sum": True,
                       "judge": "pattern_harm"},
        "themes": ["weapons"], "methods": ["direct", "role_play"], "guard_sets": [["keywords"]],
        "diversity_weight": 0.5,
        "llm": {"model": {"name": tiny_model}, "lora": {"rank": 4}, "steps": 1, "episodes_per_step": 1,
                "group_size": 2, "generation": {"max_new_tokens": 8}, "trainer": {"learning_rate": 0.01}},
        "settings": {"iterations": 1, "meta_solver": "nash", "episodes": 2, "seed": 0},
    }, "test")
    summary = llm_grts.run(config, tmp_path)
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    trained = {name: data for name, data in state["agents"].items() if data["type"] == "llm"}
    assert sorted(trained) == ["blue.llm1", "red_0.llm1"]
    assert all((tmp_path / "policies" / f"{seat}.1" / "adapter_model.safetensors").is_file() for seat in ("red_0", "blue"))
    records = [json.loads(line) for line in (tmp_path / "best_responses.jsonl").read_text().splitlines()]
    assert [(r["seat"], r["oracle"]) for r in records] == [("red_0", "llm"), ("blue", "llm")]
    training = [json.loads(line) for line in (tmp_path / "oracle.jsonl").read_text().splitlines()]
    red_bonus = [r["mean_bonus"] for r in training if r["seat"] == "red_0"]
    assert red_bonus and all(b > 0 for b in red_bonus)  # random text is far from the scripted attacker's prompts
    assert all(r["mean_bonus"] == 0 for r in training if r["seat"] == "blue")
    for name in ("grts.json", "attack_success.json", "meta_game.json", "diversity.json", "tournament/payoffs.json"):
        assert (tmp_path / name).is_file(), name
    assert len(summary["red_population_diversity"]) == 2
    assert llm_grts.run(config, tmp_path) == summary  # resumed: nothing left to train


def test_psro_cli_with_the_llm_oracle(tiny_model, tmp_path):
    from aligngames.cli import main

    arguments = ["solve", "psro", "--env", "preference_game_v0", "-e", "mode=language", "-e", "max_answer_length=40",
                 "--initial", "player_0=template:style=concise", "--initial", "player_1=template:style=evasive",
                 "--iterations", "1", "--episodes", "2", "--out", str(tmp_path / "run")]
    llm = ["--oracle", "llm", "--model.name", tiny_model, "--lora.rank", "4", "--steps", "1", "--episodes-per-step", "1",
           "--group-size", "2", "--generation.max-new-tokens", "4"]
    assert main([*arguments, *llm]) == 0
    state = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert [data["type"] for data in state["agents"].values()].count("llm") == 2
    assert main([*arguments[:-1], str(tmp_path / "other"), "--steps", "3"]) == 2  # oracle settings need --oracle llm
