"""exact minimax value of sparse-evidence debate (debate_v0 tabular): the honest debater's advantage

``aligngames solve sparse_debate --weights 3,2,2,1,1,1,1 --budget 4`` prints, per budget, the probability that
the judge names the truth with the honest debater first and second, with random reveals, and the honest
advantage (:mod:`aligngames.solvers.exact.sparse_debate`).
"""

from __future__ import annotations

import argparse

from aligngames.envs.debate.sparse import DEFAULT_WEIGHTS
from aligngames.solvers.exact.sparse_debate import solve_sparse_debate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default=",".join(f"{w:g}" for w in DEFAULT_WEIGHTS), help="comma-separated weights w of the truth w.x > 0")
    parser.add_argument("--budget", type=int, nargs="+", default=None,
                        help="features revealed in all (default: every budget 1..n)")
    parser.add_argument("--feature-prior", type=float, default=0.5)


def run(args: argparse.Namespace) -> int:
    weights = [float(w) for w in args.weights.split(",")]
    budgets = args.budget or list(range(1, len(weights) + 1))
    header = f"{'budget':>6} {'honest first':>13} {'liar first':>11} {'random reveals':>15} {'honest advantage':>17}"
    lines = [f"sparse-evidence debate, weights {weights}, P(x_i = +1) = {args.feature_prior}: "
             f"P(judge names the truth)", header]
    for budget in budgets:
        values = solve_sparse_debate(weights, budget, args.feature_prior)
        lines.append(f"{budget:>6} {values.honest_first:>13.4f} {values.liar_first:>11.4f} "
                     f"{values.random_reveals:>15.4f} {values.honest_advantage:>+17.4f}")
    print("\n".join(lines))
    return 0
