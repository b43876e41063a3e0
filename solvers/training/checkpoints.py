"""Checkpoints of training runs, without pickles: tensors in safetensors, everything else in JSON.

A run keeps its checkpoints under ``RUN/checkpoints/``::

    step_000012/          one folder per checkpoint, filled under a temporary name and renamed into place
        state.json        step counters, optimiser hyper-parameters, numpy generator state, run data
        tensors.safetensors   optimiser moments, torch generator states
        adapters/NAME/    LoRA adapters (``aligngames.agents.llm.lora.save_adapter``)
        checkpoint.json   the sha256 of every file above, and a mark of each JSON-lines record of the run
                          (``metrics.jsonl``: its length, digest and the lines since the previous checkpoint)
    latest.json           {"step": 12, "folder": "step_000012"}, replaced atomically after the folder is complete

A killed process leaves the newest ``step_*`` folder complete (folders are renamed into place), so a
rerun resumes from there, after checking every file against ``checkpoint.json``: a damaged file is one
:class:`CheckpointError` line naming it and what to do. The records are put back to what the checkpoint
marked (lines written after it are redone; lines it marked that were lost are written again from it).
Older folders are removed once a newer one is in place (``keep`` of them stay).

What is stored and how:

- optimiser state (``torch.optim.Optimizer.state_dict()``): every tensor under ``optimizer.<param>.<name>``
  in safetensors, every other value and the parameter groups in JSON (:func:`optimizer_state`);
- numpy generators: ``bit_generator.state`` as JSON (:func:`numpy_generator_state`);
- torch generators: ``get_state()`` (a uint8 tensor) in safetensors (:func:`torch_generator_states`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aligngames import runs
from aligngames.agents.llm import lora
from aligngames.runs import (
    FRESH_START,
    DamagedFileError,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_digests,
    folder_digests,
    mark_lines,
    read_json_file,
    read_jsonl,
    read_sealed_json,
    write_sealed_json,
)

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.json"
LATEST_FILE = "latest.json"
STATE_FILE = "state.json"
TENSORS_FILE = "tensors.safetensors"
#: A LoRA adapter's weights in the checkpoint of a policy-gradient run (:func:`save_adapter_run`).
ADAPTER_FILE = "adapter.safetensors"


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
    """The tensors of a safetensors file; a damaged file is a :class:`CheckpointError` naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; delete {path.parent} or {FRESH_START}") from None
    try:
        return load(data)
    except (SafetensorError, ValueError) as error:  # zeroed or cut short: a header that does not parse
        raise CheckpointError(f"{path} is damaged (not a readable safetensors file: {error}); delete the checkpoint "
                              f"that holds it, or {FRESH_START}") from None


def save_adapter_run(folder: str | Path, handle, adapter: str, trainer, rng: np.random.Generator,
                     **state: Any) -> None:
    """Fill a checkpoint folder of a LoRA policy-gradient run (safe_rlhf, pareto_preference, aligner): the adapter's
    weights, the trainer's optimiser (``trainer.state()``), the numpy seed stream and ``state`` (JSON values)."""
    folder = Path(folder)
    save_tensors(folder / ADAPTER_FILE, lora.adapter_state(handle, adapter))
    tensors, optimizer = trainer.state()
    save_tensors(folder / TENSORS_FILE, tensors)
    atomic_write_json(folder / STATE_FILE, {**state, "optimizer": optimizer, "numpy_generator": numpy_generator_state(rng)})


def load_adapter_run(folder: str | Path, handle, adapter: str, trainer,
                     keys: tuple[str, ...] = ()) -> tuple[np.random.Generator, dict[str, Any]]:
    """Restore what :func:`save_adapter_run` wrote into ``handle``'s adapter and ``trainer``; return the seed stream
    and the state (``keys``: the extra entries it must have)."""
    from peft import set_peft_model_state_dict

    folder = Path(folder)
    state = read_json_file(folder / STATE_FILE, keys=(*keys, "optimizer", "numpy_generator"),
                           remedy=f"delete {folder} to resume from the checkpoint before it, or choose a new --out")
    set_peft_model_state_dict(handle.model, load_tensors(folder / ADAPTER_FILE), adapter_name=adapter)
    trainer.load_state(load_tensors(folder / TENSORS_FILE), state["optimizer"])
    return restore_numpy_generator(state["numpy_generator"]), state


# --- checkpoint folders ------------------------------------------------------------------------------

def step_folder_name(step: int) -> str:
    return f"step_{step:06d}"


class CheckpointError(DamagedFileError):
    """A checkpoint cannot be used: a file of it is missing, cut short or differs from its recorded digest.
    The message is one line naming the file and what to do (delete the checkpoint, or start afresh)."""


def _remedy(root: Path, folder: Path) -> str:
    previous = [path for path in _step_folders(root) if path.name < folder.name]
    back = (f"to resume from the previous checkpoint ({previous[-1].name})" if previous
            else "to start the training again from step 0")
    return f"delete {folder} {back}, or {FRESH_START}"


def _step_folders(root: Path) -> list[Path]:
    """The complete checkpoint folders (those moved into place), oldest first."""
    return sorted(path for path in root.glob("step_*") if path.is_dir() and not path.name.endswith(".tmp"))


def read_record(folder: str | Path) -> dict[str, Any] | None:
    """The ``checkpoint.json`` of a checkpoint folder (``None`` for a folder written before there was one)."""
    folder = Path(folder)
    path = folder / CHECKPOINT_FILE
    if not path.exists():
        return None
    with _as_checkpoint_error():
        return read_sealed_json(path, keys=("step", "files", "lines"), remedy=_remedy(folder.parent, folder))


@contextlib.contextmanager
def _as_checkpoint_error():
    try:
        yield
    except CheckpointError:
        raise
    except DamagedFileError as error:
        raise CheckpointError(str(error)) from None


def write_checkpoint(root: str | Path, step: int, fill: Callable[[Path], None], *, keep: int = 2,
                     lines: Mapping[str, str | Path] | None = None) -> Path:
    """Write checkpoint ``step`` under ``root``: ``fill(folder)`` writes the files into a fresh folder; the
    sha256 of each file and a mark of each JSON-lines file of ``lines`` (``{name: path}``, see
    :func:`aligngames.runs.mark_lines`) go into its ``checkpoint.json``; the folder is then renamed into
    place and recorded in ``latest.json``. Returns the final folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_folder_name(step)
    found = _step_folders(root)
    previous_marks: dict[str, Any] = {}
    if found and found[-1].name < final.name:
        try:
            previous_marks = (read_record(found[-1]) or {}).get("lines", {})
        except DamagedFileError:
            previous_marks = {}  # a mark without a previous one keeps the whole file
    temporary = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        fill(temporary)
        record = {"step": step, "files": folder_digests(temporary),
                  "lines": {name: mark_lines(path, previous_marks.get(name)) for name, path in (lines or {}).items()}}
        write_sealed_json(temporary / CHECKPOINT_FILE, record)
        if final.exists():  # a rerun of a step whose checkpoint was written but not yet recorded
            shutil.rmtree(final)
        os.replace(temporary, final)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    atomic_write_json(root / LATEST_FILE, {"step": step, "folder": final.name})
    folders = _step_folders(root)
    for old in folders[:-keep] if keep > 0 else []:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(root: str | Path) -> tuple[int, Path] | None:
    """``(step, folder)`` of the newest checkpoint under ``root`` after checking every file of it against
    the digests in its ``checkpoint.json`` (:class:`CheckpointError` names a damaged one), or ``None``.

    The newest ``step_*`` folder is the latest checkpoint: folders are filled under a temporary name and
    renamed into place, so each one there is complete. ``latest.json`` only points at it for people and
    tools; a damaged or stale one is rewritten by the next checkpoint.
    """
    root = Path(root)
    folders = _step_folders(root)
    if not folders:
        return None
    folder = folders[-1]
    record = read_record(folder)
    if record is None:  # written by an older aligngames: no digests to check
        step = int(folder.name.split("_", 1)[1])
    else:
        step = int(record["step"])
        with _as_checkpoint_error():
            check_digests(folder, record["files"], shown=folder, remedy=_remedy(root, folder))
    pointer = root / LATEST_FILE
    try:
        stale = json.loads(pointer.read_text()).get("folder") != folder.name
    except (OSError, ValueError, AttributeError):
        stale = True
    if stale:
        log.warning("%s does not point at %s, the newest checkpoint; resuming from that one", pointer, folder.name)
    return step, folder


def restore_lines(folder: str | Path, files: Mapping[str, str | Path], *, keep_later: bool = False) -> None:
    """Put each JSON-lines file of ``files`` (``{name: path}``) back to what checkpoint ``folder`` recorded
    (see :func:`aligngames.runs.restore_lines`); files the checkpoint has no mark of are left alone."""
    folder = Path(folder)
    record = read_record(folder)
    if record is None:
        return
    for name, path in files.items():
        mark = record["lines"].get(name)
        if mark is not None:
            runs.restore_lines(path, mark, shown=path, keep_later=keep_later,
                               remedy=f"restore it, or {_remedy(folder.parent, folder)}")


def resume_metrics(found: tuple[int, Path] | None, metrics_path: Path) -> tuple[int, list[dict[str, Any]]]:
    """The step a per-step run starts from and its metrics lines so far: with ``found`` (what
    :func:`latest_checkpoint` returned) the metrics file is put back to the lines the checkpoint marked under its
    file name and cut to the steps it covers (later lines are redone); without, the run starts afresh with an empty
    file. The file is rewritten either way, so appending the next step's line continues it."""
    start, lines = 0, []
    if found is not None:
        start, folder = found
        restore_lines(folder, {metrics_path.name: metrics_path})
        lines = [line for line in read_jsonl(metrics_path, repair=True) if line["step"] <= start]
    atomic_write_text(metrics_path, "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))
    return start, lines


__all__ = [
    "ADAPTER_FILE",
    "CHECKPOINT_FILE",
    "LATEST_FILE",
    "STATE_FILE",
    "TENSORS_FILE",
    "CheckpointError",
    "latest_checkpoint",
    "load_adapter_run",
    "load_optimizer_state",
    "load_tensors",
    "numpy_generator_state",
    "optimizer_state",
    "read_record",
    "restore_lines",
    "restore_numpy_generator",
    "restore_torch_generators",
    "resume_metrics",
    "save_adapter_run",
    "save_tensors",
    "step_folder_name",
    "torch_generator_states",
    "write_checkpoint",
]
