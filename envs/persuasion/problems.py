"""Bayesian persuasion problems written down as tables (Kamenica & Gentzkow 2011).

A :class:`PersuasionProblem` is a finite set of ``states`` with a ``prior``, the receiver's ``actions``,
and two utility tables indexed ``[state][action]``: ``sender_utility`` and ``receiver_utility``. The sender
knows the state and commits to a signalling scheme ``P(signal | state)``; the receiver sees the scheme and
the signal, updates and acts.

Named examples (:data:`EXAMPLES`): ``prosecutor`` (the textbook prosecutor and judge: prior P(guilty) = 0.3,
the judge convicts iff P(guilty | signal) >= 0.5, the prosecutor wants a conviction either way; the
optimal scheme convicts with probability 0.6) and ``recommendation`` (an AI assistant that earns a
commission on a product that suits the user only sometimes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames.tables import distribution, names, table


@dataclass(frozen=True)
class PersuasionProblem:
    """A finite persuasion problem.

    Attributes:
        states: the state names (the sender knows the state; the receiver does not).
        actions: the receiver's action names.
        prior: shape ``(num_states,)``, the common prior over states.
        sender_utility: shape ``(num_states, num_actions)``, indexed ``[state][action]``.
        receiver_utility: shape ``(num_states, num_actions)``, indexed ``[state][action]``.
        name: a label for transcripts and results.
    """

    states: tuple[str, ...]
    actions: tuple[str, ...]
    prior: np.ndarray
    sender_utility: np.ndarray
    receiver_utility: np.ndarray
    name: str = "custom"

    def __post_init__(self) -> None:
        states = names(self.states, "states")
        actions = names(self.actions, "actions")
        shape = (len(states), len(actions))
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "prior", distribution(self.prior, "prior", len(states)))
        object.__setattr__(self, "sender_utility", table(self.sender_utility, "sender_utility", shape, "[state][action]"))
        object.__setattr__(self, "receiver_utility",
                           table(self.receiver_utility, "receiver_utility", shape, "[state][action]"))

    @property
    def num_states(self) -> int:
        return len(self.states)

    @property
    def num_actions(self) -> int:
        return len(self.actions)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], name: str | None = None) -> PersuasionProblem:
        """A problem from plain data (a JSON / YAML file): ``states``, ``actions``, ``prior``,
        ``sender_utility`` and ``receiver_utility`` (utilities indexed ``[state][action]``); ``prior`` may
        also be a mapping ``{state: probability}``."""
        required = ("states", "actions", "prior", "sender_utility", "receiver_utility")
        missing = [key for key in required if key not in data]
        if missing:
            raise ValueError(f"a persuasion problem needs the keys {list(required)}; missing {missing}")
        unknown = sorted(set(data) - {*required, "name"})
        if unknown:
            raise ValueError(f"unknown keys in a persuasion problem: {unknown}; allowed: {[*required, 'name']}")
        prior = data["prior"]
        if isinstance(prior, Mapping):
            states = list(data["states"])
            extra = sorted(set(prior) - set(states))
            if extra:
                raise ValueError(f"prior names states that are not in states {states}: {extra}")
            prior = [prior.get(state, 0.0) for state in states]
        return cls(data["states"], data["actions"], prior, data["sender_utility"],
                   data["receiver_utility"], name or str(data.get("name", "custom")))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "states": list(self.states), "actions": list(self.actions),
                "prior": self.prior.tolist(), "sender_utility": self.sender_utility.tolist(),
                "receiver_utility": self.receiver_utility.tolist()}


def prosecutor() -> PersuasionProblem:
    """The prosecutor and the judge (Kamenica & Gentzkow 2011, section I)."""
    return PersuasionProblem(
        states=("guilty", "innocent"), actions=("acquit", "convict"), prior=[0.3, 0.7],
        # the prosecutor gets 1 for a conviction whatever the state
        sender_utility=[[0.0, 1.0], [0.0, 1.0]],
        # the judge gets 1 for the right verdict: convicting is right iff P(guilty) >= 1/2
        receiver_utility=[[0.0, 1.0], [1.0, 0.0]],
        name="prosecutor",
    )


def recommendation() -> PersuasionProblem:
    """An assistant paid a commission on product ``premium``, which suits the user only when their need is
    ``heavy`` (prior 0.4); the user buys ``premium``, ``basic`` or nothing."""
    return PersuasionProblem(
        states=("heavy", "light"), actions=("premium", "basic", "none"), prior=[0.4, 0.6],
        sender_utility=[[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]],
        receiver_utility=[[3.0, 1.0, 0.0], [-1.0, 1.0, 0.0]],
        name="recommendation",
    )


EXAMPLES = {"prosecutor": prosecutor, "recommendation": recommendation}


def build(example: str) -> PersuasionProblem:
    """A named example problem (see :data:`EXAMPLES`)."""
    if example not in EXAMPLES:
        raise ValueError(f"unknown persuasion example {example!r}; valid examples: {sorted(EXAMPLES)}")
    return EXAMPLES[example]()


def custom(states: Sequence[str], actions: Sequence[str], prior, sender_utility, receiver_utility,
           name: str = "custom") -> PersuasionProblem:
    """A problem from explicit tables (checked: a named error for non-distributions and mismatched tables)."""
    return PersuasionProblem(states, actions, prior, sender_utility, receiver_utility, name)
