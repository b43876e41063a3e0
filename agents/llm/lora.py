"""LoRA adapters via peft: a population of policies as many adapters on one shared base model.

The base model is in memory once (a :class:`~aligngames.agents.llm.models.LoadedModel`); each
policy is a named LoRA adapter on it. peft runs a different adapter per batch row in eval mode,
so agents with different adapters share the model without copying it, and the base model itself
stays available as adapter ``None`` (peft's ``"__base__"``).

An adapter is saved as a folder: ``adapter_model.safetensors`` (peft's state dict),
``adapter_config.json`` (peft's config) and ``aligngames_adapter.json`` (the base model's identity,
checked on load, so an adapter cannot silently run on the wrong base). Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

from aligngames.agents.llm.models import LoadedModel, file_sha256
from aligngames.runs import atomic_write_bytes, atomic_write_json

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
IDENTITY_FILE = "aligngames_adapter.json"
INITS = ("identity", "random")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _check_new_name(handle: LoadedModel, name: str) -> None:
    if not _NAME.match(name) or name == "__base__":
        raise ValueError(f"adapter names are letters, digits, '_' and '-' (not '__base__'), got {name!r}")
    if name in handle.adapters:
        raise ValueError(f"adapter {name!r} is already loaded (from {handle.adapters[name]}); choose another name "
                         f"(load_adapter(handle, folder, name=...))")


@contextmanager
def _peft_wrapping():
    """Silence the FutureWarning that peft's wrapping triggers on every run: it reads transformers'
    deprecated ``is_gradient_checkpointing`` (peft 0.21, transformers 5.23); nothing for users to change."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _attach(handle: LoadedModel, name: str, config) -> None:
    """Add an adapter with ``config``; the first one turns the base model into a ``PeftModel``."""
    from peft import get_peft_model

    if handle.is_peft:
        handle.model.add_adapter(name, config)
    else:
        with _peft_wrapping():
            handle.model = get_peft_model(handle.model, config, adapter_name=name)
    handle.model.eval()


def add_adapter(handle: LoadedModel, name: str, *, rank: int = 8, alpha: float = 16.0,
                target_modules: Sequence[str] = ("q_proj", "v_proj"), dropout: float = 0.0,
                seed: int = 0, init: str = "identity") -> str:
    """Add a new LoRA adapter ``name`` to the shared model and return its name.

    ``init="identity"`` starts the adapted model equal to the base (``B = 0``, the usual LoRA start);
    ``init="random"`` also draws ``B``, so the new policy differs from the base from the start.
    ``A`` (and ``B``) come from a ``torch.Generator`` seeded with ``seed``, not from torch's global RNG:
    ``A ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (peft's default Kaiming bound), ``B ~ N(0, 1/rank)``.
    """
    from peft import LoraConfig

    _check_new_name(handle, name)
    if init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}, got {init!r}")
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(target_modules), lora_dropout=dropout,
                        task_type="CAUSAL_LM")
    _attach(handle, name, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, module in sorted(handle.model.named_modules(), key=lambda item: item[0]):
            lora_a = getattr(module, "lora_A", None)
            if lora_a is None or name not in lora_a:
                continue
            weight_a = lora_a[name].weight  # (rank, in_features)
            bound = 1.0 / weight_a.shape[1] ** 0.5
            weight_a.copy_((torch.rand(weight_a.shape, generator=generator) * 2 - 1) * bound)
            weight_b = module.lora_B[name].weight  # (out_features, rank)
            if init == "random":
                weight_b.copy_(torch.randn(weight_b.shape, generator=generator) / rank ** 0.5)
            else:
                weight_b.zero_()
    handle.adapters[name] = f"new:rank={rank},alpha={alpha},targets={','.join(target_modules)},seed={seed},init={init}"
    return name


def trainable_parameters(handle: LoadedModel, name: str) -> list[torch.nn.Parameter]:
    """The parameters of adapter ``name``, switched to ``requires_grad`` (for an optimizer).

    Gradients flow in eval mode too, so a trainer can keep dropout off and still score rows of
    several adapters in one batch; only the adapters whose parameters it optimizes change.
    """
    if name not in handle.adapters:
        raise ValueError(f"adapter {name!r} is not loaded; loaded adapters: {sorted(handle.adapters)}")
    handle.adapter_digests.pop(name, None)  # it may now be trained away from its files: never reuse it
    parameters = [parameter for key, parameter in handle.model.named_parameters()
                  if f".lora_A.{name}." in key or f".lora_B.{name}." in key]
    for parameter in parameters:
        parameter.requires_grad_(True)
    return parameters


def adapter_state(handle: LoadedModel, name: str) -> dict[str, torch.Tensor]:
    """The adapter's weights (peft's state-dict keys, without the adapter name)."""
    from peft import get_peft_model_state_dict

    if name not in handle.adapters:
        raise ValueError(f"adapter {name!r} is not loaded; loaded adapters: {sorted(handle.adapters)}")
    return get_peft_model_state_dict(handle.model, adapter_name=name)


def save_adapter(handle: LoadedModel, name: str, folder: str | Path) -> Path:
    """Write adapter ``name`` to ``folder`` as safetensors + JSON (each file written atomically)."""
    from safetensors.torch import save

    folder = Path(folder)
    state = {key: value.detach().to("cpu").contiguous() for key, value in adapter_state(handle, name).items()}
    config = handle.model.peft_config[name].to_dict()
    config = {key: sorted(value) if isinstance(value, set) else value for key, value in config.items()}
    atomic_write_bytes(folder / WEIGHTS_FILE, save(state))
    atomic_write_json(folder / CONFIG_FILE, config)
    atomic_write_json(folder / IDENTITY_FILE, {"name": name, "base": handle.identity})
    return folder


def adapter_digest(folder: str | Path) -> str:
    """One SHA-256 over an adapter folder's weights and peft config (what decides the policy)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for file_name in (WEIGHTS_FILE, CONFIG_FILE):
        digest.update(file_name.encode() + b"\0" + file_sha256(folder / file_name).encode() + b"\n")
    return digest.hexdigest()


def free_name(handle: LoadedModel, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``... the first that no loaded adapter uses."""
    candidate, number = name, 1
    while candidate in handle.adapters:
        number += 1
        candidate = f"{name}-{number}"
    return candidate


def load_adapter(handle: LoadedModel, folder: str | Path, name: str | None = None) -> str:
    """Load the adapter saved in ``folder`` and return the name it runs under on ``handle``.

    An adapter whose files (weights and config) are already loaded on ``handle`` is reused: its
    name comes back and nothing is loaded again, so two agents built from the same folder share it.
    Without ``name``, a new adapter gets the name it was saved with (or the folder's name), or
    ``NAME-2``, ``NAME-3``... when another adapter holds that name (two runs' ``adapters/policy``
    folders both say ``policy``). An explicit ``name`` that another adapter holds is refused. A folder
    saved on another base model (a different weights hash) is refused.
    """
    from peft import PeftConfig, PeftModel

    folder = Path(folder).expanduser().resolve()
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{str(folder)!r} is not an adapter folder (needs {WEIGHTS_FILE} and {CONFIG_FILE})")
    saved = json.loads((folder / IDENTITY_FILE).read_text()) if (folder / IDENTITY_FILE).is_file() else {}
    digest = adapter_digest(folder)
    # loaded from these files, or (trainers that just saved an adapter mark it so) held in memory as this folder
    same_files = sorted(loaded for loaded, source in handle.adapters.items()
                        if handle.adapter_digests.get(loaded) == digest
                        or (loaded not in handle.adapter_digests and source == str(folder)))
    if name is None and same_files:
        return same_files[0]
    if name is not None and name in same_files:
        return name
    base_sha = saved.get("base", {}).get("sha256")
    if base_sha and handle.identity.get("sha256") and base_sha != handle.identity["sha256"]:
        raise ValueError(
            f"adapter {str(folder)!r} was trained on base model {saved['base'].get('source')!r} "
            f"(sha256 {base_sha[:12]}...), not on the loaded {handle.identity.get('source')!r} "
            f"(sha256 {handle.identity['sha256'][:12]}...)"
        )
    if name is None:
        name = free_name(handle, saved.get("name") or folder.name)
    _check_new_name(handle, name)
    if handle.is_peft:
        handle.model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
    else:
        PeftConfig.from_pretrained(str(folder))  # a clear error for a broken config before we wrap the model
        with _peft_wrapping():
            handle.model = PeftModel.from_pretrained(handle.model, str(folder), adapter_name=name,
                                                     is_trainable=False)
    handle.model.eval()
    handle.adapters[name] = str(folder)
    handle.adapter_digests[name] = digest
    return name
