"""The principal's optimal contract in a finite moral-hazard problem (``contract_v0``).

For each effort ``e`` the cheapest contract that makes the agent choose it solves (Grossman & Hart 1983;
Laffont & Martimort 2002, ch. 4), with ``p`` the outcome probabilities, ``c`` the effort costs, ``U0``
the reservation utility and ``x_o = u(w_o)`` the agent's utility of the wage on outcome ``o``:

    minimise    sum_o p[e, o] u^-1(x_o)                              (expected wage)
    subject to  sum_o (p[e, o] - p[e', o]) x_o >= c_e - c_e'   for all e' != e   (incentive compatibility)
                sum_o p[e, o] x_o - c_e >= U0                                     (participation)
                w_o >= 0                                         (limited liability, when on)

For a risk-neutral agent (``utility="linear"``, ``u^-1(x) = x``) it is an LP (scipy HiGHS). For
``utility="sqrt"`` the constraints stay linear in the utility-space variables ``x`` and the objective
``sum_o p[e, o] x_o^2`` is convex: a small QP, solved with SLSQP from the LP's feasible point. The
principal then induces the effort with the highest profit ``sum_o p[e, o] (v_o - w_o)``; an effort no
contract implements is reported as such. The first best (effort observable) pays a flat wage that just
meets participation; the agency cost is the difference in the principal's profit. The agent breaks ties in
the principal's favour (:func:`~aligngames.envs.contract.problems.best_response`), so the binding
constraints hold with equality at the optimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog, minimize

from aligngames.envs.contract.problems import ContractProblem, best_response

#: Slack allowed on the constraints when a solution is read back.
CONSTRAINT_TOLERANCE = 1e-7


@dataclass(frozen=True)
class EffortContract:
    """The cheapest contract that implements one effort (``wages`` is ``None`` if none does).

    Attributes:
        effort: the effort's name.
        implementable: whether any contract makes the agent choose it.
        wages: shape ``(num_outcomes,)``.
        expected_wage: under that effort.
        principal_profit: ``sum_o p[e, o] (v_o - w_o)``.
        agent_utility: the agent's expected utility (``>= reservation_utility``).
    """

    effort: str
    implementable: bool
    wages: np.ndarray | None = None
    expected_wage: float = float("nan")
    principal_profit: float = float("nan")
    agent_utility: float = float("nan")

    def to_dict(self, outcomes: Sequence[str]) -> dict[str, Any]:
        if not self.implementable:
            return {"effort": self.effort, "implementable": False}
        return {"effort": self.effort, "implementable": True, "wages": dict(zip(outcomes, self.wages.tolist())),
                "expected_wage": self.expected_wage, "principal_profit": self.principal_profit,
                "agent_utility": self.agent_utility}


@dataclass(frozen=True)
class FirstBest:
    """The benchmark with observable effort: a flat ``wage`` that just meets participation for ``effort``."""

    effort: str
    wage: float
    profit: float


@dataclass(frozen=True)
class ContractSolution:
    """The optimal contract and its accounts.

    Attributes:
        problem: the problem solved.
        wages: shape ``(num_outcomes,)``, the optimal contract.
        induced_effort: the effort it implements.
        principal_profit: the principal's expected profit.
        agent_utility: the agent's expected utility.
        agent_rent: ``agent_utility - reservation_utility`` (what limited liability leaves the agent).
        first_best: the benchmark with observable effort.
        agency_cost: ``first_best.profit - principal_profit`` (>= 0).
        by_effort: the cheapest contract for each effort.
    """

    problem: ContractProblem
    wages: np.ndarray
    induced_effort: str
    principal_profit: float
    agent_utility: float
    agent_rent: float
    first_best: FirstBest
    agency_cost: float
    by_effort: tuple[EffortContract, ...]

    def to_dict(self) -> dict[str, Any]:
        outcomes = self.problem.outcomes
        return {
            "problem": self.problem.to_dict(),
            "wages": dict(zip(outcomes, self.wages.tolist())),
            "induced_effort": self.induced_effort,
            "principal_profit": self.principal_profit,
            "agent_utility": self.agent_utility,
            "agent_rent": self.agent_rent,
            "worth_offering": self.principal_profit >= 0.0,  # the principal's outside option is 0
            "first_best_effort": self.first_best.effort,
            "first_best_wage": self.first_best.wage,
            "first_best_profit": self.first_best.profit,
            "agency_cost": self.agency_cost,
            "by_effort": [contract.to_dict(outcomes) for contract in self.by_effort],
        }


def _constraints(problem: ContractProblem, effort: int) -> tuple[np.ndarray, np.ndarray]:
    """``A x <= b`` for incentive compatibility against every other effort and participation."""
    p, c = problem.outcome_probs, problem.effort_costs
    rows, bounds = [], []
    for other in range(problem.num_efforts):
        if other != effort:
            rows.append(p[other] - p[effort])  # (p_e' - p_e) . x <= c_e' - c_e
            bounds.append(c[other] - c[effort])
    rows.append(-p[effort])  # p_e . x >= U0 + c_e
    bounds.append(-(problem.reservation_utility + c[effort]))
    return np.array(rows), np.array(bounds)


def implement(problem: ContractProblem, effort: int) -> EffortContract:
    """The cheapest contract that makes the agent choose ``effort`` (an index)."""
    name = problem.efforts[effort]
    a_ub, b_ub = _constraints(problem, effort)
    lower = 0.0 if problem.limited_liability else None
    weights = problem.outcome_probs[effort]
    # in utility space: the LP is the whole problem for a linear agent and a feasible start for a sqrt one
    lp = linprog(weights, A_ub=a_ub, b_ub=b_ub, bounds=[(lower, None)] * problem.num_outcomes, method="highs")
    if lp.status == 2:
        return EffortContract(name, False)
    if lp.status != 0:
        raise RuntimeError(f"the contract LP for effort {name!r} failed: {lp.message}")
    utilities = lp.x
    if problem.utility == "sqrt":
        qp = minimize(lambda x: float(weights @ x**2), utilities, jac=lambda x: 2.0 * weights * x, method="SLSQP",
                      bounds=[(0.0, None)] * problem.num_outcomes,
                      constraints=[{"type": "ineq", "fun": lambda x: b_ub - a_ub @ x, "jac": lambda x: -a_ub}],
                      options={"ftol": 1e-15, "maxiter": 1000})
        slack = float((a_ub @ qp.x - b_ub).max())
        if not qp.success or slack > CONSTRAINT_TOLERANCE:
            raise RuntimeError(f"the contract QP for effort {name!r} failed: {qp.message} (constraint slack {slack:.2g})")
        utilities = np.maximum(qp.x, 0.0)
    wages = utilities**2 if problem.utility == "sqrt" else utilities
    agent = float(problem.agent_utilities(wages)[effort])
    return EffortContract(name, True, wages, float(weights @ wages), float(problem.principal_profits(wages)[effort]),
                          agent)


def first_best(problem: ContractProblem) -> FirstBest:
    """The best effort and flat wage if the principal could see (and contract on) the effort."""
    needed = problem.reservation_utility + problem.effort_costs  # utility the wage must give, per effort
    if problem.utility == "sqrt":
        wages = np.maximum(needed, 0.0) ** 2
    else:
        wages = np.maximum(needed, 0.0) if problem.limited_liability else needed
    profits = problem.outcome_probs @ problem.principal_values - wages
    best = int(np.argmax(profits))
    return FirstBest(problem.efforts[best], float(wages[best]), float(profits[best]))


def evaluate(problem: ContractProblem, wages) -> dict[str, Any]:
    """What a given contract gets: the agent's choice (an effort name or ``"decline"``) and both sides' values."""
    wages = np.asarray(wages, dtype=np.float64)
    choice = best_response(problem, wages)
    if choice == problem.num_efforts:
        return {"effort": "decline", "principal_profit": 0.0, "agent_utility": problem.reservation_utility}
    return {"effort": problem.efforts[choice], "principal_profit": float(problem.principal_profits(wages)[choice]),
            "agent_utility": float(problem.agent_utilities(wages)[choice])}


def solve(problem: ContractProblem) -> ContractSolution:
    """The optimal contract: the cheapest contract for each effort, then the effort with the highest profit
    (ties: the lower index)."""
    by_effort = tuple(implement(problem, effort) for effort in range(problem.num_efforts))
    candidates = [contract for contract in by_effort if contract.implementable]
    if not candidates:  # cannot happen: a flat wage implements the cheapest effort
        raise RuntimeError("no effort is implementable")
    best = max(candidates, key=lambda contract: contract.principal_profit)  # max keeps the first of equals
    benchmark = first_best(problem)
    return ContractSolution(problem, best.wages, best.effort, best.principal_profit, best.agent_utility,
                            best.agent_utility - problem.reservation_utility, benchmark,
                            benchmark.profit - best.principal_profit, by_effort)
