"""Receiver models and scripted players for Bayesian persuasion (``persuasion_v0``).

A :class:`ReceiverModel` says how a receiver turns a signalling scheme and a signal into an action:

- ``bayesian``: the posterior ``p(state | signal) ∝ prior(state) * P(signal | state)``, then the action with
  the highest expected receiver utility (Kamenica & Gentzkow 2011);
- ``anchored``: a non-Bayesian receiver who under-reacts to evidence: it acts on
  ``anchoring * prior + (1 - anchoring) * posterior`` (``anchoring = 0`` is Bayesian, ``1`` ignores signals);
- ``credulous``: follows the recommendation: signal ``k`` means action ``k`` (it needs as many signals as actions).

Ties between best actions go to the action the sender prefers (then the lower index), the convention under
which the sender's optimal scheme exists (K&G). The same model is the receiver in the exact solver
(:mod:`aligngames.solvers.exact.persuasion`) and the behaviour of :class:`ModelReceiver` in the env, so what
the solver predicts is what the env plays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.agent import Agent
from aligngames.text import sanitize

RECEIVER_MODELS = ("bayesian", "anchored", "credulous")

#: Expected utilities closer than this count as a tie (broken for the sender); schemes pass through float32 in the env.
TIE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ReceiverModel:
    """How a receiver acts on a signal.

    Attributes:
        kind: ``bayesian``, ``anchored`` or ``credulous``.
        anchoring: ``anchored`` only: the weight on the prior, in [0, 1].
    """

    kind: str = "bayesian"
    anchoring: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in RECEIVER_MODELS:
            raise ValueError(f"unknown receiver model {self.kind!r}; valid models: {list(RECEIVER_MODELS)}")
        if not 0.0 <= self.anchoring <= 1.0:
            raise ValueError(f"anchoring must be in [0, 1], got {self.anchoring}")
        if self.kind != "anchored" and self.anchoring != 0.0:
            raise ValueError(f"anchoring applies to the 'anchored' receiver only, not {self.kind!r}")

    @property
    def weight_on_prior(self) -> float:
        """The weight of the prior in the belief the receiver acts on (0 for a Bayesian)."""
        return self.anchoring if self.kind == "anchored" else 0.0

    def belief(self, prior: np.ndarray, likelihood: np.ndarray) -> np.ndarray:
        """The belief over states the receiver acts on after a signal with ``likelihood[state] = P(signal | state)``.

        Raises ``ValueError`` for a signal of probability 0 (no posterior exists).
        """
        joint = prior * likelihood  # (num_states,)
        total = float(joint.sum())
        if total <= 0.0:
            raise ValueError("the signal has probability 0 under the prior and the scheme; no posterior exists")
        weight = self.weight_on_prior
        return weight * prior + (1.0 - weight) * joint / total

    def act(self, prior: np.ndarray, scheme: np.ndarray, signal: int, receiver_utility: np.ndarray,
            sender_utility: np.ndarray) -> int:
        """The receiver's action after ``signal`` under ``scheme`` (shape ``(num_states, num_signals)``)."""
        if self.kind == "credulous":
            if scheme.shape[1] != receiver_utility.shape[1]:
                raise ValueError(f"a credulous receiver reads signal k as action k: it needs {receiver_utility.shape[1]} "
                                 f"signals (one per action), got {scheme.shape[1]}")
            return int(signal)
        return best_action(self.belief(prior, scheme[:, signal]), receiver_utility, sender_utility)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "anchoring": self.weight_on_prior}


def best_action(belief: np.ndarray, receiver_utility: np.ndarray, sender_utility: np.ndarray) -> int:
    """The receiver's best action under ``belief``; ties go to the sender's favourite, then the lower index."""
    expected = belief @ receiver_utility  # (num_actions,)
    best = np.flatnonzero(expected >= expected.max() - TIE_TOLERANCE)
    sender_expected = belief @ sender_utility
    return int(best[np.argmax(sender_expected[best])])  # argmax takes the first of equal values


def full_disclosure(num_states: int, num_signals: int) -> np.ndarray:
    """The scheme that sends signal ``s`` in state ``s`` (needs ``num_signals >= num_states``)."""
    if num_signals < num_states:
        raise ValueError(f"full disclosure needs a signal per state: {num_states} states, {num_signals} signals")
    return np.eye(num_states, num_signals)


def no_disclosure(num_states: int, num_signals: int) -> np.ndarray:
    """The scheme that always sends signal 0."""
    scheme = np.zeros((num_states, num_signals))
    scheme[:, 0] = 1.0
    return scheme


class SchemeSender(Agent):
    """A ``persuasion_v0`` tabular sender that commits to a fixed scheme every round.

    Args:
        scheme: ``"full_disclosure"``, ``"no_disclosure"`` or an explicit table ``P(signal | state)`` of shape
            ``(num_states, num_signals)`` (e.g. the solver's optimal scheme).
    """

    def __init__(self, scheme: str | list = "full_disclosure") -> None:
        super().__init__()
        if isinstance(scheme, str) and scheme not in ("full_disclosure", "no_disclosure"):
            raise ValueError(f"scheme must be 'full_disclosure', 'no_disclosure' or a table, got {scheme!r}")
        self.scheme = scheme

    def act(self, observation, agent, action_space, info=None):
        if not isinstance(action_space, spaces.Box):
            raise ValueError(f"agent {agent!r}: SchemeSender plays the tabular sender (a Box scheme), not {action_space}")
        num_states, num_signals = action_space.shape
        if self.scheme == "full_disclosure":
            scheme = full_disclosure(num_states, num_signals)
        elif self.scheme == "no_disclosure":
            scheme = no_disclosure(num_states, num_signals)
        else:
            scheme = np.asarray(self.scheme, dtype=np.float64)
            if scheme.shape != action_space.shape:
                raise ValueError(f"agent {agent!r}: scheme has shape {scheme.shape}; the env's is {action_space.shape}")
        return scheme.astype(action_space.dtype)

    def describe(self) -> dict[str, Any]:
        scheme = self.scheme if isinstance(self.scheme, str) else np.asarray(self.scheme).tolist()
        return {"class": type(self).__name__, "scheme": scheme}


class ModelReceiver(Agent):
    """A ``persuasion_v0`` tabular receiver that acts by a :class:`ReceiverModel` (read from ``info``)."""

    def __init__(self, kind: str = "bayesian", anchoring: float = 0.0) -> None:
        super().__init__()
        self.model = ReceiverModel(kind, float(anchoring))

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        if "scheme" not in info or "problem" not in info:
            raise ValueError(f"agent {agent!r}: ModelReceiver needs info['scheme'] and info['problem'] "
                             f"(persuasion_v0's tabular receiver)")
        problem = info["problem"]
        return self.model.act(np.asarray(problem["prior"]), np.asarray(info["scheme"]), int(info["signal"]),
                              np.asarray(problem["receiver_utility"]), np.asarray(problem["sender_utility"]))

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, **self.model.describe()}


class TemplateSender(Agent):
    """A ``persuasion_v0`` language-mode sender that writes one sentence about the state it sees.

    Args:
        style: ``honest`` (names the true state) or ``pushy`` (always recommends the sender's favourite action).
    """

    def __init__(self, style: str = "honest") -> None:
        super().__init__()
        if style not in ("honest", "pushy"):
            raise ValueError(f"style must be 'honest' or 'pushy', got {style!r}")
        self.style = style

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        if "state" not in info or "problem" not in info:
            raise ValueError(f"agent {agent!r}: TemplateSender needs info['state'] and info['problem'] "
                             f"(persuasion_v0's language-mode sender)")
        problem = info["problem"]
        if self.style == "honest":
            text = f"The state is {info['state']}."
        else:
            state = problem["states"].index(info["state"])
            favourite = problem["actions"][int(np.argmax(problem["sender_utility"][state]))]
            text = f"I recommend: {favourite}."
        return sanitize(text, action_space.max_length)


class KeywordReceiver(Agent):
    """A ``persuasion_v0`` language-mode receiver that reads the message for a state or an action name.

    A message that names exactly one state is believed (the receiver plays its best action in that state);
    otherwise one that names exactly one action is followed; otherwise it plays its best action under the
    prior. Names match as whole words, case-insensitively.
    """

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        if "message" not in info or "problem" not in info:
            raise ValueError(f"agent {agent!r}: KeywordReceiver needs info['message'] and info['problem']")
        problem = info["problem"]
        message = info["message"].lower()

        def named(words):
            return [index for index, word in enumerate(words) if re.search(rf"\b{re.escape(word.lower())}\b", message)]

        receiver, sender = np.asarray(problem["receiver_utility"]), np.asarray(problem["sender_utility"])
        states, actions = named(problem["states"]), named(problem["actions"])
        if len(states) == 1:
            return best_action(np.eye(len(problem["states"]))[states[0]], receiver, sender)
        if len(actions) == 1:
            return actions[0]
        return best_action(np.asarray(problem["prior"]), receiver, sender)
