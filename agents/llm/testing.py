"""Tiny randomly initialised language models built in code, for tests (no download, deterministic).

The tokenizer is byte-level with no merges: every byte is one token, so any text round-trips
exactly, plus the ChatML special tokens and a chat template in the style of SmolLM2's. The
model is a two-layer Llama whose weights come from a seeded ``torch.Generator``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from aligngames.agents.llm.models import LoadedModel, wrap_model

SPECIAL_TOKENS = ("<pad>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_tokenizer():
    """A byte-level ``PreTrainedTokenizerFast``: 256 byte tokens after the 3 special tokens."""
    byte_chars = pre_tokenizers.ByteLevel.alphabet()  # the 256 printable stand-ins for bytes
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for char in sorted(byte_chars):
        vocab[char] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", bos_token="<|im_start|>",
                                        eos_token="<|im_end|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer


def word_tokenizer(words: list[str]):
    """A word-level ``PreTrainedTokenizerFast`` over ``words`` (token id = index; ``[PAD]`` and ``[UNK]``
    must be among them), splitting on white space and punctuation: for tiny classifiers in tests."""
    backend = Tokenizer(models.WordLevel({word: index for index, word in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]")


def tiny_model(seed: int = 0, *, hidden_size: int = 32, num_layers: int = 2, init_scale: float = 1.5):
    """A two-layer Llama over :func:`tiny_tokenizer`'s vocabulary with seeded random weights.

    Weights are ``N(0, (init_scale / sqrt(fan_in))^2)``, larger than transformers' default 0.02 on
    purpose: near-uniform next-token distributions would make greedy decoding hinge on rounding noise.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=4096, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                continue  # RMSNorm weights stay 1
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * init_scale / parameter.shape[-1] ** 0.5)
        # special tokens get logit 0 while byte tokens spread around it, so random text seldom ends
        # early (a test that needs an end token raises its logit itself)
        model.lm_head.weight[: len(SPECIAL_TOKENS)] = 0.0
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def tiny_handle(seed: int = 0, **kwargs) -> LoadedModel:
    """:func:`tiny_model` as a :class:`LoadedModel` on the CPU."""
    model, tokenizer = tiny_model(seed, **kwargs)
    return wrap_model(model, tokenizer, {"source": f"tiny-llama-seed{seed}"}, device="cpu")


def save_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Write :func:`tiny_model` to ``folder`` with ``save_pretrained`` (a local model folder for tests)."""
    folder = Path(folder)
    model, tokenizer = tiny_model(seed)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
