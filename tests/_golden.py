"""Golden-transcript files: compare a text with ``tests/golden/NAME``.

Set ``ALIGNGAMES_UPDATE_GOLDEN=1`` to (re)write the files after an intended change to a game's text,
then review the diff like any other code change.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / name
    if os.environ.get("ALIGNGAMES_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        raise AssertionError(f"golden file {path} is missing; run with ALIGNGAMES_UPDATE_GOLDEN=1 to create it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "now"))
        raise AssertionError(f"{name} differs from its golden transcript:\n{diff[:6000]}")


def play_and_transcribe(env, seat_agents, seed: int) -> str:
    """Play one episode of an AEC env and return every turn's view and action, the final render
    and the record (as sorted JSON) as one text."""
    import json

    env.reset(seed=seed)
    for agent in seat_agents.values():
        agent.reset(seed)
    lines = []
    for seat in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        if termination or truncation:
            lines.append(f"### {seat} done (reward {reward:+g})")
            env.step(None)
            continue
        action = seat_agents[seat].act(observation, seat, env.action_space(seat), info)
        lines.append(f"### {seat} sees:")
        lines.append(observation["transcript"])
        lines.append(f"### {seat} acts: {action!r}")
        env.step(action)
    lines.append("### render")
    lines.append(env.unwrapped.render() if env.unwrapped.render_mode == "ansi" else "")
    lines.append("### record")
    lines.append(json.dumps(env.unwrapped.record(), indent=1, sort_keys=True))
    return "\n".join(lines) + "\n"
