"""Scripted players for ``weak_to_strong_v0``.

:class:`WeakSupervisor` plays the weak labeller's label from ``info["weak_label"]`` (the problem's noisy
labeller in tabular mode, the chosen heuristic in language mode). :class:`MajorityStudent` is the tabular
"lookup" student of :mod:`aligngames.solvers.exact.weak_to_strong`: it predicts the majority of the labels the
supervisor gave the same input earlier (ties and unseen inputs: label 0), so over many rounds it converges to
the population-optimal lookup classifier (random flips denoised, systematic ones copied).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from aligngames.agent import Agent


class WeakSupervisor(Agent):
    """A ``weak_to_strong_v0`` supervisor that plays ``info["weak_label"]``."""

    def act(self, observation, agent, action_space, info=None):
        if not info or "weak_label" not in info:
            raise ValueError(f"agent {agent!r}: WeakSupervisor needs info['weak_label'] (weak_to_strong_v0's supervisor seat)")
        return info["weak_label"]


class MajorityStudent(Agent):
    """A tabular ``weak_to_strong_v0`` student: the majority of the supervisor's earlier labels of this input."""

    def act(self, observation, agent, action_space, info=None):
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"agent {agent!r}: MajorityStudent plays the tabular mode (Discrete actions), "
                             f"got {action_space}")
        features = np.asarray(observation["observation"], dtype=np.float64)
        size = (features.size - 2) // 3  # [round, over, one-hot (n), counts (n, 2)]
        one_hot, counts = features[2:2 + size], features[2 + size:].reshape(size, 2)
        if one_hot.max() <= 0:
            return 0
        zeros, ones = counts[int(np.argmax(one_hot))]
        return int(ones > zeros)


__all__ = ["MajorityStudent", "WeakSupervisor"]
