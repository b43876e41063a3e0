"""The packaged question set of ``debate_v0`` (``items.json``, made by ``generate.py``)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class DebateItem:
    """One question.

    Attributes:
        id: a stable name, ``kind-entity-qN``.
        kind: the kind of entity (town, inventor, ship, species).
        entity: the entity's (fictional) name.
        passage: the text the debaters see and the judge does not.
        question: the question.
        correct: the correct answer.
        distractor: the wrong answer (also mentioned in the passage, in another role).
        split: train, validation or test (split by entity).
    """

    id: str
    kind: str
    entity: str
    passage: str
    question: str
    correct: str
    distractor: str
    split: str


@functools.cache
def all_items() -> tuple[DebateItem, ...]:
    """Every packaged item, in file order."""
    text = resources.files("aligngames.envs.debate").joinpath("items.json").read_text(encoding="utf-8")
    return tuple(DebateItem(**item) for item in json.loads(text)["items"])


def load_items(split: str = "test", ids: tuple[str, ...] | None = None) -> tuple[DebateItem, ...]:
    """The items of ``split`` (``"all"`` for every split), optionally only those with the given ids."""
    if split != "all" and split not in SPLITS:
        raise ValueError(f"split must be one of {[*SPLITS, 'all']}, got {split!r}")
    items = tuple(item for item in all_items() if split == "all" or item.split == split)
    if ids is not None:
        by_id = {item.id: item for item in items}
        missing = [item_id for item_id in ids if item_id not in by_id]
        if missing:
            raise ValueError(f"unknown item id(s) {missing[:3]} in split {split!r}")
        items = tuple(by_id[item_id] for item_id in ids)
    if not items:
        raise ValueError(f"no items in split {split!r}")
    return items
