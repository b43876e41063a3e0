"""Rules of the assistance game ``cirl_v0`` (no PettingZoo here).

The game plays an :class:`~aligngames.envs.cirl.scenarios.AssistanceProblem` one time step at a
time: the ``robot`` acts; if it asked a question and the human is present (``t >= feedback_time``)
the ``human`` answers; then both get the step's shared reward and time advances. ``theta`` is drawn
from the prior at reset (or fixed with ``theta=...``) and only the human sees it.

Tabular mode: ``Discrete`` actions with action masks (:meth:`CirlRules.action_mask`; the env puts them
in the observation and in ``infos[agent]["action_mask"]``); an illegal
action raises ``ValueError``. Language mode: the robot writes a command, ``"make_1"`` or
``"ask: Which pie would you like?"`` (the command is a robot action name; ``wait`` means
``noop``); the human answers in free text, which the env passes to the robot without interpreting
it. A robot command that names no legal action is recorded as invalid and the step is spent
doing nothing (``noop``); nothing is guessed. ``infos[agent]["legal_texts"]`` lists moves an agent
may pick instead of writing: the robot's legal commands by name (``"ask"`` asks the scenario's
question) and the human's legal answers (``"apple."``). Language mode needs a scenario whose transitions
and rewards do not depend on the human's action (true of every packaged scenario).

Rewards are the undiscounted step rewards, the same for both players (identical interest);
``record()["discounted_return"]`` applies the scenario's discount, which is what the solver
maximises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.cirl import render
from aligngames.envs.cirl.scenarios import NOOP, AssistanceProblem
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action, check_text_action, observation_space, sanitize, text_space

AGENTS = ("robot", "human")
MODES = ("tabular", "language")
_COMMAND_ALIASES = {"wait": "noop", "nothing": "noop", "do_nothing": "noop"}


@dataclass(frozen=True)
class Command:
    """A robot move in canonical form.

    Attributes:
        action: the robot action index, or ``None`` for an invalid language command.
        text: what the robot wrote (language mode) or the action's name (tabular mode).
        message: the question text for a question ("" otherwise).
    """

    action: int | None
    text: str
    message: str = ""


def parse_command(text: str, problem: AssistanceProblem, state: int) -> Command:
    """Read a language-mode robot command: ``NAME`` or ``NAME: message`` on the first line.

    ``NAME`` is a robot action name, matched case-insensitively with spaces and hyphens read as
    underscores (``"Make 1"`` is ``make_1``; ``wait`` is ``noop``). A name that is unknown or
    illegal in ``state`` gives ``Command(None, text)``: an invalid move, never a guess.
    """
    first_line = text.strip().split("\n", 1)[0]
    name, _, message = first_line.partition(":")
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    key = _COMMAND_ALIASES.get(key, key)
    if key not in problem.robot_actions:
        return Command(None, text)
    action = problem.robot_actions.index(key)
    if not problem.robot_legal[state, action]:
        return Command(None, text)
    message = message.strip()
    if problem.is_question(action) and not message:
        message = problem.question_text[action] if problem.question_text else key
    return Command(action, text, message if problem.is_question(action) else "")


class CirlRules(GameRules):
    """State and payoffs of one assistance game.

    Args:
        problem: the tabular assistance problem.
        mode: ``"tabular"`` or ``"language"``.
        theta: the human's theta by name, fixed for every episode; ``None`` draws it from the prior.
        max_message_length: language mode: the longest command or answer in characters.
    """

    game_info = GameInfo(2, Utility.IDENTICAL, Dynamics.SEQUENTIAL)
    possible_agents = AGENTS

    def __init__(self, problem: AssistanceProblem, mode: str = "tabular", *, theta: str | None = None,
                 max_message_length: int = 300) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if theta is not None and theta not in problem.thetas:
            raise ValueError(f"theta must be one of {list(problem.thetas)} or None, got {theta!r}")
        if mode == "language":
            if problem.robot_actions[0] != "noop":
                raise ValueError(f"{problem.name}: language mode needs robot action 0 to be 'noop' (for invalid commands)")
            if not problem.human_ignored():
                raise ValueError(f"{problem.name}: language mode needs transitions and rewards that do not "
                                 f"depend on the human's action (free-text answers have no index)")
            if not (problem.state_text and problem.action_text and problem.theta_text):
                raise ValueError(f"{problem.name}: language mode needs state_text, action_text and theta_text")
        if max_message_length < 1:
            raise ValueError(f"max_message_length must be >= 1, got {max_message_length}")
        self.problem = problem
        self.mode = mode
        self.has_action_masks = mode == "tabular"
        self.fixed_theta = theta
        self.max_message_length = max_message_length
        self.questions = tuple(a for a in range(len(problem.robot_actions)) if problem.is_question(a))
        num_states, num_human = len(problem.states), len(problem.human_actions)
        self.num_robot_features = 3 + num_states + len(self.questions) * num_human
        self.num_human_features = self.num_robot_features + len(problem.thetas) + len(self.questions)
        # a generous bound on the transcript: the briefing plus every step with two full messages
        briefing = sum(len(text) for text in problem.action_text) + 40 * len(problem.robot_actions) + 1200
        self.transcript_length = briefing + problem.horizon * (2 * max_message_length + 300)
        high = float(max(problem.horizon, 1))
        self.observation_spaces = {
            "robot": observation_space(self.num_robot_features, self.transcript_length, low=0.0, high=high),
            "human": observation_space(self.num_human_features, self.transcript_length, low=0.0, high=high),
        }
        if mode == "tabular":
            self.action_spaces = {"robot": spaces.Discrete(len(problem.robot_actions)),
                                   "human": spaces.Discrete(num_human)}
        else:
            message_space = text_space(max_message_length)
            self.action_spaces = {"robot": message_space, "human": message_space}
        self.time = 0
        self.state = problem.initial_state
        self.theta = 0
        self.pending: Command | None = None
        self.steps: list[dict[str, Any]] = []
        self.answer_counts = np.zeros((len(self.questions), num_human), dtype=np.int64)
        self.acted = False

    # --- spaces ---------------------------------------------------------------------------------
    # --- dynamics -------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        problem = self.problem
        if self.fixed_theta is not None:
            self.theta = problem.thetas.index(self.fixed_theta)
        else:
            self.theta = int(rng.choice(len(problem.thetas), p=problem.prior))
        self.time = 0
        self.state = problem.initial_state
        self.pending = None
        self.steps = []
        self.answer_counts[:] = 0
        self.acted = False

    def is_terminal(self) -> bool:
        return self.time >= self.problem.horizon or bool(self.problem.terminal[self.state])

    def acting_agents(self) -> tuple[str, ...]:
        if self.is_terminal():
            return ()
        return ("human",) if self.pending is not None else ("robot",)

    def human_available(self) -> bool:
        return self.time >= self.problem.feedback_time

    def action_mask(self, agent: str) -> np.ndarray:
        """Tabular mode: the legal actions of ``agent`` now (zeros while it is not to act)."""
        if agent not in self.acting_agents():
            return np.zeros(self.action_spaces[agent].n, dtype=np.int8)
        if agent == "robot":
            return self.problem.robot_legal[self.state].astype(np.int8)
        return self.problem.answers[self.pending.action].astype(np.int8)  # the legal answers to the question

    def check_action(self, agent: str, action: Any) -> Any:
        self.check_turn(agent)
        space = self.action_spaces[agent]
        if self.mode == "tabular":
            index = check_discrete_action(action, space, agent, self.action_mask(agent))
            if agent == "robot":
                return Command(index, self.problem.robot_actions[index],
                               self.problem.question_text[index] if self.problem.question_text else "")
            return index
        text = check_text_action(action, space, agent)
        return parse_command(text, self.problem, self.state) if agent == "robot" else text

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        if "robot" in actions:
            command: Command = actions["robot"]
            action = NOOP if command.action is None else command.action
            if command.action is not None and self.problem.human_acts(self.time, action):
                self.pending = command  # the step ends when the human has answered
                return dict.fromkeys(AGENTS, 0.0)
            return self._finish_step(command, None)
        answer = actions["human"]
        command, self.pending = self.pending, None
        return self._finish_step(command, answer)

    def _finish_step(self, command: Command, answer: int | str | None) -> dict[str, float]:
        problem = self.problem
        robot_action = NOOP if command.action is None else command.action
        human_action = answer if isinstance(answer, int) else NOOP  # language answers carry no index
        reward = float(problem.reward[self.theta, self.state, robot_action, human_action])
        step: dict[str, Any] = {
            "time": self.time,
            "state": problem.states[self.state],
            "robot": problem.robot_actions[robot_action] if command.action is not None else None,
            "robot_text": command.text if self.mode == "language" else None,
            "question": command.message if command.action is not None and problem.is_question(robot_action) else None,
            "invalid": command.action is None,
            "human": None,
            "reward": reward,
        }
        if isinstance(answer, int):
            step["human"] = problem.human_actions[answer]
            self.answer_counts[self.questions.index(robot_action), answer] += 1
        elif answer is not None:
            step["human"] = answer  # free text; None means the human did not answer (away or not asked)
        if command.action is not None and robot_action != NOOP and not problem.is_question(robot_action):
            self.acted = True
        self.state = int(problem.next_state[self.state, robot_action, human_action])
        self.time += 1
        step["next_state"] = problem.states[self.state]
        self.steps.append(step)
        return dict.fromkeys(AGENTS, reward)

    # --- observations ---------------------------------------------------------------------------
    def features(self, agent: str) -> np.ndarray:
        """``[t, human present, robot has acted, one-hot state, answer counts per question]``;
        the human's also ``[one-hot theta, one-hot pending question]``."""
        problem = self.problem
        parts = [np.array([self.time, float(self.human_available()), float(self.acted)]),
                 np.eye(len(problem.states))[self.state],
                 self.answer_counts.reshape(-1).astype(np.float64)]
        if agent == "human":
            pending = np.zeros(len(self.questions))
            if self.pending is not None:
                pending[self.questions.index(self.pending.action)] = 1.0
            parts += [np.eye(len(problem.thetas))[self.theta], pending]
        return np.concatenate(parts).astype(np.float32)

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent),
                "transcript": sanitize(render.transcript(self, agent), self.transcript_length)}

    def agent_info(self, agent: str) -> dict[str, Any]:
        if agent not in self.acting_agents():
            return {}
        info: dict[str, Any] = {"action_mask": self.action_mask(agent)} if self.mode == "tabular" else {}
        problem = self.problem
        if agent == "robot":
            # the answers so far, [question name, answer name or text]; the tabular counts say the same
            info["answers"] = [[step["robot"], step["human"]] for step in self.steps if step["human"] is not None]
            if self.mode == "language":  # commands that parse_command accepts now (a question gets its default text)
                self._add_legal_texts(info, [name for name, legal in zip(problem.robot_actions,
                                                                         problem.robot_legal[self.state]) if legal])
            return info
        question = self.pending.action
        info.update(answer_utility=problem.answer_utility[self.theta, question].tolist(),
                    answer_mask=problem.answers[question].tolist(),
                    human_actions=list(problem.human_actions))
        if self.mode == "language":  # the answers as ModelHuman writes them
            self._add_legal_texts(info, [f"{name}." for name, legal in zip(problem.human_actions,
                                                                           problem.answers[question]) if legal])
        return info

    def _add_legal_texts(self, info: dict[str, Any], moves: list[str]) -> None:
        """``info["legal_texts"]``: the moves that fit ``max_message_length`` (no key if none does)."""
        moves = [move for move in moves if len(move) <= self.max_message_length]
        if moves:
            info["legal_texts"] = moves

    # --- accounts -------------------------------------------------------------------------------
    def total_return(self) -> float:
        return float(sum(step["reward"] for step in self.steps))

    def discounted_return(self) -> float:
        return float(sum(self.problem.discount ** step["time"] * step["reward"] for step in self.steps))

    def render_text(self) -> str:
        return render.render_text(self)

    def record(self) -> dict[str, Any]:
        return {
            "scenario": self.problem.name,
            "mode": self.mode,
            "theta": self.problem.thetas[self.theta],
            "steps": [dict(step) for step in self.steps],
            "return": self.total_return(),
            "discounted_return": self.discounted_return(),
            "invalid_commands": sum(step["invalid"] for step in self.steps),
        }

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "fixed_theta": self.fixed_theta, **self.problem.describe()}
