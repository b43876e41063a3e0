"""Scripted stakeholders for ``mechanism_v0``.

:class:`ScaledStakeholder` reports its own preferences (``info["type"]``) scaled: with ``scale=1`` it is
truthful; a fine-tuning stakeholder reports ``scale * rewards`` (``scale > 1`` inflates them, the
manipulation that pays when there are no payments); a threshold stakeholder reports
``0.5 + scale * (peak - 0.5)`` (``scale > 1`` exaggerates away from the middle, which pays under the mean).
Reports are clipped to the env's bounds; in language mode they are written out in the form the env reads.
:class:`FixedReportStakeholder` always reports the same point or vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.agent import Agent
from aligngames.text import sanitize


def _info(info, agent: str, who: str) -> dict:
    if not info or "type" not in info or "kind" not in info:
        raise ValueError(f"agent {agent!r}: {who} needs info['type'] and info['kind'] (mechanism_v0)")
    return info


def _emit(report: np.ndarray, info: dict, action_space) -> Any:
    if isinstance(action_space, spaces.Text):
        if info["kind"] == "threshold":
            text = f"I report a threshold of {float(report[0]):.4f}."
        else:
            text = "My ratings: " + ", ".join(f"{r}: {v:.4f}" for r, v in zip(info["responses"], report)) + "."
        return sanitize(text, action_space.max_length)
    return np.clip(report, action_space.low, action_space.high).astype(action_space.dtype)


class ScaledStakeholder(Agent):
    """Reports its own preferences scaled by ``scale`` (1: truthful)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        if not np.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be a finite number >= 0, got {scale}")
        self.scale = float(scale)

    def act(self, observation, agent, action_space, info=None):
        info = _info(info, agent, "ScaledStakeholder")
        own = np.asarray(info["type"], dtype=np.float64)
        report = 0.5 + self.scale * (own - 0.5) if info["kind"] == "threshold" else self.scale * own
        if info["kind"] == "threshold":
            report = np.clip(report, 0.0, 1.0)
        elif "report_bound" in info:
            report = np.clip(report, -info["report_bound"], info["report_bound"])
        return _emit(report, info, action_space)

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "scale": self.scale}


class FixedReportStakeholder(Agent):
    """Always reports ``report`` (a threshold, or one reward per response)."""

    def __init__(self, report: float | Sequence[float]) -> None:
        super().__init__()
        self.report = np.atleast_1d(np.asarray(report, dtype=np.float64))

    def act(self, observation, agent, action_space, info=None):
        info = _info(info, agent, "FixedReportStakeholder")
        size = 1 if info["kind"] == "threshold" else len(info["responses"])
        if self.report.shape != (size,):
            raise ValueError(f"agent {agent!r}: FixedReportStakeholder has a report of {self.report.size} numbers; "
                             f"this game takes {size}")
        return _emit(self.report, info, action_space)

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "report": self.report.tolist()}
