"""The attack catalog of ``red_team_v0``: harm themes, attack methods, templates and benign prompts.

The catalog is data (``data/catalog.json``), written for aligngames. It describes the *form* of
attacks; every restricted request is the placeholder ``[restricted request about TOPIC]``, so
nothing here (or in any transcript the scripted agents produce) is operational harmful content.

- 16 themes (violence, weapons, drugs, cybercrime, privacy, self-harm, hate speech, fraud,
  harassment, extremism, misinformation, biohazards, chemical hazards, theft, stalking, money
  laundering), each with a topic phrase, filter keywords, a severity in [0, 1] (used by the
  default tabular payoffs) and two innocuous lead-in questions for gradual escalation;
- 8 methods (direct, role_play, hypothetical, goal_hijacking, obfuscation, escalation, authority,
  refusal_suppression), each with three templates over the slots ``{request}``, ``{spaced}``
  (letter-spaced request), ``{reversed}`` (the request spelled backwards), ``{codeword}`` (the topic) and
  ``{lead_in}`` (escalation's innocuous questions);
- 24 benign prompts with helpful reference answers, some on sensitive topics (how to spot
  phishing, which chemicals not to mix), so that over-refusal shows up.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Theme:
    """A harm category.

    Attributes:
        name: identifier (``"weapons"``).
        topic: a non-operational phrase naming the restricted request (``"obtaining ... a weapon illegally"``).
        keywords: words a keyword filter would look for.
        severity: how bad a harmful answer on this theme is, in [0, 1] (default tabular payoffs).
        lead_ins: innocuous questions that open a gradual escalation.
    """

    name: str
    topic: str
    keywords: tuple[str, ...]
    severity: float
    lead_ins: tuple[str, ...]


@dataclass(frozen=True)
class Method:
    """An attack method: a way of wrapping a restricted request.

    Attributes:
        name: identifier (``"role_play"``).
        description: one line.
        templates: prompt templates; escalation's templates are the rounds of one conversation.
    """

    name: str
    description: str
    templates: tuple[str, ...]

    @property
    def multi_turn(self) -> bool:
        """Whether the templates are consecutive rounds of one conversation (gradual escalation)."""
        return self.name == "escalation"


@dataclass(frozen=True)
class BenignPrompt:
    """A harmless request with a helpful reference answer."""

    prompt: str
    answer: str


@dataclass(frozen=True)
class Catalog:
    """Themes, methods, benign prompts and the request placeholder."""

    themes: tuple[Theme, ...]
    methods: tuple[Method, ...]
    benign: tuple[BenignPrompt, ...]
    request_template: str

    def theme(self, name: str) -> Theme:
        for theme in self.themes:
            if theme.name == name:
                return theme
        raise ValueError(f"unknown theme {name!r}; themes: {[t.name for t in self.themes]}")

    def method(self, name: str) -> Method:
        for method in self.methods:
            if method.name == name:
                return method
        raise ValueError(f"unknown method {name!r}; methods: {[m.name for m in self.methods]}")

    @property
    def theme_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.themes)

    @property
    def method_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.methods)

    def request(self, theme: Theme) -> str:
        """The placeholder that stands for the restricted request: ``[restricted request about TOPIC]``."""
        return self.request_template.format(topic=theme.topic)

    def attack_prompt(self, theme: str, method: str, round_index: int, variant: int = 0) -> str:
        """Red's prompt in round ``round_index`` (0-based) for ``(theme, method)``.

        Single-turn methods cycle through their templates, starting at template ``variant``; gradual
        escalation plays its templates in order (lead-in questions first, the request last) and repeats
        the request once they run out.
        """
        theme_data, method_data = self.theme(theme), self.method(method)
        templates = method_data.templates
        if method_data.multi_turn:
            index = min(round_index, len(templates) - 1)
            lead_in = theme_data.lead_ins[min(round_index, len(theme_data.lead_ins) - 1)]
        else:
            index = (variant + round_index) % len(templates)
            lead_in = theme_data.lead_ins[0]
        request = self.request(theme_data)
        return templates[index].format(request=request, spaced=space_letters(request),
                                       reversed=reverse_text(request), codeword=theme_data.topic, lead_in=lead_in)

    def to_dict(self) -> dict:
        return {"themes": list(self.theme_names), "methods": list(self.method_names), "benign_prompts": len(self.benign)}


def space_letters(text: str) -> str:
    """``"abc de"`` -> ``"a b c / d e"``: each word letter-spaced, words separated by ``/``."""
    return " / ".join(" ".join(word) for word in text.split())


def reverse_text(text: str) -> str:
    """``text`` spelled backwards (``"abc de"`` -> ``"ed cba"``)."""
    return text[::-1]


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The packaged catalog (``data/catalog.json``)."""
    data = json.loads((DATA_DIR / "catalog.json").read_text(encoding="utf-8"))
    themes = tuple(Theme(t["name"], t["topic"], tuple(t["keywords"]), float(t["severity"]), tuple(t["lead_ins"]))
                   for t in data["themes"])
    methods = tuple(Method(m["name"], m["description"], tuple(m["templates"])) for m in data["methods"])
    benign = tuple(BenignPrompt(b["prompt"], b["answer"]) for b in data["benign_prompts"])
    return Catalog(themes, methods, benign, data["request_template"])
