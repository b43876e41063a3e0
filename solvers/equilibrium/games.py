"""What the solvers accept, checked against the game's metadata.

Solvers take an :class:`aligngames.game.MatrixGame` (payoff tensors + :class:`~aligngames.game.GameInfo`),
an :class:`aligngames.game.MetaGame` from a tournament, or raw numpy arrays, and turn them into
the one array their math needs. A game a solver does not apply to is refused here with a message
that says why (Nash LP on a general-sum or three-player game, MPO on an asymmetric game, ...).

- :func:`zero_sum_matrix`: the row player's payoff matrix ``A`` of a two-player zero-sum or
  constant-sum game (constant-sum games have the same equilibria as ``(A, -A)``).
- :func:`skew_symmetric_matrix`: the payoff ``G = P - 1/2`` of a symmetric preference game
  (``G = -G^T``), from preferences ``P[i, j] = P(i > j)`` or from a symmetric constant-sum game.

Raw arrays are read with :func:`aligngames.solvers.inputs.float_array`: ragged, non-numeric, empty
or NaN/inf input is refused with a message naming the solver and the argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aligngames.game import MatrixGame, MetaGame
from aligngames.preferences import check_preference_matrix
from aligngames.solvers.inputs import float_array


@dataclass(frozen=True)
class ZeroSumMatrix:
    """A two-player zero-sum game as the row player's payoffs.

    Attributes:
        payoffs: ``A``, shape ``(..., m, n)`` (leading axes: a batch of games, raw arrays only).
        row_names, col_names: action names (empty for a batch).
        constant_sum: what the two payoffs add up to (player 1 gets ``constant_sum - A``).
    """

    payoffs: np.ndarray
    row_names: tuple[str, ...] = ()
    col_names: tuple[str, ...] = ()
    constant_sum: float = 0.0


@dataclass(frozen=True)
class SymmetricMatrix:
    """A symmetric two-player zero-sum game as a skew-symmetric payoff ``G`` (``G[i, j]`` is the
    payoff of answer ``i`` against answer ``j``; for preferences ``G = P - 1/2``)."""

    payoffs: np.ndarray
    names: tuple[str, ...] = ()


#: Preference entries this far outside [0, 1] are rounding error: they are clipped, not refused.
PREFERENCE_SLACK = 1e-12
_MISSING_MATCHES = " (a tournament table with missing matches has NaN)"


def zero_sum_matrix(game, solver: str, *, allow_batch: bool = False) -> ZeroSumMatrix:
    """The row payoffs of a two-player zero-/constant-sum ``game``; refuse anything else.

    Accepts a :class:`MatrixGame`, a :class:`MetaGame`, a matrix ``A`` (row payoffs of a zero-sum
    game), an array of shape ``(2, m, n)`` (both players' payoffs; must have a constant sum), or with
    ``allow_batch`` an array ``(batch..., m, n)`` of zero-sum games.
    """
    if isinstance(game, ZeroSumMatrix):
        return game
    if isinstance(game, MetaGame):
        game = game.matrix_game()
    if isinstance(game, MatrixGame):
        game.info.require_two_player_constant_sum(solver)
        names = game.action_names
        return ZeroSumMatrix(game.payoffs[0], names[0], names[1], game.info.constant_sum)
    array = float_array(game, f"{solver}: payoffs", "a payoff matrix (m, n) or both players' payoffs (2, m, n)",
                        hint=_MISSING_MATCHES)
    if array.ndim == 2:
        return ZeroSumMatrix(array)
    if array.ndim == 3 and array.shape[0] == 2 and not allow_batch:
        total = array.sum(axis=0)
        if not np.allclose(total, total.flat[0], atol=1e-9):
            raise ValueError(
                f"{solver} needs a two-player zero-sum or constant-sum game; the two payoff matrices do not "
                f"add up to a constant (largest spread {np.ptp(total):.3g}), so the game is general-sum"
            )
        return ZeroSumMatrix(array[0], constant_sum=float(total.flat[0]))
    if allow_batch and array.ndim >= 2:
        return ZeroSumMatrix(array)
    raise ValueError(
        f"{solver}: expected a MatrixGame, a payoff matrix (m, n) or both players' payoffs (2, m, n); "
        f"got an array of shape {array.shape}"
    )


def skew_symmetric_matrix(game, solver: str) -> SymmetricMatrix:
    """``G = P - 1/2`` for a symmetric preference game; refuse asymmetric or general-sum games.

    Accepts preferences ``P`` (square, ``P + P^T = 1``), a symmetric two-player constant-sum
    :class:`MatrixGame` (``G = A - constant_sum/2``) or a symmetric :class:`MetaGame` with one pool
    (its table averaged over both seatings). Preference entries within :data:`PREFERENCE_SLACK` of
    [0, 1] (rounding error, e.g. ``1 + 1e-16``) are clipped into it; entries further out are refused.
    """
    if isinstance(game, SymmetricMatrix):
        return game
    if isinstance(game, MetaGame):
        if not game.info.symmetric:
            raise ValueError(f"{solver} needs a symmetric game; this meta-game's env is not symmetric")
        game.info.require_two_player_constant_sum(solver)
        names, table = game.symmetric_table()
        table = float_array(table, f"{solver}: the meta-game's table", "a square table of mean payoffs",
                            hint=_MISSING_MATCHES)
        centred = table - game.info.constant_sum / 2.0
        return SymmetricMatrix(0.5 * (centred - centred.T), names)  # remove sampling noise's symmetric part
    if isinstance(game, MatrixGame):
        game.info.require_two_player_constant_sum(solver)
        if not game.info.symmetric:
            raise ValueError(f"{solver} needs a symmetric game (both players interchangeable); this game is not")
        payoffs = game.payoffs[0] - game.info.constant_sum / 2.0
        if payoffs.shape[0] != payoffs.shape[1] or not np.allclose(payoffs, -payoffs.T, atol=1e-9):
            raise ValueError(f"{solver}: the game is marked symmetric but its centred payoffs are not skew-symmetric")
        if game.action_names[0] != game.action_names[1]:
            raise ValueError(f"{solver}: a symmetric game needs the same action names for both players")
        return SymmetricMatrix(payoffs, game.action_names[0])
    name = f"{solver}: preferences"
    preferences = float_array(game, name, "a square preference matrix P[i, j] = P(i > j)", ndim=2)
    outside = (preferences < -PREFERENCE_SLACK) | (preferences > 1.0 + PREFERENCE_SLACK)
    if outside.any():
        first = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(f"{name} entries must be probabilities in [0, 1] (up to {PREFERENCE_SLACK:g}); "
                         f"entry {first} is {float(preferences[first])!r}")
    preferences = check_preference_matrix(np.clip(preferences, 0.0, 1.0), name)
    return SymmetricMatrix(preferences - 0.5)
