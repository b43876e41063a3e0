"""Quote verification for debates (Khan et al. 2024, "Debating with More Persuasive LLMs Leads to
More Truthful Answers").

Debaters quote the passage as ``<quote>...</quote>``. A quote is *verified* when, after collapsing
every run of whitespace (spaces, tabs, newlines) to one space and stripping both ends, it occurs in
the passage (whitespace-collapsed the same way) as an exact, case-sensitive substring. Anything
else is *unverified*: a different letter case, changed punctuation, a word left out, an empty quote.
The judge sees verified quotes as ``<v_quote>...</v_quote>`` and the rest as
``<u_quote>...</u_quote>``; verification tags that a debater writes itself are defused (shown as
``[v_quote]``), so a debater cannot forge a verified quote. Only closed ``<quote>`` tags count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUOTE = re.compile(r"<quote>(.*?)</quote>", re.DOTALL)
_FORGED = re.compile(r"</?\s*[vu]_quote\s*>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Quote:
    """One quote from an argument.

    Attributes:
        text: the quoted text as written (inside the tags).
        verified: whether it occurs in the passage (see the module docstring).
    """

    text: str
    verified: bool


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and strip both ends."""
    return _WHITESPACE.sub(" ", text).strip()


def verify_quote(quote: str, passage: str) -> bool:
    """Whether ``quote`` occurs in ``passage`` (exact and case-sensitive, whitespace collapsed)."""
    needle = normalize_whitespace(quote)
    return bool(needle) and needle in normalize_whitespace(passage)


def extract_quotes(argument: str, passage: str) -> list[Quote]:
    """The quotes of ``argument`` in order, each checked against ``passage``."""
    return [Quote(match, verify_quote(match, passage)) for match in _QUOTE.findall(argument)]


def mark_quotes(argument: str, passage: str) -> tuple[str, list[Quote]]:
    """``argument`` as the judge sees it (quotes marked verified or unverified) and its quotes."""
    quotes: list[Quote] = []

    def replace(match: re.Match) -> str:
        quote = Quote(match.group(1), verify_quote(match.group(1), passage))
        quotes.append(quote)
        tag = "v_quote" if quote.verified else "u_quote"
        return f"<{tag}>{_defuse(quote.text)}</{tag}>"

    pieces, last = [], 0
    for match in _QUOTE.finditer(argument):
        pieces.append(_defuse(argument[last:match.start()]))
        pieces.append(replace(match))
        last = match.end()
    pieces.append(_defuse(argument[last:]))
    return "".join(pieces), quotes


def _defuse(text: str) -> str:
    return _FORGED.sub(lambda match: "[" + match.group(0).strip("<>/ ").lower() + "]", text)
