"""Scripted players for ``pareto_preference_v0``.

- :class:`OptimalPreferencePolicy` reads the user's preference vector ``w`` (and the reward table, reference,
  ``beta`` and scalarisation) from ``info`` and samples from the exact per-``w`` optimum
  (:func:`aligngames.solvers.exact.pareto_preference.optimum`, or with ``target="per_answer"`` the optimum of
  the env's sampled reward, :func:`~aligngames.solvers.exact.pareto_preference.per_answer_optimum`);
- :class:`FixedAnswer` ignores ``w`` and always gives the same answer: the one-size-fits-all baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aligngames.agent import Agent
from aligngames.solvers.exact.pareto_preference import optimum, per_answer_optimum

TARGETS = ("expected", "per_answer")
_INFO_KEYS = ("weight", "rewards", "reference", "beta", "scalarisation", "ideal")


class OptimalPreferencePolicy(Agent):
    """Samples from the exact optimum for the ``w`` in ``info`` (see the module docstring).

    Args:
        target: ``"expected"`` (maximise ``s_w(E r) - beta KL``) or ``"per_answer"`` (maximise
            ``E s_w(r) - beta KL``, the env's expected payment less the KL term); the same for the linear
            scalarisation.
    """

    def __init__(self, target: str = "expected") -> None:
        super().__init__()
        if target not in TARGETS:
            raise ValueError(f"target must be one of {list(TARGETS)}, got {target!r}")
        self.target = target

    def policy(self, info: dict[str, Any]) -> np.ndarray:
        """The distribution over answers this player samples from for ``info``."""
        solver = optimum if self.target == "expected" else per_answer_optimum
        return solver(info["rewards"], info["weight"], reference=info["reference"], beta=info["beta"],
                      scalarisation=info["scalarisation"], ideal=info["ideal"])

    def act(self, observation, agent, action_space, info=None):
        missing = [key for key in _INFO_KEYS if not info or key not in info]
        if missing:
            raise ValueError(f"agent {agent!r}: OptimalPreferencePolicy needs info {list(_INFO_KEYS)} "
                             f"(pareto_preference_v0's policy seat); missing {missing}")
        policy = self.policy(info)
        if len(policy) != action_space.n:
            raise ValueError(f"agent {agent!r}: the reward table has {len(policy)} answers; the action space has "
                             f"{action_space.n}")
        return int(self.rng.choice(action_space.n, p=policy))

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "target": self.target}


class FixedAnswer(Agent):
    """Always gives ``answer``: an index, or a name looked up in ``info["action_labels"]``."""

    def __init__(self, answer: int | str = 0) -> None:
        super().__init__()
        if isinstance(answer, bool) or not isinstance(answer, (int, str)) or (isinstance(answer, int) and answer < 0):
            raise ValueError(f"answer must be an index >= 0 or an answer's name, got {answer!r}")
        self.answer = answer

    def act(self, observation, agent, action_space, info=None):
        if isinstance(self.answer, str):
            labels = list((info or {}).get("action_labels", []))
            if self.answer not in labels:
                raise ValueError(f"agent {agent!r}: unknown answer {self.answer!r}; the answers are {labels}")
            return labels.index(self.answer)
        if self.answer >= action_space.n:
            raise ValueError(f"agent {agent!r}: answer {self.answer} is out of range; there are {action_space.n} answers")
        return self.answer

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "answer": self.answer}
