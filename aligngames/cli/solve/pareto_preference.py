"""Pareto preference (pareto_preference_v0 tables): exact per-preference optima (linear or Tchebycheff, with KL), the Pareto front and its hypervolume, and a preference-conditioned policy's regret

``aligngames solve pareto_preference --example helpful_harmless --json result.json`` (or ``--problem FILE``, a
YAML / JSON mapping with ``answers``, ``objectives``, ``rewards`` ``[answer][objective]`` and optionally
``reference``, ``beta``, ``weights`` / ``weight_probs`` or ``grid``, ``scalarisation``) prints, for each
preference vector ``w`` of the user types (``--grid K``: every simplex point with denominator K), the optimal
policy and its expected reward vector, then the Pareto front and its hypervolume against ``--reference-point``
(default: the worst reward per objective less 0.1) (:mod:`aligngames.solvers.exact.pareto_preference`).
``--conditioned`` also fits one policy with logits linear in ``w`` for all user types (linear scalarisation
with KL) and reports its regret per ``w``; ``--plot FILE`` draws the front.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aligngames.config import ConfigError, load_yaml
from aligngames.envs.pareto_preference.problems import (
    EXAMPLES,
    SCALARISATIONS,
    ParetoPreferenceProblem,
    build,
)
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.pareto_preference import fit_conditioned, plot_front, solve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--example", choices=sorted(EXAMPLES), default=None,
                        help="a named problem (without --problem: helpful_harmless)")
    source.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON file with answers, objectives, rewards ([answer][objective]), ...")
    parser.add_argument("--scalarisation", choices=SCALARISATIONS, default=None, help="override the scalarisation")
    parser.add_argument("--beta", type=float, default=None, help="override the KL weight (0: argmax / an LP)")
    parser.add_argument("--grid", type=int, default=None, metavar="K",
                        help="user types: every simplex point with denominator K (uniformly)")
    parser.add_argument("--reference-point", type=float, nargs="+", default=None, metavar="X",
                        help="the hypervolume's reference point, one number per objective")
    parser.add_argument("--conditioned", action="store_true",
                        help="also fit one w-conditioned policy (logits linear in w) and report its regret per w")
    parser.add_argument("--plot", metavar="FILE", default=None, help="draw the front to this PNG")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def load_problem(args: argparse.Namespace) -> ParetoPreferenceProblem:
    data = load_yaml(args.problem) if args.problem else build(args.example or "helpful_harmless").to_dict()
    if not isinstance(data, dict):
        raise ConfigError(f"{args.problem}: a pareto_preference problem is a mapping, got {type(data).__name__}")
    data = {**data, **{key: value for key, value in (("beta", args.beta), ("scalarisation", args.scalarisation))
                       if value is not None}}
    if args.grid is not None:
        data.update(weights=None, weight_probs=None, grid=args.grid)
    return ParetoPreferenceProblem.from_mapping(data)


def _vector(values) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in values) + ")"


def run(args: argparse.Namespace) -> int:
    problem = load_problem(args)
    solution = solve(problem, args.reference_point)
    result = solution.to_dict()
    lines = [f"{problem.name}: {problem.num_answers} answers, objectives {', '.join(problem.objectives)}; "
             f"{problem.scalarisation} scalarisation, beta {problem.beta:g}, {problem.num_types} user types"]
    for w, policy, expected in zip(problem.weights, solution.policies, solution.expected_rewards):
        lines.append(f"  w {_vector(w)}: " + ", ".join(f"{a} {p:.4f}" for a, p in zip(problem.answers, policy))
                     + f"; E r {_vector(expected)}")
    lines.append(f"front: {len(solution.front)} points; hypervolume {solution.hypervolume:.6f} against "
                 f"{_vector(solution.reference_point)}")
    if args.conditioned:
        fit = fit_conditioned(problem)
        lines.append(f"conditioned policy (logits linear in w, {fit.iterations} L-BFGS iterations): max regret "
                     f"{fit.regret.max():.3e}, expected regret {fit.expected_regret:.3e}")
        result["conditioned"] = fit.to_dict()
    if args.plot:
        plot_front(Path(args.plot), solution, f"{problem.name}: {problem.scalarisation}, beta {problem.beta:g}")
        lines.append(f"plot: {args.plot}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, result)
    return 0
