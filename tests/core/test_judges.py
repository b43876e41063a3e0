"""Judges: the matrix judge, the feature judge's parts, and a reward model from a local folder."""

from __future__ import annotations

import numpy as np
import pytest

from aligngames.judges import (
    FeatureGroup,
    FeatureJudge,
    MatrixJudge,
    RewardModelJudge,
    answer_features,
    make_preference_judge,
)


def test_matrix_judge_looks_up_pairs_and_rejects_unknown_answers():
    judge = MatrixJudge(["a", "b"], np.array([[0.5, 0.8], [0.2, 0.5]]))
    np.testing.assert_allclose(judge.compare(["", ""], ["a", "b"], ["b", "b"]), [0.8, 0.5])
    with pytest.raises(ValueError, match=r"'c' is not in the answer set \['a', 'b'\]"):
        judge.compare([""], ["c"], ["a"])
    with pytest.raises(ValueError, match="as many prompts as answer pairs"):
        judge.compare([""], ["a", "b"], ["a", "b"])


def test_answer_features_by_hand():
    prompt = "How do I repot a cactus safely?"
    answer = "Wear gloves.\n- Use cactus soil.\n- Repot in spring, for example in April. Be careful with spines."
    features = answer_features(prompt, answer)
    # content words of the prompt: repot, cactus, safely -> "repot" and "cactus" appear (safely does not)
    assert features["relevance"] == pytest.approx(2 / 3)
    words = 16  # wear gloves use cactus soil repot in spring for example in april be careful with spines
    assert features["brevity"] == pytest.approx(np.exp(-words / 60))
    assert features["detail"] == pytest.approx(words / 150)
    assert features["example"] == 1.0
    assert features["caution"] == 1.0  # "careful" is matched twice ("be careful" and "careful")
    assert features["structure"] == 1.0
    assert answer_features(prompt, "") == dict.fromkeys(features, 0.0)


def test_feature_judge_mixture_by_hand():
    groups = [FeatureGroup("short", 0.25, {"brevity": 1.0}), FeatureGroup("long", 0.75, {"detail": 1.0})]
    judge = FeatureJudge(groups, beta=2.0)
    prompt, a, b = "q", "one two three", " ".join(["word"] * 60)
    fa, fb = answer_features(prompt, a), answer_features(prompt, b)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    expected = 0.25 * sigmoid(2 * (fa["brevity"] - fb["brevity"])) + 0.75 * sigmoid(2 * (fa["detail"] - fb["detail"]))
    assert judge.probability(prompt, a, b) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"unknown features \['humour'\]"):
        FeatureGroup("x", 1.0, {"humour": 1.0})


def test_unknown_judge_name_lists_valid_ones():
    with pytest.raises(KeyError, match="Valid judges: .*features.*reward_model"):
        make_preference_judge("oracle")


@pytest.fixture(scope="module")
def tiny_reward_model(tmp_path_factory):
    """A randomly initialised one-output Llama classifier and a word-level tokenizer, saved locally."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from aligngames.agents.llm.testing import word_tokenizer

    words = ["[PAD]", "[UNK]", "how", "do", "i", "bake", "bread", "use", "flour", "and", "water", "no", "idea", "?", "."]
    tokenizer = word_tokenizer(words)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, num_labels=1, pad_token_id=0)
    model = LlamaForSequenceClassification(config)
    folder = tmp_path_factory.mktemp("reward_model")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model.eval(), tokenizer


def test_reward_model_judge_is_sigmoid_of_reward_difference(tiny_reward_model):
    import torch

    folder, model, tokenizer = tiny_reward_model
    judge = make_preference_judge("reward_model", path=str(folder), device="cpu")
    prompt, good, bad = "how do i bake bread ?", "use flour and water .", "no idea ."

    def reward(answer: str) -> float:
        encoded = tokenizer(prompt, answer, return_tensors="pt")
        with torch.no_grad():
            return float(model(**encoded).logits[0, 0])

    expected = 1 / (1 + np.exp(-(reward(good) - reward(bad))))
    assert judge.probability(prompt, good, bad) == pytest.approx(expected, abs=1e-5)
    assert judge.probability(prompt, good, bad) + judge.probability(prompt, bad, good) == pytest.approx(1.0, abs=1e-6)
    # batched with padding gives the same numbers as one at a time
    batch = judge.compare([prompt] * 2, [good, bad], [bad, good])
    np.testing.assert_allclose(batch, [judge.probability(prompt, good, bad), judge.probability(prompt, bad, good)],
                               atol=1e-5)
    assert judge.identity.startswith("reward_model:")


def test_reward_model_judge_plays_in_the_language_env(tiny_reward_model):
    import aligngames

    folder, _, _ = tiny_reward_model
    env = aligngames.make_parallel("preference_game_v0", mode="language", judge="reward_model",
                                   judge_kwargs={"path": str(folder)}, prompts=["how do i bake bread ?"])
    env.reset(seed=0)
    _, rewards, *_ = env.step({"player_0": "use flour and water .", "player_1": "no idea ."})
    assert rewards["player_0"] == pytest.approx(-rewards["player_1"])
    assert -0.5 < rewards["player_0"] < 0.5


def test_missing_reward_model_says_how_to_provide_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist. Save a model there with model.save_pretrained"):
        RewardModelJudge(str(tmp_path / "absent"))
