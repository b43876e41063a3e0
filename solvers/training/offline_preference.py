"""Offline preference optimisation solved exactly on the tabular preference game: DPO, IPO, EXO, DPO-RW, EXO-RW.

The setting: for each prompt, ``n`` answers, a reference policy ``pi_ref`` (a distribution over them, positive
everywhere), true rewards ``r`` and a KL coefficient ``beta > 0``. The KL-regularised objective
``max_pi E_pi[r] - beta KL(pi || pi_ref)`` is maximised by the energy-based policy (Rafailov et al. 2023, Eq. 4)::

    pi*(y) = pi_ref(y) exp(r(y) / beta) / Z.

Every loss below is the *expected* loss under its data distribution, computed exactly (no sampling), as a
function of the policy's logits; ``h(y) = log pi_theta(y) - log pi_ref(y)`` is the log-ratio ("implicit
reward / beta"), ``sigma`` the logistic function.

Pairwise losses (pairs ``(y1, y2) ~ pi_ref x pi_ref``, every ordered pair including ``y1 = y2``, the label
"``y1`` wins" drawn with the Bradley-Terry probability ``p12 = sigma(r(y1) - r(y2))``):

- ``dpo`` (Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is Secretly a Reward
  Model", Eq. 7): ``-log sigma(beta (h(y_w) - h(y_l)))``; in expectation
  ``E[-p12 log sigma(beta d) - p21 log sigma(-beta d)]`` with ``d = h(y1) - h(y2)``. Fixed point of the
  categorical family: ``beta d = r(y1) - r(y2)`` on every pair, i.e. ``pi = pi*``.
- ``ipo`` (Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human Preferences",
  the sampled IPO loss, their ``tau`` = ``beta``): ``(h(y_w) - h(y_l) - 1 / (2 beta))^2``; in expectation
  ``E[p12 (d - c)^2 + p21 (d + c)^2]``, ``c = 1 / (2 beta)``. Its fixed point is *not* ``pi*``: setting the
  gradient of the categorical logits to zero gives ``h(y) = P(y > pi_ref) / beta + const`` with
  ``P(y > pi_ref) = E_{y'~pi_ref} sigma(r(y) - r(y'))``, i.e. ``pi_IPO ∝ pi_ref exp(P(y > pi_ref) / beta)``
  (Azar et al.'s Psi-PO objective with Psi = identity; :func:`ipo_fixed_point`).
- ``exo`` (Ji et al. 2024, "Towards Efficient Exact Optimization of Language Model Alignment", ICML; the
  K = 2 case): the reverse KL between the model's pair distribution ``(sigma(beta d), sigma(-beta d))``
  and a target over the pair. ``labels="soft"`` (this module's exact-expectation form, the K = 2 case of
  EXO-RW with ``beta_r = 1``): the target is the preference probability itself, ``(p12, p21)``, and
  ``KL(model || target)`` vanishes iff ``beta d = r(y1) - r(y2)``: fixed point ``pi*``.
  ``labels="hard"`` is the paper's EXO-pref: the target is the sampled label smoothed to ``(1 - eps, eps)``
  (the authors' code uses ``log eps = -10``); in expectation over the label its fixed point solves
  ``beta d = (2 p12 - 1) log((1 - eps) / eps)`` on every pair, which the categorical family meets exactly
  only for ``n = 2`` (for ``n >= 3``, ``tanh((r1 - r2) / 2)`` is not a difference of one function).

K-sample losses (Ji et al. 2024, EXO and DPO-RW; K answers ``y_1..y_K ~ pi_ref`` i.i.d., with
``beta_r = beta / beta_pi`` so that every fixed point is ``pi*``; the paper's ``(beta_r, beta_pi)``)::

    target  q_i = softmax_i(r(y_i) / beta_r)                      (over the K samples)
    model   m_i = softmax_i(beta_pi (log pi_theta(y_i) - log pi_ref(y_i)))
    exo_rw  = E_{y_1..K} KL(m || q)        (reverse KL: EXO)
    dpo_rw  = E_{y_1..K} KL(q || m)        (forward KL: the paper's DPO-RW cross-entropy -sum q log m
                                            minus the target's entropy, a constant)

Both vanish on every K-tuple iff ``beta_pi h = r / beta_r + const``, i.e. ``pi = pi*``. The expectation is
exact: the loss of a tuple depends only on its multiset, so it is a sum over the ``C(n + K - 1, K)`` multisets
weighted by their multinomial probabilities under ``pi_ref``. ``k=None`` is the ``K -> infinity`` limit
(Ji et al. 2024's asymptotic analysis): the sample softmaxes tend to ``pi_ref exp(r / beta_r) / Z`` and
``pi_ref (pi_theta / pi_ref)^beta_pi / Z``, so with ``beta_pi = 1`` (``beta_r = beta``) exo_rw becomes exactly
the reverse KL ``KL(pi_theta || pi*)`` (mode-seeking, as RLHF) and dpo_rw the forward KL
``KL(pi* || pi_theta)`` (mean-seeking). For small K the picture can fail: on the bimodal example of the
tests, EXO-RW with K = 2 or 3 samples from a uniform ``pi_ref`` fits a spread Gaussian like DPO-RW's.

Policy families (``fit``): ``categorical`` (free logits, one per answer: every loss reaches its fixed point)
and ``gaussian`` (a discretised Gaussian over ordered answers at positions ``0..n-1``, parameters ``mean``
and ``log_std``: when ``pi*`` is bimodal the reverse-KL fit sits on one mode, the forward-KL fit spreads over
both) and ``low_rank`` (logits in a ``rank``-dimensional cosine basis over ordered answers,
``logit(y) = sum_k w_k cos(pi k (y + 1/2) / n)``, ``k = 1..rank``: a log-linear family whose rank ``n - 1`` is
the full categorical family, since with the constant the ``n`` cosines span every logit vector).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, gammaln, log_expit, log_softmax

#: The authors' label smoothing for EXO-pref (``log eps = -10`` in haozheji/exact-optimization's loss).
EXO_EPSILON = math.exp(-10.0)
#: The most multisets a K-sample loss enumerates (``C(n + K - 1, K)``); beyond it use ``k=None``.
MAX_MULTISETS = 200_000
LABELS = ("soft", "hard")

_PerPrompt = tuple[np.ndarray, np.ndarray]     # (value per prompt (P,), gradient wrt logits (P, n))


# --- validation ---------------------------------------------------------------------------------------

def _positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _problem(pi_ref: Any, rewards: Any, beta: float) -> tuple[np.ndarray, np.ndarray, float]:
    """``pi_ref`` and ``rewards`` as 2-D float arrays (prompts x answers), checked; ``beta`` checked."""
    beta = _positive(beta, "beta")
    pi_ref = np.asarray(pi_ref, dtype=float)
    rewards = np.asarray(rewards, dtype=float)
    if pi_ref.ndim not in (1, 2) or pi_ref.shape[-1] < 2:
        raise ValueError(f"pi_ref must be a vector of n >= 2 probabilities (or prompts x n), got shape {pi_ref.shape}")
    if rewards.shape != pi_ref.shape:
        raise ValueError(f"rewards must have pi_ref's shape {pi_ref.shape}, got {rewards.shape}")
    if not np.all(np.isfinite(pi_ref)) or np.any(pi_ref < 0) or not np.allclose(pi_ref.sum(-1), 1.0, atol=1e-9):
        raise ValueError("pi_ref must be a distribution over the answers: finite, >= 0, summing to 1")
    if np.any(pi_ref == 0):
        raise ValueError("pi_ref must be positive on every answer: the losses use log pi_ref (drop the "
                         "answers it never samples)")
    if not np.all(np.isfinite(rewards)):
        raise ValueError("rewards must be finite")
    return np.atleast_2d(pi_ref), np.atleast_2d(rewards), beta


def _logits(logits: Any, shape: tuple[int, int]) -> np.ndarray:
    logits = np.atleast_2d(np.asarray(logits, dtype=float))
    if logits.shape != shape:
        raise ValueError(f"logits must have pi_ref's shape {shape}, got {logits.shape}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits must be finite")
    return logits


def _k(k: int | None, n: int) -> int | None:
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2 (samples per prompt) or None (the K -> infinity limit), got {k!r}")
    if math.comb(n + int(k) - 1, int(k)) > MAX_MULTISETS:
        raise ValueError(f"k={k} with n={n} answers has C(n+k-1, k) = {math.comb(n + int(k) - 1, int(k))} "
                         f"multisets (> {MAX_MULTISETS}); use a smaller k or k=None")
    return int(k)


# --- shared pieces ------------------------------------------------------------------------------------

def optimal_policy(pi_ref: Any, rewards: Any, beta: float) -> np.ndarray:
    """``pi*(y) = pi_ref(y) exp(r(y) / beta) / Z``, the maximiser of ``E_pi[r] - beta KL(pi || pi_ref)``."""
    pi_ref2, rewards2, beta = _problem(pi_ref, rewards, beta)
    out = np.exp(log_softmax(np.log(pi_ref2) + rewards2 / beta, axis=-1))
    return out.reshape(np.shape(pi_ref))


def ipo_fixed_point(pi_ref: Any, rewards: Any, beta: float) -> np.ndarray:
    """IPO's minimiser over all policies: ``pi ∝ pi_ref exp(P(y > pi_ref) / beta)``, where
    ``P(y > pi_ref) = sum_y' pi_ref(y') sigma(r(y) - r(y'))`` (Azar et al. 2023, Psi-PO with Psi = identity)."""
    pi_ref2, rewards2, beta = _problem(pi_ref, rewards, beta)
    win = np.einsum("pij,pj->pi", expit(rewards2[:, :, None] - rewards2[:, None, :]), pi_ref2)
    out = np.exp(log_softmax(np.log(pi_ref2) + win / beta, axis=-1))
    return out.reshape(np.shape(pi_ref))


def kl(p: Any, q: Any) -> float:
    """``KL(p || q) = sum p log(p / q)`` (``0 log 0 = 0``); averaged over rows for 2-D inputs."""
    p, q = np.atleast_2d(np.asarray(p, dtype=float)), np.atleast_2d(np.asarray(q, dtype=float))
    terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(np.where(p > 0, q, 1.0))), 0.0)
    return float(terms.sum(-1).mean())


def _softmax_backward(grad_log_pi: np.ndarray, log_pi: np.ndarray) -> np.ndarray:
    """Chain rule through ``log_pi = logits - logsumexp(logits)``: ``g - pi sum(g)``."""
    return grad_log_pi - np.exp(log_pi) * grad_log_pi.sum(-1, keepdims=True)


# --- pairwise losses ----------------------------------------------------------------------------------

def _pairwise(logits: np.ndarray, pi_ref: np.ndarray, rewards: np.ndarray | None,
              terms: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
              label_logits: np.ndarray | None = None) -> _PerPrompt:
    """``L = sum_{i,j} pi_ref(i) pi_ref(j) phi_ij(h_i - h_j)``; ``terms(d, dr)`` gives ``phi`` and ``phi'``.

    ``dr[i, j]`` is the log-odds of the label ``P(i > j)``: ``r_i - r_j`` under Bradley-Terry, or, for any
    preference matrix (a cyclic population's), ``label_logits = logit(P)`` given directly.
    """
    log_pi = log_softmax(logits, axis=-1)
    h = log_pi - np.log(pi_ref)
    d = h[:, :, None] - h[:, None, :]
    dr = label_logits if label_logits is not None else rewards[:, :, None] - rewards[:, None, :]
    w = pi_ref[:, :, None] * pi_ref[:, None, :]
    phi, dphi = terms(d, dr)
    slope = w * dphi
    grad_h = slope.sum(2) - slope.sum(1)
    return (w * phi).sum((1, 2)), _softmax_backward(grad_h, log_pi)


def _dpo_terms(beta: float) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    def terms(d: np.ndarray, dr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = expit(dr)
        phi = -p * log_expit(beta * d) - (1 - p) * log_expit(-beta * d)
        return phi, beta * (expit(beta * d) - p)
    return terms


def _ipo_terms(beta: float) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    c = 1.0 / (2.0 * beta)

    def terms(d: np.ndarray, dr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = expit(dr)
        return p * (d - c) ** 2 + (1 - p) * (d + c) ** 2, 2.0 * (d - c * (2 * p - 1))
    return terms


def _exo_terms(beta: float, labels: str, epsilon: float) -> Callable[[np.ndarray, np.ndarray],
                                                                      tuple[np.ndarray, np.ndarray]]:
    def terms(d: np.ndarray, dr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_s, log_1s = log_expit(beta * d), log_expit(-beta * d)
        s = np.exp(log_s)
        entropy_part = s * log_s + (1 - s) * log_1s
        if labels == "soft":
            # target (p12, p21): its log-odds is dr itself
            phi = entropy_part - s * log_expit(dr) - (1 - s) * log_expit(-dr)
            target_logit = dr
        else:
            # E over the label of KL(model || (1-eps, eps) on the winner): a linear function of the label
            p = expit(dr)
            log_win, log_lose = math.log1p(-epsilon), math.log(epsilon)
            phi = entropy_part - s * (p * log_win + (1 - p) * log_lose) - (1 - s) * (p * log_lose + (1 - p) * log_win)
            target_logit = (2 * p - 1) * (log_win - log_lose)
        return phi, beta * s * (1 - s) * (beta * d - target_logit)
    return terms


def _dpo(logits: np.ndarray, pi_ref: np.ndarray, rewards: np.ndarray, beta: float) -> _PerPrompt:
    return _pairwise(logits, pi_ref, rewards, _dpo_terms(beta))


def _ipo(logits: np.ndarray, pi_ref: np.ndarray, rewards: np.ndarray, beta: float) -> _PerPrompt:
    return _pairwise(logits, pi_ref, rewards, _ipo_terms(beta))


def _exo(logits: np.ndarray, pi_ref: np.ndarray, rewards: np.ndarray, beta: float, *,
         labels: str = "soft", epsilon: float = EXO_EPSILON) -> _PerPrompt:
    if labels not in LABELS:
        raise ValueError(f"labels must be one of {', '.join(LABELS)}, got {labels!r}")
    if not (isinstance(epsilon, (int, float)) and 0 < epsilon < 0.5):
        raise ValueError(f"epsilon must be in (0, 0.5), got {epsilon!r}")
    return _pairwise(logits, pi_ref, rewards, _exo_terms(beta, labels, float(epsilon)))


# --- K-sample losses ----------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _multisets(n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The multisets of size ``k`` from ``n`` answers: indices (T, k), counts (T, n), log multinomial
    coefficients (T,). Read-only (cached)."""
    index = np.array(list(itertools.combinations_with_replacement(range(n), k)), dtype=np.intp)
    counts = np.zeros((len(index), n))
    np.add.at(counts, (np.arange(len(index))[:, None], index), 1.0)
    log_coefficient = gammaln(k + 1.0) - gammaln(counts + 1.0).sum(1)
    for array in (index, counts, log_coefficient):
        array.setflags(write=False)
    return index, counts, log_coefficient


def _kl_and_grad(log_m: np.ndarray, log_q: np.ndarray, direction: str) -> tuple[np.ndarray, np.ndarray]:
    """KL over the last axis and its gradient wrt the model's logits (``m = softmax(a)``)."""
    m = np.exp(log_m)
    if direction == "forward":                       # KL(q || m)
        q = np.exp(log_q)
        return (q * (log_q - log_m)).sum(-1), m - q
    ratio = log_m - log_q                              # KL(m || q)
    value = (m * ratio).sum(-1)
    return value, m * (ratio - value[..., None])


def _k_sample(logits: np.ndarray, pi_ref: np.ndarray, rewards: np.ndarray, beta: float, k: int | None,
              beta_pi: float, direction: str) -> _PerPrompt:
    beta_pi = _positive(beta_pi, "beta_pi")
    k = _k(k, pi_ref.shape[-1])
    beta_r = beta / beta_pi
    log_pi = log_softmax(logits, axis=-1)
    log_ref = np.log(pi_ref)
    h = log_pi - log_ref
    if k is None:                                      # the K -> infinity limit
        log_m = log_softmax(log_ref + beta_pi * h, axis=-1)
        log_q = log_softmax(log_ref + rewards / beta_r, axis=-1)
        value, grad_a = _kl_and_grad(log_m, log_q, direction)
        return value, _softmax_backward(beta_pi * grad_a, log_pi)
    index, counts, log_coefficient = _multisets(pi_ref.shape[-1], k)
    log_m = log_softmax(beta_pi * h[:, index], axis=-1)                 # (P, T, K)
    log_q = log_softmax(rewards[:, index] / beta_r, axis=-1)
    per_tuple, grad_a = _kl_and_grad(log_m, log_q, direction)
    weight = np.exp(log_coefficient + log_ref @ counts.T)               # (P, T) multinomial probabilities
    grad_h = np.zeros_like(h)
    rows = np.arange(len(h))[:, None, None]
    np.add.at(grad_h, (rows, index[None]), weight[:, :, None] * grad_a)
    return (weight * per_tuple).sum(1), _softmax_backward(beta_pi * grad_h, log_pi)


def _dpo_rw(logits: np.ndarray, pi_ref: np.ndarray, rewards: np.ndarray, beta: float, *, k: int | None = 2,
            beta_pi: float = 1.0) -> _PerPrompt:
    return _k_sample(logits, pi_ref, rewards, beta, k, beta_pi, "forward")


def _exo_rw(logits: np.ndarray, pi_ref: np.ndarray, rewards: np.ndarray, beta: float, *, k: int | None = 2,
            beta_pi: float = 1.0) -> _PerPrompt:
    return _k_sample(logits, pi_ref, rewards, beta, k, beta_pi, "reverse")


# --- the public losses --------------------------------------------------------------------------------

_PER_PROMPT: dict[str, Callable[..., _PerPrompt]] = {
    "dpo": _dpo, "ipo": _ipo, "exo": _exo, "dpo_rw": _dpo_rw, "exo_rw": _exo_rw,
}
#: The settings each loss takes (keyword arguments besides logits, pi_ref, rewards, beta), with their defaults.
LOSS_SETTINGS: dict[str, dict[str, Any]] = {
    "dpo": {}, "ipo": {}, "exo": {"labels": "soft", "epsilon": EXO_EPSILON},
    "dpo_rw": {"k": 2, "beta_pi": 1.0}, "exo_rw": {"k": 2, "beta_pi": 1.0},
}
LOSSES = tuple(_PER_PROMPT)


def _loss_name(name: str) -> str:
    if name not in _PER_PROMPT:
        raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    return name


def _settings(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(settings) - set(LOSS_SETTINGS[name]))
    if unknown:
        valid = ", ".join(LOSS_SETTINGS[name]) or "none"
        raise ValueError(f"unknown settings {unknown} for loss {name!r}; its settings: {valid}")
    return {**LOSS_SETTINGS[name], **settings}


def _evaluate(name: str, logits: Any, pi_ref: Any, rewards: Any, beta: float,
              settings: Mapping[str, Any]) -> tuple[float, np.ndarray]:
    """The public form: the mean over prompts and the gradient wrt ``logits`` (in ``logits``' shape)."""
    name = _loss_name(name)
    pi_ref2, rewards2, beta = _problem(pi_ref, rewards, beta)
    logits2 = _logits(logits, pi_ref2.shape)
    value, grad = _PER_PROMPT[name](logits2, pi_ref2, rewards2, beta, **_settings(name, settings))
    return float(value.mean()), (grad / len(value)).reshape(np.shape(pi_ref))


def loss(name: str, logits: Any, pi_ref: Any, rewards: Any, beta: float, **settings: Any) -> tuple[float, np.ndarray]:
    """Any loss by name (one of :data:`LOSSES`): ``(expected loss, gradient wrt logits)``."""
    return _evaluate(name, logits, pi_ref, rewards, beta, settings)


def dpo_loss(logits: Any, pi_ref: Any, rewards: Any, beta: float) -> tuple[float, np.ndarray]:
    """Expected DPO loss (Rafailov et al. 2023, Eq. 7) on Bradley-Terry pairs from ``pi_ref x pi_ref``::

        L = sum_{i,j} pi_ref(i) pi_ref(j) [-p_ij log sigma(beta d_ij) - p_ji log sigma(-beta d_ij)],
        d_ij = h_i - h_j,  h = log softmax(logits) - log pi_ref,  p_ij = sigma(r_i - r_j).

    Returns ``(L, dL/dlogits)``; 1-D inputs are one prompt, 2-D inputs prompts x answers (mean over prompts).
    """
    return _evaluate("dpo", logits, pi_ref, rewards, beta, {})


def ipo_loss(logits: Any, pi_ref: Any, rewards: Any, beta: float) -> tuple[float, np.ndarray]:
    """Expected IPO loss (Azar et al. 2023, the sampled IPO loss with ``tau = beta``)::

        L = sum_{i,j} pi_ref(i) pi_ref(j) [p_ij (d_ij - 1/(2 beta))^2 + p_ji (d_ij + 1/(2 beta))^2].

    Fixed point: :func:`ipo_fixed_point`, not ``pi*``.
    """
    return _evaluate("ipo", logits, pi_ref, rewards, beta, {})


def exo_loss(logits: Any, pi_ref: Any, rewards: Any, beta: float, *, labels: str = "soft",
             epsilon: float = EXO_EPSILON) -> tuple[float, np.ndarray]:
    """Expected pairwise EXO loss (Ji et al. 2024, K = 2), with ``s_ij = sigma(beta d_ij)``::

        labels="soft":  L = sum_{i,j} pi_ref(i) pi_ref(j) KL((s_ij, s_ji) || (p_ij, p_ji))
        labels="hard":  L = sum_{i,j} pi_ref(i) pi_ref(j) [p_ij KL((s_ij, s_ji) || (1-eps, eps))
                                                           + p_ji KL((s_ij, s_ji) || (eps, 1-eps))]

    (EXO-pref, the label smoothed by ``epsilon``). Soft labels reach ``pi*``; hard ones solve
    ``beta d_ij = (2 p_ij - 1) log((1 - eps) / eps)`` where the family allows it.
    """
    return _evaluate("exo", logits, pi_ref, rewards, beta, {"labels": labels, "epsilon": epsilon})


def dpo_rw_loss(logits: Any, pi_ref: Any, rewards: Any, beta: float, *, k: int | None = 2,
                beta_pi: float = 1.0) -> tuple[float, np.ndarray]:
    """Expected DPO-RW loss (Ji et al. 2024, the K-sample DPO on reward-weighted targets), as a KL::

        L = E_{y_1..y_K ~ pi_ref} KL(softmax(r(y) / beta_r) || softmax(beta_pi h(y))),  beta_r = beta / beta_pi.

    It differs from the paper's cross-entropy by the target's entropy, a constant. ``k=None``: the limit
    ``KL(pi* || pi_ref^(1-beta_pi) pi^beta_pi / Z)``, the forward KL for ``beta_pi = 1``.
    """
    return _evaluate("dpo_rw", logits, pi_ref, rewards, beta, {"k": k, "beta_pi": beta_pi})


def exo_rw_loss(logits: Any, pi_ref: Any, rewards: Any, beta: float, *, k: int | None = 2,
                beta_pi: float = 1.0) -> tuple[float, np.ndarray]:
    """Expected EXO-RW loss (Ji et al. 2024, EXO with reward-model supervision)::

        L = E_{y_1..y_K ~ pi_ref} KL(softmax(beta_pi h(y)) || softmax(r(y) / beta_r)),  beta_r = beta / beta_pi.

    ``k=None``: the limit ``KL(pi_ref^(1-beta_pi) pi^beta_pi / Z || pi*)``, the reverse KL for ``beta_pi = 1``.
    """
    return _evaluate("exo_rw", logits, pi_ref, rewards, beta, {"k": k, "beta_pi": beta_pi})


# --- policy families ----------------------------------------------------------------------------------

def gaussian_logits(parameters: Any, n: int) -> np.ndarray:
    """Logits of the discretised Gaussian over positions ``0..n-1``: ``-(x - mean)^2 / (2 std^2)``,
    ``parameters = (mean, log_std)``; rows of a 2-D ``parameters`` are separate policies."""
    parameters = np.asarray(parameters, dtype=float)
    x = np.arange(n, dtype=float)
    mean, log_std = parameters[..., 0:1], parameters[..., 1:2]
    return -((x - mean) ** 2) * np.exp(-2.0 * log_std) / 2.0


def _gaussian_backward(parameters: np.ndarray, n: int, grad_logits: np.ndarray) -> np.ndarray:
    x = np.arange(n, dtype=float)
    mean, log_std = parameters
    z = (x - mean) * math.exp(-2.0 * log_std)
    return np.array([(grad_logits * z).sum(), (grad_logits * z * (x - mean)).sum()])


@dataclass(frozen=True)
class _Family:
    logits: Callable[[np.ndarray, int], np.ndarray]
    backward: Callable[[np.ndarray, int, np.ndarray], np.ndarray]


def cosine_basis(n: int, rank: int) -> np.ndarray:
    """The ``(n, rank)`` basis of the low-rank family: column ``k - 1`` is ``cos(pi k (y + 1/2) / n)`` over
    answers ``y = 0..n-1`` (the DCT-II rows without the constant, which softmax ignores)."""
    y = np.arange(n, dtype=float)
    return np.cos(np.pi * np.arange(1, rank + 1)[None, :] * (y[:, None] + 0.5) / n)


def low_rank_logits(parameters: Any, n: int) -> np.ndarray:
    """Logits of the low-rank family: ``cosine_basis(n, rank) @ w`` with ``rank = len(w)``."""
    parameters = np.asarray(parameters, dtype=float)
    return parameters @ cosine_basis(n, parameters.shape[-1]).T


FAMILIES: dict[str, _Family] = {
    "categorical": _Family(lambda theta, n: np.asarray(theta, dtype=float), lambda theta, n, g: g),
    "gaussian": _Family(gaussian_logits, _gaussian_backward),
    "low_rank": _Family(low_rank_logits, lambda theta, n, g: cosine_basis(n, len(theta)).T @ g),
}


def _family(name: str) -> _Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; valid families: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def grid_search(loss_name: str, pi_ref: Any, rewards: Any, beta: float, means: Any, log_stds: Any,
                **settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """Brute force over the gaussian family (one prompt): the loss table ``(len(means), len(log_stds))`` and
    the best ``(mean, log_std)`` on the grid."""
    name = _loss_name(loss_name)
    pi_ref2, rewards2, beta = _problem(pi_ref, rewards, beta)
    if len(pi_ref2) != 1:
        raise ValueError(f"grid_search takes one prompt: pi_ref must be 1-D, got shape {np.shape(pi_ref)}")
    settings = _settings(name, settings)
    means, log_stds = np.asarray(means, dtype=float), np.asarray(log_stds, dtype=float)
    points = np.stack(np.meshgrid(means, log_stds, indexing="ij"), axis=-1).reshape(-1, 2)
    values = np.empty(len(points))
    n = pi_ref2.shape[-1]
    for start in range(0, len(points), 256):
        chunk = points[start:start + 256]
        tiled = np.repeat(pi_ref2, len(chunk), 0), np.repeat(rewards2, len(chunk), 0)
        values[start:start + 256] = _PER_PROMPT[name](gaussian_logits(chunk, n), *tiled, beta, **settings)[0]
    table = values.reshape(len(means), len(log_stds))
    return table, points[int(np.argmin(values))]


# --- fitting ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FitResult:
    """A fitted policy: ``policy`` (the distribution over answers, prompts x answers for 2-D inputs), the
    family's ``parameters``, the expected ``loss`` at the fit, ``optimum`` = ``pi*``, ``forward_kl`` =
    ``KL(pi* || policy)`` and ``reverse_kl`` = ``KL(policy || pi*)`` (means over prompts)."""

    loss_name: str
    family: str
    beta: float
    settings: dict[str, Any]
    policy: np.ndarray
    parameters: np.ndarray
    loss: float
    optimum: np.ndarray
    forward_kl: float
    reverse_kl: float
    converged: bool
    iterations: int
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: arrays as nested lists."""
        return {"loss_name": self.loss_name, "family": self.family, "beta": self.beta,
                "settings": dict(self.settings), "policy": self.policy.tolist(),
                "parameters": self.parameters.tolist(), "loss": self.loss, "optimum": self.optimum.tolist(),
                "forward_kl": self.forward_kl, "reverse_kl": self.reverse_kl, "converged": self.converged,
                "iterations": self.iterations, "messages": list(self.messages)}


def family_loss(loss_name: str, family: str, parameters: Any, pi_ref: Any, rewards: Any, beta: float,
                **settings: Any) -> tuple[float, np.ndarray]:
    """The expected loss of one prompt's policy given by ``family``'s ``parameters`` (categorical: the logits;
    gaussian: ``(mean, log_std)``) and its gradient wrt the parameters (chain rule through the logits)."""
    name = _loss_name(loss_name)
    chosen = _family(family)
    pi_ref2, rewards2, beta = _problem(pi_ref, rewards, beta)
    if len(pi_ref2) != 1:
        raise ValueError(f"family_loss takes one prompt: pi_ref must be 1-D, got shape {np.shape(pi_ref)}")
    parameters = np.asarray(parameters, dtype=float)
    n = pi_ref2.shape[-1]
    expected = (n,) if family == "categorical" else (2,) if family == "gaussian" else parameters.shape
    if family == "low_rank" and not (parameters.ndim == 1 and 1 <= len(parameters) <= n - 1):
        raise ValueError(f"parameters of the low_rank family must be a vector of length 1..{n - 1}, got shape {parameters.shape}")
    if parameters.shape != expected:
        raise ValueError(f"parameters of the {family} family must have shape {expected}, got {parameters.shape}")
    return _objective(name, chosen, pi_ref2, rewards2, beta, _settings(name, settings))(parameters)


def _objective(name: str, family: _Family, pi_ref: np.ndarray, rewards: np.ndarray, beta: float,
               settings: dict[str, Any]) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    n = pi_ref.shape[-1]

    def value_and_grad(parameters: np.ndarray) -> tuple[float, np.ndarray]:
        logits = family.logits(parameters, n)[None]
        value, grad = _PER_PROMPT[name](logits, pi_ref, rewards, beta, **settings)
        return float(value[0]), family.backward(parameters, n, grad[0])
    return value_and_grad


def _gaussian_start(name: str, pi_ref: np.ndarray, rewards: np.ndarray, beta: float,
                    settings: dict[str, Any]) -> np.ndarray:
    """Deterministic start: the best point of a coarse grid (means at every answer, 13 log-stds)."""
    n = pi_ref.shape[-1]
    log_stds = np.linspace(math.log(0.3), math.log(n), 13)
    return grid_search(name, pi_ref[0], rewards[0], beta, np.arange(n, dtype=float), log_stds, **settings)[1]


def _fit_prompt(name: str, family_name: str, pi_ref: np.ndarray, rewards: np.ndarray, beta: float,
                settings: dict[str, Any], tolerance: float, max_iterations: int, rank: int) -> tuple[np.ndarray, Any]:
    family = _family(family_name)
    n = pi_ref.shape[-1]
    if family_name == "categorical":
        start, bounds = np.log(pi_ref[0]), None
    elif family_name == "low_rank":  # least squares of log pi_ref in the basis (exact for a uniform pi_ref: 0)
        basis = cosine_basis(n, rank)
        centred = np.log(pi_ref[0]) - np.log(pi_ref[0]).mean()
        start, bounds = np.linalg.lstsq(basis, centred, rcond=None)[0], None
    else:
        start = _gaussian_start(name, pi_ref, rewards, beta, settings)
        bounds = [(-0.5, n - 0.5), (math.log(0.05), math.log(4.0 * n))]
    result = minimize(_objective(name, family, pi_ref, rewards, beta, settings), start, jac=True,
                      method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": max_iterations, "ftol": tolerance, "gtol": tolerance, "maxcor": 30})
    return family.logits(result.x, n), result


def fit(loss_name: str, family: str, pi_ref: Any, rewards: Any, beta: float, *, tolerance: float = 1e-14,
        max_iterations: int = 5000, rank: int = 2, **settings: Any) -> FitResult:
    """Minimise the expected loss ``loss_name`` (one of :data:`LOSSES`, with its :data:`LOSS_SETTINGS`) over the
    policy family ``family`` (one of :data:`FAMILIES`) by L-BFGS-B (scipy.optimize.minimize), one prompt at a
    time (prompts are independent). Deterministic starts: ``categorical`` from ``pi_ref``'s log-probabilities,
    ``gaussian`` from the best point of a coarse grid (:func:`grid_search`), then refined within bounds
    ``mean in [-0.5, n - 0.5]``, ``std in [0.05, 4n]``; ``low_rank`` (``rank`` cosines) from the least-squares
    projection of ``log pi_ref``."""
    name = _loss_name(loss_name)
    _family(family)
    settings = _settings(name, settings)
    pi_ref2, rewards2, beta = _problem(pi_ref, rewards, beta)
    n = pi_ref2.shape[-1]
    if family == "low_rank" and (isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= n - 1):
        raise ValueError(f"rank must be an integer in 1..{n - 1} (n - 1 = the full family) for {n} answers, got {rank!r}")
    fits = [_fit_prompt(name, family, pi_ref2[i:i + 1], rewards2[i:i + 1], beta, settings, tolerance,
                        max_iterations, rank) for i in range(len(pi_ref2))]
    logits = np.stack([logits for logits, _ in fits])
    policy = np.exp(log_softmax(logits, axis=-1))
    optimum = np.exp(log_softmax(np.log(pi_ref2) + rewards2 / beta, axis=-1))
    shape = np.shape(pi_ref)
    parameters = np.stack([result.x for _, result in fits])
    return FitResult(
        loss_name=name, family=family, beta=beta, settings=settings, policy=policy.reshape(shape),
        parameters=parameters[0] if len(shape) == 1 else parameters,
        loss=float(np.mean([result.fun for _, result in fits])), optimum=optimum.reshape(shape),
        forward_kl=kl(optimum, policy), reverse_kl=kl(policy, optimum),
        converged=all(bool(result.success) for _, result in fits),
        iterations=int(sum(result.nit for _, result in fits)),
        messages=[str(result.message) for _, result in fits])


def mass_near(policy: Any, centre: float, radius: float) -> float:
    """The probability a policy over positions ``0..n-1`` puts within ``radius`` of ``centre``."""
    policy = np.asarray(policy, dtype=float)
    x = np.arange(policy.shape[-1])
    return float(policy[..., np.abs(x - centre) <= radius].sum(-1).mean())


# --- offline losses on a preference matrix that is not Bradley-Terry -----------------------------------

PAIRWISE_TERMS = {"dpo": _dpo_terms, "ipo": _ipo_terms}


def fit_to_preferences(loss_name: str, preferences: Any, pi_ref: Any, beta: float) -> np.ndarray:
    """The categorical policy minimising a pairwise offline loss (``dpo``, ``ipo`` or soft-label ``exo``) when the
    pairs ``(i, j) ~ pi_ref x pi_ref`` are labelled by an arbitrary preference matrix ``P[i, j] = P(i > j)``
    (e.g. a cyclic annotator population, where no reward explains ``P``). The losses assume Bradley-Terry
    labels; on such ``P`` they fit the Bradley-Terry model closest to it in their own sense (DPO: the
    maximum-likelihood ``h``; IPO: ``h_i - h_j`` regressed on ``(2 P_ij - 1) / (2 beta)``; EXO: the reverse
    KL), whose policy need not be the game's maximal lottery."""
    matrix = np.asarray(preferences, dtype=np.float64)
    reference = np.asarray(pi_ref, dtype=np.float64)
    n = reference.size
    if matrix.shape != (n, n) or not np.allclose(matrix + matrix.T, 1.0, atol=1e-9):
        raise ValueError(f"preferences must be an {n} x {n} matrix with P + P^T = 1, got shape {matrix.shape}")
    beta = _positive(beta, "beta")
    clipped = np.clip(matrix, 1e-12, 1 - 1e-12)
    label_logits = (np.log(clipped) - np.log1p(-clipped))[None]
    if loss_name == "exo":
        terms = _exo_terms(beta, "soft", EXO_EPSILON)
    elif loss_name in PAIRWISE_TERMS:
        terms = PAIRWISE_TERMS[loss_name](beta)
    else:
        raise ValueError(f"fit_to_preferences takes the pairwise losses ['dpo', 'ipo', 'exo'], got {loss_name!r}")

    def objective(logits: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = _pairwise(logits[None], reference[None], None, terms, label_logits)
        return float(value[0]), grad[0]

    result = minimize(objective, np.log(reference), jac=True, method="L-BFGS-B",
                      options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})
    return np.exp(log_softmax(result.x))
