"""Aligner (aligner_v0 tables): the corrector's Gibbs-tilt best response to a copy prior, the composite, win rate vs the upstream, iterated distillation's fixed point, the red-team value

``aligngames solve aligner --example three_answers --json result.json`` (or ``--problem FILE``, a YAML / JSON mapping
with ``rewards`` (a list per answer, or a table ``[prompt][answer]`` for the red-team mode), ``upstream`` (the same
shape) and optionally ``eps``, ``beta``, ``answers``, ``prompts``) prints the corrector's kernel ``mu*(y' | y)``
(rows y, columns y'), the composite (the corrected answer distribution), its expected reward and win rate against
the upstream (:mod:`aligngames.solvers.exact.aligner`); ``--rounds R`` adds R rounds of iterated distillation
(``round_expected_reward``) and their ``fixed_point``; a red-team problem adds red's value and strategy.
``--eps`` and ``--beta`` override the problem's; ``--json FILE`` writes the result.

``--train STEPS --out RUN`` instead trains a LoRA corrector in language mode against the game's judge, correcting
the answers of ``--upstream`` (an agent spec; default the base model itself, ``llm``)
(:func:`aligngames.solvers.training.aligner_training.run`: a checkpoint after every step, a rerun on ``RUN``
resumes); ``-e KEY=VALUE`` sets the env's ``prompts``, ``judge``, ``cost_judge``, ``rounds`` ...
"""

from __future__ import annotations

import argparse

from aligngames.agent import AgentSpec
from aligngames.config import ConfigError, load_yaml, parse_agent, parse_assignment
from aligngames.envs.aligner.problems import EXAMPLES, AlignerProblem, build
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.aligner import solve
from aligngames.solvers.training.aligner_training import CorrectorTrainingConfig
from aligngames.solvers.training.aligner_training import run as train_corrector_run
from aligngames.solvers.training.settings import LoRASettings, ModelSettings, TrainerSettings

TRAINING_DEFAULTS = CorrectorTrainingConfig()


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
    training = parser.add_argument_group("language-mode training (--train)")
    training.add_argument("--train", type=int, default=None, metavar="STEPS",
                          help="train a LoRA corrector for STEPS policy-gradient steps against the game's judge")
    training.add_argument("--out", default=None, help="--train: the run folder (a rerun resumes)")
    training.add_argument("--upstream", default="llm", metavar="AGENT",
                          help="--train: the agent whose answers are corrected, e.g. llm:temperature=0.7 or "
                               "'aligner_fixed_answer:answer=Boil it.'; llm is the base model (default: %(default)s)")
    training.add_argument("--model", default="embedded", help="--train: the corrector's base model (default: %(default)s)")
    training.add_argument("--prompts-per-step", type=int, default=TRAINING_DEFAULTS.prompts_per_step,
                          help="--train: env seeds per step (default: %(default)s)")
    training.add_argument("--group-size", type=int, default=TRAINING_DEFAULTS.group_size,
                          help="--train: episodes per seed (default: %(default)s)")
    training.add_argument("--reference-kl", type=float, default=TRAINING_DEFAULTS.reference_kl,
                          help="--train: weight of KL(corrector || base model) (default: %(default)s)")
    training.add_argument("--max-new-tokens", type=int, default=TRAINING_DEFAULTS.max_new_tokens,
                          help="--train: the longest correction in tokens (default: %(default)s)")
    training.add_argument("--learning-rate", type=float, default=TRAINING_DEFAULTS.trainer.learning_rate,
                          help="--train: the optimiser's learning rate (default: %(default)s)")
    training.add_argument("--lora-rank", type=int, default=TRAINING_DEFAULTS.lora.rank,
                          help="--train: the corrector adapter's rank (default: %(default)s)")
    training.add_argument("--seed", type=int, default=TRAINING_DEFAULTS.seed, help="--train: the run seed")
    training.add_argument("--env-arg", "-e", action="append", default=[], metavar="KEY=VALUE",
                          help="--train: aligner_v0 language-mode keyword (prompts, judge, cost_judge, rounds, ...)")


def load_problem(args: argparse.Namespace) -> AlignerProblem:
    data = load_yaml(args.problem) if args.problem else build(args.example or "three_answers").to_dict()
    if not isinstance(data, dict):
        raise ConfigError(f"{args.problem}: an Aligner problem is a mapping, got {type(data).__name__}")
    overrides = {"eps": args.eps, "beta": args.beta}
    return AlignerProblem.from_mapping({**data, **{key: value for key, value in overrides.items() if value is not None}})


def _distribution(answers, values) -> str:
    return ", ".join(f"{answer} {value:.4f}" for answer, value in zip(answers, values))


def _train(args: argparse.Namespace) -> int:
    if not args.out:
        raise ConfigError("--train needs --out RUN_DIR (the run folder)")
    tabular = [flag for flag, given in (("--example", args.example is not None), ("--problem", args.problem is not None),
                                        ("--eps", args.eps is not None), ("--beta", args.beta is not None),
                                        ("--rounds", args.rounds != 0), ("--json", args.json is not None)) if given]
    if tabular:
        raise ConfigError(f"--train trains in language mode; {tabular} are the tabular solver's")
    name, kwargs = parse_agent(args.upstream)
    config = CorrectorTrainingConfig(
        steps=args.train, prompts_per_step=args.prompts_per_step, group_size=args.group_size,
        reference_kl=args.reference_kl, max_new_tokens=args.max_new_tokens, seed=args.seed,
        lora=LoRASettings(rank=args.lora_rank, alpha=2.0 * args.lora_rank),
        trainer=TrainerSettings(learning_rate=args.learning_rate, epochs=TRAINING_DEFAULTS.trainer.epochs))
    env_kwargs = dict(parse_assignment(item, "--env-arg") for item in args.env_arg)
    summary = train_corrector_run(config, AgentSpec(name, kwargs), env_kwargs, args.out, model=ModelSettings(args.model),
                                  progress=True)
    first, last = summary["first"], summary["last"]
    print(f"{summary['steps']} steps: corrector reward {first['reward']:.3f} -> {last['reward']:.3f}, P(y' > y) "
          f"{first['improvement']:.3f} -> {last['improvement']:.3f}, copy rate {first['copy_rate']:.2f} -> "
          f"{last['copy_rate']:.2f}\nrun folder: {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.train is not None:
        return _train(args)
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
