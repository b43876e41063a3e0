"""Random, constant, mixed-strategy and scripted agents."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from aligngames.agent import Agent


class RandomAgent(Agent):
    """Uniform over the legal actions; text actions are random strings from the space's charset.

    Args:
        max_text_length: the longest random text it writes (the space's limit applies too).
    """

    def __init__(self, max_text_length: int = 80) -> None:
        super().__init__()
        self.max_text_length = max_text_length

    def act(self, observation, agent, action_space, info=None):
        if isinstance(action_space, spaces.Discrete):
            mask = (info or {}).get("action_mask")
            legal = np.flatnonzero(mask) if mask is not None else np.arange(action_space.n)
            if legal.size == 0:
                raise ValueError(f"agent {agent!r} has no legal action")
            return int(action_space.start + self.rng.choice(legal))
        if isinstance(action_space, spaces.Text):
            upper = min(action_space.max_length, self.max_text_length)
            length = int(self.rng.integers(action_space.min_length, max(upper, action_space.min_length) + 1))
            charset = action_space.character_list
            return "".join(charset[i] for i in self.rng.integers(len(charset), size=length))
        # any other space: sample from a private copy seeded from our generator
        private = copy.deepcopy(action_space)
        private.seed(int(self.rng.integers(2**31)))
        return private.sample()

    def describe(self):
        return {"class": "RandomAgent", "max_text_length": self.max_text_length}


class ConstantAgent(Agent):
    """Always plays ``action`` (an index in tabular games, a string in language games)."""

    def __init__(self, action: int | str) -> None:
        super().__init__()
        self.action = action

    def act(self, observation, agent, action_space, info=None):
        return self.action

    def describe(self):
        return {"class": "ConstantAgent", "action": self.action}


class MixedStrategyAgent(Agent):
    """A tabular mixed strategy: plays index ``i`` with probability ``probabilities[i]``."""

    def __init__(self, probabilities: Sequence[float]) -> None:
        super().__init__()
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.ndim != 1 or probabilities.size == 0 or np.any(probabilities < 0):
            raise ValueError(f"probabilities must be a non-empty list of non-negative numbers, got {probabilities.tolist()}")
        if not np.isclose(probabilities.sum(), 1.0, atol=1e-6):
            raise ValueError(f"probabilities must sum to 1, got sum {probabilities.sum():.6g}")
        self.probabilities = probabilities / probabilities.sum()

    def act(self, observation, agent, action_space: gymnasium.Space, info: Mapping[str, Any] | None = None):
        if not isinstance(action_space, spaces.Discrete) or action_space.n != self.probabilities.size:
            raise ValueError(
                f"agent {agent!r}: a mixed strategy over {self.probabilities.size} actions cannot play "
                f"in action space {action_space}"
            )
        return int(action_space.start + self.rng.choice(self.probabilities.size, p=self.probabilities))

    def describe(self):
        return {"class": "MixedStrategyAgent", "probabilities": self.probabilities.tolist()}


class ScriptedAgent(Agent):
    """Plays ``actions[0]``, ``actions[1]``, ... one per turn; an error once the script runs out."""

    def __init__(self, actions: Sequence[Any]) -> None:
        super().__init__()
        if not actions:
            raise ValueError("a scripted agent needs at least one action")
        self.actions = list(actions)
        self._turn = 0

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._turn = 0

    def act(self, observation, agent, action_space, info=None):
        if self._turn >= len(self.actions):
            raise ValueError(f"agent {agent!r}: the script of {len(self.actions)} actions has run out")
        action = self.actions[self._turn]
        self._turn += 1
        return action

    def describe(self):
        return {"class": "ScriptedAgent", "actions": self.actions}
