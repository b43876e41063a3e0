"""Record every judge call of a run, and replay a run from those records without loading the judge.

Judges are the payoffs of the games and often the slowest part of a run (an LLM or a classifier). With
recording on, every judge :func:`aligngames.registry.make_judge` builds is wrapped so that each call
(``compare`` of a preference judge, ``score`` and ``class_probabilities`` of a harm judge) is appended,
and flushed, to ``FOLDER/judge_calls/<process id>.jsonl``: one line ``{"key", "identity", "method", "output"}``
per call, where ``key`` is the SHA-256 of the judge's identity, the method and its inputs. Each judge made by
name is also noted (``{"made": name, "kwargs", "identity", "kind"}``), so that a replay can stand in for it.

With replay on, :func:`~aligngames.registry.make_judge` builds no judge: it returns a stand-in with the
recorded identity whose calls are answered from the records, byte for byte (floats survive JSON exactly), and
a call that was never recorded raises :class:`UnrecordedJudgeCallError` naming the judge and the method.

Both are switched on for a process and the workers it starts by environment variables
(:data:`RECORD_VARIABLE`, :data:`REPLAY_VARIABLE`), set by :func:`recording` / :func:`replaying` or by the
command line's ``--record-judges`` / ``--replay-judges RUN``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aligngames.judges import HarmJudge, PreferenceJudge
from aligngames.runs import JUDGE_CALLS_FOLDER

RECORD_VARIABLE = "ALIGNGAMES_RECORD_JUDGES"
REPLAY_VARIABLE = "ALIGNGAMES_REPLAY_JUDGES"
CALLS_FOLDER = JUDGE_CALLS_FOLDER
RECORDED_METHODS = ("compare", "score", "class_probabilities")


class UnrecordedJudgeCallError(KeyError):
    """A replayed run asked a judge something the recorded run never did."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def call_key(identity: str, method: str, inputs: Sequence[Sequence[str]]) -> str:
    """The SHA-256 of ``[identity, method, inputs]`` as canonical JSON."""
    text = json.dumps([identity, method, [list(part) for part in inputs]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _append(folder: Path, line: dict[str, Any]) -> None:
    path = folder / CALLS_FOLDER / f"{os.getpid()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")
        handle.flush()


def _kind(judge: Any) -> str:
    return "harm" if isinstance(judge, HarmJudge) else "preference"


class _Recorder:
    """The recording half shared by both wrappers: call the judge, append the answer."""

    def __init__(self, inner: Any, folder: Path) -> None:
        self._inner, self._folder = inner, folder
        self.identity = inner.identity

    def _recorded(self, method: str, *inputs: Sequence[str]) -> np.ndarray:
        output = np.asarray(getattr(self._inner, method)(*inputs), dtype=np.float64)
        _append(self._folder, {"key": call_key(self.identity, method, inputs), "identity": self.identity,
                               "method": method, "output": output.tolist()})
        return output

    def __getattr__(self, name: str) -> Any:  # anything else (settings, helpers) is the judge's own
        return getattr(self._inner, name)


class RecordingPreferenceJudge(_Recorder, PreferenceJudge):
    def compare(self, prompts, first, second) -> np.ndarray:
        return self._recorded("compare", prompts, first, second)


class RecordingHarmJudge(_Recorder, HarmJudge):
    def score(self, prompts, answers) -> np.ndarray:
        return self._recorded("score", prompts, answers)

    def class_probabilities(self, prompts, answers) -> np.ndarray:
        return self._recorded("class_probabilities", prompts, answers)

    def prefetch(self, prompts, answers) -> None:  # warms the judge's memo; the calls that follow are recorded
        self._inner.prefetch(prompts, answers)


class _Replayer:
    def __init__(self, identity: str, calls: dict[str, list], folder: Path) -> None:
        self.identity, self._calls, self._folder = identity, calls, folder

    def _replayed(self, method: str, *inputs: Sequence[str]) -> np.ndarray:
        key = call_key(self.identity, method, inputs)
        if key not in self._calls:
            raise UnrecordedJudgeCallError(
                f"judge {self.identity!r}: this {method}() call on {len(inputs[0])} inputs was never recorded in "
                f"{self._folder} (the replayed run asked something the recorded run did not; rerun without "
                f"--replay-judges, or record a run with these settings)")
        return np.array(self._calls[key], dtype=np.float64)


class ReplayPreferenceJudge(_Replayer, PreferenceJudge):
    def compare(self, prompts, first, second) -> np.ndarray:
        return self._replayed("compare", prompts, first, second)


class ReplayHarmJudge(_Replayer, HarmJudge):
    def score(self, prompts, answers) -> np.ndarray:
        return self._replayed("score", prompts, answers)

    def class_probabilities(self, prompts, answers) -> np.ndarray:
        return self._replayed("class_probabilities", prompts, answers)


def _made_key(name: str, kwargs: dict[str, Any]) -> str:
    return json.dumps([name, kwargs], sort_keys=True, default=str)


class _Records:
    """The records of a folder: the judges made by name and the answers by call key."""

    def __init__(self, folder: Path) -> None:
        files = sorted((folder / CALLS_FOLDER).glob("*.jsonl"))
        if not files:
            raise FileNotFoundError(f"{folder} has no recorded judge calls ({CALLS_FOLDER}/*.jsonl): record a run "
                                    f"with --record-judges first")
        self.folder, self.made, self.calls = folder, {}, {}
        for file in files:
            for line in file.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                entry = json.loads(line)
                if "made" in entry:
                    self.made[_made_key(entry["made"], entry["kwargs"])] = (entry["identity"], entry["kind"])
                else:
                    self.calls[entry["key"]] = entry["output"]


_loaded: dict[str, _Records] = {}


def _records(folder: str) -> _Records:
    if folder not in _loaded:
        _loaded[folder] = _Records(Path(folder))
    return _loaded[folder]


def replay_stand_in(judge: Any, judge_kwargs: dict[str, Any] | None) -> Any | None:
    """The stand-in :func:`~aligngames.registry.make_judge` returns when replay is on (None when it is off)."""
    folder = os.environ.get(REPLAY_VARIABLE)
    if not folder:
        return None
    records = _records(folder)
    if isinstance(judge, str):
        found = records.made.get(_made_key(judge, dict(judge_kwargs or {})))
        if found is None:
            raise UnrecordedJudgeCallError(f"judge {judge!r} with {dict(judge_kwargs or {})} was never made in the "
                                           f"recorded run {folder}; replay a run with the same settings")
        identity, kind = found
    else:
        identity, kind = judge.identity, _kind(judge)
    cls = ReplayHarmJudge if kind == "harm" else ReplayPreferenceJudge
    return cls(identity, records.calls, Path(folder))


def wrap_for_recording(made: Any, judge: Any, judge_kwargs: dict[str, Any] | None) -> Any:
    """``made`` wrapped so that its calls are recorded (unchanged when recording is off)."""
    folder = os.environ.get(RECORD_VARIABLE)
    if not folder or not isinstance(made, PreferenceJudge | HarmJudge):
        return made
    if isinstance(judge, str):
        _append(Path(folder), {"made": judge, "kwargs": dict(judge_kwargs or {}), "identity": made.identity,
                               "kind": _kind(made)})
    cls = RecordingHarmJudge if isinstance(made, HarmJudge) else RecordingPreferenceJudge
    return cls(made, Path(folder))


@contextlib.contextmanager
def _variable(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def recording(folder: str | Path) -> contextlib.AbstractContextManager[None]:
    """Record the judge calls of this process and of the workers it starts under ``folder``."""
    return _variable(RECORD_VARIABLE, str(Path(folder).resolve()))


def replaying(folder: str | Path) -> contextlib.AbstractContextManager[None]:
    """Answer judge calls from ``folder``'s records instead of building judges."""
    _loaded.pop(str(Path(folder).resolve()), None)  # records may have grown since they were read
    return _variable(REPLAY_VARIABLE, str(Path(folder).resolve()))
