"""Exact solution of small assistance games (CIRL) by their reduction to a POMDP.

Hadfield-Menell et al. 2016 ("Cooperative Inverse Reinforcement Learning") show that once the
human's policy is fixed, the robot faces a POMDP over the hidden ``(s, theta)``; here the world state
``s`` is observed, so the robot's belief is a distribution ``b`` over ``theta``, updated by Bayes' rule
on the human's answers. Shah et al. 2020 ("Benefits of Assistance over Reward Learning") compare
this with *reward learning*, where all questions come before the robot starts to act.

The solver is exact search (memoised expectimax over beliefs) for small horizons:

    V_t(s, b) = 0                                   if t = horizon or s is terminal
    V_t(s, b) = max_{a legal in s} Q_t(s, b, a)
    Q_t(s, b, a) = sum_theta b(theta) sum_{a_H} pi_H(a_H | theta, t, a)
                   * [ R(theta, s, a, a_H) + gamma * V_{t+1}(s'(s, a, a_H), b') ]
    b'(theta) ∝ b(theta) * pi_H(a_H | theta, t, a)

where ``pi_H`` is the human model (:class:`~aligngames.agents.assistance.HumanModel`: truthful,
noisy or Boltzmann-rational) when ``a`` is a question asked at ``t >= feedback_time``, and
``a_H = noop`` otherwise. Each step of the search: (1) for every legal robot action, group the
human's possible answers, (2) for each answer compute its probability under ``b`` and the
posterior ``b'``, (3) recurse on the next state and ``b'``, (4) keep the best action (ties go to the
scenario's ``tie_break`` order). Beliefs are memoised by their values rounded to 12 digits.

Questions allowed (``ask=``): ``anytime`` (the assistance solution); ``learning_first`` (the
reward-learning baseline: questions and waiting only until the robot's first world action, none
after it); ``never`` (act on the prior). Their differences are the value of assistance over reward
learning and the value of asking at all.

:func:`evaluate` plays a solved robot policy against a human who may behave differently from the
model the robot planned with: truthful, noisy, Boltzmann, or *strategic*, a human who knows the
robot's policy and picks each answer to maximise the shared return (a best response, the
"pedagogic" human of Fisac et al. 2017 and Milli & Dragan 2019). An answer that the robot's model
deems impossible leaves the robot's belief unchanged.

CLI: ``aligngames solve assistance --scenario meal_choice --feedback-time 3`` prints the optimal
value, the two baselines and the optimal plan.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aligngames.agent import Agent
from aligngames.agents.assistance import HumanModel
from aligngames.envs.cirl.scenarios import NOOP, AssistanceProblem, build

log = logging.getLogger(__name__)

ASK_RULES = ("anytime", "learning_first", "never")

#: Two actions whose values differ by less than this are tied (then ``problem.tie_break`` decides).
TIE_TOLERANCE = 1e-10


def _belief_key(belief: np.ndarray) -> tuple[float, ...]:
    return tuple(np.round(belief, 12).tolist())


def answer_probabilities(problem: AssistanceProblem, human: HumanModel) -> np.ndarray:
    """``P[theta, a_R, a_H]``: the human's answer distribution to each question when present;
    ``noop`` with certainty after a robot action that is not a question."""
    num_thetas, num_robot, num_human = len(problem.thetas), len(problem.robot_actions), len(problem.human_actions)
    probabilities = np.zeros((num_thetas, num_robot, num_human))
    for action in range(num_robot):
        for theta in range(num_thetas):
            if problem.is_question(action):
                probabilities[theta, action] = human.answer_distribution(problem.answer_utility[theta, action],
                                                                         problem.answers[action])
            else:
                probabilities[theta, action, NOOP] = 1.0
    return probabilities


def posterior(belief: np.ndarray, likelihood: np.ndarray) -> tuple[float, np.ndarray]:
    """``(P(observation), b')`` for a likelihood ``P(observation | theta)`` of shape ``(num_thetas,)``.

    An observation of probability 0 returns ``(0, belief)`` (the belief is left unchanged)."""
    joint = belief * likelihood
    total = float(joint.sum())
    if total <= 0.0:
        return 0.0, belief
    return total, joint / total


@dataclass
class PlanNode:
    """One decision of the optimal plan (a tree over the human's answers).

    Attributes:
        time, state, belief: where the robot is.
        action: the robot's optimal action there.
        q_values: each legal action's value (``{name: value}``).
        branches: ``(answer name or None, probability, next node or None at the end)`` per outcome.
    """

    time: int
    state: str
    belief: dict[str, float]
    action: str
    value: float
    q_values: dict[str, float]
    branches: list[tuple[str | None, float, PlanNode | None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The plan from this node as nested JSON-ready dicts (``"next": None`` where a branch ends)."""
        return {"time": self.time, "state": self.state, "belief": self.belief, "action": self.action,
                "value": self.value, "q_values": self.q_values,
                "branches": [{"answer": answer, "probability": p, "next": None if child is None else child.to_dict()}
                             for answer, p, child in self.branches]}


class _Search:
    """Memoised expectimax over ``(t, s, belief, acted)`` for one problem, human model and ask rule."""

    def __init__(self, problem: AssistanceProblem, human: HumanModel, ask: str) -> None:
        if ask not in ASK_RULES:
            raise ValueError(f"ask must be one of {list(ASK_RULES)}, got {ask!r}")
        self.problem = problem
        self.human = human
        self.ask = ask
        self.probabilities = answer_probabilities(problem, human)  # (theta, a_R, a_H)
        self.world_actions = np.array([a != NOOP and not problem.is_question(a)
                                       for a in range(len(problem.robot_actions))])
        self._values: dict[tuple, tuple[float, int]] = {}

    def allowed(self, state: int, acted: bool) -> list[int]:
        """Legal robot actions under the ask rule, in tie-break order."""
        problem = self.problem
        allowed = []
        for action in problem.tie_break:
            if not problem.robot_legal[state, action]:
                continue
            if problem.is_question(action) and (self.ask == "never" or (self.ask == "learning_first" and acted)):
                continue
            allowed.append(action)
        return allowed

    def outcomes(self, time: int, state: int, belief: np.ndarray, action: int):
        """``(a_H, probability, expected immediate reward, posterior)`` for each possible human action."""
        problem = self.problem
        if problem.human_acts(time, action):
            likelihoods = self.probabilities[:, action, :]  # (theta, a_H)
        else:
            likelihoods = np.zeros((len(problem.thetas), len(problem.human_actions)))
            likelihoods[:, NOOP] = 1.0
        for answer in range(likelihoods.shape[1]):
            probability, updated = posterior(belief, likelihoods[:, answer])
            if probability == 0.0:
                continue
            reward = float(updated @ problem.reward[:, state, action, answer])  # E[R | answer]
            yield answer, probability, reward, updated

    def q_value(self, time: int, state: int, belief: np.ndarray, acted: bool, action: int) -> float:
        problem = self.problem
        next_acted = acted or bool(self.world_actions[action])
        total = 0.0
        for answer, probability, reward, updated in self.outcomes(time, state, belief, action):
            next_state = int(problem.next_state[state, action, answer])
            total += probability * (reward + problem.discount * self.value(time + 1, next_state, updated, next_acted))
        return total

    def value(self, time: int, state: int, belief: np.ndarray, acted: bool) -> float:
        return self.solve_node(time, state, belief, acted)[0]

    def solve_node(self, time: int, state: int, belief: np.ndarray, acted: bool) -> tuple[float, int]:
        """``(V_t(s, b), optimal action)``; the action is -1 at the end of the episode."""
        problem = self.problem
        if time >= problem.horizon or problem.terminal[state]:
            return 0.0, -1
        key = (time, state, _belief_key(belief), acted)
        if key in self._values:
            return self._values[key]
        best_value, best_action = -np.inf, -1
        for action in self.allowed(state, acted):
            q = self.q_value(time, state, belief, acted, action)
            if q > best_value + TIE_TOLERANCE:
                best_value, best_action = q, action
        self._values[key] = (best_value, best_action)
        return best_value, best_action


@dataclass
class Solution:
    """The optimal robot policy of an assistance problem.

    Attributes:
        problem: the problem solved.
        human: the human model the robot plans with.
        ask: the ask rule (``anytime``, ``learning_first`` or ``never``).
        value: the optimal expected discounted return from the start.
    """

    problem: AssistanceProblem
    human: HumanModel
    ask: str
    value: float
    _search: _Search = field(repr=False)

    def action(self, time: int, state: int, belief: Sequence[float], acted: bool = False) -> int:
        """The optimal robot action at ``(t, s, b)`` (any belief, solved on demand); -1 at the end."""
        return self._search.solve_node(time, state, np.asarray(belief, dtype=np.float64), acted)[1]

    def q_values(self, time: int, state: int, belief: Sequence[float], acted: bool = False) -> dict[str, float]:
        """Each allowed action's value at ``(t, s, b)``, by action name."""
        belief = np.asarray(belief, dtype=np.float64)
        return {self.problem.robot_actions[a]: self._search.q_value(time, state, belief, acted, a)
                for a in self._search.allowed(state, acted)}

    def belief_after(self, answers: Sequence[tuple[int, int]]) -> np.ndarray:
        """The robot's belief after ``(question, answer)`` pairs, starting from the prior."""
        belief = self.problem.prior.copy()
        for question, answer in answers:
            belief = posterior(belief, self._search.probabilities[:, question, answer])[1]
        return belief

    def plan(self) -> PlanNode:
        """The optimal plan from the start as a tree over the human's answers."""
        problem = self.problem
        return self._plan_node(0, problem.initial_state, problem.prior.copy(), False)

    def _plan_node(self, time: int, state: int, belief: np.ndarray, acted: bool) -> PlanNode | None:
        problem = self.problem
        value, action = self._search.solve_node(time, state, belief, acted)
        if action < 0:
            return None
        node = PlanNode(time, problem.states[state], dict(zip(problem.thetas, belief.round(6).tolist())),
                        problem.robot_actions[action], value, self.q_values(time, state, belief, acted))
        next_acted = acted or bool(self._search.world_actions[action])
        for answer, probability, _, updated in self._search.outcomes(time, state, belief, action):
            next_state = int(problem.next_state[state, action, answer])
            name = problem.human_actions[answer] if problem.human_acts(time, action) else None
            node.branches.append((name, probability, self._plan_node(time + 1, next_state, updated, next_acted)))
        return node


def solve(problem: AssistanceProblem | str, human: HumanModel | None = None, *, ask: str = "anytime") -> Solution:
    """Solve ``problem`` (or a scenario by name, with its defaults) exactly, for a robot that plans with
    human model ``human`` (truthful by default)."""
    if isinstance(problem, str):
        problem = build(problem)
    human = human or HumanModel("truthful")
    search = _Search(problem, human, ask)
    value = search.value(0, problem.initial_state, problem.prior.copy(), False)
    return Solution(problem, human, ask, value, search)


def value_of_assistance(problem: AssistanceProblem, human: HumanModel | None = None) -> dict[str, float]:
    """Optimal values with questions ``anytime``, ``learning_first`` (reward learning) and ``never``."""
    return {ask: solve(problem, human, ask=ask).value for ask in ASK_RULES}


class _Evaluation:
    """Exact returns of a solved robot policy against an actual human who knows theta."""

    def __init__(self, solution: Solution, human: HumanModel | str) -> None:
        self.strategic = human == "strategic"
        if not self.strategic and not isinstance(human, HumanModel):
            raise ValueError(f"human must be a HumanModel or 'strategic', got {human!r}")
        self.solution = solution
        self.problem = solution.problem
        self.actual = None if self.strategic else answer_probabilities(self.problem, human)
        self.assumed = solution._search.probabilities  # the robot's model, for its belief updates
        self.world_actions = solution._search.world_actions
        self._memo: dict[tuple, float] = {}

    def continuation(self, time: int, state: int, belief: np.ndarray, acted: bool, theta: int,
                     action: int, answer: int) -> float:
        """Reward now plus the discounted return after the human gives ``answer`` to robot ``action``."""
        problem = self.problem
        updated = posterior(belief, self.assumed[:, action, answer])[1]
        next_state = int(problem.next_state[state, action, answer])
        next_acted = acted or bool(self.world_actions[action])
        return (problem.reward[theta, state, action, answer]
                + problem.discount * self.expected(time + 1, next_state, updated, next_acted, theta))

    def best_answer(self, time: int, state: int, belief: np.ndarray, acted: bool, theta: int, action: int) -> int:
        """The strategic human's answer: the one with the highest continuation (lowest index on ties)."""
        answers = np.flatnonzero(self.problem.answers[action])
        values = [self.continuation(time, state, belief, acted, theta, action, int(a)) for a in answers]
        return int(answers[int(np.argmax(np.array(values) > max(values) - TIE_TOLERANCE))])

    def expected(self, time: int, state: int, belief: np.ndarray, acted: bool, theta: int) -> float:
        problem = self.problem
        if time >= problem.horizon or problem.terminal[state]:
            return 0.0
        key = (time, state, _belief_key(belief), acted, theta)
        if key not in self._memo:
            action = self.solution.action(time, state, belief, acted)
            if not problem.human_acts(time, action):
                total = self.continuation(time, state, belief, acted, theta, action, NOOP)
            elif self.strategic:
                answer = self.best_answer(time, state, belief, acted, theta, action)
                total = self.continuation(time, state, belief, acted, theta, action, answer)
            else:
                total = sum(p * self.continuation(time, state, belief, acted, theta, action, answer)
                            for answer, p in enumerate(self.actual[theta, action]) if p > 0)
            self._memo[key] = float(total)
        return self._memo[key]


def evaluate(solution: Solution, human: HumanModel | str) -> float:
    """The exact expected discounted return of ``solution``'s robot against ``human``.

    ``human`` is a :class:`HumanModel` (the robot still updates its belief with its own model) or
    ``"strategic"``: a human who knows theta and the robot's policy and answers to maximise the
    shared return.
    """
    evaluation = _Evaluation(solution, human)
    problem = solution.problem
    return float(sum(problem.prior[theta] * evaluation.expected(0, problem.initial_state, problem.prior.copy(), False, theta)
                     for theta in range(len(problem.thetas)) if problem.prior[theta] > 0))


def format_plan(node: PlanNode | None, indent: int = 0) -> list[str]:
    """The plan tree as indented lines."""
    if node is None:
        return []
    pad = "  " * indent
    belief = ", ".join(f"{name} {p:.3f}" for name, p in node.belief.items() if p > 0)
    lines = [f"{pad}t={node.time} {node.state:<14} belief ({belief}): {node.action}   value-to-go {node.value:.4f}"]
    for answer, probability, child in node.branches:
        if answer is None:
            lines += format_plan(child, indent)
        else:
            lines.append(f"{pad}  if the human answers {answer} (p={probability:.3f}):")
            lines += format_plan(child, indent + 2)
    return lines


class AssistanceRobot(Agent):
    """Plays the ``robot`` seat of ``cirl_v0`` with the exact solver's policy.

    Args:
        scenario, feedback_time, horizon, discount: the problem (must match the env's).
        human, epsilon, beta: the human model the robot plans with.
        ask: ``anytime``, ``learning_first`` or ``never``.

    Tabular mode: the belief is computed from the answer counts in the observation. Language
    mode: each free-text answer (from ``info["answers"]``) counts as the answer whose name it
    mentions as a word, if exactly one; any other text leaves the belief unchanged.
    """

    def __init__(self, scenario: str = "meal_choice", feedback_time: int | None = None, horizon: int | None = None,
                 discount: float | None = None, human: str = "truthful", epsilon: float = 0.0, beta: float = 1.0,
                 ask: str = "anytime") -> None:
        super().__init__()
        self.problem = build(scenario, feedback_time=feedback_time, horizon=horizon, discount=discount)
        self.solution = solve(self.problem, HumanModel(human, epsilon, beta), ask=ask)
        self.settings = {"scenario": scenario, "feedback_time": self.problem.feedback_time,
                         "horizon": self.problem.horizon, "discount": self.problem.discount,
                         "human": self.solution.human.describe(), "ask": ask}
        self._questions = [a for a in range(len(self.problem.robot_actions)) if self.problem.is_question(a)]

    def _answers(self, features: np.ndarray, info, language: bool) -> list[tuple[int, int]]:
        problem = self.problem
        num_states, num_human = len(problem.states), len(problem.human_actions)
        if language:
            pairs = []
            for question_name, text in info.get("answers", []):
                answer = interpret_answer(text, problem.human_actions)
                if answer is not None:
                    pairs.append((problem.robot_actions.index(question_name), answer))
            return pairs
        counts = features[3 + num_states: 3 + num_states + len(self._questions) * num_human]
        counts = counts.reshape(len(self._questions), num_human).round().astype(int)
        return [(question, answer) for q, question in enumerate(self._questions)
                for answer in range(num_human) for _ in range(counts[q, answer])]

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        problem = self.problem
        features = np.asarray(observation["observation"], dtype=np.float64)
        num_states = len(problem.states)
        if features.size < 3 + num_states:
            raise ValueError(f"agent {agent!r}: observation does not fit scenario {problem.name!r}")
        time, acted = round(features[0]), bool(features[2] > 0.5)
        state = int(np.argmax(features[3:3 + num_states]))
        language = not hasattr(action_space, "n")
        belief = self.solution.belief_after(self._answers(features, info, language))
        action = self.solution.action(time, state, belief, acted)
        if action < 0:
            raise ValueError(f"agent {agent!r}: asked to act at the end of the episode (t={time})")
        name = problem.robot_actions[action]
        if not language:
            return action
        if problem.is_question(action):
            return f"{name}: {problem.question_text[action]}"
        return name

    def describe(self):
        return {"class": "AssistanceRobot", **self.settings}


class StrategicHuman(Agent):
    """Plays the ``human`` seat of ``cirl_v0`` (tabular) as a best response to a solved robot.

    It knows theta and the robot's policy (the exact solution for the same settings and the robot's
    human model) and gives the answer that maximises the shared return, reading the robot's belief
    from the answer counts in its observation. Against that robot it earns ``evaluate(solution,
    "strategic")``.

    Args: as :class:`AssistanceRobot` (the robot it answers).
    """

    def __init__(self, scenario: str = "meal_choice", feedback_time: int | None = None, horizon: int | None = None,
                 discount: float | None = None, human: str = "truthful", epsilon: float = 0.0, beta: float = 1.0,
                 ask: str = "anytime") -> None:
        super().__init__()
        self.robot = AssistanceRobot(scenario, feedback_time, horizon, discount, human, epsilon, beta, ask)
        self.evaluation = _Evaluation(self.robot.solution, "strategic")

    def act(self, observation, agent, action_space, info=None):
        problem = self.robot.problem
        if not hasattr(action_space, "n"):
            raise ValueError(f"agent {agent!r}: StrategicHuman plays tabular mode")
        features = np.asarray(observation["observation"], dtype=np.float64)
        num_states, num_thetas = len(problem.states), len(problem.thetas)
        questions = self.robot._questions
        time, acted = round(features[0]), bool(features[2] > 0.5)
        state = int(np.argmax(features[3:3 + num_states]))
        tail = features[-(num_thetas + len(questions)):]
        theta = int(np.argmax(tail[:num_thetas]))
        action = questions[int(np.argmax(tail[num_thetas:]))]  # the pending question
        belief = self.robot.solution.belief_after(self.robot._answers(features, {}, language=False))
        return self.evaluation.best_answer(time, state, belief, acted, theta, action)

    def describe(self):
        return {"class": "StrategicHuman", "robot": self.robot.describe()}


def interpret_answer(text: str, names: Sequence[str]) -> int | None:
    """The index of the one answer name (other than ``noop``) that ``text`` mentions as a word, else None."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    found = [index for index, name in enumerate(names) if index != NOOP and name.lower() in words]
    return found[0] if len(found) == 1 else None


__all__ = [
    "ASK_RULES",
    "AssistanceRobot",
    "PlanNode",
    "Solution",
    "StrategicHuman",
    "answer_probabilities",
    "evaluate",
    "format_plan",
    "interpret_answer",
    "posterior",
    "solve",
    "value_of_assistance",
]
