"""alignment elasticity (Ji et al. 2024) in a categorical model: how much undo data removes half of an alignment fine-tune, pooled vs elastic, both directions

``aligngames solve elasticity --p-pre 0.1,0.9 --n-pre 1000 --n-align 100 --n-undo 0,10,30,100,300,1000 --json
out.json`` aligns a softmax policy over behaviours onto behaviour ``--target`` (index, default 0) with
``--n-align`` examples, then fine-tunes on ``--n-undo`` examples of behaviour ``--opposite`` (default 1), in the
pooled maximum-likelihood view and the elastic view (stages with a pull back to pre-training of stiffness
``--n-pre``, training time ``--learning-rate`` per example), and prints per ``N_undo`` the remaining alignment,
``KL(pi || p_pre)`` and ``KL(pi || pi_aligned)``, and the half-undo ``N_undo`` with ``N_align / N_half``; then the
same for the reverse direction (target and opposite swapped). ``--json FILE`` writes both
(:mod:`aligngames.solvers.exact.elasticity`).

``--language`` runs the experiment on a language model instead (``--model``, default the embedded SmolLM2):
LoRA SFT toward refusals of the red-team catalog's harmful requests for ``--language-n-align`` steps, then SFT
on compliant answers for each of ``--language-n-undo`` steps, measuring the refusal log-probability margin; and
the reverse direction (:mod:`aligngames.solvers.training.elasticity_language`). Tiny CPU defaults.
"""

from __future__ import annotations

import argparse

import numpy as np

from aligngames.agents.llm.models import load_model
from aligngames.config import ConfigError
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.elasticity import VIEWS, ElasticityProblem, sweep
from aligngames.solvers.training.elasticity_language import LanguageElasticityConfig, run_experiment


def _numbers(flag: str, text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{flag}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{flag}: expected at least one number")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p-pre", default="0.1,0.9", help="pre-training distribution over behaviours (default: %(default)s)")
    parser.add_argument("--target", type=int, default=0, help="behaviour the alignment data show (default: %(default)s)")
    parser.add_argument("--opposite", type=int, default=1, help="behaviour the undo data show (default: %(default)s)")
    parser.add_argument("--n-pre", type=float, default=1000.0, help="pre-training examples (default: %(default)s)")
    parser.add_argument("--n-align", type=float, default=100.0, help="alignment examples (default: %(default)s)")
    parser.add_argument("--n-undo", default="0,10,30,100,300,1000", help="grid of undo examples (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=0.01,
                        help="elastic view: training time per example (default: %(default)s)")
    parser.add_argument("--language", action="store_true", help="run the LoRA experiment on a language model instead")
    parser.add_argument("--model", default="embedded", help="--language: model name or folder (default: %(default)s)")
    parser.add_argument("--device", default=None, help="--language: cpu / cuda (default: CUDA where available)")
    parser.add_argument("--language-n-align", type=int, default=8, help="--language: alignment SFT steps (default: %(default)s)")
    parser.add_argument("--language-n-undo", default="0,2,4,8", help="--language: undo SFT step grid (default: %(default)s)")
    parser.add_argument("--lora-learning-rate", type=float, default=1e-3, help="--language: SGD step (default: %(default)s)")
    parser.add_argument("--num-prompts", type=int, default=8, help="--language: catalog prompts used (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="--language: prompt order and LoRA init (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write both directions to this JSON file")


def _one_hot(size: int, index: int, flag: str) -> np.ndarray:
    if not 0 <= index < size:
        raise ConfigError(f"{flag}={index}: must be a behaviour index in [0, {size - 1}]")
    vector = np.zeros(size)
    vector[index] = 1.0
    return vector


def run_language(args: argparse.Namespace) -> int:
    grid = _numbers("--language-n-undo", args.language_n_undo)
    if any(value != int(value) for value in grid):
        raise ConfigError(f"--language-n-undo: step counts are integers, got {args.language_n_undo!r}")
    try:
        config = LanguageElasticityConfig(args.language_n_align, tuple(int(value) for value in grid),
                                          args.lora_learning_rate, num_prompts=args.num_prompts, seed=args.seed)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    result = run_experiment(load_model(args.model, device=args.device), config)
    lines = [f"model {args.model}, {config.num_prompts} catalog prompts, {config.n_align} alignment steps, "
             f"lr {config.learning_rate:g}; margin = log p(refusal) - log p(compliance)"]
    for direction in ("forward", "reverse"):
        data = result[direction]
        lines.append(f"{direction}: base margin {data['base_refusal_margin']:.3f}, aligned gain {data['aligned_gain']:.3f}")
        lines.append(f"{'N_undo':>8}{'margin':>10}{'remaining':>11}{'KL to base':>12}{'KL to aligned':>15}")
        for row in data["rows"]:
            lines.append(f"{row['n_undo']:>8}{row['refusal_margin']:>10.3f}{row['remaining']:>11.4f}"
                         f"{row['kl_to_base']:>12.5f}{row['kl_to_aligned']:>15.5f}")
        lines.append(f"{direction}: half undone at N_undo = {data['half_undo']:.4g}, "
                     f"N_align / N_half = {data['align_over_half_undo']:.4g}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, result)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.language:
        return run_language(args)
    p_pre = np.asarray(_numbers("--p-pre", args.p_pre))
    grid = _numbers("--n-undo", args.n_undo)
    if args.target == args.opposite:
        raise ConfigError(f"--target and --opposite are both {args.target}; they must differ")
    try:
        forward = ElasticityProblem(p_pre, _one_hot(p_pre.size, args.target, "--target"),
                                    _one_hot(p_pre.size, args.opposite, "--opposite"), args.n_pre, args.n_align,
                                    args.learning_rate)
        results = {"forward": sweep(forward, grid), "reverse": sweep(forward.reversed(), grid)}
    except ValueError as error:
        raise ConfigError(str(error)) from None
    lines = []
    for direction, (aligned_onto, undone_onto) in (("forward", (args.target, args.opposite)),
                                                   ("reverse", (args.opposite, args.target))):
        result = results[direction]
        lines.append(f"{direction}: align onto behaviour {aligned_onto} (pre-training mass {p_pre[aligned_onto]:g}), "
                     f"undo onto {undone_onto}; N_pre {args.n_pre:g}, N_align {args.n_align:g}, eta {args.learning_rate:g}")
        lines.append(f"{'view':<9}{'N_undo':>9}{'remaining':>11}{'KL to base':>12}{'KL to aligned':>15}")
        for view in VIEWS:
            for row in result[view]["rows"]:
                lines.append(f"{view:<9}{row['n_undo']:>9g}{row['remaining']:>11.4f}{row['kl_to_base']:>12.5f}"
                             f"{row['kl_to_aligned']:>15.5f}")
        for view in VIEWS:
            lines.append(f"{view}: half undone at N_undo = {result[view]['half_undo']:.4g}, "
                         f"N_align / N_half = {result[view]['align_over_half_undo']:.4g}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, results)
    return 0
