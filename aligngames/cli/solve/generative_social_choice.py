"""Fish et al. greedy slate of k statements (balanced coalitions, BJR check) with generator and rater queries

``aligngames solve generative_social_choice --slate-size 4`` prints the slate of
:func:`aligngames.solvers.social_choice.generative.generative_slate` for the shipped congestion-charge
population, each participant's assigned statement and rating.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aligngames import registry
from aligngames.config import parse_agent
from aligngames.runs import atomic_write_json
from aligngames.seeding import make_rng
from aligngames.solvers.social_choice.generative import (
    POPULATIONS,
    AgentStatementGenerator,
    AgentUtilityEstimator,
    EmbeddingUtilityEstimator,
    ExtractiveGenerator,
    Population,
    generative_slate,
    load_population,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--population", default="congestion_charge", help=f"shipped population {list(POPULATIONS)}")
    parser.add_argument("--population-file", default=None, help="your own population JSON {name, question, participants}")
    parser.add_argument("--slate-size", type=int, default=4, help="k, the number of statements")
    parser.add_argument("--generator", choices=["extractive", "agent"], default="extractive")
    parser.add_argument("--estimator", choices=["embedding", "agent"], default="embedding")
    parser.add_argument("--agent", default=None, help="registered agent for --generator/--estimator agent, "
                        "NAME[:key=value,...] (e.g. an LLM agent)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", "--out", dest="json", metavar="FILE", default=None,
                        help="also write the slate, statements and ratings to this JSON file (--out is the old name)")


def run(args: argparse.Namespace) -> int:
    population = Population.from_json(args.population_file) if args.population_file else load_population(args.population)
    agent = None
    if "agent" in (args.generator, args.estimator):
        if not args.agent:
            raise ValueError("--generator agent / --estimator agent need --agent NAME[:key=value,...]")
        name, kwargs = parse_agent(args.agent)
        agent = registry.make_agent(name, **kwargs)
        agent.reset(args.seed)
    generator = AgentStatementGenerator(agent) if args.generator == "agent" else ExtractiveGenerator()
    estimator = AgentUtilityEstimator(agent) if args.estimator == "agent" else EmbeddingUtilityEstimator()
    result = generative_slate(population, args.slate_size, generator, estimator, make_rng(args.seed, "generative_social_choice"))
    print(result.report())
    if args.json:
        atomic_write_json(Path(args.json), result.to_dict())
        print(f"wrote {args.json}")
    return 0
