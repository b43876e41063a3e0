"""The value-card library and the contexts of ``moral_graph_v0`` (data in ``library.json``).

A value card (the moral-graph paper's format) has a title, short and detailed instructions for an
assistant, and evaluation criteria: what someone holding the value pays attention to. Each card
also has a position on five value dimensions, used only by scripted participants whose latent
value profile is a weight per dimension. A context is a divisive user message, the cards that are
on offer for it, and transition stories ("someone who held A came to hold B") to vote on.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class ValueCard:
    """One value, as a participant would articulate it."""

    id: str
    title: str
    instructions_short: str
    instructions_detailed: str
    evaluation_criteria: tuple[str, ...]
    dimensions: tuple[float, ...]

    def attributes(self) -> dict[str, Any]:
        """Node attributes for the moral graph (GraphML-friendly: strings and floats)."""
        return {"title": self.title, "instructions_short": self.instructions_short,
                "instructions_detailed": self.instructions_detailed,
                "evaluation_criteria": "; ".join(self.evaluation_criteria)}

    def text(self) -> str:
        criteria = "; ".join(self.evaluation_criteria)
        return f"{self.title} [{self.id}]: {self.instructions_short} Attends to: {criteria}."


@dataclass(frozen=True)
class Transition:
    """A story of someone moving from value ``source`` to value ``target``."""

    source: str
    target: str
    story: str


@dataclass(frozen=True)
class Context:
    """A divisive question and what participants can say about it."""

    id: str
    question: str
    cards: tuple[str, ...]
    transitions: tuple[Transition, ...]


@dataclass(frozen=True)
class Library:
    """Cards by id, contexts by id, and the names of the value dimensions."""

    dimensions: tuple[str, ...]
    cards: dict[str, ValueCard]
    contexts: dict[str, Context]

    def context(self, context_id: str) -> Context:
        if context_id not in self.contexts:
            raise ValueError(f"unknown context {context_id!r}; valid contexts: {list(self.contexts)}")
        return self.contexts[context_id]

    def context_cards(self, context_id: str) -> list[ValueCard]:
        return [self.cards[card] for card in self.context(context_id).cards]

    def select(self, context_ids: Sequence[str] | None) -> tuple[Context, ...]:
        """The contexts named (all, in file order, for ``None``)."""
        if context_ids is None:
            return tuple(self.contexts.values())
        if not context_ids:
            raise ValueError("contexts must name at least one context")
        return tuple(self.context(c) for c in context_ids)


def _parse(data: dict[str, Any]) -> Library:
    dimensions = tuple(data["dimensions"])
    cards = {}
    for item in data["cards"]:
        card = ValueCard(item["id"], item["title"], item["instructions_short"], item["instructions_detailed"],
                         tuple(item["evaluation_criteria"]), tuple(float(x) for x in item["dimensions"]))
        if len(card.dimensions) != len(dimensions):
            raise ValueError(f"card {card.id!r} has {len(card.dimensions)} dimension values, expected {len(dimensions)}")
        cards[card.id] = card
    contexts = {}
    for item in data["contexts"]:
        transitions = tuple(Transition(t["source"], t["target"], t["story"]) for t in item["transitions"])
        context = Context(item["id"], item["question"], tuple(item["cards"]), transitions)
        for card in context.cards:
            if card not in cards:
                raise ValueError(f"context {context.id!r} names unknown card {card!r}")
        for transition in transitions:
            if transition.source not in context.cards or transition.target not in context.cards:
                raise ValueError(f"context {context.id!r}: transition {transition.source} -> {transition.target} "
                                 f"uses a card that is not on offer there")
        contexts[context.id] = context
    return Library(dimensions, cards, contexts)


@functools.lru_cache(maxsize=1)
def load_library() -> Library:
    """The packaged library (read once per process)."""
    text = resources.files("aligngames.envs.moral_graph").joinpath("library.json").read_text(encoding="utf-8")
    return _parse(json.loads(text))
