"""debate_v0 judge accuracy per protocol (positions swapped, bootstrap CIs) and debater Elo

``aligngames solve debate_eval --split test --out runs/debate_eval`` prints the accuracy table (and the Elo
table) of :func:`aligngames.solvers.evaluation.debate_eval.evaluate` and writes ``summary.json`` and
``episodes.jsonl``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aligngames.cli import add_force_new_argument
from aligngames.config import from_mapping, load_yaml, parse_agent, parse_labelled_agent, to_mapping
from aligngames.envs.debate.judges import PROTOCOLS
from aligngames.runs import RunFolder
from aligngames.solvers.evaluation.debate_eval import DebateEvalConfig, evaluate, format_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="YAML file with DebateEvalConfig keys (flags override it)")
    parser.add_argument("--split", default=None)
    parser.add_argument("--protocols", nargs="+", default=None, choices=PROTOCOLS)
    parser.add_argument("--debater", default=None, help="agent for the accuracy runs: NAME[:key=value,...]")
    parser.add_argument("--judge", default=None, help="quote_counting, agent_judge, or player")
    parser.add_argument("--judge-agent", default=None, help="with --judge player: the judge agent, NAME[:key=value,...]")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--max-items", type=int, default=None)
    parser.add_argument("--elo-pool", nargs="*", default=None,
                        help="NAME=AGENT[:key=value,...] entries (give the flag with nothing to skip Elo)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", default=None, help="write summary.json and episodes.jsonl here")
    add_force_new_argument(parser)


def config_from_args(args: argparse.Namespace) -> DebateEvalConfig:
    """``--config`` (if given) overridden by the flags that were set."""
    data: dict[str, Any] = load_yaml(args.config) if args.config else {}
    for key in ("split", "rounds", "max_items", "seed", "judge"):
        if getattr(args, key) is not None:
            data[key] = getattr(args, key)
    if args.protocols is not None:
        data["protocols"] = list(args.protocols)
    if args.debater is not None:
        name, kwargs = parse_agent(args.debater)
        data["debater"] = {"type": name, "kwargs": kwargs}
    if args.judge_agent is not None:
        name, kwargs = parse_agent(args.judge_agent)
        data["judge_agent"] = {"type": name, "kwargs": kwargs}
    if args.elo_pool is not None:
        pool = {}
        for entry in args.elo_pool:
            label, name, kwargs = parse_labelled_agent(entry, "--elo-pool")
            pool[label] = {"type": name, "kwargs": kwargs}
        data["elo_pool"] = pool
    return from_mapping(DebateEvalConfig, data, args.config or "debate_eval")


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    summary, records = evaluate(config)
    print(format_summary(summary, config))
    if args.out:
        with RunFolder.open(args.out, command="solve debate_eval", config=to_mapping(config), seed=config.seed) as out:
            out.write_text("episodes.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
            out.write_json("summary.json", {"config": to_mapping(config), "summary": summary})
        print(f"wrote {out.file('summary.json')} and {out.file('episodes.jsonl')} (config and manifest beside them)")
    return 0
