"""Recursive debate vs consultancy under a one-check judge: exact accuracy by chain length, checked by game-tree
search on random chains and by played episodes of the scripted debaters.

- exact: the judge's accuracy under optimal play for recursive debate (``1 - delta``), one-check consultancy
  (``1/2 + (1 - 2 delta) / (2n)``) and no check (1/2), for ``n = 2..--max-steps`` and each judge error in
  ``--errors``; the most rounds the liar can force (``ceil(log2 n)``);
- search: the minimax value of the full game tree on ``--instances`` random chains per ``n`` (it must equal
  the closed form), the states searched, and where the chains are few enough the liar consultant's catch
  probability by enumeration (``1/n``);
- played: ``--episodes`` language-mode episodes per protocol with the scripted ``chain_debater`` in every
  seat (honest debaters state the true chain, liars a chain consistent with their claim), at ``n = 4``, with
  95% bootstrap intervals around the exact accuracy.

    python benchmarks/recursive_debate.py            # about 10 s
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from aligngames.agent import AgentSpec
from aligngames.solvers.evaluation.recursive_debate_eval import played_accuracy
from aligngames.solvers.exact.recursive_debate import compare, search_random_instances

PROTOCOLS = {"recursive": "recursive debate", "recursive_consultancy": "consultancy"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-steps", type=int, default=13, help="the longest chain (default: %(default)s)")
    parser.add_argument("--errors", default="0.0,0.1", help="judge check errors delta (default: %(default)s)")
    parser.add_argument("--values", type=int, default=3, help="values per step of the searched chains")
    parser.add_argument("--instances", type=int, default=3, help="random chains searched per n (default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=200, help="played episodes per protocol (default: %(default)s)")
    parser.add_argument("--played-steps", type=int, default=4, help="n of the played episodes (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "recursive_debate.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    errors = [float(part) for part in args.errors.split(",")]
    rng = np.random.default_rng(args.seed)

    exact = []
    print("judge accuracy under optimal play (exact), and the liar's longest debate")
    print(f"{'n':>3} {'delta':>6} {'debate':>8} {'consult':>8} {'no check':>9} {'rounds':>7} {'search value':>13} "
          f"{'search rounds':>14} {'catch':>7}")
    for steps in range(2, args.max_steps + 1):
        for error in errors:
            rows = {row["protocol"]: row for row in compare(steps, error)}
            search = search_random_instances(steps, args.values, args.instances, rng, check_error=error)
            debate = rows["recursive debate"]
            row = {"steps": steps, "check_error": error, "debate": debate["accuracy"],
                   "consultancy": rows["consultancy"]["accuracy"], "no_check": rows["no check"]["accuracy"],
                   "rounds": debate["rounds"], "search": search,
                   "search_matches": all(abs(s["value"] - debate["accuracy"]) < 1e-12 for s in search),
                   "longest_search_rounds": max(s["max_rounds"] for s in search)}
            exact.append(row)
            values = sorted({round(s["value"], 12) for s in search})
            catches = sorted({round(s["consultancy_catch"], 12) for s in search if "consultancy_catch" in s})
            print(f"{steps:>3} {error:>6g} {row['debate']:>8.4f} {row['consultancy']:>8.4f} {row['no_check']:>9.4f} "
                  f"{row['rounds']:>7d} {', '.join(f'{v:.4f}' for v in values):>13} {row['longest_search_rounds']:>14d} "
                  f"{', '.join(f'{c:.4f}' for c in catches) or '-':>7}")

    played = []
    agent = AgentSpec("chain_debater", {})
    print(f"\nplayed, chain_debater in every seat, n = {args.played_steps}, {args.episodes} episodes per protocol")
    for protocol, label in PROTOCOLS.items():
        result = played_accuracy(agent, protocol, steps=args.played_steps, values=4, episodes=args.episodes,
                                 seed=args.seed)
        expected = {row["protocol"]: row["accuracy"] for row in compare(args.played_steps)}[label]
        low, high = result.ci95
        played.append({"protocol": protocol, "episodes": result.episodes, "accuracy": result.accuracy,
                       "interval": [low, high], "exact": expected, "exact_inside_interval": bool(low <= expected <= high),
                       "oversight_gap_recovered": result.oversight_gap_recovered, "invalid_replies": result.invalid_replies})
        print(f"  {label:<17} accuracy {result.accuracy:.3f} [{low:.3f}, {high:.3f}] (exact {expected:.3f}); "
              f"oversight gap recovered {result.oversight_gap_recovered:.2f}")

    result = {"settings": vars(args), "exact": exact, "played": played, "seconds": time.perf_counter() - started}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
