"""The settings every LLM training path shares, each declared once.

Language-mode preference optimisation (MPO and its baselines,
:class:`~aligngames.solvers.training.preference_training.config.LanguagePreferenceConfig`) and the PSRO / GRTS
best-response oracle (:class:`~aligngames.solvers.training.llm_oracle.OracleSettings`) compose these
dataclasses instead of repeating their fields; each path sets its own defaults as a default instance.
In YAML they are nested mappings (``trainer: {learning_rate: 5e-4}``; keys left out keep that path's
defaults) and on the command line dotted flags (``--trainer.learning-rate 5e-4``).

Pure data: importing this module loads neither torch nor a model.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEDULES = ("constant", "linear", "cosine")
GENERATION_BACKENDS = ("transformers", "vllm")
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ModelSettings:
    """The base model every policy of a run shares.

    Attributes:
        name: embedded (SmolLM2-135M-Instruct) or a local model folder.
        device: cpu, cuda, cuda:1 ..., or None: CUDA where available (each torchrun process takes its own GPU).
        dtype: float32, bfloat16 or float16, or None: bfloat16 on CUDA, float32 on the CPU.
    """

    name: str = "embedded"
    device: str | None = None
    dtype: str | None = None

    def __post_init__(self) -> None:
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"model.dtype must be one of {list(DTYPES)} or null, got {self.dtype!r}")


@dataclass(frozen=True)
class LoRASettings:
    """The LoRA adapter a policy trains.

    Attributes:
        rank: LoRA rank; 0 trains every weight of the model (full fine-tuning, where a path allows it).
        alpha: LoRA scale numerator (updates are scaled by alpha / rank).
        targets: comma-separated names of the modules that get LoRA adapters.
    """

    rank: int = 8
    alpha: float = 16.0
    targets: str = "q_proj,v_proj"

    def __post_init__(self) -> None:
        if self.rank < 0:
            raise ValueError(f"lora.rank must be >= 0 (0: full fine-tuning), got {self.rank}")
        if self.rank > 0 and not self.target_modules:
            raise ValueError(f"lora.targets names no module, got {self.targets!r}")

    @property
    def target_modules(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.targets.split(",") if name.strip())


@dataclass(frozen=True)
class TrainerSettings:
    """How the policy-gradient trainer turns a batch of samples into optimiser steps.

    Attributes:
        learning_rate: AdamW's peak learning rate.
        warmup_steps: optimiser steps of linear warm-up.
        schedule: constant, linear or cosine decay of the learning rate to 0 at the run's last optimiser step.
        epochs: passes over each batch of samples, one optimiser step each.
        micro_batch_size: sequences per forward/backward pass (gradients accumulate over the batch).
        max_grad_norm: clip the gradient's global norm to this (0: no clipping).
        weight_decay: AdamW's decoupled weight decay.
        autocast: run forward passes under torch.autocast in bfloat16 (float32 weights on a GPU; slow on a CPU).
    """

    learning_rate: float = 1e-4
    warmup_steps: int = 0
    schedule: str = "constant"
    epochs: int = 1
    micro_batch_size: int = 8
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    autocast: bool = False

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"trainer.schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if self.learning_rate <= 0 or self.epochs < 1 or self.micro_batch_size < 1 or self.warmup_steps < 0:
            raise ValueError("need trainer.learning_rate > 0, trainer.epochs >= 1, trainer.micro_batch_size >= 1 "
                             "and trainer.warmup_steps >= 0")
        if self.max_grad_norm < 0 or self.weight_decay < 0:
            raise ValueError("need trainer.max_grad_norm >= 0 and trainer.weight_decay >= 0")


@dataclass(frozen=True)
class GenerationSettings:
    """How training samples answers (always at temperature 1: the sampling distribution is the trained policy).

    Attributes:
        max_new_tokens: the longest answer (or turn), in tokens.
        batch_size: sequences generated together (samples do not depend on it).
        backend: transformers, or vllm (GPU, extra vllm; language-mode LoRA training only).
    """

    max_new_tokens: int = 32
    batch_size: int = 32
    backend: str = "transformers"

    def __post_init__(self) -> None:
        if self.backend not in GENERATION_BACKENDS:
            raise ValueError(f"generation.backend must be one of {list(GENERATION_BACKENDS)}, got {self.backend!r}")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("need generation.max_new_tokens >= 1 and generation.batch_size >= 1")


#: Keys of the flat settings written before these dataclasses existed -> their nested place (for error messages).
FLAT_KEYS = {
    "model": "model.name", "device": "model.device", "dtype": "model.dtype",
    "lora_rank": "lora.rank", "lora_alpha": "lora.alpha", "lora_targets": "lora.targets",
    "learning_rate": "trainer.learning_rate", "warmup_steps": "trainer.warmup_steps", "schedule": "trainer.schedule",
    "epochs": "trainer.epochs", "micro_batch_size": "trainer.micro_batch_size", "max_grad_norm": "trainer.max_grad_norm",
    "autocast": "trainer.autocast", "max_new_tokens": "generation.max_new_tokens",
    "generation_batch_size": "generation.batch_size", "generation_backend": "generation.backend",
}


def flat_keys_in(data: object) -> dict[str, str]:
    """``{old key: new key}`` for the flat keys of an older config found at the top of ``data``.

    ``model`` counts only when it holds a string (the nested ``model`` is a mapping).
    """
    if not isinstance(data, dict):
        return {}
    return {key: new for key, new in FLAT_KEYS.items()
            if key in data and not (key == "model" and isinstance(data[key], dict))}


def describe_flat_keys(found: dict[str, str]) -> str:
    return ", ".join(f"{old} -> {new}" for old, new in found.items())


__all__ = ["GENERATION_BACKENDS", "SCHEDULES", "GenerationSettings", "LoRASettings", "ModelSettings",
           "TrainerSettings", "describe_flat_keys", "flat_keys_in"]
