"""Pareto preference (pareto_preference_v0 tables): exact per-preference optima (linear or Tchebycheff, with KL), the Pareto front and its hypervolume, and a preference-conditioned policy's regret; in language mode (--train), a w-conditioned LoRA policy and its front before and after training

``aligngames solve pareto_preference --example helpful_harmless --json result.json`` (or ``--problem FILE``, a
YAML / JSON mapping with ``answers``, ``objectives``, ``rewards`` ``[answer][objective]`` and optionally
``reference``, ``beta``, ``weights`` / ``weight_probs`` or ``grid``, ``scalarisation``) prints, for each
preference vector ``w`` of the user types (``--grid K``: every simplex point with denominator K), the optimal
policy and its expected reward vector, then the Pareto front and its hypervolume against ``--reference-point``
(default: the worst reward per objective less 0.1) (:mod:`aligngames.solvers.exact.pareto_preference`).
``--conditioned`` also fits one policy with logits linear in ``w`` for all user types (linear scalarisation
with KL) and reports its regret per ``w``; ``--plot FILE`` draws the front. ``--train STEPS --out RUN``
instead trains a LoRA policy, conditioned on ``w`` through its prompt, in language mode and evaluates its front
on held-out prompts before and after (:mod:`aligngames.solvers.training.pareto_preference_training`; ``-e`` sets
the env's prompts and judges, ``--grid`` / ``--scalarisation`` the user types and scalarisation, ``--beta`` the
KL weight to the base model, ``--model`` the base model).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aligngames.config import ConfigError, load_yaml, parse_assignment
from aligngames.envs.pareto_preference.problems import (
    EXAMPLES,
    SCALARISATIONS,
    ParetoPreferenceProblem,
    build,
)
from aligngames.runs import atomic_write_json, read_json_file
from aligngames.solvers.exact.pareto_preference import fit_conditioned, plot_front, solve
from aligngames.solvers.training.pareto_preference_training import (
    FRONT_FILE,
    ParetoPreferenceTrainingConfig,
    train,
)
from aligngames.solvers.training.settings import GenerationSettings, ModelSettings

TRAINING_DEFAULTS = ParetoPreferenceTrainingConfig()


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
    training = parser.add_argument_group("language-mode training (--train; --grid, --scalarisation and --beta apply too)")
    training.add_argument("--train", type=int, default=None, metavar="STEPS",
                          help="train a w-conditioned LoRA policy for STEPS policy-gradient steps, then evaluate its front")
    training.add_argument("--out", default=None, help="--train: the run folder")
    training.add_argument("--model", default="embedded", help="--train: the base model (default: %(default)s)")
    training.add_argument("--prompts-per-step", type=int, default=TRAINING_DEFAULTS.prompts_per_step,
                          help="--train: env seeds (a user type and a prompt each) per step (default: %(default)s)")
    training.add_argument("--group-size", type=int, default=TRAINING_DEFAULTS.group_size,
                          help="--train: answers per seed (default: %(default)s)")
    training.add_argument("--max-new-tokens", type=int, default=TRAINING_DEFAULTS.generation.max_new_tokens,
                          help="--train: the longest answer in tokens (default: %(default)s)")
    training.add_argument("--eval-grid", type=int, default=TRAINING_DEFAULTS.eval_grid, metavar="K",
                          help="--train: evaluate at every simplex point with denominator K (default: %(default)s)")
    training.add_argument("--eval-prompts", type=int, default=TRAINING_DEFAULTS.eval_prompts,
                          help="--train: prompts held out for the evaluation (default: %(default)s)")
    training.add_argument("--eval-samples", type=int, default=TRAINING_DEFAULTS.eval_samples,
                          help="--train: answers per held-out prompt and w (default: %(default)s)")
    training.add_argument("--seed", type=int, default=TRAINING_DEFAULTS.seed, help="--train: the run seed")
    training.add_argument("--env-arg", "-e", action="append", default=[], metavar="KEY=VALUE",
                          help="--train: pareto_preference_v0 language-mode keyword (prompts, judges, judge_kwargs, "
                               "weights, weight_probs, baseline_answer)")


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


def _train(args: argparse.Namespace) -> int:
    if not args.out:
        raise ConfigError("--train needs --out RUN_DIR (the run folder)")
    tabular = [flag for flag, value in (("--example", args.example), ("--problem", args.problem),
                                        ("--conditioned", args.conditioned), ("--plot", args.plot)) if value]
    if tabular:
        raise ConfigError(f"--train trains in language mode; {tabular} are the tabular solver's (the run folder "
                          f"has front.png)")
    if args.reference_point is not None and len(args.reference_point) != 1:
        raise ConfigError(f"--train: --reference-point takes one number (the same on every objective; scores are "
                          f"in [0, 1]), got {args.reference_point}")
    settings = {key: value for key, value in (("grid", args.grid), ("scalarisation", args.scalarisation))
                if value is not None}
    settings.update(dict(parse_assignment(item, "--env-arg") for item in args.env_arg))
    generation = TRAINING_DEFAULTS.generation
    config = ParetoPreferenceTrainingConfig(
        steps=args.train, prompts_per_step=args.prompts_per_step, group_size=args.group_size,
        reference_kl=TRAINING_DEFAULTS.reference_kl if args.beta is None else args.beta, eval_grid=args.eval_grid,
        eval_prompts=args.eval_prompts, eval_samples=args.eval_samples, seed=args.seed,
        reference_point=TRAINING_DEFAULTS.reference_point if args.reference_point is None else args.reference_point[0],
        model=ModelSettings(args.model),
        generation=GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=generation.batch_size))
    summary = train(config, settings, args.out, progress=True)
    front = read_json_file(Path(args.out) / FRONT_FILE, keys=("before", "after", "reference_point"),
                           remedy="delete summary.json to evaluate again from the checkpoints")
    objectives = summary["objectives"]
    lines = [f"{summary['steps']} steps: mean s_w(r) {summary['first']['reward']:.3f} -> {summary['last']['reward']:.3f}"
             f"; held-out reward vector ({', '.join(objectives)}) per w, before -> after:"]
    for before, after in zip(front["before"]["per_weight"], front["after"]["per_weight"]):
        lines.append(f"  w {_vector(before['weight'])}: {_vector(before['reward_vector'])} -> "
                     f"{_vector(after['reward_vector'])}")
    lines.append(f"hypervolume {summary['hypervolume_before']:.4f} -> {summary['hypervolume_after']:.4f} against "
                 f"{_vector(front['reference_point'])}\nrun folder: {args.out}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, front)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.train is not None:
        return _train(args)
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
