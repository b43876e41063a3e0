"""zero-sum Nash equilibrium by LP (HiGHS); maximal lotteries

``aligngames solve nash --env preference_game_v0 -e mode=tabular -e scenario=food --out RUN_DIR``: the
equilibrium of :func:`aligngames.solvers.equilibrium.nash.solve_zero_sum` and its exploitability.
"""

from __future__ import annotations

import argparse

from aligngames.cli import driver
from aligngames.solvers.equilibrium.games import zero_sum_matrix
from aligngames.solvers.equilibrium.nash import NashConfig, exploitability, solve_zero_sum

#: The most actions of each player listed in the printed summary.
SHOWN_ACTIONS = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    driver.add_game_arguments(parser)


def run(args: argparse.Namespace) -> int:
    source = driver.load_game(args)
    solution = solve_zero_sum(source.game)
    matrix = zero_sum_matrix(source.game, "Nash LP")
    result = {
        "value": solution.value,
        "row": driver.named(solution.row, matrix.row_names),
        "col": driver.named(solution.col, matrix.col_names),
        "exploitability": exploitability(matrix.payoffs, solution.row, solution.col),
    }
    driver.write_run(args.out, "nash", NashConfig(), source, result, trace=None)
    summary = f"value {solution.value:+.6f}; exploitability {result['exploitability']:.3g}"
    for player, strategy in (("row", result["row"]), ("column", result["col"])):
        support = sorted(((p, name) for name, p in strategy.items() if p > 1e-9), reverse=True)
        shown = ", ".join(f"{name} {p:.4f}" for p, name in support[:SHOWN_ACTIONS])
        hidden = len(support) - SHOWN_ACTIONS
        summary += f"\n{player} player: {shown}" + (f" (+{hidden} more)" if hidden > 0 else "")
    driver.report(args.out, summary)
    return 0
