"""Exact solution and primal-dual dynamics of a tabular Safe-RLHF problem (``safe_rlhf_v0``).

The Lagrangian of the constrained problem (:mod:`aligngames.envs.safe_rlhf.problems`) is
``L(pi, lambda) = sum_x p(x) (E_pi[r - lambda c] - beta KL(pi(.|x) || pi_ref(.|x))) + lambda d``.

- **beta > 0.** For a fixed ``lambda`` the best policy is ``pi_lambda(y|x) ∝ pi_ref(y|x) exp((r - lambda c) / beta)``
  and the dual function is ``g(lambda) = sum_x p(x) beta log sum_y pi_ref(y|x) exp((r - lambda c) / beta) + lambda d``,
  convex with ``g'(lambda) = d - E_pi_lambda[c]``, which increases with lambda. So ``lambda* = 0`` when the
  unconstrained optimum already meets the threshold; otherwise it is the root of ``E_pi_lambda[c] = d``, found by
  bracketing (doubling) and Brent's method (a safeguarded 1-D method). A threshold equal to the smallest
  achievable cost has no finite multiplier (``lambda* = inf``; the policy is the limit, ``pi_ref exp(r / beta)``
  on the cheapest answers); one below it is infeasible.
- **With an adversary** who picks the prompts the cost is measured on (:func:`solve_robust`), the constraint
  holds on every prompt; the problem splits into one-prompt problems, and their multipliers give the
  multiplier seat's ``lambda*`` and the adversary's prompt distribution.
- **beta = 0.** An LP over the policy table (scipy HiGHS); the multiplier is the cost constraint's dual value.

Primal-dual dynamics (:func:`primal_dual`) put the multiplier in a seat: each iteration the policy takes a
magnetic-mirror-descent step on ``L(., lambda_t)`` with the reference as magnet (Sokota et al. 2023: closed
form ``pi' ∝ (pi * pi_ref^(eta beta) * exp(eta (r - lambda c)))^(1 / (1 + eta beta))``) or a plain gradient
step on its logits (gradient descent-ascent, the baseline), and the multiplier follows the expected cost:
projected gradient ``lambda' = clip(lambda + eta_lambda (J_c - d), 0, lambda_max)`` or Safe RLHF's
multiplicative rule ``log lambda' = log lambda + eta_lambda lambda (J_c - d)`` (Dai et al. 2023), where
``J_c`` is the mean expected cost over the last ``cost_window`` iterations and nothing moves the multiplier
for the first ``delay`` iterations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import brentq, linprog
from scipy.special import logsumexp, softmax

from aligngames.envs.safe_rlhf.problems import SafeRLHFProblem
from aligngames.tables import InfeasibleConstraintError

#: How close to the smallest achievable cost a threshold counts as equal to it.
THRESHOLD_TOLERANCE = 1e-12

POLICY_UPDATES = ("mmd", "gradient")
MULTIPLIER_UPDATES = ("projected", "log")


def _log_reference(problem: SafeRLHFProblem) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(problem.reference)


def policy_at(problem: SafeRLHFProblem, multiplier: float) -> np.ndarray:
    """``pi_lambda ∝ pi_ref exp((r - lambda c) / beta)``, shape ``(num_prompts, num_answers)`` (beta > 0)."""
    if problem.beta <= 0:
        raise ValueError("policy_at needs beta > 0 (with beta = 0 the best response is an argmax; use solve)")
    return softmax(_log_reference(problem) + (problem.rewards - multiplier * problem.costs) / problem.beta, axis=1)


def dual_function(problem: SafeRLHFProblem, multiplier: float) -> float:
    """``g(lambda) = max_pi L(pi, lambda)``."""
    adjusted = problem.rewards - multiplier * problem.costs
    if problem.beta == 0:
        inner = np.where(problem.support(), adjusted, -np.inf).max(axis=1)
    else:
        inner = problem.beta * logsumexp(_log_reference(problem) + adjusted / problem.beta, axis=1)
    return float(problem.prompt_probs @ inner + multiplier * problem.threshold)


@dataclass(frozen=True)
class SafeRLHFSolution:
    """The constrained optimum.

    Attributes:
        multiplier: ``lambda*`` (``inf`` when the threshold is the smallest achievable cost and beta > 0).
        policy: shape ``(num_prompts, num_answers)``.
        value: ``E_pi[r] - beta KL(pi || pi_ref)`` at the optimum.
        expected_reward, expected_cost, kl: at the optimum.
        dual_value: ``g(lambda*)`` (equal to ``value`` by strong duality).
        unconstrained_cost: the expected cost of the unconstrained optimum (``lambda = 0``).
    """

    problem: SafeRLHFProblem
    multiplier: float
    policy: np.ndarray
    value: float
    expected_reward: float
    expected_cost: float
    kl: float
    dual_value: float
    unconstrained_cost: float

    def to_dict(self) -> dict[str, Any]:
        return {"problem": self.problem.to_dict(),
                "multiplier": "inf" if np.isinf(self.multiplier) else self.multiplier,
                "policy": self.policy.tolist(), "value": self.value, "expected_reward": self.expected_reward,
                "expected_cost": self.expected_cost, "kl": self.kl, "dual_value": self.dual_value,
                "unconstrained_cost": self.unconstrained_cost, "constraint_active": self.multiplier > 0}


def _check_feasible(problem: SafeRLHFProblem) -> float:
    lowest = problem.min_cost()
    if problem.threshold < lowest - THRESHOLD_TOLERANCE:
        raise InfeasibleConstraintError(
            f"the cost constraint is infeasible: threshold {problem.threshold:g} is below the smallest achievable "
            f"expected cost {lowest:.6g}", ["threshold"])
    return lowest


def _finish(problem: SafeRLHFProblem, multiplier: float, policy: np.ndarray, unconstrained: float) -> SafeRLHFSolution:
    reward, cost, kl = problem.expected(policy, problem.rewards), problem.expected(policy, problem.costs), problem.kl(policy)
    value = reward - problem.beta * kl if problem.beta > 0 else reward
    dual = value if np.isinf(multiplier) else dual_function(problem, multiplier)
    return SafeRLHFSolution(problem, float(multiplier), policy, value, reward, cost, kl, dual, unconstrained)


def _solve_lp(problem: SafeRLHFProblem) -> SafeRLHFSolution:
    num_prompts, num_answers = problem.rewards.shape
    weights = problem.prompt_probs[:, None]
    rows = np.kron(np.eye(num_prompts), np.ones(num_answers))  # each prompt's row of the policy sums to 1
    result = linprog(-(weights * problem.rewards).ravel(), A_ub=(weights * problem.costs).ravel()[None, :],
                     b_ub=[problem.threshold], A_eq=rows, b_eq=np.ones(num_prompts), bounds=(0, None), method="highs")
    if result.status != 0:
        raise RuntimeError(f"the Safe-RLHF LP failed: {result.message}")
    policy = np.clip(result.x.reshape(num_prompts, num_answers), 0.0, None)
    policy /= policy.sum(axis=1, keepdims=True)
    free = linprog(-(weights * problem.rewards).ravel(), A_eq=rows, b_eq=np.ones(num_prompts), bounds=(0, None),
                   method="highs")
    unconstrained = problem.expected(free.x.reshape(num_prompts, num_answers), problem.costs)
    return _finish(problem, max(-float(result.ineqlin.marginals[0]), 0.0), policy, unconstrained)


def solve(problem: SafeRLHFProblem) -> SafeRLHFSolution:
    """The constrained optimum and its multiplier (see the module docstring)."""
    lowest = _check_feasible(problem)
    if problem.beta == 0:
        return _solve_lp(problem)
    free = policy_at(problem, 0.0)
    unconstrained = problem.expected(free, problem.costs)
    if unconstrained <= problem.threshold:
        return _finish(problem, 0.0, free, unconstrained)
    if problem.threshold <= lowest + THRESHOLD_TOLERANCE:
        cheapest = np.isclose(problem.costs, np.where(problem.support(), problem.costs, np.inf).min(axis=1, keepdims=True))
        logits = np.where(cheapest & problem.support(), _log_reference(problem) + problem.rewards / problem.beta, -np.inf)
        return _finish(problem, np.inf, softmax(logits, axis=1), unconstrained)

    def excess(multiplier: float) -> float:
        return problem.expected(policy_at(problem, multiplier), problem.costs) - problem.threshold

    high = 1.0
    while excess(high) > 0:
        high *= 2.0
        if high > 1e15:
            raise RuntimeError("no multiplier below 1e15 meets the threshold (numerically at the smallest cost)")
    multiplier = brentq(excess, 0.0, high, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return _finish(problem, multiplier, policy_at(problem, multiplier), unconstrained)


@dataclass(frozen=True)
class RobustSafeRLHFSolution:
    """The optimum under the robust constraint ``E_pi[c | x] <= d`` on every prompt (the game with an adversary).

    An adversary who picks the distribution ``q`` of the prompts the cost is measured on turns the one
    constraint ``E_q E_pi[c] <= d`` into one per prompt (the worst ``q`` is a point mass). The problem then
    splits by prompt: prompt ``x`` alone has the multiplier ``nu_x`` (its one-prompt problem's ``lambda*``), the
    constraint's multiplier in the whole problem is ``mu_x = p(x) nu_x``, and writing ``mu = lambda q`` gives the
    game's Lagrangian ``J_r(pi) - beta KL - lambda (E_q E_pi[c] - d)``: the multiplier seat's ``lambda* = sum_x
    mu_x`` and the adversary's ``q*(x) = mu_x / lambda*``, on the prompts whose constraint binds.

    Attributes:
        multiplier: ``lambda*`` (0 when no prompt's constraint binds; ``inf`` when one binds at its smallest cost).
        adversary: ``q*``, shape ``(num_prompts,)`` (``p`` itself when ``lambda* = 0``: any ``q`` is then optimal;
            the binding prompts weighted by ``p`` when ``lambda* = inf``).
        prompt_multipliers: ``nu_x`` per prompt.
        policy: shape ``(num_prompts, num_answers)``.
        prompt_costs: ``E_pi[c | x]`` per prompt (each ``<= d``).
        value, expected_reward, kl: as in :class:`SafeRLHFSolution`.
        dual_value: ``sum_x p(x) g_x(nu_x)`` (equal to ``value`` by strong duality).
    """

    problem: SafeRLHFProblem
    multiplier: float
    adversary: np.ndarray
    prompt_multipliers: np.ndarray
    policy: np.ndarray
    prompt_costs: np.ndarray
    value: float
    expected_reward: float
    kl: float
    dual_value: float

    def to_dict(self) -> dict[str, Any]:
        def number(value: float) -> float | str:
            return "inf" if np.isinf(value) else float(value)

        return {"problem": self.problem.to_dict(), "robust": True, "multiplier": number(self.multiplier),
                "adversary": self.adversary.tolist(), "prompt_multipliers": [number(v) for v in self.prompt_multipliers],
                "policy": self.policy.tolist(), "prompt_costs": self.prompt_costs.tolist(), "value": self.value,
                "expected_reward": self.expected_reward, "worst_cost": float(self.prompt_costs.max()), "kl": self.kl,
                "dual_value": self.dual_value}


def solve_robust(problem: SafeRLHFProblem) -> RobustSafeRLHFSolution:
    """The optimum against an adversary who picks the prompts the cost is measured on (see
    :class:`RobustSafeRLHFSolution`): one :func:`solve` per prompt."""
    parts = []
    for k, prompt in enumerate(problem.prompts):
        alone = SafeRLHFProblem((prompt,), problem.answers, [1.0], problem.rewards[k:k + 1], problem.costs[k:k + 1],
                                problem.reference[k:k + 1], problem.beta, problem.threshold, f"{problem.name}:{prompt}")
        try:
            parts.append(solve(alone))
        except InfeasibleConstraintError:
            raise InfeasibleConstraintError(
                f"the robust cost constraint is infeasible on prompt {prompt!r}: threshold {problem.threshold:g} is "
                f"below its smallest achievable expected cost {alone.min_cost():.6g}", [f"threshold@{prompt}"]) from None
    nu = np.array([part.multiplier for part in parts])
    policy = np.concatenate([part.policy for part in parts])
    weights = problem.prompt_probs * nu if not np.isinf(nu).any() else np.where(np.isinf(nu), problem.prompt_probs, 0.0)
    multiplier = float(np.inf if np.isinf(nu).any() else weights.sum())
    adversary = weights / weights.sum() if weights.sum() > 0 else problem.prompt_probs.copy()
    reward, kl = problem.expected(policy, problem.rewards), problem.kl(policy)
    value = reward - problem.beta * kl if problem.beta > 0 else reward
    dual = float(problem.prompt_probs @ [part.dual_value for part in parts])
    return RobustSafeRLHFSolution(problem, multiplier, adversary, nu, policy,
                                  np.array([part.expected_cost for part in parts]), value, reward, kl, dual)


@dataclass
class PrimalDualTrace:
    """Per-iteration traces of :func:`primal_dual` (each a list, one entry per iteration).

    Attributes:
        multiplier: ``lambda_t``.
        expected_cost, expected_reward: under ``pi_t``.
        violation: ``max(E[c] - d, 0)``.
        policy: the last iterate.
    """

    multiplier: list[float] = field(default_factory=list)
    expected_cost: list[float] = field(default_factory=list)
    expected_reward: list[float] = field(default_factory=list)
    violation: list[float] = field(default_factory=list)
    policy: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"multiplier": self.multiplier, "expected_cost": self.expected_cost,
                "expected_reward": self.expected_reward, "violation": self.violation,
                "policy": None if self.policy is None else self.policy.tolist()}


def primal_dual(problem: SafeRLHFProblem, iterations: int = 2000, *, policy_update: str = "mmd",
                policy_step: float = 10.0, multiplier_update: str = "projected", multiplier_step: float | None = None,
                initial_multiplier: float = 1.0, delay: int = 0, cost_window: int = 1,
                lambda_max: float = 1e6) -> PrimalDualTrace:
    """Policy and multiplier learning against each other, last iterates recorded (see the module docstring).

    The policy starts at the reference. ``policy_step`` is ``eta``; with MMD, ``eta * beta`` large makes the
    policy track ``pi_lambda`` closely, and the multiplier's projected rule is then gradient descent on the
    dual function, whose curvature is ``Var_pi(c) / beta <= range(c)^2 / (4 beta)``: it converges for
    ``multiplier_step < 8 beta / range(c)^2``, and the default ``multiplier_step`` is half that,
    ``4 beta / range(c)^2`` (1 when beta = 0 or every cost is equal).
    """
    if multiplier_step is None:
        spread = float(problem.costs.max() - problem.costs.min())
        multiplier_step = 4.0 * problem.beta / spread**2 if problem.beta > 0 and spread > 0 else 1.0
    if policy_update not in POLICY_UPDATES:
        raise ValueError(f"policy_update must be one of {list(POLICY_UPDATES)}, got {policy_update!r}")
    if multiplier_update not in MULTIPLIER_UPDATES:
        raise ValueError(f"multiplier_update must be one of {list(MULTIPLIER_UPDATES)}, got {multiplier_update!r}")
    for name, value in (("policy_step", policy_step), ("multiplier_step", multiplier_step), ("lambda_max", lambda_max)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value}")
    if not (np.isfinite(initial_multiplier) and 0 <= initial_multiplier <= lambda_max):
        raise ValueError(f"initial_multiplier must be in [0, lambda_max={lambda_max:g}], got {initial_multiplier}")
    if multiplier_update == "log" and initial_multiplier == 0:
        raise ValueError("multiplier_update='log' cannot leave lambda = 0: give initial_multiplier > 0")
    for name, value in (("iterations", iterations), ("cost_window", cost_window)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise ValueError(f"delay must be an int >= 0, got {delay!r}")
    log_reference = _log_reference(problem)
    support = problem.support()
    logits = np.where(support, log_reference, -np.inf)
    multiplier, costs, trace = float(initial_multiplier), [], PrimalDualTrace()
    beta, eta = problem.beta, policy_step
    for t in range(iterations):
        policy = softmax(logits, axis=1)
        advantage = problem.rewards - multiplier * problem.costs
        if policy_update == "mmd":
            logits = np.where(support, (logits + eta * advantage + eta * beta * log_reference) / (1.0 + eta * beta), -np.inf)
        else:  # gradient ascent on the logits of the regularised Lagrangian, per prompt
            with np.errstate(invalid="ignore"):
                score = np.where(support, advantage - beta * (np.log(np.where(support, policy, 1.0)) - log_reference), 0.0)
            gradient = policy * (score - np.sum(policy * score, axis=1, keepdims=True))
            logits = np.where(support, logits + eta * gradient, -np.inf)
        logits = logits - logits.max(axis=1, keepdims=True)  # keep them bounded; softmax does not change
        policy = softmax(logits, axis=1)
        cost = problem.expected(policy, problem.costs)
        costs.append(cost)
        if t >= delay:
            estimate = float(np.mean(costs[-cost_window:]))
            if multiplier_update == "projected":
                multiplier = float(np.clip(multiplier + multiplier_step * (estimate - problem.threshold), 0.0, lambda_max))
            else:
                multiplier = float(min(multiplier * np.exp(multiplier_step * multiplier * (estimate - problem.threshold)),
                                       lambda_max))
        trace.multiplier.append(multiplier)
        trace.expected_cost.append(cost)
        trace.expected_reward.append(problem.expected(policy, problem.rewards))
        trace.violation.append(max(cost - problem.threshold, 0.0))
    trace.policy = softmax(logits, axis=1)
    return trace


def plot_dynamics(path: Path, trace: PrimalDualTrace, solution: SafeRLHFSolution, title: str) -> None:
    """Two panels: ``lambda_t`` against ``lambda*``, and the expected cost against the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 5.5), sharex=True)
    steps = np.arange(1, len(trace.multiplier) + 1)
    top.plot(steps, trace.multiplier, label="lambda (last iterate)")
    if np.isfinite(solution.multiplier):
        top.axhline(solution.multiplier, color="black", linestyle="--", linewidth=1, label=f"lambda* = {solution.multiplier:.4g}")
    top.set_ylabel("multiplier")
    top.legend()
    bottom.plot(steps, trace.expected_cost, label="expected cost")
    bottom.axhline(solution.problem.threshold, color="black", linestyle="--", linewidth=1,
                   label=f"threshold {solution.problem.threshold:g}")
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("E[cost]")
    bottom.legend()
    for axes in (top, bottom):
        axes.set_xscale("log")
        axes.grid(True, which="both", alpha=0.3)
    top.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
