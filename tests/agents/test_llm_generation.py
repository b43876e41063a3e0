"""Batched generation and log-probabilities on a tiny random Llama built in code.

Known answers: greedy decoding gives the same tokens batched and one by one; the log-probs that
generation records, and ``sequence_logprobs`` with its gradients, equal a slow reference that
runs each (prompt, completion) alone, unpadded, and reads the log-softmax token by token; a stop
string cuts the text exactly where the same run without it shows the string first.
"""

from __future__ import annotations

import pytest
import torch

from aligngames.agents.llm.generation import (
    GenerationConfig,
    encode,
    generate,
    left_pad,
    next_token_logprobs,
    sequence_logprobs,
)
from aligngames.agents.llm.testing import tiny_handle

TEXTS = ["hi", "What is the capital of France?", "x" * 40, "A\nB\nC", "Tell me a story about a dog."]


@pytest.fixture(scope="module")
def handle():
    return tiny_handle(seed=0)


def chat(handle, text: str) -> str:
    return handle.tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                                tokenize=False)


@pytest.fixture(scope="module")
def prompts(handle):
    return [chat(handle, text) for text in TEXTS]


def reference_logprobs(handle, prompt: str, completion_ids: list[int]) -> torch.Tensor:
    """One sequence, no padding, no cache: log p(c_t | prompt, c_<t) read off the full forward pass."""
    prompt_ids = encode(handle.tokenizer, [prompt])[0]
    ids = torch.tensor([prompt_ids + completion_ids])
    logits = handle.model(input_ids=ids).logits[0]  # (time, vocab)
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    return torch.stack([logprobs[len(prompt_ids) - 1 + t, token] for t, token in enumerate(completion_ids)])


def test_left_pad_positions_count_real_tokens():
    ids, mask, positions = left_pad([[5, 6, 7], [8]], pad_id=0, device=torch.device("cpu"))
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert positions.tolist() == [[0, 1, 2], [0, 0, 0]]
    with pytest.raises(ValueError, match="empty prompt"):
        left_pad([[1], []], 0, torch.device("cpu"))


def test_greedy_batched_equals_one_by_one(handle, prompts):
    config = GenerationConfig(max_new_tokens=24, temperature=0)
    batched = generate(handle, prompts, config)
    for prompt, together in zip(prompts, batched):
        (alone,) = generate(handle, [prompt], config)
        assert together.token_ids == alone.token_ids
        assert together.text == alone.text
        assert together.token_logprobs == pytest.approx(alone.token_logprobs, abs=1e-4)
        assert len(together.token_ids) == 24 and together.finish_reason == "length"
    assert len({tuple(c.token_ids) for c in batched}) > 1  # the prompts do lead to different text


def test_seeded_sampling_reproduces_and_ignores_batch_composition(handle, prompts):
    config = GenerationConfig(max_new_tokens=16, temperature=1.0, top_p=0.9)

    def generators(seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    first = generate(handle, prompts, config, generators(range(5)))
    again = generate(handle, prompts, config, generators(range(5)))
    assert [c.token_ids for c in first] == [c.token_ids for c in again]
    # the same row seed gives the same sample in a batch of one
    for index in (0, 3):
        (alone,) = generate(handle, [prompts[index]], config, generators([index]))
        assert alone.token_ids == first[index].token_ids
    other = generate(handle, prompts, config, generators(range(100, 105)))
    assert [c.token_ids for c in other] != [c.token_ids for c in first]
    with pytest.raises(ValueError, match=r"torch\.Generator per row"):
        generate(handle, prompts[:1], config, [None])


def test_top_p_keeps_only_the_nucleus(handle, prompts):
    """With top_p tiny only the most likely token survives, so sampling equals greedy decoding."""
    greedy = generate(handle, prompts[:2], GenerationConfig(max_new_tokens=12, temperature=0))
    nucleus = generate(handle, prompts[:2], GenerationConfig(max_new_tokens=12, temperature=1.0, top_p=1e-6),
                       [torch.Generator().manual_seed(s) for s in (1, 2)])
    assert [c.token_ids for c in nucleus] == [c.token_ids for c in greedy]


def test_recorded_logprobs_match_reference(handle, prompts):
    config = GenerationConfig(max_new_tokens=10, temperature=1.0)
    completions = generate(handle, prompts, config, [torch.Generator().manual_seed(s) for s in range(5)])
    with torch.no_grad():
        for prompt, completion in zip(prompts, completions):
            expected = reference_logprobs(handle, prompt, completion.token_ids)
            assert torch.allclose(torch.tensor(completion.token_logprobs), expected, atol=1e-4)


def test_sequence_logprobs_and_gradients_match_reference(handle, prompts):
    completions = [[10, 20, 30], [40], [50, 60, 70, 80, 90, 100], [7, 7], [200, 3]]
    completions[1] = "The answer."  # text completions are tokenized on their own
    handle.model.zero_grad()
    result = sequence_logprobs(handle, prompts, completions)
    result.total.sum().backward()
    batched_grad = handle.model.lm_head.weight.grad.clone()

    handle.model.zero_grad()
    reference_total = 0.0
    for prompt, completion, per_token, total in zip(prompts, completions, result.token_logprobs, result.total):
        ids = encode(handle.tokenizer, [completion])[0] if isinstance(completion, str) else completion
        expected = reference_logprobs(handle, prompt, ids)
        assert per_token.shape == (len(ids),)
        assert torch.allclose(per_token.detach(), expected.detach(), atol=1e-4)
        assert float(total.detach()) == pytest.approx(float(expected.sum().detach()), abs=1e-4)
        reference_total = reference_total + expected.sum()
    reference_total.backward()
    assert batched_grad.abs().max() > 0
    assert torch.allclose(batched_grad, handle.model.lm_head.weight.grad, atol=1e-4)
    handle.model.zero_grad()


def test_next_token_logprobs_match_reference(handle, prompts):
    logprobs = next_token_logprobs(handle, prompts)
    assert logprobs.shape == (len(prompts), len(handle.tokenizer))
    with torch.no_grad():
        for row, prompt in enumerate(prompts):
            ids = torch.tensor([encode(handle.tokenizer, [prompt])[0]])
            expected = torch.log_softmax(handle.model(input_ids=ids).logits[0, -1].float(), dim=-1)
            assert torch.allclose(logprobs[row], expected, atol=1e-4)


def test_stop_string_cuts_where_it_first_appears(handle, prompts):
    config = GenerationConfig(max_new_tokens=40, temperature=0)
    full = generate(handle, prompts, config)
    checked = 0
    for prompt, completion in zip(prompts, full):
        text = completion.text
        # an ASCII pair from the middle of the text: it cannot complete a multi-byte character
        starts = [i for i in range(2, len(text) - 1) if text[i:i + 2].isascii() and text[i:i + 2].isprintable()]
        if not starts:
            continue
        stop = text[starts[0]:starts[0] + 2]
        (cut,) = generate(handle, [prompt], GenerationConfig(max_new_tokens=40, temperature=0, stop=(stop,)))
        assert cut.finish_reason == "stop"
        assert cut.text == text[:text.find(stop)]
        assert cut.token_ids == completion.token_ids[:len(cut.token_ids)]
        assert stop in handle.tokenizer.decode(cut.token_ids)
        assert stop not in handle.tokenizer.decode(cut.token_ids[:-1])
        checked += 1
    assert checked >= 2


def test_end_of_sequence_token_ends_a_row(handle, prompts):
    """Raise the end token's logit after three tokens of one row: that row stops there, the other runs on."""
    eos = handle.tokenizer.eos_token_id
    calls = []

    def boost(module, inputs, output):  # output: (batch, time, vocab) logits
        calls.append(1)
        if len(calls) == 4:  # the prompt pass, then the forward passes for tokens 2, 3 and 4
            output = output.clone()
            output[0, -1, eos] += 1000.0
        return output

    hook = handle.model.lm_head.register_forward_hook(boost)
    try:
        first, second = generate(handle, prompts[:2], GenerationConfig(max_new_tokens=8, temperature=0))
    finally:
        hook.remove()
    assert first.finish_reason == "eos" and len(first.token_ids) == 4 and first.token_ids[-1] == eos
    assert eos not in first.token_ids[:-1]
    assert second.finish_reason == "length" and len(second.token_ids) == 8


def test_generation_config_validation():
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationConfig(max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        GenerationConfig(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        GenerationConfig(top_p=0)
    with pytest.raises(ValueError, match="stop"):
        GenerationConfig(stop=("",))
    assert GenerationConfig(stop=["a"]).stop == ("a",)


def test_sampling_follows_the_tempered_nucleus_distribution():
    """Known answer: probabilities (0.5, 0.3, 0.15, 0.05), top_p 0.7 keeps the first two (the third
    starts at mass 0.8), renormalised to (0.625, 0.375); temperature 2 flattens softmax(log p / 2)."""
    from aligngames.agents.llm.generation import choose_tokens

    rows = 4000
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05])).repeat(rows, 1)
    generators = [torch.Generator().manual_seed(seed) for seed in range(rows)]
    nucleus = choose_tokens(logits, GenerationConfig(temperature=1.0, top_p=0.7), generators)
    frequencies = torch.bincount(nucleus, minlength=4).double() / rows
    assert torch.allclose(frequencies, torch.tensor([0.625, 0.375, 0.0, 0.0], dtype=torch.float64), atol=0.03)
    generators = [torch.Generator().manual_seed(seed) for seed in range(rows)]
    tempered = choose_tokens(logits, GenerationConfig(temperature=2.0), generators)
    expected = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64).sqrt()
    frequencies = torch.bincount(tempered, minlength=4).double() / rows
    assert torch.allclose(frequencies, expected / expected.sum(), atol=0.03)
