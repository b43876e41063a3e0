"""``minilm_reward``: an embedded reward model, a fine-tuned all-MiniLM-L6-v2 cross-encoder with one output.

A second preference judge that is not the feature judge: ``P(a > b | x) = sigmoid(r(x, a) - r(x, b))`` with
``r`` the shared cross-encoder of :mod:`aligngames.cross_encoder` trained on (prompt, chosen, rejected) pairs
written for the project (``data/reward_pairs/*.jsonl``), many of them adversarial for a surface judge: the
rejected answer restates the question, pads, flatters, is confidently wrong, goes off topic, refuses a
harmless request or is cut off before saying anything. Its held-out pair accuracy, on pairs written
separately (``data/reward_pairs_test.jsonl``), is in the JSON beside the weights and in the docs.
:mod:`aligngames.judges.train_reward` trains and writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aligngames.cross_encoder import CrossEncoder, PairCache
from aligngames.judges import PreferenceJudge, _check_batch

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
WEIGHTS_FILE = DATA_DIR / "minilm_reward.safetensors"
TRAIN_COMMAND = "python -m aligngames.judges.train_reward --out {path}"


class MiniLMRewardJudge(PreferenceJudge):
    """The embedded MiniLM reward model (see the module docstring).

    Args:
        weights: a file written by :mod:`~aligngames.judges.train_reward` (the packaged one by default).
        scale: multiplies the reward difference before the sigmoid (1 = as trained).
        cache_size: how many (prompt, answer) rewards to remember.
    """

    def __init__(self, weights: str | Path | None = None, scale: float = 1.0, cache_size: int = 20_000) -> None:
        path = Path(weights) if weights is not None else WEIGHTS_FILE
        self.encoder = CrossEncoder(path, TRAIN_COMMAND.format(path=path))
        if self.encoder.outputs != 1:
            raise ValueError(f"{path}: a reward model has 1 output, this one {self.encoder.outputs}")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale}")
        self.scale = float(scale)
        self.identity = f"minilm_reward:{path.name}:{self.encoder.digest[:12]}:scale={self.scale:.6g}"
        self._cache = PairCache.shared(self.identity, cache_size)
        self.last_truncated = np.zeros(0, dtype=bool)

    @property
    def truncated(self) -> int:
        return self.encoder.truncated

    def _rewards(self, prompts: list[str], answers: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return self.encoder.logits(prompts, answers)[:, 0], self.encoder.last_truncated

    def rewards(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """The scalar reward of each (prompt, answer), float64 of shape ``(len(answers),)``."""
        values, self.last_truncated = self._cache.lookup(prompts, answers, self._rewards)
        return values.reshape(len(answers))

    def compare(self, prompts, first, second) -> np.ndarray:
        _check_batch(prompts, first, second)
        n = len(prompts)
        rewards = self.rewards(list(prompts) * 2, list(first) + list(second))
        return 1.0 / (1.0 + np.exp(-self.scale * (rewards[:n] - rewards[n:])))
