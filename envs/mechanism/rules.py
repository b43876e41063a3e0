"""Rules of ``mechanism_v0`` (no PettingZoo here).

Each round every stakeholder reports at once (a simultaneous game, so there is a Parallel form):

- tabular mode: a threshold problem's report is a point, ``Box(0, 1, (1,))``; a fine-tuning problem's a
  reward vector over the responses, ``Box(-report_bound, report_bound, (num_responses,))``;
- language mode: a message (``Text``). A threshold report is the first number in it (``30%`` reads as
  0.3); a message without a number in [0, 1] abstains. A fine-tuning report rates each response by name
  (:func:`aligngames.text.parse_named_numbers`, ``comply: -1``); an unrated response gets 0 and a rating
  is clipped to ``report_bound``.

The mechanism (:func:`aligngames.envs.mechanism.problems.run`) turns the reports into an outcome and
payments; each stakeholder's reward is its true utility net of its payment. A stakeholder sees its own
preferences only (``info["type"]``), and after each round the outcome, its payment and its utility.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.mechanism.problems import Problem, check_mechanism, run
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_text_action, observation_space, parse_named_numbers, sanitize, text_space

MODES = ("tabular", "language")

_FIRST_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(%?)")


def parse_threshold(text: str) -> float | None:
    """The first number in ``text`` as a point in [0, 1] (``30%`` is 0.3), or ``None`` if it is not one."""
    match = _FIRST_NUMBER.search(text)
    if not match:
        return None
    value = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
    return value if 0.0 <= value <= 1.0 else None


class MechanismRules(GameRules):
    """State and payoffs of one mechanism game.

    Args:
        problem: a threshold or fine-tuning problem.
        mechanism: one of ``problem.mechanisms``.
        mode: ``"tabular"`` or ``"language"``.
        rounds: rounds per episode (the same problem each round).
        report_bound: fine-tuning: the largest reported reward in absolute value (default: 4 times the
            largest true one, at least 1).
        max_message_length: language mode: the longest message.
    """

    def __init__(self, problem: Problem, mechanism: str, mode: str = "tabular", *, rounds: int = 1,
                 report_bound: float | None = None, max_message_length: int = 200) -> None:
        check_mechanism(problem, mechanism)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        if max_message_length < 1:
            raise ValueError(f"max_message_length must be >= 1, got {max_message_length}")
        self.problem, self.mechanism, self.mode, self.rounds = problem, mechanism, mode, rounds
        self.possible_agents = problem.stakeholders
        self.game_info = GameInfo(problem.num_stakeholders, Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS)
        tuning = problem.kind == "fine_tuning"
        self.report_size = len(problem.responses) if tuning else 1
        if report_bound is None:
            report_bound = max(1.0, 4.0 * float(np.abs(problem.rewards).max())) if tuning else 1.0
        if not (np.isfinite(report_bound) and report_bound > 0):
            raise ValueError(f"report_bound must be a finite number > 0, got {report_bound}")
        self.report_bound = float(report_bound)
        self.max_message_length = max_message_length
        if mode == "language":
            report_space = text_space(max_message_length)
        elif tuning:
            report_space = spaces.Box(np.float32(-self.report_bound), np.float32(self.report_bound),
                                      shape=(self.report_size,), dtype=np.float32)
        else:
            report_space = spaces.Box(np.float32(0.0), np.float32(1.0), shape=(1,), dtype=np.float32)
        self.action_spaces = dict.fromkeys(self.possible_agents, report_space)
        self.num_features = 4 + 2 * self.report_size  # round, over, own type, last outcome, payment, utility
        names = sum(len(name) + 4 for name in (*problem.stakeholders, *getattr(problem, "responses", ())))
        self.transcript_length = 900 + 4 * names + rounds * (200 + 30 * self.report_size + max_message_length)
        self.observation_spaces = {agent: observation_space(self.num_features, self.transcript_length)
                                   for agent in self.possible_agents}
        self.round = 0
        self.history: list[dict[str, Any]] = []

    # --- dynamics -------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self.round = 0
        self.history = []

    def is_terminal(self) -> bool:
        return self.round >= self.rounds

    def acting_agents(self) -> tuple[str, ...]:
        return () if self.is_terminal() else self.possible_agents

    def check_action(self, agent: str, action: Any) -> Any:
        self.check_turn(agent)
        space = self.action_spaces[agent]
        if self.mode == "language":
            return check_text_action(action, space, agent)
        try:
            report = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"agent {agent!r}: a report is {self._report_words()}, got {type(action).__name__}: "
                             f"{action!r:.80}") from None
        if report.shape != space.shape:
            raise ValueError(f"agent {agent!r}: a report is {self._report_words()} (shape {space.shape}), "
                             f"got shape {report.shape}")
        if not np.isfinite(report).all() or (report < space.low).any() or (report > space.high).any():
            raise ValueError(f"agent {agent!r}: report entries must be finite and in [{space.low[0]:g}, {space.high[0]:g}], "
                             f"got {report.tolist()}")
        return report

    def _report_words(self) -> str:
        if self.problem.kind == "threshold":
            return "one threshold in [0, 1]"
        return f"one reward per response {list(self.problem.responses)}"

    def _read(self, message: str) -> np.ndarray:
        if self.problem.kind == "threshold":
            value = parse_threshold(message)
            return np.array([np.nan if value is None else value])
        ratings = parse_named_numbers(message, self.problem.responses)
        values = np.array([0.0 if rating is None else rating for rating in ratings.values()])
        return np.clip(values, -self.report_bound, self.report_bound)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        messages = dict(actions) if self.mode == "language" else None
        reports = np.array([self._read(actions[agent]) if messages else actions[agent] for agent in self.possible_agents],
                           dtype=np.float64)
        result = run(self.problem, self.mechanism, reports)
        rewards = {agent: float(u) for agent, u in zip(self.possible_agents, result.utilities)}
        self.history.append({
            "round": self.round,
            "reports": {agent: [None if np.isnan(v) else float(v) for v in report]
                        for agent, report in zip(self.possible_agents, reports)},
            "messages": messages,
            **result.to_dict(self.problem),
        })
        self.round += 1
        return rewards

    # --- observations ---------------------------------------------------------------------------
    def own_type(self, agent: str) -> np.ndarray:
        index = self.possible_agents.index(agent)
        if self.problem.kind == "threshold":
            return self.problem.peaks[index:index + 1]
        return self.problem.rewards[index]

    def features(self, agent: str) -> np.ndarray:
        """``[round, over, own type (peak, or rewards), last outcome (threshold, or policy), last payment,
        last utility]``."""
        outcome, payment, utility = np.zeros(self.report_size), 0.0, 0.0
        if self.history:
            last = self.history[-1]
            outcome = np.atleast_1d(np.asarray(
                last["outcome"] if self.problem.kind == "threshold" else list(last["outcome"].values()), dtype=np.float64))
            payment, utility = last["payments"][agent], last["utilities"][agent]
        return np.concatenate([[self.round, float(self.is_terminal())], self.own_type(agent), outcome,
                               [payment, utility]]).astype(np.float32)

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent),
                "transcript": sanitize(self.transcript(agent), self.transcript_length)}

    def transcript(self, agent: str) -> str:
        problem = self.problem
        lines = [f"Mechanism game ({problem.name}, mechanism {self.mechanism}), round {min(self.round + 1, self.rounds)} "
                 f"of {self.rounds}. You are {agent}; the stakeholders are {', '.join(problem.stakeholders)}."]
        if problem.kind == "threshold":
            rule = "the lower median" if self.mechanism == "median" else "the average"
            lines.append(f"Everyone reports a refusal threshold in [0, 1]; the outcome is {rule} of the reports.")
            lines.append(f"Your ideal threshold is {self.own_type(agent)[0]:.3f}; the closer the outcome, the better "
                         f"({problem.loss} loss).")
        else:
            payments = "and pays a VCG (Clarke pivot) charge" if self.mechanism == "vcg" else "with no payments"
            lines.append(f"Everyone reports a reward for each response ({', '.join(problem.responses)}); the policy is "
                         f"trained as pi_ref * exp(sum of reports / {problem.beta:g}) {payments}.")
            lines.append("Your true rewards: " + ", ".join(f"{r} {v:g}" for r, v in zip(problem.responses, self.own_type(agent))) + ".")
        for entry in self.history:
            outcome = (f"{entry['outcome']:.3f}" if problem.kind == "threshold"
                       else ", ".join(f"{r} {p:.3f}" for r, p in entry["outcome"].items()))
            lines.append(f"  round {entry['round'] + 1}: outcome {outcome}; your payment {entry['payments'][agent]:.3f}, "
                         f"your utility {entry['utilities'][agent]:+.3f}")
        if self.is_terminal():
            lines.append("The game is over.")
        elif self.mode == "language":
            lines.append("Write your report: a threshold such as 0.3." if problem.kind == "threshold"
                         else "Write your report: a rating for each response, such as " +
                         ", ".join(f"{r}: 0" for r in problem.responses) + ".")
        else:
            lines.append(f"Report {self._report_words()}.")
        return "\n".join(lines)

    def agent_info(self, agent: str) -> dict[str, Any]:
        if agent not in self.acting_agents():
            return {}
        info: dict[str, Any] = {"kind": self.problem.kind, "mechanism": self.mechanism, "round": self.round,
                                "type": self.own_type(agent).tolist()}
        if self.problem.kind == "fine_tuning":
            info.update(responses=list(self.problem.responses), report_bound=self.report_bound)
        return info

    # --- accounts -------------------------------------------------------------------------------
    def returns(self) -> dict[str, float]:
        return {agent: float(sum(entry["utilities"][agent] for entry in self.history)) for agent in self.possible_agents}

    def render_text(self) -> str:
        lines = [f"=== mechanism_v0 ({self.mode}, {self.problem.name}, {self.mechanism}) round "
                 f"{min(self.round + 1, self.rounds)} of {self.rounds}"]
        for entry in self.history:
            outcome = (f"{entry['outcome']:.4f}" if self.problem.kind == "threshold"
                       else ", ".join(f"{r} {p:.3f}" for r, p in entry["outcome"].items()))
            lines.append(f"  round {entry['round'] + 1}: reports {entry['reports']}; outcome {outcome}; "
                         f"payments {', '.join(f'{a} {p:.3f}' for a, p in entry['payments'].items())}")
        returns = self.returns()
        lines.append("returns: " + ", ".join(f"{agent} {value:+.4g}" for agent, value in returns.items()))
        return "\n".join(lines)

    def record(self) -> dict[str, Any]:
        return {"problem": self.problem.name, "mechanism": self.mechanism, "mode": self.mode,
                "rounds": [dict(entry) for entry in self.history], "returns": self.returns()}

    def describe(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "mode": self.mode, "rounds": self.rounds,
                "report_bound": self.report_bound, "problem": self.problem.to_dict()}
