"""HiGHS's solution of a matrix game's LP, then iterative refinement of it for badly scaled games.

Why: HiGHS accepts a basis when its primal and dual residuals are below 1e-7 on the shifted matrix
``B`` (entries in [1, 2], see :mod:`aligngames.solvers.equilibrium.nash`). When a game's entries span
many orders of magnitude, the payoff differences that decide the equilibrium can be smaller than that,
and the answer is off by up to 1e-7 times the payoff range (measured on random games whose rows and
columns are scaled by 1e-6..1e6: NashConv up to 2.6e-7 x range, half of them above 1e-9 x range).
Scaling rows or columns cannot remove this: it changes the game.

Method (Gleixner, Steffy and Wolter 2016, "Iterative refinement for linear programming", INFORMS
J. Computing 28(3)). In equality form the LP is

    minimise c^T z  subject to  E z = 1,  z >= 0,      E = [B  I],  z = (w, s),  c = (-1, 0),

with duals ``y`` (the row weights are ``u = -y``). An approximate pair ``(z, y)`` has primal residuals
``r = 1 - E z``, reduced costs ``d = c - E^T y`` (dual feasible when ``d >= 0``) and a complementarity
gap ``max_j min(z_j, d_j)``. Each round solves the correction LP

    minimise (D_d d)^T z'  subject to  E z' = D_p r,  z' >= -D_p z,

and moves to ``z + z' / D_p``, ``y + y' / D_d``: the same matrix, with the residuals scaled up by
``D_p`` and ``D_d`` (one over the residuals, at most :data:`GROWTH` times the previous round's), so
HiGHS's 1e-7 now applies to the residuals rather than to the whole solution.

Two safeguards, because scipy cannot warm-start HiGHS from the previous basis as the paper does: the
scaled reduced costs of variables at their bound are capped at :data:`COST_CAP` (such a variable stays
at its bound; a smaller cost keeps the dual feasible, since ``E^T y' <= capped cost <= D_d d``); and a
correction LP that HiGHS fails on is retried with 100 times smaller scaling and the other method.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.optimize import linprog

#: From this many entries on, HiGHS's interior-point method beats its dual simplex on dense games.
INTERIOR_POINT_ENTRIES = 400 * 400
#: Scaling factors of the first correction LP (primal, dual).
FIRST_SCALING = (1e3, 1e4)
#: A round's scaling factors are at most this many times the previous round's.
GROWTH = 1e3
#: Largest scaled reduced cost given to HiGHS for a variable at its bound.
COST_CAP = 1e4
#: HiGHS's feasibility tolerances in a ``tight`` first solve (its defaults are 1e-7).
TIGHT_TOLERANCE = 1e-10


def refined_solutions(shifted: np.ndarray, *, tight: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """HiGHS's equilibrium ``(row, col)`` of the game ``B`` (``shifted``), then each refinement round's.

    The caller checks each pair's NashConv and stops when it is accurate enough; the iterator ends
    early when HiGHS fails on the first LP or on a correction LP.

    Args:
        shifted: ``B``, the shifted payoff matrix with entries in [1, 2], shape ``(m, n)``.
        tight: solve the first LP with feasibility tolerances :data:`TIGHT_TOLERANCE`.
    """
    num_rows, num_cols = shifted.shape
    methods = ("highs-ipm", "highs-ds") if shifted.size >= INTERIOR_POINT_ENTRIES else ("highs-ds", "highs-ipm")
    options = {"presolve": False}  # dense games gain nothing from presolve
    if tight:
        options |= {"primal_feasibility_tolerance": TIGHT_TOLERANCE, "dual_feasibility_tolerance": TIGHT_TOLERANCE}
    for method in methods:
        result = linprog(-np.ones(num_cols), A_ub=shifted, b_ub=np.ones(num_rows), bounds=(0, None),
                         method=method, options=options)
        if result.status == 0:
            break
    else:
        return
    # z = (w, s): w = y / v_B, slacks s = 1 - B w; the duals of B w <= 1 are y = -u <= 0 (a minimisation)
    primal, dual = np.r_[result.x, result.ineqlin.residual], np.array(result.ineqlin.marginals)
    constraints = np.hstack([shifted, np.eye(num_rows)])  # E = [B I], (m, n + m)
    costs = np.r_[-np.ones(num_cols), np.zeros(num_rows)]
    primal_cap, dual_cap = FIRST_SCALING
    while (strategies := _strategies(primal, dual, num_cols)) is not None:
        yield strategies
        residuals = 1.0 - constraints @ primal  # (m,)
        reduced_costs = costs - constraints.T @ dual  # (n + m,)
        complementarity = np.minimum(np.maximum(primal, 0.0), np.maximum(reduced_costs, 0.0)).max()
        tiny = np.finfo(np.float64).tiny
        primal_scale = min(primal_cap, 1.0 / max(np.abs(residuals).max(), -primal.min(), complementarity, tiny))
        dual_scale = min(dual_cap, 1.0 / max(-reduced_costs.min(), complementarity, tiny))
        correction = _correction(constraints, residuals, reduced_costs, primal, primal_scale, dual_scale, methods)
        if correction is None:
            return
        primal_step, dual_step, primal_scale, dual_scale = correction
        primal, dual = primal + primal_step / primal_scale, dual + dual_step / dual_scale
        primal_cap, dual_cap = GROWTH * primal_scale, GROWTH * dual_scale


def _correction(constraints, residuals, reduced_costs, primal, primal_scale, dual_scale, methods):
    """Solve the correction LP (module docstring); on a HiGHS failure retry with 100x smaller scaling.

    Returns ``(z', y', D_p, D_d)`` or None.
    """
    for shrink in (1.0, 1e-2):
        scale_p, scale_d = max(1.0, shrink * primal_scale), max(1.0, shrink * dual_scale)
        costs = scale_d * reduced_costs
        at_bound = scale_p * primal < 1e-3  # within 1e-3 of its bound in the correction's units
        costs[at_bound] = np.minimum(costs[at_bound], COST_CAP)
        bounds = np.column_stack([-scale_p * primal, np.full(primal.size, np.inf)])
        for method in methods:
            result = linprog(costs, A_eq=constraints, b_eq=scale_p * residuals, bounds=bounds, method=method,
                             options={"presolve": False})
            if result.status == 0:
                return result.x, result.eqlin.marginals, scale_p, scale_d
    return None


def _strategies(primal: np.ndarray, dual: np.ndarray, num_cols: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(x, y)``: the row weights ``u = -y`` and column weights ``w`` clipped at 0 and normalised."""
    row, col = np.maximum(-dual, 0.0), np.maximum(primal[:num_cols], 0.0)
    if not (row.sum() > 0 and col.sum() > 0):
        return None
    return row / row.sum(), col / col.sum()
