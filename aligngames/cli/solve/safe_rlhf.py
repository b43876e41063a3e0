"""Safe RLHF (safe_rlhf_v0 tables): the exact constrained optimum and its Lagrange multiplier, and primal-dual dynamics with the multiplier as a player

``aligngames solve safe_rlhf --example two_prompts --json result.json`` (or ``--problem FILE``, a YAML /
JSON mapping with ``prompts``, ``answers``, ``prompt_probs``, ``rewards`` and ``costs`` ``[prompt][answer]``
and optionally ``reference``, ``beta``, ``threshold``) prints ``lambda*``, the optimal policy, its value,
expected reward and cost, and the dual value (:mod:`aligngames.solvers.exact.safe_rlhf`). ``--dynamics N``
also runs N iterations of primal-dual learning (MMD or gradient policy steps against a projected or
Safe-RLHF multiplier update) and reports the last iterate's distance to ``lambda*``; ``--plot FILE`` draws
the traces of lambda and the expected cost. ``--adversary`` solves the game with the adversary seat instead
(the cost constraint on every prompt): ``lambda*``, the adversary's prompt distribution and the policy.
``--train STEPS --out RUN`` instead trains a LoRA policy in
language mode against a learning multiplier (:mod:`aligngames.solvers.training.safe_rlhf_training`; ``-e``
sets the env's prompts, judges and threshold, ``--model`` the base model).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from aligngames.config import ConfigError, load_yaml, parse_assignment
from aligngames.envs.safe_rlhf.problems import EXAMPLES, SafeRLHFProblem, build
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.safe_rlhf import (
    MULTIPLIER_UPDATES,
    POLICY_UPDATES,
    plot_dynamics,
    primal_dual,
    solve,
    solve_robust,
)
from aligngames.solvers.training.safe_rlhf_training import SafeRLHFTrainingConfig, train
from aligngames.solvers.training.settings import ModelSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--example", choices=sorted(EXAMPLES), default=None,
                        help="a named problem (without --problem: comply_refuse)")
    source.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON file with prompts, answers, prompt_probs, rewards, costs ([prompt][answer])")
    parser.add_argument("--beta", type=float, default=None, help="override the KL weight (0: an LP)")
    parser.add_argument("--threshold", type=float, default=None, help="override the cost threshold d")
    parser.add_argument("--adversary", action="store_true",
                        help="solve the game with an adversary who picks the prompts the cost is measured on")
    parser.add_argument("--dynamics", type=int, default=0, metavar="N", help="also run N primal-dual iterations")
    parser.add_argument("--policy-update", choices=POLICY_UPDATES, default="mmd", help="dynamics: the policy's step")
    parser.add_argument("--policy-step", type=float, default=10.0, help="dynamics: the policy's step size eta")
    parser.add_argument("--multiplier-update", choices=MULTIPLIER_UPDATES, default="projected",
                        help="dynamics: projected gradient or Safe RLHF's log-multiplier rule")
    parser.add_argument("--multiplier-step", type=float, default=None,
                        help="dynamics: the multiplier's step size (default: 4 beta / range(cost)^2)")
    parser.add_argument("--initial-multiplier", type=float, default=1.0, help="dynamics: lambda at the start")
    parser.add_argument("--delay", type=int, default=0, help="dynamics: iterations before the multiplier moves")
    parser.add_argument("--cost-window", type=int, default=1, help="dynamics: iterations the cost estimate averages")
    parser.add_argument("--lambda-max", type=float, default=1e6, help="dynamics: the largest multiplier")
    parser.add_argument("--plot", metavar="FILE", default=None, help="dynamics: draw the traces to this PNG")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")
    training = parser.add_argument_group("language-mode training (--train)")
    training.add_argument("--train", type=int, default=None, metavar="STEPS",
                          help="train a LoRA policy for STEPS policy-gradient steps against a learning multiplier")
    training.add_argument("--out", default=None, help="--train: the run folder")
    training.add_argument("--model", default="embedded", help="--train: the base model (default: %(default)s)")
    training.add_argument("--prompts-per-step", type=int, default=4, help="--train: prompts per step")
    training.add_argument("--group-size", type=int, default=4, help="--train: answers per prompt")
    training.add_argument("--env-arg", "-e", action="append", default=[], metavar="KEY=VALUE",
                          help="--train: safe_rlhf_v0 language-mode keyword (prompts, reward_judge, cost_judge, threshold)")


def load_problem(args: argparse.Namespace) -> SafeRLHFProblem:
    data = load_yaml(args.problem) if args.problem else build(args.example or "comply_refuse").to_dict()
    if not isinstance(data, dict):
        raise ConfigError(f"{args.problem}: a safe_rlhf problem is a mapping, got {type(data).__name__}")
    overrides = {"beta": args.beta, "threshold": args.threshold}
    return SafeRLHFProblem.from_mapping({**data, **{k: v for k, v in overrides.items() if v is not None}})


def _train(args: argparse.Namespace) -> int:
    if not args.out:
        raise ConfigError("--train needs --out RUN_DIR (the run folder)")
    if args.problem or args.example or args.dynamics:
        raise ConfigError("--train trains in language mode; --example / --problem / --dynamics are the tabular solver's")
    settings = {"threshold": args.threshold} if args.threshold is not None else {}
    settings.update(dict(parse_assignment(item, "--env-arg") for item in args.env_arg))
    config = SafeRLHFTrainingConfig(steps=args.train, prompts_per_step=args.prompts_per_step, group_size=args.group_size,
                                    model=ModelSettings(args.model))
    summary = train(config, settings, args.out, progress=True)
    first, last = summary["first"], summary["last"]
    print(f"{summary['steps']} steps: reward {first['reward']:.3f} -> {last['reward']:.3f}, cost {first['cost']:.3f} -> "
          f"{last['cost']:.3f} (threshold {summary['threshold']:g}), lambda {first['lambda']:.3g} -> "
          f"{summary['final_lambda']:.3g}\nrun folder: {args.out}")
    return 0


def _run_robust(args: argparse.Namespace, problem: SafeRLHFProblem) -> int:
    solution = solve_robust(problem)
    lines = [f"{problem.name} with an adversary: {problem.num_prompts} prompts, {problem.num_answers} answers; beta "
             f"{problem.beta:g}, threshold {problem.threshold:g} on every prompt",
             f"multiplier lambda* {solution.multiplier:.10g}"]
    for k, prompt in enumerate(problem.prompts):
        lines.append(f"  {prompt}: adversary {solution.adversary[k]:.4f}, nu {solution.prompt_multipliers[k]:.6g}, cost "
                     f"{solution.prompt_costs[k]:.6f}; " + ", ".join(
                         f"{answer} {p:.4f}" for answer, p in zip(problem.answers, solution.policy[k])))
    lines.append(f"value {solution.value:.6f} (reward {solution.expected_reward:.6f}, KL {solution.kl:.6f}); dual value "
                 f"{solution.dual_value:.6f}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, solution.to_dict())
    return 0


def run(args: argparse.Namespace) -> int:
    if args.train is not None:
        return _train(args)
    problem = load_problem(args)
    if args.dynamics < 0:
        raise ConfigError(f"--dynamics must be >= 0, got {args.dynamics}")
    if args.plot and not args.dynamics:
        raise ConfigError("--plot draws the dynamics: give --dynamics N too")
    if args.adversary:
        if args.dynamics:
            raise ConfigError("--dynamics runs the game without an adversary; drop --adversary or --dynamics")
        return _run_robust(args, problem)
    solution = solve(problem)
    result = solution.to_dict()
    lines = [f"{problem.name}: {problem.num_prompts} prompts, {problem.num_answers} answers; beta {problem.beta:g}, "
             f"threshold {problem.threshold:g} (smallest achievable cost {problem.min_cost():.4g}, unconstrained "
             f"optimum's cost {solution.unconstrained_cost:.4g})",
             f"multiplier lambda* {solution.multiplier:.10g}"]
    for prompt, row in zip(problem.prompts, solution.policy):
        lines.append(f"  {prompt}: " + ", ".join(f"{answer} {p:.4f}" for answer, p in zip(problem.answers, row)))
    lines.append(f"value {solution.value:.6f} (reward {solution.expected_reward:.6f}, KL {solution.kl:.6f}); expected "
                 f"cost {solution.expected_cost:.6f}; dual value {solution.dual_value:.6f}")
    if args.dynamics:
        trace = primal_dual(problem, args.dynamics, policy_update=args.policy_update, policy_step=args.policy_step,
                            multiplier_update=args.multiplier_update, multiplier_step=args.multiplier_step,
                            initial_multiplier=args.initial_multiplier, delay=args.delay, cost_window=args.cost_window,
                            lambda_max=args.lambda_max)
        distance = abs(trace.multiplier[-1] - solution.multiplier) if math.isfinite(solution.multiplier) else math.inf
        lines.append(f"dynamics ({args.policy_update} policy, {args.multiplier_update} multiplier), {args.dynamics} "
                     f"iterations: last lambda {trace.multiplier[-1]:.10g} (|lambda - lambda*| {distance:.2e}), "
                     f"expected cost {trace.expected_cost[-1]:.6f}")
        result["dynamics"] = {"settings": {key: getattr(args, key) for key in (
            "policy_update", "policy_step", "multiplier_update", "multiplier_step", "initial_multiplier", "delay",
            "cost_window", "lambda_max")}, "multiplier_error": distance if math.isfinite(distance) else "inf",
            **trace.to_dict()}
        if args.plot:
            plot_dynamics(Path(args.plot), trace, solution,
                          f"{problem.name}: {args.policy_update} policy, {args.multiplier_update} multiplier")
            lines.append(f"plot: {args.plot}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, result)
    return 0
