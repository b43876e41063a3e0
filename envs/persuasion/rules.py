"""Rules of ``persuasion_v0`` (no PettingZoo here).

Each round of a :class:`~aligngames.envs.persuasion.problems.PersuasionProblem`:

- tabular mode: the ``sender`` commits to a signalling scheme, a ``Box(0, 1, (num_states, num_signals))``
  table whose rows are read as weights and normalised to ``P(signal | state)`` (a row of zeros as uniform);
  then the state is drawn from the prior and the signal from the scheme's row; the ``receiver`` sees the
  scheme and the signal and picks an action (``Discrete(num_actions)``);
- language mode: the state is drawn first; the ``sender`` sees it and writes a message (``Text``); the
  ``receiver`` reads the message and picks an action (``Discrete``, labelled by the action names in
  ``info["action_labels"]``, so an LLM receiver chooses by log-probability).

Both get their utility table's entry ``[state][action]`` as the round's reward. With ``rounds > 1`` the
game repeats with a fresh state each round, and each finished round's state is shown to both players
(so a receiver can learn how far a sender's messages are to be trusted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.persuasion import render
from aligngames.envs.persuasion.problems import PersuasionProblem
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action, check_text_action, observation_space, sanitize, text_space

AGENTS = ("sender", "receiver")
MODES = ("tabular", "language")


class PersuasionRules(GameRules):
    """State and payoffs of one persuasion game.

    Args:
        problem: the states, prior and utility tables.
        mode: ``"tabular"`` (the sender commits to a scheme) or ``"language"`` (the sender writes a message).
        rounds: rounds per episode, each with a fresh state.
        num_signals: tabular mode: the signals of a scheme (default: one per action, read as recommendations).
        max_message_length: language mode: the longest message in characters.
    """

    game_info = GameInfo(2, Utility.GENERAL_SUM, Dynamics.SEQUENTIAL)
    possible_agents = AGENTS

    def __init__(self, problem: PersuasionProblem, mode: str = "tabular", *, rounds: int = 1,
                 num_signals: int | None = None, max_message_length: int = 300) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        if num_signals is None:
            num_signals = problem.num_actions
        if isinstance(num_signals, bool) or not isinstance(num_signals, int) or num_signals < 1:
            raise ValueError(f"num_signals must be an int >= 1, got {num_signals!r}")
        if max_message_length < 1:
            raise ValueError(f"max_message_length must be >= 1, got {max_message_length}")
        self.problem, self.mode, self.rounds = problem, mode, rounds
        self.num_signals = num_signals
        self.max_message_length = max_message_length
        if num_signals == problem.num_actions:
            self.signal_names = tuple(f"recommend {action}" for action in problem.actions)
        else:
            self.signal_names = tuple(f"signal {k}" for k in range(num_signals))
        num_states, num_actions = problem.num_states, problem.num_actions
        common = 2 + num_states + num_states + num_actions  # round, over, prior, last state, last action
        self.num_sender_features = common + num_states  # + the state (language mode)
        self.num_receiver_features = common + num_states * num_signals + num_signals  # + scheme, signal
        names = sum(len(name) + 4 for name in (*problem.states, *problem.actions, *self.signal_names))
        per_round = (max_message_length if mode == "language" else 12 * num_states * num_signals) + 200 + names
        self.transcript_length = 800 + 6 * names + rounds * per_round
        high = float(max(rounds, 1))
        self.observation_spaces = {
            "sender": observation_space(self.num_sender_features, self.transcript_length, low=0.0, high=high),
            "receiver": observation_space(self.num_receiver_features, self.transcript_length, low=0.0, high=high),
        }
        sender_space = (spaces.Box(0.0, 1.0, shape=(num_states, num_signals), dtype=np.float32)
                        if mode == "tabular" else text_space(max_message_length))
        self.action_spaces = {"sender": sender_space, "receiver": spaces.Discrete(num_actions)}
        self._problem_data = problem.to_dict()
        self._rng = np.random.default_rng(0)
        self.round = 0
        self.phase = "send"
        self.state: int | None = None
        self.scheme: np.ndarray | None = None
        self.signal: int | None = None
        self.message: str | None = None
        self.history: list[dict[str, Any]] = []

    # --- dynamics -------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.round = 0
        self.history = []
        self._start_round()

    def _start_round(self) -> None:
        self.phase = "send"
        self.scheme, self.signal, self.message = None, None, None
        # language mode: the sender sees the state before writing; tabular: it is drawn after the commitment
        self.state = self._draw_state() if self.mode == "language" else None

    def _draw_state(self) -> int:
        return int(self._rng.choice(self.problem.num_states, p=self.problem.prior))

    def is_terminal(self) -> bool:
        return self.round >= self.rounds

    def acting_agents(self) -> tuple[str, ...]:
        if self.is_terminal():
            return ()
        return ("sender",) if self.phase == "send" else ("receiver",)

    def check_action(self, agent: str, action: Any) -> Any:
        self.check_turn(agent)
        space = self.action_spaces[agent]
        if agent == "receiver":
            return check_discrete_action(action, space, agent)
        if self.mode == "language":
            return check_text_action(action, space, agent)
        return self._check_scheme(action, space)

    def _check_scheme(self, action: Any, space: spaces.Box) -> np.ndarray:
        """The sender's table as ``P(signal | state)``: each row normalised; refused unless it is in the Box."""
        try:
            table = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"agent 'sender': a scheme is a table of numbers of shape {space.shape} "
                             f"(rows: states, columns: signals), got {type(action).__name__}: {action!r:.80}") from None
        if table.shape != space.shape:
            raise ValueError(f"agent 'sender': the scheme must have shape {space.shape} (states {list(self.problem.states)} "
                             f"x {self.num_signals} signals), got shape {table.shape}")
        if not np.isfinite(table).all() or (table < 0).any() or (table > 1).any():
            raise ValueError("agent 'sender': scheme entries must be finite weights in [0, 1]")
        table[table.sum(axis=1) <= 0] = 1.0  # a row of zeros carries no weights: read it as uniform
        return table / table.sum(axis=1, keepdims=True)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        if "sender" in actions:
            if self.mode == "tabular":
                self.scheme = actions["sender"]
                self.state = self._draw_state()
                self.signal = int(self._rng.choice(self.num_signals, p=self.scheme[self.state]))
            else:
                self.message = actions["sender"]
            self.phase = "act"
            return dict.fromkeys(AGENTS, 0.0)
        action = int(actions["receiver"])
        sender_reward = float(self.problem.sender_utility[self.state, action])
        receiver_reward = float(self.problem.receiver_utility[self.state, action])
        self.history.append({
            "round": self.round,
            "state": self.problem.states[self.state],
            "scheme": None if self.scheme is None else self.scheme.tolist(),
            "signal": None if self.signal is None else self.signal_names[self.signal],
            "message": self.message,
            "action": self.problem.actions[action],
            "rewards": {"sender": sender_reward, "receiver": receiver_reward},
        })
        self.round += 1
        if not self.is_terminal():
            self._start_round()
        return {"sender": sender_reward, "receiver": receiver_reward}

    # --- observations ---------------------------------------------------------------------------
    def features(self, agent: str) -> np.ndarray:
        """``[round, over, prior, last state one-hot, last action one-hot]`` plus, for the sender, the state
        one-hot (language mode), and for the receiver the scheme (flattened) and the signal one-hot (tabular)."""
        problem = self.problem
        last_state, last_action = np.zeros(problem.num_states), np.zeros(problem.num_actions)
        if self.history:
            last_state[problem.states.index(self.history[-1]["state"])] = 1.0
            last_action[problem.actions.index(self.history[-1]["action"])] = 1.0
        parts = [np.array([self.round, float(self.is_terminal())]), problem.prior, last_state, last_action]
        if agent == "sender":
            state = np.zeros(problem.num_states)
            if self.mode == "language" and self.state is not None and not self.is_terminal():
                state[self.state] = 1.0
            parts.append(state)
        else:
            scheme = np.zeros(problem.num_states * self.num_signals)
            signal = np.zeros(self.num_signals)
            if self.phase == "act" and self.scheme is not None:
                scheme = self.scheme.reshape(-1)
                signal[self.signal] = 1.0
            parts += [scheme, signal]
        return np.concatenate(parts).astype(np.float32)

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent),
                "transcript": sanitize(render.transcript(self, agent), self.transcript_length)}

    def agent_info(self, agent: str) -> dict[str, Any]:
        if agent not in self.acting_agents():
            return {}
        info: dict[str, Any] = {"problem": self._problem_data, "round": self.round}
        if agent == "sender":
            if self.mode == "language":
                info["state"] = self.problem.states[self.state]
            return info
        info["action_labels"] = list(self.problem.actions)
        if self.mode == "tabular":
            info.update(scheme=self.scheme.tolist(), signal=self.signal)
        else:
            info["message"] = self.message
        return info

    # --- accounts -------------------------------------------------------------------------------
    def returns(self) -> dict[str, float]:
        return {agent: float(sum(entry["rewards"][agent] for entry in self.history)) for agent in AGENTS}

    def render_text(self) -> str:
        return render.render_text(self)

    def record(self) -> dict[str, Any]:
        return {"problem": self.problem.name, "mode": self.mode, "rounds": [dict(entry) for entry in self.history],
                "returns": self.returns()}

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "rounds": self.rounds, "num_signals": self.num_signals, "problem": self._problem_data}
