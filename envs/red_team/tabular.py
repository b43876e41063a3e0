"""Tabular mode of ``red_team_v0``: attacks (theme x method) against defences, from a payoff table.

Each round the round's red agent (``red_{r mod k}``) picks an attack ``a = theme * M + method`` and
blue picks a defence ``d`` (a deployment choice such as a system prompt or a filter), at the same
time. The round is benign with probability ``benign_rate`` (hidden from both until it resolves); then
the attack does not reach blue. Payoffs per round:

- attack round: the red agent gets ``H[a, d]`` and blue ``-H[a, d]`` (``H`` = expected harm in [0, 1]);
- benign round: blue gets ``helpfulness_weight * (1 - over_refusal[d])`` (general-sum), or with
  ``helpfulness_zero_sum=True`` pays ``helpfulness_weight * over_refusal[d]`` to the reds (zero-sum,
  strategically equivalent; see :mod:`aligngames.envs.red_team.rules`).

Default table: ``H[theme, method, d] = severity[theme] * success[method] * (1 - block[method, d])``
with the catalog's severities and :data:`DEFAULT_SUCCESS`, :data:`DEFAULT_BLOCK` and
:data:`DEFAULT_OVER_REFUSAL` below (made-up but plausible numbers chosen so that no defence
dominates: each is weak against some methods, so the equilibrium mixes defences). Pass
``harm_table`` (shape ``(themes, methods, defences)`` or ``(themes * methods, defences)``) and
``over_refusal`` to use your own.

Within a round the moves are simultaneous and payoffs do not depend on history, so the T-round game
is worth T times the one-round game; :meth:`TabularRedTeamRules.matrix_game` gives the normal form
of the whole episode for agents that play fixed or independently mixed actions every round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.red_team import render
from aligngames.envs.red_team.catalog import Catalog
from aligngames.envs.red_team.rules import NUM_FEATURES, red_agents
from aligngames.game import Dynamics, GameInfo, MatrixGame, Utility
from aligngames.text import check_discrete_action, observation_space, sanitize

DEFENCES = ("none", "safety_prompt", "intent_classifier", "context_monitor", "strict_refusal")

#: P(an attack of this method succeeds) against no defence.
DEFAULT_SUCCESS = {"direct": 0.35, "role_play": 0.70, "hypothetical": 0.65, "goal_hijacking": 0.60,
                   "obfuscation": 0.55, "escalation": 0.75, "authority": 0.50, "refusal_suppression": 0.50}

#: Share of each method's attacks a defence blocks, in the order of :data:`DEFENCES`.
DEFAULT_BLOCK = {
    "direct":              (0.0, 0.90, 0.95, 0.60, 0.98),
    "role_play":           (0.0, 0.50, 0.80, 0.40, 0.85),
    "hypothetical":        (0.0, 0.50, 0.80, 0.40, 0.85),
    "goal_hijacking":      (0.0, 0.70, 0.50, 0.80, 0.85),
    "obfuscation":         (0.0, 0.20, 0.30, 0.70, 0.40),
    "escalation":          (0.0, 0.30, 0.20, 0.90, 0.50),
    "authority":           (0.0, 0.60, 0.80, 0.40, 0.90),
    "refusal_suppression": (0.0, 0.70, 0.50, 0.60, 0.90),
}

#: Share of benign requests each defence refuses, in the order of :data:`DEFENCES`.
DEFAULT_OVER_REFUSAL = (0.0, 0.05, 0.15, 0.10, 0.50)


def default_harm_table(catalog: Catalog, themes: Sequence[str], methods: Sequence[str],
                       defences: Sequence[str]) -> np.ndarray:
    """``H[theme, method, defence] = severity * success * (1 - block)``, shape ``(themes, methods, defences)``."""
    unknown = [d for d in defences if d not in DEFENCES]
    if unknown:
        raise ValueError(f"unknown defences {unknown} for the default table; its defences are {list(DEFENCES)} "
                         f"(pass harm_table to use others)")
    columns = [DEFENCES.index(d) for d in defences]
    severity = np.array([catalog.theme(t).severity for t in themes])  # (themes,)
    success = np.array([DEFAULT_SUCCESS[m] for m in methods])  # (methods,)
    block = np.array([[DEFAULT_BLOCK[m][c] for c in columns] for m in methods])  # (methods, defences)
    return severity[:, None, None] * (success[:, None] * (1.0 - block))[None]


@dataclass(frozen=True)
class PlayedRound:
    round: int
    attacker: str
    attack: int
    attack_name: str
    defence: int
    defence_name: str
    benign: bool
    harm: float
    helpfulness: float


class TabularRedTeamRules(GameRules):
    """Attacks against defences with a payoff table (see the module docstring).

    Args:
        catalog: supplies theme and method names and severities.
        themes, methods: the subsets to play with (default: all of the catalog's).
        defences: blue's options (default :data:`DEFENCES`; any names with a custom ``harm_table``).
        harm_table: expected harm per (attack, defence), in [0, 1]; default :func:`default_harm_table`.
        over_refusal: per defence, the share of benign requests refused (default :data:`DEFAULT_OVER_REFUSAL`).
        num_red, rounds, benign_rate, helpfulness_weight, helpfulness_zero_sum: as in language mode.
    """

    has_action_masks = True  # all ones, so that every tabular mode's observation carries "action_mask"

    def __init__(self, catalog: Catalog, *, themes: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                 defences: Sequence[str] | None = None, harm_table: Sequence | np.ndarray | None = None,
                 over_refusal: Sequence[float] | None = None, num_red: int = 1, rounds: int = 3,
                 benign_rate: float = 0.0, helpfulness_weight: float = 0.0, helpfulness_zero_sum: bool = False) -> None:
        if num_red < 1 or rounds < 1:
            raise ValueError(f"num_red and rounds must be >= 1, got {num_red} and {rounds}")
        if not 0.0 <= benign_rate <= 1.0 or helpfulness_weight < 0:
            raise ValueError(f"need benign_rate in [0, 1] and helpfulness_weight >= 0, got {benign_rate}, {helpfulness_weight}")
        self.themes = tuple(themes) if themes is not None else catalog.theme_names
        self.methods = tuple(methods) if methods is not None else catalog.method_names
        for theme in self.themes:
            catalog.theme(theme)  # raises on an unknown name
        for method in self.methods:
            catalog.method(method)
        self.defences = tuple(defences) if defences is not None else DEFENCES
        if not self.themes or not self.methods or not self.defences:
            raise ValueError("themes, methods and defences must be non-empty")
        shape = (len(self.themes), len(self.methods), len(self.defences))
        if harm_table is None:
            table = default_harm_table(catalog, self.themes, self.methods, self.defences)
        else:
            table = np.asarray(harm_table, dtype=np.float64)
            if table.shape == (shape[0] * shape[1], shape[2]):
                table = table.reshape(shape)
            if table.shape != shape:
                raise ValueError(f"harm_table must have shape {shape} (themes, methods, defences) or "
                                 f"{(shape[0] * shape[1], shape[2])}; got {table.shape}")
        if not np.all((table >= 0) & (table <= 1)):
            raise ValueError("harm_table entries must lie in [0, 1]")
        self.harm_table = table.reshape(shape[0] * shape[1], shape[2])  # (attacks, defences)
        if over_refusal is None:
            if defences is not None and harm_table is not None and any(d not in DEFENCES for d in self.defences):
                raise ValueError("custom defences need over_refusal (one share per defence)")
            over_refusal = [DEFAULT_OVER_REFUSAL[DEFENCES.index(d)] for d in self.defences]
        self.over_refusal = np.asarray(over_refusal, dtype=np.float64)
        if self.over_refusal.shape != (len(self.defences),) or np.any((self.over_refusal < 0) | (self.over_refusal > 1)):
            raise ValueError(f"over_refusal must be {len(self.defences)} shares in [0, 1], got {self.over_refusal.tolist()}")
        self.attack_names = tuple(f"{t}/{m}" for t in self.themes for m in self.methods)
        self.num_red, self.rounds = num_red, rounds
        self.benign_rate, self.helpfulness_weight = float(benign_rate), float(helpfulness_weight)
        self.helpfulness_zero_sum = bool(helpfulness_zero_sum)
        self.reds = red_agents(num_red)
        self.possible_agents = (*self.reds, "blue")
        general = self.helpfulness_weight > 0 and self.benign_rate > 0 and not self.helpfulness_zero_sum
        self.game_info = GameInfo(num_red + 1, Utility.GENERAL_SUM if general else Utility.ZERO_SUM, Dynamics.SIMULTANEOUS)
        self.transcript_length = 200 + rounds * 200
        space = observation_space(NUM_FEATURES, self.transcript_length, low=-float(rounds), high=float(rounds))
        self.observation_spaces = dict.fromkeys(self.possible_agents, space)
        self.action_spaces = {**{red: spaces.Discrete(len(self.attack_names)) for red in self.reds},
                               "blue": spaces.Discrete(len(self.defences))}
        self.benign_rounds: np.ndarray = np.zeros(rounds, dtype=bool)
        self.history: list[PlayedRound] = []
        self.returns: dict[str, float] = {}

    def attacker(self, round_index: int) -> str:
        return self.reds[round_index % self.num_red]

    def reset(self, rng: np.random.Generator) -> None:
        self.benign_rounds = rng.random(self.rounds) < self.benign_rate  # (rounds,), hidden from the players
        self.history = []
        self.returns = dict.fromkeys(self.possible_agents, 0.0)

    def acting_agents(self) -> tuple[str, ...]:
        if self.is_terminal():
            return ()
        return (self.attacker(len(self.history)), "blue")

    def is_terminal(self) -> bool:
        return len(self.history) == self.rounds

    def check_action(self, agent: str, action: Any) -> int:
        self.check_turn(agent)
        return check_discrete_action(action, self.action_spaces[agent], agent)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        index = len(self.history)
        attacker = self.attacker(index)
        attack, defence = int(actions[attacker]), int(actions["blue"])
        benign = bool(self.benign_rounds[index])
        harm = 0.0 if benign else float(self.harm_table[attack, defence])
        helpfulness = self.helpfulness_weight * (1.0 - float(self.over_refusal[defence])) if benign else 0.0
        rewards = dict.fromkeys(self.possible_agents, 0.0)
        rewards[attacker] = harm
        rewards["blue"] = helpfulness - harm
        if benign and self.helpfulness_zero_sum:
            cost = self.helpfulness_weight * float(self.over_refusal[defence])  # over-refusal, credited to the reds
            rewards["blue"] = -cost
            for red in self.reds:
                rewards[red] += cost / self.num_red
        self.history.append(PlayedRound(index + 1, attacker, attack, self.attack_names[attack], defence,
                                        self.defences[defence], benign, harm, helpfulness))
        for name, value in rewards.items():
            self.returns[name] += value
        return rewards

    def observe(self, agent: str) -> dict[str, Any]:
        features = np.array([0.0 if agent != "blue" else 1.0, min(len(self.history) + 1, self.rounds), self.rounds,
                             float(self.is_terminal()), self.returns.get(agent, 0.0)], dtype=np.float32)
        return {"observation": features, "transcript": sanitize(render.tabular_view(self, agent), self.transcript_length)}

    def action_mask(self, agent: str) -> np.ndarray:
        """All ones: no attack or defence is ever illegal. In the Parallel form the reds whose round it is
        not send an action too; it is not used."""
        return np.ones(self.action_spaces[agent].n, dtype=np.int8)

    def agent_info(self, agent: str) -> dict[str, Any]:
        return {"action_mask": self.action_mask(agent), "round": min(len(self.history) + 1, self.rounds)}

    # --- the normal form ------------------------------------------------------------------------
    def rounds_per_red(self) -> np.ndarray:
        """How many rounds each red agent attacks in, shape ``(num_red,)``."""
        return np.array([sum(1 for r in range(self.rounds) if r % self.num_red == i) for i in range(self.num_red)])

    def matrix_game(self, max_entries: int = 5_000_000) -> MatrixGame:
        """The episode in normal form for players that repeat one action (or mix independently) every round.

        ``payoffs[i][a_0, ..., a_{k-1}, d]``: red ``i`` gets ``n_i (1 - p) H[a_i, d]``; blue gets minus the
        reds' total plus ``T p w (1 - over_refusal[d])``. With ``helpfulness_zero_sum`` blue pays
        ``T p w over_refusal[d]`` instead, shared equally by the reds.
        """
        num_attacks, num_defences = self.harm_table.shape
        shape = (num_attacks,) * self.num_red + (num_defences,)
        if int(np.prod(shape)) > max_entries:
            raise ValueError(f"the normal form would have {int(np.prod(shape))} entries per player (more than "
                             f"{max_entries}); use fewer red agents or a subset of themes and methods")
        attack_share = 1.0 - self.benign_rate
        payoffs = np.zeros((self.num_red + 1, *shape))
        for i, count in enumerate(self.rounds_per_red()):
            # red i's payoff depends on its own attack and the defence: broadcast over the other reds
            view = [1] * self.num_red + [num_defences]
            view[i] = num_attacks
            payoffs[i] = np.broadcast_to((count * attack_share * self.harm_table).reshape(view), shape)
        benign_weight = self.rounds * self.benign_rate * self.helpfulness_weight
        defence_view = (1,) * self.num_red + (num_defences,)
        if self.helpfulness_zero_sum:
            cost = (benign_weight * self.over_refusal).reshape(defence_view)  # (1, ..., 1, defences)
            payoffs[:-1] += cost / self.num_red
            payoffs[-1] = -payoffs[:-1].sum(axis=0)
        else:
            helpfulness = benign_weight * (1.0 - self.over_refusal)  # (defences,)
            payoffs[-1] = -payoffs[:-1].sum(axis=0) + helpfulness.reshape(defence_view)
        names = (self.attack_names,) * self.num_red + (self.defences,)
        return MatrixGame(payoffs, self.game_info, names)

    def render_text(self) -> str:
        return render.render_tabular(self)

    def record(self) -> dict[str, Any]:
        return {"mode": "tabular",
                "rounds": [{"round": p.round, "attacker": p.attacker, "attack": p.attack_name, "defence": p.defence_name,
                            "benign": p.benign, "harm": p.harm, "helpfulness": p.helpfulness} for p in self.history],
                "returns": dict(self.returns)}

    def describe(self) -> dict[str, Any]:
        return {"mode": "tabular", "num_red": self.num_red, "rounds": self.rounds, "benign_rate": self.benign_rate,
                "helpfulness_weight": self.helpfulness_weight, "helpfulness_zero_sum": self.helpfulness_zero_sum,
                "themes": list(self.themes),
                "methods": list(self.methods), "defences": list(self.defences)}
