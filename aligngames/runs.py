"""Run folders: I/O that never loses what was recorded, and the manifest of how a run was made.

Lines are appended and flushed one at a time; whole files are written to a temporary file in the
same folder and moved into place with ``os.replace`` (atomic on POSIX), so a killed process leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def append_line(path: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line and flush it to disk."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(record, sort_keys=True) + "\n")
        file.flush()
        os.fsync(file.fileno())


def read_jsonl(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Read a JSON-lines file. A last line cut off by a kill is dropped (and, with ``repair``,
    removed from the file so that later appends start on a fresh line); a broken line anywhere
    else is an error."""
    path = Path(path)
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    records: list[dict[str, Any]] = []
    good_bytes = 0
    for number, line in enumerate(lines):
        is_last = number == len(lines) - 1
        if not line.strip():
            good_bytes += len(line) + (0 if is_last else 1)
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            if is_last:  # no newline after it: the process was killed while writing it
                log.warning("%s: dropping an incomplete last line (%d bytes)", path, len(line))
                if repair:
                    with open(path, "r+b") as file:
                        file.truncate(good_bytes)
                break
            raise ValueError(f"{path}:{number + 1}: not valid JSON ({error}); the file is damaged") from error
        good_bytes += len(line) + (0 if is_last else 1)
        if is_last and repair:  # complete JSON but no trailing newline: add it
            with open(path, "ab") as file:
                file.write(b"\n")
    return records


# --- the manifest: seed, versions, git commit, command ----------------------------------------------

PACKAGES = ("aligngames", "numpy", "scipy", "torch", "transformers", "peft", "gymnasium", "pettingzoo",
            "open_spiel", "pref_voting", "networkx")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict[str, Any] | None:
    """The commit of the aligngames source tree, if it is a git checkout (with a dirty flag)."""
    source = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(source), "status", "--porcelain"], capture_output=True,
                                text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def build_manifest(seed: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "command": sys.argv,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "git": git_commit(),
        **(extra or {}),
    }
