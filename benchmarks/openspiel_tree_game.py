"""The generic tree python game (``openspiel_python_game.TreeGame``) against OpenSpiel's own Kuhn poker, and the
size and speed of the library's game trees.

    nice -n 10 python benchmarks/openspiel_tree_game.py            # about 5 s on 2 cores
    python benchmarks/openspiel_tree_game.py --quick               # fewer repeats, no CIRL horizon 5

Writes ``benchmarks/results/openspiel_tree_game.json`` (``--out`` to change). Measured in one run:

1. ``kuhn``: one ``exploitability.nash_conv`` of the uniform policy and one ``reduced_normal_form`` on OpenSpiel's
   C++ ``kuhn_poker`` (the baseline), its python ``python_kuhn_poker`` and :func:`kuhn_poker_tree` served by
   ``TreeGame``, best of ``repeats``; ratios against the C++ game.
2. ``trees``: for the library's trees (off switch, tabular debate, CIRL ``meal_choice``), the number of nodes and
   decision nodes, the time to build the tree and the game, and one OpenSpiel ``nash_conv`` of the library's
   exact solution (with its value).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyspiel
from open_spiel.python import policy as policy_lib
from open_spiel.python.algorithms import exploitability
from open_spiel.python.games import kuhn_poker as python_kuhn_poker  # noqa: F401 (registers python_kuhn_poker)

from aligngames.envs.cirl.scenarios import build as build_scenario
from aligngames.envs.off_switch.priors import DiscretePrior
from aligngames.solvers.equilibrium.openspiel_bridge import reduced_normal_form
from aligngames.solvers.equilibrium.openspiel_python_game import (
    assistance_tree,
    kuhn_poker_tree,
    off_switch_tree,
    sparse_debate_tree,
    tree_game,
)
from aligngames.solvers.equilibrium.openspiel_tree_policies import (
    assistance_policy,
    off_switch_policy,
    sparse_debate_policy,
)
from aligngames.solvers.exact import assistance

RESULTS = Path(__file__).resolve().parent / "results" / "openspiel_tree_game.json"


def best_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def count_nodes(game: pyspiel.Game) -> tuple[int, int]:
    """(all nodes, decision nodes) of ``game``."""
    nodes = decisions = 0
    stack = [game.new_initial_state()]
    while stack:
        state = stack.pop()
        nodes += 1
        if state.is_terminal():
            continue
        if state.is_chance_node():
            stack.extend(state.child(action) for action, _ in state.chance_outcomes())
        else:
            decisions += 1
            stack.extend(state.child(action) for action in state.legal_actions())
    return nodes, decisions


def kuhn_rows(repeats: int) -> list[dict]:
    games = {"kuhn_poker (C++, baseline)": pyspiel.load_game("kuhn_poker"),
             "python_kuhn_poker (OpenSpiel python)": pyspiel.load_game("python_kuhn_poker"),
             "kuhn_poker_tree (TreeGame)": tree_game(kuhn_poker_tree())}
    rows = []
    for name, game in games.items():
        rows.append({"game": name,
                     "nash_conv_s": best_time(lambda g=game: exploitability.nash_conv(g, policy_lib.TabularPolicy(g)),
                                              repeats),
                     "reduced_normal_form_s": best_time(lambda g=game: reduced_normal_form(g), repeats)})
    for row in rows:
        row["nash_conv_ratio"] = row["nash_conv_s"] / rows[0]["nash_conv_s"]
        row["reduced_normal_form_ratio"] = row["reduced_normal_form_s"] / rows[0]["reduced_normal_form_s"]
    return rows


def tree_rows(quick: bool) -> list[dict]:
    prior = DiscretePrior((-1.0, 0.5, 2.0), (0.3, 0.3, 0.4))
    weights = (2.0, 1.0, 1.0, 1.0)
    cases = [("off_switch, 3 values of U", lambda: off_switch_tree(prior), lambda g: off_switch_policy(g, prior)),
             ("debate, weights 2,1,1,1, budget 3", lambda: sparse_debate_tree(weights, 3),
              lambda g: sparse_debate_policy(g, weights, 3))]
    for horizon in (4,) if quick else (4, 5):
        problem = build_scenario("meal_choice").with_settings(horizon=horizon)
        cases.append((f"cirl meal_choice, horizon {horizon}", lambda p=problem: assistance_tree(p),
                      lambda g, p=problem: assistance_policy(g, assistance.solve(p))))
    rows = []
    for name, build, policy in cases:
        start = time.perf_counter()
        game = tree_game(build())
        build_s = time.perf_counter() - start
        nodes, decisions = count_nodes(game)
        exact = policy(game)
        start = time.perf_counter()
        value = exploitability.nash_conv(game, exact)
        rows.append({"tree": name, "nodes": nodes, "decision_nodes": decisions, "build_s": build_s,
                     "nash_conv_s": time.perf_counter() - start, "nash_conv_of_exact_solution": value})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and no CIRL horizon 5")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    kuhn = kuhn_rows(2 if args.quick else 5)
    trees = tree_rows(args.quick)
    print(f"{'Kuhn poker':40s} {'nash_conv s':>12s} {'ratio':>7s} {'RNF s':>9s} {'ratio':>7s}")
    for row in kuhn:
        print(f"{row['game']:40s} {row['nash_conv_s']:12.5f} {row['nash_conv_ratio']:7.1f} "
              f"{row['reduced_normal_form_s']:9.5f} {row['reduced_normal_form_ratio']:7.1f}")
    print(f"\n{'tree':36s} {'nodes':>8s} {'decisions':>9s} {'build s':>8s} {'nash_conv s':>11s} {'NashConv':>9s}")
    for row in trees:
        print(f"{row['tree']:36s} {row['nodes']:8d} {row['decision_nodes']:9d} {row['build_s']:8.3f} "
              f"{row['nash_conv_s']:11.3f} {row['nash_conv_of_exact_solution']:9.2g}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"quick": args.quick, "kuhn": kuhn, "trees": trees}, indent=2) + "\n")


if __name__ == "__main__":
    main()
