"""Rewards and win rates from a preference judge (step 2 of each MMD step, and the evaluation points)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aligngames.intervals import mean_and_ci95


def symmetric_preferences(judge, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]) -> np.ndarray:
    """``(P(a > b) + 1 - P(b > a)) / 2`` per pair: both seat orders, so a judge's position bias cancels."""
    forward = judge.compare(list(prompts), list(first), list(second))
    backward = judge.compare(list(prompts), list(second), list(first))
    return 0.5 * (forward + 1.0 - backward)


def self_play_rewards(judge, prompts: Sequence[str], answers: Sequence[str], group_size: int) -> np.ndarray:
    """``r_i = mean_{j != i} P(y_i > y_j)`` within each group of ``group_size`` answers to one prompt."""
    pairs = [(group + i, group + j) for group in range(0, len(answers), group_size)
             for i in range(group_size) for j in range(i + 1, group_size)]
    left, right = zip(*pairs)
    preferences = symmetric_preferences(judge, [prompts[i] for i in left], [answers[i] for i in left],
                                        [answers[j] for j in right])
    totals = np.zeros(len(answers))
    for (i, j), p in zip(pairs, preferences):
        totals[i] += p
        totals[j] += 1.0 - p
    return totals / (group_size - 1)


def opponent_rewards(judge, prompts: Sequence[str], answers: Sequence[str], opponents: Sequence[str],
                     group_size: int) -> np.ndarray:
    """``r_i = mean_j P(y_i > y'_j)`` over the ``group_size`` opponent answers to the same prompt."""
    pairs = [(group + i, group + j) for group in range(0, len(answers), group_size)
             for i in range(group_size) for j in range(group_size)]
    left, right = zip(*pairs)
    preferences = symmetric_preferences(judge, [prompts[i] for i in left], [answers[i] for i in left],
                                        [opponents[j] for j in right])
    return preferences.reshape(len(answers), group_size).mean(axis=1)


def win_rate(judge, prompts: Sequence[str], mine: Sequence[str], theirs: Sequence[str]) -> dict[str, float]:
    """Mean ``P(mine > theirs)`` over episodes (both seat orders), its 95% CI, and the share of wins (ties 1/2)."""
    preferences = symmetric_preferences(judge, prompts, mine, theirs)
    mean, half_width = mean_and_ci95(preferences)
    wins = float(np.mean((preferences > 0.5) + 0.5 * (preferences == 0.5)))
    return {"win_rate": mean, "ci95": half_width, "wins": wins, "episodes": len(preferences)}


__all__ = ["opponent_rewards", "self_play_rewards", "symmetric_preferences", "win_rate"]
