"""Named errors and checks for the explicit tables that define tabular games (priors, utility tables).

A game written down as tables (persuasion's prior and utilities, the off-switch game's prior on ``U``)
reads each table through these checks, so a wrong input fails where it is given, with an error that
names the table and says what was wrong and what is allowed:

- :class:`NotADistributionError`: negative entries, or entries that do not sum to 1;
- :class:`TableShapeError`: a table whose shape does not match the names it is indexed by
  (``utility[state][action]`` with the wrong number of states or actions), or a ragged one;
- :class:`InfeasibleConstraintError`: constraints that no solution satisfies; the message says which.

All three are ``ValueError`` subclasses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: How far the entries of a distribution may sum from 1.
DISTRIBUTION_TOLERANCE = 1e-6


class NotADistributionError(ValueError):
    """A probability vector with a negative entry or entries that do not sum to 1."""


class TableShapeError(ValueError):
    """A table whose shape does not match the names that index it (or a ragged / non-numeric one)."""


class InfeasibleConstraintError(ValueError):
    """Constraints that no solution satisfies; the message names them.

    Attributes:
        constraints: the names of the constraints found infeasible (alone or together).
    """

    def __init__(self, message: str, constraints: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.constraints = tuple(constraints)


def names(value: Sequence[str], what: str) -> tuple[str, ...]:
    """``value`` as a tuple of distinct non-empty strings (at least one), or a ``TableShapeError`` naming ``what``."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TableShapeError(f"{what} must be a list of names, got {type(value).__name__}: {value!r:.80}")
    result = tuple(value)
    if not result:
        raise TableShapeError(f"{what} is empty; give at least one name")
    for item in result:
        if not isinstance(item, str) or not item:
            raise TableShapeError(f"{what} must hold non-empty strings, got {item!r}")
    duplicates = sorted({item for item in result if result.count(item) > 1})
    if duplicates:
        raise TableShapeError(f"{what} must be distinct; repeated: {duplicates}")
    return result


def table(value, name: str, shape: tuple[int, ...] | None, axes: str) -> np.ndarray:
    """``value`` as a finite float64 array of exactly ``shape`` (any shape for ``None``), or a ``TableShapeError``.

    Args:
        value: nested lists or an array of real numbers.
        name: the table's name for the message (``"sender_utility"``).
        shape: the required shape.
        axes: what the axes are, for the message (``"[state][action]"``).
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        rows = ""
        if isinstance(value, Sequence) and all(isinstance(row, Sequence) for row in value):
            rows = f" (rows of lengths {[len(row) for row in value]})"
        raise TableShapeError(f"{name} must be a table of real numbers indexed {axes} with shape {shape}; "
                              f"it is ragged or not numeric{rows}: {error}") from None
    if shape is not None and array.shape != shape:
        raise TableShapeError(f"{name} is indexed {axes} and must have shape {shape}, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise TableShapeError(f"{name} must be finite; entry {first} is {array[first]}")
    return array


def distribution(value, name: str, size: int | None = None, *, tolerance: float = DISTRIBUTION_TOLERANCE) -> np.ndarray:
    """``value`` as a probability vector (non-negative, summing to 1 within ``tolerance``, then renormalised).

    Raises ``TableShapeError`` for a wrong length and ``NotADistributionError`` for a negative entry or a
    sum other than 1.
    """
    array = table(value, name, (size,) if size is not None else None, "[outcome]")
    if array.ndim != 1 or array.size == 0:
        raise TableShapeError(f"{name} must be a non-empty vector of probabilities, got shape {array.shape}")
    if (array < 0).any():
        index = int(np.flatnonzero(array < 0)[0])
        raise NotADistributionError(f"{name} is not a probability distribution: entry {index} is {array[index]} < 0")
    total = float(array.sum())
    if abs(total - 1.0) > tolerance:
        raise NotADistributionError(f"{name} is not a probability distribution: its entries sum to {total:.6g}, "
                                    f"not 1 (tolerance {tolerance})")
    return array / total
