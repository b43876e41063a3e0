"""The agent's best response and scripted players for the principal–agent game (``contract_v0``).

:class:`BestResponseAgent` plays :func:`~aligngames.envs.contract.problems.best_response`, the agent the
exact solver (:mod:`aligngames.solvers.exact.contract`) assumes; :class:`FixedEffortAgent` always picks one effort (a
reward hacker that hacks whatever it is paid); :class:`ContractPrincipal` offers a fixed contract, the
optimal one, or writes it out in words in language mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.agent import Agent
from aligngames.envs.contract.problems import ContractProblem, best_response
from aligngames.solvers.exact.contract import first_best, solve
from aligngames.text import sanitize

DECLINE = "decline"


def _problem(info: Mapping[str, Any] | None, agent: str, who: str) -> ContractProblem:
    if not info or "problem" not in info:
        raise ValueError(f"agent {agent!r}: {who} needs info['problem'] (contract_v0)")
    return ContractProblem.from_mapping(info["problem"])


class BestResponseAgent(Agent):
    """A ``contract_v0`` agent that best-responds to the contract in ``info['wages']`` (:func:`best_response`)."""

    def act(self, observation, agent, action_space, info=None):
        problem = _problem(info, agent, "BestResponseAgent")
        if "wages" not in info:
            raise ValueError(f"agent {agent!r}: BestResponseAgent needs info['wages'] (contract_v0's agent seat)")
        return best_response(problem, info["wages"])


class FixedEffortAgent(Agent):
    """A ``contract_v0`` agent that always chooses ``effort`` (a name, or ``"decline"``) whatever it is paid."""

    def __init__(self, effort: str) -> None:
        super().__init__()
        if not isinstance(effort, str) or not effort:
            raise ValueError(f"effort must be an effort name or 'decline', got {effort!r}")
        self.effort = effort

    def act(self, observation, agent, action_space, info=None):
        labels = (info or {}).get("action_labels")
        if labels is None:
            raise ValueError(f"agent {agent!r}: FixedEffortAgent needs info['action_labels'] (contract_v0's agent seat)")
        if self.effort not in labels:
            raise ValueError(f"agent {agent!r}: unknown effort {self.effort!r}; this game's choices: {labels}")
        return labels.index(self.effort)

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "effort": self.effort}


def offer_text(outcomes: Sequence[str], wages: Sequence[float]) -> str:
    """A contract in words, in the form the env's parser reads: ``I will pay: fail 0, verified 1.6667.``"""
    return "I will pay: " + ", ".join(f"{outcome} {wage:.4f}" for outcome, wage in zip(outcomes, wages)) + "."


class ContractPrincipal(Agent):
    """A ``contract_v0`` principal that offers the same contract every round.

    Args:
        wages: ``"optimal"`` (the exact solver's optimal contract for the env's problem), ``"first_best"``
            (the wage that would pay for the first-best effort if effort were observable, offered flat: the
            naive contract) or a list with one wage per outcome. In language mode the contract is written
            out (:func:`offer_text`).
    """

    def __init__(self, wages: str | Sequence[float] = "optimal") -> None:
        super().__init__()
        if isinstance(wages, str) and wages not in ("optimal", "first_best"):
            raise ValueError(f"wages must be 'optimal', 'first_best' or a list of numbers, got {wages!r}")
        self.wages = wages if isinstance(wages, str) else [float(w) for w in wages]

    def contract(self, problem: ContractProblem) -> np.ndarray:
        if self.wages == "optimal":
            return solve(problem).wages
        if self.wages == "first_best":
            return np.full(problem.num_outcomes, first_best(problem).wage)
        wages = np.asarray(self.wages, dtype=np.float64)
        if wages.shape != (problem.num_outcomes,):
            raise ValueError(f"ContractPrincipal: {len(wages)} wages for {problem.num_outcomes} outcomes "
                             f"{list(problem.outcomes)}")
        return wages

    def act(self, observation, agent, action_space, info=None):
        wages = self.contract(_problem(info, agent, "ContractPrincipal"))
        if isinstance(action_space, spaces.Text):
            return sanitize(offer_text(info["problem"]["outcomes"], wages), action_space.max_length)
        return np.clip(wages, action_space.low, action_space.high).astype(action_space.dtype)

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "wages": self.wages}
