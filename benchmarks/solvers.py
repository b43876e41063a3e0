"""Solver benchmark: ours against OpenSpiel (and nashpy) in one run on one machine.

    nice -n 10 python benchmarks/solvers.py            # full run (about 5 minutes), writes benchmarks/results/solvers.json
    python benchmarks/solvers.py --quick               # small sizes only, for a smoke test
    nice -n 10 python benchmarks/solvers.py --lp-only  # section 1 only, printed (writes no JSON)

Sections (every speed figure is a ratio against a named baseline measured in the same run):

1. ``lp``: zero-sum Nash by LP on random games ``U(-1, 1)^(n x n)``, n = 10, 100, 500, 1000: time of
   :func:`aligngames.solvers.equilibrium.nash.solve_zero_sum` (default ``method="auto"``: HiGHS on small games, the
   checked dense interior-point method on large ones), of the same with ``method="highs"``, of
   OpenSpiel's ``lp_solver`` (cvxpy + ECOS) and of nashpy's ``linear_program``; value agreement with OpenSpiel.
2. ``mmd``: MMD (alpha 0.1, step 0.1) on the same games: time per iteration of ours and of OpenSpiel's
   sequence-form ``mmd_dilated`` on the turn-based version of the game (the same update; its iterates
   agree with ours), exploitability of our last and average iterates after 10 / 100 / 1000 iterations;
   a batch of 1000 games of 10 x 10 in one array against OpenSpiel one game at a time.
3. ``kuhn``: OpenSpiel's ``mmd_dilated`` on Kuhn poker as a reference point (time per iteration, NashConv).
4. ``preference``: MPO, fixed-magnet MMD (alpha and alpha/10), Nash-MD and mirror descent on cyclic preference games
   (annotator populations of 5 groups without a Condorcet winner, 4 / 64 / 1024 answers, and a random
   skew-symmetric 64-answer game as a hard case): last-iterate exploitability after a fixed budget.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from aligngames.envs.preference_game import scenarios
from aligngames.solvers.equilibrium import mmd, mpo, nash, nash_md

RESULTS = Path(__file__).resolve().parent / "results" / "solvers.json"


def timed(function, *args, repeats: int = 1, **kwargs):
    """``(function(*args, **kwargs), best wall time in seconds over repeats)``."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


def random_game(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (size, size))


def openspiel_matrix_game(payoffs: np.ndarray, turn_based: bool = False):
    import pyspiel

    game = pyspiel.create_matrix_game(payoffs.tolist(), (-payoffs).tolist())
    return pyspiel.convert_to_turn_based(game) if turn_based else game


# --- 1. LP -----------------------------------------------------------------------------------------------

def bench_lp(sizes: list[int]) -> list[dict]:
    from open_spiel.python.algorithms import lp_solver

    try:
        import nashpy
    except ImportError:
        nashpy = None
    rows = []
    for size in sizes:
        payoffs = random_game(size)
        repeats = 5 if size <= 100 else 1
        ours, ours_time = timed(nash.solve_zero_sum, payoffs, repeats=repeats)
        highs, highs_time = timed(nash.solve_zero_sum, payoffs, method="highs", repeats=repeats)
        game = openspiel_matrix_game(payoffs)
        (_, _, os_value, _), os_time = timed(lp_solver.solve_zero_sum_matrix_game, game, repeats=repeats)
        row = {"size": size, "ours_s": ours_time, "openspiel_s": os_time, "speedup_vs_openspiel": os_time / ours_time,
               "highs_s": highs_time, "highs_speedup_vs_openspiel": os_time / highs_time,
               "speedup_vs_highs": highs_time / ours_time,
               "value": ours.value, "value_gap_vs_openspiel": abs(ours.value - float(os_value)),
               "value_gap_highs": abs(ours.value - highs.value),
               "ours_exploitability": nash.exploitability(payoffs, ours.row, ours.col)}
        if nashpy is not None and size <= 500:
            (nash_row, nash_col), nashpy_time = timed(nashpy.Game(payoffs).linear_program, repeats=repeats)
            row.update(nashpy_s=nashpy_time, speedup_vs_nashpy=nashpy_time / ours_time,
                       value_gap_vs_nashpy=abs(float(nash_row @ payoffs @ nash_col) - ours.value))
        rows.append(row)
        print(f"  lp n={size}: ours {ours_time:.4f}s, HiGHS alone {highs_time:.4f}s ({row['speedup_vs_highs']:.1f}x), "
              f"OpenSpiel {os_time:.4f}s ({row['speedup_vs_openspiel']:.1f}x), "
              f"value gap {row['value_gap_vs_openspiel']:.1e}", flush=True)
    return rows


# --- 2. MMD on matrix games --------------------------------------------------------------------------

ALPHA, ETA = 0.1, 0.1


def _our_step_time(payoffs: np.ndarray, iterations: int) -> float:
    *batch, m, n = payoffs.shape
    row, col = np.full((*batch, m), 1.0 / m), np.full((*batch, n), 1.0 / n)
    start = time.perf_counter()
    for _ in range(iterations):
        row, col = mmd.mmd_step(row, col, payoffs, eta=ETA, alpha=ALPHA)
    return (time.perf_counter() - start) / iterations


def _openspiel_mmd(payoffs: np.ndarray, iterations: int):
    from open_spiel.python.algorithms import mmd_dilated

    game = openspiel_matrix_game(payoffs, turn_based=True)
    solver, setup = timed(mmd_dilated.MMDDilatedEnt, game, alpha=ALPHA, stepsize=ETA)
    start = time.perf_counter()
    for _ in range(iterations):
        solver.update_sequences()
    per_iteration = (time.perf_counter() - start) / iterations
    probabilities = solver.get_policies().action_probability_array
    return setup, per_iteration, probabilities[0, :payoffs.shape[0]], probabilities[1, :payoffs.shape[1]]


def bench_mmd(sizes: list[int], batch_games: int) -> dict:
    rows = []
    for size in sizes:
        payoffs = random_game(size)
        ours_step = _our_step_time(payoffs, 2000 if size <= 100 else 200)
        checkpoints = [10, 100, 1000]
        result = mmd.solve(payoffs, alpha=ALPHA, eta=ETA, iterations=max(checkpoints))
        os_iterations = 100 if size <= 100 else (5 if size <= 500 else 2)
        setup, os_step, os_row, os_col = _openspiel_mmd(payoffs, os_iterations)
        ours_after = mmd.solve(payoffs, alpha=ALPHA, eta=ETA, iterations=os_iterations, track_average=False)
        row = {"size": size, "ours_s_per_iteration": ours_step, "openspiel_s_per_iteration": os_step,
               "openspiel_setup_s": setup, "speedup_vs_openspiel": os_step / ours_step,
               "iterate_gap_vs_openspiel": float(max(np.abs(ours_after.row - os_row).max(), np.abs(ours_after.col - os_col).max())),
               "compared_after_iterations": os_iterations,
               "exploitability_last": {str(k): float(result.exploitability[k - 1]) for k in checkpoints},
               "exploitability_average": {str(k): float(result.average_exploitability[k - 1]) for k in checkpoints}}
        rows.append(row)
        print(f"  mmd n={size}: ours {ours_step * 1e6:.1f}us/it, OpenSpiel {os_step * 1e6:.0f}us/it "
              f"({row['speedup_vs_openspiel']:.0f}x), iterates agree to {row['iterate_gap_vs_openspiel']:.1e}", flush=True)
    games = np.random.default_rng(1).uniform(-1.0, 1.0, (batch_games, 10, 10))
    batch_step = _our_step_time(games, 200)
    _, single_os_step, _, _ = _openspiel_mmd(games[0], 200)
    batch = {"games": batch_games, "size": 10, "ours_s_per_iteration_all_games": batch_step,
             "openspiel_s_per_iteration_one_game": single_os_step,
             "openspiel_s_per_iteration_all_games_estimated": single_os_step * batch_games,
             "speedup_vs_openspiel": single_os_step * batch_games / batch_step}
    print(f"  mmd batch of {batch_games} 10x10 games: ours {batch_step * 1e3:.2f}ms/it for all, OpenSpiel "
          f"{single_os_step * 1e3:.2f}ms/it per game ({batch['speedup_vs_openspiel']:.0f}x)", flush=True)
    return {"alpha": ALPHA, "eta": ETA, "games": rows, "batch": batch}


# --- 3. Kuhn poker reference -------------------------------------------------------------------------------

def bench_kuhn(iterations: list[int], alpha: float = 0.05) -> dict:
    import pyspiel
    from open_spiel.python.algorithms import exploitability, mmd_dilated

    game = pyspiel.load_game("kuhn_poker")
    solver = mmd_dilated.MMDDilatedEnt(game, alpha=alpha)
    records, done, elapsed = {}, 0, 0.0
    for target in iterations:
        start = time.perf_counter()
        while done < target:
            solver.update_sequences()
            done += 1
        elapsed += time.perf_counter() - start
        records[str(target)] = {"nash_conv_last": float(exploitability.nash_conv(game, solver.get_policies())),
                                "nash_conv_average": float(exploitability.nash_conv(game, solver.get_avg_policies()))}
    result = {"alpha": alpha, "stepsize": solver.stepsize, "s_per_iteration": elapsed / done, "after": records}
    print(f"  kuhn (OpenSpiel mmd_dilated): {result['s_per_iteration'] * 1e3:.2f}ms/it, NashConv after {done}: "
          f"last {records[str(done)]['nash_conv_last']:.4f}, average {records[str(done)]['nash_conv_average']:.4f}", flush=True)
    return result


# --- 4. preference games -------------------------------------------------------------------------------------

def cyclic_population(num_answers: int, groups: int = 5) -> tuple[np.ndarray, int]:
    """The first ``random`` scenario (seed 0, 1, ...) whose majority has no Condorcet winner."""
    for seed in range(100):
        preferences = scenarios.random_scenario(num_answers, groups, seed).preferences
        if np.count_nonzero(nash.maximal_lottery(2 * preferences - 1) > 1e-9) > 1:
            return preferences, seed
    raise RuntimeError(f"no cyclic population of {num_answers} answers among 100 seeds")


def bench_preference(cases: list[tuple[str, np.ndarray, int]]) -> list[dict]:
    rows = []
    for name, preferences, budget in cases:
        scale = float(np.abs(preferences - 0.5).max())  # L
        alpha, eta = scale / 2, 1.0 / scale
        lottery = nash.maximal_lottery(2 * preferences - 1)
        methods = {
            "mpo": (mpo.solve, preferences, {"alpha": alpha, "eta": eta, "inner_steps": 5, "outer_steps": budget // 5}),
            "mmd": (mmd.solve, preferences - 0.5, {"alpha": alpha, "eta": eta, "iterations": budget}),
            # a ten times smaller alpha shrinks the regularisation gap but does not remove it
            "mmd_small_alpha": (mmd.solve, preferences - 0.5, {"alpha": alpha / 10, "eta": eta / 5, "iterations": budget}),
            "nash_md": (nash_md.solve, preferences,
                        {"tau": alpha, "iterations": budget, "step_schedule": nash_md.decreasing_step(alpha, eta)}),
            "mirror_descent": (mmd.solve, preferences - 0.5, {"alpha": 0.0, "eta": eta, "iterations": budget}),
        }
        row = {"game": name, "answers": len(preferences), "lottery_support": int(np.count_nonzero(lottery > 1e-9)),
               "budget_steps": budget, "alpha": alpha, "eta": eta, "mpo_inner_steps": 5, "methods": {}}
        for method, (solve, game, settings) in methods.items():
            result, seconds = timed(solve, game, track_average=False, **settings)
            policy = getattr(result, "policy", None)
            policy = result.row if policy is None else policy
            row["methods"][method] = {"last_exploitability": float(result.exploitability[-1]),
                                      "average_exploitability": float(result.average_exploitability[-1]),
                                      "distance_to_lottery": float(np.abs(policy - lottery).max()), "seconds": seconds}
        rows.append(row)
        print(f"  {name}: " + ", ".join(f"{m} {v['last_exploitability']:.1e}" for m, v in row["methods"].items())
              + f" (last iterate after {budget} steps)", flush=True)
    return rows


# --- table and main -------------------------------------------------------------------------------------------

def print_lp_table(rows: list[dict]) -> None:
    print("\nZero-sum Nash by LP (random U(-1,1) games)")
    print(f"{'n':>6} {'ours s':>10} {'HiGHS s':>10} {'OpenSpiel s':>12} {'speedup':>8} {'HiGHS speedup':>14} "
          f"{'ours/HiGHS':>11} {'nashpy s':>10} {'value gap':>10}")
    for row in rows:
        print(f"{row['size']:>6} {row['ours_s']:>10.4f} {row['highs_s']:>10.4f} {row['openspiel_s']:>12.4f} "
              f"{row['speedup_vs_openspiel']:>7.1f}x {row['highs_speedup_vs_openspiel']:>13.1f}x "
              f"{row['speedup_vs_highs']:>10.1f}x {row.get('nashpy_s', float('nan')):>10.4f} {row['value_gap_vs_openspiel']:>10.1e}")


def print_tables(results: dict) -> None:
    print_lp_table(results["lp"])
    print(f"\nMMD per iteration (alpha {ALPHA}, eta {ETA}); exploitability of our last / average iterate")
    print(f"{'n':>6} {'ours us':>9} {'OpenSpiel us':>13} {'speedup':>8} {'agree':>8}   last@10/100/1000   average@10/100/1000")
    for row in results["mmd"]["games"]:
        last = "/".join(f"{v:.1e}" for v in row["exploitability_last"].values())
        average = "/".join(f"{v:.1e}" for v in row["exploitability_average"].values())
        print(f"{row['size']:>6} {row['ours_s_per_iteration'] * 1e6:>9.1f} {row['openspiel_s_per_iteration'] * 1e6:>13.0f} "
              f"{row['speedup_vs_openspiel']:>7.0f}x {row['iterate_gap_vs_openspiel']:>8.0e}   {last}   {average}")
    batch = results["mmd"]["batch"]
    print(f"batch of {batch['games']} games 10x10: ours {batch['ours_s_per_iteration_all_games'] * 1e3:.2f} ms/iteration for all; "
          f"OpenSpiel {batch['openspiel_s_per_iteration_one_game'] * 1e3:.2f} ms per game ({batch['speedup_vs_openspiel']:.0f}x)")
    kuhn = results["kuhn"]
    print(f"\nKuhn poker, OpenSpiel mmd_dilated (alpha {kuhn['alpha']}): {kuhn['s_per_iteration'] * 1e3:.2f} ms/iteration; NashConv "
          + ", ".join(f"{k}: last {v['nash_conv_last']:.4f} avg {v['nash_conv_average']:.4f}" for k, v in kuhn["after"].items()))
    print("\nCyclic preference games: last-iterate exploitability (NashConv) after the budget")
    print(f"{'game':<22} {'support':>7} {'steps':>6} {'MPO':>9} {'MMD':>9} {'MMD a/10':>9} {'Nash-MD':>9} {'MD':>9} {'MD avg':>9}")
    for row in results["preference"]:
        methods = row["methods"]
        print(f"{row['game']:<22} {row['lottery_support']:>7} {row['budget_steps']:>6} "
              + " ".join(f"{methods[m]['last_exploitability']:>9.1e}" for m in ("mpo", "mmd", "mmd_small_alpha", "nash_md", "mirror_descent"))
              + f" {methods['mirror_descent']['average_exploitability']:>9.1e}")


def machine() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "packages": {}}
    for package in ("numpy", "scipy", "open_spiel", "cvxpy", "ecos", "nashpy"):
        try:
            info["packages"][package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info["packages"][package] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: pool.get(k) for k in ("internal_api", "architecture", "num_threads")} for pool in threadpool_info()]
    except ImportError:
        pass
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke test, not for the README)")
    parser.add_argument("--lp-only", action="store_true", help="the LP section only: print its table, write no JSON")
    parser.add_argument("--out", default=str(RESULTS), help="where to write the JSON results")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads for both sides (OpenBLAS's threaded matrix-vector products slow down "
                             "badly on a busy 2-core machine; 0 leaves the BLAS default)")
    args = parser.parse_args()
    if args.blas_threads > 0:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.blas_threads, user_api="blas"):
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    sizes = [10, 100] if args.quick else [10, 100, 500, 1000]
    if args.lp_only:
        print("1. LP", flush=True)
        print_lp_table(bench_lp(sizes))
        return
    preference_sizes = [(4, 20_000), (64, 20_000)] + ([] if args.quick else [(1024, 50_000)])
    cases = []
    for size, budget in preference_sizes:
        preferences, seed = cyclic_population(size)
        cases.append((f"population n={size} s={seed}", preferences, budget))
    skew = np.random.default_rng(0).uniform(0.0, 1.0, (64, 64))
    cases.append(("random skew n=64", 0.5 + (skew - skew.T) / 2, 20_000))

    started = time.perf_counter()
    print("1. LP", flush=True)
    results = {"machine": machine(), "quick": args.quick, "blas_threads": args.blas_threads, "lp": bench_lp(sizes)}
    print("2. MMD", flush=True)
    results["mmd"] = bench_mmd(sizes, batch_games=1000)
    print("3. Kuhn poker", flush=True)
    results["kuhn"] = bench_kuhn([10, 100, 1000])
    print("4. preference games", flush=True)
    results["preference"] = bench_preference(cases)
    results["total_seconds"] = time.perf_counter() - started
    print_tables(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {out} ({results['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
