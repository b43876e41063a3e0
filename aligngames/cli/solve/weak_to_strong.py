"""weak-to-strong generalization (weak_to_strong_v0): exact weak / weak-to-strong / ceiling performance and PGR

``aligngames solve weak_to_strong --setting classification --example systematic_flips --json result.json``
(or ``--problem FILE``, a YAML / JSON mapping with ``true_labels``, ``flip_probabilities`` and optionally
``probabilities``) prints, for each student family (``lookup``, ``threshold``; ``--family`` picks one), the
exact weak, weak-to-strong and ceiling accuracies and the PGR. ``--setting linear`` solves a linear-Gaussian
problem (default: two unit-variance features with correlation ``--correlation``, the weak model sees x1, the
strong one x2, y = x2; or ``--problem FILE`` with ``covariance``, ``target``, ``weak_indices`` and
``strong_indices`` or ``weak_features`` and ``strong_features``, and optionally ``noise_variance``) by the
closed-form projections. ``--samples N`` adds the evaluator on ``N`` sampled test examples (classification) or
least-squares fits on ``N`` samples (linear), with percentile-bootstrap intervals (``--seed``).
``--setting logistic`` runs the seeded random-flip experiment of the logistic student with and without the
auxiliary-confidence loss (``--aux-alpha``, ``--flip-rate``); ``--setting embeddings`` trains a logistic head
on frozen MiniLM embeddings of the labelled harm task on a weak labeller's labels (``--labeller``) and reports
the held-out accuracies and PGR with bootstrap intervals (:mod:`aligngames.solvers.training.weak_to_strong`);
``--setting lora`` makes the strong student a LoRA adapter on a language model (``--model``, default the embedded
one) trained on the weak labels, against a second adapter trained on the truth
(:mod:`aligngames.solvers.training.weak_to_strong_lora`; ``--num-train``, ``--num-test``, ``--steps``;
``--labeller zero_shot`` makes the weak supervisor a language model prompted with the student's question,
``--weak-model``, default the student's own base model).
``--json FILE`` writes the result (:mod:`aligngames.solvers.exact.weak_to_strong`).
"""

from __future__ import annotations

import argparse

import numpy as np

from aligngames.config import ConfigError, load_yaml
from aligngames.envs.weak_to_strong.language import WEAK_LABELLERS
from aligngames.envs.weak_to_strong.problems import EXAMPLES, ClassificationProblem, build, from_mapping
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.weak_to_strong import (
    FAMILIES,
    EvaluationReport,
    LinearGaussianProblem,
    evaluate_scores,
    logistic_random_flips,
    sample_classification_scores,
    simulate_linear,
    solve_classification,
    solve_linear,
)
from aligngames.solvers.training.weak_to_strong import embedding_experiment
from aligngames.solvers.training.weak_to_strong_lora import LABELLERS as LORA_LABELLERS
from aligngames.solvers.training.weak_to_strong_lora import LoRAStudentConfig, lora_experiment

SETTINGS = ("classification", "linear", "logistic", "embeddings", "lora")
LINEAR_KEYS = {"covariance", "target", "weak_indices", "strong_indices", "weak_features", "strong_features",
               "noise_variance"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--setting", choices=SETTINGS, default="classification",
                        help="classification with label errors (default), linear-Gaussian regression, the logistic "
                             "student's random-flip experiment, or a logistic head on frozen MiniLM embeddings of the "
                             "labelled harm task (needs the embeddings extra; minutes on a CPU), or LoRA students on a "
                             "language model (minutes on a CPU)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--example", choices=sorted(EXAMPLES), default=None,
                        help="classification: a named problem (without --problem: random_flips)")
    source.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON problem file (classification: true_labels, flip_probabilities, probabilities; "
                             "linear: covariance, target, weak_indices / strong_indices or weak_features / "
                             "strong_features, noise_variance)")
    parser.add_argument("--family", choices=FAMILIES, default=None, help="classification: only this student family")
    parser.add_argument("--correlation", type=float, default=0.6,
                        help="linear, default problem: the correlation of the weak feature x1 and the strong feature x2")
    parser.add_argument("--samples", type=int, default=0,
                        help="also evaluate on this many sampled examples, with bootstrap intervals (0: exact only)")
    parser.add_argument("--confidence", type=float, default=0.95, help="the bootstrap intervals' confidence level")
    parser.add_argument("--aux-alpha", type=float, default=1.0, help="logistic: the auxiliary-confidence weight alpha")
    parser.add_argument("--flip-rate", type=float, default=None,
                        help="logistic / embeddings with random_flips: the weak labels' random flip rate (default 0.3 / "
                             "0.19)")
    parser.add_argument("--labeller", choices=LORA_LABELLERS, default="compliance_rule",
                        help="embeddings / lora: the weak labeller of the harm task (zero_shot: lora only, a language "
                             "model prompted with the student's question)")
    parser.add_argument("--weak-model", default=None,
                        help="lora, zero_shot: the weak supervisor's model (a local folder or 'embedded'; default "
                             "--model itself)")
    parser.add_argument("--model", default="embedded", help="lora: the base model (a local folder, or 'embedded')")
    parser.add_argument("--num-train", type=int, default=64, help="lora: training items (default: %(default)s)")
    parser.add_argument("--num-test", type=int, default=64, help="lora: held-out items scored (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=24, help="lora: optimiser steps per student (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled examples and bootstrap resamples")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def _mapping(path: str) -> dict:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a weak-to-strong problem is a mapping, got {type(data).__name__}")
    return data


def load_classification(args: argparse.Namespace) -> ClassificationProblem:
    return from_mapping(_mapping(args.problem)) if args.problem else build(args.example or "random_flips")


def load_linear(args: argparse.Namespace) -> LinearGaussianProblem:
    if args.example is not None:
        raise ConfigError("--example names a classification problem; --setting linear takes --problem or --correlation")
    if not args.problem:
        rho = args.correlation
        if not (np.isfinite(rho) and -1 < rho < 1):
            raise ConfigError(f"--correlation must lie in (-1, 1), got {rho}")
        return LinearGaussianProblem.from_subsets([[1.0, rho], [rho, 1.0]], [0.0, 1.0], [0], [1])
    data = _mapping(args.problem)
    unknown = sorted(set(data) - LINEAR_KEYS)
    if unknown:
        raise ConfigError(f"{args.problem}: unknown keys {unknown}; expected {sorted(LINEAR_KEYS)}")
    noise = data.get("noise_variance", 0.0)
    if "weak_indices" in data or "strong_indices" in data:
        return LinearGaussianProblem.from_subsets(data["covariance"], data["target"], data.get("weak_indices", []),
                                                  data.get("strong_indices", []), noise)
    missing = [key for key in ("covariance", "target", "weak_features", "strong_features") if key not in data]
    if missing:
        raise ConfigError(f"{args.problem}: the linear problem needs {missing}")
    return LinearGaussianProblem(data["covariance"], data["target"], data["weak_features"], data["strong_features"],
                                 noise)


def _report_lines(report: EvaluationReport, what: str) -> list[str]:
    def show(estimate) -> str:
        return f"{estimate.value:.4f} [{estimate.low:.4f}, {estimate.high:.4f}]"

    return [f"  sampled ({report.num_examples} examples, {100 * report.confidence:g}% bootstrap): weak {what} "
            f"{show(report.weak)}, weak-to-strong {show(report.weak_to_strong)}, ceiling {show(report.ceiling)}, "
            f"PGR {show(report.pgr)}"]


def _check_samples(args: argparse.Namespace) -> None:
    if args.samples < 0 or args.samples == 1:
        raise ConfigError(f"--samples must be 0 (exact only) or >= 2, got {args.samples}")


def run_classification(args: argparse.Namespace) -> tuple[list[str], dict]:
    problem = load_classification(args)
    rng = np.random.default_rng(args.seed)
    lines = [f"{problem.name}: {problem.num_inputs} inputs; weak accuracy "
             f"{float(problem.probabilities @ (1 - problem.flip_probabilities)):.4f}"]
    result: dict = {"setting": "classification", "problem": problem.to_dict(), "families": {}}
    for family in [args.family] if args.family else FAMILIES:
        solution = solve_classification(problem, family)
        entry = solution.to_dict()
        lines.append(f"  {family:<9} weak {solution.weak_accuracy:.4f}  weak-to-strong "
                     f"{solution.weak_to_strong_accuracy:.4f}  ceiling {solution.ceiling_accuracy:.4f}  PGR "
                     f"{solution.pgr:.4f}  (student predicts {''.join(map(str, solution.weak_to_strong_predictions))})")
        if args.samples:
            scores = sample_classification_scores(problem, solution, args.samples, rng)
            report = evaluate_scores(*scores, rng, confidence=args.confidence)
            entry["sampled"] = report.to_dict()
            lines += _report_lines(report, "accuracy")
        result["families"][family] = entry
    return lines, result


def run_linear(args: argparse.Namespace) -> tuple[list[str], dict]:
    problem = load_linear(args)
    solution = solve_linear(problem)
    lines = [f"linear-Gaussian: d = {problem.dimension}, weak sees {problem.weak_features.shape[0]} features, strong "
             f"sees {problem.strong_features.shape[0]}, noise variance {problem.noise_variance:g}",
             f"  MSE: weak {solution.weak_mse:.4f}  weak-to-strong {solution.weak_to_strong_mse:.4f}  ceiling "
             f"{solution.ceiling_mse:.4f}  (R^2 {solution.r2(solution.weak_mse):.4f} / "
             f"{solution.r2(solution.weak_to_strong_mse):.4f} / {solution.r2(solution.ceiling_mse):.4f})",
             f"  misfit {solution.misfit:.4f}; PGR {solution.pgr:.4f}"]
    result = {"setting": "linear", "problem": problem.to_dict(), **solution.to_dict()}
    if args.samples:
        rng = np.random.default_rng(args.seed)
        samples = simulate_linear(problem, args.samples, args.samples, rng)
        scores = [-samples.weak_squared_errors, -samples.weak_to_strong_squared_errors, -samples.ceiling_squared_errors]
        report = evaluate_scores(*scores, rng, confidence=args.confidence)
        result["sampled"] = report.to_dict()
        lines += _report_lines(report, "-MSE")
    return lines, result


def run_logistic(args: argparse.Namespace) -> tuple[list[str], dict]:
    if args.example is not None or args.problem is not None:
        raise ConfigError("--setting logistic draws its own data; --example / --problem are for the other settings")
    flip_rate = 0.3 if args.flip_rate is None else args.flip_rate
    plain = logistic_random_flips(np.random.default_rng(args.seed), flip_rate=flip_rate)
    auxiliary = logistic_random_flips(np.random.default_rng(args.seed), flip_rate=flip_rate, aux_alpha=args.aux_alpha)
    lines = [f"logistic student, random flips at {flip_rate:g} (seed {args.seed}): weak accuracy "
             f"{plain.weak_accuracy:.4f}, ceiling {plain.ceiling_accuracy:.4f}",
             f"  alpha 0     : weak-to-strong {plain.weak_to_strong_accuracy:.4f}, PGR {plain.pgr:.4f}",
             f"  alpha {args.aux_alpha:<5g} : weak-to-strong {auxiliary.weak_to_strong_accuracy:.4f}, PGR "
             f"{auxiliary.pgr:.4f}"]
    return lines, {"setting": "logistic", "flip_rate": flip_rate, "seed": args.seed, "aux_alpha": args.aux_alpha,
                   "plain": plain.to_dict(), "auxiliary": auxiliary.to_dict()}


def run_embeddings(args: argparse.Namespace) -> tuple[list[str], dict]:
    if args.example is not None or args.problem is not None:
        raise ConfigError("--setting embeddings uses the packaged harm task; --example / --problem are for the other "
                          "settings")
    if args.labeller not in WEAK_LABELLERS:
        raise ConfigError(f"--labeller {args.labeller} is a language model (--setting lora only); embeddings takes "
                          f"{list(WEAK_LABELLERS)}")
    flip_rate = 0.19 if args.flip_rate is None else args.flip_rate
    result = embedding_experiment(np.random.default_rng(args.seed), labeller=args.labeller, flip_rate=flip_rate,
                                  aux_alpha=args.aux_alpha, confidence=args.confidence)
    lines = [f"frozen-MiniLM logistic head, weak labeller {args.labeller}, alpha {args.aux_alpha:g}: trained on "
             f"{result.num_train} items, scored on {result.report.num_examples} held-out items",
             *_report_lines(result.report, "accuracy")]
    return lines, {"setting": "embeddings", **result.to_dict()}


def run_lora(args: argparse.Namespace) -> tuple[list[str], dict]:
    if args.example is not None or args.problem is not None:
        raise ConfigError("--setting lora uses the packaged harm task; --example / --problem are for the other settings")
    config = LoRAStudentConfig(model=args.model, labeller=args.labeller, weak_model=args.weak_model,
                               flip_rate=0.19 if args.flip_rate is None else args.flip_rate, num_train=args.num_train,
                               num_test=args.num_test, steps=args.steps, seed=args.seed)
    result = lora_experiment(config, progress=True)
    lines = [f"LoRA students on {args.model}, weak labeller {args.labeller}: {args.steps} steps on {args.num_train} items, "
             f"scored on {result.report.num_examples} held-out items", *_report_lines(result.report, "accuracy")]
    return lines, {"setting": "lora", **result.to_dict()}


def run(args: argparse.Namespace) -> int:
    _check_samples(args)
    runner = {"classification": run_classification, "linear": run_linear, "logistic": run_logistic,
              "embeddings": run_embeddings, "lora": run_lora}[args.setting]
    lines, result = runner(args)
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, result)
    return 0
