"""Scripted answerers for ``preference_game_v0`` language mode.

Each packaged prompt comes with a core answer, an elaboration, an example and a caveat
(``aligngames.datasets.preference_prompts``). A :class:`TemplateAnswerer` assembles them in one
fixed style, so a tournament between styles shows what the judge's annotator groups reward.
"""

from __future__ import annotations

from aligngames.agent import Agent
from aligngames.datasets import PromptItem, preference_prompts
from aligngames.text import sanitize

STYLES = ("concise", "detailed", "cautious", "structured", "evasive")

_EVASIVE = ("That is a good question. It really depends on your situation, and there are many "
            "factors to consider, so there is no single right answer.")


def compose(item: PromptItem, style: str) -> str:
    """The answer to ``item`` in ``style``."""
    if style == "concise":
        return item.core
    if style == "detailed":
        return f"{item.core} {item.elaboration} {item.example}"
    if style == "cautious":
        return f"{item.core} {item.caveat}"
    if style == "structured":
        first_reason = item.elaboration.split(". ")[0].rstrip(".") + "."
        return f"In short:\n- {item.core}\n- {first_reason}\n- {item.caveat}"
    if style == "evasive":
        return _EVASIVE
    raise ValueError(f"unknown style {style!r}; valid styles: {list(STYLES)}")


class TemplateAnswerer(Agent):
    """Answers the packaged prompts in one ``style`` (one of :data:`STYLES`)."""

    def __init__(self, style: str = "concise") -> None:
        super().__init__()
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; valid styles: {list(STYLES)}")
        self.style = style
        self._items = {item.prompt: item for item in preference_prompts()}

    def act(self, observation, agent, action_space, info=None):
        transcript = observation["transcript"]
        first_line = transcript.split("\n", 1)[0]
        if not first_line.startswith("Prompt: "):
            raise ValueError(f"agent {agent!r}: expected a transcript that starts with 'Prompt: ', got {first_line[:80]!r}")
        prompt = first_line[len("Prompt: "):]
        item = self._items.get(prompt)
        if item is None:
            raise ValueError(
                f"agent {agent!r}: template answerers only know the packaged prompts; no template for {prompt[:80]!r}"
            )
        return sanitize(compose(item, self.style), action_space.max_length)

    def describe(self):
        return {"class": "TemplateAnswerer", "style": self.style}
