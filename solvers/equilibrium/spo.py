"""Self-play preference optimization (SPO), tabular: a sampled self-play baseline for MPO.

Paper: Swamy, Dann, Kidambi, Wu, Agarwal (2024), "A Minimaximalist Approach to Reinforcement
Learning from Human Feedback", ICML 2024 (arXiv 2401.04056).

SPO turns the preference game into single-agent RL: the reward of a response is its win rate
against other responses sampled from the same policy. Each iteration (tabular softmax policy
``pi = softmax(theta)``, sampling with the generator passed in):

1. sample ``N`` responses ``y_1..y_N ~ pi``;
2. reward each by its share of wins against the others,
   ``r_i = (1 / (N - 1)) * sum_{j != i} P(y_i > y_j)`` (:func:`win_rate_rewards`);
3. policy-gradient step with the batch-mean baseline (SPO's RL learner is a policy-gradient
   method; this is its tabular form): ``theta += eta * (1/N) sum_i (r_i - mean r) (e_{y_i} - pi)``.

``E[r_i | y_i = y] = P(y > pi)``, so SPO is no-regret self-play on the win rate: the average policy
approaches the maximal lottery (the minimax winner) while the last iterate keeps moving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aligngames.seeding import make_rng
from aligngames.solvers.equilibrium.games import skew_symmetric_matrix
from aligngames.solvers.equilibrium.results import SymmetricSolverResult, SymmetricTrace
from aligngames.solvers.equilibrium.simplex import normalize_log


def win_rate_rewards(preferences: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """``r_i = mean_{j != i} P(y_i > y_j)`` for sampled responses ``samples`` (indices), shape ``(N,)``."""
    count = len(samples)
    if count < 2:
        raise ValueError(f"SPO needs at least 2 samples per iteration, got {count}")
    pairwise = preferences[np.ix_(samples, samples)]  # (N, N); the diagonal is P(y > y) = 1/2
    return (pairwise.sum(axis=1) - np.diagonal(pairwise)) / (count - 1)


def spo_step(logits: np.ndarray, preferences: np.ndarray, *, eta: float, num_samples: int,
             rng: np.random.Generator) -> np.ndarray:
    """One SPO iteration (steps 1-3 of the module docstring); returns the new logits."""
    policy = normalize_log(logits)
    samples = rng.choice(policy.size, size=num_samples, p=policy)
    rewards = win_rate_rewards(preferences, samples)
    advantages = rewards - rewards.mean()
    # (1/N) sum_i A_i (e_{y_i} - pi): the REINFORCE gradient of the softmax logits
    gradient = np.bincount(samples, weights=advantages, minlength=policy.size) / num_samples - policy * advantages.mean()
    return logits + eta * gradient


def solve(preferences, *, eta: float = 1.0, iterations: int = 2000, num_samples: int = 16, seed: int = 0,
          track_average: bool = True) -> SymmetricSolverResult:
    """Tabular SPO on a symmetric preference game.

    Args:
        preferences: ``P[i, j] = P(i > j)``, or a symmetric constant-sum game (see
            :func:`aligngames.solvers.equilibrium.games.skew_symmetric_matrix`).
        eta: policy-gradient step size on the logits.
        iterations: number of updates.
        num_samples: responses sampled per iteration (``N >= 2``).
        seed: the run seed (sampling uses ``aligngames.seeding.make_rng(seed, "spo")``).
        track_average: compute the average iterate's exploitability every iteration.
    """
    if not eta > 0 or iterations < 1:  # `not >` also refuses NaN
        raise ValueError("SPO needs eta > 0 and iterations >= 1")
    payoffs = skew_symmetric_matrix(preferences, "SPO").payoffs
    win_probabilities = payoffs + 0.5  # P(i > j) (for a centred meta-game table: its payoffs + 1/2)
    rng = make_rng(seed, "spo")
    logits = np.zeros(payoffs.shape[0])
    trace = SymmetricTrace(payoffs, iterations, track_average)
    for _ in range(iterations):
        logits = spo_step(logits, win_probabilities, eta=eta, num_samples=num_samples, rng=rng)
        trace.record(normalize_log(logits))
    return trace.result(normalize_log(logits))


# --- settings (the command line is aligngames.cli.solve.spo) ----------------------------------------

@dataclass(frozen=True)
class SPOConfig:
    """Settings of a tabular SPO run.

    Attributes:
        eta: policy-gradient step size on the logits.
        iterations: number of updates.
        num_samples: responses sampled per iteration.
        seed: run seed for the sampling.
    """

    eta: float = 1.0
    iterations: int = 2000
    num_samples: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.eta <= 0 or self.iterations < 1 or self.num_samples < 2:
            raise ValueError("need eta > 0, iterations >= 1 and num_samples >= 2")
