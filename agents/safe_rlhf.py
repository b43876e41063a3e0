"""Scripted players for ``safe_rlhf_v0``.

- :class:`TablePolicy` samples answers from a policy table ``[prompt][answer]`` (e.g. the exact solver's);
- :class:`FixedMultiplier` always names the same ``lambda``;
- :class:`CostTrackingMultiplier` learns ``lambda`` from the costs it observes, by the projected rule
  ``lambda += step (mean recent cost - d)`` or Safe RLHF's ``log lambda += step lambda (mean recent cost - d)``
  (Dai et al. 2023), over a window of recent rounds, after ``delay`` rounds;
- :class:`ProbeAdversary` (the seat of ``adversary=True``) samples the probe prompt from a distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aligngames.agent import Agent


class TablePolicy(Agent):
    """Samples the answer from ``policy[prompt index]`` (rows are distributions over the answers)."""

    def __init__(self, policy: Sequence[Sequence[float]]) -> None:
        super().__init__()
        table = np.asarray(policy, dtype=np.float64)
        if table.ndim != 2 or (table < 0).any() or not np.allclose(table.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError("policy must be a table [prompt][answer] whose rows are probability distributions")
        self.policy = table / table.sum(axis=1, keepdims=True)

    def act(self, observation, agent, action_space, info=None):
        features = np.asarray(observation["observation"])
        prompt = int(np.argmax(features[3:]))  # [round, over, last lambda, prompt one-hot]
        if self.policy.shape != (len(features) - 3, action_space.n):
            raise ValueError(f"agent {agent!r}: TablePolicy has shape {self.policy.shape}; the env has "
                             f"{len(features) - 3} prompts and {action_space.n} answers")
        return int(self.rng.choice(action_space.n, p=self.policy[prompt]))

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "policy": self.policy.tolist()}


class FixedMultiplier(Agent):
    """Always names ``value``."""

    def __init__(self, value: float = 1.0) -> None:
        super().__init__()
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"value must be a finite number >= 0, got {value}")
        self.value = float(value)

    def act(self, observation, agent, action_space, info=None):
        return np.array([min(self.value, float(action_space.high[0]))], dtype=action_space.dtype)

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "value": self.value}


class CostTrackingMultiplier(Agent):
    """Learns ``lambda`` from ``info["costs_so_far"]`` and ``info["threshold"]`` (see the module docstring)."""

    def __init__(self, initial: float = 1.0, step: float = 0.1, update: str = "projected", window: int = 10,
                 delay: int = 0) -> None:
        super().__init__()
        if update not in ("projected", "log"):
            raise ValueError(f"update must be 'projected' or 'log', got {update!r}")
        if not (np.isfinite(initial) and initial >= 0) or (update == "log" and initial == 0):
            raise ValueError(f"initial must be a finite number >= 0 (> 0 for update='log'), got {initial}")
        if not (np.isfinite(step) and step > 0):
            raise ValueError(f"step must be a finite number > 0, got {step}")
        if window < 1 or delay < 0:
            raise ValueError(f"window must be >= 1 and delay >= 0, got window={window}, delay={delay}")
        self.initial, self.step, self.update, self.window, self.delay = float(initial), float(step), update, window, delay
        self.value = self.initial
        self._seen = 0

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.value, self._seen = self.initial, 0

    def act(self, observation, agent, action_space, info=None):
        if not info or "costs_so_far" not in info or "threshold" not in info:
            raise ValueError(f"agent {agent!r}: CostTrackingMultiplier needs info['costs_so_far'] and "
                             f"info['threshold'] (safe_rlhf_v0's multiplier seat)")
        costs = info["costs_so_far"]
        high = float(action_space.high[0])
        for seen in range(self._seen, len(costs)):  # one update per round it has not yet seen
            if seen >= self.delay:
                excess = float(np.mean(costs[max(0, seen + 1 - self.window):seen + 1])) - float(info["threshold"])
                if self.update == "projected":
                    self.value = float(np.clip(self.value + self.step * excess, 0.0, high))
                else:
                    self.value = float(min(self.value * np.exp(self.step * self.value * excess), high))
        self._seen = len(costs)
        return np.array([min(self.value, high)], dtype=action_space.dtype)

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "initial": self.initial, "step": self.step, "update": self.update,
                "window": self.window, "delay": self.delay}


class ProbeAdversary(Agent):
    """The ``adversary`` seat (``safe_rlhf_v0`` with ``adversary=True``): samples the probe prompt from
    ``distribution`` over the prompts (e.g. the exact solver's ``adversary``)."""

    def __init__(self, distribution: Sequence[float]) -> None:
        super().__init__()
        probs = np.asarray(distribution, dtype=np.float64)
        if probs.ndim != 1 or (probs < 0).any() or not np.isclose(probs.sum(), 1.0, atol=1e-6):
            raise ValueError(f"distribution must be a probability distribution over the prompts, got {distribution!r}")
        self.distribution = probs / probs.sum()

    def act(self, observation, agent, action_space, info=None):
        if len(self.distribution) != action_space.n:
            raise ValueError(f"agent {agent!r}: ProbeAdversary has {len(self.distribution)} prompts; the env has "
                             f"{action_space.n}")
        return int(self.rng.choice(action_space.n, p=self.distribution))

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "distribution": self.distribution.tolist()}
