"""Named errors for the arrays the solvers take (payoffs, preferences, strategies, counts, utilities).

Every solver entry point reads its array arguments through :func:`float_array`, so a wrong input
fails at the entry with a ``ValueError`` that names the argument, says what it got (its shape, the
ragged rows, the first NaN) and what was expected, instead of a numpy error from deep inside the math.
"""

from __future__ import annotations

from collections.abc import Sized

import numpy as np


def float_array(value, name: str, expected: str, *, ndim: int | None = None, hint: str = "") -> np.ndarray:
    """``value`` as a non-empty, finite float64 array, or a ``ValueError`` naming ``name``.

    Args:
        value: array-like of real numbers (bool, int, float, Fraction, ...); strings and complex
            numbers are refused, not parsed.
        name: the argument's name, as the caller's signature spells it (``"payoffs"``, ``"row"``).
        expected: what the argument should be, for the message (``"a payoff matrix (m, n)"``).
        ndim: the required number of axes, if one.
        hint: appended to the message about NaN / inf entries (where they usually come from).
    """
    if value is None:
        raise ValueError(f"{name} is None; expected {expected}")
    try:
        raw = np.asarray(value)
    except ValueError as error:  # numpy refuses nested sequences of different lengths
        raise ValueError(f"{name} is ragged{_row_lengths(value)}; expected {expected}") from error
    if raw.dtype.kind not in "biufO":  # bool, int, unsigned, float, object (Fraction, Decimal)
        kind = {"U": "text", "S": "bytes", "c": "complex numbers"}.get(raw.dtype.kind, f"dtype {raw.dtype}")
        raise ValueError(f"{name} must hold real numbers, got {kind} (shape {raw.shape}); expected {expected}")
    try:
        array = raw.astype(np.float64)
    except (TypeError, ValueError) as error:  # an object array with a non-number in it
        raise ValueError(f"{name} must hold real numbers ({error}); expected {expected}") from None
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); expected {expected} with at least one entry")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {expected}, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite: {int(bad.sum())} of its {array.size} entries are NaN or inf "
                         f"(the first, at index {first}, is {array[first]}){hint}")
    return array


def strategy_array(value, size: int, name: str) -> np.ndarray:
    """``value`` as a finite float64 array whose last axis has ``size`` entries (one per action)."""
    array = float_array(value, name, f"a strategy over {size} actions")
    if array.ndim == 0 or array.shape[-1] != size:
        raise ValueError(f"{name} must have {size} entries (one per action) on its last axis, got shape {array.shape}")
    return array


def _row_lengths(value) -> str:
    """`` (rows of lengths [3, 2])`` for a sequence of sized rows, else an empty string."""
    if isinstance(value, Sized) and all(isinstance(row, Sized) for row in value):
        return f" (rows of lengths {[len(row) for row in value]})"
    return ""


def check_settings(*checks: tuple[str, float, bool, str]) -> None:
    """Raise one ``ValueError`` naming every setting that fails its check.

    Each check is ``(name, value, ok, requirement)``, e.g. ``("eta", eta, eta > 0, "> 0")``; the message reads
    ``iterations must be >= 1, got -5; eta must be > 0, got -1``.
    """
    failed = [f"{name} must be {requirement}, got {value!r}" for name, value, ok, requirement in checks if not ok]
    if failed:
        raise ValueError("; ".join(failed))
