"""Exact per-preference optima, a preference-conditioned policy, the Pareto front and its hypervolume for
``pareto_preference_v0`` tables (:mod:`aligngames.envs.pareto_preference.problems`).

For a preference vector ``w`` on the simplex, a policy ``pi`` over the answers has the expected reward vector
``J(pi) = R^T pi`` (``R[a, i] = r_i(a)``) and the objective

    F_w(pi) = s_w(J(pi)) - beta KL(pi || pi_ref),

with ``s_w(J) = w . J`` (linear) or ``s_w(J) = min_i w_i (J_i - z*_i)`` (Tchebycheff, ``z*`` the ideal point:
the per-objective maximum reward; Miettinen 1999, ch. 3.4). The optima (:func:`optimum`):

- **linear, beta > 0**: ``pi_w(a) ∝ pi_ref(a) exp(w . r(a) / beta)`` (the Gibbs / DPO closed form), value
  ``beta log sum_a pi_ref(a) exp(w . r(a) / beta)``.
- **linear, beta = 0**: an argmax of ``w . r(a)``; on ties (within :data:`TIE_TOLERANCE`) the policy mixes the
  tied answers in proportion to the reference (uniformly where the reference gives them no mass): the
  ``beta -> 0`` limit of the Gibbs policy.
- **Tchebycheff, beta = 0**: the LP ``max t  s.t.  t <= w_i ((R^T pi)_i - z*_i)  for all i,  pi in the simplex``
  (scipy HiGHS). Mixing matters: the optimum can be a mixture whose expected vector dominates every single
  answer near the preferred direction.
- **Tchebycheff, beta > 0**: ``min_i c_i = min_{lambda in simplex} lambda . c`` and Sion's minimax theorem give
  the dual ``min_{lambda in simplex} g(lambda)`` with ``v = lambda * w`` (entrywise) and
  ``g(lambda) = beta log sum_a pi_ref(a) exp((R v)_a / beta) - v . z*``, convex, with gradient
  ``w_i ((R^T pi_lambda)_i - z*_i)`` where ``pi_lambda ∝ pi_ref exp(R v / beta)``. It is minimised over the
  simplex by SLSQP; the optimum is ``pi_lambda*`` and the duality gap ``g(lambda*) - F_w(pi_lambda*)`` is checked
  to be below :data:`DUALITY_TOLERANCE`.

:func:`per_answer_optimum` is the optimum of what the env pays per sample, ``E_pi[s_w(r(a))] - beta KL``: the same
as :func:`optimum` for the linear scalarisation; for Tchebycheff it scalarises each answer's vector instead of
the expected vector (``E s_w(r) <= s_w(E r)``, since ``s_w`` is concave), so with beta = 0 it picks the single
answer closest to the ideal point in the weighted max-norm, which can be an answer below the chord of the
front that no linear scalarisation picks.

The preference-conditioned policy (:func:`fit_conditioned`, Panacea's one-policy-for-all-``w`` idea in tabular
form): logits ``log pi_ref + Theta [w; 1]``, linear in ``w``, with ``Theta`` of shape ``(num_answers, K + 1)``
fitted once for all user types by L-BFGS on ``sum_t p_t F_{w_t}(pi_Theta(w_t))`` (the KL-regularised linear
objective; needs beta > 0). Its regret at ``w`` is ``F_w(pi_w) - F_w(pi_Theta(w))``. The per-``w`` optimum
``log pi_w = log pi_ref + R w / beta - const`` is itself of this form (``Theta = [R / beta, 0]``), so the regret
is 0 up to the optimiser's tolerance.

The Pareto front (:func:`solve`) is the non-dominated subset of the expected reward vectors of the per-``w``
optima over the user types; its hypervolume (:func:`hypervolume`) is the measure of the union of the boxes
``[ref, p]`` for front points ``p`` against a reference point, computed exactly by slicing along the last
objective (the "hypervolume by slicing objectives" recursion; a sweep in two dimensions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linprog, minimize
from scipy.special import logsumexp, softmax

from aligngames.envs.pareto_preference.problems import SCALARISATIONS, ParetoPreferenceProblem, scalarise
from aligngames.tables import NotADistributionError, TableShapeError, distribution

#: Scalarised rewards this close to the maximum count as tied (beta = 0).
TIE_TOLERANCE = 1e-12

#: The largest duality gap accepted for the Tchebycheff program with beta > 0.
DUALITY_TOLERANCE = 1e-7

#: Decimals to which front points are rounded before duplicates are merged.
FRONT_DECIMALS = 10


def _inputs(rewards, weight, reference, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Check and convert the arrays one per-``w`` problem needs."""
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.ndim != 2:
        raise TableShapeError(f"rewards must be a table [answer][objective], got shape {rewards.shape}")
    num_answers, num_objectives = rewards.shape
    weight = np.asarray(weight, dtype=np.float64)
    if weight.shape != (num_objectives,):
        raise TableShapeError(f"the preference vector has shape {weight.shape}; the rewards have "
                              f"{num_objectives} objectives")
    try:
        weight = distribution(weight, "the preference vector w", num_objectives)
    except NotADistributionError as error:
        raise NotADistributionError(f"w = {weight.tolist()} is off the simplex (a preference vector is >= 0 and "
                                    f"sums to 1): {error}") from None
    reference = (np.full(num_answers, 1.0 / num_answers) if reference is None else
                 distribution(reference, "reference", num_answers))
    beta = float(beta)
    if not (np.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta}")
    return rewards, weight, reference, beta


def _log(reference: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(reference)


def best_response(scores: np.ndarray, reference: np.ndarray, beta: float) -> np.ndarray:
    """``argmax_pi pi . scores - beta KL(pi || pi_ref)``: ``pi_ref exp(scores / beta)`` normalised (beta > 0), or the
    tied maximisers mixed by the reference, uniformly where it gives them no mass (beta = 0)."""
    if beta > 0:
        return softmax(_log(reference) + scores / beta)
    tied = scores >= scores.max() - TIE_TOLERANCE
    mass = np.where(tied, reference, 0.0)
    return mass / mass.sum() if mass.sum() > 0 else tied / tied.sum()


def kl(policy: np.ndarray, reference: np.ndarray) -> float:
    """``KL(pi || pi_ref)`` (0 log 0 = 0; infinite off the reference's support)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(policy > 0, policy * (np.log(policy) - np.log(reference)), 0.0)
    return float(terms.sum())


def objective(policy, rewards, weight, *, reference=None, beta: float = 0.0, scalarisation: str = "linear",
              ideal=None) -> float:
    """``F_w(pi) = s_w(R^T pi) - beta KL(pi || pi_ref)`` (the KL term only where beta > 0)."""
    rewards, weight, reference, beta = _inputs(rewards, weight, reference, beta)
    policy = np.asarray(policy, dtype=np.float64)
    z = rewards.max(axis=0) if ideal is None else np.asarray(ideal, dtype=np.float64)
    value = float(scalarise(policy @ rewards, weight, scalarisation, z))
    return value - beta * kl(policy, reference) if beta > 0 else value


def _tchebycheff_lp(rewards: np.ndarray, weight: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``max t  s.t.  t <= w_i ((R^T pi)_i - z*_i),  pi in the simplex`` over ``x = [pi, t]``."""
    num_answers, num_objectives = rewards.shape
    cost = np.zeros(num_answers + 1)
    cost[-1] = -1.0
    a_ub = np.hstack([-(rewards * weight).T, np.ones((num_objectives, 1))])  # t - w_i R_i . pi <= -w_i z_i
    a_eq = np.hstack([np.ones((1, num_answers)), np.zeros((1, 1))])
    result = linprog(cost, A_ub=a_ub, b_ub=-weight * z, A_eq=a_eq, b_eq=[1.0],
                     bounds=[(0, None)] * num_answers + [(None, None)], method="highs")
    if result.status != 0:
        raise RuntimeError(f"the Tchebycheff LP failed: {result.message}")
    policy = np.clip(result.x[:num_answers], 0.0, None)
    return policy / policy.sum()


def tchebycheff_dual(multipliers: np.ndarray, rewards: np.ndarray, weight: np.ndarray, reference: np.ndarray,
                     beta: float, z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``g(lambda) = beta log sum_a pi_ref(a) exp((R v)_a / beta) - v . z*`` with ``v = lambda * w``; returns
    ``(g, its gradient, pi_lambda)`` (beta > 0)."""
    v = multipliers * weight
    logits = _log(reference) + rewards @ v / beta
    policy = softmax(logits)
    value = beta * logsumexp(logits) - v @ z
    return float(value), weight * (policy @ rewards - z), policy


def _tchebycheff_kl(rewards: np.ndarray, weight: np.ndarray, reference: np.ndarray, beta: float,
                    z: np.ndarray) -> np.ndarray:
    """The Tchebycheff optimum with beta > 0 from the dual over the simplex (see the module docstring)."""
    num_objectives = rewards.shape[1]
    best = None
    for start in (np.full(num_objectives, 1.0 / num_objectives), weight):  # two starts; keep the lower dual value
        result = minimize(lambda m: tchebycheff_dual(m, rewards, weight, reference, beta, z)[:2], start, jac=True,
                          method="SLSQP", bounds=[(0.0, 1.0)] * num_objectives,
                          constraints=[{"type": "eq", "fun": lambda m: m.sum() - 1.0,
                                        "jac": lambda m: np.ones_like(m)}],
                          options={"ftol": 1e-15, "maxiter": 500})
        multipliers = np.clip(result.x, 0.0, None)
        multipliers /= multipliers.sum()
        dual, _, policy = tchebycheff_dual(multipliers, rewards, weight, reference, beta, z)
        if best is None or dual < best[0]:
            best = (dual, policy)
    dual, policy = best
    primal = float(np.min(weight * (policy @ rewards - z))) - beta * kl(policy, reference)
    if dual - primal > DUALITY_TOLERANCE:
        raise RuntimeError(f"the Tchebycheff program with beta {beta:g} did not converge: duality gap "
                           f"{dual - primal:.3g} > {DUALITY_TOLERANCE:g} at w = {weight.tolist()}")
    return policy


def optimum(rewards, weight, *, reference=None, beta: float = 0.0, scalarisation: str = "linear",
            ideal=None) -> np.ndarray:
    """``argmax_pi F_w(pi)``, shape ``(num_answers,)`` (see the module docstring for each case).

    Args:
        rewards: ``[answer][objective]``.
        weight: the preference vector ``w`` (on the simplex).
        reference: ``pi_ref`` (default uniform).
        beta: the KL weight (>= 0).
        scalarisation: ``"linear"`` or ``"tchebycheff"``.
        ideal: ``z*`` (default: the per-objective maximum of ``rewards``).
    """
    rewards, weight, reference, beta = _inputs(rewards, weight, reference, beta)
    if scalarisation not in SCALARISATIONS:
        raise ValueError(f"scalarisation must be one of {list(SCALARISATIONS)}, got {scalarisation!r}")
    if scalarisation == "linear":
        return best_response(rewards @ weight, reference, beta)
    z = rewards.max(axis=0) if ideal is None else np.asarray(ideal, dtype=np.float64)
    if beta == 0:
        return _tchebycheff_lp(rewards, weight, z)
    return _tchebycheff_kl(rewards, weight, reference, beta, z)


def per_answer_optimum(rewards, weight, *, reference=None, beta: float = 0.0, scalarisation: str = "linear",
                       ideal=None) -> np.ndarray:
    """``argmax_pi E_pi[s_w(r(a))] - beta KL(pi || pi_ref)``: the best policy for the env's sampled reward."""
    rewards, weight, reference, beta = _inputs(rewards, weight, reference, beta)
    return best_response(scalarise(rewards, weight, scalarisation, ideal), reference, beta)


def nondominated(points) -> np.ndarray:
    """Boolean mask of the rows of ``points`` (shape ``(n, K)``, to maximise) that no other row dominates
    (``q >= p`` everywhere and ``q > p`` somewhere)."""
    points = np.asarray(points, dtype=np.float64)
    geq = (points[None, :, :] >= points[:, None, :]).all(axis=-1)  # [i, j]: j >= i everywhere
    gt = (points[None, :, :] > points[:, None, :]).any(axis=-1)
    return ~(geq & gt).any(axis=1)


def pareto_front(points, decimals: int = FRONT_DECIMALS) -> np.ndarray:
    """The distinct non-dominated rows of ``points`` (rounded to ``decimals``), sorted by decreasing first objective."""
    points = np.round(np.asarray(points, dtype=np.float64), decimals)
    front = np.unique(points[nondominated(points)], axis=0)
    return front[np.lexsort(front.T[::-1])][::-1]


def _slices(points: np.ndarray, reference_point: np.ndarray) -> float:
    """Exact hypervolume of points that all strictly dominate the reference point (slicing on the last axis)."""
    if len(points) == 0:
        return 0.0
    if points.shape[1] == 1:
        return float(points[:, 0].max() - reference_point[0])
    order = np.argsort(-points[:, -1], kind="stable")
    points = points[order]
    heights = points[:, -1] - np.append(points[1:, -1], reference_point[-1])  # slab thickness below each level
    if points.shape[1] == 2:
        widths = np.maximum.accumulate(points[:, 0]) - reference_point[0]
        return float(widths @ heights)
    return float(sum(height * _slices(points[:k + 1, :-1], reference_point[:-1])
                     for k, height in enumerate(heights) if height > 0))


def hypervolume(points, reference_point) -> float:
    """The measure of the union of the boxes ``[reference_point, p]`` over the rows ``p`` of ``points`` (to maximise).

    Points that do not strictly dominate the reference point in every objective add nothing. Exact: the
    non-dominated points are swept in two dimensions and sliced along the last objective in more.
    """
    points = np.asarray(points, dtype=np.float64)
    reference_point = np.asarray(reference_point, dtype=np.float64)
    if points.ndim != 2 or reference_point.shape != (points.shape[1],):
        raise TableShapeError(f"hypervolume needs points of shape (n, K) and a reference point of shape (K,), got "
                              f"{points.shape} and {reference_point.shape}")
    inside = points[(points > reference_point).all(axis=1)]
    return _slices(inside[nondominated(inside)], reference_point) if len(inside) else 0.0


@dataclass(frozen=True)
class ParetoSolution:
    """The per-``w`` optima over a problem's user types.

    Attributes:
        policies: shape ``(num_types, num_answers)``.
        expected_rewards: shape ``(num_types, num_objectives)``, ``R^T pi_w``.
        values: shape ``(num_types,)``, ``F_w(pi_w)``.
        kls: shape ``(num_types,)``.
        front: the distinct non-dominated expected reward vectors.
        reference_point: the hypervolume's reference point.
        hypervolume: of ``front`` against ``reference_point``.
    """

    problem: ParetoPreferenceProblem
    policies: np.ndarray
    expected_rewards: np.ndarray
    values: np.ndarray
    kls: np.ndarray
    front: np.ndarray
    reference_point: np.ndarray
    hypervolume: float

    def to_dict(self) -> dict[str, Any]:
        types = [{"weight": w.tolist(), "prob": float(p), "policy": pi.tolist(), "expected_reward": j.tolist(),
                  "value": float(v), "kl": float(k)}
                 for w, p, pi, j, v, k in zip(self.problem.weights, self.problem.weight_probs, self.policies,
                                              self.expected_rewards, self.values, self.kls)]
        return {"problem": self.problem.to_dict(), "types": types, "front": self.front.tolist(),
                "reference_point": self.reference_point.tolist(), "hypervolume": self.hypervolume}


def default_reference_point(problem: ParetoPreferenceProblem) -> np.ndarray:
    """The worst reward on each objective over the answers, less 0.1 (so the front's extreme points count)."""
    return problem.rewards.min(axis=0) - 0.1


def solve(problem: ParetoPreferenceProblem, reference_point=None) -> ParetoSolution:
    """The optimum :func:`optimum` for each user type, the Pareto front of their expected reward vectors and its
    hypervolume against ``reference_point`` (default :func:`default_reference_point`)."""
    point = default_reference_point(problem) if reference_point is None else np.asarray(reference_point, dtype=float)
    if point.shape != (problem.num_objectives,):
        raise TableShapeError(f"the reference point needs {problem.num_objectives} entries (one per objective), "
                              f"got shape {point.shape}")
    options = {"reference": problem.reference, "beta": problem.beta, "scalarisation": problem.scalarisation,
               "ideal": problem.ideal}
    policies = np.array([optimum(problem.rewards, w, **options) for w in problem.weights])
    values = np.array([objective(pi, problem.rewards, w, **options) for pi, w in zip(policies, problem.weights)])
    kls = np.array([kl(pi, problem.reference) for pi in policies])
    expected = policies @ problem.rewards
    front = pareto_front(expected)
    return ParetoSolution(problem, policies, expected, values, kls, front, point, hypervolume(front, point))


@dataclass(frozen=True)
class ConditionedPolicy:
    """A preference-conditioned policy: ``pi(. | w) = softmax(log pi_ref + Theta [w; 1])``.

    Attributes:
        theta: shape ``(num_answers, num_objectives + 1)`` (the last column is the bias).
        reference: ``pi_ref``, shape ``(num_answers,)``.
    """

    theta: np.ndarray
    reference: np.ndarray

    def logits(self, weights) -> np.ndarray:
        """Shape ``(num_types, num_answers)`` for ``weights`` of shape ``(num_types, K)`` (or one vector)."""
        weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        features = np.hstack([weights, np.ones((len(weights), 1))])
        return _log(self.reference) + features @ self.theta.T

    def policy(self, weights) -> np.ndarray:
        return softmax(self.logits(weights), axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.tolist(), "reference": self.reference.tolist()}


@dataclass(frozen=True)
class ConditionedFit:
    """A fitted :class:`ConditionedPolicy` and its regret against the per-``w`` optima.

    Attributes:
        policies: shape ``(num_types, num_answers)``, ``pi_Theta(w_t)``.
        values: ``F_{w_t}(pi_Theta(w_t))`` (linear, KL-regularised).
        optimal_values: ``F_{w_t}(pi_{w_t}) = beta log sum_a pi_ref(a) exp(w_t . r(a) / beta)``.
        regret: ``optimal_values - values`` (>= 0).
        expected_regret: ``sum_t p_t regret_t``.
        iterations: L-BFGS iterations.
    """

    conditioned: ConditionedPolicy
    policies: np.ndarray
    values: np.ndarray
    optimal_values: np.ndarray
    regret: np.ndarray
    expected_regret: float
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.conditioned.to_dict(), "policies": self.policies.tolist(), "values": self.values.tolist(),
                "optimal_values": self.optimal_values.tolist(), "regret": self.regret.tolist(),
                "max_regret": float(self.regret.max()), "expected_regret": self.expected_regret,
                "iterations": self.iterations}


def _linear_kl_values(logits: np.ndarray, scores: np.ndarray, log_reference: np.ndarray, beta: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per type: ``F = pi . s - beta KL(pi || pi_ref)`` and ``dF / dlogits = pi * (a - pi . a)`` with
    ``a = s - beta (log pi - log pi_ref)`` (rows; answers off the reference's support drop out)."""
    log_policy = logits - logsumexp(logits, axis=1, keepdims=True)
    policy = np.exp(log_policy)
    support = np.isfinite(log_reference)
    advantage = np.where(support, scores - beta * (log_policy - np.where(support, log_reference, 0.0)), 0.0)
    values = np.sum(policy * advantage, axis=1)
    return values, policy * (advantage - values[:, None])


def fit_conditioned(problem: ParetoPreferenceProblem, *, max_iterations: int = 5000,
                    tolerance: float = 1e-12) -> ConditionedFit:
    """Fit ``Theta`` once for all user types by L-BFGS on ``sum_t p_t F_{w_t}(pi_Theta(w_t))`` (linear scalarisation,
    KL-regularised; beta > 0), starting from ``Theta = 0`` (the reference), and measure its regret per type."""
    if problem.beta <= 0:
        raise ValueError("the conditioned policy's objective needs beta > 0 (with beta = 0 the per-w optimum is an "
                         "argmax, reached only as the logits grow without bound)")
    rewards, weights, probs, beta = problem.rewards, problem.weights, problem.weight_probs, problem.beta
    log_reference = _log(problem.reference)
    features = np.hstack([weights, np.ones((len(weights), 1))])
    scores = weights @ rewards.T  # [type, answer]: w_t . r(a)
    shape = (problem.num_answers, problem.num_objectives + 1)

    def negative(flat: np.ndarray) -> tuple[float, np.ndarray]:
        theta = flat.reshape(shape)
        values, gradient = _linear_kl_values(log_reference + features @ theta.T, scores, log_reference, beta)
        return -float(probs @ values), -((probs[:, None] * gradient).T @ features).ravel()

    result = minimize(negative, np.zeros(np.prod(shape)), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iterations, "gtol": tolerance, "ftol": 1e-15, "maxcor": 30})
    conditioned = ConditionedPolicy(result.x.reshape(shape), problem.reference)
    values, _ = _linear_kl_values(conditioned.logits(weights), scores, log_reference, beta)
    optimal = beta * logsumexp(log_reference + scores / beta, axis=1)
    regret = np.maximum(optimal - values, 0.0)
    return ConditionedFit(conditioned, conditioned.policy(weights), values, optimal, regret, float(probs @ regret),
                          int(result.nit))


def plot_front(path: Path, solution: ParetoSolution, title: str) -> None:
    """The answers' reward vectors, the per-``w`` optima's expected vectors and the front (a line in two
    objectives; a 3-D scatter of the first three otherwise)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problem = solution.problem
    figure = plt.figure(figsize=(6.0, 5.0))
    if problem.num_objectives == 2:
        axes = figure.add_subplot()
        axes.scatter(*problem.rewards.T, marker="s", color="grey", label="answers")
        for name, (x, y) in zip(problem.answers, problem.rewards):
            axes.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        axes.scatter(*solution.expected_rewards.T, s=14, label="per-w optima")
        axes.plot(*solution.front.T, marker="o", linewidth=1.2, label=f"front (hypervolume {solution.hypervolume:.4g})")
    else:
        axes = figure.add_subplot(projection="3d")
        axes.scatter(*problem.rewards.T[:3], marker="s", color="grey", label="answers")
        axes.scatter(*solution.front.T[:3], label=f"front (hypervolume {solution.hypervolume:.4g})")
        axes.set_zlabel(problem.objectives[2])
    axes.set_xlabel(problem.objectives[0])
    axes.set_ylabel(problem.objectives[1])
    axes.legend(fontsize=8)
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
