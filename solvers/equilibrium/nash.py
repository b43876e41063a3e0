"""Nash equilibria of two-player zero-sum matrix games by linear programming; maximal lotteries.

Von Neumann's minimax theorem: for payoffs ``A`` (row player maximises ``x^T A y``),
``max_x min_y x^T A y = min_y max_x x^T A y = v``. Both strategies and ``v`` come from one LP.

The LP (one solve, both players). Shift and scale ``A`` into ``B = (A - min A) / (max A - min A) + 1``,
so every entry lies in [1, 2] and the value ``v_B`` of ``B`` is positive. The column player's problem
``min_y max_i (B y)_i`` becomes, with ``w = y / v_B``,

    maximise  1^T w   subject to   B w <= 1,  w >= 0,         optimum 1^T w = 1 / v_B,

and its dual ``minimise 1^T u subject to B^T u >= 1, u >= 0`` is the row player's problem with
``u = x / v_B``. HiGHS (through ``scipy.optimize.linprog``) returns ``w`` and the duals ``u`` of the
constraints ``B w <= 1``: ``y = w / 1^T w``, ``x = u / 1^T u``, and the value is ``x^T A y``.
Dense games gain nothing from presolve, so it is off; the dual simplex is fastest on small and
medium games and the interior-point method (with crossover, so the solution is still a vertex) on
large ones (measured on random dense games, see ``benchmarks/solvers.py``).

Every answer is checked: its NashConv must be at most :data:`ACCEPTED_NASH_CONV` times the payoff
range. HiGHS's tolerances (1e-7 on ``B``) do not give that on badly scaled games, so a HiGHS answer
that fails the check is refined (:mod:`aligngames.solvers.equilibrium.lp_refinement`), then the
column player's LP (the game ``-A^T``) and a solve with tighter tolerances are tried; if none passes,
the solver raises instead of returning an inaccurate equilibrium.

Large dense games (``m * n >= DENSE_INTERIOR_POINT_ENTRIES``) go first to a dense primal-dual
interior-point method (:mod:`aligngames.solvers.equilibrium.interior_point`, several times faster than HiGHS
there). Its iterates are polished: on the supports an iterate points at (its complementarity
scores), the equalising linear system is solved exactly, with up to :data:`POLISH_SWAPS` simplex-like
pivots when a near-tie put one action on the wrong side. From :data:`EARLY_POLISH_ERROR` on, each
iterate is polished until one passes the same check, which usually ends the method an iteration
or two before its own tolerance; if none passes, HiGHS solves the game.

Exploitability (NashConv) of a profile ``(x, y)``: ``max_i (A y)_i - min_j (x^T A)_j``, the sum of
what each player gains by deviating to a best response; zero exactly at a Nash equilibrium.

Maximal lottery (Fishburn 1984; Brandl, Brandt and Seedig 2016): for a skew-symmetric margin matrix
``M`` (``M[a, b] = #(a > b) - #(b > a)``), a lottery ``p`` with ``p^T M >= 0``: the row strategy of
the symmetric zero-sum game ``M``, whose value is 0. It is unique when the number of voters is odd
and preferences are strict; otherwise the LP returns one of the maximal lotteries (a vertex).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
from scipy.linalg import lapack

from aligngames.solvers.equilibrium.games import zero_sum_matrix
from aligngames.solvers.equilibrium.interior_point import iterate_game_lp
from aligngames.solvers.equilibrium.lp_refinement import refined_solutions
from aligngames.solvers.inputs import float_array, strategy_array

#: From this many entries on, the dense interior-point method is tried first (``method="auto"``).
DENSE_INTERIOR_POINT_ENTRIES = 150 * 150
#: An answer is accepted when its NashConv is at most this times the payoff range.
ACCEPTED_NASH_CONV = 1e-9
#: The dense interior-point route polishes each iterate's supports once its error is below this.
EARLY_POLISH_ERROR = 1e-6
#: Where the interior-point method stops when no polished profile has passed the check first.
INTERIOR_POINT_TOLERANCE = 1e-9
#: Pivots (support swaps) the polish tries when an equalising profile fails the check.
POLISH_SWAPS = 2
#: Refinement rounds per HiGHS attempt (most badly scaled games need one).
REFINEMENT_ROUNDS = 8
METHODS = ("auto", "highs", "interior_point")


@dataclass(frozen=True)
class NashSolution:
    """An equilibrium of a two-player zero-sum game.

    Attributes:
        row: the row (maximising) player's mixed strategy, shape ``(m,)``.
        col: the column player's mixed strategy, shape ``(n,)``.
        value: the row player's expected payoff at equilibrium.
    """

    row: np.ndarray
    col: np.ndarray
    value: float


def _clean(vector: np.ndarray) -> np.ndarray:
    vector = np.maximum(np.asarray(vector, dtype=np.float64), 0.0)
    return vector / vector.sum()


def solve_zero_sum(payoffs, *, method: str = "auto") -> NashSolution:
    """A Nash equilibrium and the value of a two-player zero-sum (or constant-sum) matrix game.

    Args:
        payoffs: the row player's payoff matrix ``A`` (shape ``(m, n)``), a :class:`~aligngames.game.MatrixGame`
            or :class:`~aligngames.game.MetaGame` of a two-player zero-/constant-sum game, or both
            payoff matrices ``(2, m, n)``. General-sum and n-player games are refused.
        method: ``"auto"`` (the dense interior-point method for large games, with HiGHS as the
            fallback; HiGHS otherwise), ``"highs"`` or ``"interior_point"`` (raises if it fails).

    Returns:
        The strategies of both players and the row player's value (for a constant-sum game, player
        1's value is ``constant_sum - value``); their NashConv is at most :data:`ACCEPTED_NASH_CONV`
        times the payoff range.

    Raises:
        RuntimeError: if no answer passes that check (module docstring).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    matrix = zero_sum_matrix(payoffs, "Nash LP").payoffs
    num_rows, num_cols = matrix.shape
    low, high = float(matrix.min()), float(matrix.max())
    if high == low:  # every profile is an equilibrium
        return NashSolution(np.full(num_rows, 1.0 / num_rows), np.full(num_cols, 1.0 / num_cols), low)
    if method == "interior_point" or (method == "auto" and matrix.size >= DENSE_INTERIOR_POINT_ENTRIES):
        solution = _solve_interior_point(matrix)
        if solution is not None:
            return solution
        if method == "interior_point":
            raise RuntimeError("the dense interior-point method did not reach an equilibrium; use method='highs'")
    return _solve_highs(matrix)


def _shift(matrix: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``B = (A - min A) / (max A - min A) + 1`` (entries in [1, 2]), with the minimum and the range."""
    low = float(matrix.min())
    scale = float(matrix.max()) - low
    return (matrix - low) / scale + 1.0, low, scale


def _solve_highs(matrix: np.ndarray) -> NashSolution:
    """HiGHS, refined until the answer passes the NashConv check (module docstring), or a RuntimeError."""
    accepted = ACCEPTED_NASH_CONV * float(np.ptp(matrix))
    best = np.inf
    for tight in (False, True):
        for transposed in (False, True):  # -A^T: the column player's LP, whose numerics differ
            game = -matrix.T if transposed else matrix
            for row, col in islice(refined_solutions(_shift(game)[0], tight=tight), 1 + REFINEMENT_ROUNDS):
                if transposed:
                    row, col = col, row
                gap = exploitability(matrix, row, col)
                if gap <= accepted:
                    return NashSolution(row, col, float(row @ matrix @ col))
                best = min(best, gap)
    raise RuntimeError(
        f"the Nash LP did not reach the accepted accuracy on this {matrix.shape[0]}x{matrix.shape[1]} game: the best "
        f"NashConv found is {best:.3g}, above {ACCEPTED_NASH_CONV:g} x the payoff range ({accepted:.3g}); the "
        f"payoffs span more magnitudes than HiGHS resolves (rounding payoffs to a grid of step d changes NashConv "
        f"by at most 2d)"
    )


def _solve_interior_point(matrix: np.ndarray) -> NashSolution | None:
    """The dense interior-point route; None when its answer is not an equilibrium to the accepted accuracy.

    From the first iterate whose error is below :data:`EARLY_POLISH_ERROR`, each iterate's supports
    (read from its complementarity scores) are polished; the first polished profile that passes
    the check is the answer, usually one or two iterations before the method's own tolerance. If
    none does, the last iterate (converged, or where the method stopped) is polished at the support
    sizes its weights suggest and, failing that, is itself the answer if it passes the check.
    """
    transposed = matrix.shape[0] > matrix.shape[1]
    game = -matrix.T if transposed else matrix  # the column player's view: its normal matrix is the smaller one
    shifted, _, scale = _shift(game)
    accepted = ACCEPTED_NASH_CONV * scale
    solution, last, tried = None, None, set()
    for iterate in iterate_game_lp(shifted, tolerance=INTERIOR_POINT_TOLERANCE):
        last = iterate
        if iterate.error <= EARLY_POLISH_ERROR:
            # a score above 1 marks a support member (interior_point module docstring)
            sizes = {int((iterate.row_scores > 1).sum()), int((iterate.column_scores > 1).sum())}
            solution = _polish(game, iterate.row_scores, iterate.column_scores, sizes, accepted, tried)
            if solution is not None:
                break
    if solution is None:  # the last iterate, converged or not (the check decides)
        if last is None:
            return None
        row, col = _clean(last.row_weights), _clean(last.column_weights)
        # candidate support sizes: how many weights stand above a few relative thresholds, for either player
        sizes = {int((weights > threshold * weights.max()).sum())
                 for weights in (row, col) for threshold in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7)}
        solution = _polish(game, row, col, sizes, accepted, tried)
        if solution is None:
            if exploitability(game, row, col) > accepted:
                return None
            solution = (row, col)
    row, col = solution
    if transposed:
        row, col = col, row
    return NashSolution(row, col, float(row @ matrix @ col))


def _polish(matrix: np.ndarray, row_ranking: np.ndarray, col_ranking: np.ndarray, sizes: set[int],
            accepted: float, tried: set) -> tuple[np.ndarray, np.ndarray] | None:
    """Solve the equalising equations on candidate supports; the first profile with NashConv <= ``accepted``.

    On supports ``S`` (rows) and ``T`` (columns) of equal size ``k``, an equilibrium makes every row
    of ``S`` earn ``v`` against the column strategy and every column of ``T`` cost ``v`` against the
    row strategy (a nondegenerate game's equilibrium has equal support sizes). For each ``k`` in
    ``sizes`` the candidates are each player's ``k`` highest entries of its ranking (weights or
    complementarity scores); ``tried`` holds the supports already tried (skipped, then added).
    """
    row_order, col_order = np.argsort(-row_ranking, kind="stable"), np.argsort(-col_ranking, kind="stable")
    for size in sorted(sizes):
        if not 0 < size <= min(matrix.shape):
            continue
        rows, cols = np.sort(row_order[:size]), np.sort(col_order[:size])
        key = (rows.tobytes(), cols.tobytes())
        if key in tried:
            continue
        tried.add(key)
        solution = _polish_supports(matrix, rows, cols, accepted)
        if solution is not None:
            return solution
    return None


def _polish_supports(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray, accepted: float,
                     swaps: int = POLISH_SWAPS) -> tuple[np.ndarray, np.ndarray] | None:
    """The equalising profile on supports ``rows`` x ``cols`` (equal sizes) if its NashConv is at most ``accepted``.

    When it is not, up to ``swaps`` times the player with the larger gain from deviating (against
    the opponent's equalising strategy) takes its best action outside its support in, in place of
    the action a simplex ratio test picks (:func:`_leaving`), and the equations are solved again: a
    pivot that can mend a support guess off by a near-tie (an action whose weight or payoff gap is
    below what the interior-point tolerance resolves). Returns ``(row, col)`` or None.
    """
    rows, cols = rows.copy(), cols.copy()
    for _ in range(swaps + 1):
        system = _EqualisingSystem.of(matrix[np.ix_(rows, cols)])
        if system is None:
            return None
        row_support, col_support, value = system.solve()
        row, col = np.zeros(matrix.shape[0]), np.zeros(matrix.shape[1])
        row[rows], col[cols] = row_support, col_support
        row_values, col_values = matrix @ col, row @ matrix  # (m,): each row against col; (n,): row against each column
        if min(row_support.min(), col_support.min()) >= 0 and row_values.max() - col_values.min() <= accepted:
            return row, col
        # each player's best action outside its support, and what it gains over the value
        row_values[rows], col_values[cols] = -np.inf, np.inf
        best_row, best_col = int(np.argmax(row_values)), int(np.argmin(col_values))
        row_gain, col_gain = row_values[best_row] - value, value - col_values[best_col]
        if max(row_gain, col_gain) <= 0:
            return None
        if row_gain >= col_gain:  # a row that earns more than the value enters
            rows[_leaving(row_support, system.row_direction(matrix[best_row, cols]))] = best_row
        else:  # a column that costs less than the value enters
            cols[_leaving(col_support, system.col_direction(matrix[rows, best_col]))] = best_col
    return None


def _leaving(weights: np.ndarray, direction: np.ndarray) -> int:
    """The support action that leaves when another enters: the most negative weight if there is one,
    else the ratio test (the first weight that ``weights + t * direction`` drives to 0 as ``t`` grows)."""
    if weights.min() < 0:
        return int(np.argmin(weights))
    falling = direction < 0
    if not falling.any():
        return int(np.argmin(weights))
    candidates = np.flatnonzero(falling)
    return int(candidates[np.argmin(weights[falling] / -direction[falling])])


@dataclass(frozen=True)
class _EqualisingSystem:
    """The LU factors of ``K = [block, -1; 1^T, 0]`` for a ``k x k`` support block.

    ``K [q; v] = [0; 1]`` gives the column strategy ``q`` that makes every row of the block earn
    ``v``, and ``K^T [p; -v] = [0; -1]`` the row strategy ``p`` that makes every column cost ``v``:
    one factorisation serves both players and the pivots of :func:`_polish_supports`.
    """

    factor: np.ndarray
    pivots: np.ndarray

    @classmethod
    def of(cls, block: np.ndarray) -> _EqualisingSystem | None:
        """The factors, or None when ``K`` is singular."""
        k = block.shape[0]
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k], kkt[:k, k], kkt[k, :k] = block, -1.0, 1.0
        factor, pivots, info = lapack.dgetrf(kkt)
        return cls(factor, pivots) if info == 0 else None

    def _solve(self, rhs: np.ndarray, transposed: bool) -> np.ndarray:
        solution, _ = lapack.dgetrs(self.factor, self.pivots, rhs, trans=int(transposed))
        return solution

    def solve(self) -> tuple[np.ndarray, np.ndarray, float]:
        """``(p, q, v)``; the weights may be negative (the caller checks)."""
        last = np.zeros(self.factor.shape[0])
        last[-1] = 1.0
        col_solution, row_solution = self._solve(last, False), self._solve(-last, True)
        return row_solution[:-1], col_solution[:-1], float(col_solution[-1])

    def col_direction(self, entering: np.ndarray) -> np.ndarray:
        """How ``q`` changes per unit weight on an entering column (its entries on the block's rows)."""
        return self._solve(np.r_[-entering, -1.0], False)[:-1]

    def row_direction(self, entering: np.ndarray) -> np.ndarray:
        """How ``p`` changes per unit weight on an entering row (its entries on the block's columns)."""
        return self._solve(np.r_[-entering, 1.0], True)[:-1]


def exploitability(payoffs, row, col):
    """NashConv of ``(row, col)`` in the zero-sum game ``A``: ``max_i (A col)_i - min_j (row^T A)_j``.

    Broadcasts over leading axes (``payoffs`` ``(..., m, n)``, ``row`` ``(..., m)``, ``col``
    ``(..., n)``) and then returns an array; for a single game it returns a float. The MMD paper
    reports half of this.
    """
    matrix = zero_sum_matrix(payoffs, "exploitability", allow_batch=True).payoffs
    row = strategy_array(row, matrix.shape[-2], "exploitability: row")
    col = strategy_array(col, matrix.shape[-1], "exploitability: col")
    try:
        np.broadcast_shapes(matrix.shape[:-2], row.shape[:-1], col.shape[:-1])
    except ValueError:
        raise ValueError(f"exploitability: the leading (batch) axes of payoffs {matrix.shape}, row {row.shape} and "
                         f"col {col.shape} do not broadcast") from None
    row_values = (matrix @ col[..., None])[..., 0]  # (..., m): each row action against col
    col_values = (row[..., None, :] @ matrix)[..., 0, :]  # (..., n): row against each column action
    gap = row_values.max(axis=-1) - col_values.min(axis=-1)
    return float(gap) if np.ndim(gap) == 0 else gap


def action_values(payoffs: np.ndarray, strategies: Sequence[np.ndarray]) -> list[np.ndarray]:
    """For each player p, the expected payoff of each of p's actions when the others play ``strategies``.

    Args:
        payoffs: shape ``(num_players, n_1, ..., n_num_players)`` (a :class:`MatrixGame`'s ``payoffs``).
        strategies: one mixed strategy per player.
    """
    num_players = payoffs.shape[0]
    values = []
    for player in range(num_players):
        tensor = payoffs[player]
        for other in reversed(range(num_players)):  # highest axis first, so lower axis indices stay valid
            if other != player:
                tensor = np.tensordot(tensor, strategies[other], axes=([other], [0]))
        values.append(tensor)
    return values


def nash_conv(payoffs: np.ndarray, strategies: Sequence[np.ndarray]) -> float:
    """``sum_p max_a u_p(a, s_-p) - u_p(s)``: what all players together gain by best-responding.

    Works for any number of players and any sum; equals :func:`exploitability` on zero-sum games.
    """
    payoffs = float_array(payoffs, "nash_conv: payoffs", "payoff tensors (num_players, n_1, ..., n_num_players)")
    num_players = payoffs.shape[0]
    if payoffs.ndim != num_players + 1:
        raise ValueError(f"nash_conv: payoffs must have shape (num_players, n_1, ..., n_num_players), one axis per "
                         f"player after the first; got shape {payoffs.shape}")
    if len(strategies) != num_players:
        raise ValueError(f"nash_conv: strategies must hold one strategy per player ({num_players}), got {len(strategies)}")
    strategies = [strategy_array(strategy, size, f"nash_conv: strategies[{player}]")
                  for player, (strategy, size) in enumerate(zip(strategies, payoffs.shape[1:]))]
    values = action_values(payoffs, strategies)
    return float(sum(value.max() - strategy @ value for value, strategy in zip(values, strategies)))


def maximal_lottery(margins) -> np.ndarray:
    """A maximal lottery ``p`` (``p^T M >= 0``) of a skew-symmetric margin matrix ``M``.

    ``M[a, b]`` is the majority margin of ``a`` over ``b`` (any positive scaling gives the same
    lotteries; a preference matrix ``P`` gives ``M = 2P - 1``).
    """
    matrix = float_array(margins, "margins", "a square margin matrix (m, m)", ndim=2)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"margins must be a square matrix, got shape {matrix.shape}")
    if not np.allclose(matrix, -matrix.T, atol=1e-9):
        raise ValueError("margins must be skew-symmetric (M[a, b] = -M[b, a]); for preferences P pass 2P - 1")
    return solve_zero_sum(matrix).row


# --- settings (the command line is aligngames.cli.solve.nash) ---------------------------------------

@dataclass(frozen=True)
class NashConfig:
    """The Nash LP has no settings; the config records that the run used the LP."""
