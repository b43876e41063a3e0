"""Magnetic mirror descent (MMD) on two-player zero-sum matrix games.

Paper: Sokota, D'Orazio, Kolter, Loizou, Lanctot, Mitliagkas, Brown, Kroer (2023), "A Unified
Approach to Reinforcement Learning, Quantal Response Equilibria, and Two-Player Zero-Sum Games",
ICLR 2023 (arXiv 2206.05825). OpenSpiel's ``mmd_dilated`` is the same update in sequence form.

Each iteration, both players update simultaneously (negative-entropy mirror map, magnet ``rho``,
step ``eta``, regularisation ``alpha``):

1. action values against the opponent's current strategy: ``q_row = A y_t``, ``q_col = -(x_t^T A)``;
2. ``x_{t+1}(a) ∝ [x_t(a) * rho_row(a)^(eta*alpha) * exp(eta * q_row(a))]^(1/(1 + eta*alpha))``,
   and the same for ``y`` with ``q_col`` and ``rho_col`` (:func:`aligngames.solvers.equilibrium.simplex.mirror_step`);
3. record the exploitability of the new iterate, ``max(A y) - min(x^T A) = max q_row + max q_col``
   (free: the next iteration needs these values anyway) and of the running average.

With ``alpha > 0`` the last iterate converges linearly to the logit quantal response equilibrium
with temperature ``alpha`` around the magnet (``x ∝ rho_row * exp(A y / alpha)``,
``y ∝ rho_col * exp(-A^T x / alpha)``), not to the Nash equilibrium: its exploitability stalls at
a regularisation gap that shrinks with ``alpha``. With ``alpha = 0`` it is plain mirror descent
(Hedge self-play): the average iterate converges to a Nash equilibrium, the last iterate cycles.
MPO (:mod:`aligngames.solvers.equilibrium.mpo`) moves the magnet to remove the gap.

Everything broadcasts over leading axes: ``payoffs`` of shape ``(batch..., m, n)`` runs a batch of
games in one array, one matrix product per player per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aligngames.solvers.equilibrium.games import zero_sum_matrix
from aligngames.solvers.equilibrium.nash import exploitability as nash_exploitability
from aligngames.solvers.equilibrium.results import MatrixSolverResult
from aligngames.solvers.equilibrium.simplex import RunningAverage, check_distribution, mirror_step, uniform
from aligngames.solvers.inputs import check_settings


def action_values(payoffs: np.ndarray, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A y, -(x^T A))``: each player's value of each action against the other's strategy."""
    row_values = (payoffs @ col[..., None])[..., 0]  # (..., m)
    col_values = -(row[..., None, :] @ payoffs)[..., 0, :]  # (..., n), the column player maximises -A
    return row_values, col_values


def mmd_step(row: np.ndarray, col: np.ndarray, payoffs: np.ndarray, *, eta: float, alpha: float,
             row_magnet: np.ndarray | None = None, col_magnet: np.ndarray | None = None,
             ) -> tuple[np.ndarray, np.ndarray]:
    """One simultaneous MMD update of both players (steps 1-2 of the module docstring).

    Args:
        row, col: current strategies ``x_t`` ``(..., m)`` and ``y_t`` ``(..., n)``.
        payoffs: the row player's payoffs ``A`` ``(..., m, n)``.
        eta: step size.
        alpha: regularisation toward the magnets (0: mirror descent).
        row_magnet, col_magnet: the magnets ``rho`` (uniform when ``None``).
    """
    row_values, col_values = action_values(payoffs, row, col)
    return (mirror_step(row, row_values, eta=eta, alpha=alpha, magnet=row_magnet),
            mirror_step(col, col_values, eta=eta, alpha=alpha, magnet=col_magnet))


def solve(payoffs, *, alpha: float = 0.1, eta: float = 0.1, iterations: int = 1000,
          magnet: tuple[np.ndarray, np.ndarray] | None = None,
          initial: tuple[np.ndarray, np.ndarray] | None = None, track_average: bool = True) -> MatrixSolverResult:
    """Run MMD for ``iterations`` steps from ``initial`` (uniform by default).

    Args:
        payoffs: a two-player zero-/constant-sum game (see :func:`aligngames.solvers.equilibrium.games.zero_sum_matrix`)
            or a batch of row-payoff matrices ``(batch..., m, n)``.
        alpha: regularisation weight (temperature of the QRE the last iterate converges to); 0 gives
            plain mirror descent.
        eta: step size.
        iterations: number of updates.
        magnet: ``(rho_row, rho_col)``; uniform when ``None``.
        initial: ``(x_0, y_0)``; uniform when ``None``.
        track_average: also compute the average iterate's exploitability each iteration (two more
            matrix products per iteration); the average itself is always returned.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    matrix = zero_sum_matrix(payoffs, "MMD", allow_batch=True).payoffs
    *batch, num_rows, num_cols = matrix.shape
    row_magnet = col_magnet = None
    if magnet is not None:
        row_magnet = check_distribution(magnet[0], num_rows, "magnet[0]")
        col_magnet = check_distribution(magnet[1], num_cols, "magnet[1]")
    if initial is None:
        row, col = uniform(num_rows, tuple(batch)), uniform(num_cols, tuple(batch))
    else:
        row = np.broadcast_to(check_distribution(initial[0], num_rows, "initial[0]"), (*batch, num_rows)).copy()
        col = np.broadcast_to(check_distribution(initial[1], num_cols, "initial[1]"), (*batch, num_cols)).copy()
    last_trace = np.empty((iterations, *batch))
    average_trace = np.full((iterations, *batch), np.nan)
    row_values, col_values = action_values(matrix, row, col)
    average_row, average_col = RunningAverage(), RunningAverage()
    for step in range(iterations):
        row = mirror_step(row, row_values, eta=eta, alpha=alpha, magnet=row_magnet)
        col = mirror_step(col, col_values, eta=eta, alpha=alpha, magnet=col_magnet)
        row_values, col_values = action_values(matrix, row, col)
        last_trace[step] = row_values.max(axis=-1) + col_values.max(axis=-1)  # NashConv of (x_{t+1}, y_{t+1})
        average_row.add(row)
        average_col.add(col)
        if track_average or step == iterations - 1:
            average_trace[step] = nash_exploitability(matrix, average_row.value, average_col.value)
    return MatrixSolverResult(row, col, average_row.value, average_col.value, last_trace, average_trace)


# --- settings (the command line is aligngames.cli.solve.mmd) ----------------------------------------

@dataclass(frozen=True)
class MMDConfig:
    """Settings of an MMD run.

    Attributes:
        alpha: regularisation toward the uniform magnet (temperature of the QRE); 0 is mirror descent.
        eta: step size.
        iterations: number of simultaneous updates.
    """

    alpha: float = 0.1
    eta: float = 0.1
    iterations: int = 1000

    def __post_init__(self) -> None:
        check_settings(("alpha", self.alpha, self.alpha >= 0, ">= 0"), ("eta", self.eta, self.eta > 0, "> 0"),
                       ("iterations", self.iterations, self.iterations >= 1, ">= 1"))
