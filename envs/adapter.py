"""Thin PettingZoo adapters over pure game rules.

Each game writes its rules once as a :class:`GameRules` (state, legal actions, transition, payoff;
no PettingZoo bookkeeping). :class:`RulesAECEnv` and :class:`RulesParallelEnv` turn any rules
object into an AEC or a Parallel env, so the bookkeeping PettingZoo asks for (cumulative rewards,
dead steps, agent selection) lives in one place.

Simultaneous moves in AEC form follow PettingZoo's ``rps``: the acting agents step one after
another, their actions are held back, and the rules see all of them at once when the last one
has acted. An illegal action raises ``ValueError`` before anything is recorded, so the env is
left exactly as it was.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import AECEnv, ParallelEnv

from aligngames.game import Dynamics, GameInfo


class GameRules(abc.ABC):
    """The rules of one game, free of PettingZoo.

    Subclasses set ``possible_agents`` and ``game_info``, and build their spaces once in
    ``__init__`` as the dicts ``observation_spaces`` and ``action_spaces`` (agent -> space), so the
    same space object is returned on every call.
    """

    possible_agents: tuple[str, ...]
    game_info: GameInfo
    observation_spaces: dict[str, gymnasium.Space]
    action_spaces: dict[str, gymnasium.Space]

    def observation_space(self, agent: str) -> gymnasium.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.Space:
        return self.action_spaces[agent]

    @abc.abstractmethod
    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode; every random decision of the episode draws from ``rng``."""

    @abc.abstractmethod
    def acting_agents(self) -> tuple[str, ...]:
        """Who moves now: one agent in a sequential game, several in a simultaneous one."""

    def check_turn(self, agent: str) -> None:
        """Raise ``ValueError`` unless ``agent`` is one of the agents to act now (``check_action`` starts here)."""
        acting = self.acting_agents()
        if agent not in acting:
            now = f"the agents to act now are {list(acting)}" if acting else "the episode is over"
            raise ValueError(f"agent {agent!r} acted out of turn: {now}")

    @abc.abstractmethod
    def check_action(self, agent: str, action: Any) -> Any:
        """Return the action in canonical form, or raise ``ValueError`` naming agent, action and limit
        (after :meth:`check_turn`)."""

    @abc.abstractmethod
    def apply(self, actions: Mapping[str, Any]) -> Mapping[str, float]:
        """Apply the (already checked) actions of every acting agent; return this step's rewards."""

    @abc.abstractmethod
    def observe(self, agent: str) -> Any: ...

    @abc.abstractmethod
    def is_terminal(self) -> bool: ...

    def is_truncated(self) -> bool:
        """Whether the episode was cut short (by a cycle limit); False by default."""
        return False

    def agent_info(self, agent: str) -> dict[str, Any]:
        """The ``infos[agent]`` entry; put ``"action_mask"`` here where some actions are illegal."""
        return {}

    @abc.abstractmethod
    def render_text(self) -> str:
        """The episode so far as text (used by ``render_mode="ansi"`` and ``"human"``)."""

    @abc.abstractmethod
    def record(self) -> dict[str, Any]:
        """The episode so far as JSON-serialisable data (transcripts, golden tests, tournaments)."""

    def describe(self) -> dict[str, Any]:
        """Settings worth recording in a run manifest (the judge's identity, the mode, ...)."""
        return {}


class _RenderMixin:
    rules: GameRules
    render_mode: str | None

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() was called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        text = self.rules.render_text()
        if self.render_mode == "human":
            import sys

            sys.stdout.write(text + "\n")
            return None
        return text

    def _check_render_mode(self, render_mode: str | None) -> None:
        modes = self.metadata["render_modes"]  # type: ignore[attr-defined]
        if render_mode is not None and render_mode not in modes:
            raise ValueError(f"render_mode must be one of {modes} or None, got {render_mode!r}")


class RulesAECEnv(_RenderMixin, AECEnv):
    """An AEC env that plays a :class:`GameRules`."""

    metadata: dict[str, Any] = {"name": "rules_env", "render_modes": ["human", "ansi"], "is_parallelizable": False}

    def __init__(self, rules: GameRules, render_mode: str | None = None) -> None:
        super().__init__()
        self._check_render_mode(render_mode)
        self.rules = rules
        self.render_mode = render_mode
        self.possible_agents = list(rules.possible_agents)
        self._rng: np.random.Generator | None = None
        self._queue: list[str] = []
        self._pending: dict[str, Any] = {}

    @property
    def game_info(self) -> GameInfo:
        return self.rules.game_info

    def observation_space(self, agent: str) -> gymnasium.Space:
        return self.rules.observation_space(agent)

    def action_space(self, agent: str) -> gymnasium.Space:
        return self.rules.action_space(agent)

    def record(self) -> dict[str, Any]:
        """The episode so far as JSON-serialisable data (see :meth:`GameRules.record`)."""
        return self.rules.record()

    def describe(self) -> dict[str, Any]:
        return self.rules.describe()

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.rules.reset(self._rng)
        self.agents = list(self.possible_agents)
        self.rewards = {agent: 0.0 for agent in self.agents}
        self._cumulative_rewards = {agent: 0.0 for agent in self.agents}
        self.terminations = {agent: False for agent in self.agents}
        self.truncations = {agent: False for agent in self.agents}
        self.infos = {agent: self.rules.agent_info(agent) for agent in self.agents}
        self._pending = {}
        self._queue = list(self.rules.acting_agents())
        self.agent_selection = self._queue[0]

    def observe(self, agent: str) -> Any:
        return self.rules.observe(agent)

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        action = self.rules.check_action(agent, action)  # raises before anything changes
        self._cumulative_rewards[agent] = 0.0
        self._clear_rewards()
        self._pending[agent] = action
        self._queue.pop(0)
        if not self._queue:
            # every acting agent has moved: the rules see all their actions at once
            step_rewards = self.rules.apply(self._pending)
            self._pending = {}
            terminal, truncated = self.rules.is_terminal(), self.rules.is_truncated()
            for name in self.agents:
                self.rewards[name] = float(step_rewards.get(name, 0.0))
                self.terminations[name] = bool(terminal)
                self.truncations[name] = bool(truncated and not terminal)
                self.infos[name] = self.rules.agent_info(name)
            if not (terminal or truncated):
                self._queue = list(self.rules.acting_agents())
        self._accumulate_rewards()
        if self._queue:
            self.agent_selection = self._queue[0]
        else:
            self._deads_step_first()
        if self.render_mode == "human":
            self.render()

    def close(self) -> None:
        pass


class RulesParallelEnv(_RenderMixin, ParallelEnv):
    """A Parallel env that plays a simultaneous-move :class:`GameRules` (every live agent acts each step)."""

    metadata: dict[str, Any] = {"name": "rules_env", "render_modes": ["human", "ansi"], "is_parallelizable": True}

    def __init__(self, rules: GameRules, render_mode: str | None = None) -> None:
        self._check_render_mode(render_mode)
        if rules.game_info.dynamics is not Dynamics.SIMULTANEOUS:
            raise ValueError(f"{type(rules).__name__} is a sequential game; use its AEC env, not a parallel env")
        self.rules = rules
        self.render_mode = render_mode
        self.possible_agents = list(rules.possible_agents)
        self.agents: list[str] = []
        self._rng: np.random.Generator | None = None

    @property
    def game_info(self) -> GameInfo:
        return self.rules.game_info

    def observation_space(self, agent: str) -> gymnasium.Space:
        return self.rules.observation_space(agent)

    def action_space(self, agent: str) -> gymnasium.Space:
        return self.rules.action_space(agent)

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.rules.reset(self._rng)
        self.agents = list(self.possible_agents)
        observations = {agent: self.rules.observe(agent) for agent in self.agents}
        infos = {agent: self.rules.agent_info(agent) for agent in self.agents}
        return observations, infos

    def step(self, actions: Mapping[str, Any]):
        if not self.agents:
            raise ValueError("step() called on a finished episode; call reset() first")
        acting = self.rules.acting_agents()
        for agent in sorted(set(actions) - set(acting)):
            self.rules.check_turn(agent)  # raises: out of turn
        missing = [agent for agent in acting if agent not in actions]
        if missing:
            raise ValueError(f"agent {missing[0]!r} must act this step but has no action; expected actions for {list(acting)}")
        checked = {agent: self.rules.check_action(agent, actions[agent]) for agent in acting}
        step_rewards = self.rules.apply(checked)
        terminal, truncated = self.rules.is_terminal(), self.rules.is_truncated()
        observations = {agent: self.rules.observe(agent) for agent in self.agents}
        rewards = {agent: float(step_rewards.get(agent, 0.0)) for agent in self.agents}
        terminations = {agent: bool(terminal) for agent in self.agents}
        truncations = {agent: bool(truncated and not terminal) for agent in self.agents}
        infos = {agent: self.rules.agent_info(agent) for agent in self.agents}
        if terminal or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def close(self) -> None:
        pass
