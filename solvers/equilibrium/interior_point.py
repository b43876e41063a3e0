"""A dense primal-dual interior-point method for the LP of a matrix game.

Why hand-written: HiGHS (our default LP solver, through scipy) treats a dense game matrix as a
sparse LP with ``m * n`` nonzeros; for dense games of a few hundred actions a dense method that
works with BLAS-3 products and one Cholesky factorisation per iteration is several times faster
(``benchmarks/solvers.py``). :func:`aligngames.solvers.equilibrium.nash.solve_zero_sum` uses it for large dense
games, checks its answer (primal and dual feasibility, duality gap) and falls back to HiGHS when it
does not converge.

The LP (see :mod:`aligngames.solvers.equilibrium.nash`): with ``B > 0`` the shifted payoff matrix, ``m x n``,

    maximise 1^T w   subject to   B w + s = 1,   w >= 0, s >= 0,

whose dual is ``minimise 1^T u subject to B^T u >= 1, u >= 0``. As a minimisation
``min c^T x, A x = b, x >= 0`` it has ``x = (w, s)``, ``A = [B I]``, ``b = 1``, ``c = (-1, 0)``; the
dual variables are ``y`` (free, ``u = -y``) and ``z = (z_w, z_s) >= 0`` with ``A^T y + z = c``.

Mehrotra's predictor-corrector method (Mehrotra 1992; Wright, "Primal-Dual Interior-Point
Methods", 1997, ch. 10), one iteration:

1. residuals ``r_p = b - A x``, ``r_d = c - A^T y - z``, complementarity ``mu = x^T z / (n + m)``;
2. normal equations ``(A D A^T) dy = r``, ``D = X Z^-1``: here ``A D A^T = B D_w B^T + D_s`` (a dense
   ``m x m`` matrix, one matrix product and one Cholesky factorisation per iteration);
3. predictor (affine) step toward ``mu = 0``; centring ``sigma = (mu_aff / mu)^3``;
4. corrector step with the second-order term, step lengths 0.99 of the way to the boundary.

Stops when the relative residuals and the duality gap are below ``tolerance``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg


@dataclass(frozen=True)
class InteriorPointResult:
    """``w`` (column weights), ``u`` (row weights), whether it converged and how many iterations."""

    column_weights: np.ndarray
    row_weights: np.ndarray
    converged: bool
    iterations: int


def _step_to_boundary(values: np.ndarray, direction: np.ndarray) -> float:
    """The largest ``a`` in (0, 1] with ``values + a * direction >= 0``."""
    negative = direction < 0
    if not negative.any():
        return 1.0
    return float(min(1.0, np.min(-values[negative] / direction[negative])))


def _normal_equations(matrix: np.ndarray, d_w: np.ndarray, d_s: np.ndarray):
    """A solver for ``(B D_w B^T + D_s) dy = r`` (Cholesky), or None if the factorisation fails.

    A relative ridge of 1e-14 keeps the factorisation alive as complementary pairs approach zero.
    """
    num_rows = matrix.shape[0]
    normal = (matrix * d_w) @ matrix.T  # (m, m)
    normal[np.diag_indices(num_rows)] += d_s + 1e-14 * np.trace(normal) / num_rows
    try:
        factor = scipy.linalg.cho_factor(normal, lower=True, check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return None
    if not np.all(np.isfinite(factor[0])):
        return None
    return lambda rhs: scipy.linalg.cho_solve(factor, rhs, check_finite=False)


def _newton(matrix, point, residuals, solve_dy, target_w, target_s):
    """The Newton direction ``(dw, ds, dy, dz_w, dz_s)`` of the primal-dual system.

    Solves ``A dx = r_p``, ``A^T dy + dz = r_d`` and ``Z dx + X dz = target`` (the complementarity
    products ``X Z 1`` move to ``target``) through the normal equations.
    """
    w, s, z_w, z_s = point
    r_primal, r_dual_w, r_dual_s = residuals
    d_w, d_s = w / z_w, s / z_s
    rhs = r_primal - (matrix @ (target_w / z_w) + target_s / z_s) + (matrix @ (d_w * r_dual_w) + d_s * r_dual_s)
    dy = solve_dy(rhs)  # (m,)
    dz_w, dz_s = r_dual_w - matrix.T @ dy, r_dual_s - dy
    return (target_w - w * dz_w) / z_w, (target_s - s * dz_s) / z_s, dy, dz_w, dz_s


def solve_game_lp(shifted: np.ndarray, *, tolerance: float = 1e-9, max_iterations: int = 60) -> InteriorPointResult:
    """Solve ``max 1^T w, B w <= 1, w >= 0`` and its dual for a positive matrix ``B`` (``shifted``).

    The normal matrix is ``m x m``; callers with more rows than columns solve the transposed game.
    Stops early (not converged) when the duality gap stalls.
    """
    matrix = np.asarray(shifted, dtype=np.float64)  # B, (m, n)
    num_rows, num_cols = matrix.shape
    size = num_rows + num_cols
    # a strictly interior start: w small enough that B w < 1, and duals comfortably positive
    w = np.full(num_cols, 0.5 / matrix.sum(axis=1).max())
    s = 1.0 - matrix @ w
    y = np.full(num_rows, -1.0 / num_rows)
    z_w = -1.0 - matrix.T @ y
    z_s = -y.copy()
    lift = max(0.0, 1.0 - z_w.min(), 1.0 - z_s.min())
    z_w, z_s = z_w + lift, z_s + lift

    converged = False
    iteration = 0
    gaps: list[float] = []
    for iteration in range(1, max_iterations + 1):  # noqa: B007 (the count is returned)
        r_primal = 1.0 - matrix @ w - s  # (m,)
        r_dual_w = -1.0 - matrix.T @ y - z_w  # (n,)
        r_dual_s = -y - z_s  # (m,)
        gap = w @ z_w + s @ z_s
        objective = w.sum()
        if (np.abs(r_primal).max() < tolerance and max(np.abs(r_dual_w).max(), np.abs(r_dual_s).max()) < tolerance
                and gap < tolerance * (1.0 + objective)):
            converged = True
            break
        gaps.append(gap)
        if len(gaps) > 5 and gap > 0.5 * gaps[-6]:  # five iterations without halving the gap: stalled
            break
        mu = gap / size
        d_w, d_s = w / z_w, s / z_s  # D = X Z^-1
        solve_dy = _normal_equations(matrix, d_w, d_s)
        if solve_dy is None:
            break

        # predictor: the pure Newton step toward complementarity 0
        residuals = (r_primal, r_dual_w, r_dual_s)
        point = (w, s, z_w, z_s)
        dw, ds, _, dzw, dzs = _newton(matrix, point, residuals, solve_dy, -w * z_w, -s * z_s)
        primal_step = min(_step_to_boundary(w, dw), _step_to_boundary(s, ds))
        dual_step = min(_step_to_boundary(z_w, dzw), _step_to_boundary(z_s, dzs))
        mu_affine = ((w + primal_step * dw) @ (z_w + dual_step * dzw)
                     + (s + primal_step * ds) @ (z_s + dual_step * dzs)) / size
        sigma = (mu_affine / mu) ** 3
        # corrector: centre by sigma * mu and correct the second-order term dx * dz
        dw, ds, dy, dzw, dzs = _newton(matrix, point, residuals, solve_dy,
                                       -w * z_w - dw * dzw + sigma * mu, -s * z_s - ds * dzs + sigma * mu)
        primal_step = 0.99 * min(_step_to_boundary(w, dw), _step_to_boundary(s, ds))
        dual_step = 0.99 * min(_step_to_boundary(z_w, dzw), _step_to_boundary(z_s, dzs))
        w, s = w + primal_step * dw, s + primal_step * ds
        y, z_w, z_s = y + dual_step * dy, z_w + dual_step * dzw, z_s + dual_step * dzs
    return InteriorPointResult(w, -y, converged, iteration)
