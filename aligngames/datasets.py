"""Data sets that ship with the package (written for aligngames; JSON under ``aligngames/data``)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources


def load_json(name: str) -> dict:
    """Read ``aligngames/data/NAME`` (a packaged JSON file)."""
    with resources.files("aligngames").joinpath("data", name).open(encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True)
class PromptItem:
    """A prompt of the preference game with the parts a scripted answerer assembles.

    Attributes:
        id: a stable short name.
        prompt: the user's question.
        core: a one-sentence direct answer.
        elaboration: why, and more detail.
        example: a concrete example.
        caveat: a warning or limitation.
    """

    id: str
    prompt: str
    core: str
    elaboration: str
    example: str
    caveat: str


@functools.cache
def preference_prompts() -> tuple[PromptItem, ...]:
    """The prompt set of ``preference_game_v0`` language mode, in a fixed order."""
    return tuple(PromptItem(**item) for item in load_json("preference_prompts.json")["prompts"])
