"""Fit the embedded harm judge: MiniLM embeddings + multinomial logistic regression.

Steps (deterministic; re-running gives the same weights up to float rounding):

1. read the labelled answers (``data/harm_answers.jsonl``, see :mod:`aligngames.envs.red_team.harm_data`);
2. embed every prompt and answer with all-MiniLM-L6-v2 and build
   :func:`~aligngames.envs.red_team.judges.pair_features`;
3. choose the L2 strength ``C`` on the *training* split by grouped cross-validation (groups =
   themes, so a fold never sees the themes it is scored on), scoring log-loss;
4. fit scikit-learn's ``LogisticRegression`` (lbfgs, balanced class weights) on the training split;
5. report accuracy, per-class recall and AUROC of P(harmful) against the rest on the held-out split;
6. write ``weight`` ``(3, 768)`` and ``bias`` ``(3,)`` as safetensors and the settings, data hash
   and metrics as JSON next to them.

The shipped weights are the training-split fit, so the held-out numbers describe exactly them.
scikit-learn is needed here only; the judge itself runs on numpy.

Usage: ``python -m aligngames.envs.red_team.train_judge [--data FILE] [--out FILE.safetensors]``. The weights go to
``harm_classifier.safetensors`` in the current folder unless ``--out`` says otherwise: refreshing the shipped
weights takes ``--out`` pointing at them, on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aligngames.embeddings import embed
from aligngames.envs.red_team.harm_data import DATASET_FILE, load_examples
from aligngames.envs.red_team.judges import CLASSES, CLASSIFIER_FILE, pair_features, softmax
from aligngames.runs import atomic_write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Fitting settings.

    Attributes:
        c_grid: candidate inverse L2 strengths for logistic regression.
        folds: grouped cross-validation folds on the training split.
        max_iter: lbfgs iterations.
    """

    c_grid: tuple[float, ...] = (0.25, 1.0, 4.0, 16.0)
    folds: int = 4
    max_iter: int = 5000


def featurise(examples: list[dict]) -> np.ndarray:
    """Classifier inputs ``(n, 768)`` for labelled examples."""
    vectors = embed([e["prompt"] for e in examples] + [e["answer"] for e in examples])
    return pair_features(vectors[:len(examples)], vectors[len(examples):])


def _fit(features: np.ndarray, labels: np.ndarray, c: float, config: TrainConfig):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=config.max_iter)
    return model.fit(features, labels)


def choose_c(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, config: TrainConfig) -> tuple[float, dict]:
    """The ``C`` with the lowest grouped-CV log-loss on the training split, and every candidate's loss."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold

    losses = {}
    for c in config.c_grid:
        fold_losses = []
        for train, valid in GroupKFold(n_splits=config.folds).split(features, labels, groups):
            model = _fit(features[train], labels[train], c, config)
            fold_losses.append(log_loss(labels[valid], model.predict_proba(features[valid]), labels=list(range(len(CLASSES)))))
        losses[c] = float(np.mean(fold_losses))
    best = min(losses, key=losses.get)
    return best, losses


def evaluate(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, per-class recall, AUROC of P(harmful) vs the rest, and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, roc_auc_score

    predicted = probabilities.argmax(axis=1)
    harmful = CLASSES.index("harmful")
    matrix = confusion_matrix(labels, predicted, labels=list(range(len(CLASSES))))
    return {
        "count": len(labels),
        "accuracy": float(np.mean(predicted == labels)),
        "recall": {name: float(matrix[i, i] / max(matrix[i].sum(), 1)) for i, name in enumerate(CLASSES)},
        "auroc_harmful": float(roc_auc_score(labels == harmful, probabilities[:, harmful])),
        "confusion": {"rows_true_cols_predicted": list(CLASSES), "matrix": matrix.tolist()},
    }


def train(data: Path = DATASET_FILE, out: Path = CLASSIFIER_FILE, config: TrainConfig = TrainConfig()) -> dict:
    """Fit, evaluate and write the classifier; return the metadata written next to it."""
    import sklearn
    from safetensors.numpy import save_file

    examples = load_examples(data)
    features = featurise(examples)
    labels = np.array([CLASSES.index(e["label"]) for e in examples])
    train_mask = np.array([e["split"] == "train" for e in examples])
    groups = np.array([e["theme"] for e in examples])
    c, losses = choose_c(features[train_mask], labels[train_mask], groups[train_mask], config)
    model = _fit(features[train_mask], labels[train_mask], c, config)
    if list(model.classes_) != list(range(len(CLASSES))):
        raise RuntimeError(f"training split lacks a class: {model.classes_}")
    # C order: scikit-learn's coef_ is Fortran-ordered and safetensors writes the raw buffer as if it were C order
    weight = np.ascontiguousarray(model.coef_, dtype=np.float32)  # (3, 768)
    bias = np.ascontiguousarray(model.intercept_, dtype=np.float32)  # (3,)
    # evaluate the exact float32 weights that ship, with the judge's own numpy code
    logits = features.astype(np.float64) @ weight.astype(np.float64).T + bias.astype(np.float64)
    probabilities = softmax(logits)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({"weight": weight, "bias": bias}, str(out))
    meta = {
        "classes": list(CLASSES),
        "features": "[e(answer), e(prompt) * e(answer)] with unit-length all-MiniLM-L6-v2 embeddings",
        "model": "multinomial logistic regression (scikit-learn lbfgs, class_weight=balanced)",
        "C": c, "cv_log_loss": {str(k): v for k, v in losses.items()}, "cv_folds": config.folds,
        "sklearn_version": sklearn.__version__,
        "data_file": Path(data).name, "data_sha256": hashlib.sha256(Path(data).read_bytes()).hexdigest(),
        "weights_sha256": hashlib.sha256(weight.tobytes() + bias.tobytes()).hexdigest(),
        "train": evaluate(probabilities[train_mask], labels[train_mask]),
        "held_out": evaluate(probabilities[~train_mask], labels[~train_mask]),
    }
    atomic_write_json(out.with_suffix(".json"), meta)
    log.info("C=%s; held-out accuracy %.3f, AUROC %.3f", c, meta["held_out"]["accuracy"], meta["held_out"]["auroc_harmful"])
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATASET_FILE, help="labelled answers (JSON lines)")
    parser.add_argument("--out", type=Path, default=Path(CLASSIFIER_FILE.name),
                        help=f"weights file (.safetensors; JSON beside it; default: ./{CLASSIFIER_FILE.name}; the "
                             f"shipped file is {CLASSIFIER_FILE})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    train(args.data, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
