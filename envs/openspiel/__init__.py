"""``openspiel_v0``: any turn-based OpenSpiel game as a PettingZoo AEC env, and its exact tabular form.

``aligngames.make("openspiel_v0", game="kuhn_poker")`` loads the game with ``pyspiel.load_game`` (a game
string with parameters works too: ``"leduc_poker(players=2)"``). Seats are ``player_0 .. player_{n-1}``;
actions are ``Discrete(num_distinct_actions)`` with the legal ones in ``"action_mask"`` (observation and
``infos``); the observation is the acting player's information-state tensor (OpenSpiel's
``information_state_tensor``, else ``observation_tensor``) under ``"observation"``. Chance nodes are resolved
by the env's RNG from ``chance_outcomes()``, so ``reset(seed=...)`` fixes every deal. Simultaneous-move games
are played through ``pyspiel.convert_to_turn_based``. Rewards are OpenSpiel's ``state.rewards()`` after every
move (the returns, for games that pay at the end). ``env.unwrapped.game`` is the OpenSpiel game, whose reduced
normal form :func:`aligngames.solvers.equilibrium.openspiel_bridge.from_openspiel` gives the library's solvers
(for games small enough to enumerate); :mod:`aligngames.solvers.equilibrium.sequence_form` solves two-player
zero-sum ones in sequence form.

Example::

    import aligngames
    from aligngames.solvers.equilibrium import nash, openspiel_bridge
    env = aligngames.make("openspiel_v0", game="kuhn_poker")
    game = openspiel_bridge.from_openspiel(env.unwrapped.game)    # the reduced normal form
    print(nash.solve_zero_sum(game).value)                          # -1/18: the first player's value
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyspiel
from gymnasium import spaces
from pettingzoo.utils import wrappers

from aligngames.envs.adapter import GameRules, RulesAECEnv
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action

NAME = "openspiel_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"game": "kuhn_poker"},
    {"game": "tic_tac_toe"},
    {"game": "leduc_poker"},
    {"game": "matrix_rps"},
    {"game": "kuhn_poker(players=3)"},
)

_UTILITY = {pyspiel.GameType.Utility.ZERO_SUM: Utility.ZERO_SUM, pyspiel.GameType.Utility.CONSTANT_SUM: Utility.CONSTANT_SUM,
            pyspiel.GameType.Utility.GENERAL_SUM: Utility.GENERAL_SUM, pyspiel.GameType.Utility.IDENTICAL: Utility.IDENTICAL}


def load(game: str | pyspiel.Game) -> pyspiel.Game:
    """The game, turn-based (simultaneous games through ``convert_to_turn_based``); a clear error for a bad name."""
    if isinstance(game, str):
        try:
            loaded = pyspiel.load_game(game)
        except pyspiel.SpielError as error:
            raise ValueError(f"game: OpenSpiel cannot load {game!r} ({error}); names: pyspiel.registered_names()") from error
    elif isinstance(game, pyspiel.Game):
        loaded = game
    else:
        raise ValueError(f"game must be an OpenSpiel game string or a pyspiel.Game, got {type(game).__name__}")
    if loaded.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        loaded = pyspiel.convert_to_turn_based(loaded)
    return loaded


class OpenSpielRules(GameRules):
    """The rules of a turn-based OpenSpiel game (see the module docstring)."""

    has_action_masks = True

    def __init__(self, game: str | pyspiel.Game) -> None:
        self.game = load(game)
        self.name = game if isinstance(game, str) else str(game)
        kind = self.game.get_type()
        self.tensor = "information_state" if kind.provides_information_state_tensor else \
            "observation" if kind.provides_observation_tensor else None
        if self.tensor is None:
            raise ValueError(f"game {self.name!r} provides neither an information-state nor an observation tensor")
        players = self.game.num_players()
        self.possible_agents = tuple(f"player_{p}" for p in range(players))
        utility = _UTILITY[kind.utility]
        self.game_info = GameInfo(players, utility, Dynamics.SEQUENTIAL,
                                  constant_sum=float(self.game.utility_sum()) if utility is Utility.CONSTANT_SUM else 0.0)
        shape = tuple(self.game.information_state_tensor_shape() if self.tensor == "information_state"
                      else self.game.observation_tensor_shape())
        observation = spaces.Dict({"observation": spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float32)})
        self.observation_spaces = dict.fromkeys(self.possible_agents, observation)
        self.action_spaces = dict.fromkeys(self.possible_agents, spaces.Discrete(self.game.num_distinct_actions()))
        self.state: Any = None
        self._rng: np.random.Generator | None = None
        self._history: list[dict[str, Any]] = []

    # --- the episode ----------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.state = self.game.new_initial_state()
        self._history = []
        self._resolve_chance()

    def _resolve_chance(self) -> None:
        while self.state.is_chance_node():
            outcomes, probabilities = zip(*self.state.chance_outcomes())
            action = int(outcomes[int(self._rng.choice(len(outcomes), p=np.asarray(probabilities) / sum(probabilities)))])
            self._history.append({"player": "chance", "action": self.state.action_to_string(pyspiel.PlayerId.CHANCE, action)})
            self.state.apply_action(action)

    def acting_agents(self) -> tuple[str, ...]:
        if self.state.is_terminal():
            return ()
        return (f"player_{self.state.current_player()}",)

    def action_mask(self, agent: str) -> np.ndarray:
        mask = np.zeros(self.game.num_distinct_actions(), dtype=np.int8)
        if agent in self.acting_agents():
            mask[self.state.legal_actions()] = 1
        return mask

    def agent_info(self, agent: str) -> dict[str, Any]:
        return {"action_mask": self.action_mask(agent)}

    def check_action(self, agent: str, action: Any) -> int:
        self.check_turn(agent)
        return check_discrete_action(action, self.action_spaces[agent], agent, self.action_mask(agent))

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        ((agent, action),) = actions.items()
        player = int(agent.removeprefix("player_"))
        self._history.append({"player": agent, "action": self.state.action_to_string(player, action)})
        self.state.apply_action(action)
        self._resolve_chance()
        return {seat: float(reward) for seat, reward in zip(self.possible_agents, self.state.rewards())}

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        player = int(agent.removeprefix("player_"))
        values = self.state.information_state_tensor(player) if self.tensor == "information_state" \
            else self.state.observation_tensor(player)
        return {"observation": np.asarray(values, dtype=np.float32).reshape(self.observation_spaces[agent]["observation"].shape)}

    def is_terminal(self) -> bool:
        return self.state.is_terminal()

    def render_text(self) -> str:
        return f"{self.name}\n{self.state}"

    def record(self) -> dict[str, Any]:
        return {"game": self.name, "moves": list(self._history),
                "returns": dict(zip(self.possible_agents, map(float, self.state.returns())))}

    def describe(self) -> dict[str, Any]:
        return {"game": self.name, "observation": f"{self.tensor}_tensor"}


def make_rules(game: str = "kuhn_poker") -> OpenSpielRules:
    """The rules of OpenSpiel game ``game`` (a name, optionally with parameters)."""
    return OpenSpielRules(game)


class raw_env(RulesAECEnv):
    """AEC version: the players in OpenSpiel's turn order, chance resolved by the env."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    @property
    def game(self) -> pyspiel.Game:
        """The (turn-based) OpenSpiel game."""
        return self.rules.game


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "OpenSpielRules", "env", "load", "make_rules", "raw_env"]
