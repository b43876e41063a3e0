"""Text rendering of the preference game (``render_mode="ansi"`` and ``"human"``)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aligngames.envs.preference_game.rules import PreferenceGameRules


def render_text(rules: PreferenceGameRules) -> str:
    lines = ["=== preference_game_v0 " + ("(tabular)" if rules.mode == "tabular" else "(language)"),
             "Prompt: " + rules.prompt]
    for agent in sorted(rules.answers):
        answer = rules.answer_text(agent)
        lines.append(f"--- {agent}:")
        lines.append(textwrap.indent(textwrap.fill(answer, 88, replace_whitespace=False) or "(empty)", "    "))
    if rules.preference is None:
        lines.append("(waiting for both answers)")
    else:
        payoffs = rules.payoffs()
        lines.append(
            f"Judge: P(player_0 > player_1) = {rules.preference:.3f}; payoffs player_0 {payoffs['player_0']:+.3f}, "
            f"player_1 {payoffs['player_1']:+.3f}"
        )
    return "\n".join(lines)
