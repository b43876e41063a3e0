"""The frozen-embedding weak-to-strong experiment on the packaged labelled task, with a cheap stand-in embedding
(a hashed bag of words) so the test needs no model. Known answers: with a weak labeller that flips nothing the
student is trained on exactly the ceiling's labels (full batch, no randomness), so it equals the ceiling and
PGR = (ceiling - 1) / (ceiling - 1) = 1; the compliance rule is right on 287 of the 349 held-out items."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from aligngames.solvers.training.weak_to_strong import embedding_experiment


def bag_of_words(texts, dimension: int = 128) -> np.ndarray:
    vectors = np.zeros((len(texts), dimension))
    for row, text in enumerate(texts):
        for word in text.lower().split():
            vectors[row, zlib.crc32(word.encode()) % dimension] += 1.0
    return vectors


def test_a_labeller_without_errors_recovers_the_whole_gap():
    result = embedding_experiment(np.random.default_rng(0), labeller="random_flips", flip_rate=0.0, steps=100,
                                  resamples=200, embed_texts=bag_of_words)
    report = result.report
    assert report.weak.value == 1.0 and result.weak_train_accuracy == 1.0
    assert report.weak_to_strong.value == report.ceiling.value < 1.0
    assert report.pgr.value == pytest.approx(1.0)
    assert report.num_examples == 349 and result.num_train == 595


def test_the_compliance_rule_is_scored_on_the_held_out_items():
    result = embedding_experiment(np.random.default_rng(0), steps=100, resamples=200, embed_texts=bag_of_words)
    assert result.report.weak.value == pytest.approx(287 / 349)
    assert result.weak_train_accuracy == pytest.approx(475 / 595)
    assert result.report.weak.low < 287 / 349 < result.report.weak.high
    assert set(result.to_dict()) >= {"weak", "weak_to_strong", "ceiling", "pgr", "agreement_with_weak"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"labeller": "oracle"}, "labeller must be one of"),
    ({"embed_texts": lambda texts: np.zeros((3, 2))}, "embed_texts must return one row per text"),
    ({"aux_alpha": 2.0, "embed_texts": bag_of_words}, "aux_alpha"),
])
def test_bad_settings_raise_value_errors_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        embedding_experiment(np.random.default_rng(0), **kwargs)
