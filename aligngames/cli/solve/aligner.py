"""Aligner (aligner_v0 tables): the corrector's Gibbs-tilt best response to a copy prior, the composite, win rate vs the upstream, iterated distillation's fixed point, the red-team value

``aligngames solve aligner --example three_answers --json result.json`` (or ``--problem FILE``, a YAML / JSON mapping
with ``rewards`` (a list per answer, or a table ``[prompt][answer]`` for the red-team mode), ``upstream`` (the same
shape) and optionally ``eps``, ``beta``, ``answers``, ``prompts``) prints the corrector's kernel ``mu*(y' | y)``
(rows y, columns y'), the composite (the corrected answer distribution), its expected reward and win rate against
the upstream (:mod:`aligngames.solvers.exact.aligner`); ``--rounds R`` adds R rounds of iterated distillation
(``round_expected_reward``) and their ``fixed_point``; a red-team problem adds red's value and strategy.
``--eps`` and ``--beta`` override the problem's; ``--json FILE`` writes the result.
"""

from __future__ import annotations

import argparse

from aligngames.config import ConfigError, load_yaml
from aligngames.envs.aligner.problems import EXAMPLES, AlignerProblem, build
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.aligner import solve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--example", choices=sorted(EXAMPLES), default=None,
                        help="a named problem (without --problem: three_answers)")
    source.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON file with rewards ([answer] or [prompt][answer]), upstream (same shape) and "
                             "optionally eps, beta, answers, prompts")
    parser.add_argument("--eps", type=float, default=None, help="override the copy prior's resampling probability")
    parser.add_argument("--beta", type=float, default=None, help="override the corrector's KL weight")
    parser.add_argument("--rounds", type=int, default=0,
                        help="rounds of iterated distillation (the upstream trained on the corrected outputs)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def load_problem(args: argparse.Namespace) -> AlignerProblem:
    data = load_yaml(args.problem) if args.problem else build(args.example or "three_answers").to_dict()
    if not isinstance(data, dict):
        raise ConfigError(f"{args.problem}: an Aligner problem is a mapping, got {type(data).__name__}")
    overrides = {"eps": args.eps, "beta": args.beta}
    return AlignerProblem.from_mapping({**data, **{key: value for key, value in overrides.items() if value is not None}})


def _distribution(answers, values) -> str:
    return ", ".join(f"{answer} {value:.4f}" for answer, value in zip(answers, values))


def run(args: argparse.Namespace) -> int:
    if args.rounds < 0:
        raise ConfigError(f"--rounds must be >= 0, got {args.rounds}")
    problem = load_problem(args)
    solution = solve(problem, rounds=args.rounds)
    answers = problem.answers
    lines = [f"{problem.name}: {problem.num_answers} answers, {problem.num_prompts} prompt(s); eps {problem.eps:g}, "
             f"beta {problem.beta:g}{'; red team' if problem.red_team else ''}"]
    for index, prompt in enumerate(problem.prompts):
        if problem.red_team:
            lines.append(f"prompt {prompt}:")
        lines.append("  kernel mu*(y' | y) (rows y, columns " + ", ".join(answers) + "):")
        lines += [f"    {answer:<12} " + " ".join(f"{value:.4f}" for value in row)
                  for answer, row in zip(answers, solution.kernels[index])]
        lines.append(f"  composite: {_distribution(answers, solution.composites[index])}")
        lines.append(f"  expected reward {solution.expected_rewards[index]:.4f} (upstream "
                     f"{solution.upstream_rewards[index]:.4f}); win rate vs upstream {solution.win_rates[index]:.4f}")
        if solution.distillations is not None:
            distillation = solution.distillations[index]
            lines.append(f"  fixed point of iterated distillation: {_distribution(answers, distillation.fixed_point)}")
    if problem.red_team:
        best = [p for p, weight in zip(problem.prompts, solution.red_strategy) if weight > 0]
        lines.append(f"red: value {solution.value:.4f} (without the corrector {solution.upstream_value:.4f}); "
                     f"best prompts {', '.join(best)}")
    if solution.distillations is not None:
        lines.append("expected reward per distillation round: "
                     + ", ".join(f"{value:.4f}" for value in solution.round_expected_rewards()))
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, solution.to_dict())
    return 0
