"""Language-mode preference optimisation: the shared driver against tabular MPO, rewards and the
Nash-MD mixture by hand, learning on a tiny model, exact resume, the CLI and data parallelism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _training
import numpy as np
import pytest
import torch

import aligngames
from aligngames.judges import MatrixJudge
from aligngames.solvers.equilibrium import mpo
from aligngames.solvers.equilibrium.games import skew_symmetric_matrix
from aligngames.solvers.training.preference_training.config import (
    IterationSchedule,
    LanguagePreferenceConfig,
    iteration_schedule,
)
from aligngames.solvers.training.preference_training.loop import CheckpointedTabularPolicy, train_policy
from aligngames.solvers.training.preference_training.mixture import mixture_handle
from aligngames.solvers.training.preference_training.policy import LanguagePolicy
from aligngames.solvers.training.preference_training.rewards import opponent_rewards, self_play_rewards
from aligngames.solvers.training.preference_training.run_folder import run
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

TIMING_KEYS = {"seconds", "sampling_seconds", "training_tokens_per_second"}


def tiny_config(model: str, *, lora_rank: int = 4, max_new_tokens: int = 6, micro_batch_size: int = 4,
                learning_rate: float = 0.01, epochs: int = 2, **overrides) -> LanguagePreferenceConfig:
    settings = dict(inner_steps=2, outer_steps=2, prompts_per_step=2, samples_per_prompt=3, eval_episodes=4)
    return LanguagePreferenceConfig(
        **{**settings, **overrides}, model=ModelSettings(model), lora=LoRASettings(rank=lora_rank),
        trainer=TrainerSettings(learning_rate=learning_rate, epochs=epochs, micro_batch_size=micro_batch_size),
        generation=GenerationSettings(max_new_tokens=max_new_tokens))


# --- the driver with a tabular policy ----------------------------------------------------------------------

def test_driver_with_a_tabular_policy_reproduces_mpo_solve(tmp_path):
    """The driver the LLM runs use, given mpo.TabularPolicy, gives mpo.solve's iterates bit for bit,
    also when it is stopped in the middle of a regularised game and resumed from its checkpoint."""
    game = aligngames.make("preference_game_v0", mode="tabular", scenario="food").unwrapped.matrix_game()
    payoffs = skew_symmetric_matrix(game, "MPO").payoffs
    schedule = IterationSchedule(alpha=0.25, eta=2.0, inner_steps=5, outer_steps=40, evaluate_every=5)
    expected = mpo.solve(game, alpha=0.25, eta=2.0, inner_steps=5, outer_steps=40)

    policy = mpo.TabularPolicy(payoffs)
    lines = train_policy(policy, schedule)
    assert np.array_equal(policy.probabilities, expected.policy)
    assert [line["exploitability"] for line in lines] == list(expected.exploitability)

    for stop_after in (7, 6, None):  # 7: mid-game (step 7 of 5-step games); then 13; then the rest
        resumed = CheckpointedTabularPolicy(payoffs)
        resumed_lines = train_policy(resumed, schedule, tmp_path, stop_after=stop_after)
    assert np.array_equal(resumed.probabilities, expected.policy)
    assert [line["exploitability"] for line in resumed_lines] == list(expected.exploitability)
    on_disk = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in on_disk] == list(range(1, 201))


def test_iterate_refuses_to_resume_mid_game_without_its_magnet():
    policy = mpo.TabularPolicy(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="its magnet"):
        next(mpo.iterate(policy, alpha=0.1, eta=1.0, inner_steps=5, outer_steps=2, start=3))


# --- rewards and the Nash-MD mixture -------------------------------------------------------------------

def test_self_play_and_opponent_rewards_by_hand():
    judge = MatrixJudge(["a", "b", "c"], np.array([[0.5, 0.8, 0.3], [0.2, 0.5, 0.9], [0.7, 0.1, 0.5]]))
    prompts = ["x"] * 6
    rewards = self_play_rewards(judge, prompts, ["a", "b", "c", "a", "a", "b"], 3)
    # group 1: a vs b 0.8, vs c 0.3 -> 0.55; b: 0.2, 0.9 -> 0.55; c: 0.7, 0.1 -> 0.4
    # group 2: each a: vs a 0.5, vs b 0.8 -> 0.65; b: 0.2, 0.2 -> 0.2
    assert np.allclose(rewards, [0.55, 0.55, 0.4, 0.65, 0.65, 0.2])
    against = opponent_rewards(judge, ["x"] * 4, ["a", "c", "b", "b"], ["b", "b", "c", "a"], 2)
    assert np.allclose(against, [0.8, 0.1, (0.9 + 0.2) / 2, (0.9 + 0.2) / 2])


def test_geometric_mixture_samples_the_mixture():
    """The mixture model's next-token distribution is the normalised pi^(1-w) mu^w of its parts."""
    from aligngames.agents.llm import lora, next_token_logprobs
    from aligngames.agents.llm.testing import tiny_handle
    from aligngames.solvers.training.policy_gradient import PolicyRef

    handle = tiny_handle(seed=2)
    lora.add_adapter(handle, "pi", rank=4, seed=1, init="random")
    lora.add_adapter(handle, "mu", rank=4, seed=2, init="random")
    prompts = ["hello", "a longer prompt"]
    first = next_token_logprobs(handle, prompts, adapter="pi")
    second = next_token_logprobs(handle, prompts, adapter="mu")
    mixed = next_token_logprobs(mixture_handle(PolicyRef(handle, "pi"), PolicyRef(handle, "mu"), 0.3), prompts)
    assert torch.allclose(mixed, torch.log_softmax(0.7 * first + 0.3 * second, dim=-1), atol=1e-5)
    assert not torch.allclose(mixed, first, atol=1e-3)


# --- the language-model policy ---------------------------------------------------------------------------


def test_identical_policies_tie_and_training_follows_the_judge(tiny_model):
    """Before training, the policy against itself wins exactly half (same sampling seeds); self-play
    MPO steps with the judge's rewards then raise the probability of what the judge prefers."""
    from aligngames.agents.llm import next_token_logprobs

    config = tiny_config(tiny_model, prompts_per_step=4, samples_per_prompt=4, max_new_tokens=1, micro_batch_size=16,
                         learning_rate=0.01, epochs=1, eval_episodes=8)
    policy = LanguagePolicy(config, "preference_game_v0", {"mode": "language", "judge": LowercaseJudge()})
    evaluation = policy.evaluate()
    assert evaluation["vs_initial"]["win_rate"] == 0.5 and evaluation["vs_initial"]["ci95"] == 0.0
    tokenizer = policy.handle.tokenizer
    lowercase = torch.tensor([len(tokenizer.decode([i])) == 1 and tokenizer.decode([i]).islower() for i in range(len(tokenizer))])
    _, prompts = policy.episodes([101, 102, 103])

    def lowercase_probability() -> float:
        with torch.no_grad():
            logprobs = next_token_logprobs(policy.handle, prompts, adapter=policy.policy.adapter)
        return float(logprobs.exp()[:, lowercase].sum(dim=1).mean())

    before = lowercase_probability()
    magnet = policy.snapshot()
    for _ in range(30):
        policy.mmd_step(magnet, alpha=0.1, eta=1.0)
    assert before < 0.1 and lowercase_probability() > 2 * before


@pytest.mark.parametrize(("algorithm", "lora_rank"), [("mpo", 4), ("nash_md", 4), ("spo", 0)])
def test_a_stopped_run_resumes_exactly(tiny_model, tmp_path, algorithm, lora_rank):
    """Stopping after 1 and 3 steps (both in the middle of a 2-step game) and resuming from the
    checkpoints gives the same metrics and the same final weights as an uninterrupted run."""
    config = tiny_config(tiny_model, algorithm=algorithm, lora_rank=lora_rank)
    env_kwargs = {"mode": "language", "max_answer_length": 40}
    whole = run(config, "preference_game_v0", env_kwargs, tmp_path / "whole")
    for stop_after in (1, 2, None):
        parts = run(config, "preference_game_v0", env_kwargs, tmp_path / "parts", stop_after=stop_after)
    assert parts["finished"] and parts["final"] == whole["final"]

    def metrics(folder):
        lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        return [{key: value for key, value in line.items() if key not in TIMING_KEYS} for line in lines]

    assert metrics(tmp_path / "whole") == metrics(tmp_path / "parts")
    assert len(metrics(tmp_path / "whole")) == 4 and "vs_previous" in metrics(tmp_path / "whole")[1]
    name = "adapter_model.safetensors" if lora_rank else "model.safetensors"
    first, second = (tmp_path / folder / "adapters" / "policy" / name for folder in ("whole", "parts"))
    from safetensors.torch import load_file

    whole_weights, parts_weights = load_file(first), load_file(second)
    assert whole_weights.keys() == parts_weights.keys()
    assert all(torch.equal(whole_weights[key], parts_weights[key]) for key in whole_weights)
    initial = load_file(Path(tiny_model) / "model.safetensors") if not lora_rank else None
    if initial is not None:  # full fine-tuning moved the weights
        assert any(not torch.equal(initial[key], whole_weights[key]) for key in initial if key in whole_weights)
    assert sorted(p.name for p in (tmp_path / "parts" / "checkpoints").iterdir()) == ["latest.json", "step_000003", "step_000004"]


def test_cli_writes_a_run_folder_whose_policy_plays(tiny_model, tmp_path):
    from aligngames.agent import AgentSpec
    from aligngames.cli import main
    from aligngames.play.rollout import play_episodes

    out = tmp_path / "spo"
    code = main(["solve", "mpo", "--env", "preference_game_v0", "-e", "mode=language", "-e", "max_answer_length=40",
                 "--out", str(out), "--model.name", tiny_model, "--baseline", "spo", "--inner-steps", "2",
                 "--outer-steps", "1", "--prompts-per-step", "2", "--samples-per-prompt", "2",
                 "--generation.max-new-tokens", "5", "--eval-episodes", "3", "--lora.rank", "4",
                 "--trainer.learning-rate", "0.01"])
    assert code == 0
    assert {"config.yaml", "manifest.json", "metrics.jsonl", "summary.json", "win_rate.png", "training.png",
            "checkpoints", "adapters"} <= {p.name for p in out.iterdir()}
    import yaml

    assert yaml.safe_load((out / "config.yaml").read_text())["settings"]["algorithm"] == "spo"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["sha256"] and manifest["seed"] == 0 and manifest["trainable_parameters"] > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and 0.0 <= summary["final"]["vs_initial"]["win_rate"] <= 1.0
    agent = AgentSpec(summary["agent"]["type"], summary["agent"]["kwargs"]).build()  # the trained policy as an agent
    agent.reset(0)
    (episode,) = play_episodes(lambda: aligngames.make("preference_game_v0", mode="language", max_answer_length=40),
                               {"player_0": agent, "player_1": agent}, [0])
    assert set(episode.returns) == {"player_0", "player_1"}
    # settings that only train language models are refused in tabular mode
    assert main(["solve", "mpo", "--env", "preference_game_v0", "-e", "mode=tabular", "--out", str(tmp_path / "t"),
                 "--lora.rank", "4"]) == 2


def test_data_parallel_training_with_torchrun_matches_one_process(tiny_model, tmp_path):
    """Two gloo processes (torchrun), each with one of the two prompts of every step, end with the
    weights one process gets on both prompts (gradients averaged by DistributedDataParallel)."""
    from safetensors.torch import load_file

    arguments = ["solve", "mpo", "--env", "preference_game_v0", "-e", "mode=language", "-e", "max_answer_length=40",
                 "--model.name", tiny_model, "--inner-steps", "2", "--outer-steps", "1", "--prompts-per-step", "2",
                 "--samples-per-prompt", "2", "--generation.max-new-tokens", "4", "--eval-episodes", "2",
                 "--lora.rank", "4", "--trainer.learning-rate", "0.01", "--trainer.micro-batch-size", "4"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    for name, launcher in (("one", []), ("two", ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"])):
        command = [sys.executable, *launcher, "-m", "aligngames.cli", *arguments, "--out", str(tmp_path / name)]
        result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=240)
        assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "manifest.json").read_text())["processes"] == 2
    one = load_file(tmp_path / "one" / "adapters" / "policy" / "adapter_model.safetensors")
    two = load_file(tmp_path / "two" / "adapters" / "policy" / "adapter_model.safetensors")
    assert all(torch.allclose(one[key], two[key], atol=1e-5) for key in one)
    assert any(not torch.equal(value, torch.zeros_like(value)) for key, value in one.items() if "lora_B" in key)


def test_a_run_folder_with_the_old_flat_settings_is_refused_with_why(tmp_path):
    """Run folders written before the settings were nested (lora_rank, learning_rate, ...) cannot resume."""
    import yaml

    from aligngames.config import ConfigError

    stored = {"solver": "mpo", "env": "preference_game_v0", "env_kwargs": {"mode": "language"},
              "settings": {"algorithm": "mpo", "model": "embedded", "lora_rank": 8, "learning_rate": 1e-4}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(stored))
    with pytest.raises(ConfigError, match="older aligngames .*lora_rank -> lora.rank.*learning_rate -> trainer.learning_rate"):
        run(LanguagePreferenceConfig(), "preference_game_v0", {"mode": "language"}, tmp_path)


def test_config_checks():
    with pytest.raises(ValueError, match="eta \\* alpha <= 1"):
        LanguagePreferenceConfig(algorithm="nash_md", alpha=0.6, eta=2.0)
    with pytest.raises(ValueError, match="algorithm"):
        LanguagePreferenceConfig(algorithm="ppo")
    with pytest.raises(ValueError, match="vLLM"):
        LanguagePreferenceConfig(generation=GenerationSettings(backend="vllm"), lora=LoRASettings(rank=0))
    assert iteration_schedule(LanguagePreferenceConfig(algorithm="spo", inner_steps=3, outer_steps=4)) == \
        IterationSchedule(0.1, 1.0, 12, 1, 3)


def test_evaluation_points_are_also_scored_by_other_judges(tiny_model):
    """``eval_judges`` scores the same evaluation answers with judges the policy is not trained on: the training
    judge named again gives exactly its own win rates; another judge gives its own."""
    config = tiny_config(tiny_model, eval_episodes=4, eval_judges="features")
    policy = LanguagePolicy(config, "preference_game_v0", {"mode": "language"})  # trains on the features judge too
    magnet = policy.snapshot()
    policy.mmd_step(magnet, alpha=0.1, eta=1.0)
    evaluation = policy.evaluate()
    assert evaluation["by_judge"]["features"] == {"vs_initial": evaluation["vs_initial"],
                                                  "vs_previous": evaluation["vs_previous"]}
    lowercase = LanguagePolicy(tiny_config(tiny_model, eval_episodes=4, eval_judges="features"), "preference_game_v0",
                               {"mode": "language", "judge": LowercaseJudge()})
    assert set(lowercase.evaluate()["by_judge"]) == {"features"}
    with pytest.raises(KeyError, match="unknown judge 'featurez'"):
        LanguagePolicy(tiny_config(tiny_model, eval_judges="featurez"), "preference_game_v0", {"mode": "language"})
