"""Sampling from the token-level geometric mixture of two policies (Nash-MD's opponents)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from aligngames.agents.llm.generation import CACHE_KEYWORD, adapter_kwargs
from aligngames.agents.llm.models import LoadedModel
from aligngames.solvers.training.policy_gradient import PolicyRef


class GeometricMixtureModel:
    """A causal LM whose next-token log-probabilities are ``(1 - w) log pi + w log mu`` (the softmax in
    :func:`~aligngames.agents.llm.generation.generate` renormalises them), so ``generate`` samples from
    the token-level geometric mixture ``pi^(1-w) mu^w`` (Nash-MD's ``pi_mix``). Each policy keeps its
    own key/value cache; the pair is the mixture's cache."""

    def __init__(self, first: PolicyRef, second: PolicyRef, weight: float) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"the mixture weight must lie in [0, 1], got {weight}")
        self.parts = (first, second)
        self.weight = weight
        self.generation_config = first.handle.model.generation_config

    def __call__(self, *, input_ids, attention_mask, position_ids, use_cache=True, logits_to_keep=0, **cache):
        caches = cache.get(CACHE_KEYWORD) or (None, None)
        logprobs, new_caches = [], []
        for ref, part in zip(self.parts, caches):
            output = ref.handle.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                      use_cache=use_cache, logits_to_keep=logits_to_keep, **{CACHE_KEYWORD: part},
                                      **adapter_kwargs(ref.handle, ref.adapter, input_ids.shape[0]))
            logprobs.append(torch.log_softmax(output.logits.float(), dim=-1))  # (batch, time, vocab)
            new_caches.append(getattr(output, CACHE_KEYWORD))
        mixed = (1.0 - self.weight) * logprobs[0] + self.weight * logprobs[1]
        return SimpleNamespace(logits=mixed, **{CACHE_KEYWORD: tuple(new_caches)})


def mixture_handle(first: PolicyRef, second: PolicyRef, weight: float) -> LoadedModel:
    """A :class:`~aligngames.agents.llm.models.LoadedModel` that ``generate`` can sample the mixture from."""
    handle = first.handle
    return LoadedModel(GeometricMixtureModel(first, second, weight), handle.tokenizer,
                       {"source": f"mixture({weight})"}, handle.device, handle.dtype)


__all__ = ["GeometricMixtureModel", "mixture_handle"]
