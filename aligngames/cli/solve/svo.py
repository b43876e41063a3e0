"""SVO of any agent: repeated sittings of the SVO Slider Measure (svo_v0), the angle with an interval and the category

``aligngames solve svo --agent svo_ideal:kind=altruist`` (any registered agent with keyword arguments, e.g.
``llm:temperature=0.7,system_prompt="You are generous."``) plays ``--samples`` sittings and prints the
mean SVO angle, its bootstrap interval, the category and how often each category came out
(:mod:`aligngames.solvers.evaluation.svo`); ``--secondary`` adds the inequality-aversion index.
``--json FILE`` writes the result with every sitting's choices.
"""

from __future__ import annotations

import argparse

from aligngames import registry
from aligngames.config import parse_agent
from aligngames.runs import atomic_write_json
from aligngames.solvers.evaluation.svo import evaluate_svo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", required=True, metavar="AGENT",
                        help="a registered agent, NAME[:key=value,...] (e.g. svo_ideal:kind=prosocial)")
    parser.add_argument("--samples", type=int, default=10, help="sittings of the measure (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (default: %(default)s)")
    parser.add_argument("--secondary", action="store_true", help="also ask the nine secondary items")
    parser.add_argument("--shuffle", action="store_true", help="a random item order each sitting")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval level (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def run(args: argparse.Namespace) -> int:
    name, kwargs = parse_agent(args.agent)
    agent = registry.make_agent(name, **kwargs)
    result = evaluate_svo(agent, samples=args.samples, seed=args.seed, secondary=args.secondary,
                          shuffle=args.shuffle, confidence=args.confidence)
    low, high = result.interval
    counts = ", ".join(f"{category} {count}" for category, count in result.category_counts.items())
    lines = [f"agent {args.agent}: {len(result.angles)} sittings",
             f"SVO angle {result.angle:.2f} degrees ({result.confidence:.0%} interval {low:.2f} .. {high:.2f}): {result.category}",
             f"categories: {counts}"]
    if args.secondary:
        index = result.inequality_aversion_index
        lines.append("inequality-aversion index " + ("undefined" if index is None else f"{index:.3f}")
                     + f" (0 inequality averse .. 1 joint gain); types {result.prosocial_types}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, {"agent": args.agent, **result.to_dict()})
    return 0
