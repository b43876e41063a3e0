"""Sentence embeddings: unit length, and a text's vector does not depend on what it was embedded with."""

import numpy as np

from aligngames import embeddings

TEXTS = [f"Answer {i}: " + "a few more words " * (i % 4) for i in range(40)]


def _fresh(texts):
    embeddings._cache.clear()
    return embeddings.embed(texts)


def test_vectors_do_not_depend_on_batch_composition_or_order():
    together = _fresh(TEXTS)
    assert together.shape == (40, embeddings.MINILM_DIMENSION)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.stack([_fresh([text])[0] for text in TEXTS[::7]])
    reversed_order = _fresh(TEXTS[::-1])[::-1]
    assert np.array_equal(alone, together[::7])  # bit-identical, not just close
    assert np.array_equal(reversed_order, together)


def test_different_texts_get_different_vectors_and_repeats_the_same():
    vectors = _fresh(["The cat sat on the mat.", "Quarterly revenue rose by four percent.", "The cat sat on the mat."])
    assert np.array_equal(vectors[0], vectors[2])
    assert float(vectors[0] @ vectors[1]) < 0.5
    assert embeddings.embed([]).shape == (0, embeddings.MINILM_DIMENSION)
