"""Data sets that ship with the package (written for aligngames; JSON under ``aligngames/data``)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


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


def read_prompts(prompts, *, what: str = "prompts") -> tuple[str, ...]:
    """Prompts given as a list of strings or as the path of a file of them.

    A file is read by its suffix: ``.txt`` (one prompt per non-empty line), ``.jsonl`` (one JSON string,
    or an object with a ``"prompt"`` key, per line) or ``.json`` (a list of such). A string that is not
    an existing file is refused: one prompt goes in a list (``prompts=["Is tea better than coffee?"]``).
    """
    if isinstance(prompts, str | Path):
        path = Path(prompts)
        if not path.is_file():
            raise ValueError(f"{what}: {str(prompts)!r} is not a file; give a list of prompts (one prompt goes in "
                             f"a list: [\"...\"]) or the path of a .txt, .jsonl or .json file")
        if path.suffix == ".txt":
            items = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        elif path.suffix in (".jsonl", ".json"):
            try:
                text = path.read_text(encoding="utf-8")
                items = ([json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl"
                         else json.loads(text))
            except json.JSONDecodeError as error:
                raise ValueError(f"{what}: {path} is not valid JSON ({error.msg}, line {error.lineno})") from None
            if not isinstance(items, list):
                raise ValueError(f"{what}: {path} must hold a JSON list of prompts")
            items = [item.get("prompt") if isinstance(item, dict) else item for item in items]
        else:
            raise ValueError(f"{what}: {path} has suffix {path.suffix!r}; use .txt, .jsonl or .json")
        source = str(path)
    else:
        items, source = list(prompts), "the list"
    bad = [item for item in items if not isinstance(item, str) or not item.strip()]
    if bad:
        raise ValueError(f"{what}: every prompt must be a non-empty string; {source} has {bad[0]!r}")
    if not items:
        raise ValueError(f"{what}: {source} has no prompts")
    return tuple(items)
