"""Checkpoints of training runs, without pickles: tensors in safetensors, everything else in JSON.

A run keeps its checkpoints under ``RUN/checkpoints/``::

    step_000012/          one folder per checkpoint, filled under a temporary name and renamed into place
        state.json        step counters, optimiser hyper-parameters, numpy generator state, run data
        tensors.safetensors   optimiser moments, torch generator states
        adapters/NAME/    LoRA adapters (``aligngames.agents.llm.lora.save_adapter``)
    latest.json           {"step": 12, "folder": "step_000012"}, replaced atomically after the folder is complete

A killed process leaves ``latest.json`` pointing at the last complete folder, so a rerun resumes from
there. Older folders are removed once a newer one is in place (``keep`` of them stay).

What is stored and how:

- optimiser state (``torch.optim.Optimizer.state_dict()``): every tensor under ``optimizer.<param>.<name>``
  in safetensors, every other value and the parameter groups in JSON (:func:`optimizer_state`);
- numpy generators: ``bit_generator.state`` as JSON (:func:`numpy_generator_state`);
- torch generators: ``get_state()`` (a uint8 tensor) in safetensors (:func:`torch_generator_states`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aligngames.runs import atomic_write_bytes, atomic_write_json

LATEST_FILE = "latest.json"
STATE_FILE = "state.json"
TENSORS_FILE = "tensors.safetensors"


# --- optimiser and generator state -----------------------------------------------------------------

def optimizer_state(optimizer: torch.optim.Optimizer, prefix: str = "optimizer") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, json_data)`` that :func:`load_optimizer_state` turns back into the optimiser's state."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    groups = [{key: list(value) if isinstance(value, tuple) else value for key, value in group.items()}
              for group in state_dict["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars, "prefix": prefix,
                     "indices": sorted({int(index) for index in state_dict["state"]})}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor],
                         data: Mapping[str, Any]) -> None:
    """Restore what :func:`optimizer_state` saved into ``optimizer`` (built over the same parameters)."""
    prefix = data["prefix"]
    state: dict[int, dict[str, Any]] = {index: dict(data["scalars"].get(str(index), {})) for index in data["indices"]}
    for key, value in tensors.items():
        if not key.startswith(prefix + "."):
            continue
        index, name = key[len(prefix) + 1:].split(".", 1)
        state.setdefault(int(index), {})[name] = value
    groups = [{key: tuple(value) if key == "betas" else value for key, value in group.items()}
              for group in data["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def numpy_generator_state(generator: np.random.Generator) -> dict[str, Any]:
    """The bit generator's state as JSON-ready data (Python ints of any size)."""
    return json.loads(json.dumps(generator.bit_generator.state))


def restore_numpy_generator(data: Mapping[str, Any]) -> np.random.Generator:
    bit_generator = getattr(np.random, data["bit_generator"])()
    bit_generator.state = dict(data)
    return np.random.Generator(bit_generator)


def torch_generator_states(generators: Mapping[str, torch.Generator], prefix: str = "generator") -> dict[str, torch.Tensor]:
    return {f"{prefix}.{name}": generator.get_state() for name, generator in generators.items()}


def restore_torch_generators(generators: Mapping[str, torch.Generator], tensors: Mapping[str, torch.Tensor],
                             prefix: str = "generator") -> None:
    for name, generator in generators.items():
        generator.set_state(tensors[f"{prefix}.{name}"])


def save_tensors(path: str | Path, tensors: Mapping[str, torch.Tensor]) -> None:
    from safetensors.torch import save

    atomic_write_bytes(path, save({key: value.detach().to("cpu").contiguous() for key, value in tensors.items()}))


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    return load(Path(path).read_bytes())


# --- checkpoint folders ------------------------------------------------------------------------------

def step_folder_name(step: int) -> str:
    return f"step_{step:06d}"


def write_checkpoint(root: str | Path, step: int, fill: Callable[[Path], None], *, keep: int = 2) -> Path:
    """Write checkpoint ``step`` under ``root``: ``fill(folder)`` writes the files into a fresh folder,
    which is then renamed into place and recorded in ``latest.json``. Returns the final folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_folder_name(step)
    temporary = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        fill(temporary)
        if final.exists():  # a rerun of a step whose checkpoint was written but not yet recorded
            shutil.rmtree(final)
        os.replace(temporary, final)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    atomic_write_json(root / LATEST_FILE, {"step": step, "folder": final.name})
    folders = sorted(path for path in root.glob("step_*") if path.is_dir())
    for old in folders[:-keep] if keep > 0 else []:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(root: str | Path) -> tuple[int, Path] | None:
    """``(step, folder)`` of the newest complete checkpoint under ``root``, or ``None``."""
    path = Path(root) / LATEST_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    folder = Path(root) / data["folder"]
    if not folder.is_dir():
        raise FileNotFoundError(f"{path} points at {folder}, which is missing; the checkpoint folder is damaged")
    return int(data["step"]), folder


__all__ = [
    "LATEST_FILE", "STATE_FILE", "TENSORS_FILE", "latest_checkpoint", "load_optimizer_state", "load_tensors",
    "numpy_generator_state", "optimizer_state", "restore_numpy_generator", "restore_torch_generators",
    "save_tensors", "step_folder_name", "torch_generator_states", "write_checkpoint",
]
