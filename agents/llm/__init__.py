"""LLM agents on Hugging Face transformers, LoRA populations and LLM judges.

Example::

    from aligngames.agents.llm import GenerationConfig, LLMAgent
    agent = LLMAgent.from_pretrained("embedded", generation=GenerationConfig(max_new_tokens=48, temperature=0.7))
    agent.reset(seed=0)

Modules: ``models`` (loading, the embedded SmolLM2 default, the per-process model cache),
``generation`` (batched decoding and exact log-probabilities), ``agent`` (``LLMAgent``), ``lora``
(adapters via peft), ``judges`` (LLM preference and harm judges with a verdict cache),
``vllm_backend`` (optional), ``testing`` (tiny models built in code).
"""

from aligngames.agents.llm.agent import DEFAULT_SYSTEM_PROMPT, LLMAgent, llm_agent, render_chat
from aligngames.agents.llm.generation import (
    Completion,
    GenerationConfig,
    SequenceLogprobs,
    generate,
    next_token_logprobs,
    sequence_logprobs,
)
from aligngames.agents.llm.models import EMBEDDED, LoadedModel, clear_model_cache, load_model, wrap_model

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "EMBEDDED",
    "Completion",
    "GenerationConfig",
    "LLMAgent",
    "LoadedModel",
    "SequenceLogprobs",
    "clear_model_cache",
    "generate",
    "llm_agent",
    "load_model",
    "next_token_logprobs",
    "render_chat",
    "sequence_logprobs",
    "wrap_model",
]
