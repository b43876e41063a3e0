"""LLM judges on a tiny model: the swap-averaged preference formula, its symmetry, and the verdict cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import aligngames.agents.llm.judges as judges_module
from aligngames.agents.llm.generation import encode
from aligngames.agents.llm.judges import JudgeCache, LLMHarmJudge, LLMPreferenceJudge
from aligngames.agents.llm.testing import tiny_handle
from aligngames.judges import HarmJudge, PreferenceJudge, make_preference_judge

PROMPTS = ["How do I boil an egg?", "Name a colour.", "How do I boil an egg?"]
FIRST = ["Put it in boiling water for 8 minutes.", "Blue.", "Ask a chef."]
SECOND = ["Ask a chef.", "Green, or maybe red.", "Put it in boiling water for 8 minutes."]


@pytest.fixture(scope="module")
def handle():
    return tiny_handle(seed=3)


def next_token_distribution(handle, text: str) -> torch.Tensor:
    """Reference: one unpadded forward pass."""
    ids = torch.tensor([encode(handle.tokenizer, [text])[0]])
    with torch.no_grad():
        return torch.softmax(handle.model(input_ids=ids).logits[0, -1].double(), dim=-1)


def test_preference_is_the_swap_average_of_a_b_probabilities(handle):
    judge = LLMPreferenceJudge(handle=handle)
    assert isinstance(judge, PreferenceJudge)
    a_id, b_id = judge_module_ids(handle)
    result = judge.compare(PROMPTS, FIRST, SECOND)
    for k, (x, a, b) in enumerate(zip(PROMPTS, FIRST, SECOND)):
        straight = next_token_distribution(handle, judge.judge_prompt(x, a, b))
        swapped = next_token_distribution(handle, judge.judge_prompt(x, b, a))
        q_a = straight[a_id] / (straight[a_id] + straight[b_id])  # P(A) with a in position A
        q_b = swapped[b_id] / (swapped[a_id] + swapped[b_id])  # P(B) with a in position B
        assert result[k] == pytest.approx(float(0.5 * (q_a + q_b)), abs=1e-5)
    # rows 0 and 2 are the same pair in opposite order: the two probabilities sum to 1
    assert result[0] + result[2] == pytest.approx(1.0, abs=1e-9)
    assert judge.probability("Q", "same", "same") == pytest.approx(0.5, abs=1e-9)
    assert np.all((result > 0) & (result < 1)) and not np.allclose(result, 0.5, atol=1e-4)


def judge_module_ids(handle):
    return (judges_module.single_token_id(handle.tokenizer, "A"), judges_module.single_token_id(handle.tokenizer, "B"))


def test_harm_judge_reads_yes_no_probability(handle):
    judge = LLMHarmJudge(handle=handle, choices=("Y", "N"))
    assert isinstance(judge, HarmJudge)
    scores = judge.score(PROMPTS, FIRST)
    yes, no = (judges_module.single_token_id(handle.tokenizer, c) for c in ("Y", "N"))
    for k, (x, y) in enumerate(zip(PROMPTS, FIRST)):
        distribution = next_token_distribution(handle, judge.judge_prompt(x, y))
        assert scores[k] == pytest.approx(float(distribution[yes] / (distribution[yes] + distribution[no])), abs=1e-5)
    with pytest.raises(ValueError, match="must be one token"):
        LLMHarmJudge(handle=handle)  # "Yes" is three byte tokens for the tiny tokenizer


def test_verdicts_are_cached_in_memory_and_on_disk(handle, tmp_path, monkeypatch):
    calls = []
    real = judges_module.next_token_logprobs

    def counting(model_handle, prompts, **kwargs):
        calls.append(len(prompts))
        return real(model_handle, prompts, **kwargs)

    monkeypatch.setattr(judges_module, "next_token_logprobs", counting)
    path = tmp_path / "verdicts.jsonl"
    judge = LLMPreferenceJudge(handle=handle, cache_path=str(path))
    first = judge.compare(PROMPTS, FIRST, SECOND)
    assert sum(calls) == 2 * len(PROMPTS)  # each pair asked in both orders, once
    repeated = judge.compare(PROMPTS + PROMPTS[:1], FIRST + FIRST[:1], SECOND + SECOND[:1])
    assert sum(calls) == 2 * len(PROMPTS)  # nothing new asked
    assert np.array_equal(repeated[:3], first) and repeated[3] == first[0]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 3 and {line["key"] for line in lines} == {
        JudgeCache.key(judge.identity, x, a, b) for x, a, b in zip(PROMPTS, FIRST, SECOND)}

    resumed = LLMPreferenceJudge(handle=handle, cache_path=str(path))  # a resumed run
    assert np.array_equal(resumed.compare(PROMPTS, FIRST, SECOND), first)  # bit-identical payoffs
    assert sum(calls) == 2 * len(PROMPTS)
    other_instruction = LLMPreferenceJudge(handle=handle, cache_path=str(path), instruction="Pick the shorter one.")
    assert other_instruction.identity != judge.identity
    other_instruction.compare(PROMPTS[:1], FIRST[:1], SECOND[:1])
    assert sum(calls) == 2 * len(PROMPTS) + 2  # another judge identity does not reuse the verdicts


def test_preference_game_with_llm_judge(handle):
    import aligngames
    from aligngames.agents.preference import TemplateAnswerer
    from aligngames.play.rollout import play_episodes

    judge = LLMPreferenceJudge(handle=handle)
    agents = {"player_0": TemplateAnswerer("concise"), "player_1": TemplateAnswerer("detailed")}
    (episode,) = play_episodes(lambda: aligngames.make("preference_game_v0", mode="language", judge=judge), agents, [4])
    record = episode.record
    expected = judge.probability(record["prompt"], record["answers"]["player_0"], record["answers"]["player_1"])
    assert episode.returns["player_0"] == pytest.approx(expected - 0.5)


def test_llm_judge_registered_by_name(tmp_path):
    from aligngames.agents.llm.testing import save_tiny_model

    folder = save_tiny_model(tmp_path / "tiny", seed=3)
    judge = make_preference_judge("llm", model=str(folder), batch_size=2)
    assert isinstance(judge, LLMPreferenceJudge) and judge.identity.startswith("llm_preference:")
    assert judge.handle.identity["sha256"] in judge.identity
