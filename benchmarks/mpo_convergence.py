"""Last-iterate convergence of MPO on 100 random preference games: the paper's fixed schedule, the
adaptive schedule, and the baselines MMD, Nash-MD, mirror descent and SPO.

The games (drawn from ``--seed``): ``--populations`` annotator populations (``random`` scenario of the
preference game: 5 to 1024 answers, log-uniform; 3 to 7 groups, Dirichlet weights; only populations whose
majority has no Condorcet winner, so the equilibrium is mixed) and ``--skew`` random skew-symmetric games
of 64 answers (``P = 1/2 + (U - U^T) / 2``, ``U ~ U(0, 1)``). With ``L = max |P - 1/2|``:

- ``mpo_adaptive``: :func:`aligngames.solvers.equilibrium.mpo.solve_adaptive` with its defaults
  (``alpha_0 = L/2``, ``eta = 2/L``, reset tolerance 0.1, magnet mix 0.5), run until NashConv <= 1e-7 or ``--budget``
  payoff products; reported: NashConv after ``--baseline-budget`` products (the others' budget), at the
  end, and the products it needed to reach 1e-6;
- ``mpo``: the paper's schedule, ``alpha = L/2``, ``eta = 1/L``, ``K = 5`` (the benchmark of
  ``benchmarks/solvers.py``);
- ``mmd`` (``alpha = L/2``, ``eta = 1/L``), ``nash_md`` (``tau = L/2``, decreasing step), ``mirror_descent``
  (``alpha = 0``): last iterates; ``spo`` (hedge learner, 16 samples per step): its average iterate, the
  one its guarantee is about.

The other methods get ``--baseline-budget`` products with the payoff matrix (mirror-prox steps count
two), where MMD and Nash-MD have long reached their regularised equilibria (running them longer would
cost an hour and change nothing). The table gives the median and worst NashConv over the games and how
many games end below 1e-6.

    nice -n 10 python benchmarks/mpo_convergence.py            # about 20 min on 2 cores
    python benchmarks/mpo_convergence.py --quick               # a smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from aligngames.envs.preference_game import scenarios
from aligngames.solvers.equilibrium import mmd, mpo, nash, nash_md, spo

TARGET = 1e-6


def random_games(populations: int, skew: int, seed: int, max_answers: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    games = []
    while len(games) < populations:
        answers = round(float(np.exp(rng.uniform(np.log(5), np.log(max_answers)))))
        groups = int(rng.integers(3, 8))
        scenario_seed = int(rng.integers(2**31))
        preferences = scenarios.random_scenario(answers, groups, scenario_seed).preferences
        if np.count_nonzero(nash.maximal_lottery(2 * preferences - 1) > 1e-9) > 1:
            games.append({"game": f"population n={answers} groups={groups} seed={scenario_seed}", "preferences": preferences})
    for index in range(skew):
        upper = rng.uniform(0.0, 1.0, (64, 64))
        games.append({"game": f"skew n=64 #{index}", "preferences": 0.5 + (upper - upper.T) / 2})
    return games


def run_methods(preferences: np.ndarray, budget: int, baseline_budget: int) -> dict:
    scale = float(np.abs(preferences - 0.5).max())
    alpha, eta = scale / 2, 1.0 / scale
    adaptive = mpo.solve_adaptive(preferences, steps=budget // 2, tolerance=1e-7, track_average=False)
    reached = np.nonzero(adaptive.exploitability <= TARGET)[0]
    at_baseline_budget = adaptive.exploitability[min(baseline_budget // 2, len(adaptive.exploitability)) - 1]
    results = {"mpo_adaptive": {"nash_conv": float(at_baseline_budget),
                                "nash_conv_at_end": float(adaptive.exploitability[-1]),
                                "products_to_target": int(2 * (reached[0] + 1)) if len(reached) else None,
                                "magnet_resets": adaptive.magnet_resets}}
    budget = baseline_budget
    fixed = mpo.solve(preferences, alpha=alpha, eta=eta, inner_steps=5, outer_steps=budget // 5, track_average=False)
    results["mpo"] = {"nash_conv": float(fixed.exploitability[-1])}
    for name, settings in (("mmd", {"alpha": alpha, "eta": eta}), ("mirror_descent", {"alpha": 0.0, "eta": eta})):
        results[name] = {"nash_conv": float(mmd.solve(preferences - 0.5, iterations=budget, track_average=False,
                                                      **settings).exploitability[-1])}
    results["nash_md"] = {"nash_conv": float(nash_md.solve(
        preferences, tau=alpha, iterations=budget, step_schedule=nash_md.decreasing_step(alpha, eta),
        track_average=False).exploitability[-1])}
    results["spo"] = {"nash_conv": float(spo.solve(preferences, iterations=budget, track_average=False)
                                         .average_exploitability[-1])}
    return results


def summarise(rows: list[dict]) -> dict:
    summary = {}
    for method in rows[0]["methods"]:
        values = np.array([row["methods"][method]["nash_conv"] for row in rows])
        summary[method] = {"median": float(np.median(values)), "worst": float(values.max()),
                           "below_target": int(np.count_nonzero(values <= TARGET)), "games": len(values)}
    at_end = np.array([row["methods"]["mpo_adaptive"]["nash_conv_at_end"] for row in rows])
    summary["mpo_adaptive"].update(median_at_end=float(np.median(at_end)), worst_at_end=float(at_end.max()),
                                   below_target_at_end=int(np.count_nonzero(at_end <= TARGET)))
    needed = [row["methods"]["mpo_adaptive"]["products_to_target"] for row in rows]
    reached = [value for value in needed if value is not None]
    summary["mpo_adaptive"]["products_to_target_median"] = float(np.median(reached)) if reached else None
    summary["mpo_adaptive"]["products_to_target_worst"] = max(reached) if len(reached) == len(needed) else None
    return summary


def print_table(summary: dict, budget: int, baseline_budget: int) -> None:
    print(f"\nNashConv after {baseline_budget} payoff products (last iterate; SPO: average), over {summary['mpo']['games']} games")
    print(f"{'method':16s} {'median':>10s} {'worst':>10s} {'<= 1e-6':>8s}")
    for method, values in summary.items():
        print(f"{method:16s} {values['median']:10.1e} {values['worst']:10.1e} {values['below_target']:>4d}/{values['games']}")
    adaptive = summary["mpo_adaptive"]
    print(f"mpo_adaptive within {budget} products: median {adaptive['median_at_end']:.1e}, worst {adaptive['worst_at_end']:.1e}, "
          f"{adaptive['below_target_at_end']}/{adaptive['games']} at most 1e-6")
    print(f"mpo_adaptive reaches 1e-6 after a median {adaptive['products_to_target_median']} products, "
          f"worst {adaptive['products_to_target_worst']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--populations", type=int, default=80)
    parser.add_argument("--skew", type=int, default=20)
    parser.add_argument("--budget", type=int, default=300_000, help="products with the payoff matrix for mpo_adaptive")
    parser.add_argument("--baseline-budget", type=int, default=20_000, help="products with the payoff matrix for the others")
    parser.add_argument("--max-answers", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="8 small games, budgets 8000 and 4000")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mpo_convergence.json"))
    args = parser.parse_args()
    if args.quick:
        args.populations, args.skew, args.budget, args.baseline_budget, args.max_answers = 6, 2, 8000, 4000, 32
    started = time.perf_counter()
    games = random_games(args.populations, args.skew, args.seed, args.max_answers)
    rows = []
    for game in tqdm(games, desc="games"):
        rows.append({"game": game["game"], "answers": len(game["preferences"]),
                     "methods": run_methods(game["preferences"], args.budget, args.baseline_budget)})
    summary = summarise(rows)
    print_table(summary, args.budget, args.baseline_budget)
    result = {"settings": vars(args), "target": TARGET, "summary": summary, "games": rows,
              "seconds": time.perf_counter() - started}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
