"""Nash-MD: mirror descent toward the KL-regularised Nash equilibrium of a preference game (baseline).

Paper: Munos, Valko, Calandriello, et al. (2023), "Nash Learning from Human Feedback", arXiv 2312.00886.

The regularised game ``J_tau(pi, pi') = P(pi > pi') - tau KL(pi || mu) + tau KL(pi' || mu)`` with a
fixed reference policy ``mu``. Each iteration (tabular, exact expectations):

1. geometric mixture with the reference: ``pi_mix ∝ pi_t^(1 - eta*tau) * mu^(eta*tau)``
   (:func:`aligngames.solvers.equilibrium.simplex.geometric_mixture`);
2. mirror step against the mixture: ``log pi_{t+1} = log pi_mix + eta * P(y > pi_mix) + c``
   (:func:`aligngames.solvers.equilibrium.simplex.mirror_step` with ``alpha = 0``; ``P(y > pi_mix) = (P pi_mix)_y``,
   and the constant ``1/2`` between ``P`` and ``G = P - 1/2`` cancels).

The last iterate converges to the tau-regularised equilibrium ``pi_tau ∝ mu * exp(G pi_tau / tau)``
(the logit QRE around ``mu``), not to the maximal lottery: its exploitability in the original game
stays at a gap that shrinks with ``tau``. A constant step stops in an ``O(eta / tau)`` neighbourhood
of ``pi_tau``; a decreasing step (:func:`decreasing_step`) converges to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aligngames.solvers.equilibrium.games import skew_symmetric_matrix
from aligngames.solvers.equilibrium.results import SymmetricSolverResult, SymmetricTrace
from aligngames.solvers.equilibrium.simplex import check_distribution, geometric_mixture, mirror_step, uniform
from aligngames.solvers.inputs import check_settings


def nash_md_step(policy: np.ndarray, payoffs: np.ndarray, magnet: np.ndarray, *, eta: float, tau: float) -> np.ndarray:
    """One Nash-MD update (steps 1-2 of the module docstring); ``payoffs`` is ``G = P - 1/2``."""
    if eta * tau > 1.0:
        raise ValueError(f"Nash-MD needs eta * tau <= 1, got eta={eta}, tau={tau}")
    mixture = geometric_mixture(policy, magnet, eta * tau)
    return mirror_step(mixture, payoffs @ mixture, eta=eta)


def decreasing_step(tau: float, initial: float) -> Callable[[int], float]:
    """``eta_t = min(initial, 2 / (tau * (t + 2)))``: the schedule under which the last iterate converges."""
    return lambda iteration: min(initial, 2.0 / (tau * (iteration + 2)))


def solve(preferences, *, tau: float = 0.1, iterations: int = 1000,
          step_schedule: float | Callable[[int], float] = 0.5, magnet: np.ndarray | None = None,
          initial: np.ndarray | None = None, track_average: bool = True) -> SymmetricSolverResult:
    """Nash-MD self-play on a symmetric preference game.

    Args:
        preferences: ``P[i, j] = P(i > j)``, or a symmetric constant-sum game (see
            :func:`aligngames.solvers.equilibrium.games.skew_symmetric_matrix`).
        tau: KL weight toward the reference policy ``mu``.
        iterations: number of updates.
        step_schedule: a constant step ``eta`` or a function ``iteration -> eta`` (e.g. :func:`decreasing_step`).
        magnet: the reference policy ``mu`` (uniform by default).
        initial: the initial policy (``mu`` by default).
        track_average: compute the average iterate's exploitability every iteration.
    """
    if not tau > 0 or iterations < 1:  # `not >` also refuses NaN
        raise ValueError("Nash-MD needs tau > 0 and iterations >= 1")
    payoffs = skew_symmetric_matrix(preferences, "Nash-MD").payoffs
    size = payoffs.shape[0]
    reference = uniform(size) if magnet is None else check_distribution(magnet, size, "magnet")
    policy = reference.copy() if initial is None else check_distribution(initial, size, "initial").copy()
    schedule = step_schedule if callable(step_schedule) else (lambda iteration: float(step_schedule))
    trace = SymmetricTrace(payoffs, iterations, track_average)
    for iteration in range(iterations):
        policy = nash_md_step(policy, payoffs, reference, eta=schedule(iteration), tau=tau)
        trace.record(policy)
    return trace.result(policy)


# --- settings (the command line is aligngames.cli.solve.nash_md) ------------------------------------

@dataclass(frozen=True)
class NashMDConfig:
    """Settings of a Nash-MD run (reference policy: uniform).

    Attributes:
        tau: KL weight toward the reference policy.
        eta: step size (the first step when decreasing_step is on).
        iterations: number of updates.
        decreasing_step: use eta_t = min(eta, 2 / (tau (t + 2))) so the last iterate converges to the
            regularised equilibrium instead of a neighbourhood of it.
    """

    tau: float = 0.1
    eta: float = 0.5
    iterations: int = 1000
    decreasing_step: bool = False

    def __post_init__(self) -> None:
        check_settings(("tau", self.tau, self.tau > 0, "> 0"), ("eta", self.eta, self.eta > 0, "> 0"),
                       ("iterations", self.iterations, self.iterations >= 1, ">= 1"),
                       ("eta * tau", self.eta * self.tau, self.eta * self.tau <= 1, "<= 1 (the mixture weight)"))
