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

The adaptive schedule (tabular only)
-----------------------------------
With a fixed ``K`` and fixed ``alpha`` the last iterate is slow or erratic on some games: measured on
random skew-symmetric games of 64 answers (equilibrium support about 35) NashConv is still 1e-2 after
20k steps for every ``(alpha, eta, K)`` tried (``alpha`` from ``L/20`` to ``L/2``, ``eta`` from ``1/L``
to ``4/L``, ``K`` from 2 to 20), and on some annotator populations it goes up and down by orders of
magnitude. Two causes: ``K`` steps do not solve the regularised game (the proximal step is inexact by
an amount nobody controls), and a fixed ``alpha`` is a fixed proximal step ``1/alpha``, whose linear
rate on an ill-conditioned game is slow. :func:`solve_adaptive` (``schedule="adaptive"``) changes both,
in the spirit of the paper's theory (reset when the regularised game is solved):

1. inner steps are mirror-prox (extragradient) MMD steps on the regularised game,
   ``half = step(pi, q(pi))``, ``pi <- step(pi, q(half))`` with the MMD step ``step`` above (two payoff
   products per step); the regularised game is strongly monotone, so they converge linearly;
2. the magnet is reset when the regularised game's gap, ``g(pi) = max_p [<q_pi, p> - alpha KL(p || rho)]
   + alpha KL(pi || rho) = alpha log sum_y rho(y) exp(q_pi(y) / alpha) + alpha KL(pi || rho)`` (zero exactly
   at its equilibrium; ``<q_pi, pi> = 0`` for a skew-symmetric game), is ``reset_tolerance`` times its
   value at the last reset (an inexact proximal point method with a relative error);
3. after each reset ``alpha <- clip(NashConv(pi), alpha_min, alpha_0)``: the proximal step grows as the
   policy approaches the equilibrium (proximal point methods with growing steps converge superlinearly
   on linear programs), and ``alpha_min = 1e-4 L`` keeps the inner problems solvable;
4. each new magnet is the policy mixed with the uniform policy, ``rho <- (1 - s) pi + s / n`` with
   ``s = magnet_mix * min(1, NashConv(pi) / NashConv(pi_1))`` (``pi_1``: the policy at the first reset), a
   fixed share in the sense of Herbster and Warmuth (1998); the sequence-form solver mixes in its first
   magnet the same way. Without it an answer the early policy all but dropped keeps a tiny magnet weight,
   and a regularised game with that magnet brings it back only slowly: of 100 random games the plain
   reset left six between 3e-6 and 3e-3 after 100k payoff products; with ``magnet_mix = 0.5`` all 100
   end at 1e-7 within 300k (the slowest, a 653-answer population, first goes below 1e-6 after 144k and
   is not monotone after that). The share shrinks with NashConv so that it does not hold the policy away
   from the equilibrium at the end (``magnet_mix = 1`` would).

``eta = 2/L`` is twice mirror-prox's ``1/L``, like the fixed schedule's. Without the magnet
(``alpha -> 0``, plain extragradient) the same budget stops at 1e-3 on the skew-symmetric games.
Measured over 100 random games in ``benchmarks/mpo_convergence.py``.

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

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.special import logsumexp

from aligngames.solvers.equilibrium.games import skew_symmetric_matrix
from aligngames.solvers.equilibrium.results import (
    SymmetricSolverResult,
    SymmetricTrace,
    symmetric_exploitability,
)
from aligngames.solvers.equilibrium.simplex import check_distribution, mirror_step, safe_log, uniform
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


def regularised_gap(policy: np.ndarray, values: np.ndarray, magnet: np.ndarray, alpha: float) -> float:
    """The gap of ``policy`` in the regularised game with ``magnet``: ``alpha log sum rho exp(q / alpha)
    + alpha KL(pi || rho) - <q, pi>`` with ``values = q = G pi`` (zero exactly at its equilibrium)."""
    log_magnet = safe_log(magnet)
    kl = float(np.dot(policy, safe_log(policy) - log_magnet))
    return float(alpha * logsumexp(log_magnet + values / alpha) + alpha * kl - np.dot(values, policy))


def solve_adaptive(preferences, *, steps: int = 10_000, alpha: float | None = None, eta: float | None = None,
                   reset_tolerance: float = 0.1, alpha_min: float | None = None, magnet_mix: float = 0.5,
                   initial: np.ndarray | None = None, track_average: bool = True,
                   tolerance: float = 0.0) -> SymmetricSolverResult:
    """MPO with the adaptive schedule of the module docstring, tabular and exact.

    Args:
        preferences: as for :func:`solve`.
        steps: mirror-prox steps (each takes two products with the payoff matrix).
        alpha: the first KL weight toward the magnet (default ``L / 2``, ``L = max |P - 1/2|``).
        eta: the step size (default ``2 / L``).
        reset_tolerance: the magnet is reset when the regularised game's gap has fallen to this
            fraction of its value at the last reset (in (0, 1)).
        alpha_min: the smallest KL weight (default ``1e-4 L``).
        magnet_mix: the share ``m`` of the uniform policy mixed into each new magnet, scaled down as
            the policy converges (item 4 of the module docstring; 0 keeps the policy itself, in [0, 1)).
        initial: the initial policy (uniform by default).
        track_average: compute the average iterate's exploitability every step.
        tolerance: stop once the last iterate's NashConv is at most this (the traces end there).

    Returns:
        The last and average iterates and the exploitability after each step taken; ``magnet_resets``
        is how many regularised games were solved.
    """
    payoffs = skew_symmetric_matrix(preferences, "MPO").payoffs
    scale = float(np.abs(payoffs).max())
    if scale == 0.0:
        scale = 0.5  # every answer ties: any policy is an equilibrium, the defaults only need to be finite
    alpha = scale / 2 if alpha is None else alpha
    eta = 2.0 / scale if eta is None else eta
    alpha_min = 1e-4 * scale if alpha_min is None else alpha_min
    check_settings(("steps", steps, steps >= 1, ">= 1"), ("alpha", alpha, alpha > 0, "> 0"),
                   ("eta", eta, eta > 0, "> 0"), ("reset_tolerance", reset_tolerance, 0 < reset_tolerance < 1, "in (0, 1)"),
                   ("alpha_min", alpha_min, 0 < alpha_min <= alpha, "in (0, alpha]"),
                   ("magnet_mix", magnet_mix, 0 <= magnet_mix < 1, "in [0, 1)"),
                   ("tolerance", tolerance, tolerance >= 0, ">= 0"))
    policy = uniform(len(payoffs)) if initial is None else check_distribution(initial, len(payoffs), "initial policy").copy()
    values = payoffs @ policy
    first_alpha, magnet, resets, first_exploitability = alpha, policy.copy(), 0, None
    gap_at_reset = regularised_gap(policy, values, magnet, alpha)
    trace = SymmetricTrace(payoffs, steps, track_average)
    for _ in range(steps):
        half = mirror_step(policy, values, eta=eta, alpha=alpha, magnet=magnet)
        policy = mirror_step(policy, payoffs @ half, eta=eta, alpha=alpha, magnet=magnet)
        values = payoffs @ policy
        exploitability = float(2.0 * values.max())
        trace.record(policy, exploitability)
        if exploitability <= tolerance:
            break
        if regularised_gap(policy, values, magnet, alpha) <= reset_tolerance * gap_at_reset:
            first_exploitability = first_exploitability or exploitability
            share = magnet_mix * min(1.0, exploitability / first_exploitability)
            magnet, resets = (1.0 - share) * policy + share / len(policy), resets + 1
            alpha = min(first_alpha, max(exploitability, alpha_min))
            gap_at_reset = regularised_gap(policy, values, magnet, alpha)
    result = trace.result(policy)
    taken = trace.count
    average_exploitability = result.average_exploitability[:taken].copy()
    average_exploitability[-1] = symmetric_exploitability(payoffs, result.average_policy)
    return dataclasses.replace(result, exploitability=result.exploitability[:taken],
                               average_exploitability=average_exploitability, magnet_resets=resets)


# --- settings -------------------------------------------------------------------------------------------

#: The magnet schedules of :class:`MPOConfig`.
SCHEDULES = ("paper", "adaptive")


@dataclass(frozen=True)
class MPOConfig:
    """Settings of a tabular MPO run (``aligngames solve mpo``; language mode:
    :class:`~aligngames.solvers.training.preference_training.config.LanguagePreferenceConfig`).

    Attributes:
        alpha: KL weight toward the magnet.
        eta: MMD step size.
        inner_steps: MMD steps per regularised game (the magnet is reset to the policy after them).
        outer_steps: number of magnet resets.
        schedule: ``"paper"`` (:func:`solve`) or ``"adaptive"`` (:func:`solve_adaptive`, for
            ``inner_steps * outer_steps`` mirror-prox steps; ``alpha`` and ``eta`` left at their defaults
            become the game's ``L / 2`` and ``2 / L``).
        reset_tolerance: the adaptive schedule's reset rule (see :func:`solve_adaptive`).
        magnet_mix: the adaptive schedule's share of the uniform policy in a new magnet.
    """

    alpha: float = 0.25
    eta: float = 2.0
    inner_steps: int = 5
    outer_steps: int = 2000
    schedule: str = "paper"
    reset_tolerance: float = 0.1
    magnet_mix: float = 0.5

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        check_settings(("alpha", self.alpha, self.alpha > 0, "> 0"), ("eta", self.eta, self.eta > 0, "> 0"),
                       ("inner_steps", self.inner_steps, self.inner_steps >= 1, ">= 1"),
                       ("outer_steps", self.outer_steps, self.outer_steps >= 1, ">= 1"),
                       ("reset_tolerance", self.reset_tolerance, 0 < self.reset_tolerance < 1, "in (0, 1)"),
                       ("magnet_mix", self.magnet_mix, 0 <= self.magnet_mix < 1, "in [0, 1)"))


def run_config(preferences, config: MPOConfig) -> SymmetricSolverResult:
    """The tabular run that ``config`` describes (``aligngames solve mpo``)."""
    if config.schedule == "paper":
        return solve(preferences, alpha=config.alpha, eta=config.eta, inner_steps=config.inner_steps,
                     outer_steps=config.outer_steps)
    defaults = MPOConfig()
    return solve_adaptive(preferences, steps=config.inner_steps * config.outer_steps,
                          alpha=None if config.alpha == defaults.alpha else config.alpha,
                          eta=None if config.eta == defaults.eta else config.eta, reset_tolerance=config.reset_tolerance,
                          magnet_mix=config.magnet_mix)
