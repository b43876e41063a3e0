"""Elo ratings from match results, fitted by maximum likelihood.

The Elo model is Bradley-Terry on a base-10 scale: player i with rating ``r_i`` beats player j with
probability ``P(i beats j) = 1 / (1 + 10^((r_j - r_i) / 400))``, i.e. strengths
``gamma_i = exp(theta_i)`` with ``r_i = 400 * theta_i / ln 10``. The maximum-likelihood ``theta``
comes from the minorisation-maximisation iteration of Hunter 2004 ("MM algorithms for generalized
Bradley-Terry models"), as implemented by ``choix.mm_pairwise``; each step is

    gamma_i <- W_i / sum_{games g of i} 1 / (gamma_i + gamma_opponent(g)),   then rescale.

The MLE is finite only if the "beat" graph is strongly connected (every group of players has beaten
someone outside it); otherwise pass ``alpha > 0``, which gives the MAP estimate under a weak
Dirichlet prior (choix's regularisation). Ratings are shifted to have mean ``mean_rating``. Only
decisive results enter (a draw or an invalid verdict is left out and should be counted apart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import choix
import networkx as nx
import numpy as np


def expected_score(rating: float, opponent: float) -> float:
    """``P(rating beats opponent) = 1 / (1 + 10^((opponent - rating) / 400))``."""
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / 400.0))


def fit_elo(num_players: int, results: Sequence[tuple[int, int]], *, alpha: float = 0.0,
            mean_rating: float = 1000.0, tolerance: float = 1e-10) -> np.ndarray:
    """Maximum-likelihood (``alpha = 0``) or MAP Elo ratings, shape ``(num_players,)``.

    Args:
        num_players: players are ``0 .. num_players - 1``.
        results: one ``(winner, loser)`` pair per decisive game.
        alpha: choix's regularisation; 0 for the plain MLE (which needs a strongly connected beat graph).
    """
    results = [(int(winner), int(loser)) for winner, loser in results]
    for winner, loser in results:
        if winner == loser or not (0 <= winner < num_players and 0 <= loser < num_players):
            raise ValueError(f"bad result ({winner}, {loser}) for {num_players} players")
    if alpha == 0.0:
        beaten = nx.DiGraph()
        beaten.add_nodes_from(range(num_players))
        beaten.add_edges_from(results)
        if num_players > 1 and not nx.is_strongly_connected(beaten):
            raise ValueError("the maximum-likelihood ratings are infinite: some group of players never beat the "
                             "others (or never played); pass alpha > 0 for a regularised fit")
    if num_players == 1:
        return np.array([mean_rating])
    strengths = choix.mm_pairwise(num_players, results, alpha=alpha, tol=tolerance, max_iter=100_000)  # log-strengths
    ratings = 400.0 / math.log(10.0) * np.asarray(strengths, dtype=np.float64)
    return ratings - ratings.mean() + mean_rating


def bootstrap_elo(num_players: int, results: Sequence[tuple[int, int]], rng: np.random.Generator, *,
                  resamples: int = 200, level: float = 0.95, alpha: float = 0.01) -> np.ndarray:
    """Percentile intervals of the ratings over games resampled with replacement, shape ``(num_players, 2)``."""
    results = list(results)
    samples = np.empty((resamples, num_players))
    for b in range(resamples):
        chosen = rng.integers(len(results), size=len(results))
        samples[b] = fit_elo(num_players, [results[k] for k in chosen], alpha=alpha, tolerance=1e-8)
    tail = 100.0 * (1.0 - level) / 2.0
    return np.percentile(samples, [tail, 100.0 - tail], axis=0).T


def episode_results(lines: Sequence[dict], names: Sequence[str]) -> tuple[list[tuple[int, int]], int]:
    """``(winner, loser)`` index pairs from tournament ``matches.jsonl`` lines of a two-seat game, one per
    episode whose two returns differ, and the number of drawn episodes (left out). An agent against
    itself, and agents not in ``names``, are skipped."""
    index = {name: i for i, name in enumerate(names)}
    results, draws = [], 0
    for line in lines:
        seats = list(line["seating"])
        if len(seats) != 2:
            raise ValueError(f"Elo needs a two-seat game; match {line.get('match')} has seats {seats}")
        first, second = (line["seating"][seat] for seat in seats)
        if first == second or first not in index or second not in index:
            continue
        for a, b in zip(line["returns"][seats[0]], line["returns"][seats[1]]):
            if a > b:
                results.append((index[first], index[second]))
            elif b > a:
                results.append((index[second], index[first]))
            else:
                draws += 1
    return results, draws

