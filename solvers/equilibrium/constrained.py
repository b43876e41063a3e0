"""Zero-sum matrix games with a budget on the expected cost of a strategy (a constrained preference game).

With row payoffs ``A`` and a :class:`~aligngames.game.BudgetConstraint` (costs ``c``, budget ``d``), the row
player's strategies are ``Pi_d = {pi in simplex : c . pi <= d}``. Two games, both LPs (scipy HiGHS):

- ``comparator="unconstrained"``: ``max_{pi in Pi_d} min_j (A^T pi)_j``, a constrained policy against a
  worst-case unconstrained comparator; the comparator's strategy is the dual of the ``j`` constraints;
- ``comparator="constrained"``: both players of a symmetric game are bound by the same budget (a coupled
  constraint), ``max_{pi in Pi_d} min_{pi' in Pi_d} pi^T A pi'``. The inner minimum over the polytope is
  replaced by its LP dual, ``max_{u, mu >= 0} u - mu d`` subject to ``(A^T pi)_j >= u - mu c_j``, so the
  whole problem is one LP; its duals give the comparator's strategy, which lies in ``Pi_d`` too.

The budget's *shadow price* is how much the game's value rises per unit of budget: the dual value of the row
player's constraint ``c . pi <= d``, less (with a constrained comparator) the comparator's ``mu``, since the same
budget also loosens the comparator. A symmetric game with a coupled budget has value 0 for every budget, so
its shadow price is 0; ``row_budget_price`` keeps the row player's own dual value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

from aligngames.game import BudgetConstraint


@dataclass(frozen=True)
class ConstrainedSolution:
    """The equilibrium of a budgeted zero-sum game.

    Attributes:
        row: the budgeted row strategy.
        col: the comparator's strategy.
        value: the row player's guaranteed payoff.
        shadow_price: the value's increase per unit of budget (0 when the budget is slack).
        row_budget_price: the dual value of the row player's own budget constraint.
        row_cost, col_cost: the strategies' expected costs.
        constraint: the budget solved with.
    """

    row: np.ndarray
    col: np.ndarray
    value: float
    shadow_price: float
    row_budget_price: float
    row_cost: float
    col_cost: float
    constraint: BudgetConstraint

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "shadow_price": self.shadow_price, "row_budget_price": self.row_budget_price,
                "row_cost": self.row_cost,
                "col_cost": self.col_cost, "budget": self.constraint.to_dict()}


def _strategy(values: np.ndarray) -> np.ndarray:
    strategy = np.clip(values, 0.0, None)
    return strategy / strategy.sum()


def solve_budgeted(payoffs, constraint: BudgetConstraint) -> ConstrainedSolution:
    """The equilibrium of the row-payoff matrix ``payoffs`` under ``constraint`` (see the module docstring)."""
    matrix = np.asarray(payoffs, dtype=np.float64)
    n, m = matrix.shape
    costs = constraint.costs
    if costs.shape != (n,):
        raise ValueError(f"the budget has {costs.size} costs for {n} row actions")
    constrained = constraint.comparator == "constrained"
    if constrained and n != m:
        raise ValueError(f"comparator='constrained' binds both players with the same costs: the game must be square, "
                         f"got {n} x {m}")
    # variables: pi (n), u (free), and mu >= 0 when the comparator is constrained; maximise u - mu d
    extra = 2 if constrained else 1
    objective = np.zeros(n + extra)
    objective[n] = -1.0
    # for each comparator action j: u - mu c_j - (A^T pi)_j <= 0
    rows = np.hstack([-matrix.T, np.ones((m, 1))])
    if constrained:
        objective[n + 1] = constraint.budget
        rows = np.hstack([rows, -costs[:, None]])
    budget_row = np.concatenate([costs, np.zeros(extra)])
    result = linprog(objective, A_ub=np.vstack([rows, budget_row]), b_ub=np.concatenate([np.zeros(m), [constraint.budget]]),
                     A_eq=np.concatenate([np.ones(n), np.zeros(extra)])[None, :], b_eq=[1.0],
                     bounds=[(0, None)] * n + [(None, None)] + ([(0, None)] if constrained else []), method="highs")
    if result.status != 0:
        raise RuntimeError(f"the budgeted game's LP failed: {result.message}")
    row = _strategy(result.x[:n])
    col = _strategy(-result.ineqlin.marginals[:m])
    value = float(-result.fun) + 0.0  # no -0.0
    own = max(float(-result.ineqlin.marginals[m]), 0.0)
    shadow = own - float(result.x[n + 1]) if constrained else own
    return ConstrainedSolution(row, col, value, shadow + 0.0, own, float(costs @ row), float(costs @ col), constraint)


def best_response_value(payoffs, opponent: np.ndarray, constraint: BudgetConstraint | None, *, player: str) -> float:
    """The most ``player`` (``"row"`` or ``"col"``) gets against ``opponent``'s strategy, within the budget when one
    binds that player (an LP over the budget polytope), in the row player's payoff units (the column player
    minimises them, so its value is returned as the row payoff it can force)."""
    matrix = np.asarray(payoffs, dtype=np.float64)
    values = matrix @ opponent if player == "row" else -(opponent @ matrix)
    bound = constraint is not None and (player == "row" or constraint.comparator == "constrained")
    if not bound:
        best = float(values.max())
    else:
        result = linprog(-values, A_ub=constraint.costs[None, :], b_ub=[constraint.budget],
                         A_eq=np.ones((1, len(values))), b_eq=[1.0], bounds=(0, None), method="highs")
        best = float(-result.fun)
    return best if player == "row" else -best


def budgeted_exploitability(payoffs, row: np.ndarray, col: np.ndarray, constraint: BudgetConstraint) -> float:
    """NashConv within the feasible sets: the row's best feasible gain against ``col`` plus the column's against
    ``row`` (0 exactly at an equilibrium of the budgeted game)."""
    matrix = np.asarray(payoffs, dtype=np.float64)
    current = float(row @ matrix @ col)
    return (best_response_value(matrix, col, constraint, player="row") - current) + \
        (current - best_response_value(matrix, row, constraint, player="col"))
