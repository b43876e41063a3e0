"""The agent protocol.

An agent maps an observation to an action: ``act(observation, agent, action_space, info)``.
``act_batch(turns)`` answers many turns at once (from N copies of an env advancing together), which
is where batched LLM generation pays off; the default loops over ``act``. ``reset(seed)`` starts a
match: every random choice the agent makes afterwards draws from a generator seeded by ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import gymnasium
import numpy as np


class Turn(NamedTuple):
    """One decision an agent has to make."""

    observation: Any
    agent: str  # the env's name for the seat that acts (``player_0``, ``red_0``, ...)
    action_space: gymnasium.Space
    info: Mapping[str, Any]


class Agent:
    """Base class for agents. Subclasses implement :meth:`act` (and may override :meth:`act_batch`)."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        """Start a match; the agent's randomness comes from ``seed`` alone."""
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any, agent: str, action_space: gymnasium.Space,
            info: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def act_batch(self, turns: Sequence[Turn]) -> list[Any]:
        """One action per turn, in order."""
        return [self.act(*turn) for turn in turns]

    def describe(self) -> dict[str, Any]:
        """Settings worth recording in a run folder (class name by default)."""
        return {"class": type(self).__name__}
