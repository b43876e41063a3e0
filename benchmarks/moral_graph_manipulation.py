"""How often can one participant profit by misreporting, under the moral graph, Copeland and the
maximal lottery? And how often does each rule pick a participant's favourite card?

Random populations: each participant's latent value profile is a Dirichlet(1) draw over the five
value dimensions; everyone else is honest. For every population, context and participant the
check tries every misreport (3^T vote vectors for the moral graph, every ranking of the five cards
for Copeland and the maximal lottery; see aligngames.solvers.social_choice.moral_graph). The baseline is
Copeland: the table gives each rule's manipulable share and its ratio to Copeland's.

    nice -n 10 python benchmarks/moral_graph_manipulation.py --populations 20 --participants 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from aligngames.solvers.social_choice.moral_graph import run_session

RULES = ("moral_graph", "copeland", "maximal_lottery")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--populations", type=int, default=20)
    parser.add_argument("--participants", type=int, default=5, help="odd keeps the maximal lottery unique")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/moral_graph_manipulation.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    manipulable = {rule: [] for rule in RULES}
    favourite = {rule: [] for rule in RULES}
    represented, empty_graphs, contexts = [], 0, 0
    start = time.perf_counter()
    for population in range(args.populations):
        profiles = [rng.dirichlet(np.ones(5)).tolist() for _ in range(args.participants)]
        report = run_session(profiles, seed=args.seed + population)
        for context in report.contexts:
            contexts += 1
            empty_graphs += context.graph.number_of_edges() == 0
            represented.append(float(np.mean(list(context.representation.values()))))
            for check in context.checks:
                manipulable[check.rule].append(len(check.manipulators) / args.participants)
            for rule in RULES:
                favourite[rule].append(context.favourite_share[rule])
    seconds = time.perf_counter() - start
    results = {
        "populations": args.populations, "participants": args.participants, "contexts": contexts,
        "seconds": seconds, "empty_graph_share": empty_graphs / contexts,
        "moral_graph_mean_representation": float(np.mean(represented)),
        "rules": {rule: {"manipulable_share": float(np.mean(manipulable[rule])),
                         "favourite_share": float(np.mean(favourite[rule]))} for rule in RULES},
    }
    baseline = results["rules"]["copeland"]["manipulable_share"]
    print(f"{args.populations} populations x {contexts // args.populations} contexts, {args.participants} participants "
          f"({seconds:.1f} s); moral graph keeps no edge in {results['empty_graph_share']:.0%} of contexts; "
          f"mean representation (own card or endorsed upgrade) {results['moral_graph_mean_representation']:.3f}")
    print(f"{'rule':<16} {'manipulable share':>18} {'vs copeland':>12} {'favourite-card share':>21}")
    for rule in RULES:
        share = results["rules"][rule]["manipulable_share"]
        ratio = f"{share / baseline:.2f}x" if baseline > 0 else "n/a"
        print(f"{rule:<16} {share:>18.3f} {ratio:>12} {results['rules'][rule]['favourite_share']:>21.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
