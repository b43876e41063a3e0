"""Golden-transcript files: compare a text with ``tests/golden/NAME``.

Text is compared exactly and numbers to a relative 1e-12: the last bits of a float differ between
CPUs and BLAS builds, which is not a change to the game.

Set ``ALIGNGAMES_UPDATE_GOLDEN=1`` to (re)write the files after an intended change to a game's text,
then review the diff like any other code change.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"
REL_TOL = 1e-12
ABS_TOL = 1e-15
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def same_up_to_float_noise(expected: str, actual: str) -> bool:
    """Whether two texts are equal once every number in them is compared to ``REL_TOL``."""
    if _NUMBER.sub("#", expected) != _NUMBER.sub("#", actual):
        return False
    return all(math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)
               for a, b in zip(_NUMBER.findall(expected), _NUMBER.findall(actual), strict=True))


def assert_close_structure(expected, actual, where: str = "value") -> None:
    """Compare JSON-like data: strings, keys and lengths exactly, floats to ``REL_TOL``."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(actual) == sorted(expected), f"{where}: keys differ"
        for key in expected:
            assert_close_structure(expected[key], actual[key], f"{where}[{key!r}]")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: lengths differ"
        for index, (a, b) in enumerate(zip(expected, actual)):
            assert_close_structure(a, b, f"{where}[{index}]")
    elif isinstance(expected, float) or isinstance(actual, float):
        assert math.isclose(expected, actual, rel_tol=REL_TOL, abs_tol=ABS_TOL), f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, str):
        assert same_up_to_float_noise(expected, actual), f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / name
    if os.environ.get("ALIGNGAMES_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        raise AssertionError(f"golden file {path} is missing; run with ALIGNGAMES_UPDATE_GOLDEN=1 to create it")
    expected = path.read_text(encoding="utf-8")
    if not same_up_to_float_noise(expected, text):
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
