"""The shared MiniLM cross-encoder machinery: the truncation rule, the shipped weight deltas, the pair cache."""

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from aligngames import cross_encoder
from aligngames.embeddings import minilm_path


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(minilm_path()))


def test_short_pairs_are_kept_whole(tokenizer):
    ids, cut = cross_encoder.encode_pair(tokenizer, "How do I bake bread?", "Mix, knead, rise, bake.")
    assert not cut
    assert tokenizer.decode(ids) == "[CLS] how do i bake bread? [SEP] mix, knead, rise, bake. [SEP]"


def test_long_pairs_keep_the_start_of_the_answer_and_the_end_of_the_prompt(tokenizer):
    prompt = " ".join(f"p{i}" for i in range(300))
    answer = " ".join(f"a{i}" for i in range(300))
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    answer_ids = tokenizer.encode(answer, add_special_tokens=False)
    ids, cut = cross_encoder.encode_pair(tokenizer, prompt, answer, max_length=64)
    assert cut and len(ids) == 64
    sep = ids.index(tokenizer.sep_token_id)
    kept_answer = ids[sep + 1:-1]
    assert kept_answer == answer_ids[:len(kept_answer)]  # the answer's first tokens
    assert ids[1:sep] == prompt_ids[len(prompt_ids) - (sep - 1):]  # the prompt's last tokens (none here: 64 < 160)
    # a long prompt with a short answer: the whole answer and the prompt's last tokens
    ids, cut = cross_encoder.encode_pair(tokenizer, prompt, "Short answer.", max_length=64)
    sep = ids.index(tokenizer.sep_token_id)
    assert cut and len(ids) == 64 and tokenizer.decode(ids[sep + 1:-1]) == "short answer."
    assert ids[1:sep] == prompt_ids[-(sep - 1):]


def test_weight_deltas_round_trip_within_int8_rounding():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    base = cross_encoder._module_class()(BertModel(config), 3)
    base_state = {key: value.clone() for key, value in base.encoder.state_dict().items()}
    tuned = cross_encoder._module_class()(BertModel(config), 3)
    tuned.load_state_dict(base.state_dict())
    with torch.no_grad():
        for name, parameter in tuned.named_parameters():
            if "word_embeddings" not in name:
                parameter.add_(0.01 * torch.randn_like(parameter))
    tensors = cross_encoder.weight_deltas(tuned, base_state)
    assert not any("word_embeddings" in name for name in tensors)
    restored = cross_encoder._module_class()(BertModel(config), 3)
    restored.load_state_dict(base.state_dict())
    cross_encoder.apply_deltas(restored, tensors)
    for (name, want), got in zip(tuned.state_dict().items(), restored.state_dict().values()):
        if name.startswith("head."):
            assert torch.equal(want, got)
        else:
            # int8 rows: at most half a step (max |delta| / 127 / 2); float16 vectors: relative 1e-3
            assert torch.allclose(want, got, atol=0.04 / 127, rtol=0), name
    with pytest.raises(ValueError, match="unexpected tensor 'stray'"):
        cross_encoder.apply_deltas(restored, {"stray": np.zeros(1)})


def test_pair_cache_computes_each_new_pair_once_and_keeps_flags():
    calls = []

    def compute(prompts, answers):
        calls.append(list(zip(prompts, answers)))
        return np.array([[len(a)] for a in answers], dtype=float), np.array([len(a) > 3 for a in answers])

    cache = cross_encoder.PairCache(size=2)
    values, cut = cache.lookup(["p", "p", "p"], ["ab", "abcd", "ab"], compute)
    assert values[:, 0].tolist() == [2, 4, 2] and cut.tolist() == [False, True, False]
    assert calls == [[("p", "ab"), ("p", "abcd")]]
    values, cut = cache.lookup(["p"], ["abcd"], compute)
    assert len(calls) == 1 and cut.tolist() == [True]
    cache.lookup(["q"], ["x"], compute)  # evicts the oldest pair (size 2)
    cache.lookup(["p"], ["ab"], compute)
    assert calls[-1] == [("p", "ab")]


def test_missing_weights_say_how_to_train_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="train them with python -m x"):
        cross_encoder.CrossEncoder(tmp_path / "none.safetensors", "python -m x")


def test_temperature_fit_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 3)) * 3
    true_t = 2.5
    p = np.exp(logits / true_t)
    p /= p.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in p])
    assert cross_encoder.fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.1)


def _tiny_model(seed: int):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    return cross_encoder._module_class()(BertModel(config), 1)


def _tiny_fit(seed: int):
    model = _tiny_model(seed)
    rows = [[1, 5, 6, 2], [1, 7, 2, 9, 2], [1, 8, 8, 2], [1, 3, 4, 2, 5, 2]]
    target = torch.tensor([1.0, -1.0, 1.0, -1.0])

    def batches(rng):
        order = rng.permutation(len(rows))
        yield cross_encoder.padded([rows[k] for k in order], pad=0), target[order]

    def loss(model, batch):
        (ids, mask), y = batch
        return ((model(ids, mask)[:, 0] - y) ** 2).mean()

    config = cross_encoder.FineTuneConfig(epochs=40, seed=seed, learning_rate=5e-3, head_learning_rate=3e-2)
    torch.manual_seed(seed)
    trained = cross_encoder.fine_tune(model, batches, 1, loss, config, "tiny", progress=False)
    return model, trained


def test_fine_tune_learns_leaves_word_embeddings_alone_and_repeats_for_a_seed():
    model, trained = _tiny_fit(0)
    assert np.mean(trained["losses"][-5:]) < 0.5 * np.mean(trained["losses"][:5])
    assert torch.equal(model.encoder.embeddings.word_embeddings.weight,
                       trained["base_state"]["embeddings.word_embeddings.weight"])
    again, _ = _tiny_fit(0)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
