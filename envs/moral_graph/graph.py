"""Moral-graph aggregation (Klingefjord, Lowe & Edelman 2024, "What are human values, and how do
we align AI to them?"), as the reference implementation (meaningalignment/moral-graph-elicitation)
computes it. Pure functions; no PettingZoo here.

Input: votes ``(voter, context, A, B, choice)``, each saying whether moving from value A to value B
is a gain in wisdom: ``upgrade``, ``no_upgrade`` or ``not_sure``.

1. Counts per ordered pair. A vote on ``A -> B`` adds an impression to ``A -> B`` and one of
   markedWiser / markedNotWiser / markedUnsure by its choice; it also adds an impression to the
   reverse pair ``B -> A``, and, if it was an upgrade, one markedLessWise there.
2. ``wiserLikelihood = (wiser - lessWise) / (wiser + notWiser + unsure + lessWise)`` (0 when the
   denominator is 0, which happens only on pairs that the filter drops anyway).
3. ``entropy`` = Shannon entropy (bits) of the five counts, impressions included, normalised to 1.
4. Keep an edge iff ``wiser >= 2``, ``wiserLikelihood >= 0.33`` and ``entropy <= 1.69``.
5. Weighted PageRank over the values that the kept edges touch: ``N`` nodes, ranks start at
   ``1/N``; each of 100 iterations sets ``r'(v) = (1 - d)/N + d * sum_{u -> v} r(u) * w(u, v)``
   with ``d = 0.85`` and ``w(u, v)`` = wiserLikelihood of ``u -> v`` divided by the sum over ``u``'s
   kept out-edges. Rank that flows into a value with no out-edge stays there and is not
   redistributed (as in the reference), so ranks need not sum to 1.

The graph is a ``networkx.DiGraph``: kept edges carry the five counts, the contexts and the summary
(``wiser_likelihood``, ``entropy``); :func:`rank_values` writes ``page_rank`` on the nodes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

CHOICES = ("upgrade", "no_upgrade", "not_sure")
COUNT_NAMES = ("marked_wiser", "marked_not_wiser", "marked_less_wise", "marked_unsure", "impressions")

#: The reference implementation's filter and PageRank settings.
MIN_MARKED_WISER = 2
MIN_WISER_LIKELIHOOD = 0.33
MAX_ENTROPY = 1.69
DAMPING = 0.85
ITERATIONS = 100


@dataclass(frozen=True)
class Vote:
    """One participant's judgement of the transition ``source -> target`` in ``context``."""

    voter: str
    context: str
    source: str
    target: str
    choice: str

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ValueError(f"vote choice must be one of {list(CHOICES)}, got {self.choice!r}")
        if self.source == self.target:
            raise ValueError(f"a transition needs two different values, got {self.source!r} twice")


@dataclass
class EdgeStatistics:
    """Counts and summary of one ordered pair ``source -> target``."""

    source: str
    target: str
    marked_wiser: int = 0
    marked_not_wiser: int = 0
    marked_less_wise: int = 0
    marked_unsure: int = 0
    impressions: int = 0
    contexts: set[str] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_NAMES}

    @property
    def wiser_likelihood(self) -> float:
        total = self.marked_wiser + self.marked_not_wiser + self.marked_unsure + self.marked_less_wise
        return (self.marked_wiser - self.marked_less_wise) / total if total else 0.0

    @property
    def entropy(self) -> float:
        return shannon_entropy(self.counts().values())

    @property
    def kept(self) -> bool:
        return (self.marked_wiser >= MIN_MARKED_WISER and self.wiser_likelihood >= MIN_WISER_LIKELIHOOD
                and self.entropy <= MAX_ENTROPY)


def shannon_entropy(counts: Iterable[int]) -> float:
    """Entropy in bits of ``counts`` normalised to sum 1 (zero counts contribute nothing)."""
    values = [c for c in counts]
    total = sum(values)
    if total <= 0:
        return 0.0
    return -sum((c / total) * math.log2(c / total) for c in values if c > 0)


def edge_statistics(votes: Iterable[Vote]) -> dict[tuple[str, str], EdgeStatistics]:
    """Step 1: counts for every ordered pair any vote touched (both directions of each vote)."""
    pairs: dict[tuple[str, str], EdgeStatistics] = {}

    def pair(source: str, target: str) -> EdgeStatistics:
        return pairs.setdefault((source, target), EdgeStatistics(source, target))

    votes = list(votes)
    for vote in votes:
        forward = pair(vote.source, vote.target)
        forward.contexts.add(vote.context)
        forward.impressions += 1
        if vote.choice == "upgrade":
            forward.marked_wiser += 1
        elif vote.choice == "no_upgrade":
            forward.marked_not_wiser += 1
        else:
            forward.marked_unsure += 1
    for vote in votes:  # the reverse pair: an impression, and a "less wise" mark for an upgrade
        reverse = pair(vote.target, vote.source)
        reverse.contexts.add(vote.context)
        reverse.impressions += 1
        if vote.choice == "upgrade":
            reverse.marked_less_wise += 1
    return pairs


def build_graph(votes: Iterable[Vote], values: Mapping[str, Mapping[str, Any]] | None = None) -> nx.DiGraph:
    """The moral graph of ``votes``: the kept edges (steps 1-4) and the values they touch.

    Args:
        votes: the votes, from any number of contexts.
        values: optional node attributes by value id (e.g. a value card's title and instructions).

    Returns:
        A ``DiGraph`` whose edges carry ``marked_wiser``, ``marked_not_wiser``, ``marked_less_wise``,
        ``marked_unsure``, ``impressions``, ``contexts`` (sorted list), ``wiser_likelihood`` and
        ``entropy``. Call :func:`rank_values` for the ranks.
    """
    graph = nx.DiGraph()
    for (source, target), statistics in sorted(edge_statistics(votes).items()):
        if statistics.kept:
            graph.add_edge(source, target, **statistics.counts(), contexts=sorted(statistics.contexts),
                           wiser_likelihood=statistics.wiser_likelihood, entropy=statistics.entropy)
    for node in graph.nodes:
        if values is not None and node in values:
            graph.nodes[node].update(values[node])
    return graph


def rank_values(graph: nx.DiGraph, damping: float = DAMPING, iterations: int = ITERATIONS) -> dict[str, float]:
    """Step 5: weighted PageRank of the graph's nodes; also stored as ``graph.nodes[v]["page_rank"]``."""
    nodes = list(graph.nodes)
    if not nodes:
        return {}
    index = {node: i for i, node in enumerate(nodes)}
    size = len(nodes)
    transfer = np.zeros((size, size))  # transfer[u, v] = w(u, v), rows sum to 1 for nodes with out-edges
    for source, target, data in graph.edges(data=True):
        transfer[index[source], index[target]] = data["wiser_likelihood"]
    out_weight = transfer.sum(axis=1, keepdims=True)
    transfer = np.divide(transfer, out_weight, out=np.zeros_like(transfer), where=out_weight > 0)
    rank = np.full(size, 1.0 / size)
    for _ in range(iterations):
        rank = (1.0 - damping) / size + damping * (transfer.T @ rank)  # (size,)
    result = {node: float(rank[index[node]]) for node in nodes}
    for node, value in result.items():
        graph.nodes[node]["page_rank"] = value
    return result


def top_values(ranks: Mapping[str, float], tolerance: float = 1e-12) -> frozenset[str]:
    """The values with the highest rank (all of them on a tie; empty for an empty graph)."""
    if not ranks:
        return frozenset()
    best = max(ranks.values())
    return frozenset(node for node, value in ranks.items() if value >= best - tolerance)
