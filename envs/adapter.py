"""Thin PettingZoo adapters over pure game rules.

Each game writes its rules once as a :class:`GameRules` (state, legal actions, transition, payoff;
no PettingZoo bookkeeping). :class:`RulesAECEnv` and :class:`RulesParallelEnv` turn any rules
object into an AEC or a Parallel env, so the bookkeeping PettingZoo asks for (cumulative rewards,
dead steps, agent selection) lives in one place.

Simultaneous moves in AEC form follow PettingZoo's ``rps``: the acting agents step one after
another, their actions are held back, and the rules see all of them at once when the last one
has acted. An illegal action raises ``ValueError`` before anything is recorded, so the env is
left exactly as it was.

The adapters also hold the checks every env shares: ``reset(seed=...)`` takes an int or None
(:func:`aligngames.seeding.check_seed`), an unknown agent name raises ``ValueError`` listing the
agents, numpy scalar actions are read as Python values (``np.str_("x")`` as ``"x"``, so no numpy
repr reaches a transcript), and a Parallel ``step`` takes a dict. Where some ``Discrete`` actions
can be illegal (``GameRules.has_action_masks``), each observation carries ``"action_mask"`` as in
PettingZoo's classic envs, which is where PettingZoo's tools (``api_test``,
``performance_benchmark``) look for it; the rules' ``infos`` carry the same mask.
"""

from __future__ import annotations

import abc
import sys
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv

from aligngames.game import Dynamics, GameInfo
from aligngames.seeding import check_seed


class GameRules(abc.ABC):
    """The rules of one game, free of PettingZoo.

    Subclasses set ``possible_agents`` and ``game_info``, and build their spaces once in
    ``__init__`` as the dicts ``observation_spaces`` and ``action_spaces`` (agent -> space), so the
    same space object is returned on every call. Games where some ``Discrete`` actions can be
    illegal set ``has_action_masks = True`` and define :meth:`action_mask`.
    """

    possible_agents: tuple[str, ...]
    game_info: GameInfo
    observation_spaces: dict[str, gymnasium.Space]
    action_spaces: dict[str, gymnasium.Space]
    has_action_masks: bool = False

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

    def judge_requests(self, agent: str, action: Any) -> list[tuple[Any, str, str]]:
        """The judge calls that ``apply`` would make for this action, as ``(judge, prompt, answer)``, without
        changing anything; the match engine scores those of every live episode in one batch first
        (``judge.prefetch``), so that ``apply`` finds them cached. Default: none."""
        return []

    @abc.abstractmethod
    def observe(self, agent: str) -> Any: ...

    @abc.abstractmethod
    def is_terminal(self) -> bool: ...

    def is_truncated(self) -> bool:
        """Whether the episode was cut short (by a cycle limit); False by default."""
        return False

    def action_mask(self, agent: str) -> np.ndarray:
        """``agent``'s legal actions now: int8 of shape ``(action_spaces[agent].n,)``, 1 where legal.
        Only games with ``has_action_masks`` define it."""
        raise NotImplementedError(f"{type(self).__name__} has no action masks")

    def agent_info(self, agent: str) -> dict[str, Any]:
        """The ``infos[agent]`` entry (with ``"action_mask": self.action_mask(agent)`` where some actions are illegal)."""
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


def plain_action(action: Any) -> Any:
    """``action`` with numpy scalars as Python values (``np.str_("x") -> "x"``, ``np.int64(2) -> 2``),
    in dict actions too."""
    if isinstance(action, np.generic):
        return action.item()
    if isinstance(action, Mapping):
        return {key: plain_action(value) for key, value in action.items()}
    return action


def observation_spaces(rules: GameRules) -> dict[str, gymnasium.Space]:
    """Each agent's observation space, with ``"action_mask"`` (``Box(0, 1, (n,), int8)``) added
    where the rules have action masks (a non-dict observation then sits under ``"observation"``)."""
    if not rules.has_action_masks:
        return {agent: rules.observation_space(agent) for agent in rules.possible_agents}
    result = {}
    for agent in rules.possible_agents:
        space, actions = rules.observation_space(agent), rules.action_space(agent)
        if not isinstance(actions, spaces.Discrete):
            raise TypeError(f"{type(rules).__name__}: action masks need a Discrete action space; "
                            f"agent {agent!r} has {actions}")
        parts = dict(space.spaces) if isinstance(space, spaces.Dict) else {"observation": space}
        result[agent] = spaces.Dict({**parts, "action_mask": spaces.Box(0, 1, shape=(actions.n,), dtype=np.int8)})
    return result


class _RulesEnv:
    """What the AEC and the Parallel adapters share: spaces, observations, seeding, the agent check, rendering."""

    metadata: dict[str, Any]

    def __init__(self, rules: GameRules, render_mode: str | None = None) -> None:
        modes = self.metadata["render_modes"]
        if render_mode is not None and render_mode not in modes:
            raise ValueError(f"render_mode must be one of {modes} or None, got {render_mode!r}")
        self.rules = rules
        self.render_mode = render_mode
        self.possible_agents = list(rules.possible_agents)
        self._observation_spaces = observation_spaces(rules)  # built once: the same object on every call
        self._rng: np.random.Generator | None = None

    @property
    def game_info(self) -> GameInfo:
        return self.rules.game_info

    def _check_agent(self, agent: Any) -> None:
        if agent not in self.possible_agents:
            raise ValueError(f"unknown agent {agent!r}; the agents of {self.metadata['name']} are {self.possible_agents}")

    def observation_space(self, agent: str) -> gymnasium.Space:
        self._check_agent(agent)
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.Space:
        self._check_agent(agent)
        return self.rules.action_space(agent)

    def _observe(self, agent: str) -> Any:
        observation = self.rules.observe(agent)
        if not self.rules.has_action_masks:
            return observation
        mask = self.rules.action_mask(agent)
        if isinstance(observation, Mapping):
            return {**observation, "action_mask": mask}
        return {"observation": observation, "action_mask": mask}

    def _reset_rules(self, seed: int | None) -> None:
        """Reset the rules; an int ``seed`` starts a new random stream, None continues the current one."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(None if seed is None else check_seed(seed))
        self.rules.reset(self._rng)

    def record(self) -> dict[str, Any]:
        """The episode so far as JSON-serialisable data (see :meth:`GameRules.record`)."""
        return self.rules.record()

    def describe(self) -> dict[str, Any]:
        return self.rules.describe()

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() was called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        text = self.rules.render_text()
        if self.render_mode == "human":
            sys.stdout.write(text + "\n")
            return None
        return text

    def close(self) -> None:
        pass


class RulesAECEnv(_RulesEnv, AECEnv):
    """An AEC env that plays a :class:`GameRules`."""

    metadata: dict[str, Any] = {"name": "rules_env", "render_modes": ["human", "ansi"], "is_parallelizable": False}

    def __init__(self, rules: GameRules, render_mode: str | None = None) -> None:
        super().__init__(rules, render_mode)
        self._queue: list[str] = []
        self._pending: dict[str, Any] = {}

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self._reset_rules(seed)
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
        self._check_agent(agent)
        return self._observe(agent)

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        action = self.rules.check_action(agent, plain_action(action))  # raises before anything changes
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


class RulesParallelEnv(_RulesEnv, ParallelEnv):
    """A Parallel env that plays a simultaneous-move :class:`GameRules`.

    Every live agent sends an action each step, as PettingZoo's Parallel API asks. Where only some
    of them move in a step (one red agent per round in ``red_team_v0``'s tabular mode), the others'
    actions are not used.
    """

    metadata: dict[str, Any] = {"name": "rules_env", "render_modes": ["human", "ansi"], "is_parallelizable": True}

    def __init__(self, rules: GameRules, render_mode: str | None = None) -> None:
        if rules.game_info.dynamics is not Dynamics.SIMULTANEOUS:
            raise ValueError(f"{self.metadata['name']} has no Parallel form with these settings: "
                             f"{type(rules).__name__} is a sequential game; use its AEC env (env())")
        super().__init__(rules, render_mode)
        self.agents: list[str] = []

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._reset_rules(seed)
        self.agents = list(self.possible_agents)
        observations = {agent: self._observe(agent) for agent in self.agents}
        infos = {agent: self.rules.agent_info(agent) for agent in self.agents}
        return observations, infos

    def step(self, actions: Mapping[str, Any]):
        if not isinstance(actions, Mapping):
            raise ValueError(f"a Parallel step expects a dict {{agent: action}} for the live agents {self.agents}; "
                             f"got {type(actions).__name__}: {actions!r:.80}")
        if not self.agents:
            raise ValueError("step() called on a finished episode; call reset() first")
        acting = self.rules.acting_agents()
        for agent in actions:
            if agent not in self.agents:
                self.rules.check_turn(agent)  # raises: out of turn
        missing = [agent for agent in acting if agent not in actions]
        if missing:
            raise ValueError(f"agent {missing[0]!r} must act this step but has no action; expected actions for {list(acting)}")
        checked = {agent: self.rules.check_action(agent, plain_action(actions[agent])) for agent in acting}
        step_rewards = self.rules.apply(checked)
        terminal, truncated = self.rules.is_terminal(), self.rules.is_truncated()
        observations = {agent: self._observe(agent) for agent in self.agents}
        rewards = {agent: float(step_rewards.get(agent, 0.0)) for agent in self.agents}
        terminations = {agent: bool(terminal) for agent in self.agents}
        truncations = {agent: bool(truncated and not terminal) for agent in self.agents}
        infos = {agent: self.rules.agent_info(agent) for agent in self.agents}
        if terminal or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos
