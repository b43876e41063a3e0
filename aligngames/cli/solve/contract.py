"""the principal's optimal contract in a moral-hazard game (contract_v0 tables): LP (risk-neutral) or convex QP (sqrt utility)

``aligngames solve contract --example coding_assistant --json result.json`` (or ``--problem FILE``, a YAML /
JSON mapping with ``efforts``, ``outcomes``, ``outcome_probs`` ``[effort][outcome]``, ``effort_costs``,
``principal_values`` and optionally ``utility``, ``reservation_utility``, ``limited_liability``) prints the
optimal wages per outcome, the effort they induce, both sides' values, the first best and the agency cost,
and the cheapest contract for every effort (:mod:`aligngames.solvers.exact.contract`); ``--wages`` also
evaluates a contract of your own. ``--json FILE`` writes the result.
"""

from __future__ import annotations

import argparse

from aligngames.config import ConfigError, load_yaml
from aligngames.envs.contract.problems import EXAMPLES, UTILITIES, ContractProblem, build
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.contract import evaluate, solve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--example", choices=sorted(EXAMPLES), default=None,
                        help="a named problem (without --problem: two_outcome)")
    source.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON file with efforts, outcomes, outcome_probs [effort][outcome], effort_costs, "
                             "principal_values (and optionally utility, reservation_utility, limited_liability)")
    parser.add_argument("--utility", choices=UTILITIES, default=None, help="override the agent's utility for money")
    parser.add_argument("--reservation-utility", type=float, default=None, help="override the agent's outside option")
    parser.add_argument("--no-limited-liability", action="store_true", help="allow negative wages (linear utility only)")
    parser.add_argument("--wages", default=None, help="also evaluate this contract: comma-separated wages, one per outcome")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def load_problem(args: argparse.Namespace) -> ContractProblem:
    data = load_yaml(args.problem) if args.problem else build(args.example or "two_outcome").to_dict()
    if not isinstance(data, dict):
        raise ConfigError(f"{args.problem}: a contract problem is a mapping, got {type(data).__name__}")
    overrides = {"utility": args.utility, "reservation_utility": args.reservation_utility,
                 "limited_liability": False if args.no_limited_liability else None}
    data = {**data, **{key: value for key, value in overrides.items() if value is not None}}
    return ContractProblem.from_mapping(data)


def _wages(text: str, problem: ContractProblem) -> list[float]:
    try:
        wages = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--wages: expected comma-separated numbers, got {text!r}") from None
    if len(wages) != problem.num_outcomes:
        raise ConfigError(f"--wages: {len(wages)} wages for {problem.num_outcomes} outcomes {list(problem.outcomes)}")
    return wages


def run(args: argparse.Namespace) -> int:
    problem = load_problem(args)
    solution = solve(problem)
    result = solution.to_dict()
    lines = [f"{problem.name}: {problem.num_efforts} efforts, {problem.num_outcomes} outcomes; utility {problem.utility}, "
             f"reservation utility {problem.reservation_utility:g}, limited liability "
             f"{'on' if problem.limited_liability else 'off'}",
             "optimal contract: " + ", ".join(f"{o} {w:.4f}" for o, w in result["wages"].items()),
             f"induced effort {solution.induced_effort}; principal profit {solution.principal_profit:.4f}; agent utility "
             f"{solution.agent_utility:.4f} (rent {solution.agent_rent:.4f})",
             f"first best: effort {solution.first_best.effort}, flat wage {solution.first_best.wage:.4f}, profit "
             f"{solution.first_best.profit:.4f}; agency cost {solution.agency_cost:.4f}",
             "cheapest contract per effort:"]
    for contract in solution.by_effort:
        if contract.implementable:
            wages = ", ".join(f"{o} {w:.4f}" for o, w in zip(problem.outcomes, contract.wages))
            lines.append(f"  {contract.effort:<14} profit {contract.principal_profit:+.4f}  wages {wages}")
        else:
            lines.append(f"  {contract.effort:<14} not implementable")
    if args.wages is not None:
        wages = _wages(args.wages, problem)
        result["evaluated"] = {"wages": dict(zip(problem.outcomes, wages)), **evaluate(problem, wages)}
        own = result["evaluated"]
        lines.append(f"your contract: the agent chooses {own['effort']}; principal profit {own['principal_profit']:.4f}, "
                     f"agent utility {own['agent_utility']:.4f}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, result)
    return 0
