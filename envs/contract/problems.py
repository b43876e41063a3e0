"""Principal–agent (moral hazard) problems written down as tables.

A :class:`ContractProblem` has the agent's hidden ``efforts`` with their ``effort_costs``, the observable
``outcomes`` with the principal's ``principal_values``, the technology ``outcome_probs[effort][outcome]``,
the agent's ``utility`` for money (``"linear"``: risk neutral; ``"sqrt"``: risk averse, ``u(w) = sqrt(w)``,
wages >= 0), its ``reservation_utility`` (what it gets by declining) and whether wages are bounded below
by 0 (``limited_liability``, on by default; a ``sqrt`` agent always has it, its utility is defined for
``w >= 0`` only).

The principal pays ``wage[outcome]``; the agent gets ``u(wage[outcome]) - effort_costs[effort]`` and the
principal ``principal_values[outcome] - wage[outcome]``.

Named examples (:data:`EXAMPLES`): ``two_outcome`` (the textbook case: effort raises P(success) from 0.4 to
0.8 at cost 1, success is worth 6) and ``coding_assistant`` (an AI coding agent that can solve the task
genuinely, hack the tests or shirk; the principal sees whether the tests fail, pass, or pass and the work
survives review).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames.tables import TableShapeError, distribution, names, table

UTILITIES = ("linear", "sqrt")

#: Expected utilities closer than this (relative to the size of the wages and costs) count as a tie; wages
#: pass through float32 in the env.
TIE_TOLERANCE = 1e-5


@dataclass(frozen=True)
class ContractProblem:
    """A finite moral-hazard problem.

    Attributes:
        efforts: the agent's effort names (hidden from the principal).
        outcomes: the outcome names (what the contract can pay on).
        outcome_probs: shape ``(num_efforts, num_outcomes)``, each row a distribution.
        effort_costs: shape ``(num_efforts,)``, in the agent's utility units.
        principal_values: shape ``(num_outcomes,)``.
        utility: ``"linear"`` or ``"sqrt"``.
        reservation_utility: the agent's utility when it declines.
        limited_liability: wages >= 0.
        name: a label for transcripts and results.
    """

    efforts: tuple[str, ...]
    outcomes: tuple[str, ...]
    outcome_probs: np.ndarray
    effort_costs: np.ndarray
    principal_values: np.ndarray
    utility: str = "linear"
    reservation_utility: float = 0.0
    limited_liability: bool = True
    name: str = "custom"

    def __post_init__(self) -> None:
        efforts = names(self.efforts, "efforts")
        outcomes = names(self.outcomes, "outcomes")
        probs = table(self.outcome_probs, "outcome_probs", (len(efforts), len(outcomes)), "[effort][outcome]")
        rows = [distribution(row, f"outcome_probs[{effort!r}]", len(outcomes)) for effort, row in zip(efforts, probs)]
        if self.utility not in UTILITIES:
            raise ValueError(f"utility must be one of {list(UTILITIES)}, got {self.utility!r}")
        if self.utility == "sqrt" and not self.limited_liability:
            raise ValueError("utility='sqrt' is defined for wages >= 0 only: it needs limited_liability=True")
        reservation = float(self.reservation_utility)
        if not np.isfinite(reservation):
            raise TableShapeError(f"reservation_utility must be finite, got {self.reservation_utility}")
        object.__setattr__(self, "efforts", efforts)
        object.__setattr__(self, "outcomes", outcomes)
        object.__setattr__(self, "outcome_probs", np.array(rows))
        object.__setattr__(self, "effort_costs", table(self.effort_costs, "effort_costs", (len(efforts),), "[effort]"))
        object.__setattr__(self, "principal_values",
                           table(self.principal_values, "principal_values", (len(outcomes),), "[outcome]"))
        object.__setattr__(self, "reservation_utility", reservation)
        object.__setattr__(self, "limited_liability", bool(self.limited_liability))

    @property
    def num_efforts(self) -> int:
        return len(self.efforts)

    @property
    def num_outcomes(self) -> int:
        return len(self.outcomes)

    def money_utility(self, wages) -> np.ndarray:
        """The agent's utility ``u(w)`` of each wage (``sqrt`` of a negative wage is refused)."""
        wages = np.asarray(wages, dtype=np.float64)
        if self.utility == "linear":
            return wages
        if (wages < 0).any():
            raise ValueError(f"a sqrt-utility agent takes wages >= 0 only, got {wages.tolist()}")
        return np.sqrt(wages)

    def agent_utilities(self, wages) -> np.ndarray:
        """Shape ``(num_efforts,)``: the agent's expected utility of each effort under ``wages``."""
        return self.outcome_probs @ self.money_utility(wages) - self.effort_costs

    def principal_profits(self, wages) -> np.ndarray:
        """Shape ``(num_efforts,)``: the principal's expected profit if the agent chooses each effort."""
        return self.outcome_probs @ (self.principal_values - np.asarray(wages, dtype=np.float64))

    def default_max_wage(self) -> float:
        """A cap on any one wage that never binds a contract worth offering: with profit >= 0 the expected
        wage is at most ``max |value|``, so a wage on an outcome of probability ``p`` is at most ``max |value| / p``."""
        positive = self.outcome_probs[self.outcome_probs > 0]
        return float(max(1.0, np.abs(self.principal_values).max()) / positive.min())

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], name: str | None = None) -> ContractProblem:
        """A problem from plain data (a JSON / YAML file) with the attribute names as keys; ``outcome_probs``
        may also be a mapping ``{effort: [probabilities]}`` and ``effort_costs`` ``{effort: cost}``."""
        required = ("efforts", "outcomes", "outcome_probs", "effort_costs", "principal_values")
        optional = ("utility", "reservation_utility", "limited_liability", "name")
        missing = [key for key in required if key not in data]
        if missing:
            raise ValueError(f"a contract problem needs the keys {list(required)}; missing {missing}")
        unknown = sorted(set(data) - {*required, *optional})
        if unknown:
            raise ValueError(f"unknown keys in a contract problem: {unknown}; allowed: {[*required, *optional]}")
        efforts = list(data["efforts"])
        probs, costs = data["outcome_probs"], data["effort_costs"]
        for key, value in (("outcome_probs", probs), ("effort_costs", costs)):
            if isinstance(value, Mapping) and sorted(value) != sorted(efforts):
                raise ValueError(f"{key} as a mapping must name each effort once: efforts {efforts}, got {sorted(value)}")
        if isinstance(probs, Mapping):
            probs = [probs[effort] for effort in efforts]
        if isinstance(costs, Mapping):
            costs = [costs[effort] for effort in efforts]
        return cls(efforts, data["outcomes"], probs, costs, data["principal_values"],
                   utility=str(data.get("utility", "linear")),
                   reservation_utility=float(data.get("reservation_utility", 0.0)),
                   limited_liability=bool(data.get("limited_liability", True)),
                   name=name or str(data.get("name", "custom")))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "efforts": list(self.efforts), "outcomes": list(self.outcomes),
                "outcome_probs": self.outcome_probs.tolist(), "effort_costs": self.effort_costs.tolist(),
                "principal_values": self.principal_values.tolist(), "utility": self.utility,
                "reservation_utility": self.reservation_utility, "limited_liability": self.limited_liability}


def tie_tolerance(problem: ContractProblem, wages) -> float:
    """How close two expected utilities must be to count as a tie under ``wages``."""
    scale = max(1.0, float(np.abs(np.asarray(wages, dtype=np.float64)).max(initial=0.0)),
                float(np.abs(problem.effort_costs).max()))
    return TIE_TOLERANCE * scale


def best_response(problem: ContractProblem, wages) -> int:
    """The agent's choice under ``wages``: an effort index, or ``problem.num_efforts`` for declining.

    It takes the effort with the highest expected utility ``sum_o p[e, o] u(w_o) - c_e``, declines if even
    that is below its reservation utility, and breaks ties in the principal's favour (then toward the lower
    index): the convention under which an optimal contract exists, since the incentive constraints hold
    with equality there. Accepting is preferred to declining at a tie.
    """
    utilities = problem.agent_utilities(wages)
    tolerance = tie_tolerance(problem, wages)
    if utilities.max() < problem.reservation_utility - tolerance:
        return problem.num_efforts
    best = np.flatnonzero(utilities >= utilities.max() - tolerance)
    return int(best[np.argmax(problem.principal_profits(wages)[best])])  # argmax takes the first of equals


def two_outcome() -> ContractProblem:
    """High effort (cost 1) raises P(success) from 0.4 to 0.8; success is worth 6 to the principal."""
    return ContractProblem(efforts=("low", "high"), outcomes=("failure", "success"),
                           outcome_probs=[[0.6, 0.4], [0.2, 0.8]], effort_costs=[0.0, 1.0],
                           principal_values=[0.0, 6.0], name="two_outcome")


def coding_assistant() -> ContractProblem:
    """An AI coding agent: genuine work (cost 1), hacking the tests (cost 0.3) or shirking (0). The principal
    sees whether the tests fail, pass, or pass and the change survives a later review (``verified``)."""
    return ContractProblem(efforts=("genuine", "reward_hack", "shirk"), outcomes=("fail", "tests_pass", "verified"),
                           outcome_probs=[[0.1, 0.2, 0.7], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]],
                           effort_costs=[1.0, 0.3, 0.0], principal_values=[0.0, 1.0, 5.0], name="coding_assistant")


EXAMPLES = {"two_outcome": two_outcome, "coding_assistant": coding_assistant}


def build(example: str) -> ContractProblem:
    """A named example problem (see :data:`EXAMPLES`)."""
    if example not in EXAMPLES:
        raise ValueError(f"unknown contract example {example!r}; valid examples: {sorted(EXAMPLES)}")
    return EXAMPLES[example]()


def custom(efforts: Sequence[str], outcomes: Sequence[str], outcome_probs, effort_costs, principal_values,
           **options: Any) -> ContractProblem:
    """A problem from explicit tables (checked: a named error for non-distributions and mismatched tables)."""
    return ContractProblem(efforts, outcomes, outcome_probs, effort_costs, principal_values, **options)
