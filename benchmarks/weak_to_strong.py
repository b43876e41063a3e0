"""Weak-to-strong generalization (Burns et al. 2023): exact PGR tables, the auxiliary-confidence loss across
seeds and, optionally, a frozen-MiniLM student on the packaged labelled task.

- exact classification: weak / weak-to-strong / ceiling accuracy and PGR for each named example of
  ``weak_to_strong_v0`` and each student family (random flips denoised, systematic ones copied);
- exact linear-Gaussian: the closed-form projections on three cases (correlated features, PGR = rho^2; weak
  features in the strong span, PGR = 0; a student that loses the weak-only feature, PGR = -1/3), each next to
  ordinary least squares on ``--samples`` samples with the evaluator's bootstrap interval;
- the logistic student on 30% random flips (two Gaussian classes, d = 50, 200 training examples) with and
  without the auxiliary-confidence loss (alpha = 1), over ``--seeds`` seeds;
- ``--embeddings``: a logistic head on frozen all-MiniLM-L6-v2 embeddings of the harm task's items, trained on
  the compliance rule's labels (systematic errors) or on random flips at the same rate, alpha 0 and 1, scored
  on the held-out items with bootstrap intervals (embedding 944 items takes a few minutes on a CPU).

    python benchmarks/weak_to_strong.py [--seeds 10] [--samples 20000] [--embeddings]

Prints the tables and writes ``benchmarks/results/weak_to_strong.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from aligngames.envs.weak_to_strong.problems import EXAMPLES, build
from aligngames.solvers.exact.weak_to_strong import (
    FAMILIES,
    LinearGaussianProblem,
    evaluate_scores,
    logistic_random_flips,
    simulate_linear,
    solve_classification,
    solve_linear,
)

LINEAR_CASES = {
    "correlated rho 0.6": LinearGaussianProblem.from_subsets([[1.0, 0.6], [0.6, 1.0]], [0.0, 1.0], [0], [1], 0.25),
    "weak inside strong": LinearGaussianProblem.from_subsets([[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.0]],
                                                             [1.0, -1.0, 0.5], [0], [0, 1], 0.25),
    "loses the weak-only feature": LinearGaussianProblem.from_subsets(np.eye(3), [1.0, 1.0, 2.0], [0, 1], [1, 2]),
}


def classification_table() -> list[dict]:
    rows = []
    print(f"{'example':<18} {'family':<10} {'weak':>6} {'w2s':>6} {'ceiling':>8} {'PGR':>7}")
    for example in EXAMPLES:
        for family in FAMILIES:
            solution = solve_classification(build(example), family)
            rows.append({"example": example, **solution.to_dict()})
            print(f"{example:<18} {family:<10} {solution.weak_accuracy:>6.3f} {solution.weak_to_strong_accuracy:>6.3f} "
                  f"{solution.ceiling_accuracy:>8.3f} {solution.pgr:>7.3f}")
    return rows


def linear_table(samples: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    print(f"\n{'linear case':<28} {'weak MSE':>9} {'w2s MSE':>8} {'ceil MSE':>9} {'PGR':>7}   sampled PGR [95%]")
    for name, problem in LINEAR_CASES.items():
        exact = solve_linear(problem)
        fits = simulate_linear(problem, samples, samples, rng)
        report = evaluate_scores(-fits.weak_squared_errors, -fits.weak_to_strong_squared_errors,
                                 -fits.ceiling_squared_errors, rng, resamples=1000)
        rows.append({"case": name, "exact": exact.to_dict(), "sampled": report.to_dict()})
        print(f"{name:<28} {exact.weak_mse:>9.4f} {exact.weak_to_strong_mse:>8.4f} {exact.ceiling_mse:>9.4f} "
              f"{exact.pgr:>7.3f}   {report.pgr.value:.3f} [{report.pgr.low:.3f}, {report.pgr.high:.3f}]")
    return rows


def auxiliary_table(seeds: int) -> dict:
    plain = [logistic_random_flips(np.random.default_rng(seed)) for seed in range(seeds)]
    confident = [logistic_random_flips(np.random.default_rng(seed), aux_alpha=1.0) for seed in range(seeds)]
    gains = np.array([c.pgr - p.pgr for p, c in zip(plain, confident)])
    summary = {"seeds": seeds, "weak_accuracy": plain[0].weak_accuracy,
               "ceiling_accuracy_mean": float(np.mean([p.ceiling_accuracy for p in plain])),
               "plain_accuracy_mean": float(np.mean([p.weak_to_strong_accuracy for p in plain])),
               "auxiliary_accuracy_mean": float(np.mean([c.weak_to_strong_accuracy for c in confident])),
               "plain_pgr_mean": float(np.mean([p.pgr for p in plain])),
               "auxiliary_pgr_mean": float(np.mean([c.pgr for c in confident])),
               "seeds_improved": int((gains > 0).sum()), "pgr_gains": gains.tolist()}
    print(f"\nlogistic student, 30% random flips, {seeds} seeds: weak {summary['weak_accuracy']:.3f}, ceiling "
          f"{summary['ceiling_accuracy_mean']:.3f}; student {summary['plain_accuracy_mean']:.3f} (PGR "
          f"{summary['plain_pgr_mean']:+.3f}) plain, {summary['auxiliary_accuracy_mean']:.3f} (PGR "
          f"{summary['auxiliary_pgr_mean']:+.3f}) with the auxiliary-confidence loss; improved on "
          f"{summary['seeds_improved']} of {seeds} seeds")
    return summary


def embedding_table(seed: int) -> list[dict]:
    from aligngames.solvers.training.weak_to_strong import embedding_experiment

    rows = []
    print(f"\n{'MiniLM probe, labeller':<24} {'alpha':>5} {'weak':>6} {'w2s':>6} {'ceiling':>8}   PGR [95%]")
    for labeller in ("compliance_rule", "random_flips"):
        for alpha in (0.0, 1.0):
            result = embedding_experiment(np.random.default_rng(seed), labeller=labeller, aux_alpha=alpha)
            report = result.report
            rows.append(result.to_dict())
            print(f"{labeller:<24} {alpha:>5g} {report.weak.value:>6.3f} {report.weak_to_strong.value:>6.3f} "
                  f"{report.ceiling.value:>8.3f}   {report.pgr.value:+.3f} [{report.pgr.low:+.3f}, {report.pgr.high:+.3f}]")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the auxiliary-loss comparison (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=20000, help="samples of the linear fits (default: %(default)s)")
    parser.add_argument("--embeddings", action="store_true", help="also run the frozen-MiniLM experiment (minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/weak_to_strong.json")
    args = parser.parse_args()
    start = time.perf_counter()
    result = {"seed": args.seed, "classification": classification_table(),
              "linear": linear_table(args.samples, np.random.default_rng(args.seed)),
              "auxiliary_confidence": auxiliary_table(args.seeds)}
    if args.embeddings:
        result["embeddings"] = embedding_table(args.seed)
    result["seconds"] = time.perf_counter() - start
    print(f"{result['seconds']:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
