"""Representation quality of Fish et al.'s greedy slate against two baselines.

On a utility matrix (participants x candidate statements) each method picks a slate of k
statements with a balanced assignment:

- ``greedy``: aligngames.solvers.social_choice.generative.greedy_slate;
- ``top_mean`` (baseline): the k statements with the highest mean utility, participants assigned
  to them by the same balanced greedy matching (each round the coalition that rates the next
  statement highest);
- ``random`` (baseline): k random statements, participants assigned as for ``top_mean``.

Reported: mean rating of the assigned statement, the share of instances with a BJR violation, and
the greedy/baseline ratio of mean ratings. Instances: the shipped congestion-charge population
rated by the MiniLM estimator on the extractive statements, plus random 0..4 utility matrices.

    nice -n 10 python benchmarks/generative_slate_quality.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from aligngames.solvers.social_choice import generative as gsc


def assign_to(utilities: np.ndarray, slate: list[int]) -> np.ndarray:
    """A balanced assignment to a given slate: round j takes the r_j unmatched agents rating slate[j] highest."""
    num_agents = utilities.shape[0]
    unmatched = np.ones(num_agents, dtype=bool)
    assignment = np.full(num_agents, -1)
    for position, size in enumerate(gsc.coalition_sizes(num_agents, len(slate))):
        column = utilities[:, [slate[position]]]
        _, matched, _ = gsc.greedy_round(column, unmatched, size)
        assignment[matched] = position
        unmatched[matched] = False
    return assignment


def evaluate(utilities: np.ndarray, slate: list[int], assignment: np.ndarray) -> tuple[float, bool]:
    ratings = utilities[np.arange(utilities.shape[0]), np.asarray(slate)[assignment]]
    return float(ratings.mean()), gsc.bjr_violation(utilities, slate, assignment) is not None


def methods(utilities: np.ndarray, k: int, rng: np.random.Generator) -> dict[str, tuple[float, bool]]:
    greedy, assignment = gsc.greedy_slate(utilities, k)
    top = [int(s) for s in np.argsort(-utilities.mean(axis=0), kind="stable")[:k]]
    chosen = [int(s) for s in rng.choice(utilities.shape[1], size=k, replace=utilities.shape[1] < k)]
    return {"greedy": evaluate(utilities, greedy, assignment),
            "top_mean": evaluate(utilities, top, assign_to(utilities, top)),
            "random": evaluate(utilities, chosen, assign_to(utilities, chosen))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--random-instances", type=int, default=200)
    parser.add_argument("--slate-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/generative_slate_quality.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    population = gsc.load_population()
    statements = gsc.ExtractiveGenerator()(population.participants, population.question, rng)
    shipped = gsc.EmbeddingUtilityEstimator()(population.participants, population.question, statements)
    results = {"shipped": methods(shipped, args.slate_size, rng)}
    scores: dict[str, list[tuple[float, bool]]] = {"greedy": [], "top_mean": [], "random": []}
    for _ in range(args.random_instances):
        utilities = rng.integers(0, 5, size=(int(rng.integers(8, 21)), int(rng.integers(5, 30))))
        for name, value in methods(utilities, args.slate_size, rng).items():
            scores[name].append(value)
    results["random"] = {name: (float(np.mean([v[0] for v in values])), float(np.mean([v[1] for v in values])))
                         for name, values in scores.items()}
    print(f"slate size {args.slate_size}; shipped population ({len(statements)} extractive statements, MiniLM ratings) "
          f"and {args.random_instances} random 0..4 utility matrices")
    print(f"{'instances':<10} {'method':<10} {'mean rating':>12} {'BJR violated':>13} {'greedy / method':>16}")
    for instances, table in results.items():
        for name, (rating, violated) in table.items():
            ratio = table["greedy"][0] / rating if rating > 0 else float("nan")
            print(f"{instances:<10} {name:<10} {rating:>12.3f} {float(violated):>13.2f} {ratio:>16.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"slate_size": args.slate_size, "random_instances": args.random_instances,
                                          "results": results}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
