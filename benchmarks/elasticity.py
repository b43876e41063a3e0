"""Alignment elasticity (Ji et al. 2024) in the categorical model: half-undo data against the pre-training size.

Two behaviours (refuse, comply), alignment onto refuse with ``N_align`` examples, undo onto comply, in the
pooled maximum-likelihood view and the elastic view of :mod:`aligngames.solvers.exact.elasticity` (stages with
a pull back to pre-training of stiffness ``N_pre``, training time ``eta`` per example). For a grid of ``N_pre``
and both directions (forward: the aligned behaviour has pre-training mass ``q``; reverse: ``1 - q``) it reports
the ``N_undo`` that removes half of the alignment and ``N_align / N_half``, and the remaining fraction over a grid
of ``N_undo`` at the default ``N_pre``; it writes the JSON and, next to it, a PNG of the remaining fraction.

    nice -n 10 python benchmarks/elasticity.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from aligngames.solvers.exact.elasticity import VIEWS, ElasticityProblem, half_undo, sweep


def plot(curves: dict, out: Path) -> None:
    import matplotlib  # lazily: only the benchmark draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for axis, direction in zip(axes, ("forward", "reverse")):
        for view in VIEWS:
            rows = curves[direction][view]["rows"]
            axis.plot([row["n_undo"] for row in rows], [row["remaining"] for row in rows], label=view)
        axis.axhline(0.5, color="grey", linewidth=0.5)
        axis.set_xscale("symlog", linthresh=1.0)
        axis.set_ylim(-1.0, 1.05)
        axis.set_xlim(0.0, max(row["n_undo"] for row in rows))
        axis.set_xlabel("N_undo")
        axis.set_title(f"{direction}: align onto mass {curves[direction]['p_pre'][0 if direction == 'forward' else 1]:g}")
    axes[0].set_ylabel("remaining alignment")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--q", type=float, default=0.1, help="pre-training mass of refuse (default: %(default)s)")
    parser.add_argument("--n-align", type=float, default=100.0)
    parser.add_argument("--n-pre", type=float, default=1000.0, help="the N_undo curves' N_pre (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--out", default="benchmarks/results/elasticity.json")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    p_pre, refuse, comply = np.array([args.q, 1 - args.q]), np.array([1.0, 0.0]), np.array([0.0, 1.0])
    table = []
    for n_pre in (0.0, 100.0, 1000.0, 1e4, 1e5, 1e6):
        forward = ElasticityProblem(p_pre, refuse, comply, n_pre, args.n_align, args.learning_rate)
        for direction, problem in (("forward", forward), ("reverse", forward.reversed())):
            row = {"n_pre": n_pre, "direction": direction}
            for view in VIEWS:
                half = half_undo(problem, view)
                row[f"{view}_half_undo"] = half
                row[f"{view}_ratio"] = args.n_align / half if np.isfinite(half) else 0.0
            table.append(row)
    problem = ElasticityProblem(p_pre, refuse, comply, args.n_pre, args.n_align, args.learning_rate)
    grid = [0.0, *np.geomspace(1, 1e4, 33).tolist()]
    curves = {"forward": sweep(problem, grid), "reverse": sweep(problem.reversed(), grid)}
    seconds = time.perf_counter() - started
    print(f"q {args.q:g}, N_align {args.n_align:g}, eta {args.learning_rate:g}; N_half = undo examples that remove "
          f"half the alignment, ratio = N_align / N_half ({seconds:.2f} s)")
    print(f"{'N_pre':>9} {'direction':<9} {'pooled N_half':>14} {'ratio':>8} {'elastic N_half':>15} {'ratio':>8}")
    for row in table:
        print(f"{row['n_pre']:>9g} {row['direction']:<9} {row['pooled_half_undo']:>14.4g} {row['pooled_ratio']:>8.3g} "
              f"{row['elastic_half_undo']:>15.4g} {row['elastic_ratio']:>8.3g}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"q": args.q, "n_align": args.n_align, "learning_rate": args.learning_rate,
                               "seconds": seconds, "half_undo": table, "curves_n_pre": args.n_pre, "curves": curves},
                              indent=1) + "\n")
    print(f"wrote {out}")
    if not args.no_plot:
        plot(curves, out.with_suffix(".png"))
        print(f"wrote {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
