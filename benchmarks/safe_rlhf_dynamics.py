"""Last-iterate convergence of Safe-RLHF primal-dual dynamics, against gradient descent-ascent and a fixed-lambda sweep.

On the two examples of ``safe_rlhf_v0`` and on random tabular problems (prompts x answers, uniform reference,
rewards and costs U(0, 1), beta 0.1, a threshold halfway between the smallest achievable cost and the
unconstrained optimum's), each method runs for a budget of policy updates and reports the last iterate's
``|lambda - lambda*|`` and constraint violation ``max(E[c] - d, 0)``, with ``lambda*`` from the exact solver:

- ``mmd + projected``: magnetic-mirror-descent policy steps (eta 10) against the projected multiplier rule
  (step 0.5), the library default;
- ``mmd + log``: the same policy steps against Safe RLHF's multiplicative rule;
- ``gda``: gradient descent-ascent (a gradient step on the policy's logits, eta 1; the projected rule);
- ``fixed-lambda sweep``: the budget spent on a grid of fixed multipliers (one exact best response each,
  ``pi_lambda``), keeping the grid point whose policy meets the threshold with the best value; its error is
  the grid's resolution.

Reported per method: the median and worst ``|lambda - lambda*|`` and violation over the problems, and the
ratio of gda's median error to mmd's (the baseline named in the ratio).

    nice -n 10 python benchmarks/safe_rlhf_dynamics.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from aligngames.envs.safe_rlhf.problems import SafeRLHFProblem, build
from aligngames.solvers.exact.safe_rlhf import policy_at, primal_dual, solve


def random_problem(rng: np.random.Generator, prompts: int, answers: int) -> SafeRLHFProblem:
    rewards, costs = rng.uniform(0, 1, (prompts, answers)), rng.uniform(0, 1, (prompts, answers))
    probs = rng.dirichlet(np.ones(prompts))
    loose = SafeRLHFProblem(tuple(f"x{i}" for i in range(prompts)), tuple(f"y{k}" for k in range(answers)), probs,
                            rewards, costs, beta=0.1, threshold=1.0)
    free_cost = loose.expected(policy_at(loose, 0.0), costs)
    threshold = 0.5 * (loose.min_cost() + free_cost)
    return SafeRLHFProblem(loose.prompts, loose.answers, probs, rewards, costs, beta=0.1, threshold=threshold)


def sweep(problem: SafeRLHFProblem, budget: int, high: float) -> float:
    """The best feasible grid multiplier among ``budget`` points on [0, high]."""
    best, best_value = high, -np.inf
    for multiplier in np.linspace(0.0, high, budget):
        policy = policy_at(problem, multiplier)
        if problem.expected(policy, problem.costs) <= problem.threshold + 1e-12:
            value = problem.expected(policy, problem.rewards) - problem.beta * problem.kl(policy)
            if value > best_value:
                best, best_value = float(multiplier), value
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=30, help="random problems (default: %(default)s)")
    parser.add_argument("--iterations", type=int, default=1000, help="policy updates per method (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/safe_rlhf_dynamics.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    problems = [build("comply_refuse"), build("two_prompts")]
    problems += [random_problem(rng, int(rng.integers(1, 5)), int(rng.integers(2, 7))) for _ in range(args.problems)]
    methods = {
        "mmd + projected": lambda p: primal_dual(p, args.iterations),
        "mmd + log": lambda p: primal_dual(p, args.iterations, multiplier_update="log"),
        "gda": lambda p: primal_dual(p, args.iterations, policy_update="gradient", policy_step=1.0),
    }
    errors = {name: [] for name in [*methods, "fixed-lambda sweep"]}
    violations = {name: [] for name in errors}
    started = time.perf_counter()
    for problem in problems:
        target = solve(problem).multiplier
        for name, run in methods.items():
            trace = run(problem)
            errors[name].append(abs(trace.multiplier[-1] - target))
            violations[name].append(trace.violation[-1])
        found = sweep(problem, args.iterations, high=2.0 * max(target, 1.0))
        errors["fixed-lambda sweep"].append(abs(found - target))
        policy = policy_at(problem, found)
        violations["fixed-lambda sweep"].append(max(problem.expected(policy, problem.costs) - problem.threshold, 0.0))
    seconds = time.perf_counter() - started
    rows = {name: {"median_error": float(np.median(errors[name])), "worst_error": float(np.max(errors[name])),
                   "median_violation": float(np.median(violations[name])), "worst_violation": float(np.max(violations[name]))}
            for name in errors}
    ratio = rows["gda"]["median_error"] / max(rows["mmd + projected"]["median_error"], 1e-300)
    print(f"{len(problems)} problems, {args.iterations} policy updates each, {seconds:.1f} s")
    print(f"{'method':<20} {'median |l - l*|':>16} {'worst |l - l*|':>15} {'median violation':>17} {'worst violation':>16}")
    for name, row in rows.items():
        print(f"{name:<20} {row['median_error']:>16.2e} {row['worst_error']:>15.2e} {row['median_violation']:>17.2e} "
              f"{row['worst_violation']:>16.2e}")
    print(f"gda / mmd + projected (median error): {ratio:.3g}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"problems": len(problems), "iterations": args.iterations, "seed": args.seed,
                                          "seconds": seconds, "methods": rows, "gda_over_mmd": ratio}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
