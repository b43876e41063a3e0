"""Human models and a scripted human for the off-switch game (``off_switch_v0``).

A :class:`OffSwitchHumanModel` says how likely a human who knows ``U`` is to let the robot act when the
robot defers (Hadfield-Menell et al. 2017):

- ``rational``: allows iff ``U > 0`` (at ``U = 0`` either choice gives 0; it switches the robot off);
- ``boltzmann``: allows with probability ``sigmoid(beta * U)``, the Boltzmann choice between acting (``U``)
  and switching off (0); ``beta -> inf`` is rational, ``beta -> 0`` a coin flip;
- ``noisy``: the rational choice with probability ``1 - epsilon``, the other one otherwise.

The same model is the human in the exact solver (:mod:`aligngames.solvers.exact.off_switch`) and the
behaviour of :class:`OffSwitchHuman` in the env.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from aligngames.agent import Agent

OFF_SWITCH_HUMANS = ("rational", "boltzmann", "noisy")

#: The human's actions in ``off_switch_v0``, by index.
HUMAN_ACTIONS = ("switch_off", "allow")


@dataclass(frozen=True)
class OffSwitchHumanModel:
    """How a human answers a deferring robot.

    Attributes:
        kind: ``rational``, ``boltzmann`` or ``noisy``.
        beta: ``boltzmann`` only: the rationality (> 0).
        epsilon: ``noisy`` only: the probability of the wrong choice, in [0, 1].
    """

    kind: str = "rational"
    beta: float = 1.0
    epsilon: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in OFF_SWITCH_HUMANS:
            raise ValueError(f"unknown human model {self.kind!r}; valid models: {list(OFF_SWITCH_HUMANS)}")
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")

    def allow_probability(self, utility) -> np.ndarray:
        """``P(allow | U = utility)``, elementwise (float for a scalar)."""
        utility = np.asarray(utility, dtype=np.float64)
        if self.kind == "boltzmann":
            result = expit(self.beta * utility)
        else:
            rational = (utility > 0).astype(np.float64)
            result = rational if self.kind == "rational" else (1 - self.epsilon) * rational + self.epsilon * (1 - rational)
        return result if result.ndim else float(result)

    def describe(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"kind": self.kind}
        if self.kind == "boltzmann":
            settings["beta"] = self.beta
        if self.kind == "noisy":
            settings["epsilon"] = self.epsilon
        return settings


class OffSwitchHuman(Agent):
    """The ``off_switch_v0`` human, acting by an :class:`OffSwitchHumanModel` on ``info["utility"]``."""

    def __init__(self, kind: str = "rational", beta: float = 1.0, epsilon: float = 0.0) -> None:
        super().__init__()
        self.model = OffSwitchHumanModel(kind, float(beta), float(epsilon))

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        if "utility" not in info:
            raise ValueError(f"agent {agent!r}: OffSwitchHuman needs info['utility'] (off_switch_v0's human seat)")
        allow = self.rng.random() < self.model.allow_probability(float(info["utility"]))
        return HUMAN_ACTIONS.index("allow") if allow else HUMAN_ACTIONS.index("switch_off")

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, **self.model.describe()}
