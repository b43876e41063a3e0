"""The training loop for any :class:`~aligngames.solvers.equilibrium.mpo.MagneticPolicy`: metrics, evaluation points,
checkpoints after every step, resume from the latest one."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from aligngames.runs import append_line, atomic_write_json, atomic_write_text, read_json_file, read_jsonl
from aligngames.solvers.equilibrium import mpo
from aligngames.solvers.training import checkpoints
from aligngames.solvers.training.distributed import SINGLE_PROCESS, World
from aligngames.solvers.training.preference_training.config import IterationSchedule

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


class ResumablePolicy(Protocol):
    """What :func:`train_policy` uses beyond :class:`~aligngames.solvers.equilibrium.mpo.MagneticPolicy` when a policy has it."""

    def save_checkpoint(self, folder: Path, magnet: Any) -> None: ...

    def load_checkpoint(self, folder: Path) -> Any: ...


class _MagnetRecorder:
    """Passes ``snapshot``/``mmd_step`` through to a policy and remembers the magnet in use (for checkpoints)."""

    def __init__(self, policy) -> None:
        self.policy = policy
        self.magnet = None

    def snapshot(self):
        return self.policy.snapshot()

    def mmd_step(self, magnet, *, alpha, eta):
        self.magnet = magnet
        return self.policy.mmd_step(magnet, alpha=alpha, eta=eta)


def train_policy(policy, schedule: IterationSchedule, out: str | Path | None = None, *, world: World = SINGLE_PROCESS,
                 stop_after: int | None = None, keep_checkpoints: int = 2, progress: bool = False) -> list[dict[str, Any]]:
    """Run ``mpo.iterate`` on ``policy`` with metrics, evaluation points and checkpoints; resume from ``out``.

    Works for any :class:`~aligngames.solvers.equilibrium.mpo.MagneticPolicy`: a policy with ``evaluate()`` is
    evaluated every ``schedule.evaluate_every`` steps and after the last; one with ``save_checkpoint`` /
    ``load_checkpoint`` is checkpointed after every step under ``out/checkpoints`` and a rerun resumes
    from the latest checkpoint. ``stop_after`` ends this call after that many steps (a later call resumes).

    Returns the metrics lines of every step taken so far (resumed runs include the earlier ones).
    """
    checkpointed = out is not None and hasattr(policy, "save_checkpoint")
    start, magnet, lines = 0, None, []
    if out is not None:
        out = Path(out)
        metrics_path = out / METRICS_FILE
        found = checkpoints.latest_checkpoint(out / "checkpoints") if checkpointed else None  # digests checked
        if found is not None:
            start, folder = found
            if world.is_main:  # metrics.jsonl as the checkpoint marked it: later lines are redone, lost ones put back
                checkpoints.restore_lines(folder, {METRICS_FILE: metrics_path})
            magnet = policy.load_checkpoint(folder)
            log.info("resuming at step %d from %s", start, folder)
        world.barrier()
        lines = read_jsonl(metrics_path, repair=world.is_main)
        kept = [line for line in lines if line["step"] <= start]  # lines past the checkpoint are redone
        if world.is_main and len(kept) != len(lines):
            atomic_write_text(metrics_path, "".join(json.dumps(line, sort_keys=True) + "\n" for line in kept))
        lines = kept
    recorder = _MagnetRecorder(policy)
    recorder.magnet = magnet
    bar = tqdm(total=schedule.total_steps, initial=start, unit="step", desc="training", disable=not progress)
    for step in mpo.iterate(recorder, alpha=schedule.alpha, eta=schedule.eta, inner_steps=schedule.inner_steps,
                            outer_steps=schedule.outer_steps, magnet=magnet, start=start):
        index = step.outer * schedule.inner_steps + step.inner + 1
        line: dict[str, Any] = {"step": index, "outer": step.outer, "inner": step.inner, **step.metrics}
        if hasattr(policy, "evaluate") and (index % schedule.evaluate_every == 0 or index == schedule.total_steps):
            if world.is_main:
                line.update(policy.evaluate())
            world.barrier()
        lines.append(line)
        if out is not None and world.is_main:
            append_line(metrics_path, line)
        if checkpointed:
            if world.is_main:
                checkpoints.write_checkpoint(out / "checkpoints", index,
                                             lambda folder: policy.save_checkpoint(folder, recorder.magnet),
                                             keep=keep_checkpoints, lines={METRICS_FILE: metrics_path})
            world.barrier()
        bar.update()
        if stop_after is not None and index - start >= stop_after:
            break
    bar.close()
    return lines


class CheckpointedTabularPolicy:
    """:class:`~aligngames.solvers.equilibrium.mpo.TabularPolicy` with checkpoints (JSON), for :func:`train_policy`."""

    def __init__(self, payoffs: np.ndarray, probabilities: np.ndarray | None = None) -> None:
        self.tabular = mpo.TabularPolicy(payoffs, probabilities)

    @property
    def probabilities(self) -> np.ndarray:
        return self.tabular.probabilities

    def snapshot(self) -> np.ndarray:
        return self.tabular.snapshot()

    def mmd_step(self, magnet: np.ndarray, *, alpha: float, eta: float) -> dict[str, float]:
        return self.tabular.mmd_step(magnet, alpha=alpha, eta=eta)

    def save_checkpoint(self, folder: Path, magnet: np.ndarray) -> None:
        # float.hex keeps every bit, so a resumed run continues from exactly the same numbers
        atomic_write_json(folder / "tabular.json", {"probabilities": [float(p).hex() for p in self.tabular.probabilities],
                                                    "magnet": [float(p).hex() for p in magnet]})

    def load_checkpoint(self, folder: Path) -> np.ndarray:
        data = read_json_file(folder / "tabular.json", keys=("probabilities", "magnet"),
                              remedy=f"delete {folder} to resume from the previous checkpoint")
        probabilities = np.array([float.fromhex(p) for p in data["probabilities"]])
        self.tabular = mpo.TabularPolicy(self.tabular.payoffs)
        self.tabular.probabilities = probabilities
        self.tabular._values = self.tabular.payoffs @ probabilities  # as TabularPolicy keeps it between steps
        return np.array([float.fromhex(p) for p in data["magnet"]])


__all__ = ["METRICS_FILE", "CheckpointedTabularPolicy", "ResumablePolicy", "train_policy"]
