"""The plots of a language-mode run folder: ``win_rate.png`` (evaluation points) and ``training.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Algorithms whose sampled opponent is the policy itself: their mean reward is 1/2 by construction.
SELF_PLAY = ("mpo", "spo")


def plot_run(out: Path, lines: list[dict[str, Any]], algorithm: str) -> None:
    """Draw both plots from the run's metrics lines (``win_rate.png`` only when there are evaluation points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evaluations = [line for line in lines if "vs_initial" in line]
    if evaluations:
        figure, axes = plt.subplots(figsize=(6.5, 4.0))
        steps = [line["step"] for line in evaluations]
        for key, label in (("vs_initial", "vs the initial policy"), ("vs_previous", "vs the previous evaluation point")):
            axes.errorbar(steps, [line[key]["win_rate"] for line in evaluations],
                          yerr=[line[key]["ci95"] for line in evaluations], marker="o", capsize=3, label=label)
        axes.axhline(0.5, color="grey", linewidth=0.8)
        axes.set(xlabel="step", ylabel="win rate (mean P(current > other))", title=f"{algorithm}: judged win rate, 95% CI")
        axes.legend()
        figure.tight_layout()
        figure.savefig(out / "win_rate.png", dpi=110)
        plt.close(figure)
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    steps = [line["step"] for line in lines]
    # in self-play (MPO, SPO) the mean reward is 1/2 by symmetry; the judge's signal is the spread within a
    # prompt's group of answers, which shrinks as the policy settles (and vanishes when every answer ties)
    if any("reward_spread" in line for line in lines):
        axes[0].plot(steps, [line.get("reward_spread", np.nan) for line in lines], label="max - min per prompt group")
    if algorithm not in SELF_PLAY:
        axes[0].plot(steps, [line["reward"] for line in lines], label="mean reward")
    axes[0].set(xlabel="step", ylabel="reward", title="judge signal" if algorithm in SELF_PLAY else "reward")
    axes[0].legend()
    for key in ("kl_magnet", "kl_proximal"):
        axes[1].plot(steps, [line.get(key, 0.0) for line in lines], label=key)
    axes[1].set(xlabel="step", ylabel="nats per answer", title="KL estimates")
    axes[1].legend()
    axes[2].plot(steps, [line["answer_words"] for line in lines])
    axes[2].set(xlabel="step", ylabel="words", title="answer length")
    figure.tight_layout()
    figure.savefig(out / "training.png", dpi=110)
    plt.close(figure)


__all__ = ["plot_run"]
