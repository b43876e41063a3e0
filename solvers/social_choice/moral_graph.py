"""Moral-graph sessions: aggregation API, exports, representation and a manipulation check.

The aggregation (Klingefjord, Lowe & Edelman 2024; see :mod:`aligngames.envs.moral_graph.graph`)
is re-exported here as the public API:

- :func:`build_graph` (votes -> ``networkx.DiGraph`` of kept edges with counts and summaries),
- :func:`rank_values` (weighted PageRank, d = 0.85, 100 iterations, written onto the nodes),
- :func:`edge_statistics`, :func:`top_values`, :class:`Vote`;

and :func:`graph_to_json`, :func:`write_graphml` and :func:`draw_graph` export a graph.

:func:`run_session` plays ``moral_graph_v0`` with scripted participants (latent value profiles,
honest or strategic) and reports per context:

1. the moral graph's winners and each participant's representation (the env's payoff);
2. the Copeland winners and the maximal lottery of the same participants' honest rankings of the
   context's cards (by latent utility), and the share of participants whose favourite card each
   rule picks;
3. a manipulation check for each rule: can one participant, everyone else honest, get an outcome it
   strictly prefers by misreporting? For the moral graph every one of its ``3^T`` vote vectors is
   tried (its card does not enter the aggregation); for Copeland and the maximal lottery every
   ranking of the cards. An outcome's value to a participant is its mean latent utility over a
   winner set (uniform over a tie; the uniform draw over all cards when the graph keeps no edge)
   or its expected utility under a lottery.

CLI: ``aligngames solve moral_graph --out runs/moral_graph`` prints the table and writes each
context's graph as JSON, GraphML and PNG.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from aligngames.agents.moral_graph import ValueProfileParticipant, card_utilities, profile_weights
from aligngames.envs.moral_graph import load_library, parallel_env
from aligngames.envs.moral_graph.graph import Vote, build_graph, edge_statistics, rank_values, top_values
from aligngames.envs.moral_graph.library import Context
from aligngames.runs import atomic_write_text
from aligngames.solvers.social_choice.voting import Election, copeland, maximal_lottery

log = logging.getLogger(__name__)

__all__ = ["ContextReport", "ManipulationCheck", "SessionReport", "Vote", "build_graph", "draw_graph",
           "edge_statistics", "graph_to_json", "rank_values", "run_session", "top_values", "write_graphml"]

GAIN_TOLERANCE = 1e-9


# --- exports --------------------------------------------------------------------------------------

def graph_to_json(graph: nx.DiGraph) -> dict[str, Any]:
    """Nodes (with attributes, ``page_rank`` included once ranked) and edges (counts and summary)."""
    return {
        "nodes": [{"id": node, **graph.nodes[node]} for node in sorted(graph.nodes)],
        "edges": [{"source": s, "target": t, **data} for s, t, data in sorted(graph.edges(data=True))],
    }


def write_graphml(graph: nx.DiGraph, path: str | Path) -> None:
    """GraphML (list attributes such as ``contexts`` are joined with ``;``), written atomically."""
    copy = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        copy.add_node(node, **{k: "; ".join(v) if isinstance(v, list) else v for k, v in data.items()})
    for source, target, data in graph.edges(data=True):
        copy.add_edge(source, target, **{k: "; ".join(v) if isinstance(v, list) else v for k, v in data.items()})
    atomic_write_text(path, "\n".join(nx.generate_graphml(copy)) + "\n")


def draw_graph(graph: nx.DiGraph, path: str | Path, title: str = "", winners: Sequence[str] = ()) -> None:
    """A PNG drawing: node size by rank, edge width by wiserLikelihood, arrows toward the wiser value; the
    ``winners`` (the graph's top values) are drawn in orange with a thick outline and named in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 6))
    if graph.number_of_nodes():
        positions = nx.spring_layout(graph, seed=0)
        ranks = [graph.nodes[n].get("page_rank", 0.0) for n in graph.nodes]
        scale = 3000.0 / max(max(ranks), 1e-9)
        won = set(winners)
        nx.draw_networkx_nodes(graph, positions, node_size=[300 + scale * r for r in ranks], ax=axis,
                               node_color=["#fd8d3c" if n in won else "#9ecae1" for n in graph.nodes],
                               edgecolors=["#7f2704" if n in won else "#9ecae1" for n in graph.nodes],
                               linewidths=[3.0 if n in won else 0.5 for n in graph.nodes])
        nx.draw_networkx_labels(graph, positions, labels={n: graph.nodes[n].get("title", n) for n in graph.nodes},
                                font_size=8, ax=axis)
        widths = [1 + 4 * data["wiser_likelihood"] for _, _, data in graph.edges(data=True)]
        nx.draw_networkx_edges(graph, positions, width=widths, edge_color="#555555", arrowsize=18, node_size=1500, ax=axis)
        if won & set(graph.nodes):
            from matplotlib.patches import Patch

            named = ", ".join(str(graph.nodes[n].get("title", n)) for n in graph.nodes if n in won)
            axis.legend(handles=[Patch(facecolor="#fd8d3c", edgecolor="#7f2704", label=f"winner: {named}")],
                        loc="lower left", fontsize=8)
    else:
        axis.text(0.5, 0.5, "no edge passed the filter", ha="center", va="center")
    axis.set_title(title)
    axis.axis("off")
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


# --- outcomes and manipulation -----------------------------------------------------------------------

def set_value(utilities: np.ndarray, winners: Sequence[int]) -> float:
    """A participant's value for a winner set: mean utility over it; the mean over all cards if empty."""
    return float(utilities[list(winners)].mean()) if len(winners) else float(utilities.mean())


@dataclass(frozen=True)
class ManipulationCheck:
    """Whether single participants can profit by misreporting under one rule.

    Attributes:
        rule: ``moral_graph``, ``copeland`` or ``maximal_lottery``.
        gains: each participant's best gain in value over the honest outcome (0 when none).
        misreports: for each participant with a positive gain, the misreport that achieves it
            (its votes as ``source>target=choice`` strings, or its reported ranking of card ids).
    """

    rule: str
    gains: dict[str, float]
    misreports: dict[str, list[str]]

    @property
    def manipulators(self) -> list[str]:
        return [agent for agent, gain in self.gains.items() if gain > GAIN_TOLERANCE]


def _graph_winner_indices(votes: Sequence[Vote], cards: Sequence[str]) -> list[int]:
    return sorted(cards.index(card) for card in top_values(rank_values(build_graph(votes))))


def moral_graph_manipulation(votes: Sequence[Vote], cards: Sequence[str], utilities: dict[str, np.ndarray]) -> ManipulationCheck:
    """Try every vote vector of each participant against the others' recorded votes."""
    honest = _graph_winner_indices(votes, cards)
    gains, misreports = {}, {}
    for agent, values in utilities.items():
        own = [v for v in votes if v.voter == agent]
        others = [v for v in votes if v.voter != agent]
        baseline, best, best_votes = set_value(values, honest), 0.0, None
        for choices in itertools.product(("upgrade", "no_upgrade", "not_sure"), repeat=len(own)):
            trial = [Vote(agent, v.context, v.source, v.target, c) for v, c in zip(own, choices)]
            gain = set_value(values, _graph_winner_indices(others + trial, cards)) - baseline
            if gain > best + GAIN_TOLERANCE:
                best, best_votes = gain, [f"{v.source}>{v.target}={v.choice}" for v in trial]
        gains[agent] = best
        if best_votes is not None:
            misreports[agent] = best_votes
    return ManipulationCheck("moral_graph", gains, misreports)


def honest_ranking(values: np.ndarray) -> list[int]:
    """Cards best first by utility (ties by card order)."""
    return sorted(range(values.size), key=lambda c: (-values[c], c))


def ranking_manipulation(rule: str, utilities: dict[str, np.ndarray], cards: Sequence[str]) -> ManipulationCheck:
    """Try every ranking of the cards for each participant under ``copeland`` or ``maximal_lottery``."""
    agents = list(utilities)
    honest = [honest_ranking(utilities[a]) for a in agents]

    def value(rankings: list[list[int]], values: np.ndarray) -> float:
        election = Election.from_rankings(rankings, candidates=cards)
        if rule == "copeland":
            return set_value(values, sorted(copeland(election)))
        return float(maximal_lottery(election, check_unique=False) @ values)

    gains, misreports = {}, {}
    for position, agent in enumerate(agents):
        values = utilities[agent]
        baseline, best, best_ranking = value(honest, values), 0.0, None
        for ranking in itertools.permutations(range(len(cards))):
            trial = [*honest[:position], list(ranking), *honest[position + 1:]]
            gain = value(trial, values) - baseline
            if gain > best + GAIN_TOLERANCE:
                best, best_ranking = gain, [cards[c] for c in ranking]
        gains[agent] = best
        if best_ranking is not None:
            misreports[agent] = best_ranking
    return ManipulationCheck(rule, gains, misreports)


# --- sessions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContextReport:
    """One context of a session.

    Attributes:
        context: the context id.
        graph: the moral graph (ranked).
        winners: the moral graph's top values.
        representation: each participant's payoff (own card or an endorsed upgrade among the winners).
        copeland_winners: Copeland winners of the honest rankings.
        lottery: the maximal lottery of the honest rankings, by card.
        favourite_share: per rule, the mean over participants of the share of the outcome that is
            their favourite card (winner sets uniform over ties).
        checks: the manipulation check per rule.
    """

    context: str
    graph: nx.DiGraph
    winners: frozenset[str]
    representation: dict[str, float]
    copeland_winners: frozenset[str]
    lottery: dict[str, float]
    favourite_share: dict[str, float]
    checks: tuple[ManipulationCheck, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "context": self.context, "graph": graph_to_json(self.graph), "winners": sorted(self.winners),
            "representation": self.representation, "copeland_winners": sorted(self.copeland_winners),
            "maximal_lottery": self.lottery, "favourite_share": self.favourite_share,
            "manipulation": {c.rule: {"gains": c.gains, "manipulators": c.manipulators, "misreports": c.misreports}
                             for c in self.checks},
        }


@dataclass(frozen=True)
class SessionReport:
    """A whole session: settings and one :class:`ContextReport` per context."""

    participants: dict[str, dict[str, Any]]
    seed: int
    contexts: tuple[ContextReport, ...]

    def table(self) -> str:
        lines = []
        for report in self.contexts:
            lines.append(f"== {report.context}")
            lines.append(f"  moral graph winners: {sorted(report.winners) or 'none'}; mean representation "
                         f"{np.mean(list(report.representation.values())):.2f}")
            lines.append(f"  copeland winners:    {sorted(report.copeland_winners)}")
            lottery = ", ".join(f"{c} {p:.2f}" for c, p in report.lottery.items() if p > 1e-9)
            lines.append(f"  maximal lottery:     {lottery}")
            lines.append("  favourite-card share: " + ", ".join(f"{r} {s:.2f}" for r, s in report.favourite_share.items()))
            for check in report.checks:
                who = ", ".join(f"{a} (+{check.gains[a]:.3f})" for a in check.manipulators) or "nobody"
                lines.append(f"  can profit by misreporting under {check.rule:<15}: {who}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"participants": self.participants, "seed": self.seed,
                "contexts": [report.to_dict() for report in self.contexts]}


def _play(participants: dict[str, ValueProfileParticipant], env_kwargs: dict[str, Any], seed: int) -> dict[str, Any]:
    env = parallel_env(**env_kwargs)
    observations, infos = env.reset(seed=seed)
    for participant in participants.values():
        participant.reset(seed)
    while env.agents:
        actions = {agent: participants[agent].act(observations[agent], agent, env.action_space(agent), infos[agent])
                   for agent in env.agents}
        observations, _, _, _, infos = env.step(actions)
    return env.rules.record()


def run_session(profiles: Sequence[str | Sequence[float]], *, strategies: Sequence[str] | None = None,
                contexts: Sequence[str] | None = None, votes_per_participant: int | None = None,
                seed: int = 0, check_manipulation: bool = True) -> SessionReport:
    """Play ``moral_graph_v0`` with one scripted participant per profile and report each context.

    Args:
        profiles: one latent value profile per participant (a name in ``PROFILES`` or weights).
        strategies: ``honest`` or ``strategic`` per participant (all honest by default).
        contexts: context ids (all by default).
        votes_per_participant: transitions each participant judges per context (all by default).
        seed: the env seed (which transitions each participant sees, in which order).
        check_manipulation: run the brute-force manipulation checks.
    """
    strategies = list(strategies) if strategies is not None else ["honest"] * len(profiles)
    if len(strategies) != len(profiles):
        raise ValueError(f"{len(profiles)} profiles but {len(strategies)} strategies")
    library = load_library()
    agents = [f"participant_{i}" for i in range(len(profiles))]
    participants = {a: ValueProfileParticipant(p, s) for a, p, s in zip(agents, profiles, strategies)}
    env_kwargs = {"num_participants": len(profiles), "contexts": contexts, "votes_per_participant": votes_per_participant}
    record = _play(participants, env_kwargs, seed)
    reports = []
    for context_record in record["contexts"]:
        context: Context = library.context(context_record["context"])
        cards = list(context.cards)
        dimensions = [library.cards[c].dimensions for c in cards]
        utilities = {a: card_utilities(profile_weights(p), dimensions) for a, p in zip(agents, profiles)}
        votes = [Vote(v["voter"], context.id, v["source"], v["target"], v["choice"])
                 for v in context_record["votes"] if v["choice"] is not None]
        graph = build_graph(votes, {c: library.cards[c].attributes() for c in cards})
        rank_values(graph)
        winners = frozenset(context_record["winners"])
        election = Election.from_rankings([honest_ranking(utilities[a]) for a in agents], candidates=cards)
        copeland_set = frozenset(cards[c] for c in copeland(election))
        lottery = maximal_lottery(election)
        favourites = [cards[honest_ranking(utilities[a])[0]] for a in agents]
        share = {
            "moral_graph": float(np.mean([(f in winners) / len(winners) if winners else 0.0 for f in favourites])),
            "copeland": float(np.mean([(f in copeland_set) / len(copeland_set) for f in favourites])),
            "maximal_lottery": float(np.mean([lottery[cards.index(f)] for f in favourites])),
        }
        checks: tuple[ManipulationCheck, ...] = ()
        if check_manipulation:
            checks = (moral_graph_manipulation(votes, cards, utilities),
                      ranking_manipulation("copeland", utilities, cards),
                      ranking_manipulation("maximal_lottery", utilities, cards))
        reports.append(ContextReport(context.id, graph, winners, dict(context_record["rewards"]), copeland_set,
                                     {c: float(p) for c, p in zip(cards, lottery)}, share, checks))
    described = {a: participants[a].describe() for a in agents}
    return SessionReport(described, seed, tuple(reports))
