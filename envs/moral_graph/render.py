"""Text of ``moral_graph_v0``: each participant's transcript and the ``render()`` view."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aligngames.envs.moral_graph.rules import ContextResult, MoralGraphRules


def _titles(rules: MoralGraphRules, cards) -> str:
    return ", ".join(rules.library.cards[card].title for card in sorted(cards)) or "none (no edge kept)"


def _history(rules: MoralGraphRules, agent: str | None) -> list[str]:
    lines = []
    for result in rules.results:
        line = f"  {result.context}: winning value {_titles(rules, result.winners)}"
        if agent is not None:
            line += f"; you were represented {result.rewards[agent]:.2f}"
        lines.append(line)
    return lines


def transcript(rules: MoralGraphRules, agent: str) -> str:
    """What ``agent`` sees: the context, the stage's question, its own choices and past results."""
    total = len(rules.contexts)
    if rules.is_terminal():
        lines = [f"The deliberation is over ({total} contexts)."]
        lines += _history(rules, agent)
        return "\n".join(lines)
    context = rules.context
    lines = [f"Moral graph deliberation, context {rules.context_index + 1} of {total} ({context.id}).",
             f"A user wrote to an AI assistant: \"{context.question}\""]
    if rules.stage == "articulate":
        lines.append("Which value should guide the assistant's answer? Pick the card closest to what you believe"
                     + (" (reply 'card: <id>', optionally a second line 'edit: <your own wording>'):"
                        if rules.mode == "language" else " (action card = the card's number):"))
        for number, card_id in enumerate(context.cards):
            lines.append(f"  {number}. {rules.library.cards[card_id].text()}")
    else:
        choice = rules.state.articulations.get(agent)
        own = rules.library.cards[choice.card].title if choice is not None and choice.card else "no valid card"
        transition = context.transitions[rules.current_transition(agent)]
        source, target = rules.library.cards[transition.source], rules.library.cards[transition.target]
        lines += [
            f"Your value: {own}.",
            f"Vote {rules.vote_round + 1} of {rules.rounds[rules.context_index]}. Someone moved from one value to another.",
            f"  From: {source.title} - {source.instructions_short}",
            f"  To: {target.title} - {target.instructions_short}",
            f"  Story: {transition.story}",
            "For this user's question, is the second value wiser than the first? "
            + ("Reply upgrade, no_upgrade or not_sure." if rules.mode == "language"
               else "Action vote: 0 = upgrade, 1 = no_upgrade, 2 = not_sure."),
        ]
    if rules.results:
        lines.append("Earlier contexts:")
        lines += _history(rules, agent)
    return "\n".join(lines)


def _result_lines(rules: MoralGraphRules, result: ContextResult) -> list[str]:
    lines = [f"--- {result.context}: {result.graph.number_of_edges()} edges kept"]
    for source, target, data in sorted(result.graph.edges(data=True)):
        lines.append(f"  {source} -> {target}: wiser {data['marked_wiser']}, not wiser {data['marked_not_wiser']}, "
                     f"unsure {data['marked_unsure']}, less wise {data['marked_less_wise']}, impressions "
                     f"{data['impressions']}; likelihood {data['wiser_likelihood']:.3f}, entropy {data['entropy']:.3f}")
    for node in sorted(result.ranks, key=lambda n: (-result.ranks[n], n)):
        lines.append(f"  rank {result.ranks[node]:.4f} {node}")
    lines.append(f"  winners: {sorted(result.winners) or 'none'}")
    lines.append("  representation: " + ", ".join(f"{a} {r:.2f}" for a, r in result.rewards.items()))
    return lines


def render_text(rules: MoralGraphRules) -> str:
    lines = [f"=== moral_graph_v0 ({rules.mode}), {len(rules.possible_agents)} participants, "
             f"contexts {[c.id for c in rules.contexts]}"]
    for result in rules.results:
        lines += _result_lines(rules, result)
    if not rules.is_terminal():
        lines.append(f"now: {rules.context.id}, stage {rules.stage}, vote round {rules.vote_round}")
        for agent, choice in rules.state.articulations.items():
            lines.append(f"  {agent} articulated {choice.card or 'nothing valid'}")
    return "\n".join(lines)
