"""mechanisms for a refusal threshold (median, mean) and for KL fine-tuning on several reward models (VCG, unpaid): outcome, payments, welfare, best misreports, equilibrium

``aligngames solve mechanism --example refusal_threshold --json result.json`` (or ``--problem FILE``: a YAML /
JSON mapping with ``peaks`` for a threshold problem, or ``responses``, ``reference`` and ``rewards``
``[stakeholder][response]`` for a fine-tuning one) prints, for each of the setting's mechanisms (or the one
``--mechanism`` names), the truthful outcome, payments and welfare, each stakeholder's best misreport
against truthful others (a threshold, or a scale of its rewards) and what it gains, and the equilibrium of
best-response dynamics (:mod:`aligngames.solvers.exact.mechanism`).
"""

from __future__ import annotations

import argparse

import numpy as np

from aligngames.config import ConfigError, load_yaml
from aligngames.envs.mechanism.problems import (
    EXAMPLES,
    FINE_TUNING_MECHANISMS,
    THRESHOLD_MECHANISMS,
    build,
    from_mapping,
)
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.mechanism import analyse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--example", choices=sorted(EXAMPLES), default=None,
                        help="a named problem (without --problem: refusal_threshold)")
    source.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON file: peaks (threshold) or responses, reference, rewards (fine-tuning)")
    parser.add_argument("--mechanism", choices=(*THRESHOLD_MECHANISMS, *FINE_TUNING_MECHANISMS), default=None,
                        help="one mechanism (default: every mechanism of the problem's setting)")
    parser.add_argument("--max-scale", type=float, default=4.0,
                        help="fine-tuning: the largest scale of a misreport alpha * rewards tried (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def _outcome_text(outcome) -> str:
    if isinstance(outcome, dict):
        return ", ".join(f"{response} {p:.4f}" for response, p in outcome.items())
    return f"{outcome:.4f}"


def run(args: argparse.Namespace) -> int:
    if args.problem:
        data = load_yaml(args.problem)
        if not isinstance(data, dict):
            raise ConfigError(f"{args.problem}: a mechanism problem is a mapping, got {type(data).__name__}")
        problem = from_mapping(data)
    else:
        problem = build(args.example or "refusal_threshold")
    if args.mechanism is not None and args.mechanism not in problem.mechanisms:
        raise ConfigError(f"--mechanism {args.mechanism} does not apply to a {problem.kind} problem; "
                          f"its mechanisms: {list(problem.mechanisms)}")
    if not (np.isfinite(args.max_scale) and args.max_scale > 0):
        raise ConfigError(f"--max-scale must be a number > 0, got {args.max_scale}")
    scales = np.round(np.arange(0.0, args.max_scale + 1e-9, 0.05), 10).tolist()
    results = [analyse(problem, mechanism, scales) for mechanism in ([args.mechanism] if args.mechanism else problem.mechanisms)]
    lines = [f"{problem.name}: {problem.kind} problem, stakeholders {', '.join(problem.stakeholders)}"]
    for result in results:
        payments = ", ".join(f"{name} {p:.4f}" for name, p in result["payments"].items())
        equilibrium = result["equilibrium"]
        lines += [f"\n{result['mechanism']}: outcome {_outcome_text(result['outcome'])}; welfare {result['welfare']:.4f}; "
                  f"payments {payments}",
                  f"  manipulable: {'yes' if result['manipulable'] else 'no'}"]
        for check in result["manipulation"]:
            best = (f"scale {check['best_report_scale']:.2f}" if check["best_report_scale"] is not None
                    else f"report {check['best_report']:.4f}")
            lines.append(f"  {check['stakeholder']:<14} truthful {check['truthful_utility']:+.4f}; best {best} -> "
                         f"{check['best_utility']:+.4f} (gain {check['gain']:.4f})")
        lines.append(f"  equilibrium ({'converged' if equilibrium['converged'] else 'not converged'} after "
                     f"{equilibrium['passes']} passes): outcome {_outcome_text(equilibrium['outcome'])}, welfare "
                     f"{equilibrium['welfare']:.4f}" + (f"; closed form {equilibrium['closed_form_outcome']:.4f}"
                                                        if "closed_form_outcome" in equilibrium else ""))
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, {"problem": problem.to_dict(), "mechanisms": {r["mechanism"]: r for r in results}})
    return 0
