"""zero-sum Nash equilibrium by LP (HiGHS); maximal lotteries

``aligngames solve nash --env preference_game_v0 -e mode=tabular -e scenario=food --out RUN_DIR``: the
equilibrium of :func:`aligngames.solvers.equilibrium.nash.solve_zero_sum` and its exploitability. A game
with a budget (``-e costs=[0,1,0.5] -e budget=0.2 [-e comparator=constrained]``) is solved as a budgeted
game (:func:`aligngames.solvers.equilibrium.constrained.solve_budgeted`), with the budget's shadow price.
"""

from __future__ import annotations

import argparse

from aligngames.cli import driver
from aligngames.solvers.equilibrium.constrained import budgeted_exploitability, solve_budgeted
from aligngames.solvers.equilibrium.games import zero_sum_matrix
from aligngames.solvers.equilibrium.nash import NashConfig, exploitability, solve_zero_sum

#: The most actions of each player listed in the printed summary.
SHOWN_ACTIONS = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    driver.add_game_arguments(parser)


def run(args: argparse.Namespace) -> int:
    source = driver.load_game(args, budget_ok=True)
    matrix = zero_sum_matrix(source.game, "Nash LP")
    if source.constraint is None:
        solution = solve_zero_sum(source.game)
        gap = exploitability(matrix.payoffs, solution.row, solution.col)
    else:
        solution = solve_budgeted(matrix.payoffs, source.constraint)
        gap = budgeted_exploitability(matrix.payoffs, solution.row, solution.col, source.constraint)
    result = {
        "value": solution.value,
        "row": driver.named(solution.row, matrix.row_names),
        "col": driver.named(solution.col, matrix.col_names),
        "exploitability": gap,
    }
    if source.constraint is not None:
        result["budget"] = solution.to_dict()
    driver.write_run(args.out, "nash", NashConfig(), source, result, trace=None)
    summary = f"value {solution.value:+.6f}; exploitability {result['exploitability']:.3g}"
    if source.constraint is not None:
        summary += (f"\nbudget {source.constraint.budget:g} ({source.constraint.comparator} comparator): shadow price "
                    f"{solution.shadow_price:.6g}, row cost {solution.row_cost:.6g}, column cost {solution.col_cost:.6g}")
    for player, strategy in (("row", result["row"]), ("column", result["col"])):
        support = sorted(((p, name) for name, p in strategy.items() if p > 1e-9), reverse=True)
        shown = ", ".join(f"{name} {p:.4f}" for p, name in support[:SHOWN_ACTIONS])
        hidden = len(support) - SHOWN_ACTIONS
        summary += f"\n{player} player: {shown}" + (f" (+{hidden} more)" if hidden > 0 else "")
    driver.report(args.out, summary)
    return 0
