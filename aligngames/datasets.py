"""Data sets that ship with the package (written for aligngames; JSON under ``aligngames/data``)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

try:  # optional: only for datasets saved with Hugging Face ``datasets``' ``save_to_disk``
    import pyarrow
    import pyarrow.ipc
except ImportError:  # pragma: no cover - depends on the environment
    pyarrow = None


def load_json(name: str) -> dict:
    """Read ``aligngames/data/NAME`` (a packaged JSON file)."""
    with resources.files("aligngames").joinpath("data", name).open(encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True)
class PromptItem:
    """A prompt of the preference game with the parts a scripted answerer assembles.

    Attributes:
        id: a stable short name.
        prompt: the user's question.
        core: a one-sentence direct answer.
        elaboration: why, and more detail.
        example: a concrete example.
        caveat: a warning or limitation.
    """

    id: str
    prompt: str
    core: str
    elaboration: str
    example: str
    caveat: str


@functools.cache
def preference_prompts() -> tuple[PromptItem, ...]:
    """The prompt set of ``preference_game_v0`` language mode, in a fixed order."""
    return tuple(PromptItem(**item) for item in load_json("preference_prompts.json")["prompts"])


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a folder written by Hugging Face ``datasets``' ``save_to_disk``."""
    return path.is_dir() and any((path / name).is_file() for name in ("dataset_info.json", "state.json", "dataset_dict.json"))


def read_json_lines(path: Path, *, error: type[ValueError] = ValueError) -> list[tuple[str, Any]]:
    """The non-blank lines of a JSON-lines file, parsed, each with where it came from (``FILE: line N``); a line
    that is not JSON raises ``error`` naming it."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            records.append((where, json.loads(line)))
        except json.JSONDecodeError as failure:
            raise error(f"{where}: not valid JSON ({failure.msg})") from None
    return records


def read_records(path: Path, *, error: type[ValueError], export_as: str, missing: str) -> list[tuple[str, Any]]:
    """The records of a JSON-lines file (:func:`read_json_lines`) or of a folder saved with ``save_to_disk``
    (:func:`read_saved_dataset`), each with where it came from; ``missing`` is the message when it is neither."""
    if is_saved_dataset(path):
        return read_saved_dataset(path, error=error, export_as=export_as)
    if path.is_file():
        return read_json_lines(path, error=error)
    raise error(missing)


def read_saved_dataset(folder: Path, *, error: type[ValueError] = ValueError,
                       export_as: str = "data.jsonl") -> list[tuple[str, Any]]:
    """The rows of a dataset saved with ``datasets.Dataset.save_to_disk``, each with where it came from.

    ``datasets`` is not a dependency: the Arrow files are read with ``pyarrow`` when it is installed; without
    it the error says how to export the dataset to JSON lines instead. A ``DatasetDict`` folder is refused
    with the paths of its splits.
    """
    if (folder / "dataset_dict.json").is_file():
        splits = sorted(child.name for child in folder.iterdir() if child.is_dir())
        raise error(f"{folder} holds a DatasetDict; give one split's folder, one of "
                    f"{[str(folder / split) for split in splits]}")
    if pyarrow is None:
        raise error(f"{folder} is a dataset saved with save_to_disk, and reading it needs pyarrow, which is not "
                    f"installed; pip install pyarrow, or export it to JSON lines: "
                    f"datasets.load_from_disk({str(folder)!r}).to_json({export_as!r})")
    state_file = folder / "state.json"
    files = []
    if state_file.is_file():
        state = json.loads(state_file.read_text(encoding="utf-8"))
        files = [folder / item["filename"] for item in state.get("_data_files", [])]
    if not files:
        files = sorted(folder.glob("*.arrow"))
    if not files:
        raise error(f"{folder}: no .arrow data files found")
    records: list[tuple[str, Any]] = []
    for file in files:
        with pyarrow.memory_map(str(file)) as source:
            try:  # save_to_disk writes the Arrow streaming format; accept the file format too
                table = pyarrow.ipc.open_stream(source).read_all()
            except pyarrow.ArrowInvalid:
                source.seek(0)
                table = pyarrow.ipc.open_file(source).read_all()
        offset = len(records)
        records.extend((f"{file}: row {offset + number}", row) for number, row in enumerate(table.to_pylist(), start=1))
    return records


def read_prompts(prompts, *, what: str = "prompts") -> tuple[str, ...]:
    """Prompts given as a list of strings or as the path of a file of them.

    A file is read by its suffix: ``.txt`` (one prompt per non-empty line), ``.jsonl`` (one JSON string,
    or an object with a ``"prompt"`` key, per line) or ``.json`` (a list of such). A string that is not
    an existing file is refused: one prompt goes in a list (``prompts=["Is tea better than coffee?"]``). A
    folder saved with Hugging Face ``datasets``' ``save_to_disk`` is read by its ``prompt`` column
    (:func:`read_saved_dataset`; needs ``pyarrow``).
    """
    if isinstance(prompts, str | Path) and is_saved_dataset(Path(prompts)):
        rows = read_saved_dataset(Path(prompts), export_as="prompts.jsonl")
        missing = [where for where, row in rows if not isinstance(row, dict) or "prompt" not in row]
        if missing:
            raise ValueError(f"{what}: {missing[0]} has no 'prompt' column")
        items, source = [row["prompt"] for _, row in rows], str(prompts)
    elif isinstance(prompts, str | Path):
        path = Path(prompts)
        if not path.is_file():
            raise ValueError(f"{what}: {str(prompts)!r} is not a file; give a list of prompts (one prompt goes in "
                             f"a list: [\"...\"]) or the path of a .txt, .jsonl or .json file")
        if path.suffix == ".txt":
            items = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        elif path.suffix in (".jsonl", ".json"):
            try:
                text = path.read_text(encoding="utf-8")
                items = ([json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl"
                         else json.loads(text))
            except json.JSONDecodeError as error:
                raise ValueError(f"{what}: {path} is not valid JSON ({error.msg}, line {error.lineno})") from None
            if not isinstance(items, list):
                raise ValueError(f"{what}: {path} must hold a JSON list of prompts")
            items = [item.get("prompt") if isinstance(item, dict) else item for item in items]
        else:
            raise ValueError(f"{what}: {path} has suffix {path.suffix!r}; use .txt, .jsonl or .json")
        source = str(path)
    else:
        items, source = list(prompts), "the list"
    bad = [item for item in items if not isinstance(item, str) or not item.strip()]
    if bad:
        raise ValueError(f"{what}: every prompt must be a non-empty string; {source} has {bad[0]!r}")
    if not items:
        raise ValueError(f"{what}: {source} has no prompts")
    return tuple(items)
