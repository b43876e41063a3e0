"""Text spaces and observation layout for language games.

PettingZoo's ``api_test`` looks for numeric data under the key ``"observation"``, so a language
game's observation is a ``Dict`` with numeric features under ``"observation"`` and the dialogue
under ``"transcript"`` (see DESIGN.md, "Text in PettingZoo"). Every string an env writes or
accepts lives in one ordered character set, :data:`CHARSET`; :func:`sanitize` maps any string
into it.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence

import numpy as np
from gymnasium import spaces

#: Printable ASCII plus newline, in a fixed order (an ordered ``str``, so sampling is reproducible).
CHARSET: str = string.digits + string.ascii_letters + string.punctuation + " \n"

_CHARSET_SET = frozenset(CHARSET)

# Characters that NFKD leaves alone but that have an obvious ASCII spelling.
_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u200b": "", "\u00df": "ss",
    "\u00e6": "ae", "\u00c6": "AE", "\u00f8": "o", "\u00d8": "O", "\u0153": "oe", "\u0152": "OE",
    "\t": " ", "\r": "",
}


def sanitize(text: str, max_length: int) -> str:
    """Map any string into :data:`CHARSET` and cut it to ``max_length`` characters.

    Accents are dropped (``"café" -> "cafe"``), typographic quotes and dashes become ASCII,
    tabs become spaces, and any other character outside the charset becomes ``"?"``.
    """
    if not isinstance(text, str):
        raise TypeError(f"sanitize expects a str, got {type(text).__name__}")
    if max_length < 0:
        raise ValueError(f"max_length must be >= 0, got {max_length}")
    out: list[str] = []
    for char in text:
        if char in _CHARSET_SET:
            out.append(char)
            continue
        if char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        ascii_part = "".join(c for c in decomposed if c in _CHARSET_SET)
        out.append(ascii_part if ascii_part else "?")
    return "".join(out)[:max_length]


def text_space(max_length: int) -> spaces.Text:
    """A ``Text`` space over :data:`CHARSET` that admits the empty string."""
    return spaces.Text(max_length, min_length=0, charset=CHARSET)


def observation_space(num_features: int, transcript_length: int, *, low: float = -np.inf,
                      high: float = np.inf) -> spaces.Dict:
    """The observation layout shared by language games.

    ``{"observation": Box(num_features,) float32, "transcript": Text(transcript_length)}``.
    """
    return spaces.Dict({
        "observation": spaces.Box(low, high, shape=(num_features,), dtype=np.float32),
        "transcript": text_space(transcript_length),
    })


def check_text_action(action: object, space: spaces.Text, agent: str) -> str:
    """Return ``action`` if it is a member of ``space``; otherwise raise a ``ValueError`` naming the agent.

    The error says what was wrong: the type, the length against the limit, or the first
    character outside the charset.
    """
    if not isinstance(action, str):
        raise ValueError(
            f"agent {agent!r}: action must be a str (text of at most {space.max_length} characters), "
            f"got {type(action).__name__}: {action!r:.80}"
        )
    if len(action) > space.max_length:
        raise ValueError(
            f"agent {agent!r}: action is {len(action)} characters long; the limit is {space.max_length} "
            f"(action starts {action[:60]!r}); clean it with aligngames.text.sanitize(text, {space.max_length})"
        )
    if len(action) < space.min_length:
        raise ValueError(
            f"agent {agent!r}: action is {len(action)} characters long; the minimum is {space.min_length}"
        )
    for position, char in enumerate(action):
        if char not in space.character_set:
            raise ValueError(
                f"agent {agent!r}: action has character {char!r} at position {position}, outside the "
                f"env's charset (printable ASCII and newline); clean it with aligngames.text.sanitize"
            )
    return action


def check_discrete_action(action: object, space: spaces.Discrete, agent: str,
                          action_mask: np.ndarray | None = None) -> int:
    """Return ``action`` as an ``int`` if it is a legal member of ``space``; else raise ``ValueError``."""
    if isinstance(action, bool) or not isinstance(action, int | np.integer):
        raise ValueError(
            f"agent {agent!r}: action must be an int in [0, {space.n - 1}], got {type(action).__name__}: "
            f"{action!r:.80}"
        )
    index = int(action)
    if not space.start <= index < space.start + space.n:
        raise ValueError(
            f"agent {agent!r}: action {index} is out of range; legal actions are {space.start}.."
            f"{space.start + space.n - 1}"
        )
    if action_mask is not None and not action_mask[index - space.start]:
        legal = [int(i) + int(space.start) for i in np.flatnonzero(action_mask)]
        raise ValueError(f"agent {agent!r}: action {index} is masked out; legal actions are {legal}")
    return index


_NUMBER = r"([-+]?\d+(?:\.\d+)?)"


def parse_named_numbers(text: str, names: Sequence[str]) -> dict[str, float | None]:
    """The number a message gives each name (an outcome's wage, a response's rating), or ``None`` for a name it
    gives none.

    Two forms are read, case-insensitively: a number before the name with a connective (``2 for verified``,
    ``$1.5 on a tests pass``) and a number right after it (``verified: 2``, ``fail 0``, ``success pays 3``).
    ``_`` in a name also matches a space or ``-``. Longer names are read first, and each match is blanked
    out, so ``tests_pass`` is not taken for ``pass``.
    """
    remaining, found = text, {}
    for key in sorted(names, key=len, reverse=True):
        name = r"[ _-]".join(re.escape(part) for part in key.split("_"))
        name = rf"(?<![\w-]){name}(?![\w-])"
        before = rf"\$?{_NUMBER}\s*(?:points?|units?|dollars?)?\s+(?:on|for|if|when|upon)\s+(?:an?\s+|the\s+)?{name}"
        after = rf"{name}\s*(?:[:=]|->|pays?|gets?|earns?|is)?\s*\$?{_NUMBER}"
        match = (re.search(before, remaining, flags=re.IGNORECASE)
                 or re.search(after, remaining, flags=re.IGNORECASE))
        found[key] = float(match.group(1)) if match else None
        if match:
            remaining = remaining[:match.start()] + " " * (match.end() - match.start()) + remaining[match.end():]
    return {key: found[key] for key in names}
