"""Mechanism-design problems for ``mechanism_v0``, and the mechanisms that map reports to outcomes and payments.

Two settings, each written down as tables:

- :class:`ThresholdProblem`: stakeholders with single-peaked preferences over a refusal threshold on [0, 1]
  (stakeholder ``i`` most wants ``peaks[i]`` and loses ``|x - peak|``, or ``(x - peak)^2`` with
  ``loss="quadratic"``). They report a point; ``median`` picks the lower median of the reports (strategy-proof
  for any single-peaked preferences, Moulin 1980; the lower median, since averaging the two middle reports
  of an even number is manipulable), ``mean`` their average (manipulable).
- :class:`FineTuningProblem`: a policy over a finite set of ``responses`` is fine-tuned from a reference
  ``pi_ref`` to serve several reward models with a KL penalty. Stakeholder ``i`` reports a reward vector
  ``r~_i``; the mechanism trains ``pi ∝ pi_ref exp(sum_i w_i r~_i / beta)``, the maximiser of
  ``sum_i w_i E_pi[r~_i] - beta KL(pi || pi_ref)`` (an affine maximiser). ``vcg`` adds Clarke-pivot payments
  ``p_i = (max_pi F_-i(pi) - F_-i(pi*)) / w_i`` with ``F_-i = sum_{j != i} w_j E_pi[r~_j] - beta KL``, under
  which truthful reports are a dominant strategy (Sun et al. 2024, "Mechanism design for LLM fine-tuning
  with multiple reward models"); ``unpaid`` has no payments (inflating one's rewards pays).

A stakeholder's utility is ``-loss(x, peak)`` (threshold) or ``E_pi[r_i] - p_i`` with its *true* rewards
(fine-tuning); welfare is the sum of utilities before payments (payments are transfers).

Named examples (:data:`EXAMPLES`): ``refusal_threshold`` (peaks 0.1, 0.2, 0.9: a safety team, a
moderator and a power user) and ``fine_tuning`` (a safety team, users and the business rate the responses
refuse / hedge / comply).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp, softmax

from aligngames.tables import TableShapeError, distribution, names, table

THRESHOLD_MECHANISMS = ("median", "mean")
FINE_TUNING_MECHANISMS = ("vcg", "unpaid")
LOSSES = ("absolute", "quadratic")


@dataclass(frozen=True)
class ThresholdProblem:
    """Stakeholders' peaks on [0, 1] and their loss.

    Attributes:
        stakeholders: names.
        peaks: shape ``(num_stakeholders,)``, each in [0, 1].
        loss: ``"absolute"`` (``-|x - peak|``) or ``"quadratic"`` (``-(x - peak)^2``).
        name: a label.
    """

    stakeholders: tuple[str, ...]
    peaks: np.ndarray
    loss: str = "absolute"
    name: str = "custom"

    kind = "threshold"
    mechanisms = THRESHOLD_MECHANISMS

    def __post_init__(self) -> None:
        stakeholders = names(self.stakeholders, "stakeholders")
        peaks = table(self.peaks, "peaks", (len(stakeholders),), "[stakeholder]")
        if ((peaks < 0) | (peaks > 1)).any():
            index = int(np.flatnonzero((peaks < 0) | (peaks > 1))[0])
            raise ValueError(f"peaks must lie in [0, 1]; {stakeholders[index]!r} has {peaks[index]}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}")
        object.__setattr__(self, "stakeholders", stakeholders)
        object.__setattr__(self, "peaks", peaks)

    @property
    def num_stakeholders(self) -> int:
        return len(self.stakeholders)

    def true_reports(self) -> np.ndarray:
        """Shape ``(num_stakeholders, 1)``: everyone reports its peak."""
        return self.peaks[:, None].copy()

    def utilities(self, outcome: float) -> np.ndarray:
        gap = outcome - self.peaks
        return (-np.abs(gap) if self.loss == "absolute" else -(gap**2)) + 0.0  # + 0.0: no -0.0 in reports

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "stakeholders": list(self.stakeholders),
                "peaks": self.peaks.tolist(), "loss": self.loss}


@dataclass(frozen=True)
class FineTuningProblem:
    """Reward models over a finite set of responses, a reference policy and a KL weight.

    Attributes:
        stakeholders: names.
        responses: the response names.
        reference: shape ``(num_responses,)``, ``pi_ref`` (a distribution with full support).
        rewards: shape ``(num_stakeholders, num_responses)``, the true rewards ``[stakeholder][response]``.
        beta: the KL weight (> 0).
        weights: shape ``(num_stakeholders,)``, the affine maximiser's weights (> 0; default all 1).
        name: a label.
    """

    stakeholders: tuple[str, ...]
    responses: tuple[str, ...]
    reference: np.ndarray
    rewards: np.ndarray
    beta: float = 1.0
    weights: np.ndarray | None = None
    name: str = "custom"

    kind = "fine_tuning"
    mechanisms = FINE_TUNING_MECHANISMS

    def __post_init__(self) -> None:
        stakeholders = names(self.stakeholders, "stakeholders")
        responses = names(self.responses, "responses")
        reference = distribution(self.reference, "reference", len(responses))
        if (reference <= 0).any():
            raise ValueError(f"reference must give every response positive probability; "
                             f"{responses[int(np.flatnonzero(reference <= 0)[0])]!r} has 0")
        rewards = table(self.rewards, "rewards", (len(stakeholders), len(responses)), "[stakeholder][response]")
        weights = np.ones(len(stakeholders)) if self.weights is None else \
            table(self.weights, "weights", (len(stakeholders),), "[stakeholder]")
        if (weights <= 0).any():
            raise TableShapeError(f"weights must be > 0, got {weights.tolist()}")
        if not (np.isfinite(self.beta) and self.beta > 0):
            raise ValueError(f"beta must be a finite number > 0, got {self.beta}")
        for key, value in (("stakeholders", stakeholders), ("responses", responses), ("reference", reference),
                           ("rewards", rewards), ("weights", weights), ("beta", float(self.beta))):
            object.__setattr__(self, key, value)

    @property
    def num_stakeholders(self) -> int:
        return len(self.stakeholders)

    def true_reports(self) -> np.ndarray:
        return self.rewards.copy()

    def policy(self, total_reward: np.ndarray) -> np.ndarray:
        """``pi ∝ pi_ref exp(total_reward / beta)``."""
        return softmax(np.log(self.reference) + total_reward / self.beta)

    def best_objective(self, total_reward: np.ndarray) -> float:
        """``max_pi E_pi[R] - beta KL(pi || pi_ref) = beta log sum_y pi_ref(y) exp(R(y) / beta)``."""
        return float(self.beta * logsumexp(np.log(self.reference) + total_reward / self.beta))

    def objective(self, policy: np.ndarray, total_reward: np.ndarray) -> float:
        """``E_pi[R] - beta KL(pi || pi_ref)``."""
        return float(policy @ total_reward - self.beta * np.sum(policy * (np.log(policy) - np.log(self.reference))))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "stakeholders": list(self.stakeholders),
                "responses": list(self.responses), "reference": self.reference.tolist(),
                "rewards": self.rewards.tolist(), "beta": self.beta, "weights": self.weights.tolist()}


Problem = ThresholdProblem | FineTuningProblem


@dataclass(frozen=True)
class Outcome:
    """What a mechanism does with a profile of reports.

    Attributes:
        outcome: the threshold (a float) or the trained policy (shape ``(num_responses,)``).
        payments: shape ``(num_stakeholders,)`` (zeros for mechanisms without payments).
        utilities: shape ``(num_stakeholders,)``, with the true preferences, net of payments.
        welfare: the sum of utilities before payments.
    """

    outcome: float | np.ndarray
    payments: np.ndarray
    utilities: np.ndarray
    welfare: float

    def to_dict(self, problem: Problem) -> dict[str, Any]:
        outcome = (float(self.outcome) if problem.kind == "threshold"
                   else dict(zip(problem.responses, np.asarray(self.outcome).tolist())))
        return {"outcome": outcome, "payments": dict(zip(problem.stakeholders, self.payments.tolist())),
                "utilities": dict(zip(problem.stakeholders, self.utilities.tolist())), "welfare": self.welfare}


def check_mechanism(problem: Problem, mechanism: str) -> None:
    if mechanism not in problem.mechanisms:
        raise ValueError(f"mechanism {mechanism!r} does not apply to a {problem.kind} problem; "
                         f"its mechanisms: {list(problem.mechanisms)}")


def lower_median(values: np.ndarray) -> float:
    """The ``ceil(n / 2)``-th smallest value (an order statistic, so strategy-proof)."""
    ordered = np.sort(values)
    return float(ordered[(len(ordered) - 1) // 2])


def run(problem: Problem, mechanism: str, reports) -> Outcome:
    """The mechanism's outcome, payments and the stakeholders' true utilities for ``reports``
    (shape ``(num_stakeholders, 1)`` for a threshold problem, ``(num_stakeholders, num_responses)`` otherwise;
    ``NaN`` rows of a threshold problem are abstentions)."""
    check_mechanism(problem, mechanism)
    reports = np.asarray(reports, dtype=np.float64)
    zeros = np.zeros(problem.num_stakeholders)
    if problem.kind == "threshold":
        points = reports.reshape(problem.num_stakeholders)
        points = points[~np.isnan(points)]
        if points.size == 0:
            outcome = 0.5  # nobody reported: the middle of the range
        else:
            outcome = lower_median(points) if mechanism == "median" else float(points.mean())
        utilities = problem.utilities(outcome)
        return Outcome(outcome, zeros, utilities, float(utilities.sum()))
    weighted = problem.weights[:, None] * reports
    policy = problem.policy(weighted.sum(axis=0))
    values = problem.rewards @ policy  # true expected rewards
    payments = zeros
    if mechanism == "vcg":
        payments = np.array([
            (problem.best_objective(weighted.sum(axis=0) - weighted[i])
             - problem.objective(policy, weighted.sum(axis=0) - weighted[i])) / problem.weights[i]
            for i in range(problem.num_stakeholders)])
    return Outcome(policy, payments, values - payments, float(values.sum()))


def refusal_threshold() -> ThresholdProblem:
    """A safety team (0.1), a moderator (0.2) and a power user (0.9) choose where the model starts refusing."""
    return ThresholdProblem(("safety_team", "moderator", "power_user"), [0.1, 0.2, 0.9], name="refusal_threshold")


def fine_tuning() -> FineTuningProblem:
    """Three reward models over the responses refuse / hedge / comply to a borderline request."""
    return FineTuningProblem(("safety_team", "users", "business"), ("refuse", "hedge", "comply"),
                             reference=[0.2, 0.5, 0.3],
                             rewards=[[1.0, 0.5, -1.0], [-0.5, 0.3, 1.0], [-1.0, 0.2, 0.8]],
                             beta=1.0, name="fine_tuning")


EXAMPLES = {"refusal_threshold": refusal_threshold, "fine_tuning": fine_tuning}


def build(example: str) -> Problem:
    if example not in EXAMPLES:
        raise ValueError(f"unknown mechanism example {example!r}; valid examples: {sorted(EXAMPLES)}")
    return EXAMPLES[example]()


def from_mapping(data: Mapping[str, Any]) -> Problem:
    """A problem from plain data: ``peaks`` (and optionally ``loss``) for a threshold problem; ``responses``,
    ``reference``, ``rewards`` (and optionally ``beta``, ``weights``) for a fine-tuning one; ``stakeholders``
    in both (default ``stakeholder_0..``)."""
    threshold, tuning = {"peaks", "loss"}, {"responses", "reference", "rewards", "beta", "weights"}
    keys = set(data) - {"stakeholders", "name", "kind"}
    unknown = sorted(keys - threshold - tuning)
    if unknown:
        raise ValueError(f"unknown keys in a mechanism problem: {unknown}; allowed: "
                         f"{sorted(threshold | tuning | {'stakeholders', 'name'})}")
    if keys & threshold and keys & tuning:
        raise ValueError(f"a mechanism problem is either a threshold one ({sorted(threshold)}) or a fine-tuning one "
                         f"({sorted(tuning)}); got keys of both: {sorted(keys)}")
    name = str(data.get("name", "custom"))
    if keys & threshold:
        peaks = data["peaks"] if "peaks" in data else None
        if peaks is None:
            raise ValueError("a threshold problem needs peaks=[...]")
        stakeholders = data.get("stakeholders") or [f"stakeholder_{i}" for i in range(len(peaks))]
        return ThresholdProblem(stakeholders, peaks, str(data.get("loss", "absolute")), name)
    missing = [key for key in ("responses", "reference", "rewards") if key not in data]
    if missing:
        raise ValueError(f"a fine-tuning problem needs responses, reference and rewards; missing {missing}")
    stakeholders = data.get("stakeholders") or [f"stakeholder_{i}" for i in range(len(data["rewards"]))]
    return FineTuningProblem(stakeholders, data["responses"], data["reference"], data["rewards"],
                             float(data.get("beta", 1.0)), data.get("weights"), name)


def custom_threshold(peaks: Sequence[float], stakeholders: Sequence[str] | None = None, loss: str = "absolute") -> ThresholdProblem:
    return ThresholdProblem(stakeholders or [f"stakeholder_{i}" for i in range(len(peaks))], peaks, loss)
