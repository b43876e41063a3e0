"""The vLLM backend's multi-LoRA plumbing, on a stand-in ``vllm`` module (vLLM needs a GPU; the real engine
runs in ``benchmarks/gpu_check.py --vllm`` on a lent device): LLM agents with different adapter folders,
batched across matches, reach one shared engine as one ``generate`` call with a LoRA request per row
(stable ids, the adapters' folders, LoRA enabled up to the largest rank) and each row's own seed."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

import aligngames
from aligngames.agents.basic import ConstantAgent
from aligngames.agents.llm import GenerationConfig, LLMAgent, vllm_backend
from aligngames.agents.llm import lora as lora_module
from aligngames.agents.llm.models import load_model
from aligngames.agents.llm.testing import save_tiny_model, tiny_handle
from aligngames.play.rollout import MatchJob, play_matches


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str


@pytest.fixture
def fake_vllm(monkeypatch):
    engines = []

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class LLM:
        def __init__(self, model, **kwargs):
            self.model, self.kwargs, self.calls = model, kwargs, []
            engines.append(self)

        def generate(self, prompts, params, use_tqdm=False, lora_request=None):
            self.calls.append((list(prompts), [p.kwargs["seed"] for p in params], lora_request))
            rows = lora_request if isinstance(lora_request, list) else [lora_request] * len(prompts)
            outputs = []
            for row in rows:
                text = "base" if row is None else row.lora_name
                step = types.SimpleNamespace(logprob=-0.5)
                output = types.SimpleNamespace(text=text, token_ids=[7], logprobs=[{7: step}], finish_reason="stop",
                                               stop_reason=None)
                outputs.append(types.SimpleNamespace(outputs=[output]))
            return outputs

    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, SamplingParams
    lora_package, request_module = types.ModuleType("vllm.lora"), types.ModuleType("vllm.lora.request")
    request_module.LoRARequest = LoRARequest
    for name, value in {"vllm": module, "vllm.lora": lora_package, "vllm.lora.request": request_module}.items():
        monkeypatch.setitem(sys.modules, name, value)
    monkeypatch.setattr(vllm_backend, "_ENGINES", {})
    return engines


def test_adapters_of_several_matches_go_to_one_engine_as_per_row_lora_requests(tmp_path, fake_vllm):
    source = tiny_handle(seed=3)
    lora_module.add_adapter(source, "red", seed=1, init="random", rank=4)
    lora_module.add_adapter(source, "blue", seed=2, init="random", rank=8)
    folders = {name: lora_module.save_adapter(source, name, tmp_path / name) for name in ("red", "blue")}
    handle = load_model(str(save_tiny_model(tmp_path / "model", seed=3)))
    names = {name: lora_module.load_adapter(handle, folders[name]) for name in ("red", "blue")}
    handle.model.eval()
    config = GenerationConfig(max_new_tokens=4, temperature=1.0)

    def agent(adapter, seed):
        player = LLMAgent(handle, generation=config, adapter=adapter, backend="vllm")
        player.reset(seed)
        return player

    def make_env():
        return aligngames.make("preference_game_v0", mode="language", max_answer_length=30)

    jobs = [MatchJob(make_env, {"player_0": agent(adapter, seed), "player_1": ConstantAgent("Yes.")}, [1, 2])
            for seed, adapter in enumerate([names["red"], None, names["blue"]])]
    results = dict(play_matches(jobs))
    (engine,) = fake_vllm  # one engine for every agent on the model
    assert engine.kwargs["enable_lora"] is True and engine.kwargs["max_lora_rank"] == 8
    ((prompts, seeds, requests),) = engine.calls  # all six first moves in one generate call
    assert len(prompts) == 6 and len(set(seeds)) == 6
    assert [None if r is None else (r.lora_name, r.lora_path) for r in requests] == \
        [(names["red"], str(folders["red"]))] * 2 + [None] * 2 + [(names["blue"], str(folders["blue"]))] * 2
    assert requests[0].lora_int_id == requests[1].lora_int_id != requests[4].lora_int_id
    answers = [[episode.record["answers"]["player_0"] for episode in results[index]] for index in range(3)]
    assert answers == [[names["red"]] * 2, ["base"] * 2, [names["blue"]] * 2]


def test_an_adapter_without_a_folder_is_a_clear_error(tmp_path, fake_vllm):
    handle = load_model(str(save_tiny_model(tmp_path / "model", seed=3)))
    lora_module.add_adapter(handle, "fresh", seed=1)
    handle.model.eval()
    player = LLMAgent(handle, generation=GenerationConfig(max_new_tokens=4), adapter="fresh", backend="vllm")
    with pytest.raises(ValueError, match=r"adapter 'fresh' has no folder .* loaded from their folder"):
        player.act({"transcript": "hi"}, "player_0", aligngames.text.text_space(20))
