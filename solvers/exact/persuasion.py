"""The sender's optimal signalling scheme in a finite Bayesian persuasion problem, by LP.

Kamenica & Gentzkow (2011), "Bayesian Persuasion". By the revelation principle a scheme can recommend
an action: the variables are ``x[w, a] = P(recommend a | state w)`` and the LP is

    maximise    sum_w prior(w) sum_a x[w, a] v(w, a)                       (sender's expected utility)
    subject to  sum_a x[w, a] = 1,  x >= 0                                  (a scheme)
                for all a != a':  sum_w prior(w) x[w, a] (u(w, a) - u(w, a')) >= 0   (obedience)

where ``v`` and ``u`` are the sender's and the receiver's utilities (ties broken for the sender, as the
obedience constraints assume). Variants:

- an *anchored* receiver (non-Bayesian: it acts on ``lam * prior + (1 - lam) * posterior``,
  :class:`~aligngames.agents.persuasion.ReceiverModel`). Multiplying its obedience constraint by
  ``P(a) = sum_w prior(w) x[w, a]`` keeps it linear:
  ``sum_w prior(w) x[w, a] [lam * D(a, a') + (1 - lam) (u(w, a) - u(w, a'))] >= 0`` with
  ``D(a, a') = sum_w prior(w) (u(w, a) - u(w, a'))``; merging signals that lead to one action keeps
  that constraint (it is linear in the posterior), so recommendations still suffice;
- a *credulous* receiver, who follows every recommendation (no obedience constraints);
- an honest-reporting constraint ``max_misleading``: the probability that the scheme recommends an action
  the receiver would not choose if it knew the state is at most ``max_misleading`` (0: only
  full-information best actions are recommended);
- a floor on the receiver's expected utility, ``receiver_floor``.

Baselines: full disclosure (the signal is the state) and no disclosure (one signal), each with the
receiver's best response. The LP is solved with scipy's HiGHS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog

from aligngames.agents.persuasion import TIE_TOLERANCE, ReceiverModel, full_disclosure, no_disclosure
from aligngames.envs.persuasion.problems import PersuasionProblem
from aligngames.tables import InfeasibleConstraintError

#: Slack allowed on the LP's constraints when a solution is read back (HiGHS' default feasibility tolerance).
LP_TOLERANCE = 1e-7

#: The default receiver (a frozen dataclass, so one shared instance is safe).
BAYESIAN = ReceiverModel()


@dataclass(frozen=True)
class SchemeValue:
    """What a scheme gives each side against a receiver model.

    Attributes:
        scheme: shape ``(num_states, num_signals)``, ``P(signal | state)``.
        actions: for each signal, the receiver's action (-1 for a signal never sent).
        signal_probabilities: shape ``(num_signals,)``.
        beliefs: shape ``(num_signals, num_states)``, the belief the receiver acts on (NaN rows for signals never sent).
        sender_value, receiver_value: the expected utilities.
        action_probabilities: shape ``(num_actions,)``, how often each action is taken.
    """

    scheme: np.ndarray
    actions: tuple[int, ...]
    signal_probabilities: np.ndarray
    beliefs: np.ndarray
    sender_value: float
    receiver_value: float
    action_probabilities: np.ndarray

    def to_dict(self, problem: PersuasionProblem) -> dict[str, Any]:
        return {"sender_value": self.sender_value, "receiver_value": self.receiver_value,
                "action_probabilities": dict(zip(problem.actions, self.action_probabilities.tolist()))}


@dataclass(frozen=True)
class PersuasionSolution:
    """The sender's optimal scheme and the two baselines.

    Attributes:
        problem: the problem solved.
        receiver: the receiver model the scheme is optimal against.
        scheme: shape ``(num_states, num_actions)``, ``P(recommend action | state)``.
        sender_value, receiver_value: the optimal scheme's expected utilities.
        misleading_probability: P(the recommendation is not a full-information best action of the receiver).
        optimal: the optimal scheme evaluated against the receiver (actions taken, beliefs).
        full_disclosure, no_disclosure: the baselines.
        constraints: the constraint settings (``max_misleading``, ``receiver_floor``; None when absent).
    """

    problem: PersuasionProblem
    receiver: ReceiverModel
    scheme: np.ndarray
    sender_value: float
    receiver_value: float
    misleading_probability: float
    optimal: SchemeValue
    full_disclosure: SchemeValue
    no_disclosure: SchemeValue
    constraints: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        problem = self.problem
        return {
            "problem": problem.to_dict(),
            "receiver": self.receiver.describe(),
            "constraints": dict(self.constraints),
            "scheme": {state: dict(zip(problem.actions, row.tolist())) for state, row in zip(problem.states, self.scheme)},
            "sender_value": self.sender_value,
            "receiver_value": self.receiver_value,
            "misleading_probability": self.misleading_probability,
            "action_probabilities": dict(zip(problem.actions, self.optimal.action_probabilities.tolist())),
            "full_disclosure": self.full_disclosure.to_dict(problem),
            "no_disclosure": self.no_disclosure.to_dict(problem),
        }


def evaluate_scheme(problem: PersuasionProblem, scheme, receiver: ReceiverModel = BAYESIAN) -> SchemeValue:
    """The receiver's response to every signal of ``scheme`` and both sides' expected utilities.

    Args:
        scheme: shape ``(num_states, num_signals)``, rows are distributions ``P(signal | state)``.
    """
    scheme = np.asarray(scheme, dtype=np.float64)
    if scheme.ndim != 2 or scheme.shape[0] != problem.num_states:
        raise ValueError(f"scheme must have shape (num_states={problem.num_states}, num_signals), got {scheme.shape}")
    if (scheme < -LP_TOLERANCE).any() or not np.allclose(scheme.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("scheme rows must be probability distributions P(signal | state)")
    scheme = np.clip(scheme, 0.0, None)
    scheme /= scheme.sum(axis=1, keepdims=True)
    signal_probabilities = problem.prior @ scheme  # (num_signals,)
    num_signals = scheme.shape[1]
    actions, beliefs = [], np.full((num_signals, problem.num_states), np.nan)
    action_probabilities = np.zeros(problem.num_actions)
    sender_value = receiver_value = 0.0
    for signal in range(num_signals):
        if signal_probabilities[signal] <= 1e-15:
            actions.append(-1)
            continue
        action = receiver.act(problem.prior, scheme, signal, problem.receiver_utility, problem.sender_utility)
        if receiver.kind != "credulous":
            beliefs[signal] = receiver.belief(problem.prior, scheme[:, signal])
        actions.append(action)
        joint = problem.prior * scheme[:, signal]  # (num_states,) P(state, signal)
        sender_value += float(joint @ problem.sender_utility[:, action])
        receiver_value += float(joint @ problem.receiver_utility[:, action])
        action_probabilities[action] += signal_probabilities[signal]
    return SchemeValue(scheme, tuple(actions), signal_probabilities, beliefs, sender_value, receiver_value,
                       action_probabilities)


def full_information_best(problem: PersuasionProblem) -> np.ndarray:
    """Bool ``(num_states, num_actions)``: the receiver's best actions if it knew the state."""
    utility = problem.receiver_utility
    return utility >= utility.max(axis=1, keepdims=True) - TIE_TOLERANCE


def _obedience_rows(problem: PersuasionProblem, receiver: ReceiverModel) -> np.ndarray:
    """Rows ``g`` of the obedience constraints ``g . x >= 0`` (x flattened as ``x[w * A + a]``)."""
    num_states, num_actions = problem.num_states, problem.num_actions
    prior, utility = problem.prior, problem.receiver_utility
    weight = receiver.weight_on_prior
    rows = []
    for action in range(num_actions):
        for other in range(num_actions):
            if other == action:
                continue
            gain = utility[:, action] - utility[:, other]  # (num_states,)
            prior_gain = float(prior @ gain)
            row = np.zeros((num_states, num_actions))
            row[:, action] = prior * (weight * prior_gain + (1.0 - weight) * gain)
            rows.append(row.reshape(-1))
    return np.array(rows).reshape(-1, num_states * num_actions)


def solve(problem: PersuasionProblem, receiver: ReceiverModel = BAYESIAN, *,
          max_misleading: float | None = None, receiver_floor: float | None = None) -> PersuasionSolution:
    """The sender's optimal scheme against ``receiver`` under the optional constraints (module docstring).

    Raises:
        ValueError: ``max_misleading`` outside [0, 1].
        InfeasibleConstraintError: no scheme meets the constraints; the message says which constraint(s).
    """
    if max_misleading is not None and not 0.0 <= max_misleading <= 1.0:
        raise ValueError(f"max_misleading is a probability and must be in [0, 1], got {max_misleading}")
    num_states, num_actions = problem.num_states, problem.num_actions
    size = num_states * num_actions
    prior = problem.prior
    objective = -(prior[:, None] * problem.sender_utility).reshape(-1)  # linprog minimises
    equality = np.zeros((num_states, size))
    for state in range(num_states):
        equality[state, state * num_actions:(state + 1) * num_actions] = 1.0
    upper: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (A_ub, b_ub), A_ub x <= b_ub
    if receiver.kind != "credulous" and num_actions > 1:
        rows = _obedience_rows(problem, receiver)
        upper["obedience"] = (-rows, np.zeros(len(rows)))
    if max_misleading is not None:
        misleading = (prior[:, None] * ~full_information_best(problem)).reshape(1, -1)
        upper["max_misleading"] = (misleading, np.array([max_misleading]))
    if receiver_floor is not None:
        receiver_row = (prior[:, None] * problem.receiver_utility).reshape(1, -1)
        upper["receiver_floor"] = (-receiver_row, np.array([-float(receiver_floor)]))

    def run(c: np.ndarray, names: list[str]):
        parts = [upper[name] for name in names]
        a_ub = np.vstack([part[0] for part in parts]) if parts else None
        b_ub = np.concatenate([part[1] for part in parts]) if parts else None
        return linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=equality, b_eq=np.ones(num_states), bounds=(0, None),
                       method="highs")

    result = run(objective, list(upper))
    if result.status == 2:
        raise _infeasible(problem, receiver, upper, run, max_misleading, receiver_floor)
    if result.status != 0:
        raise RuntimeError(f"the persuasion LP failed: {result.message}")
    scheme = np.clip(result.x.reshape(num_states, num_actions), 0.0, None)
    scheme /= scheme.sum(axis=1, keepdims=True)
    sender_value = float((prior[:, None] * scheme * problem.sender_utility).sum())
    receiver_value = float((prior[:, None] * scheme * problem.receiver_utility).sum())
    misleading_probability = float((prior[:, None] * scheme * ~full_information_best(problem)).sum())
    identity = full_disclosure(num_states, num_states)
    return PersuasionSolution(
        problem, receiver, scheme, sender_value, receiver_value, misleading_probability,
        optimal=evaluate_scheme(problem, scheme, receiver),
        full_disclosure=evaluate_scheme(problem, identity, receiver) if receiver.kind != "credulous"
        else _credulous_full_disclosure(problem),
        no_disclosure=evaluate_scheme(problem, no_disclosure(num_states, num_actions), _believer(receiver)),
        constraints={"max_misleading": max_misleading, "receiver_floor": receiver_floor},
    )


def _believer(receiver: ReceiverModel) -> ReceiverModel:
    """The receiver model for the no-disclosure baseline: a credulous receiver who hears nothing acts on the prior."""
    return BAYESIAN if receiver.kind == "credulous" else receiver


def _credulous_full_disclosure(problem: PersuasionProblem) -> SchemeValue:
    """Full disclosure to a credulous receiver: it is told the state and plays its best action there."""
    actions = [int(np.argmax(row)) for row in problem.receiver_utility]
    scheme = np.zeros((problem.num_states, problem.num_actions))
    scheme[np.arange(problem.num_states), actions] = 1.0
    return evaluate_scheme(problem, scheme, ReceiverModel("credulous"))


def _infeasible(problem, receiver, upper, run, max_misleading, receiver_floor) -> InfeasibleConstraintError:
    """Say which constraints make the LP infeasible: each optional one alone, else their combination."""
    optional = [name for name in ("max_misleading", "receiver_floor") if name in upper]
    base = [name for name in upper if name not in optional]
    alone = [name for name in optional if run(np.zeros_like(upper[name][0][0]), [*base, name]).status == 2]
    culprits = alone or optional
    details = []
    if "receiver_floor" in culprits:
        best = run(upper["receiver_floor"][0][0], [name for name in upper if name != "receiver_floor"])
        # maximising the receiver's utility: upper["receiver_floor"][0][0] is minus its coefficients
        reachable = f"; the most the receiver can get is {-best.fun:.6g}" if best.status == 0 else ""
        details.append(f"receiver_floor={receiver_floor}{reachable}")
    if "max_misleading" in culprits:
        details.append(f"max_misleading={max_misleading}")
    article = "an" if receiver.kind[0] in "aeiou" else "a"
    against = f"against {article} {receiver.kind} receiver" + (f" (anchoring {receiver.anchoring})" if receiver.kind == "anchored" else "")
    together = " together" if not alone and len(optional) > 1 else ""
    return InfeasibleConstraintError(
        f"{problem.name}: no signalling scheme satisfies {', '.join(details)}{together} with the receiver's "
        f"obedience constraints {against}; loosen {' or '.join(culprits)}", culprits)
