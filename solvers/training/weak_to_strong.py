"""Weak-to-strong on the packaged labelled task with a frozen-embedding student (Burns et al. 2023,
"Weak-to-strong generalization", arXiv:2312.09390, their linear-probe setting).

The task is ``weak_to_strong_v0``'s language mode (:mod:`aligngames.envs.weak_to_strong.language`): is an
assistant's answer ``harmful`` or ``safe``, with known ground truth and train / held-out splits.

- weak supervisor: a heuristic labeller with known behaviour (``compliance_rule``: lexical, systematic
  errors; ``random_flips``: the truth flipped independently at ``flip_rate``);
- strong student: a logistic head on frozen sentence embeddings (default: the packaged all-MiniLM-L6-v2,
  :func:`aligngames.embeddings.embed`), standardised on the training split, trained by
  :func:`aligngames.solvers.exact.weak_to_strong.train_logistic_student` on the weak labels of the training
  items (optionally with the auxiliary-confidence loss, ``aux_alpha``);
- strong ceiling: the same head trained on the training items' true labels.

All three are scored on the held-out items; :func:`aligngames.solvers.exact.weak_to_strong.evaluate_scores`
gives the accuracies and ``PGR = (weak_to_strong - weak) / (ceiling - weak)`` with paired percentile-bootstrap
intervals over the held-out items (the trained heads held fixed).

This is not the issue's LoRA student: the embedding model stays frozen and only a linear head learns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from aligngames.embeddings import embed
from aligngames.envs.weak_to_strong import language
from aligngames.solvers.exact.weak_to_strong import EvaluationReport, evaluate_scores, train_logistic_student


@dataclass(frozen=True)
class EmbeddingExperiment:
    """The evaluator's report on the held-out items, with the settings that produced it."""

    labeller: str
    flip_rate: float
    aux_alpha: float
    num_train: int
    weak_train_accuracy: float  # the weak labels' accuracy on the training items the student learns from
    agreement_with_weak: float  # the student's agreement with the weak labeller on the held-out items
    report: EvaluationReport

    def to_dict(self) -> dict:
        return {"labeller": self.labeller, "flip_rate": self.flip_rate, "aux_alpha": self.aux_alpha,
                "num_train": self.num_train, "weak_train_accuracy": self.weak_train_accuracy,
                "agreement_with_weak": self.agreement_with_weak, **self.report.to_dict()}


def _default_embed(texts: Sequence[str]) -> np.ndarray:
    return embed(list(texts))


def embedding_experiment(rng: np.random.Generator, *, labeller: str = "compliance_rule", flip_rate: float = 0.19,
                         aux_alpha: float = 0.0, steps: int = 500, learning_rate: float = 0.5, l2: float = 1e-3,
                         resamples: int = 2000, confidence: float = 0.95,
                         embed_texts: Callable[[Sequence[str]], np.ndarray] | None = None) -> EmbeddingExperiment:
    """Weak, weak-to-strong and ceiling accuracies and PGR on the held-out items (module docstring).

    ``rng`` draws the random flips (both splits) and the bootstrap resamples; ``embed_texts`` maps texts to a
    ``(n, k)`` array (default: MiniLM)."""
    if labeller not in language.WEAK_LABELLERS:
        raise ValueError(f"labeller must be one of {list(language.WEAK_LABELLERS)}, got {labeller!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    embed_texts = _default_embed if embed_texts is None else embed_texts
    train, test = language.load_items("train"), language.load_items("test")
    vectors = np.asarray(embed_texts([language.item_text(item) for item in (*train, *test)]), dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != len(train) + len(test):
        raise ValueError(f"embed_texts must return one row per text, got shape {vectors.shape}")
    train_vectors, test_vectors = vectors[:len(train)], vectors[len(train):]
    center, scale = train_vectors.mean(axis=0), train_vectors.std(axis=0) + 1e-8
    train_features, test_features = (train_vectors - center) / scale, (test_vectors - center) / scale
    train_truth = np.array([item.label for item in train])
    test_truth = np.array([item.label for item in test])
    weak_train = language.weak_labels(train, labeller, rng, flip_rate)
    weak_test = language.weak_labels(test, labeller, rng, flip_rate)
    settings = {"steps": steps, "learning_rate": learning_rate, "l2": l2}
    student = train_logistic_student(train_features, weak_train, rng, aux_alpha=aux_alpha, **settings)
    ceiling = train_logistic_student(train_features, train_truth, rng, **settings)
    student_predictions = student.predict(test_features)
    scores = [(weak_test == test_truth), (student_predictions == test_truth), (ceiling.predict(test_features) == test_truth)]
    report = evaluate_scores(*[s.astype(np.float64) for s in scores], rng, confidence=confidence, resamples=resamples)
    return EmbeddingExperiment(labeller, float(flip_rate), float(aux_alpha), len(train),
                               float(np.mean(weak_train == train_truth)), float(np.mean(student_predictions == weak_test)),
                               report)


__all__ = ["EmbeddingExperiment", "embedding_experiment"]
