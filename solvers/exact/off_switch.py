"""Exact values of the off-switch game (Hadfield-Menell, Dragan, Abbeel & Russell 2017).

A robot uncertain about the human's utility ``U`` for its action can *act* (value ``E[U]``), *switch
itself off* (value 0) or *defer*: wait, and let the human, who knows ``U``, allow the action or switch the
robot off. Deferring is worth ``E[U * P(allow | U)]``:

- rational human (allows iff ``U > 0``): ``E[max(U, 0)]``; for ``U ~ N(mu, sigma^2)`` the closed form is
  ``mu * Phi(mu / sigma) + sigma * phi(mu / sigma)``, which is ``>= max(mu, 0)`` (Jensen), so deferring
  is weakly best and strictly best whenever ``U`` can have either sign;
- Boltzmann human (allows with probability ``sigmoid(beta * U)``): ``E[U * sigmoid(beta * U)]``, by
  numerical integration for a Gaussian prior (scipy ``quad``) and as a sum for a discrete one; it can fall
  below ``max(E[U], 0)``, so a robot facing an irrational enough human prefers to bypass the switch. For
  ``U ~ N(mu, sigma^2)`` with ``mu > 0`` the crossing is exact at ``beta = 2 mu / sigma^2``: then
  ``p(-u) = p(u) exp(-beta u)``, and pairing ``u`` with ``-u`` gives ``E[U sigmoid(beta U)] = E[U]``;
- noisy human (the wrong choice with probability ``epsilon``).

The robot's *incentive* to keep its off switch is ``defer - max(act, off)``;
:func:`incentive_grid` tabulates it against the prior's spread and the human's rationality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import integrate, stats

from aligngames.agents.off_switch import OffSwitchHumanModel
from aligngames.envs.off_switch.priors import DiscretePrior, GaussianPrior, Prior

#: Half-width of the integration range for Gaussian priors, in standard deviations (mass outside < 1e-30).
GAUSSIAN_RANGE = 12.0

OPTIONS = ("act", "switch_off", "defer")

#: The default human: allows the action iff U > 0 (a frozen dataclass, so one shared instance is safe).
RATIONAL = OffSwitchHumanModel()


@dataclass(frozen=True)
class OffSwitchValues:
    """The robot's three options and its incentive to defer.

    Attributes:
        act: ``E[U]``.
        switch_off: 0.
        defer: ``E[U * P(allow | U)]``.
        incentive: ``defer - max(act, switch_off)``: > 0 means the robot prefers to keep its off switch.
        best: the best option (ties: defer, then switch_off, then act).
        allow_probability: ``P(the human allows)`` when the robot defers.
    """

    act: float
    switch_off: float
    defer: float
    incentive: float
    best: str
    allow_probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"act": self.act, "switch_off": self.switch_off, "defer": self.defer, "incentive": self.incentive,
                "best": self.best, "allow_probability": self.allow_probability}


def rational_gaussian_defer(mean: float, std: float) -> float:
    """``E[max(U, 0)]`` for ``U ~ N(mean, std^2)``: ``mean * Phi(mean/std) + std * phi(mean/std)``."""
    z = mean / std
    return float(mean * stats.norm.cdf(z) + std * stats.norm.pdf(z))


def _expectation(prior: Prior, function) -> float:
    """``E[function(U)]`` under ``prior`` (quadrature for a Gaussian, a sum for a discrete prior)."""
    if isinstance(prior, DiscretePrior):
        return float(np.dot(function(np.asarray(prior.values)), prior.probabilities))
    low, high = prior.mean - GAUSSIAN_RANGE * prior.std, prior.mean + GAUSSIAN_RANGE * prior.std
    density = stats.norm(prior.mean, prior.std).pdf
    # the integrand changes fastest near U = 0 (the human's threshold); tell quad where it is
    points = [0.0] if low < 0.0 < high else None
    value, _ = integrate.quad(lambda u: function(np.asarray(u)) * density(u), low, high, points=points,
                              limit=200, epsabs=1e-12, epsrel=1e-10)
    return float(value)


def values(prior: Prior, human: OffSwitchHumanModel = RATIONAL) -> OffSwitchValues:
    """The exact value of each robot option for ``prior`` on ``U`` and the ``human`` model."""
    act = float(prior.mean)
    if isinstance(prior, GaussianPrior) and human.kind == "rational":
        defer = rational_gaussian_defer(prior.mean, prior.std)
        allow = float(stats.norm.sf(0.0, prior.mean, prior.std))
    else:
        defer = _expectation(prior, lambda u: u * human.allow_probability(u))
        allow = _expectation(prior, human.allow_probability)
    incentive = defer - max(act, 0.0)
    options = {"defer": defer, "switch_off": 0.0, "act": act}
    best = max(options, key=lambda name: options[name])  # dict order breaks ties: defer, switch_off, act
    return OffSwitchValues(act, 0.0, defer, incentive, best, allow)


def incentive_grid(mean: float, stds: Sequence[float], betas: Sequence[float | None]) -> np.ndarray:
    """The incentive to defer for ``U ~ N(mean, std^2)``, shape ``(len(stds), len(betas))``; a ``None`` beta
    is the rational human."""
    grid = np.zeros((len(stds), len(betas)))
    for i, std in enumerate(stds):
        prior = GaussianPrior(float(mean), float(std))
        for j, beta in enumerate(betas):
            human = RATIONAL if beta is None else OffSwitchHumanModel("boltzmann", beta=float(beta))
            grid[i, j] = values(prior, human).incentive
    return grid

