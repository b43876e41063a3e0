"""The agent protocol: :class:`Turn` and the :class:`Agent` base class.

An agent maps an observation to an action: ``act(observation, agent, action_space, info)``.
``act_batch(turns)`` answers many turns at once (from N copies of an env advancing together), which
is where batched LLM generation pays off; the default loops over ``act``. ``reset(seed)`` starts a
match: every random choice the agent makes afterwards draws from a generator seeded by ``seed``.

The protocol (and :class:`AgentSpec`, an agent by registered name) is core vocabulary: the rollout loop (:mod:`aligngames.play.rollout`) builds turns and
the agents in :mod:`aligngames.agents` (which re-exports both names) implement them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gymnasium
import numpy as np

from aligngames import registry
from aligngames.seeding import derive_seed


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


class TurnSeededAgent(Agent):
    """An agent that answers turns in batches and draws each turn's randomness from a seed of its own.

    :meth:`turn_seed` derives it from the agent's seed, the seat, a hash of what the model is shown and how
    often this agent has been shown it since :meth:`reset`, so an answer does not depend on which other turns
    share its batch. Subclasses implement :meth:`act_batch_detailed` and name their ``turn_salt``.
    """

    turn_salt = "turn"

    def __init__(self) -> None:
        super().__init__()
        self.seed = 0
        self._seen: dict[tuple[str, str], int] = {}

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.seed = int(seed)
        self._seen.clear()

    def act(self, observation, agent, action_space, info=None):
        return self.act_batch([Turn(observation, agent, action_space, info or {})])[0]

    def act_batch(self, turns: Sequence[Turn]) -> list[Any]:
        return [action for action, _ in self.act_batch_detailed(turns)]

    def act_batch_detailed(self, turns: Sequence[Turn]) -> list[tuple[Any, dict[str, Any]]]:
        """``(action, data)`` per turn: the action and what produced it."""
        raise NotImplementedError

    def turn_seed(self, agent: str, shown: str) -> int:
        """The seed of seat ``agent``'s next turn on the input ``shown`` (the full prompt, or its messages)."""
        digest = hashlib.sha256(shown.encode()).hexdigest()[:16]
        occurrence = self._seen.get((agent, digest), 0)
        self._seen[(agent, digest)] = occurrence + 1
        return derive_seed(self.seed, self.turn_salt, agent, digest, occurrence)


@dataclass(frozen=True)
class AgentSpec:
    """A registered agent with its keyword arguments: what a config names and a worker process builds.

    Attributes:
        type: a registered agent name (``aligngames list`` shows them).
        kwargs: keyword arguments for the agent's constructor.
    """

    type: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Agent:
        return registry.make_agent(self.type, **self.kwargs)
