"""moral_graph_v0 sessions with scripted participants: graph export, representation, manipulation vs Copeland / maximal lottery

``aligngames solve moral_graph --out runs/moral_graph`` prints the table of
:func:`aligngames.solvers.social_choice.moral_graph.run_session` and writes ``report.json`` and each context's
graph as JSON, GraphML and PNG.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aligngames.agents.moral_graph import PROFILES
from aligngames.runs import atomic_write_json, atomic_write_text
from aligngames.solvers.social_choice.moral_graph import draw_graph, graph_to_json, run_session, write_graphml

#: The participants' latent value profiles when ``--profiles`` is not given.
DEFAULT_PROFILES = ("carer", "truth_teller", "guardian", "free_spirit", "communitarian")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profiles", nargs="+", default=list(DEFAULT_PROFILES),
                        help=f"one latent value profile per participant, from {list(PROFILES)}")
    parser.add_argument("--strategic", type=int, nargs="*", default=[],
                        help="indices of participants who vote strategically (default: all honest)")
    parser.add_argument("--contexts", nargs="+", default=None, help="context ids (default: all)")
    parser.add_argument("--votes-per-participant", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-manipulation-check", action="store_true")
    parser.add_argument("--out", default=None, help="folder for report.json and each context's graph (.json, .graphml, .png)")


def run(args: argparse.Namespace) -> int:
    for index in args.strategic:
        if not 0 <= index < len(args.profiles):
            raise ValueError(f"--strategic {index}: there are {len(args.profiles)} participants")
    strategies = ["strategic" if i in args.strategic else "honest" for i in range(len(args.profiles))]
    report = run_session(args.profiles, strategies=strategies, contexts=args.contexts,
                         votes_per_participant=args.votes_per_participant, seed=args.seed,
                         check_manipulation=not args.no_manipulation_check)
    print(report.table())
    if args.out:
        out = Path(args.out)
        atomic_write_json(out / "report.json", report.to_dict())
        for context in report.contexts:
            atomic_write_text(out / f"{context.context}.json", json.dumps(graph_to_json(context.graph), indent=1) + "\n")
            write_graphml(context.graph, out / f"{context.context}.graphml")
            draw_graph(context.graph, out / f"{context.context}.png", title=f"{context.context} (winners in orange)",
                       winners=sorted(context.winners))
        print(f"wrote {out}")
    return 0
