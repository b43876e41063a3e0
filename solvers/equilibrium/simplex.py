"""Shared math on probability vectors: the magnetic mirror step and its relatives.

Every iterative solver in this package updates mixed strategies with one of these pure functions,
so MMD, mirror descent, MPO and Nash-MD differ only in their drivers (which magnet, which step,
when the magnet moves), not in copies of the update. All functions work on the last axis and
broadcast over leading axes, so a batch of games is one array.

- :func:`mirror_step`: ``pi' ∝ [pi * rho^(eta*alpha) * exp(eta*q)]^(1/(1+eta*alpha))``, the closed
  form of ``argmax_p <eta*q, p> - eta*alpha*KL(p||rho) - KL(p||pi)`` (Sokota et al. 2022, eq. 4 with
  the negative-entropy mirror map). ``alpha = 0`` is plain mirror descent (Hedge).
- :func:`geometric_mixture`: ``pi^(1-w) * mu^w`` normalised (Nash-MD's regularised policy).
- :func:`project_onto_simplex`: Euclidean projection onto ``{x : x_i >= floor, sum x = 1}``
  (projected replicator dynamics).
"""

from __future__ import annotations

import numpy as np

from aligngames.solvers.inputs import strategy_array

#: Probabilities are kept at or above this floor before taking logs ("clip at a tiny floor and
#: renormalise"), so an action whose probability underflows can still come back.
PROBABILITY_FLOOR = 1e-300


def uniform(size: int, batch_shape: tuple[int, ...] = ()) -> np.ndarray:
    """The uniform distribution over ``size`` actions, shape ``(*batch_shape, size)``."""
    return np.full((*batch_shape, size), 1.0 / size)


def check_distribution(policy, size: int, name: str) -> np.ndarray:
    """``policy`` as a float64 probability vector over ``size`` actions, or a ``ValueError`` naming it."""
    array = strategy_array(policy, size, name)
    if np.any(array < 0) or not np.allclose(array.sum(axis=-1), 1.0, atol=1e-8):
        raise ValueError(f"{name} must be a probability vector (non-negative, summing to 1)")
    return array


def normalize_log(log_weights: np.ndarray) -> np.ndarray:
    """``softmax`` of unnormalised log-weights on the last axis, floored at :data:`PROBABILITY_FLOOR`."""
    probabilities = np.exp(log_weights - log_weights.max(axis=-1, keepdims=True))  # largest weight is 1
    probabilities = np.maximum(probabilities / probabilities.sum(axis=-1, keepdims=True), PROBABILITY_FLOOR)
    return probabilities / probabilities.sum(axis=-1, keepdims=True)


def safe_log(policy: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(policy, PROBABILITY_FLOOR))


def mirror_step(policy: np.ndarray, action_values: np.ndarray, *, eta: float, alpha: float = 0.0,
                magnet: np.ndarray | None = None) -> np.ndarray:
    """One magnetic mirror descent step (ascent on ``action_values``).

    ``pi'(a) ∝ [pi(a) * rho(a)^(eta*alpha) * exp(eta * q(a))]^(1 / (1 + eta*alpha))``, computed in
    log space. With ``alpha = 0`` (or ``magnet=None`` and ``alpha = 0``) it is Hedge / mirror ascent.

    Args:
        policy: current policy ``pi``, shape ``(..., n)``.
        action_values: ``q``, the value of each action against the opponent's current policy, ``(..., n)``.
        eta: step size.
        alpha: weight of the KL regulariser toward ``magnet``.
        magnet: ``rho``, shape ``(..., n)`` or ``(n,)``; uniform when ``None``.
    """
    if not eta > 0:  # `not >` also refuses NaN
        raise ValueError(f"eta must be > 0, got {eta}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    log_weights = safe_log(policy) + eta * action_values
    if alpha > 0 and magnet is not None:
        log_weights = log_weights + eta * alpha * safe_log(magnet)
    # a uniform magnet adds a constant to every log-weight: it cancels in the normalisation
    return normalize_log(log_weights / (1.0 + eta * alpha))


def geometric_mixture(policy: np.ndarray, magnet: np.ndarray, weight: float) -> np.ndarray:
    """``pi^(1 - weight) * mu^weight``, normalised (Nash-MD's regularised policy, ``weight = eta*tau``)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the mixture weight must lie in [0, 1], got {weight}")
    return normalize_log((1.0 - weight) * safe_log(policy) + weight * safe_log(magnet))


def project_onto_simplex(vector: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Euclidean projection of ``vector`` (last axis) onto ``{x : x_i >= floor, sum_i x_i = 1}``.

    Sort-based algorithm (Held, Wolfe and Crowder 1974; Duchi et al. 2008), shifted by ``floor``.
    """
    vector = np.asarray(vector, dtype=np.float64)
    size = vector.shape[-1]
    if floor * size > 1.0:
        raise ValueError(f"floor {floor} is too large for {size} actions")
    mass = 1.0 - floor * size
    shifted = vector - floor
    ordered = -np.sort(-shifted, axis=-1)  # descending
    cumulative = np.cumsum(ordered, axis=-1) - mass
    ranks = np.arange(1, size + 1)
    support = ordered - cumulative / ranks > 0
    count = size - np.argmax(support[..., ::-1], axis=-1)  # the last index where support holds, + 1
    threshold = np.take_along_axis(cumulative, (count - 1)[..., None], axis=-1) / count[..., None]
    return np.maximum(shifted - threshold, 0.0) + floor


class RunningAverage:
    """The uniform average of the iterates added so far (``average_t = mean(pi_1..pi_t)``)."""

    def __init__(self) -> None:
        self.value: np.ndarray | None = None
        self.count = 0

    def add(self, iterate: np.ndarray) -> np.ndarray:
        self.count += 1
        if self.value is None:
            self.value = np.array(iterate, dtype=np.float64)
        else:
            self.value += (iterate - self.value) / self.count
        return self.value
