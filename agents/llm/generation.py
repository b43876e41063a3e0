"""Batched generation and exact log-probabilities for causal LMs.

:func:`generate` decodes a batch of prompts together: the prompts are left-padded into one
``(batch, time)`` tensor with position ids that start at 0 in every row, the prompt goes through
the model once, and then one forward pass per new token serves the whole batch from the KV cache.
A row stops at an end-of-sequence token, at a stop string, or after ``max_new_tokens``.

Sampling draws from one ``torch.Generator`` per row, so a row's tokens depend only on its prompt,
its generator and the model, not on which other prompts share the batch. (transformers' own
``generate`` samples from torch's global RNG, which we do not touch; that is why the decoding loop
is written here.) Greedy decoding (``temperature=0``) gives the same text batched or one by one.

Log-probabilities are those of the model's own distribution, ``log softmax(logits)`` at
temperature 1 without top-p filtering, so the ``token_logprobs`` recorded while sampling equal
what :func:`sequence_logprobs` computes later for the same tokens (the quantity policy-gradient
losses need), whatever sampling settings produced them.

Prompts are complete strings (a chat template already applied); no special tokens are added.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import transformers

from aligngames.agents.llm.models import LoadedModel

#: The keyword (and output field) of the key-value cache: transformers 5 calls it ``cache`` and deprecates
#: ``past_key_values``, the only name transformers 4 knows.
CACHE_KEYWORD = "cache" if "cache" in inspect.signature(transformers.LlamaForCausalLM.forward).parameters \
    else "past_key_values"


@dataclass(frozen=True)
class GenerationConfig:
    """How an LLM agent writes its text.

    Attributes:
        max_new_tokens: the most tokens generated per turn.
        temperature: softmax temperature for sampling; 0 means greedy decoding (argmax).
        top_p: nucleus sampling: sample among the most likely tokens whose probabilities sum to top_p.
        stop: strings that end the turn; the text is cut before the first one.
    """

    max_new_tokens: int = 64
    temperature: float = 0.7
    top_p: float = 1.0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", tuple(self.stop))
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop must be a list of non-empty strings, got {list(self.stop)!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class Completion:
    """One generated continuation.

    Attributes:
        text: the decoded text, cut before the first stop string, special tokens removed.
        token_ids: every generated token, including the end-of-sequence token or the token that
            completed a stop string (the policy chose them, so training needs them).
        token_logprobs: ``log p(token | prompt, earlier tokens)`` for each of ``token_ids``.
        finish_reason: ``"eos"``, ``"stop"`` (a stop string) or ``"length"`` (``max_new_tokens``).
    """

    text: str
    token_ids: list[int]
    token_logprobs: list[float]
    finish_reason: str


@dataclass
class SequenceLogprobs:
    """Log-probabilities of completions given prompts (differentiable).

    Attributes:
        token_logprobs: one 1-D tensor per completion, ``log p(c_t | prompt, c_<t)`` for each token.
        total: shape ``(batch,)``, the sum over each completion's tokens.
    """

    token_logprobs: list[torch.Tensor]
    total: torch.Tensor


# --- helpers ------------------------------------------------------------------------------------

def encode(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, without added special tokens."""
    if not texts:
        return []
    return [list(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int, device: torch.device
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad token id lists into ``(ids, attention_mask, position_ids)``, each ``(batch, time)``.

    Position ids count the real tokens of each row from 0, so padding does not shift the positions
    (rotary embeddings would otherwise see a different prompt in a longer batch).
    """
    if any(len(s) == 0 for s in sequences):
        raise ValueError("cannot score or continue an empty prompt; every prompt needs at least one token")
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, width - len(sequence):] = torch.tensor(list(sequence), dtype=torch.long)
        mask[row, width - len(sequence):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


Adapter = str | None | Sequence[str | None]


def adapter_kwargs(handle: LoadedModel, adapter: Adapter, batch_size: int) -> dict[str, Any]:
    """Forward-pass arguments that run the LoRA ``adapter`` on every row (None = the base model),
    or ``adapter[row]`` on each row when it is a list (one batch, several policies).

    In eval mode peft runs a different adapter per row (``adapter_names``); in training mode it
    runs only the active adapter, so ``adapter`` must be that one.
    """
    names = [adapter] * batch_size if adapter is None or isinstance(adapter, str) else list(adapter)
    if len(names) != batch_size:
        raise ValueError(f"{len(names)} adapter names for a batch of {batch_size}")
    unknown = sorted({name for name in names if name is not None and name not in handle.adapters})
    if unknown:
        loaded = sorted(handle.adapters) or "none (the model has no LoRA adapters)"
        raise ValueError(f"adapter {unknown[0]!r} is not loaded; loaded adapters: {loaded}")
    if not handle.is_peft:
        return {}
    if not handle.model.training:
        return {"adapter_names": [name or "__base__" for name in names]}
    active = handle.model.active_adapter
    if any(name != active for name in names):
        raise ValueError(
            f"in training mode peft runs only the active adapter ({active!r}); call "
            f"handle.model.set_adapter(name) first or switch to eval mode"
        )
    return {}


def end_token_ids(handle: LoadedModel) -> set[int]:
    """Token ids that end a turn: the tokenizer's and the generation config's end-of-sequence ids."""
    ids: set[int] = set()
    for value in (handle.tokenizer.eos_token_id, getattr(handle.model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif value is not None:
            ids.update(int(v) for v in value)
    return ids


def _filter_top_p(probabilities: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero all but the smallest set of most likely tokens whose mass reaches ``top_p``; (batch, vocab)."""
    sorted_probabilities, order = probabilities.sort(dim=-1, descending=True)
    mass_before = sorted_probabilities.cumsum(dim=-1) - sorted_probabilities
    sorted_probabilities[mass_before >= top_p] = 0.0  # the most likely token always stays (mass before it is 0)
    return torch.zeros_like(probabilities).scatter(-1, order, sorted_probabilities)


def choose_tokens(logits: torch.Tensor, config: GenerationConfig,
                  generators: Sequence[torch.Generator | None]) -> torch.Tensor:
    """Next token per row from ``logits`` of shape ``(batch, vocab)``: argmax, or a draw from each row's generator.

    A draw is inverse-CDF sampling: one uniform number per row from that row's generator, located
    in the row's cumulative distribution (float64, so rounding does not move mass between tokens).
    """
    if config.greedy:
        return logits.argmax(dim=-1)
    probabilities = torch.softmax(logits.double() / config.temperature, dim=-1)  # (batch, vocab)
    if config.top_p < 1:
        probabilities = _filter_top_p(probabilities, config.top_p)
    if any(generator is None for generator in generators):
        raise ValueError("sampling (temperature > 0) needs a torch.Generator per row")
    uniforms = torch.stack([torch.rand((), generator=generator, device=generator.device, dtype=torch.float64)
                            for generator in generators]).to(logits.device)  # (batch,)
    cumulative = probabilities.cumsum(dim=-1)  # (batch, vocab)
    tokens = torch.searchsorted(cumulative, (uniforms * cumulative[:, -1])[:, None], right=True)[:, 0]
    return tokens.clamp(max=logits.shape[-1] - 1)


def _find_stop(text: str, stops: Sequence[str]) -> int:
    positions = [index for index in (text.find(stop) for stop in stops) if index >= 0]
    return min(positions) if positions else -1


# --- generation ---------------------------------------------------------------------------------

def generate(handle: LoadedModel, prompts: Sequence[str], config: GenerationConfig,
             generators: Sequence[torch.Generator | None] | None = None, *, adapter: Adapter = None
             ) -> list[Completion]:
    """Continue every prompt; one forward pass per new token for the whole batch.

    Args:
        handle: the model.
        prompts: complete prompt strings (chat template applied).
        config: decoding settings.
        generators: one ``torch.Generator`` (on the model's device) per prompt; needed when sampling.
        adapter: the LoRA adapter to run (None: the base model), or one per prompt.
    """
    if not prompts:
        return []
    if generators is None:
        generators = [None] * len(prompts)
    if len(generators) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(generators)} generators")
    tokenizer, model = handle.tokenizer, handle.model
    ids, mask, positions = left_pad(encode(tokenizer, prompts), tokenizer.pad_token_id, handle.device)
    batch = len(prompts)
    extra = adapter_kwargs(handle, adapter, batch)
    ends = end_token_ids(handle)
    token_ids: list[list[int]] = [[] for _ in range(batch)]
    token_logprobs: list[list[float]] = [[] for _ in range(batch)]
    reasons: list[str | None] = [None] * batch
    texts: list[str | None] = [None] * batch
    next_positions = positions[:, -1:] + 1  # (batch, 1)
    with torch.inference_mode():
        output = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                       logits_to_keep=1, **extra)
        for step in range(config.max_new_tokens):
            logits = output.logits[:, -1, :].float()  # (batch, vocab)
            logprobs = torch.log_softmax(logits, dim=-1)
            tokens = choose_tokens(logits, config, generators)
            chosen = logprobs.gather(-1, tokens[:, None])[:, 0].tolist()
            tokens_list = tokens.tolist()
            for row in range(batch):
                if reasons[row] is not None:
                    continue
                token_ids[row].append(tokens_list[row])
                token_logprobs[row].append(chosen[row])
                if tokens_list[row] in ends:
                    reasons[row] = "eos"
                elif config.stop:
                    text = tokenizer.decode(token_ids[row], skip_special_tokens=True)
                    cut = _find_stop(text, config.stop)
                    if cut >= 0:
                        reasons[row], texts[row] = "stop", text[:cut]
            if all(reason is not None for reason in reasons) or step == config.max_new_tokens - 1:
                break
            # finished rows keep decoding padding; attention is per row, so they do not affect the others
            feed = torch.tensor([tokens_list[row] if reasons[row] is None else tokenizer.pad_token_id
                                 for row in range(batch)], device=handle.device)[:, None]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
            output = model(input_ids=feed, attention_mask=mask, position_ids=next_positions,
                           use_cache=True, **{CACHE_KEYWORD: getattr(output, CACHE_KEYWORD)}, **extra)
            next_positions = next_positions + 1
    completions = []
    for row in range(batch):
        text = texts[row]
        if text is None:
            text = tokenizer.decode(token_ids[row], skip_special_tokens=True)
        completions.append(Completion(text, token_ids[row], token_logprobs[row], reasons[row] or "length"))
    return completions


# --- scoring ------------------------------------------------------------------------------------

def sequence_logprobs(handle: LoadedModel, prompts: Sequence[str], completions: Sequence[str | Sequence[int]],
                      *, adapter: Adapter = None) -> SequenceLogprobs:
    """``log p(completion | prompt)`` per token and summed, with gradients (one batched forward pass).

    ``adapter`` as in :func:`generate`. A completion is text or token ids (use the ids a :class:`Completion` recorded: decoding and
    re-encoding text need not give back the same tokens). Prompt and completion are tokenized
    separately and concatenated, exactly as generation saw them.
    """
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    if not prompts:
        return SequenceLogprobs([], torch.zeros(0, device=handle.device))
    prompt_ids = encode(handle.tokenizer, prompts)
    completion_ids = [encode(handle.tokenizer, [c])[0] if isinstance(c, str) else [int(t) for t in c]
                      for c in completions]
    if any(len(ids) == 0 for ids in completion_ids):
        raise ValueError("every completion needs at least one token")
    ids, mask, positions = left_pad([p + c for p, c in zip(prompt_ids, completion_ids)],
                                    handle.tokenizer.pad_token_id, handle.device)
    longest = max(len(c) for c in completion_ids)
    # logits for the last `longest + 1` positions only: the lm head over a long prompt would be wasted
    logits = handle.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                          logits_to_keep=longest + 1, **adapter_kwargs(handle, adapter, len(prompts))).logits
    logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (batch, longest, vocab): predicts the last `longest` tokens
    targets = ids[:, -longest:]  # (batch, longest)
    picked = logprobs.gather(-1, targets[..., None])[..., 0]  # (batch, longest)
    per_token = [picked[row, longest - len(c):] for row, c in enumerate(completion_ids)]
    return SequenceLogprobs(per_token, torch.stack([values.sum() for values in per_token]))


def next_token_logprobs(handle: LoadedModel, prompts: Sequence[str], *, adapter: Adapter = None) -> torch.Tensor:
    """``log p(next token | prompt)`` for every prompt, shape ``(batch, vocab)``, without gradients."""
    ids, mask, positions = left_pad(encode(handle.tokenizer, prompts), handle.tokenizer.pad_token_id, handle.device)
    with torch.inference_mode():
        logits = handle.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                              logits_to_keep=1, **adapter_kwargs(handle, adapter, len(prompts))).logits
    return torch.log_softmax(logits[:, -1].float(), dim=-1)


# --- choosing among options -------------------------------------------------------------------------

def option_logprobs(handle: LoadedModel, prompts: Sequence[str], options: Sequence[Sequence[str]], *,
                    adapter: Adapter = None, batch_size: int = 16) -> list[torch.Tensor]:
    """``log p(option | prompt)``, summed over the option's tokens, for every option of every prompt (no gradients).

    Args:
        handle: the model.
        prompts: complete prompt strings (chat template applied).
        options: ``options[i]`` are the option strings of ``prompts[i]`` (at least one each).
        adapter: the LoRA adapter to run (None: the base model), or one per prompt.
        batch_size: about the most rows per forward pass (a prompt counts once, plus once per
            option longer than one token; one prompt's options always go together).

    Returns:
        One float32 CPU tensor of shape ``(len(options[i]),)`` per prompt.

    Each prompt goes through the model once: its last position scores every option's first token,
    and its KV cache, repeated once per option longer than one token, scores the rest of those
    options in one more forward pass. Prompt and option are tokenized separately and concatenated,
    as in :func:`sequence_logprobs`, whose ``total`` these sums equal up to float rounding.
    """
    if len(prompts) != len(options):
        raise ValueError(f"{len(prompts)} prompts but {len(options)} option lists")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    adapters = [adapter] * len(prompts) if adapter is None or isinstance(adapter, str) else list(adapter)
    if len(adapters) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(adapters)} adapter names")
    prompt_ids = encode(handle.tokenizer, prompts)
    option_ids = []
    for index, choices in enumerate(options):
        if len(choices) == 0:
            raise ValueError(f"prompt {index} has no options to choose from")
        ids = encode(handle.tokenizer, [str(choice) for choice in choices])
        empty = [choice for choice, token_ids in zip(choices, ids) if not token_ids]
        if empty:
            raise ValueError(f"option {empty[0]!r} has no tokens; every option needs at least one token")
        option_ids.append(ids)
    chunks: list[list[int]] = []
    cost = 0
    for index, ids in enumerate(option_ids):
        weight = 1 + sum(len(token_ids) > 1 for token_ids in ids)
        if chunks and cost + weight <= batch_size:
            chunks[-1].append(index)
            cost += weight
        else:
            chunks.append([index])
            cost = weight
    results: list[torch.Tensor] = [torch.zeros(0)] * len(prompts)
    with torch.inference_mode():
        for chunk in chunks:
            scores = _score_options(handle, [prompt_ids[i] for i in chunk], [option_ids[i] for i in chunk],
                                    [adapters[i] for i in chunk])
            for index, values in zip(chunk, scores):
                results[index] = values
    return results


def _score_options(handle: LoadedModel, prompt_ids: list[list[int]], option_ids: list[list[list[int]]],
                   adapters: list[str | None]) -> list[torch.Tensor]:
    """:func:`option_logprobs` for one batch of prompts: one pass over the prompts, one over the option tails."""
    model, pad_id, device = handle.model, handle.tokenizer.pad_token_id, handle.device
    ids, mask, positions = left_pad(prompt_ids, pad_id, device)
    output = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1,
                   **adapter_kwargs(handle, adapters, len(prompt_ids)))
    first = torch.log_softmax(output.logits[:, -1].float(), dim=-1)  # (prompts, vocab): each option's first token
    totals = [first[row, [choice[0] for choice in choices]].clone() for row, choices in enumerate(option_ids)]
    tails = [(row, k) for row, choices in enumerate(option_ids) for k, choice in enumerate(choices) if len(choice) > 1]
    if tails:
        rows = torch.tensor([row for row, _ in tails], device=device)  # (tails,): the prompt row of each long option
        cache = getattr(output, CACHE_KEYWORD)
        cache.reorder_cache(rows)  # one copy of the prompt's keys and values per long option
        feeds = [option_ids[row][k][:-1] for row, k in tails]  # tokens 0..L-2 predict tokens 1..L-1
        width = max(len(feed) for feed in feeds)
        feed_ids = torch.full((len(tails), width), pad_id, dtype=torch.long)
        feed_mask = torch.zeros((len(tails), width), dtype=torch.long)
        for index, feed in enumerate(feeds):  # right-padded: real tokens never attend to the padding after them
            feed_ids[index, :len(feed)] = torch.tensor(feed, dtype=torch.long)
            feed_mask[index, :len(feed)] = 1
        feed_positions = positions[rows, -1:] + 1 + torch.arange(width, device=device)[None, :]  # (tails, width)
        logits = model(input_ids=feed_ids.to(device), attention_mask=torch.cat([mask[rows], feed_mask.to(device)], dim=-1),
                       position_ids=feed_positions, use_cache=True, **{CACHE_KEYWORD: cache},
                       **adapter_kwargs(handle, [adapters[row] for row, _ in tails], len(tails))).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)  # (tails, width, vocab)
        for index, (row, k) in enumerate(tails):
            targets = torch.tensor(option_ids[row][k][1:], device=device)
            totals[row][k] += logprobs[index, torch.arange(targets.numel(), device=device), targets].sum()
    return [values.cpu() for values in totals]


def choose_option(scores: torch.Tensor, temperature: float, seed: int) -> int:
    """The index of the chosen option: the argmax of ``scores`` (the first on ties) at temperature 0,
    else a draw from ``softmax(scores / temperature)`` by a CPU ``torch.Generator`` seeded with ``seed``."""
    scores = scores.float().cpu()
    if temperature == 0:
        return int(scores.argmax())
    probabilities = torch.softmax(scores / temperature, dim=0)
    return int(torch.multinomial(probabilities, 1, generator=torch.Generator().manual_seed(int(seed)))[0])


@dataclass
class OptionChoice:
    """What :func:`choose_options` chose for one prompt.

    Attributes:
        index: the chosen option's index.
        logprobs: ``log p(option | prompt)`` of every option, in order.
    """

    index: int
    logprobs: list[float]


def choose_options(handle: LoadedModel, prompts: Sequence[str], options: Sequence[Sequence[str]],
                   config: GenerationConfig, seeds: Sequence[int], *, adapter: Adapter = None,
                   batch_size: int = 16) -> list[OptionChoice]:
    """Choose one of ``options[i]`` for each ``prompts[i]`` by the options' log-probabilities.

    Greedy (``config.temperature == 0``): the most likely option. Sampling: a draw from
    ``softmax(logprob / temperature)`` seeded by ``seeds[i]`` alone, so a choice depends on its
    prompt, options, seed and the model, not on the batch (``top_p`` does not apply). The answer is
    always one of the options, so even a small model makes a legal move.
    """
    if len(seeds) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    scores = option_logprobs(handle, prompts, options, adapter=adapter, batch_size=batch_size)
    return [OptionChoice(choose_option(values, config.temperature, seed), values.tolist())
            for values, seed in zip(scores, seeds)]
