"""Ideal SVO types as scripted agents for ``svo_v0``.

Each type maximises a score of the allocation ``(self, other)`` it picks among the item's nine options
(``info["options"]``); ties go to the larger joint payoff, then to the first option:

- ``individualist``: maximise own payoff;
- ``altruist``: maximise the other's payoff;
- ``prosocial``: maximise the joint payoff ``self + other``;
- ``inequality_averse``: minimise ``|self - other|``;
- ``competitive``: maximise the difference ``self - other``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aligngames.agent import Agent

IDEAL_TYPES = {
    "individualist": lambda mine, theirs: mine,
    "altruist": lambda mine, theirs: theirs,
    "prosocial": lambda mine, theirs: mine + theirs,
    "inequality_averse": lambda mine, theirs: -np.abs(mine - theirs),
    "competitive": lambda mine, theirs: mine - theirs,
}


def ideal_choice(kind: str, options) -> int:
    """The 0-based option an ideal ``kind`` picks among ``options`` (shape ``(n, 2)``: ``(self, other)``)."""
    if kind not in IDEAL_TYPES:
        raise ValueError(f"unknown SVO ideal type {kind!r}; valid types: {sorted(IDEAL_TYPES)}")
    options = np.asarray(options, dtype=np.float64)
    mine, theirs = options[:, 0], options[:, 1]
    # lexicographic: the type's score, then the joint payoff, then the first option (lexsort: last key first)
    order = np.lexsort((np.arange(len(options)), -(mine + theirs), -IDEAL_TYPES[kind](mine, theirs)))
    return int(order[0])


class IdealTypeAgent(Agent):
    """An ``svo_v0`` agent that always answers as one ideal type (see the module docstring).

    Args:
        kind: ``individualist``, ``altruist``, ``prosocial``, ``inequality_averse`` or ``competitive``.
    """

    def __init__(self, kind: str = "individualist") -> None:
        super().__init__()
        if kind not in IDEAL_TYPES:
            raise ValueError(f"unknown SVO ideal type {kind!r}; valid types: {sorted(IDEAL_TYPES)}")
        self.kind = kind

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        if "options" not in info:
            raise ValueError(f"agent {agent!r}: IdealTypeAgent needs info['options'] (svo_v0's (self, other) allocations)")
        return ideal_choice(self.kind, info["options"])

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "kind": self.kind}
