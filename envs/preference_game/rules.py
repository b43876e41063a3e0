"""Rules of the preference game (no PettingZoo here).

Two symmetric players answer the same prompt at the same time; a preference judge returns
``p = P(y_0 > y_1 | x)`` and the payoffs are ``p - 1/2`` for ``player_0`` and ``1/2 - p`` for
``player_1`` (zero-sum). In tabular mode the answers are indices into a finite answer set and
``p = P[a_0, a_1]`` from the scenario's preference matrix; in language mode the answers are text
and the judge is any :class:`~aligngames.judges.PreferenceJudge`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.datasets import preference_prompts
from aligngames.envs.adapter import GameRules
from aligngames.envs.preference_game import render
from aligngames.envs.preference_game.scenarios import Scenario
from aligngames.game import BudgetConstraint, Dynamics, GameInfo, MatrixGame, Utility
from aligngames.judges import MatrixJudge, PreferenceJudge
from aligngames.text import check_discrete_action, check_text_action, observation_space, sanitize, text_space

AGENTS = ("player_0", "player_1")
MODES = ("tabular", "language")

#: observation["observation"] = [seat, episode over (0/1), own payoff (0 until the end)]
NUM_FEATURES = 3


class PreferenceGameRules(GameRules):
    """State and payoffs of one preference game.

    Args:
        mode: ``"tabular"`` (``Discrete`` answers from ``scenario``) or ``"language"`` (text answers).
        judge: the preference judge (language mode); tabular mode judges with the scenario's matrix.
        scenario: the answer set and preference matrix (tabular mode).
        prompts: the prompts to draw from (language mode).
        max_answer_length: the longest answer in characters (language mode).
        budget: tabular mode: a bound on the expected cost of a strategy (solvers enforce it; infos report costs).
    """

    game_info = GameInfo(2, Utility.ZERO_SUM, Dynamics.SIMULTANEOUS, symmetric=True)
    possible_agents = AGENTS

    def __init__(self, mode: str, *, judge: PreferenceJudge | None, scenario: Scenario | None,
                 prompts: tuple[str, ...], max_answer_length: int, budget: BudgetConstraint | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        self.mode = mode
        self.scenario = scenario
        self.budget = budget
        if mode == "tabular":
            if scenario is None:
                raise ValueError("tabular mode needs a scenario")
            self.judge: PreferenceJudge = MatrixJudge(scenario.answers, scenario.preferences, name=scenario.name)
            action = spaces.Discrete(len(scenario.answers))
            self.prompts: tuple[str, ...] = ("Choose an answer: " + ", ".join(
                f"{i}={name}" for i, name in enumerate(scenario.answers)),)
            transcript_length = 400 + 40 * len(scenario.answers)
        else:
            if judge is None:
                raise ValueError("language mode needs a judge")
            if not prompts:
                raise ValueError("language mode needs at least one prompt")
            if max_answer_length < 1:
                raise ValueError(f"max_answer_length must be >= 1, got {max_answer_length}")
            self.judge = judge
            self.prompts = tuple(sanitize(p, 500) for p in prompts)
            action = text_space(max_answer_length)
            transcript_length = 2 * max_answer_length + 700
        self.max_answer_length = max_answer_length
        self.transcript_length = transcript_length
        self.action_spaces = {agent: action for agent in AGENTS}
        self.observation_spaces = {
            agent: observation_space(NUM_FEATURES, transcript_length, low=-1.0, high=1.0) for agent in AGENTS
        }
        self.prompt = ""
        self.answers: dict[str, Any] = {}
        self.preference: float | None = None

    # --- spaces ---------------------------------------------------------------------------------
    # --- dynamics -------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self.prompt = self.prompts[int(rng.integers(len(self.prompts)))]
        self.answers = {}
        self.preference = None

    def acting_agents(self) -> tuple[str, ...]:
        return () if self.preference is not None else AGENTS

    def check_action(self, agent: str, action: Any) -> Any:
        self.check_turn(agent)
        space = self.action_spaces[agent]
        if self.mode == "tabular":
            return check_discrete_action(action, space, agent)
        return check_text_action(action, space, agent)

    def answer_text(self, agent: str) -> str:
        answer = self.answers[agent]
        return self.scenario.answers[answer] if self.mode == "tabular" else answer

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        self.answers = dict(actions)
        first, second = self.answer_text("player_0"), self.answer_text("player_1")
        probability = float(self.judge.compare([self.prompt], [first], [second])[0])
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"judge {self.judge.identity!r} returned P = {probability}, outside [0, 1]")
        self.preference = probability
        return self.payoffs()

    def payoffs(self) -> dict[str, float]:
        """``{player_0: p - 1/2, player_1: 1/2 - p}`` once both have answered, else zeros."""
        if self.preference is None:
            return dict.fromkeys(AGENTS, 0.0)
        return {"player_0": self.preference - 0.5, "player_1": 0.5 - self.preference}

    def is_terminal(self) -> bool:
        return self.preference is not None

    # --- observations ---------------------------------------------------------------------------
    def observe(self, agent: str) -> dict[str, Any]:
        seat = AGENTS.index(agent)
        features = np.array([seat, float(self.is_terminal()), self.payoffs()[agent]], dtype=np.float32)
        return {"observation": features, "transcript": self.transcript()}

    def transcript(self) -> str:
        """What every player sees: the prompt, then (after the judge) both answers and the verdict."""
        lines = [f"Prompt: {self.prompt}"]
        if self.preference is not None:
            for agent in AGENTS:
                lines.append(f"{agent}: {self.answer_text(agent)}")
            lines.append(f"Judge: P(player_0 > player_1) = {self.preference:.3f}")
        return sanitize("\n\n".join(lines), self.transcript_length)

    def agent_info(self, agent: str) -> dict[str, Any]:
        if self.preference is None:
            return {}
        info: dict[str, Any] = {"preference": self.preference}
        if self.budget is not None:
            info["cost"] = float(self.budget.costs[self.answers[agent]])
        return info

    def render_text(self) -> str:
        return render.render_text(self)

    def record(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "answers": {agent: self.answer_text(agent) for agent in self.answers},
            "preference": self.preference,
            "payoffs": self.payoffs(),
        }

    def describe(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"mode": self.mode, "judge": self.judge.identity}
        if self.mode == "tabular":
            settings["answers"] = list(self.scenario.answers)
            settings["preferences"] = self.scenario.preferences.tolist()
            if self.budget is not None:
                settings["budget"] = self.budget.to_dict()
        else:
            settings["num_prompts"] = len(self.prompts)
            settings["max_answer_length"] = self.max_answer_length
        return settings

    # --- tabular game -----------------------------------------------------------------------------
    def matrix_game(self) -> MatrixGame:
        """The tabular game as a zero-sum matrix game with row payoffs ``P - 1/2``."""
        if self.mode != "tabular":
            raise ValueError("matrix_game() needs mode='tabular'; language mode has no finite answer set")
        names = (self.scenario.answers, self.scenario.answers)
        return MatrixGame.zero_sum(self.scenario.preferences - 0.5, names, symmetric=True)


def default_prompts() -> tuple[str, ...]:
    return tuple(item.prompt for item in preference_prompts())
