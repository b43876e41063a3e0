"""Rules of ``contract_v0`` (no PettingZoo here).

Each round of a :class:`~aligngames.envs.contract.problems.ContractProblem`:

- the ``principal`` offers a contract, one wage per outcome: in tabular mode a ``Box(low, max_wage,
  (num_outcomes,))`` (``low`` is 0 under limited liability, ``-max_wage`` otherwise); in language mode a
  message (``Text``) from which the wages are read (:func:`parse_wages`: ``2 for verified`` or
  ``verified: 2``; an outcome not priced pays 0, a wage outside the bounds is clipped, and
  ``info["parsed_wages"]`` shows what was read);
- the ``agent`` sees the contract and chooses an effort or declines (``Discrete(num_efforts + 1)``,
  labelled in ``info["action_labels"]``, so an LLM agent chooses by log-probability);
- the outcome is drawn from ``outcome_probs[effort]``; the principal gets ``value - wage`` and the agent
  ``u(wage) - cost``; declining gives the principal 0 and the agent its reservation utility.

The principal sees outcomes, never efforts (moral hazard). With ``rounds > 1`` the game repeats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.contract.problems import ContractProblem
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import (
    check_discrete_action,
    check_text_action,
    observation_space,
    parse_named_numbers,
    sanitize,
    text_space,
)

AGENTS = ("principal", "agent")
MODES = ("tabular", "language")
DECLINE = "decline"

#: The wages an offer written in words names (see :func:`aligngames.text.parse_named_numbers`).
parse_wages = parse_named_numbers


class ContractRules(GameRules):
    """State and payoffs of one principal–agent game.

    Args:
        problem: the efforts, outcomes and tables.
        mode: ``"tabular"`` (the principal offers a wage vector) or ``"language"`` (it writes the offer).
        rounds: rounds per episode.
        max_wage: the highest wage on any outcome (default: :meth:`ContractProblem.default_max_wage`).
        max_message_length: language mode: the longest offer in characters.
    """

    game_info = GameInfo(2, Utility.GENERAL_SUM, Dynamics.SEQUENTIAL)
    possible_agents = AGENTS

    def __init__(self, problem: ContractProblem, mode: str = "tabular", *, rounds: int = 1,
                 max_wage: float | None = None, max_message_length: int = 300) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        max_wage = problem.default_max_wage() if max_wage is None else float(max_wage)
        if not (np.isfinite(max_wage) and max_wage > 0):
            raise ValueError(f"max_wage must be a finite number > 0, got {max_wage}")
        if max_message_length < 1:
            raise ValueError(f"max_message_length must be >= 1, got {max_message_length}")
        self.problem, self.mode, self.rounds = problem, mode, rounds
        self.max_wage, self.max_message_length = max_wage, max_message_length
        self.min_wage = 0.0 if problem.limited_liability else -max_wage
        self.labels = (*problem.efforts, DECLINE)
        common = 3 + problem.num_outcomes  # round, over, last declined, last outcome one-hot
        names = sum(len(name) + 4 for name in (*problem.efforts, *problem.outcomes))
        per_round = (max_message_length if mode == "language" else 16 * problem.num_outcomes) + 200 + names
        self.transcript_length = 800 + 8 * names + 40 * problem.num_efforts * problem.num_outcomes + rounds * per_round
        self.observation_spaces = {
            "principal": observation_space(common, self.transcript_length),
            "agent": observation_space(common + problem.num_outcomes, self.transcript_length),
        }
        offer = (spaces.Box(np.float32(self.min_wage), np.float32(max_wage), shape=(problem.num_outcomes,),
                            dtype=np.float32) if mode == "tabular" else text_space(max_message_length))
        self.action_spaces = {"principal": offer, "agent": spaces.Discrete(len(self.labels))}
        self._problem_data = problem.to_dict()
        self._rng = np.random.default_rng(0)
        self.round = 0
        self.wages: np.ndarray | None = None
        self.message: str | None = None
        self.parsed: dict[str, float | None] | None = None
        self.history: list[dict[str, Any]] = []

    # --- dynamics -------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.round = 0
        self.history = []
        self.wages = self.message = self.parsed = None

    def is_terminal(self) -> bool:
        return self.round >= self.rounds

    def acting_agents(self) -> tuple[str, ...]:
        if self.is_terminal():
            return ()
        return ("principal",) if self.wages is None else ("agent",)

    def check_action(self, agent: str, action: Any) -> Any:
        self.check_turn(agent)
        space = self.action_spaces[agent]
        if agent == "agent":
            return check_discrete_action(action, space, agent)
        if self.mode == "language":
            return check_text_action(action, space, agent)
        try:
            wages = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"agent 'principal': a contract is one wage per outcome {list(self.problem.outcomes)}, "
                             f"got {type(action).__name__}: {action!r:.80}") from None
        if wages.shape != space.shape:
            raise ValueError(f"agent 'principal': the contract must have shape {space.shape} (one wage per outcome "
                             f"{list(self.problem.outcomes)}), got shape {wages.shape}")
        if not np.isfinite(wages).all() or (wages < space.low).any() or (wages > space.high).any():
            raise ValueError(f"agent 'principal': wages must be finite and in [{self.min_wage:g}, {self.max_wage:g}] "
                             f"(limited liability {'on' if self.problem.limited_liability else 'off'}), got {wages.tolist()}")
        return wages

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        if "principal" in actions:
            if self.mode == "language":
                self.message = actions["principal"]
                self.parsed = parse_wages(self.message, self.problem.outcomes)
                offered = [0.0 if wage is None else wage for wage in self.parsed.values()]
                self.wages = np.clip(np.asarray(offered, dtype=np.float64), self.min_wage, self.max_wage)
            else:
                self.wages = np.asarray(actions["principal"], dtype=np.float64)
            return dict.fromkeys(AGENTS, 0.0)
        return self._work(int(actions["agent"]))

    def _work(self, choice: int) -> dict[str, float]:
        problem = self.problem
        if choice == problem.num_efforts:
            outcome, rewards = None, {"principal": 0.0, "agent": problem.reservation_utility}
        else:
            outcome = int(self._rng.choice(problem.num_outcomes, p=problem.outcome_probs[choice]))
            wage = self.wages[outcome]
            rewards = {"principal": float(problem.principal_values[outcome] - wage),
                       "agent": float(problem.money_utility(wage) - problem.effort_costs[choice])}
        self.history.append({
            "round": self.round, "wages": self.wages.tolist(), "message": self.message, "parsed": self.parsed,
            "effort": self.labels[choice], "outcome": None if outcome is None else problem.outcomes[outcome],
            "rewards": rewards,
        })
        self.round += 1
        self.wages = self.message = self.parsed = None
        return rewards

    # --- observations ---------------------------------------------------------------------------
    def features(self, agent: str) -> np.ndarray:
        """``[round, over, last round declined, last outcome one-hot]``, plus the offered wages for the agent."""
        last = np.zeros(self.problem.num_outcomes)
        declined = 0.0
        if self.history:
            entry = self.history[-1]
            if entry["outcome"] is None:
                declined = 1.0
            else:
                last[self.problem.outcomes.index(entry["outcome"])] = 1.0
        parts = [np.array([self.round, float(self.is_terminal()), declined]), last]
        if agent == "agent":
            parts.append(np.zeros(self.problem.num_outcomes) if self.wages is None else self.wages)
        return np.concatenate(parts).astype(np.float32)

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent),
                "transcript": sanitize(self.transcript(agent), self.transcript_length)}

    def transcript(self, agent: str) -> str:
        """What ``agent`` sees: the problem, the finished rounds (the agent's efforts only to the agent), and
        this round so far."""
        problem = self.problem
        lines = [f"Contract game ({problem.name}), round {min(self.round + 1, self.rounds)} of {self.rounds}. "
                 f"You are the {agent}.",
                 f"The principal pays a wage on the observed outcome: {', '.join(problem.outcomes)}. Outcome values "
                 f"to the principal: " + ", ".join(f"{o} {v:g}" for o, v in zip(problem.outcomes, problem.principal_values)) + ".",
                 f"The agent's effort is hidden. Efforts (cost; P({' / '.join(problem.outcomes)})):"]
        for effort, cost, probs in zip(problem.efforts, problem.effort_costs, problem.outcome_probs):
            lines.append(f"  {effort}: cost {cost:g}; " + " / ".join(f"{p:.3g}" for p in probs))
        utility = "the wage" if problem.utility == "linear" else "the square root of the wage"
        lines.append(f"The agent's utility is {utility} minus the effort cost; declining gives it "
                     f"{problem.reservation_utility:g}.")
        for entry in self.history:
            effort = f"the agent chose {entry['effort']}; " if agent == "agent" else ""
            result = "the agent declined" if entry["outcome"] is None else f"{effort}outcome {entry['outcome']}"
            lines.append(f"  round {entry['round'] + 1}: wages {self._wage_text(entry['wages'])}; {result} "
                         f"(principal {entry['rewards']['principal']:+.3g}, agent {entry['rewards']['agent']:+.3g})")
        if self.is_terminal():
            lines.append("The game is over.")
        elif self.wages is None:
            lines.append("Offer a wage for each outcome." if agent == "principal" else "Waiting for the principal's offer.")
        elif agent == "agent":
            if self.message is not None:
                lines.append(f"The principal writes: {self.message}")
            lines.append(f"The binding contract pays: {self._wage_text(self.wages)}.")
            lines.append(f"Choose: {', '.join(self.labels)}")
        else:
            lines.append("Waiting for the agent.")
        return "\n".join(lines)

    def _wage_text(self, wages) -> str:
        return ", ".join(f"{outcome} {wage:.4g}" for outcome, wage in zip(self.problem.outcomes, wages))

    def agent_info(self, agent: str) -> dict[str, Any]:
        if agent not in self.acting_agents():
            return {}
        info: dict[str, Any] = {"problem": self._problem_data, "round": self.round}
        if agent == "agent":
            info.update(wages=self.wages.tolist(), action_labels=list(self.labels))
            if self.mode == "language":
                info.update(message=self.message, parsed_wages=dict(self.parsed))
        return info

    # --- accounts -------------------------------------------------------------------------------
    def returns(self) -> dict[str, float]:
        return {agent: float(sum(entry["rewards"][agent] for entry in self.history)) for agent in AGENTS}

    def render_text(self) -> str:
        lines = [f"=== contract_v0 ({self.mode}, {self.problem.name}) round {min(self.round + 1, self.rounds)} of {self.rounds}"]
        for entry in self.history:
            lines.append(f"  round {entry['round'] + 1}: wages {self._wage_text(entry['wages'])}; effort {entry['effort']}, "
                         f"outcome {entry['outcome']}; principal {entry['rewards']['principal']:+.4g}, "
                         f"agent {entry['rewards']['agent']:+.4g}")
        if not self.is_terminal():
            if self.wages is not None:
                lines.append(f"offer: {self._wage_text(self.wages)}")
            lines.append(f"(waiting for the {self.acting_agents()[0]})")
        returns = self.returns()
        lines.append(f"returns: principal {returns['principal']:+.4g}, agent {returns['agent']:+.4g}")
        return "\n".join(lines)

    def record(self) -> dict[str, Any]:
        return {"problem": self.problem.name, "mode": self.mode, "rounds": [dict(entry) for entry in self.history],
                "returns": self.returns()}

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "rounds": self.rounds, "max_wage": self.max_wage, "problem": self._problem_data}
