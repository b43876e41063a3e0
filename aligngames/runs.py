"""Run folders: I/O that never loses what was recorded, and the manifest of how a run was made.

Lines are appended and flushed one at a time; whole files are written to a temporary file in the
same folder and moved into place with ``os.replace`` (atomic on POSIX), so a killed process leaves
either the old file or the new one, never half of one.

:class:`RunFolder` is the one writer of a run's ``config.yaml`` and ``manifest.json``. Opening one
takes an exclusive lock for the run's life, refuses a folder made by another command or holding a
different config (naming the settings that differ), notices a ``config.yaml`` edited after the run
started, and records the seed, the versions and the resolved config's digest::

    with RunFolder.open(out, command="tournament", config=mapping, seed=0) as run:
        run.append("matches.jsonl", {"match": 0, ...})
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from aligngames.config import ConfigError

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
            raise DamagedFileError(f"{path} is damaged (line {number + 1} is not valid JSON: {error.msg}); restore "
                                   f"it, or {FRESH_START}") from None
        good_bytes += len(line) + (0 if is_last else 1)
        if is_last and repair:  # complete JSON but no trailing newline: add it
            with open(path, "ab") as file:
                file.write(b"\n")
    return records


# --- digests of the files a run depends on ----------------------------------------------------------

class RunFolderError(ConfigError):
    """A run folder cannot be used as asked; the message names the folder, the file and the way out."""


class DamagedFileError(RunFolderError):
    """A file a run depends on (a checkpoint, a record, a transcript) is missing, cut short or changed
    since it was written; the message is one line naming the file, what is wrong and what to do."""


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_digests(folder: str | Path, *, exclude: Collection[str] = ()) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder`` (``exclude``: relative paths to leave out)."""
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): file_sha256(path) for path in sorted(folder.rglob("*"))
            if path.is_file() and path.relative_to(folder).as_posix() not in exclude}


def check_digests(folder: str | Path, digests: Mapping[str, str], *, shown: str | Path, remedy: str) -> None:
    """Refuse (:class:`DamagedFileError`) a file of ``digests`` that is missing under ``folder`` or whose
    sha256 differs; ``shown`` is how the message names ``folder``, ``remedy`` what the user should do."""
    for name, expected in digests.items():
        path = Path(folder) / name
        if not path.is_file():
            raise DamagedFileError(f"{Path(shown) / name} is missing (it is listed with its digest); {remedy}")
        if file_sha256(path) != expected:
            raise DamagedFileError(f"{Path(shown) / name} is damaged (its sha256 differs from the one recorded "
                                   f"when it was written); {remedy}")


def read_json_file(path: str | Path, *, keys: Collection[str] = (), shown: str | Path | None = None,
                   remedy: str) -> dict[str, Any]:
    """A JSON object from ``path`` with at least ``keys``; anything else (missing, empty, cut short, not an
    object, a key missing) is one :class:`DamagedFileError` line naming the file and ``remedy``."""
    path = Path(path)
    shown = Path(shown) if shown is not None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DamagedFileError(f"{shown} is missing; {remedy}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedFileError(f"{shown} cannot be read ({error}); {remedy}") from None
    if not text.strip():
        raise DamagedFileError(f"{shown} is damaged (empty); {remedy}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DamagedFileError(f"{shown} is damaged (not valid JSON: {error.msg} at line {error.lineno}, "
                               f"probably cut short); {remedy}") from None
    if not isinstance(data, dict):
        raise DamagedFileError(f"{shown} is damaged (not a JSON object); {remedy}")
    missing = [key for key in keys if key not in data]
    if missing:
        raise DamagedFileError(f"{shown} is damaged (key {missing[0]!r} is missing); {remedy}")
    return data


def _sealed(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in data.items() if k != "sha256"}, sort_keys=True)
                          .encode("utf-8")).hexdigest()


def write_sealed_json(path: str | Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` atomically with its own digest under ``"sha256"`` (checked by :func:`read_sealed_json`)."""
    atomic_write_json(path, {**data, "sha256": _sealed(data)})


def read_sealed_json(path: str | Path, *, keys: Collection[str] = (), shown: str | Path | None = None,
                     remedy: str) -> dict[str, Any]:
    """:func:`read_json_file`, and a file written by :func:`write_sealed_json` must match its digest
    (a file without one, from an older aligngames, is read as it is)."""
    data = read_json_file(path, keys=keys, shown=shown, remedy=remedy)
    if "sha256" in data and data["sha256"] != _sealed(data):
        raise DamagedFileError(f"{shown if shown is not None else path} is damaged (its content does not match "
                               f"the digest written with it); {remedy}")
    data.pop("sha256", None)
    return data


def mark_lines(path: str | Path, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a checkpoint records of a JSON-lines file: its length and digest now, and the lines added
    since the ``previous`` mark (with that mark's length and digest), so that :func:`restore_lines` can
    put back exactly these bytes even when the last of them was cut off or lost."""
    path = Path(path)
    data = path.read_bytes() if path.is_file() else b""
    start = int(previous["bytes"]) if previous is not None else 0
    if start > len(data) or hashlib.sha256(data[:start]).hexdigest() != (
            previous["sha256"] if previous is not None else hashlib.sha256(b"").hexdigest()):
        start = 0  # the file was rewritten since the previous mark: keep all of it
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "tail_from": start,
            "tail_from_sha256": hashlib.sha256(data[:start]).hexdigest(), "tail": data[start:].decode("utf-8")}


def restore_lines(path: str | Path, mark: Mapping[str, Any], *, shown: str | Path, remedy: str,
                  keep_later: bool = False) -> None:
    """Make ``path`` start with exactly the bytes ``mark`` (from :func:`mark_lines`) recorded.

    Lines after the mark are removed (they belong to work after the checkpoint, which is redone),
    or, with ``keep_later``, kept when they are intact (a cache of results that do not depend on
    when they were computed). Lines the mark recorded that were lost or cut short are written again
    from the mark; damage before them is a :class:`DamagedFileError`.
    """
    path = Path(path)
    data = path.read_bytes() if path.is_file() else b""
    size, start = int(mark["bytes"]), int(mark["tail_from"])
    if len(data) >= size and hashlib.sha256(data[:size]).hexdigest() == mark["sha256"]:
        if len(data) > size and not keep_later:
            with open(path, "r+b") as file:
                file.truncate(size)
        return
    if len(data) < start or hashlib.sha256(data[:start]).hexdigest() != mark["tail_from_sha256"]:
        what = "shorter than" if len(data) < start else "different from"
        raise DamagedFileError(f"{shown} is damaged (its first {start} bytes are {what} what the checkpoint "
                               f"recorded); {remedy}")
    restored = data[:start] + str(mark["tail"]).encode("utf-8")
    if hashlib.sha256(restored).hexdigest() != mark["sha256"]:
        raise DamagedFileError(f"{shown}: the checkpoint's record of it is inconsistent; {remedy}")
    log.warning("%s: the lines after byte %d were damaged; rewritten from the checkpoint", shown, start)
    atomic_write_bytes(path, restored)


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


# --- one writer per run folder ------------------------------------------------------------------------

CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"
#: Where a run's judge calls are recorded (:mod:`aligngames.judges.recording`); the recording may start before
#: the run folder's own files are written.
JUDGE_CALLS_FOLDER = "judge_calls"


#: Inside :func:`force_new_runs`: the run folders already started afresh there (each only once).
_FORCE_NEW: contextvars.ContextVar[set[Path] | None] = contextvars.ContextVar("aligngames_force_new", default=None)


@contextlib.contextmanager
def force_new_runs(enabled: bool = True) -> Iterator[None]:
    """Within the block, :meth:`RunFolder.open` starts each run folder afresh once, as with
    ``force_new=True`` (the CLI's ``--force-new`` wraps a command in it, so no command passes the flag
    down itself; a folder the command opens again later in the block is resumed, not moved aside)."""
    token = _FORCE_NEW.set(set() if enabled else None)
    try:
        yield
    finally:
        _FORCE_NEW.reset(token)


def forcing_new() -> bool:
    """Whether runs opened now start afresh (inside :func:`force_new_runs`)."""
    return _FORCE_NEW.get() is not None


def _start_afresh(path: Path, force_new: bool | None) -> bool:
    if force_new is not None:
        return force_new
    started = _FORCE_NEW.get()
    if started is None or path.resolve() in started:
        return False
    started.add(path.resolve())
    return True


def _replaced_name(path: Path) -> Path:
    for number in range(1, 10_000):
        candidate = path.with_name(f"{path.name}.replaced-{number}")
        if not candidate.exists():
            return candidate
    raise RunFolderError(f"{path}: too many {path.name}.replaced-N folders next to it; delete some")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping) and data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: data}


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any],
                       may_differ: Collection[str] = ()) -> list[str]:
    """Dotted keys (``settings.episodes``) whose values differ, except those in ``may_differ``
    (a key there also covers everything below it)."""
    old, new = _flatten(stored), _flatten(current)

    def exempt(key: str) -> bool:
        return any(key == allowed or key.startswith(f"{allowed}.") for allowed in may_differ)

    return sorted(key for key in set(old) | set(new) if not exempt(key) and old.get(key) != new.get(key))


FRESH_START = "start afresh with --force-new (the old folder is moved aside)"


def _read_manifest(path: Path) -> dict[str, Any]:
    return read_json_file(path, remedy=f"the run cannot be checked: restore the file, or {FRESH_START}")


class RunFolder:
    """An open run folder (see the module docstring); create it with :meth:`open`."""

    def __init__(self, path: Path, lock: Any, manifest: dict[str, Any], resumed: bool) -> None:
        self.path = path
        self.resumed = resumed
        self.manifest = manifest
        self._lock = lock

    @classmethod
    def open(cls, path: str | Path, *, command: str, config: Mapping[str, Any], seed: int,
             may_differ: Collection[str] = (), manifest: Mapping[str, Any] | None = None,
             force_new: bool | None = None) -> RunFolder:
        """Create or resume the run folder ``path`` for ``command`` (``"tournament"``, ``"solve psro"``).

        Args:
            config: the resolved config as plain data; it is written to ``config.yaml``.
            seed: the run's seed, recorded in the manifest.
            may_differ: dotted config keys a resumed run may change (how long or where it runs,
                e.g. ``settings.iterations``, ``backend``); any other difference is refused.
            manifest: extra manifest entries (more can be added with :meth:`update_manifest`).
            force_new: start afresh: an existing run folder at ``path`` (one holding a
                ``manifest.json``, ``config.yaml`` or lock, damaged or not) is renamed to
                ``PATH.replaced-N`` (nothing is deleted) and a new run starts in an empty ``path``.
                ``None``: as :func:`force_new_runs` says (the CLI's ``--force-new``), else ``False``.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"{path} is a file, not a run folder; choose a folder for the run")
        current = yaml.safe_load(yaml.safe_dump(dict(config), sort_keys=False))
        if _start_afresh(path, force_new) and path.is_dir() and any(path.iterdir()):
            cls._move_aside(path)
        cls._check_existing(path, command, current, may_differ)  # before anything is written
        path.mkdir(parents=True, exist_ok=True)
        lock = cls._lock(path)
        try:
            stored = cls._check_existing(path, command, current, may_differ)  # again, now that it is ours
            for leftover in path.rglob(".*.tmp"):  # an atomic write a kill interrupted (no other writer: we hold the lock)
                leftover.unlink()
            config_text = yaml.safe_dump(current, sort_keys=False)
            atomic_write_text(path / CONFIG_FILE, config_text)
            record = build_manifest(seed, extra={"run_command": command, **(manifest or {})})
            record["config_sha256"] = hashlib.sha256(config_text.encode("utf-8")).hexdigest()
            if stored is not None:
                record["resumed_from"] = [*stored.get("resumed_from", []), stored.get("created")]
            atomic_write_json(path / MANIFEST_FILE, record)
        except BaseException:
            lock.close()
            raise
        return cls(path, lock, record, resumed=stored is not None)

    @staticmethod
    def _check_existing(path: Path, command: str, current: Mapping[str, Any],
                        may_differ: Collection[str]) -> dict[str, Any] | None:
        """The stored manifest of a run to resume (None for a new run); refuse what cannot be resumed."""
        if not path.is_dir():
            return None
        contents = {entry.name for entry in path.iterdir()} - {LOCK_FILE, JUDGE_CALLS_FOLDER}
        manifest_path, config_path = path / MANIFEST_FILE, path / CONFIG_FILE
        if not manifest_path.exists():
            if CONFIG_FILE in contents and contents - {CONFIG_FILE}:  # a run folder whose manifest was deleted
                raise RunFolderError(f"{manifest_path} is missing, so the run cannot be checked before it resumes; "
                                     f"restore it, or {FRESH_START}")
            if contents - {CONFIG_FILE}:
                raise RunFolderError(f"{path} exists and is not an aligngames run folder (no {MANIFEST_FILE}); "
                                     f"choose a new folder or an empty one")
            return None  # empty, or a start that stopped before it recorded anything
        stored = _read_manifest(manifest_path)
        made_by = stored.get("run_command")
        if made_by is not None and made_by != command:
            raise RunFolderError(f"{path} holds a run of `aligngames {made_by}`; `aligngames {command}` does not "
                                 f"write into it: choose another folder")
        if not config_path.exists():
            raise RunFolderError(f"{config_path} is missing, so the run cannot be checked before it resumes; "
                                 f"restore it, or {FRESH_START}")
        text = config_path.read_text(encoding="utf-8")
        digest = stored.get("config_sha256")
        if digest is not None and hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            raise RunFolderError(f"{config_path} was changed after the run started (its digest is not the one in "
                                 f"{MANIFEST_FILE}); restore it, or {FRESH_START}")
        try:
            old = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise RunFolderError(f"{config_path}: not valid YAML ({error}); restore it or use another folder") from error
        differing = config_differences(old if isinstance(old, dict) else {}, current, may_differ)
        if differing:
            old_flat, new_flat = _flatten(old or {}), _flatten(current)
            shown = "; ".join(f"{key}: {old_flat.get(key, '(unset)')!r} there, {new_flat.get(key, '(unset)')!r} now"
                              for key in differing[:5])
            more = f" (and {len(differing) - 5} more)" if len(differing) > 5 else ""
            raise RunFolderError(f"{path} holds a run with a different config ({shown}{more}); resume it with the "
                                 f"same config, choose a new folder, or {FRESH_START}")
        return stored

    @classmethod
    def _move_aside(cls, path: Path) -> Path:
        """Rename the run folder ``path`` to ``PATH.replaced-N`` (refused while another process holds it)."""
        names = {entry.name for entry in path.iterdir()}
        if not names & {MANIFEST_FILE, CONFIG_FILE, LOCK_FILE}:
            raise RunFolderError(f"{path} is not an aligngames run folder (no {MANIFEST_FILE} or {CONFIG_FILE}), so "
                                 f"--force-new does not move it aside; choose a new folder or an empty one")
        lock = cls._lock(path)  # refuses a folder in use, naming the process
        try:
            target = _replaced_name(path)
            os.replace(path, target)
        finally:
            lock.close()
        log.warning("%s: the previous run was moved to %s (--force-new)", path, target)
        return target

    @staticmethod
    def _lock(path: Path):
        lock = open(path / LOCK_FILE, "a+", encoding="utf-8")  # held for the run's life
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise RunFolderError(f"{path} is in use by another process (pid {holder}); wait for it to finish, "
                                 f"or choose another folder") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        return lock

    def file(self, name: str) -> Path:
        return self.path / name

    def append(self, name: str, record: dict[str, Any]) -> None:
        append_line(self.path / name, record)

    def read(self, name: str) -> list[dict[str, Any]]:
        """The records of a JSON-lines file; a line cut off by a kill is dropped and removed."""
        return read_jsonl(self.path / name, repair=True)

    def write_json(self, name: str, data: Any) -> None:
        atomic_write_json(self.path / name, data)

    def write_text(self, name: str, text: str) -> None:
        atomic_write_text(self.path / name, text)

    def update_manifest(self, **entries: Any) -> None:
        """Add entries known only once the run has started (a model's description, parameter counts)."""
        self.manifest.update(entries)
        atomic_write_json(self.path / MANIFEST_FILE, self.manifest)

    def close(self) -> None:
        """Release the lock (the files stay)."""
        if not self._lock.closed:
            self._lock.close()

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
