"""Participants for ``moral_graph_v0``: scripted ones with latent value profiles, and a persona
wrapper that lets any text agent (an LLM) take part.

A latent value profile is a weight per value dimension (``autonomy, care, honesty, safety,
community``); a participant's utility for a card is the weighted sum of the card's dimension values
(the env's ``infos`` carry them). The scripted participant plays one of two strategies:

- ``honest``: articulates its favourite card, and votes ``upgrade`` when the transition's target is
  better for it than the source by more than ``threshold``, ``no_upgrade`` when worse by more than
  ``threshold``, ``not_sure`` otherwise;
- ``strategic``: articulates its favourite card and votes to make it win: ``upgrade`` on every
  transition into its favourite, ``no_upgrade`` on every other transition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames import registry
from aligngames.agent import Agent
from aligngames.text import sanitize

DIMENSIONS = ("autonomy", "care", "honesty", "safety", "community")

#: Named latent value profiles (weights over :data:`DIMENSIONS`).
PROFILES: dict[str, tuple[float, ...]] = {
    "free_spirit": (1.0, 0.3, 0.5, 0.0, 0.1),
    "carer": (0.3, 1.0, 0.3, 0.4, 0.5),
    "truth_teller": (0.5, 0.4, 1.0, 0.3, 0.3),
    "guardian": (0.1, 0.5, 0.4, 1.0, 0.5),
    "communitarian": (0.2, 0.6, 0.4, 0.4, 1.0),
    "pragmatist": (0.5, 0.5, 0.5, 0.5, 0.5),
}
STRATEGIES = ("honest", "strategic")
VOTE_CHOICES = ("upgrade", "no_upgrade", "not_sure")  # the env's action order


def profile_weights(profile: str | Sequence[float]) -> np.ndarray:
    """A named profile's weights, or ``profile`` itself as weights over :data:`DIMENSIONS`."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown value profile {profile!r}; named profiles: {list(PROFILES)} (or pass weights)")
        return np.asarray(PROFILES[profile], dtype=np.float64)
    weights = np.asarray(profile, dtype=np.float64)
    if weights.shape != (len(DIMENSIONS),):
        raise ValueError(f"a value profile has one weight per dimension {list(DIMENSIONS)}, got {weights.tolist()}")
    return weights


def card_utilities(weights: np.ndarray, card_dimensions: Sequence[Sequence[float]]) -> np.ndarray:
    """``(cards,)`` utility of each card: weights . dimensions."""
    return np.asarray(card_dimensions, dtype=np.float64) @ weights


def honest_vote(utilities: Mapping[str, float], source: str, target: str, threshold: float) -> str:
    """``upgrade`` / ``no_upgrade`` / ``not_sure`` from the utility difference ``u(target) - u(source)``."""
    gain = utilities[target] - utilities[source]
    if gain > threshold:
        return "upgrade"
    if gain < -threshold:
        return "no_upgrade"
    return "not_sure"


def strategic_vote(favourite: str, source: str, target: str) -> str:
    """Push the favourite card up the graph and hold every other value down."""
    return "upgrade" if target == favourite else "no_upgrade"


class ValueProfileParticipant(Agent):
    """A scripted participant with a latent value profile (see the module docstring).

    Args:
        profile: a name in :data:`PROFILES` or one weight per dimension.
        strategy: ``"honest"`` or ``"strategic"``.
        threshold: the smallest utility gain an honest participant calls an upgrade.
    """

    def __init__(self, profile: str | Sequence[float] = "pragmatist", strategy: str = "honest",
                 threshold: float = 0.1) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
        self.profile = profile if isinstance(profile, str) else [float(w) for w in profile]
        self.weights = profile_weights(profile)
        self.strategy = strategy
        self.threshold = float(threshold)

    def utilities(self, info: Mapping[str, Any]) -> dict[str, float]:
        if list(info.get("dimensions", [])) != list(DIMENSIONS):
            raise ValueError(f"ValueProfileParticipant needs infos with 'dimensions' {list(DIMENSIONS)}, "
                             f"'cards' and 'card_dimensions' (moral_graph_v0 provides them); got keys {sorted(info)}")
        values = card_utilities(self.weights, info["card_dimensions"])
        return {card: float(v) for card, v in zip(info["cards"], values)}

    def choose(self, info: Mapping[str, Any]) -> str:
        """The card to articulate, or the vote, as a name."""
        utilities = self.utilities(info)
        cards = list(info["cards"])
        favourite = cards[int(np.argmax([utilities[c] for c in cards]))]  # first maximum on ties
        if info["stage"] == "articulate":
            return favourite
        source, target = info["transition"]
        if self.strategy == "strategic":
            return strategic_vote(favourite, source, target)
        return honest_vote(utilities, source, target, self.threshold)

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        if "stage" not in info:
            raise ValueError(f"agent {agent!r}: ValueProfileParticipant plays moral_graph_v0 and reads its infos; got {sorted(info)}")
        choice = self.choose(info)
        if isinstance(action_space, spaces.Dict):  # tabular: {"card", "vote"}, the stage reads one of them
            if info["stage"] == "articulate":
                return {"card": list(info["cards"]).index(choice), "vote": 0}
            return {"card": 0, "vote": VOTE_CHOICES.index(choice)}
        return f"card: {choice}" if info["stage"] == "articulate" else choice

    def describe(self):
        return {"class": "ValueProfileParticipant", "profile": self.profile, "strategy": self.strategy,
                "threshold": self.threshold}


class PersonaParticipant(Agent):
    """Any text agent (e.g. the ``llm`` agent) playing a participant with a persona.

    The persona is put before the env's transcript; the reply is cleaned into the action space's
    charset and length. Errors from the wrapped agent are raised, never turned into moves (the env
    records text that names no card or vote as invalid).

    Args:
        base: an :class:`Agent`, or a registered agent name built with ``base_kwargs``.
        persona: who the participant is, e.g. "a nurse who has seen teenagers with eating disorders".
        base_kwargs: keyword arguments for a base given by name.
    """

    def __init__(self, base: Agent | str, persona: str, base_kwargs: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if isinstance(base, str):
            base = registry.make_agent(base, **dict(base_kwargs or {}))
        elif base_kwargs:
            raise ValueError("base_kwargs is only used when base is given by name")
        if not persona.strip():
            raise ValueError("a persona participant needs a persona")
        self.base = base
        self.persona = persona.strip()

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.base.reset(seed)

    def _framed(self, observation: Mapping[str, Any]) -> dict[str, Any]:
        framed = dict(observation)
        framed["transcript"] = (f"You are {self.persona}. Answer as this person would, following the "
                                f"instructions exactly.\n\n{observation['transcript']}")
        return framed

    def act(self, observation, agent, action_space, info=None):
        if not isinstance(action_space, spaces.Text):
            raise ValueError(f"agent {agent!r}: a persona participant plays language mode (text actions), "
                             f"got {action_space}")
        reply = self.base.act(self._framed(observation), agent, action_space, info or {})
        if not isinstance(reply, str):
            raise ValueError(f"agent {agent!r}: the base agent returned {type(reply).__name__}, expected text")
        return sanitize(reply.strip(), action_space.max_length)

    def describe(self):
        return {"class": "PersonaParticipant", "persona": self.persona, "base": self.base.describe()}
