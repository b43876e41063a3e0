"""A dense primal-dual interior-point method for the LP of a matrix game.

Why hand-written: HiGHS (our default LP solver, through scipy) treats a dense game matrix as a
sparse LP with ``m * n`` nonzeros; for dense games of a few hundred actions a dense method that
works with BLAS-3 products and one Cholesky factorisation per iteration is several times faster
(``benchmarks/solvers.py``). :func:`aligngames.solvers.equilibrium.nash.solve_zero_sum` uses it for large dense
games, polishes and checks its answer (NashConv) and falls back to HiGHS when that fails.

The LP (see :mod:`aligngames.solvers.equilibrium.nash`): with ``B > 0`` the shifted payoff matrix, ``m x n``,

    maximise 1^T w   subject to   B w + s = 1,   w >= 0, s >= 0,

whose dual is ``minimise 1^T u subject to B^T u >= 1, u >= 0``. As a minimisation
``min c^T x, A x = b, x >= 0`` it has ``x = (w, s)``, ``A = [B I]``, ``b = 1``, ``c = (-1, 0)``; the
dual variables are ``y`` (free, ``u = -y``) and ``z = (z_w, z_s) >= 0`` with ``A^T y + z = c``.

Mehrotra's predictor-corrector method (Mehrotra 1992, "On the implementation of a primal-dual
interior point method", SIAM J. Optim. 2; Wright, "Primal-Dual Interior-Point Methods", 1997,
ch. 10), from Mehrotra's starting point (least-squares solutions of the primal and dual equations,
shifted positive; on random 500 x 500 games it needs about 11 iterations where a uniform start
needed 15 to 17). One iteration:

1. residuals ``r_p = b - A x``, ``r_d = c - A^T y - z``, complementarity ``mu = x^T z / (n + m)``;
2. normal equations ``(A D A^T) dy = r``, ``D = X Z^-1``: here ``A D A^T = C C^T + D_s`` with
   ``C = B D_w^(1/2)`` (a dense ``m x m`` matrix: one symmetric rank-k product ``syrk``, half the
   work of a general product, and one Cholesky factorisation per iteration; a relative ridge
   keeps the factorisation alive where a low-rank game makes the matrix singular);
3. predictor (affine) step toward ``mu = 0``; centring ``sigma = (mu_aff / mu)^3``;
4. corrector step with the second-order term;
5. Gondzio's centrality correctors (Gondzio 1996, "Multiple centrality corrections in a primal-dual
   method for linear programming", Comput. Optim. Appl. 6; Colombo and Gondzio 2008): aim at the
   longer steps ``a' = min(1, 1.5 a)``; at the trial point ``x + a' dx, z + a' dz`` move the
   complementarity products that leave the box ``[0.1, 10] sigma mu`` back into it by one more
   solve with the same factorisation (zero residuals, right-hand side the projection's change),
   kept while it lengthens the steps by at least ``0.1 (a' - a)``. Each corrector costs two
   matrix-vector products and two triangular solves, against ``O(m^3)`` for a factorisation, and
   saves iterations;
6. step lengths :data:`STEP_FRACTION` of the way to the boundary.

Stops when the residuals and the relative duality gap are below ``tolerance``. Each iterate also
carries the supports it points at: in a strictly complementary solution every pair ``(w_j, z_j)``
has exactly one positive member, so near the optimum the score ``w_j / z_j`` grows like ``1 / mu``
on the column player's support and shrinks like ``mu`` off it, and likewise ``u_i / s_i`` for the
row player (Wright 1997, ch. 7, finite termination). A score above 1 marks a support member; the
caller can solve the equalising equations on those supports and stop an iteration or two before
``tolerance`` is reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas, lapack

#: Most centrality correctors per iteration (Gondzio's ``K``).
MAX_CORRECTORS = 1
#: Relative ridges added to the normal matrix, each tried when the one before breaks the Cholesky factorisation.
RIDGES = (1e-14, 1e-10, 1e-6)
#: How far each step goes toward the boundary of the positive orthant.
STEP_FRACTION = 0.995


@dataclass(frozen=True)
class InteriorPointResult:
    """One iterate: ``w`` (column weights), ``u`` (row weights), the supports they point at.

    Attributes:
        column_weights: ``w``, shape ``(n,)``.
        row_weights: ``u = -y``, shape ``(m,)``.
        column_scores: ``w_j / z_j``, shape ``(n,)``: above 1 for the columns that look positive at the optimum.
        row_scores: ``u_i / s_i``, shape ``(m,)``: above 1 for the rows that look positive at the optimum.
        error: the largest of the residuals and the relative duality gap ``x^T z / (1 + 1^T w)``.
        converged: ``error`` is below the tolerance.
        iterations: iterations done.
    """

    column_weights: np.ndarray
    row_weights: np.ndarray
    column_scores: np.ndarray
    row_scores: np.ndarray
    error: float
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

    A relative ridge (:data:`RIDGES`, the next one whenever the factorisation breaks down) keeps it
    alive as complementary pairs approach zero, where a game of low rank makes the matrix singular;
    a ridge only perturbs the direction, and the next iteration's residuals correct it.
    """
    scaled = matrix * np.sqrt(d_w)  # C = B D_w^(1/2), (m, n), row-major
    diagonal = np.diag_indices(matrix.shape[0])
    for ridge in RIDGES:
        # syrk on C^T (column-major n x m, trans=1) gives C C^T in the lower triangle, (m, m) column-major
        normal = blas.dsyrk(1.0, scaled.T, trans=1, lower=1)
        normal[diagonal] += d_s + ridge * np.trace(normal) / matrix.shape[0]
        factor, info = lapack.dpotrf(normal, lower=1, clean=0, overwrite_a=1)
        if info == 0 and np.all(np.isfinite(factor[diagonal])):
            break
    else:
        return None

    def solve(rhs: np.ndarray) -> np.ndarray:
        solution, _ = lapack.dpotrs(factor, rhs, lower=1)
        return solution

    return solve


def _newton(matrix, point, residuals, solve_dy, target_w, target_s):
    """The Newton direction ``(dw, ds, dy, dz_w, dz_s)`` of the primal-dual system.

    Solves ``A dx = r_p``, ``A^T dy + dz = r_d`` and ``Z dx + X dz = target`` (the complementarity
    products ``X Z 1`` move to ``target``) through the normal equations; ``residuals`` None means
    zero residuals (a centrality corrector).
    """
    w, s, z_w, z_s = point
    d_w, d_s = w / z_w, s / z_s
    if residuals is None:
        rhs = -(matrix @ (target_w / z_w) + target_s / z_s)
        dy = solve_dy(rhs)  # (m,)
        dz_w, dz_s = -(matrix.T @ dy), -dy
    else:
        r_primal, r_dual_w, r_dual_s = residuals
        rhs = r_primal - matrix @ (target_w / z_w - d_w * r_dual_w) - target_s / z_s + d_s * r_dual_s
        dy = solve_dy(rhs)  # (m,)
        dz_w, dz_s = r_dual_w - matrix.T @ dy, r_dual_s - dy
    return (target_w - w * dz_w) / z_w, (target_s - s * dz_s) / z_s, dy, dz_w, dz_s


def _steps(point, direction) -> tuple[float, float]:
    """The primal and dual step lengths to the boundary along ``direction``."""
    w, s, z_w, z_s = point
    dw, ds, _, dzw, dzs = direction
    return (min(_step_to_boundary(w, dw), _step_to_boundary(s, ds)),
            min(_step_to_boundary(z_w, dzw), _step_to_boundary(z_s, dzs)))


def _centrality_correctors(matrix, point, direction, solve_dy, target):
    """Gondzio's correctors (module docstring, step 5) added to ``direction`` while they lengthen the steps."""
    w, s, z_w, z_s = point
    primal_step, dual_step = _steps(point, direction)
    for _ in range(MAX_CORRECTORS):
        if min(primal_step, dual_step) >= 1.0:
            break
        aim_primal, aim_dual = min(1.0, 1.5 * primal_step), min(1.0, 1.5 * dual_step)
        dw, ds, _, dzw, dzs = direction
        products = np.r_[(w + aim_primal * dw) * (z_w + aim_dual * dzw), (s + aim_primal * ds) * (z_s + aim_dual * dzs)]
        change = np.clip(products, 0.1 * target, 10.0 * target) - products
        change = np.maximum(change, -10.0 * target)  # do not push large products down by more than the box top
        num_cols = w.size
        correction = _newton(matrix, point, None, solve_dy, change[:num_cols], change[num_cols:])
        candidate = tuple(a + b for a, b in zip(direction, correction))
        new_primal, new_dual = _steps(point, candidate)
        if (new_primal < primal_step + 0.1 * (aim_primal - primal_step)
                or new_dual < dual_step + 0.1 * (aim_dual - dual_step)):
            break
        direction, primal_step, dual_step = candidate, new_primal, new_dual
    return direction, primal_step, dual_step


def _starting_point(matrix: np.ndarray):
    """Mehrotra's starting point ``(w, s, y, z_w, z_s)`` (Mehrotra 1992, section 7; Wright 1997, ch. 10), or None.

    The least-squares solutions ``x = A^T (A A^T)^-1 b`` of ``A x = b`` and ``y = (A A^T)^-1 A c``,
    ``z = c - A^T y`` of the dual equations (one factorisation of ``A A^T = B B^T + I``), shifted
    to be positive and then balanced so that ``x^T z`` is spread over both.
    """
    num_rows, num_cols = matrix.shape
    solve = _normal_equations(matrix, np.ones(num_cols), np.ones(num_rows))
    if solve is None:
        return None
    multipliers = solve(np.ones(num_rows))  # (A A^T)^-1 b, (m,)
    w, s = matrix.T @ multipliers, multipliers
    y = -solve(matrix.sum(axis=1))  # (A A^T)^-1 A c with c = (-1, 0): A c = -B 1
    z_w, z_s = -1.0 - matrix.T @ y, -y
    primal_shift = max(-1.5 * min(w.min(), s.min()), 0.0)
    dual_shift = max(-1.5 * min(z_w.min(), z_s.min()), 0.0)
    w, s, z_w, z_s = w + primal_shift, s + primal_shift, z_w + dual_shift, z_s + dual_shift
    products = w @ z_w + s @ z_s
    primal_shift, dual_shift = 0.5 * products / (z_w.sum() + z_s.sum()), 0.5 * products / (w.sum() + s.sum())
    return w + primal_shift, s + primal_shift, y, z_w + dual_shift, z_s + dual_shift


def iterate_game_lp(shifted: np.ndarray, *, tolerance: float = 1e-9,
                    max_iterations: int = 60) -> Iterator[InteriorPointResult]:
    """Each iterate of the interior-point method on ``max 1^T w, B w <= 1, w >= 0`` (``B`` = ``shifted`` > 0).

    Yields the starting point and then the point after each iteration; the last one yielded has
    ``converged`` True, or the iterator ends without it when the duality gap stalls (five
    iterations without halving), the factorisation fails or ``max_iterations`` are spent. The
    normal matrix is ``m x m``; callers with more rows than columns solve the transposed game.
    """
    matrix = np.asarray(shifted, dtype=np.float64)  # B, (m, n)
    num_rows, num_cols = matrix.shape
    size = num_rows + num_cols
    start = _starting_point(matrix)
    if start is None:
        return
    w, s, y, z_w, z_s = start
    gaps: list[float] = []
    for iteration in range(max_iterations + 1):
        r_primal = 1.0 - matrix @ w - s  # (m,)
        r_dual_w = -1.0 - matrix.T @ y - z_w  # (n,)
        r_dual_s = -y - z_s  # (m,)
        gap = w @ z_w + s @ z_s
        error = max(np.abs(r_primal).max(), np.abs(r_dual_w).max(), np.abs(r_dual_s).max(), gap / (1.0 + w.sum()))
        converged = bool(error < tolerance)
        yield InteriorPointResult(w, -y, w / z_w, -y / s, float(error), converged, iteration)
        if converged or iteration == max_iterations:
            return
        gaps.append(gap)
        if len(gaps) > 5 and gap > 0.5 * gaps[-6]:  # five iterations without halving the gap: stalled
            return
        mu = gap / size
        solve_dy = _normal_equations(matrix, w / z_w, s / z_s)  # D = X Z^-1
        if solve_dy is None:
            return

        # predictor: the pure Newton step toward complementarity 0
        residuals = (r_primal, r_dual_w, r_dual_s)
        point = (w, s, z_w, z_s)
        dw, ds, _, dzw, dzs = _newton(matrix, point, residuals, solve_dy, -w * z_w, -s * z_s)
        primal_step, dual_step = _steps(point, (dw, ds, None, dzw, dzs))
        mu_affine = ((w + primal_step * dw) @ (z_w + dual_step * dzw)
                     + (s + primal_step * ds) @ (z_s + dual_step * dzs)) / size
        sigma = (mu_affine / mu) ** 3
        # corrector: centre by sigma * mu and correct the second-order term dx * dz
        direction = _newton(matrix, point, residuals, solve_dy,
                            -w * z_w - dw * dzw + sigma * mu, -s * z_s - ds * dzs + sigma * mu)
        direction, primal_step, dual_step = _centrality_correctors(matrix, point, direction, solve_dy, sigma * mu)
        dw, ds, dy, dzw, dzs = direction
        primal_step, dual_step = STEP_FRACTION * primal_step, STEP_FRACTION * dual_step
        w, s = w + primal_step * dw, s + primal_step * ds
        y, z_w, z_s = y + dual_step * dy, z_w + dual_step * dzw, z_s + dual_step * dzs


def solve_game_lp(shifted: np.ndarray, *, tolerance: float = 1e-9, max_iterations: int = 60) -> InteriorPointResult:
    """The last iterate of :func:`iterate_game_lp`: ``converged`` says whether it reached ``tolerance``."""
    result = None
    for result in iterate_game_lp(shifted, tolerance=tolerance, max_iterations=max_iterations):  # noqa: B007
        pass
    return result
