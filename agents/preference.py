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


def generic_item(prompt: str) -> PromptItem:
    """Parts for a prompt that is not packaged: generic advice, so that the styles still differ in
    length, caveats and structure (what the judge's annotator groups react to) on any prompt."""
    return PromptItem(
        id="generic", prompt=prompt,
        core="Weigh the main options against what you need most and pick the one that fits.",
        elaboration="The best choice depends on your goals, constraints and budget. Comparing two or three "
                    "options on those points usually settles it.",
        example="For example, list what each option costs and what it gives you, then drop the ones that miss "
                "a must-have.",
        caveat="If the stakes are high, check a reliable source or ask an expert before you decide.")


class TemplateAnswerer(Agent):
    """Answers in one ``style`` (one of :data:`STYLES`): the packaged prompts with their own parts,
    any other prompt with :func:`generic_item`."""

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
        item = self._items.get(prompt) or generic_item(prompt)
        return sanitize(compose(item, self.style), action_space.max_length)

    def describe(self):
        return {"class": "TemplateAnswerer", "style": self.style}
