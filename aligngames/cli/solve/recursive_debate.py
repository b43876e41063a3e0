"""recursive (binary-search) debate vs consultancy vs no check under a one-step judge: exact judge accuracy by game-tree search

``aligngames solve recursive_debate --steps 8 --values 4 --check-error 0.1 --instances 3 --json out.json`` prints
the judge's accuracy under optimal play for recursive debate (``1 - delta``, at most ``ceil(log2 n)`` rounds),
one-check consultancy (``1/2 + (1 - 2 delta) / (2n)``) and a judge who checks nothing (1/2), then the exact
game-tree search on ``--instances`` random chains (:mod:`aligngames.solvers.exact.recursive_debate`): the minimax
value, the value with a truthful honest debater, the most rounds the liar can force and, where ``V^(n-1)`` chains
are few enough, the liar consultant's catch probability by enumeration. ``--play AGENT`` (a registered agent,
``NAME[:key=value,...]``, e.g. ``llm:temperature=0``) also plays ``--episodes`` episodes of each protocol in
language mode with that agent in every seat and reports the judge's accuracy with a 95% interval and the
oversight gap recovered (:mod:`aligngames.solvers.evaluation.recursive_debate_eval`). ``--json FILE`` writes the result.
"""

from __future__ import annotations

import argparse

import numpy as np

from aligngames.agent import AgentSpec
from aligngames.config import parse_agent
from aligngames.envs.debate.recursive import MAX_STEPS, MAX_VALUES, RECURSIVE_PROTOCOLS, max_rounds
from aligngames.runs import atomic_write_json
from aligngames.solvers.evaluation.recursive_debate_eval import played_accuracy
from aligngames.solvers.exact.recursive_debate import compare, search_random_instances


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=8, help="n, steps in the chain (default: %(default)s)")
    parser.add_argument("--values", type=int, default=3, help="V, values per step (default: %(default)s)")
    parser.add_argument("--check-error", type=float, default=0.0,
                        help="probability the judge's one check errs (default: %(default)s)")
    parser.add_argument("--instances", type=int, default=3,
                        help="random chains to solve by game-tree search (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random chains (default: %(default)s)")
    parser.add_argument("--play", metavar="AGENT", default=None,
                        help="also play both protocols in language mode with this agent in every seat (e.g. llm:temperature=0)")
    parser.add_argument("--episodes", type=int, default=50, help="--play: episodes per protocol (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def run(args: argparse.Namespace) -> int:
    if not 2 <= args.steps <= MAX_STEPS:
        raise ValueError(f"--steps must be in 2..{MAX_STEPS}, got {args.steps}")
    if not 2 <= args.values <= MAX_VALUES:
        raise ValueError(f"--values must be in 2..{MAX_VALUES}, got {args.values}")
    if args.instances < 0:
        raise ValueError(f"--instances must be >= 0, got {args.instances}")
    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    rows = compare(args.steps, args.check_error)
    searched = search_random_instances(args.steps, args.values, args.instances, np.random.default_rng(args.seed),
                                       check_error=args.check_error)
    lines = [f"{args.steps} steps, {args.values} values, check error {args.check_error:g}; the judge checks one step "
             f"(debate: at most ceil(log2 n) = {max_rounds(args.steps)} rounds)",
             "protocol           accuracy  checks  rounds  statements"]
    for row in rows:
        lines.append(f"{row['protocol']:<17}  {row['accuracy']:.6f}  {row['checks']:>6}  {row['rounds']:>6}  "
                     f"{row['statements']:>10}")
    for index, row in enumerate(searched):
        catch = f", liar consultant caught {row['consultancy_catch']:.6f}" if "consultancy_catch" in row else ""
        lines.append(f"instance {index}: game-tree value {row['value']:.6f} (truthful honest {row['truthful_value']:.6f}), "
                     f"liar forces {row['max_rounds']} rounds, {row['states']} states{catch}")
    played = []
    if args.play is not None:
        name, kwargs = parse_agent(args.play)
        spec = AgentSpec(name, kwargs)
        for protocol in RECURSIVE_PROTOCOLS:
            result = played_accuracy(spec, protocol, steps=args.steps, values=args.values, episodes=args.episodes,
                                     seed=args.seed, check_error=args.check_error)
            played.append(result.to_dict())
            lines.append(f"played by {args.play} ({protocol}, {result.episodes} episodes): accuracy {result.accuracy:.3f} "
                         f"[{result.ci95[0]:.3f}, {result.ci95[1]:.3f}], oversight gap recovered "
                         f"{result.oversight_gap_recovered:.3f}, replies that were no value {result.invalid_replies}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, {"steps": args.steps, "values": args.values, "check_error": args.check_error,
                                      "seed": args.seed, "protocols": rows, "instances": searched,
                                      **({"played": played, "agent": args.play} if played else {})})
    return 0
