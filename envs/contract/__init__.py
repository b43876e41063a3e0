"""``contract_v0``: a principal–agent game with moral hazard.

A human ``principal`` pays an AI ``agent`` on an observed outcome; the agent chooses a hidden effort
(genuine work, reward hacking, shirking) with a cost, or declines. Tabular mode: the principal offers one
wage per outcome (a ``Box``); language mode: it writes the offer and the wages are read from the text
(:func:`~aligngames.envs.contract.rules.parse_wages`). The problem is a named example
(``example="two_outcome"`` or ``"coding_assistant"``) or explicit tables (``efforts``, ``outcomes``,
``outcome_probs[effort][outcome]``, ``effort_costs[effort]``, ``principal_values[outcome]``, and optionally
``utility`` = ``"linear"`` / ``"sqrt"``, ``reservation_utility``, ``limited_liability``). The optimal
contract is in :mod:`aligngames.solvers.exact.contract`; scripted players in :mod:`aligngames.agents.contract`.

Observation: ``{"observation": features, "transcript": text}`` (see :meth:`ContractRules.features`);
``infos`` of the player to act carry the problem, and the agent's the binding wages and ``action_labels``.

Example::

    import aligngames
    from aligngames.agents.contract import BestResponseAgent, ContractPrincipal
    env = aligngames.make("contract_v0", example="coding_assistant")
    env.reset(seed=0)
    players = {"principal": ContractPrincipal("optimal"), "agent": BestResponseAgent()}
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        action = None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info)
        env.step(action)
"""

from __future__ import annotations

from collections.abc import Sequence

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.contract import problems
from aligngames.envs.contract.problems import ContractProblem
from aligngames.envs.contract.rules import ContractRules, parse_wages

NAME = "contract_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"example": "two_outcome"},
    {"example": "coding_assistant", "rounds": 3},
    {"efforts": ["low", "high"], "outcomes": ["failure", "success"], "outcome_probs": [[0.6, 0.4], [0.2, 0.8]],
     "effort_costs": [0, 1], "principal_values": [0, 12], "utility": "sqrt", "reservation_utility": 1.0},
    {"example": "two_outcome", "limited_liability": False},
    {"example": "coding_assistant", "mode": "language", "rounds": 2},
)


def make_rules(example: str | None = None, *, mode: str = "tabular", rounds: int = 1,
               efforts: Sequence[str] | None = None, outcomes: Sequence[str] | None = None, outcome_probs=None,
               effort_costs=None, principal_values=None, utility: str | None = None,
               reservation_utility: float | None = None, limited_liability: bool | None = None,
               max_wage: float | None = None, max_message_length: int = 300) -> ContractRules:
    """Build the game's rules: a named ``example`` or explicit tables (not both). ``utility``,
    ``reservation_utility`` and ``limited_liability`` override an example's."""
    tables = {"efforts": efforts, "outcomes": outcomes, "outcome_probs": outcome_probs, "effort_costs": effort_costs,
              "principal_values": principal_values}
    given = [key for key, value in tables.items() if value is not None]
    if example is not None and given:
        raise ValueError(f"give either example={example!r} or explicit tables, not both (got {given})")
    if example is None and not given:
        example = "two_outcome"
    data = problems.build(example).to_dict() if example is not None else {**tables, "name": "custom"}
    if example is None:
        missing = [key for key, value in tables.items() if value is None]
        if missing:
            raise ValueError(f"explicit tables need all of {list(tables)}; missing {missing}")
    options = {"utility": utility, "reservation_utility": reservation_utility, "limited_liability": limited_liability}
    data.update({key: value for key, value in options.items() if value is not None})
    return ContractRules(ContractProblem.from_mapping(data), mode, rounds=rounds, max_wage=max_wage,
                         max_message_length=max_message_length)


class raw_env(RulesAECEnv):
    """AEC version: principal, then agent, each round."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    @property
    def problem(self) -> ContractProblem:
        return self.rules.problem


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "ContractProblem", "ContractRules", "env", "make_rules", "parse_wages",
           "problems", "raw_env"]
