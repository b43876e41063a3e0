"""Rules of ``amplification_v0`` (no PettingZoo here).

One episode answers one root task of depth ``depth`` (an :class:`~aligngames.envs.amplification.problems.
AmplificationProblem`) by amplifying the top ``levels`` levels of its tree over the distilled model
``M_{depth - levels}``:

- the env draws the true answers of the ``b ** levels`` frontier subtasks (uniform independent bits for
  ``parity`` and ``majority``; for ``vote`` one uniform root bit that every subtask shares) and computes
  the true answers above them by the rule;
- the ``model`` seat plays ``M_{depth - levels}``: it answers each frontier subtask in turn
  (``Discrete(2)``), seeing a private signal, the true answer flipped with probability
  ``1 - a_{depth - levels}`` (the distilled model's knowledge, its accuracy from the recursion);
- the ``overseer`` then answers every task above the frontier, bottom-up (``Discrete(2)``), seeing the
  answers to its subtasks; its answer is flipped with probability ``overseer_error`` (its own slips);
- both seats get 1 if the root answer is right, else 0 (identical interest).

An honest model (it reports its signal) and an overseer that combines by the rule reach the root accuracy
:meth:`~aligngames.envs.amplification.problems.AmplificationProblem.amplified_accuracy` (``levels``): with
``levels = depth`` that is full amplification (HCH over ``M_0``); the costs are ``b ** levels`` model calls and
``(b ** levels - 1) / (b - 1)`` overseer calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.amplification.problems import MAX_FRONTIER, AmplificationProblem, combine
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action, observation_space, sanitize

AGENTS = ("overseer", "model")


class AmplificationRules(GameRules):
    """State and payoffs of one amplified answer (see the module docstring).

    Args:
        problem: the task tree and the error rates.
        levels: how many levels the overseer amplifies, in ``1..depth`` (``b ** levels <= 64``).
    """

    game_info = GameInfo(2, Utility.IDENTICAL, Dynamics.SEQUENTIAL)
    possible_agents = AGENTS

    def __init__(self, problem: AmplificationProblem, *, levels: int = 1) -> None:
        if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or not 1 <= levels <= problem.depth:
            raise ValueError(f"levels must be an int in 1..{problem.depth} (the depth), got {levels!r}")
        frontier = problem.branching ** int(levels)
        if frontier > MAX_FRONTIER:
            raise ValueError(f"levels={levels} with branching={problem.branching} gives {frontier} frontier subtasks; "
                             f"the env plays at most {MAX_FRONTIER} (lower levels)")
        self.problem, self.levels, self.frontier = problem, int(levels), frontier
        self.frontier_accuracy = float(problem.distilled_accuracies()[problem.depth - self.levels])
        self.exact_accuracy = problem.amplified_accuracy(self.levels)
        b = problem.branching
        # features: [over, task depth, node index, signal (-1: none), answers to the node's subtasks (-1: none) x b]
        self.num_features = 4 + b
        self.transcript_length = 600 + 12 * frontier + 40 * self.levels
        high = float(max(frontier, problem.depth, 1))
        space = observation_space(self.num_features, self.transcript_length, low=-1.0, high=high)
        self.observation_spaces = dict.fromkeys(AGENTS, space)
        self.action_spaces = {agent: spaces.Discrete(2) for agent in AGENTS}
        self._rng = np.random.default_rng(0)
        self.truths: list[list[int]] = []   # truths[level][node]; level 0 = frontier, level ``levels`` = root
        self.answers: list[list[int]] = []  # the same shape, filled as the seats answer
        self.signals: list[int] = []
        self.slips: list[bool] = []

    # --- dynamics -------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        problem = self.problem
        if problem.rule == "vote":
            frontier = [int(rng.integers(2))] * self.frontier
        else:
            frontier = rng.integers(2, size=self.frontier).tolist()
        self.truths = [list(map(int, frontier))]
        for _ in range(self.levels):
            below = self.truths[-1]
            b = problem.branching
            self.truths.append([combine(problem.rule, below[i:i + b]) for i in range(0, len(below), b)])
        wrong = rng.random(self.frontier) >= self.frontier_accuracy
        self.signals = [int(bit ^ int(miss)) for bit, miss in zip(frontier, wrong)]
        self.answers = [[] for _ in range(self.levels + 1)]
        self.slips = []

    def _position(self) -> tuple[int, int] | None:
        """``(level, node)`` of the next task to answer, or None when the root is answered."""
        for level, answers in enumerate(self.answers):
            if len(answers) < len(self.truths[level]):
                return level, len(answers)
        return None

    def is_terminal(self) -> bool:
        return self._position() is None

    def acting_agents(self) -> tuple[str, ...]:
        position = self._position()
        if position is None:
            return ()
        return ("model",) if position[0] == 0 else ("overseer",)

    def check_action(self, agent: str, action: Any) -> int:
        self.check_turn(agent)
        return check_discrete_action(action, self.action_spaces[agent], agent)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        ((agent, answer),) = actions.items()
        level, _node = self._position()
        if agent == "overseer":
            slip = bool(self._rng.random() < self.problem.overseer_error)
            self.slips.append(slip)
            answer = int(answer) ^ int(slip)
        self.answers[level].append(int(answer))
        return self.payoffs()

    def payoffs(self) -> dict[str, float]:
        if not self.is_terminal():
            return dict.fromkeys(AGENTS, 0.0)
        return dict.fromkeys(AGENTS, 1.0 if self.correct else 0.0)

    @property
    def correct(self) -> bool | None:
        """Whether the root answer is right (None before it is given)."""
        if not self.is_terminal():
            return None
        return self.answers[self.levels][0] == self.truths[self.levels][0]

    # --- observations ---------------------------------------------------------------------------
    def subtask_answers(self) -> list[int]:
        """The answers to the subtasks of the task the overseer answers now (empty for the model)."""
        position = self._position()
        if position is None or position[0] == 0:
            return []
        level, node = position
        b = self.problem.branching
        return list(self.answers[level - 1][node * b:(node + 1) * b])

    def features(self, agent: str) -> np.ndarray:
        position = self._position()
        b = self.problem.branching
        children = np.full(b, -1.0)
        if position is None:
            return np.concatenate([[1.0, float(self.problem.depth), 0.0, -1.0], children]).astype(np.float32)
        level, node = position
        signal = -1.0
        if agent == "model" and level == 0:
            signal = float(self.signals[node])
        if agent == "overseer" and level > 0:
            children[:] = self.subtask_answers()
        task_depth = self.problem.depth - self.levels + level
        return np.concatenate([[0.0, float(task_depth), float(node), signal], children]).astype(np.float32)

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent),
                "transcript": sanitize(self.transcript(agent), self.transcript_length)}

    def transcript(self, agent: str) -> str:
        problem = self.problem
        lines = [f"Amplification game: a task of depth {problem.depth}, {problem.branching} subtasks per task, "
                 f"the answer is the {problem.rule} of the subtask answers. You are the {agent}. The overseer "
                 f"answers the top {self.levels} level(s); the model answers the {self.frontier} subtasks below."]
        position = self._position()
        if position is not None:
            level, node = position
            if agent == "model" and level == 0:
                lines.append(f"Subtask {node}: your best guess is {self.signals[node]}. Answer 0 or 1.")
            elif agent == "overseer" and level > 0:
                lines.append(f"Task {node} at level {level}: the subtask answers are {self.subtask_answers()}. "
                             f"Answer 0 or 1.")
        else:
            lines.append(f"Root answer {self.answers[self.levels][0]}: {'right' if self.correct else 'wrong'}.")
        return "\n".join(lines)

    def agent_info(self, agent: str) -> dict[str, Any]:
        if self.is_terminal():
            return {"root_answer": self.answers[self.levels][0], "root_truth": self.truths[self.levels][0],
                    "correct": bool(self.correct)}
        if agent not in self.acting_agents():
            return {}
        level, node = self._position()
        if agent == "model":
            return {"signal": self.signals[node], "subtask": node}
        return {"rule": self.problem.rule, "subtask_answers": self.subtask_answers(), "level": level, "task": node}

    def render_text(self) -> str:
        problem = self.problem
        lines = [f"=== amplification_v0: depth {problem.depth}, branching {problem.branching}, rule {problem.rule}, "
                 f"levels {self.levels}; M_{problem.depth - self.levels} accuracy {self.frontier_accuracy:.4f}, "
                 f"overseer error {problem.overseer_error:g}"]
        for level, answers in enumerate(self.answers):
            if answers:
                who = "model" if level == 0 else "overseer"
                lines.append(f"level {level} ({who}): answers {answers}, truths {self.truths[level][:len(answers)]}")
        if self.is_terminal():
            lines.append(f"root {'right' if self.correct else 'wrong'} (exact accuracy {self.exact_accuracy:.4f})")
        return "\n".join(lines)

    def record(self) -> dict[str, Any]:
        return {"problem": self.problem.to_dict(), "levels": self.levels, "truths": [list(t) for t in self.truths],
                "signals": list(self.signals), "answers": [list(a) for a in self.answers], "slips": list(self.slips),
                "correct": self.correct, "model_calls": self.frontier,
                "overseer_calls": sum(len(t) for t in self.truths[1:]), "payoffs": self.payoffs()}

    def describe(self) -> dict[str, Any]:
        return {"mode": "tabular", "levels": self.levels, "problem": self.problem.to_dict(),
                "exact_accuracy": self.exact_accuracy}
