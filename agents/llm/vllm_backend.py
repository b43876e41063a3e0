"""Optional vLLM generation backend (GPU; ``pip install 'aligngames[vllm]'``, vLLM 0.29 pairs with torch 2.13).

vLLM is imported only when this backend is first used. The engine loads the same weights as the
transformers model (its local folder; for the embedded default, the cached safetensors copy).
Each prompt carries its own sampling seed, so sampled text does not depend on batch composition,
as with the transformers backend (the two backends' samples differ from each other). Token
log-probabilities are vLLM's log-probabilities of the sampled tokens (``logprobs=0``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligngames.agents.llm.generation import Completion, GenerationConfig
from aligngames.agents.llm.models import LoadedModel

log = logging.getLogger(__name__)


def import_vllm():
    try:
        import vllm
    except ImportError as error:
        raise ImportError(
            "the vLLM backend needs vLLM on a CUDA machine: pip install 'aligngames[vllm]' "
            "(vLLM 0.29 pairs with torch 2.13); or use backend 'transformers'"
        ) from error
    return vllm


LoRA = tuple[str, int, str]  # (name, vLLM's integer id, adapter folder)

_ENGINES: dict[tuple[str, str, int | None], VLLMGenerator] = {}


class VLLMGenerator:
    """A vLLM engine for one model folder (one per folder, dtype and LoRA rank in a process: see :meth:`for_model`)."""

    def __init__(self, folder: str, *, dtype: str = "auto", gpu_memory_utilization: float = 0.5,
                 max_model_len: int | None = None, max_lora_rank: int | None = None, max_loras: int = 8) -> None:
        vllm = import_vllm()
        self.folder = folder
        self.max_lora_rank = max_lora_rank
        lora = {"enable_lora": True, "max_lora_rank": max_lora_rank, "max_loras": max_loras} if max_lora_rank else {}
        self.engine = vllm.LLM(model=folder, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                               max_model_len=max_model_len, trust_remote_code=False, **lora)
        self._lora_ids: dict[str, int] = {}

    @classmethod
    def for_model(cls, handle: LoadedModel, *, max_lora_rank: int | None = None) -> VLLMGenerator:
        """The engine on ``handle``'s weights, shared by every caller in the process; ``max_lora_rank``
        enables LoRA adapters up to that rank."""
        if handle.folder is None:
            raise ValueError("the vLLM backend needs a model loaded from a local folder (or the embedded default)")
        import_vllm()
        dtype = str(handle.dtype).removeprefix("torch.")
        key = (str(handle.folder), dtype, max_lora_rank)
        if key not in _ENGINES:
            _ENGINES[key] = cls(str(handle.folder), dtype=dtype, max_lora_rank=max_lora_rank)
        return _ENGINES[key]

    def lora_for(self, name: str, folder: str) -> LoRA:
        """The LoRA request triple of an adapter folder: one stable id per folder."""
        if self.max_lora_rank is None:
            raise ValueError(f"adapter {name!r}: this vLLM engine was started without LoRA (max_lora_rank)")
        identifier = self._lora_ids.setdefault(folder, len(self._lora_ids) + 1)
        return name, identifier, folder

    def generate(self, prompts: Sequence[str], config: GenerationConfig, seeds: Sequence[int], *,
                 lora: LoRA | Sequence[LoRA | None] | None = None) -> list[Completion]:
        """Sample one completion per prompt; ``lora = (name, id, adapter folder)`` runs that adapter on every
        row, a list gives one per row (None: the base model) and vLLM batches the rows of all of them
        together (multi-LoRA). A new id makes vLLM read a folder again, e.g. after a training step."""
        vllm = import_vllm()
        params = [
            vllm.SamplingParams(n=1, temperature=config.temperature, top_p=config.top_p,
                                max_tokens=config.max_new_tokens, stop=list(config.stop) or None,
                                seed=int(seed) % (2**31), logprobs=0)
            for seed in seeds
        ]
        request: Any = None
        if lora is not None:
            from vllm.lora.request import LoRARequest

            if isinstance(lora, tuple):
                request = LoRARequest(*lora)
            else:
                rows = list(lora)
                if len(rows) != len(prompts):
                    raise ValueError(f"{len(prompts)} prompts but {len(rows)} LoRA entries")
                request = [None if row is None else LoRARequest(*row) for row in rows]
        outputs = self.engine.generate(list(prompts), params, use_tqdm=False, lora_request=request)
        return [_completion(output.outputs[0]) for output in outputs]


def adapter_rank(folder: str | Path) -> int:
    """The LoRA rank ``r`` in a saved adapter's ``adapter_config.json``."""
    path = Path(folder) / "adapter_config.json"
    try:
        return int(json.loads(path.read_text())["r"])
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: cannot read the adapter's rank 'r' ({error})") from error


def _completion(output: Any) -> Completion:
    token_ids = [int(t) for t in output.token_ids]
    logprobs = [float(step[token].logprob) for step, token in zip(output.logprobs or [], token_ids)]
    if len(logprobs) != len(token_ids):
        raise RuntimeError(f"vLLM returned {len(logprobs)} log-probabilities for {len(token_ids)} tokens")
    reason = {"length": "length"}.get(output.finish_reason, "stop" if output.stop_reason is not None else "eos")
    return Completion(output.text, token_ids, logprobs, reason)
