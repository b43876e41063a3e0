"""voting rules (Copeland, minimax, Borda, ranked pairs, maximal lottery, ...) and RLCHF on annotator populations

``aligngames solve social_choice --population disagree`` prints the comparison table of
:func:`aligngames.solvers.social_choice.voting.compare_rules` and the RLCHF matrix;
``--rankings "0>1>2*4" "1>2>0*3"`` runs your own profile.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aligngames.preferences import AnnotatorGroup
from aligngames.runs import atomic_write_json
from aligngames.solvers.social_choice.voting import (
    DEFAULT_COMPARISON,
    RULES,
    SWF_RULES,
    Election,
    compare_rules,
    parse_ranking,
    population,
    rlchf,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--population", default="disagree", help="disagree (default), food or random")
    source.add_argument("--rankings", nargs="+", metavar="A>B>C*COUNT", help="your own profile, candidates 0..m-1")
    parser.add_argument("--rules", nargs="+", default=list(DEFAULT_COMPARISON), help=f"rules to compare, from {list(RULES)}")
    parser.add_argument("--rlchf-rule", default="copeland", help=f"social welfare function for RLCHF, from {list(SWF_RULES)}")
    parser.add_argument("--json", "--out", dest="json", metavar="FILE", default=None,
                        help="also write the comparison and the RLCHF matrix to this JSON file (--out is the old name)")


def run(args: argparse.Namespace) -> int:
    if args.rankings:
        parsed = [parse_ranking(text) for text in args.rankings]
        size = len(parsed[0][0])
        answers = tuple(str(c) for c in range(size))
        groups = tuple(AnnotatorGroup.from_ranking(f"voters_{i}", count, order, size)
                       for i, (order, count) in enumerate(parsed))
    else:
        answers, groups = population(args.population)
    comparison = compare_rules(groups, answers, args.rules)
    aggregate = rlchf(Election.from_groups(groups, answers), args.rlchf_rule)
    ranking = " > ".join("{" + ", ".join(answers[c] for c in sorted(tier)) + "}" for tier in aggregate.ranking)
    print(comparison.table())
    print(f"\nRLCHF ({args.rlchf_rule}) social ranking: {ranking}")
    print("preference_game_v0 kwargs: " + json.dumps(aggregate.env_kwargs()))
    if args.json:
        atomic_write_json(Path(args.json), {"comparison": comparison.to_dict(), "rlchf": aggregate.to_dict()})
        print(f"wrote {args.json}")
    return 0
