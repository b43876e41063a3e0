"""Sequence-form MMD benchmark: ours against OpenSpiel's ``mmd_dilated`` and CFR+ on Kuhn and Leduc poker.

    nice -n 10 python benchmarks/sequence_form.py        # full run (about 1-2 minutes on 2 cores)
    python benchmarks/sequence_form.py --quick           # tiny budgets, a smoke test (a few seconds)

Writes ``benchmarks/results/sequence_form.json`` (``--out`` to change). Everything is measured in the same
run on the same machine:

1. ``speed``: time per iteration of :class:`aligngames.solvers.equilibrium.sequence_form.SequenceFormMMD`
   (one update, no NashConv), of OpenSpiel's ``mmd_dilated.MMDDilatedEnt.update_sequences`` and of
   OpenSpiel's ``cfr.CFRPlusSolver.evaluate_and_update_policy``, and the ratios ``theirs / ours``; also
   the time of one sequence-form NashConv (ours) against ``exploitability.nash_conv`` (OpenSpiel).
2. ``convergence``: NashConv after budgets of iterations for ours with a fixed (centre) magnet, ours with
   a plain magnet reset every ``K`` updates (MPO), ours with the adaptive reset (reset when the regularised
   gap is at most ``reset_tolerance`` times NashConv, fixed-share ``magnet_mix`` of the initial magnet; the
   number of resets is recorded), OpenSpiel's MMD (same alpha and step as our fixed-magnet run: their iterates are
   ours, checked here by ``max_policy_difference``) and CFR+. MMD rows are the *last* iterate; CFR+ is
   reported for its *average* policy (what its guarantee is about) and, for reference, its current one.
   OpenSpiel's MMD and CFR+ are Python tree walks (Leduc: about 0.3 s and 0.15 s per iteration), so on
   Leduc they get fewer iterations than ours (``budgets`` in the JSON say which).
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
import pyspiel
from open_spiel.python.algorithms import cfr, exploitability, mmd_dilated

from aligngames.solvers.equilibrium.sequence_form import SequenceFormMMD, build_sequence_form

RESULTS = Path(__file__).resolve().parent / "results" / "sequence_form.json"

#: alpha, eta, K (plain reset) and the adaptive rule per game. Kuhn: NashConv ~ 3e-9 after 500 updates.
#: Leduc: the chance-weighted payoffs are small (max |A| = 0.11), so alpha must be small too; the plain
#: reset levels off near 0.09 there, the adaptive reset with fixed-share mixing does not (see the docs).
SETTINGS = {
    "kuhn_poker": {"alpha": 0.1, "eta": 4.0, "magnet_reset": 10, "reset_tolerance": 1e-3, "magnet_mix": 0.3},
    "leduc_poker": {"alpha": 0.003, "eta": 1.0, "magnet_reset": 1000, "reset_tolerance": 1e-3, "magnet_mix": 0.3},
}
BUDGETS = {
    "full": {"kuhn_poker": {"ours": [10, 100, 1000], "openspiel_mmd": [10, 100, 1000], "cfr_plus": [10, 100, 1000]},
             "leduc_poker": {"ours": [30, 300, 3000, 20000, 50000], "openspiel_mmd": [30], "cfr_plus": [30, 300]}},
    "quick": {"kuhn_poker": {"ours": [10, 100], "openspiel_mmd": [10], "cfr_plus": [10]},
              "leduc_poker": {"ours": [3, 300], "openspiel_mmd": [3], "cfr_plus": [3]}},
}


def machine() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "packages": {}}
    for package in ("numpy", "scipy", "open_spiel"):
        try:
            info["packages"][package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info["packages"][package] = None
    return info


def run_ours(form, budgets: list[int], *, alpha: float, eta: float, magnet_reset: int | None = None,
             reset_tolerance: float | None = None, magnet_mix: float = 0.0) -> dict:
    """Our MMD to the largest budget; NashConv / value / resets so far at each budget; step time without
    the NashConv of the rows (with ``reset_tolerance`` it includes the solver's own gap checks)."""
    solver = SequenceFormMMD(form, alpha=alpha, eta=eta, magnet_reset=magnet_reset,
                             reset_tolerance=reset_tolerance, magnet_mix=magnet_mix)
    rows, step_seconds, done = [], 0.0, 0
    for budget in budgets:
        start = time.perf_counter()
        while done < budget:
            solver.step()
            done += 1
        step_seconds += time.perf_counter() - start
        rows.append({"iterations": budget, "nash_conv": solver.nash_conv(), "value": solver.value(),
                     "resets": len(solver.reset_iterations)})
    return {"rows": rows, "seconds_per_iteration": step_seconds / done, "solver": solver}


def run_openspiel_mmd(game, budgets: list[int], *, alpha: float, eta: float) -> dict:
    solver = mmd_dilated.MMDDilatedEnt(game, alpha=alpha, stepsize=eta)
    rows, step_seconds, done = [], 0.0, 0
    for budget in budgets:
        start = time.perf_counter()
        while done < budget:
            solver.update_sequences()
            done += 1
        step_seconds += time.perf_counter() - start
        rows.append({"iterations": budget, "nash_conv": exploitability.nash_conv(game, solver.get_policies())})
    return {"rows": rows, "seconds_per_iteration": step_seconds / done, "solver": solver}


def run_cfr_plus(game, budgets: list[int]) -> dict:
    solver = cfr.CFRPlusSolver(game)
    rows, step_seconds, done = [], 0.0, 0
    for budget in budgets:
        start = time.perf_counter()
        while done < budget:
            solver.evaluate_and_update_policy()
            done += 1
        step_seconds += time.perf_counter() - start
        rows.append({"iterations": budget,
                     "nash_conv_average": exploitability.nash_conv(game, solver.average_policy()),
                     "nash_conv_current": exploitability.nash_conv(game, solver.current_policy())})
    return {"rows": rows, "seconds_per_iteration": step_seconds / done}


def bench_game(name: str, budgets: dict[str, list[int]]) -> dict:
    game = pyspiel.load_game(name)
    start = time.perf_counter()
    form = build_sequence_form(game)
    build_seconds = time.perf_counter() - start
    settings = SETTINGS[name]
    alpha, eta = settings["alpha"], settings["eta"]
    fixed = run_ours(form, budgets["ours"], alpha=alpha, eta=eta, magnet_reset=None)
    reset = run_ours(form, budgets["ours"], alpha=alpha, eta=eta, magnet_reset=settings["magnet_reset"])
    adaptive = run_ours(form, budgets["ours"], alpha=alpha, eta=eta, reset_tolerance=settings["reset_tolerance"],
                        magnet_mix=settings["magnet_mix"])
    theirs = run_openspiel_mmd(game, budgets["openspiel_mmd"], alpha=alpha, eta=eta)
    # the same number of updates on our side, for the iterate agreement check
    check = SequenceFormMMD(form, alpha=alpha, eta=eta)
    for _ in range(budgets["openspiel_mmd"][-1]):
        check.step()
    difference = float(np.abs(theirs["solver"].get_policies().action_probability_array
                              - form.to_tabular_policy(check.policies).action_probability_array).max())
    cfr_plus = run_cfr_plus(game, budgets["cfr_plus"])

    solver = reset["solver"]
    start = time.perf_counter()
    ours_nash_conv = solver.nash_conv()
    ours_nash_conv_seconds = time.perf_counter() - start
    start = time.perf_counter()
    openspiel_nash_conv = exploitability.nash_conv(game, form.to_tabular_policy(solver.policies))
    openspiel_nash_conv_seconds = time.perf_counter() - start

    ours_time = fixed["seconds_per_iteration"]
    return {
        "game": name,
        "sequences": [tree.num_sequences for tree in form.trees],
        "infosets": [tree.num_infosets for tree in form.trees],
        "payoff_nonzeros": int(form.payoffs.nnz),
        "build_seconds": build_seconds,
        "settings": settings,
        "budgets": budgets,
        "speed": {
            "ours_mmd_s_per_iter": ours_time,
            "ours_mmd_reset_s_per_iter": reset["seconds_per_iteration"],
            "ours_mmd_adaptive_reset_s_per_iter": adaptive["seconds_per_iteration"],
            "openspiel_mmd_s_per_iter": theirs["seconds_per_iteration"],
            "cfr_plus_s_per_iter": cfr_plus["seconds_per_iteration"],
            "openspiel_mmd_over_ours": theirs["seconds_per_iteration"] / ours_time,
            "cfr_plus_over_ours": cfr_plus["seconds_per_iteration"] / ours_time,
            "ours_nash_conv_s": ours_nash_conv_seconds,
            "openspiel_nash_conv_s": openspiel_nash_conv_seconds,
            "nash_conv_agreement": abs(ours_nash_conv - openspiel_nash_conv),
        },
        "convergence": {
            "ours_mmd_fixed_magnet": fixed["rows"],
            "ours_mmd_magnet_reset": reset["rows"],
            "ours_mmd_adaptive_reset": adaptive["rows"],
            "openspiel_mmd": theirs["rows"],
            "cfr_plus": cfr_plus["rows"],
        },
        "max_policy_difference_vs_openspiel_mmd": difference,
    }


def print_tables(results: dict) -> None:
    print("\nTime per iteration (ms) and ratios against ours (fixed-magnet MMD), same run")
    print(f"{'game':<12} {'ours':>9} {'OS mmd':>9} {'CFR+':>9} {'OS/ours':>9} {'CFR+/ours':>10} {'iterate diff':>13}")
    for row in results["games"]:
        s = row["speed"]
        print(f"{row['game']:<12} {1e3 * s['ours_mmd_s_per_iter']:>9.3f} {1e3 * s['openspiel_mmd_s_per_iter']:>9.2f} "
              f"{1e3 * s['cfr_plus_s_per_iter']:>9.2f} {s['openspiel_mmd_over_ours']:>9.0f} "
              f"{s['cfr_plus_over_ours']:>10.0f} {row['max_policy_difference_vs_openspiel_mmd']:>13.1e}")
    print("\nNashConv after a budget of iterations (MMD: last iterate; CFR+: average, current in brackets)")
    print(f"{'game':<12} {'method':<26} {'iters':>7} {'NashConv':>10} {'resets':>7}")
    for row in results["games"]:
        conv = row["convergence"]
        for method in ("ours_mmd_fixed_magnet", "ours_mmd_magnet_reset", "ours_mmd_adaptive_reset", "openspiel_mmd"):
            for entry in conv[method]:
                resets = f"{entry['resets']:>7}" if "resets" in entry else ""
                print(f"{row['game']:<12} {method:<26} {entry['iterations']:>7} {entry['nash_conv']:>10.2e} {resets}")
        for entry in conv["cfr_plus"]:
            print(f"{row['game']:<12} {'cfr_plus (average)':<26} {entry['iterations']:>7} "
                  f"{entry['nash_conv_average']:>10.2e} ({entry['nash_conv_current']:.2e})")
    kuhn = next(row for row in results["games"] if row["game"] == "kuhn_poker")
    print()
    for method in ("ours_mmd_magnet_reset", "ours_mmd_adaptive_reset"):
        last = kuhn["convergence"][method][-1]
        print(f"Kuhn value at the last iterate ({method}): {last['value']:.10f} (exact -1/18 = {-1 / 18:.10f})")
    leduc = next(row for row in results["games"] if row["game"] == "leduc_poker")
    last = leduc["convergence"]["ours_mmd_adaptive_reset"][-1]
    print(f"Leduc value at the last iterate (adaptive reset): {last['value']:.6f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (a smoke test, not for the docs)")
    parser.add_argument("--out", default=str(RESULTS), help="where to write the JSON results")
    args = parser.parse_args()
    started = time.perf_counter()
    budgets = BUDGETS["quick" if args.quick else "full"]
    results = {"machine": machine(), "quick": args.quick, "games": []}
    for name in ("kuhn_poker", "leduc_poker"):
        print(name, flush=True)
        results["games"].append(bench_game(name, budgets[name]))
    results["total_seconds"] = time.perf_counter() - started
    print_tables(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {out} ({results['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
