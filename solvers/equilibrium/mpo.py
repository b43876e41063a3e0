"""Magnetic preference optimization (MPO): last-iterate convergence to the Nash equilibrium of a
symmetric preference game.

Paper: Wang, Ma, et al. (2024), "Magnetic Preference Optimization: Achieving Last-iterate
Convergence for Language Model Alignment", arXiv 2410.16714. No official code exists; this module is
the reference implementation the tests and ``benchmarks/solvers.py`` check.

The game: two copies of a policy answer the same prompt; ``J(pi, pi') = E_{y~pi, y'~pi'} P(y > y')``
is constant-sum, and its Nash equilibrium is the maximal lottery (von Neumann winner) of ``P``.
MPO solves a sequence of regularised games ``k = 0, 1, ...``

    J_k(pi, pi') = J(pi, pi') - alpha KL(pi || rho_k) + alpha KL(pi' || rho_k)

1. inner loop: ``inner_steps`` steps of MMD self-play on game ``k`` (magnet ``rho_k``, step ``eta``):
   ``pi <- argmax_p eta <q_pi, p> - eta alpha KL(p || rho_k) - KL(p || pi)`` with ``q_pi(y) = P(y > pi)``;
2. outer loop: ``rho_{k+1} <- pi`` (the approximate equilibrium of game ``k`` becomes the magnet),
   so the regularised equilibrium moves toward the original game's Nash instead of staying at the
   QRE around a fixed magnet (a proximal-point method on the original game).

Step sizes. With ``L = max |P - 1/2|`` (at most 1/2), ``alpha = L/2``, ``eta = 1/L`` (twice the
``alpha / L^2`` of the MMD analysis) and ``K = 5`` worked best on cyclic annotator populations of
4 to 1024 answers (``benchmarks/solvers.py``); the defaults are these values for ``L = 1/2``. Much
larger steps make the inner loop oscillate, much smaller ``K`` lets the magnet chase an unconverged
policy (the method then behaves like mirror descent).

The last iterate converges to the Nash equilibrium of the original game, unlike plain mirror
descent (its last iterate cycles; only the average converges), fixed-magnet MMD and Nash-MD (they
converge to the KL-regularised equilibrium).

The driver and the policy interface
-----------------------------------
:func:`iterate` is the whole algorithm and knows nothing about what a policy is. It needs an object
with two methods (:class:`MagneticPolicy`):

``snapshot() -> magnet``
    A frozen copy of the current policy, used as the magnet ``rho_k`` (for a tabular policy a
    probability vector; for a language model a frozen copy of its weights or adapter).
``mmd_step(magnet, *, alpha, eta) -> dict[str, float]``
    One MMD self-play step on the regularised game: maximise expected preference against itself
    minus ``alpha * KL(pi || magnet)`` minus ``(1/eta) * KL(pi || pi_old)``. A tabular policy does
    it in closed form (:func:`aligngames.solvers.equilibrium.simplex.mirror_step` with ``q = G pi``); a language
    model samples answer pairs, asks a preference judge for rewards and takes a token-level
    policy-gradient step on the same objective. Returns metrics to log (``exploitability`` when the
    policy can compute it).

:class:`TabularPolicy` implements it exactly; :func:`solve` runs :func:`iterate` on one. An LLM
policy with the same two methods runs under the same :func:`iterate`, so in tabular mode it
reproduces :func:`solve`'s result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from aligngames.solvers.equilibrium.games import skew_symmetric_matrix
from aligngames.solvers.equilibrium.results import SymmetricSolverResult, SymmetricTrace
from aligngames.solvers.equilibrium.simplex import check_distribution, mirror_step, uniform
from aligngames.solvers.inputs import check_settings


class MagneticPolicy(Protocol):
    """What :func:`iterate` needs from a policy (see the module docstring)."""

    def snapshot(self) -> Any:
        """A frozen copy of the current policy, to serve as the magnet."""

    def mmd_step(self, magnet: Any, *, alpha: float, eta: float) -> Mapping[str, float]:
        """One MMD self-play step regularised toward ``magnet``; returns metrics to log."""


class TabularPolicy:
    """A probability vector over a finite answer set, updated exactly against ``G = P - 1/2``.

    Args:
        payoffs: the skew-symmetric payoff ``G`` (``G[i, j] = P(i > j) - 1/2``), shape ``(n, n)``.
        probabilities: the initial policy (uniform by default).
    """

    def __init__(self, payoffs: np.ndarray, probabilities: np.ndarray | None = None) -> None:
        self.payoffs = np.asarray(payoffs, dtype=np.float64)
        size = self.payoffs.shape[0]
        self.probabilities = (uniform(size) if probabilities is None
                              else check_distribution(probabilities, size, "initial policy").copy())
        self._values = self.payoffs @ self.probabilities  # q(y) = P(y > pi) - 1/2, kept for the next step

    def snapshot(self) -> np.ndarray:
        return self.probabilities.copy()

    def mmd_step(self, magnet: np.ndarray, *, alpha: float, eta: float) -> dict[str, float]:
        self.probabilities = mirror_step(self.probabilities, self._values, eta=eta, alpha=alpha, magnet=magnet)
        self._values = self.payoffs @ self.probabilities
        return {"exploitability": float(2.0 * self._values.max())}  # NashConv of (pi, pi)


@dataclass(frozen=True)
class MPOStep:
    """One step of :func:`iterate`: which regularised game (``outer``), which step in it, the metrics."""

    outer: int
    inner: int
    metrics: Mapping[str, float]


def iterate(policy: MagneticPolicy, *, alpha: float, eta: float, inner_steps: int, outer_steps: int,
            magnet: Any = None, start: int = 0) -> Iterator[MPOStep]:
    """Run MPO on ``policy``, yielding after every inner step (the caller logs, averages, checkpoints).

    Args:
        policy: any :class:`MagneticPolicy` (updated in place).
        alpha: KL weight toward the magnet.
        eta: MMD step size.
        inner_steps: MMD steps per regularised game (``K``).
        outer_steps: number of regularised games; the magnet is reset before each.
        magnet: the first magnet ``rho_0`` (default: a snapshot of the initial policy); when resuming in
            the middle of a regularised game, that game's magnet.
        start: steps already taken (resuming a checkpointed run whose ``policy`` is restored): the
            iteration continues at step ``start`` as if it had never stopped.
    """
    if not (alpha > 0 and eta > 0) or inner_steps < 1 or outer_steps < 1:  # `not >` also refuses NaN
        raise ValueError("MPO needs alpha > 0, eta > 0, inner_steps >= 1 and outer_steps >= 1")
    first_outer, first_inner = divmod(start, inner_steps)
    if start < 0 or (first_inner > 0 and magnet is None):
        raise ValueError(f"resuming at step {start} needs start >= 0 and, in the middle of a game, its magnet")
    for outer in range(first_outer, outer_steps):
        resumed_mid_game = outer == first_outer and first_inner > 0
        if not resumed_mid_game and (outer > 0 or magnet is None):
            magnet = policy.snapshot()  # rho_k = current policy, so the fixed point moves toward the original game's Nash
        for inner in range(first_inner if resumed_mid_game else 0, inner_steps):
            yield MPOStep(outer, inner, policy.mmd_step(magnet, alpha=alpha, eta=eta))


def solve(preferences, *, alpha: float = 0.25, eta: float = 2.0, inner_steps: int = 5, outer_steps: int = 2000,
          initial: np.ndarray | None = None, track_average: bool = True) -> SymmetricSolverResult:
    """MPO on a symmetric preference game, tabular and exact.

    Args:
        preferences: ``P[i, j] = P(i > j)`` (``P + P^T = 1``), or a symmetric constant-sum
            :class:`~aligngames.game.MatrixGame` / :class:`~aligngames.game.MetaGame`.
        alpha: KL weight toward the magnet.
        eta: MMD step size.
        inner_steps: MMD steps per regularised game; the magnet is reset to the policy after them.
        outer_steps: number of magnet resets.
        initial: the initial policy (uniform by default).
        track_average: compute the average iterate's exploitability every step.

    Returns:
        The last and average iterates and their exploitability after each of the
        ``inner_steps * outer_steps`` steps.
    """
    payoffs = skew_symmetric_matrix(preferences, "MPO").payoffs
    policy = TabularPolicy(payoffs, initial)
    trace = SymmetricTrace(payoffs, inner_steps * outer_steps, track_average)
    for step in iterate(policy, alpha=alpha, eta=eta, inner_steps=inner_steps, outer_steps=outer_steps):
        trace.record(policy.probabilities, step.metrics["exploitability"])
    return trace.result(policy.probabilities)


# --- settings -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MPOConfig:
    """Settings of a tabular MPO run (``aligngames solve mpo``; language mode:
    :class:`~aligngames.solvers.training.preference_training.config.LanguagePreferenceConfig`).

    Attributes:
        alpha: KL weight toward the magnet.
        eta: MMD step size.
        inner_steps: MMD steps per regularised game (the magnet is reset to the policy after them).
        outer_steps: number of magnet resets.
    """

    alpha: float = 0.25
    eta: float = 2.0
    inner_steps: int = 5
    outer_steps: int = 2000

    def __post_init__(self) -> None:
        check_settings(("alpha", self.alpha, self.alpha > 0, "> 0"), ("eta", self.eta, self.eta > 0, "> 0"),
                       ("inner_steps", self.inner_steps, self.inner_steps >= 1, ">= 1"),
                       ("outer_steps", self.outer_steps, self.outer_steps >= 1, ">= 1"))

