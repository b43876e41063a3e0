"""the sender's optimal signalling scheme in Bayesian persuasion (persuasion_v0 tables) by LP, with full- and no-disclosure baselines

``aligngames solve persuasion --example prosecutor --json result.json`` (or ``--problem FILE``, a YAML / JSON
mapping with ``states``, ``actions``, ``prior``, ``sender_utility`` and ``receiver_utility``, utilities indexed
``[state][action]``) prints the optimal scheme ``P(signal | state)``, both sides' values and the two
baselines (:mod:`aligngames.solvers.exact.persuasion`); ``--json FILE`` writes them.
"""

from __future__ import annotations

import argparse

from aligngames.agents.persuasion import RECEIVER_MODELS, ReceiverModel
from aligngames.config import ConfigError, load_yaml
from aligngames.envs.persuasion.problems import EXAMPLES, PersuasionProblem, build
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.persuasion import solve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--example", choices=sorted(EXAMPLES), default=None,
                        help="a named problem (without --problem: prosecutor)")
    source.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON file with states, actions, prior, sender_utility, receiver_utility ([state][action])")
    parser.add_argument("--receiver", choices=RECEIVER_MODELS, default="bayesian",
                        help="the receiver model the scheme is optimal against (default: %(default)s)")
    parser.add_argument("--anchoring", type=float, default=0.0,
                        help="anchored receiver: weight on the prior in [0, 1] (default: %(default)s)")
    parser.add_argument("--max-misleading", type=float, default=None,
                        help="honest-reporting constraint: P(recommending an action the receiver would not take "
                             "knowing the state) at most this (none by default)")
    parser.add_argument("--receiver-floor", type=float, default=None,
                        help="the receiver's expected utility must be at least this (none by default)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def load_problem(args: argparse.Namespace) -> PersuasionProblem:
    if args.problem:
        return PersuasionProblem.from_mapping(load_yaml(args.problem), name=None)
    return build(args.example or "prosecutor")


def run(args: argparse.Namespace) -> int:
    if args.receiver != "anchored" and args.anchoring != 0.0:
        raise ConfigError(f"--anchoring applies to --receiver anchored, not {args.receiver}")
    problem = load_problem(args)
    solution = solve(problem, ReceiverModel(args.receiver, args.anchoring), max_misleading=args.max_misleading,
                     receiver_floor=args.receiver_floor)
    result = solution.to_dict()
    width = max(len(name) for name in problem.states)
    lines = [f"{problem.name}: {problem.num_states} states, {problem.num_actions} actions; receiver "
             f"{solution.receiver.describe()}; constraints {result['constraints']}",
             "optimal scheme P(recommend action | state):"]
    for state, row in result["scheme"].items():
        lines.append(f"  {state:<{width}}  " + ", ".join(f"{action} {p:.4f}" for action, p in row.items()))
    lines += [
        f"{'':<18}{'sender':>10}{'receiver':>10}",
        f"{'optimal scheme':<18}{solution.sender_value:>10.4f}{solution.receiver_value:>10.4f}",
        f"{'full disclosure':<18}{solution.full_disclosure.sender_value:>10.4f}{solution.full_disclosure.receiver_value:>10.4f}",
        f"{'no disclosure':<18}{solution.no_disclosure.sender_value:>10.4f}{solution.no_disclosure.receiver_value:>10.4f}",
        f"P(misleading recommendation) {solution.misleading_probability:.4f}",
    ]
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, result)
    return 0
