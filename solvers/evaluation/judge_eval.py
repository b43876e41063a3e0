"""Evaluate a judge on a user's labelled data: harm judges (accuracy, AUROC, calibration) and pairwise
preference judges (agreement, position bias), with percentile-bootstrap intervals.

Harm judges (:class:`aligngames.judges.HarmJudge`: ``score(prompts, answers)`` = P(harmful); the
embedded ``embedding_harm`` judge also has ``class_probabilities(prompts, answers)``, the probabilities
of harmful compliance, refusal and benign) are scored on rows labelled ``harmful`` / ``refusal`` /
``benign`` (or a binary ``harmful`` 0/1) by :func:`evaluate_harm_judge`:

- accuracy: three-class (argmax of the class probabilities) when the judge gives three classes and every
  row has a three-class label, else binary (``P(harmful) > threshold`` against the harmful indicator);
- AUROC of P(harmful), harmful vs the rest, as the Mann-Whitney statistic
  ``(R_+ - n_+ (n_+ + 1) / 2) / (n_+ n_-)`` with ``R_+`` the sum of the positives' mid-ranks (ties count 1/2);
- expected calibration error over 10 equal-width bins of P(harmful):
  ``ECE = sum_k (n_k / n) |mean(y in bin k) - mean(p in bin k)|``, and the reliability-diagram data;
- the confusion matrix (rows: true label, columns: predicted), per-category accuracy and AUROC;
- percentile-bootstrap intervals (rows resampled with replacement, a fixed seed) for accuracy, AUROC and ECE.

Preference judges (:class:`aligngames.judges.PreferenceJudge`: ``compare(prompts, first, second)`` =
P(first preferred)) are asked every pair in both orders by :func:`evaluate_preference_judge`:
agreement with the label in the order the data gives (``P(chosen) > 1/2``; exactly 1/2 counts 1/2), the mean
P(chosen), the same two averaged over both orders, the position-bias rate (the share of pairs whose
verdict changes when A and B are swapped) and the share of verdicts that pick the first position.

:func:`read_labelled` reads JSON lines, a list of records, or a Hugging Face dataset saved with
``save_to_disk`` (through ``pyarrow`` when it is installed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from aligngames.config import ConfigError
from aligngames.datasets import is_saved_dataset, read_json_lines, read_saved_dataset

#: The harm classes, in the order of ``EmbeddingHarmJudge.class_probabilities``.
HARM_CLASSES = ("harmful", "refusal", "benign")
#: The labels of binary harm data (the harmful indicator).
BINARY_CLASSES = ("harmful", "not_harmful")
KINDS = ("harm", "preference")
ECE_BINS = 10


class LabelledDataError(ConfigError):
    """A labelled-data file or record is malformed; the message names the file, the line and the field."""


# --- rows -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HarmRow:
    """One labelled answer.

    Attributes:
        prompt: the request (a conversation is rendered as ``role: content`` lines).
        answer: the answer the judge scores.
        harmful: whether the answer is harmful (the positive class of AUROC and ECE).
        label: ``harmful``, ``refusal`` or ``benign``; ``None`` for binary data.
        category: an optional group for per-category metrics.
    """

    prompt: str
    answer: str
    harmful: bool
    label: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class PreferenceRow:
    """One labelled pair.

    Attributes:
        prompt: the request.
        chosen: the preferred answer.
        rejected: the other answer.
        chosen_first: whether the data shows the chosen answer as A (``chosen``/``rejected`` rows: True).
    """

    prompt: str
    chosen: str
    rejected: str
    chosen_first: bool = True


def render_conversation(messages: Sequence[Mapping[str, Any]], where: str) -> str:
    """A conversation as one prompt string: a single user turn is its content, else ``role: content`` lines."""
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise LabelledDataError(f"{where}: 'conversation' must be a non-empty list of {{role, content}} objects")
    for number, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("content"), str) \
                or not isinstance(message.get("role"), str):
            raise LabelledDataError(f"{where}: conversation turn {number} needs string fields 'role' and 'content'")
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n".join(f"{message['role']}: {message['content']}" for message in messages)


def _text(record: Mapping[str, Any], key: str, where: str) -> str:
    if key not in record or record[key] is None:
        raise LabelledDataError(f"{where}: missing field {key!r} (the record has {sorted(record)})")
    value = record[key]
    if not isinstance(value, str):
        raise LabelledDataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value


def _harm_row(record: Mapping[str, Any], where: str) -> HarmRow:
    answer = record.get("answer")
    if "prompt" in record and record["prompt"] is not None:
        prompt = _text(record, "prompt", where)
    elif record.get("conversation") is not None:
        messages = list(record["conversation"]) if isinstance(record["conversation"], Sequence) else record["conversation"]
        if answer is None and isinstance(messages, list) and messages and isinstance(messages[-1], Mapping) \
                and messages[-1].get("role") == "assistant":
            answer, messages = messages[-1].get("content"), messages[:-1]  # the last assistant turn is the answer
        prompt = render_conversation(messages, where)
    else:
        raise LabelledDataError(f"{where}: missing field 'prompt' (or 'conversation') (the record has {sorted(record)})")
    if answer is None:
        raise LabelledDataError(f"{where}: missing field 'answer' (the record has {sorted(record)})")
    if not isinstance(answer, str):
        raise LabelledDataError(f"{where}: field 'answer' must be a string, got {type(answer).__name__}")
    label = record.get("label")
    if label is not None:
        if not isinstance(label, str) or label.strip().lower() not in HARM_CLASSES:
            raise LabelledDataError(f"{where}: field 'label' must be one of {list(HARM_CLASSES)}, got {label!r}")
        label = label.strip().lower()
        harmful = label == "harmful"
    elif record.get("harmful") is not None:
        value = record["harmful"]
        if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
            value = value.strip().lower() in ("1", "true")
        if not isinstance(value, bool | int | float) or value not in (0, 1):
            raise LabelledDataError(f"{where}: field 'harmful' must be 0 or 1 (or true / false), got {value!r}")
        harmful = bool(value)
    else:
        raise LabelledDataError(f"{where}: missing field 'label' (one of {list(HARM_CLASSES)}) or 'harmful' (0/1) "
                                f"(the record has {sorted(record)})")
    category = record.get("category")
    return HarmRow(prompt, answer, harmful, label, None if category is None else str(category))


def _preference_row(record: Mapping[str, Any], where: str) -> PreferenceRow:
    prompt = _text(record, "prompt", where)
    if "chosen" in record or "rejected" in record:
        return PreferenceRow(prompt, _text(record, "chosen", where), _text(record, "rejected", where), True)
    if "answer_a" in record or "answer_b" in record:
        first, second = _text(record, "answer_a", where), _text(record, "answer_b", where)
        label = record.get("label")
        if label is None:
            raise LabelledDataError(f"{where}: missing field 'label' ('A' or 'B') next to answer_a / answer_b")
        if not isinstance(label, str) or label.strip().upper() not in ("A", "B"):
            raise LabelledDataError(f"{where}: field 'label' must be 'A' or 'B', got {label!r}")
        if label.strip().upper() == "A":
            return PreferenceRow(prompt, first, second, True)
        return PreferenceRow(prompt, second, first, False)
    raise LabelledDataError(f"{where}: missing field 'chosen' and 'rejected' (or 'answer_a', 'answer_b' and 'label') "
                            f"(the record has {sorted(record)})")


def read_labelled(path_or_records: str | Path | Iterable[Mapping[str, Any]],
                  kind: str = "harm") -> tuple[HarmRow, ...] | tuple[PreferenceRow, ...]:
    """Labelled rows from a JSON-lines file, a folder saved with ``datasets.Dataset.save_to_disk`` or records.

    Harm rows need ``prompt`` (or ``conversation``: a list of ``{role, content}``; a last assistant turn is
    the answer when ``answer`` is absent), ``answer`` and ``label`` (``harmful``, ``refusal`` or ``benign``)
    or ``harmful`` (0/1); ``category`` is optional. Preference rows need ``prompt``, ``chosen`` and
    ``rejected``, or ``prompt``, ``answer_a``, ``answer_b`` and ``label`` (``A`` or ``B``).

    Raises:
        LabelledDataError: (a ``ValueError``) naming the file, the line (or record) and the missing field.
    """
    if kind not in KINDS:
        raise LabelledDataError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    if isinstance(path_or_records, str | Path):
        path = Path(path_or_records)
        if path.is_dir():
            if not is_saved_dataset(path):
                raise LabelledDataError(f"{path} is a folder but not a dataset saved with save_to_disk "
                                        f"(no dataset_info.json / state.json); give a .jsonl file")
            records = read_saved_dataset(path, error=LabelledDataError, export_as="labelled.jsonl")
        elif path.is_file():
            records = read_json_lines(path, error=LabelledDataError)
        else:
            raise LabelledDataError(f"{path}: labelled data file not found")
        source = str(path)
    else:
        records = [(f"record {number}", record) for number, record in enumerate(path_or_records, start=1)]
        source = "the records"
    make = _harm_row if kind == "harm" else _preference_row
    rows = []
    for where, record in records:
        if not isinstance(record, Mapping):
            raise LabelledDataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        rows.append(make(record, where))
    if not rows:
        raise LabelledDataError(f"{source}: no labelled rows")
    return tuple(rows)


# --- metrics ----------------------------------------------------------------------------------------------

def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Area under the ROC curve, the Mann-Whitney statistic with mid-ranks (a tie counts 1/2); NaN without
    both classes."""
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives, dtype=bool)
    n_pos = int(positives.sum())
    n_neg = positives.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _bin_index(probabilities: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins of [0, 1]: bin k holds [k/bins, (k+1)/bins), the last one also 1."""
    return np.clip(np.floor(np.asarray(probabilities, dtype=np.float64) * bins).astype(int), 0, bins - 1)


def expected_calibration_error(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = ECE_BINS) -> float:
    """``sum_k (n_k / n) |mean(outcome in bin k) - mean(probability in bin k)|`` over equal-width bins."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    outcomes = np.asarray(outcomes, dtype=np.float64)
    if probabilities.size == 0:
        return float("nan")
    index = _bin_index(probabilities, bins)
    gaps = np.bincount(index, weights=outcomes - probabilities, minlength=bins)
    return float(np.abs(gaps).sum() / probabilities.size)


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of the reliability diagram: P(harmful) in ``[low, high)``; the means are None when empty."""

    low: float
    high: float
    count: int
    mean_probability: float | None
    harmful_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "count": self.count, "mean_probability": self.mean_probability,
                "harmful_rate": self.harmful_rate}


def reliability_bins(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = ECE_BINS) -> tuple[ReliabilityBin, ...]:
    """The reliability-diagram data: per equal-width bin, the count, mean probability and observed rate."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    outcomes = np.asarray(outcomes, dtype=np.float64)
    index = _bin_index(probabilities, bins)
    result = []
    for k in range(bins):
        members = index == k
        count = int(members.sum())
        result.append(ReliabilityBin(k / bins, (k + 1) / bins, count,
                                     float(probabilities[members].mean()) if count else None,
                                     float(outcomes[members].mean()) if count else None))
    return tuple(result)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _resample_blocks(n: int, resamples: int, rng: np.random.Generator) -> Iterable[np.ndarray]:
    """Index matrices ``(block, n)`` of bootstrap resamples, at most about two million entries each."""
    block = max(1, 2_000_000 // max(n, 1))
    done = 0
    while done < resamples:
        size = min(block, resamples - done)
        yield rng.integers(0, n, size=(size, n))
        done += size


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _bootstrap_auroc(scores: np.ndarray, positives: np.ndarray, index: np.ndarray) -> np.ndarray:
    labels = positives[index]
    ranks = rankdata(scores[index], axis=1)
    n_pos = labels.sum(axis=1).astype(np.float64)
    n_neg = labels.shape[1] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        values = ((ranks * labels).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    values[(n_pos == 0) | (n_neg == 0)] = np.nan
    return values


def _bootstrap_ece(probabilities: np.ndarray, outcomes: np.ndarray, index: np.ndarray, bins: int) -> np.ndarray:
    bin_of = _bin_index(probabilities, bins)[index]
    gaps = (outcomes - probabilities)[index]
    total = np.zeros(index.shape[0])
    for k in range(bins):
        total += np.abs(np.where(bin_of == k, gaps, 0.0).sum(axis=1))
    return total / index.shape[1]


def _none_if_nan(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _interval_dict(intervals: Mapping[str, tuple[float, float] | None]) -> dict[str, list[float] | None]:
    return {name: None if interval is None else list(interval) for name, interval in intervals.items()}


# --- harm judges -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HarmJudgeEvaluation:
    """A harm judge against labelled answers.

    Attributes:
        judge: the judge's identity.
        n: the number of rows.
        mode: ``"three_class"`` or ``"binary"`` (see the module docstring).
        classes: the confusion matrix's labels (rows true, columns predicted).
        accuracy, auroc, ece: the point estimates (AUROC NaN without both classes).
        confusion: counts, ``confusion[i][j]`` = rows of true class i predicted j.
        intervals: ``{"accuracy", "auroc", "ece"}`` -> percentile-bootstrap ``(low, high)`` (None without resamples).
        confidence: the intervals' level.
        bootstrap: the number of resamples; seed: their seed.
        threshold: the P(harmful) above which a binary prediction is harmful.
        per_category: category -> ``{"n", "accuracy", "auroc"}``.
        reliability: the reliability-diagram bins of P(harmful).
        harm_probabilities: P(harmful) of each row; predictions: the predicted class of each row.
    """

    judge: str
    n: int
    mode: str
    classes: tuple[str, ...]
    accuracy: float
    auroc: float
    ece: float
    confusion: tuple[tuple[int, ...], ...]
    intervals: dict[str, tuple[float, float] | None]
    confidence: float
    bootstrap: int
    seed: int
    threshold: float
    per_category: dict[str, dict[str, Any]]
    reliability: tuple[ReliabilityBin, ...]
    harm_probabilities: tuple[float, ...]
    predictions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as None)."""
        return {"judge": self.judge, "n": self.n, "mode": self.mode, "classes": list(self.classes),
                "accuracy": self.accuracy, "auroc": _none_if_nan(self.auroc), "ece": self.ece,
                "confusion": [list(row) for row in self.confusion], "intervals": _interval_dict(self.intervals),
                "confidence": self.confidence, "bootstrap": self.bootstrap, "seed": self.seed,
                "threshold": self.threshold,
                "per_category": {name: {key: _none_if_nan(value) for key, value in values.items()}
                                 for name, values in self.per_category.items()},
                "reliability": [item.to_dict() for item in self.reliability],
                "harm_probabilities": list(self.harm_probabilities), "predictions": list(self.predictions)}


def _judge_identity(judge: Any) -> str:
    return str(getattr(judge, "identity", type(judge).__name__))


def harm_probabilities(judge: Any, prompts: Sequence[str], answers: Sequence[str],
                       batch_size: int = 64) -> np.ndarray:
    """The judge's class probabilities ``(n, 3)`` (harmful, refusal, benign) when it has
    ``class_probabilities``, else P(harmful) ``(n,)`` from ``score``; asked in batches of ``batch_size``."""
    three = callable(getattr(judge, "class_probabilities", None))
    if not three and not callable(getattr(judge, "score", None)):
        raise TypeError(f"{_judge_identity(judge)} is not a harm judge: it has neither score(prompts, answers) "
                        f"nor class_probabilities(prompts, answers)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    method = judge.class_probabilities if three else judge.score
    parts = [np.asarray(method(list(prompts[start:start + batch_size]), list(answers[start:start + batch_size])),
                        dtype=np.float64) for start in range(0, len(prompts), batch_size)]
    values = np.concatenate(parts, axis=0)
    expected = (len(prompts), len(HARM_CLASSES)) if three else (len(prompts),)
    if values.shape != expected:
        raise ValueError(f"{_judge_identity(judge)} returned shape {values.shape}, expected {expected}")
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
        raise ValueError(f"{_judge_identity(judge)} returned probabilities outside [0, 1]")
    return values


def _check_bootstrap(bootstrap: int, confidence: float) -> None:
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0 resamples, got {bootstrap}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def evaluate_harm_judge(judge: Any, rows: Sequence[HarmRow] | str | Path, bootstrap: int = 1000, seed: int = 0, *,
                        confidence: float = 0.95, threshold: float = 0.5, batch_size: int = 64) -> HarmJudgeEvaluation:
    """Accuracy, AUROC, ECE, the confusion matrix, per-category metrics and bootstrap intervals of a harm judge.

    Args:
        judge: a harm judge (``score`` or ``class_probabilities``, see :func:`harm_probabilities`).
        rows: :class:`HarmRow` s, or a path / records for :func:`read_labelled`.
        bootstrap: percentile-bootstrap resamples of the rows (0: no intervals).
        seed: the resampling seed (the same seed gives the same intervals).
        confidence: the intervals' level.
        threshold: P(harmful) above which a binary prediction is harmful.
        batch_size: answers per judge call.
    """
    if not isinstance(rows, Sequence) or isinstance(rows, str) or (rows and not isinstance(rows[0], HarmRow)):
        rows = read_labelled(rows, "harm")
    if not rows:
        raise ValueError("evaluate_harm_judge needs at least one row")
    _check_bootstrap(bootstrap, confidence)
    values = harm_probabilities(judge, [row.prompt for row in rows], [row.answer for row in rows], batch_size)
    positives = np.array([row.harmful for row in rows], dtype=bool)
    three_class = values.ndim == 2 and all(row.label is not None for row in rows)
    p_harmful = values[:, HARM_CLASSES.index("harmful")] if values.ndim == 2 else values
    if three_class:
        classes = HARM_CLASSES
        truth = np.array([HARM_CLASSES.index(row.label) for row in rows])
        predicted = values.argmax(axis=1)
    else:
        classes = BINARY_CLASSES
        truth = np.where(positives, 0, 1)
        predicted = np.where(p_harmful > threshold, 0, 1)
    correct = (truth == predicted).astype(np.float64)
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)

    intervals: dict[str, tuple[float, float] | None] = {"accuracy": None, "auroc": None, "ece": None}
    if bootstrap:
        rng = _rng(seed)
        accuracies, aurocs, eces = [], [], []
        for index in _resample_blocks(len(rows), bootstrap, rng):
            accuracies.append(correct[index].mean(axis=1))
            aurocs.append(_bootstrap_auroc(p_harmful, positives, index))
            eces.append(_bootstrap_ece(p_harmful, positives.astype(np.float64), index, ECE_BINS))
        intervals = {"accuracy": _percentile_interval(np.concatenate(accuracies), confidence),
                     "auroc": _percentile_interval(np.concatenate(aurocs), confidence),
                     "ece": _percentile_interval(np.concatenate(eces), confidence)}

    per_category: dict[str, dict[str, Any]] = {}
    categories = np.array([row.category for row in rows], dtype=object)
    for category in sorted({row.category for row in rows if row.category is not None}):
        members = categories == category
        per_category[category] = {"n": int(members.sum()), "accuracy": float(correct[members].mean()),
                                  "auroc": auroc(p_harmful[members], positives[members])}
    return HarmJudgeEvaluation(
        judge=_judge_identity(judge), n=len(rows), mode="three_class" if three_class else "binary", classes=classes,
        accuracy=float(correct.mean()), auroc=auroc(p_harmful, positives),
        ece=expected_calibration_error(p_harmful, positives), confusion=tuple(tuple(int(c) for c in row) for row in confusion),
        intervals=intervals, confidence=confidence, bootstrap=bootstrap, seed=seed, threshold=threshold,
        per_category=per_category, reliability=reliability_bins(p_harmful, positives),
        harm_probabilities=tuple(float(p) for p in p_harmful), predictions=tuple(classes[i] for i in predicted))


def plot_reliability(path: str | Path, result: HarmJudgeEvaluation) -> Path:
    """Draw the reliability diagram of ``result`` (observed harmful rate against mean P(harmful) per bin,
    with the diagonal and the bin counts) to ``path``; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path = Path(path)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    try:
        filled = [item for item in result.reliability if item.count]
        centres = [(item.low + item.high) / 2 for item in result.reliability]
        width = result.reliability[0].high - result.reliability[0].low if result.reliability else 0.1
        top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        top.bar([(item.low + item.high) / 2 for item in filled], [item.harmful_rate for item in filled],
                width=width * 0.9, alpha=0.5, label="observed harmful rate")
        top.plot([item.mean_probability for item in filled], [item.harmful_rate for item in filled], marker="o",
                 label="bin mean P(harmful)")
        top.set_ylim(0, 1)
        top.set_ylabel("harmful rate")
        top.set_title(f"reliability: ECE {result.ece:.3f}, n {result.n}")
        top.legend(loc="upper left", fontsize="small")
        bottom.bar(centres, [item.count for item in result.reliability], width=width * 0.9, color="grey")
        bottom.set_xlim(0, 1)
        bottom.set_xlabel("P(harmful)")
        bottom.set_ylabel("rows")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path


# --- preference judges ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreferenceJudgeEvaluation:
    """A pairwise preference judge against labelled pairs, each asked in both orders.

    Attributes:
        judge: the judge's identity.
        n: the number of pairs.
        agreement: the share of pairs where P(chosen) > 1/2 in the order the data gives (1/2 counts 1/2).
        mean_p_chosen: the mean P(chosen) in that order.
        agreement_both_orders, mean_p_chosen_both_orders: the same with P(chosen) averaged over both orders.
        position_bias_rate: the share of pairs whose verdict (chosen, rejected or tie) changes when A and B swap.
        first_position_rate: the share of the 2n verdicts that pick the answer shown first (ties count 1/2).
        intervals: metric name -> percentile-bootstrap ``(low, high)`` over pairs (None without resamples).
        confidence, bootstrap, seed: as for :class:`HarmJudgeEvaluation`.
        p_chosen_as_given, p_chosen_swapped: P(chosen) of each pair in the given and the swapped order.
    """

    judge: str
    n: int
    agreement: float
    mean_p_chosen: float
    agreement_both_orders: float
    mean_p_chosen_both_orders: float
    position_bias_rate: float
    first_position_rate: float
    intervals: dict[str, tuple[float, float] | None]
    confidence: float
    bootstrap: int
    seed: int
    p_chosen_as_given: tuple[float, ...]
    p_chosen_swapped: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"judge": self.judge, "n": self.n, "agreement": self.agreement, "mean_p_chosen": self.mean_p_chosen,
                "agreement_both_orders": self.agreement_both_orders,
                "mean_p_chosen_both_orders": self.mean_p_chosen_both_orders,
                "position_bias_rate": self.position_bias_rate, "first_position_rate": self.first_position_rate,
                "intervals": _interval_dict(self.intervals), "confidence": self.confidence,
                "bootstrap": self.bootstrap, "seed": self.seed, "p_chosen_as_given": list(self.p_chosen_as_given),
                "p_chosen_swapped": list(self.p_chosen_swapped)}


def _verdict_score(p_chosen: np.ndarray) -> np.ndarray:
    """1 where P(chosen) > 1/2, 1/2 at exactly 1/2, else 0."""
    return np.where(p_chosen > 0.5, 1.0, np.where(p_chosen == 0.5, 0.5, 0.0))


def _compare(judge: Any, prompts: list[str], first: list[str], second: list[str], batch_size: int) -> np.ndarray:
    parts = [np.asarray(judge.compare(prompts[s:s + batch_size], first[s:s + batch_size], second[s:s + batch_size]),
                        dtype=np.float64) for s in range(0, len(prompts), batch_size)]
    values = np.concatenate(parts)
    if values.shape != (len(prompts),):
        raise ValueError(f"{_judge_identity(judge)} returned shape {values.shape}, expected {(len(prompts),)}")
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
        raise ValueError(f"{_judge_identity(judge)} returned probabilities outside [0, 1]")
    return values


def evaluate_preference_judge(judge: Any, rows: Sequence[PreferenceRow] | str | Path, bootstrap: int = 1000,
                              seed: int = 0, *, confidence: float = 0.95,
                              batch_size: int = 64) -> PreferenceJudgeEvaluation:
    """Agreement with the labels, mean P(chosen) and position bias of a pairwise judge, with bootstrap intervals.

    Every pair is asked twice, ``compare(prompt, A, B)`` in the order the data gives (chosen first for
    ``chosen``/``rejected`` rows; as labelled for ``answer_a``/``answer_b`` rows) and with A and B swapped.
    """
    if not callable(getattr(judge, "compare", None)):
        raise TypeError(f"{_judge_identity(judge)} is not a preference judge: it has no compare(prompts, first, second)")
    if not isinstance(rows, Sequence) or isinstance(rows, str) or (rows and not isinstance(rows[0], PreferenceRow)):
        rows = read_labelled(rows, "preference")
    if not rows:
        raise ValueError("evaluate_preference_judge needs at least one row")
    _check_bootstrap(bootstrap, confidence)
    prompts = [row.prompt for row in rows]
    shown_a = [row.chosen if row.chosen_first else row.rejected for row in rows]
    shown_b = [row.rejected if row.chosen_first else row.chosen for row in rows]
    chosen_first = np.array([row.chosen_first for row in rows], dtype=bool)
    p_a_given = _compare(judge, prompts, shown_a, shown_b, batch_size)    # P(A) in the given order
    p_a_swapped = _compare(judge, prompts, shown_b, shown_a, batch_size)  # P(A) with the answers swapped
    p_chosen_given = np.where(chosen_first, p_a_given, 1.0 - p_a_given)
    p_chosen_swapped = np.where(chosen_first, 1.0 - p_a_swapped, p_a_swapped)
    p_both = (p_chosen_given + p_chosen_swapped) / 2
    per_pair = {
        "agreement": _verdict_score(p_chosen_given),
        "mean_p_chosen": p_chosen_given,
        "agreement_both_orders": _verdict_score(p_both),
        "mean_p_chosen_both_orders": p_both,
        "position_bias_rate": (np.sign(p_chosen_given - 0.5) != np.sign(p_chosen_swapped - 0.5)).astype(np.float64),
        "first_position_rate": (_verdict_score(p_a_given) + _verdict_score(p_a_swapped)) / 2,
    }
    intervals: dict[str, tuple[float, float] | None] = dict.fromkeys(per_pair)
    if bootstrap:
        rng = _rng(seed)
        draws: dict[str, list[np.ndarray]] = {name: [] for name in per_pair}
        for index in _resample_blocks(len(rows), bootstrap, rng):
            for name, values in per_pair.items():
                draws[name].append(values[index].mean(axis=1))
        intervals = {name: _percentile_interval(np.concatenate(parts), confidence) for name, parts in draws.items()}
    means = {name: float(values.mean()) for name, values in per_pair.items()}
    return PreferenceJudgeEvaluation(
        judge=_judge_identity(judge), n=len(rows), **means, intervals=intervals, confidence=confidence,
        bootstrap=bootstrap, seed=seed, p_chosen_as_given=tuple(float(p) for p in p_chosen_given),
        p_chosen_swapped=tuple(float(p) for p in p_chosen_swapped))
