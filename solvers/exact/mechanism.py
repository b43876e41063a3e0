"""Best reports, equilibrium reports and manipulation checks for the mechanisms of ``mechanism_v0``.

- Threshold problems (median, mean): a stakeholder's best report against the others' is exact. Under the
  median, reporting the peak is a best response to anything (strategy-proofness). Under the mean, with
  ``S`` the sum of the others' reports and ``n`` stakeholders, the outcome ``(r + S) / n`` is continuous
  and increasing in ``r``, so for a single-peaked loss the best report puts it as near the peak as
  [0, 1] allows: ``r = clip(n * peak - S, 0, 1)``. Best-response dynamics (each stakeholder in turn, from
  truthful reports) then reach the Nash equilibrium; its outcome is known in closed form (Renault &
  Trannoy 2005): the median of the peaks and the ``n - 1`` phantoms ``k / n``
  (:func:`mean_equilibrium_outcome`).
- Fine-tuning problems (vcg, unpaid): a stakeholder's best *scaled* report ``alpha * r_i`` (others
  truthful) on a grid of scales (default 0 to 4 by 0.05). Under VCG payments its utility is, up to a
  constant, the affine maximiser's objective evaluated at its true rewards, which the truthful report
  maximises: the best scale is 1. Unpaid, inflating its rewards moves the policy its way at no cost: the
  best scale is the largest allowed.

A manipulation check compares each stakeholder's truthful utility with its best misreport's; a mechanism
is manipulable where some stakeholder gains more than :data:`GAIN_TOLERANCE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames.envs.mechanism.problems import Outcome, Problem, check_mechanism, run

#: Gains smaller than this are rounding, not manipulation.
GAIN_TOLERANCE = 1e-9

#: Default scales ``alpha`` of a fine-tuning stakeholder's report ``alpha * r_i``.
DEFAULT_SCALES = tuple(np.round(np.arange(0.0, 4.0 + 1e-9, 0.05), 10).tolist())


def mean_equilibrium_outcome(peaks: Sequence[float]) -> float:
    """The outcome of the mean mechanism's equilibrium on [0, 1]: the median of the peaks and the phantoms
    ``1/n, ..., (n-1)/n`` (Renault & Trannoy 2005)."""
    peaks = np.asarray(peaks, dtype=np.float64)
    n = len(peaks)
    return float(np.median(np.concatenate([peaks, np.arange(1, n) / n])))


def best_report(problem: Problem, mechanism: str, stakeholder: int, reports, scales: Sequence[float] = DEFAULT_SCALES
                ) -> tuple[np.ndarray, float]:
    """Stakeholder ``stakeholder``'s best report against the others' ``reports`` and the utility it gets.

    Threshold problems: exact (ties go to the report nearest the peak). Fine-tuning problems: the best of
    the reports ``alpha * r_i`` for ``alpha`` in ``scales`` (ties go to the scale nearest 1).
    """
    check_mechanism(problem, mechanism)
    reports = np.array(reports, dtype=np.float64)
    if problem.kind == "threshold":
        peak = float(problem.peaks[stakeholder])
        others = np.delete(reports[:, 0], stakeholder)
        if mechanism == "median":
            candidates = [peak]
        else:
            candidates = [float(np.clip(problem.num_stakeholders * peak - others.sum(), 0.0, 1.0)), peak]
        distance = [abs(candidate - peak) for candidate in candidates]
    else:
        candidates = [float(alpha) for alpha in scales]
        distance = [abs(alpha - 1.0) for alpha in candidates]
    best, best_utility = None, -np.inf
    for _, candidate in sorted(zip(distance, candidates)):
        trial = reports.copy()
        trial[stakeholder] = candidate if problem.kind == "threshold" else candidate * problem.rewards[stakeholder]
        utility = float(run(problem, mechanism, trial).utilities[stakeholder])
        if utility > best_utility + GAIN_TOLERANCE:
            best, best_utility = trial[stakeholder].copy(), utility
    return best, best_utility


@dataclass(frozen=True)
class Manipulation:
    """One stakeholder's best misreport against truthful others.

    Attributes:
        stakeholder: the name.
        truthful_utility: its utility when everyone reports truthfully.
        best_report: its best report (a threshold, or a reward vector).
        best_report_scale: fine-tuning only: the scale ``alpha`` of that report (``None`` for thresholds).
        best_utility: what the best report gets it.
        gain: ``best_utility - truthful_utility`` (>= 0).
    """

    stakeholder: str
    truthful_utility: float
    best_report: np.ndarray
    best_report_scale: float | None
    best_utility: float
    gain: float

    def to_dict(self) -> dict[str, Any]:
        report = self.best_report.tolist()
        return {"stakeholder": self.stakeholder, "truthful_utility": self.truthful_utility,
                "best_report": report[0] if len(report) == 1 and self.best_report_scale is None else report,
                "best_report_scale": self.best_report_scale, "best_utility": self.best_utility, "gain": self.gain}


def manipulations(problem: Problem, mechanism: str, scales: Sequence[float] = DEFAULT_SCALES) -> tuple[Manipulation, ...]:
    """Each stakeholder's best misreport when the others report truthfully."""
    truthful = problem.true_reports()
    utilities = run(problem, mechanism, truthful).utilities
    result = []
    for i, name in enumerate(problem.stakeholders):
        report, utility = best_report(problem, mechanism, i, truthful, scales)
        scale = None
        if problem.kind == "fine_tuning":
            norm = float(problem.rewards[i] @ problem.rewards[i])
            scale = float(report @ problem.rewards[i] / norm) if norm > 0 else 1.0
        result.append(Manipulation(name, float(utilities[i]), report, scale, utility,
                                   max(utility - float(utilities[i]), 0.0)))
    return tuple(result)


@dataclass(frozen=True)
class Equilibrium:
    """The end of best-response dynamics from truthful reports.

    Attributes:
        reports: the reports (shape ``(num_stakeholders, report size)``).
        outcome: what the mechanism does with them.
        converged: whether a full pass changed no report.
        passes: full passes over the stakeholders.
    """

    reports: np.ndarray
    outcome: Outcome
    converged: bool
    passes: int


def _mean_equilibrium_reports(problem: Problem) -> np.ndarray | None:
    """Reports whose mean is the Renault-Trannoy outcome ``x*``: stakeholders below ``x*`` report 0, above it 1,
    and those at ``x*`` make up the rest; None if they cannot (then the dynamics are used)."""
    peaks = problem.peaks
    n = problem.num_stakeholders
    target = mean_equilibrium_outcome(peaks)
    reports = np.where(peaks > target, 1.0, 0.0)
    at = np.flatnonzero(np.isclose(peaks, target, rtol=0.0, atol=1e-12))
    remainder = n * target - reports.sum()
    for i in at:  # fill the stakeholders at x* in turn, each within [0, 1]
        reports[i] = float(np.clip(remainder, 0.0, 1.0))
        remainder -= reports[i]
    if abs(remainder) > 1e-9:
        return None
    return reports[:, None]


def equilibrium(problem: Problem, mechanism: str, *, max_passes: int = 1000,
                scales: Sequence[float] = DEFAULT_SCALES, method: str = "auto") -> Equilibrium:
    """An equilibrium of the reports.

    Under the mean, the reports come from the closed form (:func:`mean_equilibrium_outcome`) and one pass of
    best responses checks that nobody gains (``passes=1``): best-response dynamics get there too, but in a
    number of passes that grows as the peaks get closer (two peaks 0.002 apart take over 100). Otherwise, and
    if that check fails, or with ``method="dynamics"``: best-response dynamics from truthful reports, stakeholders in turn playing
    :func:`best_report`, until a pass changes nothing.
    """
    if method not in ("auto", "dynamics"):
        raise ValueError(f"method must be 'auto' or 'dynamics', got {method!r}")
    if method == "auto" and problem.kind == "threshold" and mechanism == "mean":
        reports = _mean_equilibrium_reports(problem)
        if reports is not None and not any(
                best_report(problem, mechanism, i, reports, scales)[1]
                > float(run(problem, mechanism, reports).utilities[i]) + GAIN_TOLERANCE
                for i in range(problem.num_stakeholders)):
            return Equilibrium(reports, run(problem, mechanism, reports), True, 1)
    reports = problem.true_reports()
    for passes in range(1, max_passes + 1):
        changed = False
        for i in range(problem.num_stakeholders):
            report, utility = best_report(problem, mechanism, i, reports, scales)
            current = float(run(problem, mechanism, reports).utilities[i])
            if utility > current + GAIN_TOLERANCE:
                reports[i] = report
                changed = True
        if not changed:
            return Equilibrium(reports, run(problem, mechanism, reports), True, passes)
    return Equilibrium(reports, run(problem, mechanism, reports), False, max_passes)


def analyse(problem: Problem, mechanism: str, scales: Sequence[float] = DEFAULT_SCALES) -> dict[str, Any]:
    """Truthful outcome, payments and welfare, the manipulation check and the equilibrium, as plain data."""
    truthful = run(problem, mechanism, problem.true_reports())
    checks = manipulations(problem, mechanism, scales)
    found = equilibrium(problem, mechanism, scales=scales)
    reports = found.reports[:, 0].tolist() if problem.kind == "threshold" else found.reports.tolist()
    result = {
        "mechanism": mechanism,
        **truthful.to_dict(problem),
        "manipulable": any(check.gain > GAIN_TOLERANCE for check in checks),
        "manipulation": [check.to_dict() for check in checks],
        "equilibrium": {"reports": dict(zip(problem.stakeholders, reports)), **found.outcome.to_dict(problem),
                        "converged": found.converged, "passes": found.passes},
    }
    if problem.kind == "fine_tuning":
        result["best_report_scale"] = {check.stakeholder: check.best_report_scale for check in checks}
    else:
        result["best_report"] = {check.stakeholder: float(check.best_report[0]) for check in checks}
        if mechanism == "mean":
            result["equilibrium"]["closed_form_outcome"] = mean_equilibrium_outcome(problem.peaks)
    return result
