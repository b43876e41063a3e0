"""LLM agents on Hugging Face transformers, LoRA populations and LLM judges.

Example::

    from aligngames.agents.llm import GenerationConfig, LLMAgent
    agent = LLMAgent.from_pretrained("embedded", generation=GenerationConfig(max_new_tokens=48, temperature=0.7))
    agent.reset(seed=0)

Modules: ``models`` (loading, the embedded SmolLM2 default, the per-process model cache),
``generation`` (batched decoding, exact log-probabilities, choosing among options), ``agent`` (``LLMAgent``), ``lora``
(adapters via peft), ``judges`` (LLM preference and harm judges with a verdict cache),
``vllm_backend`` (optional), ``testing`` (tiny models built in code).
"""

from aligngames.agents.llm.agent import DEFAULT_SYSTEM_PROMPT, LLMAgent, llm_agent, render_chat
from aligngames.agents.llm.generation import (
    Completion,
    GenerationConfig,
    OptionChoice,
    SequenceLogprobs,
    choose_options,
    generate,
    next_token_logprobs,
    option_logprobs,
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
    "OptionChoice",
    "SequenceLogprobs",
    "choose_options",
    "clear_model_cache",
    "generate",
    "llm_agent",
    "load_model",
    "next_token_logprobs",
    "option_logprobs",
    "render_chat",
    "sequence_logprobs",
    "wrap_model",
]
