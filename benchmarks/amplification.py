"""IDA and recursive reward modelling: accuracy by depth per decomposition, the vote threshold, and the
compute / oversight trade-off, with the exact recursion checked against Monte Carlo on explicit trees.

- accuracy by depth: ``a_k`` for ``k = 0..depth`` for parity (b = 2), majority over random leaves (b = 3) and
  redundant vote (b = 3), at each distillation error in ``--errors``; the baseline is ``a_0`` (no amplification);
- the threshold: the deep-limit accuracy of vote (b = 3, 5) on a grid of per-level noise, next to the closed
  form threshold (1/6, 7/30);
- IDA against RRM (same reward-model error, plus an RL error) by depth;
- the trade-off table for a depth-``--depth`` vote task: model calls, overseer calls and accuracy per number of
  amplified levels, each accuracy next to a Monte Carlo estimate on explicit trees (its deviation in standard
  errors is reported; exact and simulated agree when it is small).

    python benchmarks/amplification.py
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from aligngames.envs.amplification.problems import AmplificationProblem
from aligngames.solvers.exact.amplification import (
    limit_accuracy,
    rrm_accuracies,
    simulate_trees,
    tradeoff_table,
    vote_threshold,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=4, help="depth of the root task (default: %(default)s)")
    parser.add_argument("--errors", default="0.0,0.05,0.15", help="distillation errors (default: %(default)s)")
    parser.add_argument("--trees", type=int, default=20000, help="Monte Carlo trees per row (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/amplification.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    errors = [float(part) for part in args.errors.split(",")]

    by_depth = []
    print(f"distilled accuracy a_k by depth (a_0 = 0.9), k = 0..{args.depth}")
    for rule, branching in (("parity", 2), ("majority", 3), ("vote", 3)):
        for error in errors:
            problem = AmplificationProblem(depth=args.depth, branching=branching, rule=rule, base_accuracy=0.9,
                                           distillation_error=error)
            accuracies = problem.distilled_accuracies().tolist()
            by_depth.append({"rule": rule, "branching": branching, "distillation_error": error, "accuracy": accuracies})
            print(f"  {rule:<8} b={branching} eps={error:<5g} " + " ".join(f"{a:.4f}" for a in accuracies))

    thresholds = []
    print("vote deep limit (a_0 = 0.9) by per-level noise")
    for branching in (3, 5):
        grid = [0.0, 0.05, 0.1, 0.15, 0.16, 0.17, 0.2, 0.23, 0.24]
        limits = [limit_accuracy("vote", branching, noise, 0.9) for noise in grid]
        thresholds.append({"branching": branching, "threshold": vote_threshold(branching), "noise": grid, "limit": limits})
        print(f"  b={branching} threshold {vote_threshold(branching):.4f}: "
              + " ".join(f"{n:g}->{a:.3f}" for n, a in zip(grid, limits)))

    problem = AmplificationProblem(depth=args.depth, branching=3, rule="vote", base_accuracy=0.9, distillation_error=0.05,
                                   overseer_error=0.02)
    _, agent = rrm_accuracies(problem, reward_model_error=0.05, policy_error=0.05)
    print("IDA vs RRM (vote b=3, eps = eps_rm = 0.05, eps_rl = 0.05, delta = 0.02)")
    print("  IDA " + " ".join(f"{a:.4f}" for a in problem.distilled_accuracies()))
    print("  RRM " + " ".join(f"{a:.4f}" for a in agent))

    rows = tradeoff_table(problem)
    print("levels  model calls  overseer calls  exact acc  Monte Carlo  deviation (SE)")
    for row in rows:
        estimate = simulate_trees(problem, row["levels"], args.trees, rng)
        standard_error = math.sqrt(max(row["accuracy"] * (1 - row["accuracy"]), 1e-12) / args.trees)
        row["monte_carlo"] = estimate
        row["deviation_se"] = (estimate - row["accuracy"]) / standard_error
        print(f"{row['levels']:>6}  {row['model_calls']:>11}  {row['overseer_calls']:>14}  {row['accuracy']:.6f}  "
              f"{estimate:.6f}  {row['deviation_se']:+.2f}")
    seconds = time.perf_counter() - started
    print(f"{seconds:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "depth": args.depth, "trees": args.trees, "seed": args.seed, "seconds": seconds, "by_depth": by_depth,
        "thresholds": thresholds, "ida": problem.distilled_accuracies().tolist(), "rrm": agent.tolist(),
        "tradeoff": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
