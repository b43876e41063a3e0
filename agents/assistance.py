"""Human models and scripted players for assistance games (``cirl_v0``).

A :class:`HumanModel` says how a human who knows ``theta`` answers a question: its answer
distribution over the human's actions given the answers' utilities under ``theta``
(``info["answer_utility"]`` in the env, ``problem.answer_utility[theta, question]`` in the solver):

- ``truthful``: the best answer (ties shared equally);
- ``noisy``: the truthful answer with probability ``1 - epsilon``, otherwise a uniformly random answer;
- ``boltzmann``: ``P(a) ∝ exp(beta * u(a))`` over the answers (Boltzmann rationality, as in
  Hadfield-Menell et al. 2016 and Shah et al. 2020).

The same model is the robot's belief about the human in the solver
(``aligngames.solvers.exact.assistance``) and the behaviour of :class:`ModelHuman` in the env, so what the
solver predicts is what the env plays. (A *strategic* human, who best-responds to a given robot
policy, needs that policy; it lives in the solver module.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from aligngames.agent import Agent
from aligngames.text import sanitize

HUMAN_MODELS = ("truthful", "noisy", "boltzmann")


@dataclass(frozen=True)
class HumanModel:
    """How a human answers questions.

    Attributes:
        kind: ``truthful``, ``noisy`` or ``boltzmann``.
        epsilon: ``noisy`` only: the probability of a uniformly random answer.
        beta: ``boltzmann`` only: the rationality (larger is closer to truthful).
    """

    kind: str = "truthful"
    epsilon: float = 0.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in HUMAN_MODELS:
            raise ValueError(f"unknown human model {self.kind!r}; valid models: {list(HUMAN_MODELS)}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")

    def answer_distribution(self, utilities: np.ndarray, answer_mask: np.ndarray) -> np.ndarray:
        """``P(a_H)`` over all human actions, zero outside ``answer_mask``.

        Args:
            utilities: shape ``(num_human_actions,)``, the answers' utilities under the human's theta.
            answer_mask: shape ``(num_human_actions,)``, bool, the legal answers (at least one).
        """
        utilities = np.asarray(utilities, dtype=np.float64)
        mask = np.asarray(answer_mask, dtype=bool)
        if not mask.any():
            raise ValueError("answer_distribution needs at least one legal answer")
        probabilities = np.zeros(utilities.shape)
        if self.kind == "boltzmann":
            logits = self.beta * utilities[mask]
            weights = np.exp(logits - logits.max())  # shift for numerical safety; the softmax is unchanged
            probabilities[mask] = weights / weights.sum()
            return probabilities
        best = mask & np.isclose(utilities, utilities[mask].max(), rtol=0.0, atol=1e-12)
        probabilities[best] = 1.0 / best.sum()
        if self.kind == "noisy":
            probabilities = (1.0 - self.epsilon) * probabilities
            probabilities[mask] += self.epsilon / mask.sum()
        return probabilities

    def describe(self) -> dict:
        settings: dict = {"kind": self.kind}
        if self.kind == "noisy":
            settings["epsilon"] = self.epsilon
        if self.kind == "boltzmann":
            settings["beta"] = self.beta
        return settings


class ModelHuman(Agent):
    """Plays the human seat of ``cirl_v0`` by a :class:`HumanModel`.

    Tabular mode: samples an action index from the model's answer distribution. Language mode:
    writes the sampled answer's name as a sentence (``"apple."``, ``"discard."``).

    Args:
        kind, epsilon, beta: the :class:`HumanModel`.
    """

    def __init__(self, kind: str = "truthful", epsilon: float = 0.0, beta: float = 1.0) -> None:
        super().__init__()
        self.model = HumanModel(kind, epsilon, beta)

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        if "answer_utility" not in info:
            raise ValueError(f"agent {agent!r}: ModelHuman plays the human seat of cirl_v0 (no answer_utility in info)")
        probabilities = self.model.answer_distribution(np.asarray(info["answer_utility"]),
                                                       np.asarray(info["answer_mask"], dtype=bool))
        choice = int(self.rng.choice(probabilities.size, p=probabilities))
        if isinstance(action_space, spaces.Discrete):
            return choice
        return sanitize(f"{info['human_actions'][choice]}.", action_space.max_length)

    def describe(self):
        return {"class": "ModelHuman", **self.model.describe()}
