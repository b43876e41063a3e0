"""Result types shared by the iterative solvers (MMD, mirror descent, MPO, Nash-MD, SPO).

Every iterative solver reports the last iterate and the average iterate, with one exploitability
value per iteration for each, so the difference between last-iterate convergence (MMD to its QRE,
MPO to the Nash equilibrium) and average-iterate convergence (mirror descent, SPO) is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aligngames.solvers.equilibrium.simplex import RunningAverage


@dataclass(frozen=True)
class MatrixSolverResult:
    """The outcome of an iterative solver on a two-player zero-sum matrix game (or a batch of them).

    Attributes:
        row, col: the last iterate, shapes ``(..., m)`` and ``(..., n)``.
        average_row, average_col: the uniform average of iterates 1..T.
        exploitability: NashConv of the last iterate after each iteration, shape ``(T, ...)``.
        average_exploitability: NashConv of the average after each iteration, shape ``(T, ...)``.
    """

    row: np.ndarray
    col: np.ndarray
    average_row: np.ndarray
    average_col: np.ndarray
    exploitability: np.ndarray
    average_exploitability: np.ndarray


@dataclass(frozen=True)
class SymmetricSolverResult:
    """The outcome of a self-play solver on a symmetric preference game (both players play ``policy``).

    Attributes:
        policy: the last iterate, shape ``(n,)``.
        average_policy: the uniform average of iterates 1..T.
        exploitability: NashConv of ``(policy, policy)`` after each iteration, ``2 max_i (G pi)_i``
            with ``G = P - 1/2`` (twice what a best response wins against the policy), shape ``(T,)``.
        average_exploitability: the same for the average policy.
        magnet_resets: how many regularised games a magnetic solver solved (None for the others).
    """

    policy: np.ndarray
    average_policy: np.ndarray
    exploitability: np.ndarray
    average_exploitability: np.ndarray
    magnet_resets: int | None = None


def symmetric_exploitability(payoffs: np.ndarray, policy: np.ndarray) -> float:
    """NashConv of ``(policy, policy)`` in the symmetric zero-sum game ``G``: ``2 max_i (G policy)_i``."""
    return float(2.0 * np.max(payoffs @ policy))


class SymmetricTrace:
    """Collects a self-play solver's iterates: the running average and both exploitability traces.

    Args:
        payoffs: ``G`` (skew-symmetric).
        iterations: how many iterates will be recorded.
        track_average: compute the average's exploitability at every iterate (one more matrix-vector
            product each); otherwise only at the end.
    """

    def __init__(self, payoffs: np.ndarray, iterations: int, track_average: bool = True) -> None:
        self.payoffs = payoffs
        self.track_average = track_average
        self.last = np.empty(iterations)
        self.average_exploitability = np.full(iterations, np.nan)
        self.average = RunningAverage()
        self.count = 0

    def record(self, policy: np.ndarray, exploitability: float | None = None) -> None:
        """Record the next iterate (``exploitability``: its NashConv if the caller already has it)."""
        index = self.count
        self.last[index] = symmetric_exploitability(self.payoffs, policy) if exploitability is None else exploitability
        self.average.add(policy)
        if self.track_average or index == len(self.last) - 1:
            self.average_exploitability[index] = symmetric_exploitability(self.payoffs, self.average.value)
        self.count += 1

    def result(self, policy: np.ndarray) -> SymmetricSolverResult:
        return SymmetricSolverResult(policy, self.average.value, self.last, self.average_exploitability)


#: Exploitability is drawn on a log scale; values below this floor (exact zeros among them) are drawn as
#: triangles on the floor, labelled as such, rather than as a line that seems to stop at 1e-16.
PLOT_FLOOR = 1e-16


def plot_trace(path: Path, trace: dict[str, list], title: str) -> None:
    """Exploitability per iteration (last iterate, average iterate, or PSRO's meta-strategies) on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.5, 4.0))
    x = trace["iteration"]
    for key, label in (("exploitability", "last iterate"), ("average_exploitability", "average iterate"),
                       ("nash_conv", "meta-strategy (full game)"), ("empirical_nash_conv", "meta-strategy (empirical game)")):
        values = trace.get(key)
        if values is None or all(v is None or np.isnan(v) for v in values):
            continue
        ys = np.array([np.nan if v is None else float(v) for v in values])
        low = ys < PLOT_FLOOR
        line = axes.plot(x, np.where(low, np.nan, ys), label=label, marker="o" if len(x) <= 30 else None)[0]
        if low.any():
            axes.scatter(np.asarray(x)[low], np.full(int(low.sum()), PLOT_FLOOR), marker="v", color=line.get_color(),
                         label=f"{label}: below {PLOT_FLOOR:g} (0 up to rounding)", zorder=3)
    axes.set_yscale("log")
    axes.set_xlabel("iteration")
    axes.set_ylabel("exploitability (NashConv)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
