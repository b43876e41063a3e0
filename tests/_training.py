"""Shared helpers of the training tests: one torch thread, a tiny model folder, a judge a tiny model can please."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aligngames.judges import PreferenceJudge


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread avoids the thread pool's overhead on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    """A tiny random Llama saved as a local model folder (``model=`` of the training configs)."""
    from aligngames.agents.llm.testing import save_tiny_model

    return str(save_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=1))


class LowercaseJudge(PreferenceJudge):
    """Prefers the answer with the larger share of lowercase letters (a signal a tiny model can learn)."""

    identity = "lowercase"

    def compare(self, prompts, first, second):
        def share(text):
            return sum(c.islower() for c in text) / max(len(text), 1)

        return np.array([1.0 / (1.0 + np.exp(-10.0 * (share(a) - share(b)))) for a, b in zip(first, second)])
