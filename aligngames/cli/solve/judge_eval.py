"""Evaluate a judge on labelled data: harm judges (accuracy, AUROC, ECE, confusion matrix) or preference judges (agreement, position bias), with bootstrap intervals

``aligngames solve judge_eval --judge embedding_harm --data labelled.jsonl`` scores every row with the
judge (any registered judge with keyword arguments, ``NAME[:key=value,...]``, e.g.
``hf_harm:path=models/guard``) and prints each metric with its percentile-bootstrap interval and the
confusion matrix (:mod:`aligngames.solvers.evaluation.judge_eval`). ``--kind preference`` evaluates a
pairwise preference judge (``features``, ``reward_model:path=...``, ``llm``) on ``chosen``/``rejected``
pairs, asking each pair in both orders. ``--plot FILE`` draws the reliability diagram of a harm judge;
``--json FILE`` writes the result with every row's probabilities.
"""

from __future__ import annotations

import argparse

from aligngames import registry
from aligngames.config import ConfigError, parse_agent
from aligngames.judges import HarmJudge, PreferenceJudge
from aligngames.runs import atomic_write_json
from aligngames.solvers.evaluation.judge_eval import (
    KINDS,
    HarmJudgeEvaluation,
    PreferenceJudgeEvaluation,
    evaluate_harm_judge,
    evaluate_preference_judge,
    plot_reliability,
    read_labelled,
)

#: The judge of each kind when ``--judge`` is not given: the embedded defaults.
DEFAULT_JUDGES = {"harm": "minilm_harm", "preference": "features"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge", default=None, metavar="JUDGE",
                        help="a registered judge, NAME[:key=value,...], e.g. hf_harm:path=DIR (default: minilm_harm, "
                             "or features with --kind preference)")
    parser.add_argument("--data", required=True, metavar="FILE",
                        help="labelled rows: a .jsonl file (one object per line) or a folder saved with save_to_disk")
    parser.add_argument("--kind", choices=KINDS, default="harm", help="what the judge judges (default: %(default)s)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples for the intervals, 0 for none (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval level (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="P(harmful) above which a binary prediction is harmful (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="answers per judge call (default: %(default)s)")
    parser.add_argument("--plot", metavar="FILE", default=None, help="draw the reliability diagram (harm judges) here")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def _number(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _interval(interval: tuple[float, float] | None) -> str:
    return "-" if interval is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def metric_table(rows: list[tuple[str, float | None, tuple[float, float] | None]], confidence: float) -> str:
    """``metric  value  interval`` lines, aligned."""
    header = ("metric", "value", f"{confidence:.0%} interval")
    cells = [header, *((name, _number(value), _interval(interval)) for name, value, interval in rows)]
    widths = [max(len(row[column]) for row in cells) for column in range(3)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)


def confusion_table(result: HarmJudgeEvaluation) -> str:
    """The confusion matrix, true labels down, predictions across."""
    labels = list(result.classes)
    width = max(len(label) for label in [*labels, "true \\ predicted"])
    column = max(max(len(label) for label in labels), *(len(str(c)) for row in result.confusion for c in row))
    lines = ["true \\ predicted".ljust(width) + "  " + "  ".join(label.rjust(column) for label in labels)]
    for label, row in zip(labels, result.confusion):
        lines.append(label.ljust(width) + "  " + "  ".join(str(count).rjust(column) for count in row))
    return "\n".join(lines)


def harm_report(result: HarmJudgeEvaluation) -> str:
    """The printed report of a harm judge."""
    kind = "3-class" if result.mode == "three_class" else f"binary, P(harmful) > {result.threshold:g}"
    lines = [f"judge {result.judge}: {result.n} rows",
             metric_table([(f"accuracy ({kind})", result.accuracy, result.intervals["accuracy"]),
                           ("AUROC (harmful vs rest)", result.auroc, result.intervals["auroc"]),
                           (f"ECE ({len(result.reliability)} bins)", result.ece, result.intervals["ece"])],
                          result.confidence),
             "", "confusion matrix:", confusion_table(result)]
    if result.per_category:
        lines += ["", "per category:"]
        width = max(len(name) for name in result.per_category)
        for name, values in result.per_category.items():
            lines.append(f"  {name.ljust(width)}  n {values['n']:4d}  accuracy {_number(values['accuracy'])}  "
                         f"AUROC {_number(values['auroc'])}")
    return "\n".join(lines)


def preference_report(result: PreferenceJudgeEvaluation) -> str:
    """The printed report of a preference judge."""
    rows = [("agreement (P(chosen) > 0.5)", result.agreement),
            ("mean P(chosen)", result.mean_p_chosen),
            ("agreement, both orders averaged", result.agreement_both_orders),
            ("mean P(chosen), both orders averaged", result.mean_p_chosen_both_orders),
            ("position-bias rate (verdict flips on swap)", result.position_bias_rate),
            ("first-position rate", result.first_position_rate)]
    names = ["agreement", "mean_p_chosen", "agreement_both_orders", "mean_p_chosen_both_orders",
             "position_bias_rate", "first_position_rate"]
    table = metric_table([(label, value, result.intervals[name]) for (label, value), name in zip(rows, names)],
                         result.confidence)
    return f"judge {result.judge}: {result.n} pairs, each asked in both orders\n{table}"


def run(args: argparse.Namespace) -> int:
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if not 0 < args.confidence < 1:
        raise ConfigError(f"--confidence must be in (0, 1), got {args.confidence}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.plot and args.kind != "harm":
        raise ConfigError("--plot draws the reliability diagram of a harm judge; it needs --kind harm")
    rows = read_labelled(args.data, args.kind)
    spec = args.judge or DEFAULT_JUDGES[args.kind]
    name, kwargs = parse_agent(spec)
    expected = HarmJudge if args.kind == "harm" else PreferenceJudge
    try:
        judge = registry.make_judge(name, kwargs, expected=expected)
    except TypeError as error:
        raise ConfigError(f"--judge {spec}: {error} (--kind {args.kind} needs a {expected.__name__})") from error
    if args.kind == "harm":
        result = evaluate_harm_judge(judge, rows, bootstrap=args.bootstrap, seed=args.seed,
                                     confidence=args.confidence, threshold=args.threshold, batch_size=args.batch_size)
        print(harm_report(result))
        if args.plot:
            print(f"reliability diagram: {plot_reliability(args.plot, result)}")
    else:
        result = evaluate_preference_judge(judge, rows, bootstrap=args.bootstrap, seed=args.seed,
                                           confidence=args.confidence, batch_size=args.batch_size)
        print(preference_report(result))
    if args.json:
        atomic_write_json(args.json, {"judge_spec": spec, "kind": args.kind, "data": str(args.data),
                                      **result.to_dict()})
    return 0
