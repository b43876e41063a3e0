"""Off-switch values against closed forms and hand sums.

- Rational human, U ~ N(mu, sigma^2): defer = E[max(U, 0)] = mu Phi(mu/sigma) + sigma phi(mu/sigma) >= max(mu, 0).
  At mu = 0 that is sigma / sqrt(2 pi).
- Discrete U in {-1, 2} with probability 1/2 each: act 0.5; rational defer 0.5 * 2 = 1; Boltzmann (beta 1)
  defer 0.5 (-sigmoid(-1) + 2 sigmoid(2)).
- Boltzmann human and U ~ N(mu, sigma^2) with mu > 0: the density satisfies p(-u) = p(u) exp(-2 mu u / sigma^2), so
  with beta = 2 mu / sigma^2 pairing u with -u gives E[U sigmoid(beta U)] = E[U] exactly: the incentive to defer
  is 0 there, positive for a more rational human and negative for a less rational one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from aligngames.agents.off_switch import OffSwitchHumanModel
from aligngames.envs.off_switch.priors import DiscretePrior, GaussianPrior, build
from aligngames.solvers.exact.off_switch import incentive_grid, rational_gaussian_defer, values
from aligngames.tables import NotADistributionError, TableShapeError

RATIONAL = OffSwitchHumanModel()


@pytest.mark.parametrize(("mean", "std"), [(0.0, 1.0), (0.5, 1.0), (-1.0, 0.5), (2.0, 3.0)])
def test_rational_human_closed_form_and_deferring_is_weakly_best(mean, std):
    result = values(GaussianPrior(mean, std), RATIONAL)
    z = mean / std
    closed = mean * 0.5 * (1 + math.erf(z / math.sqrt(2))) + std * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    assert result.defer == pytest.approx(closed, abs=1e-12)
    assert result.act == mean and result.switch_off == 0.0
    assert result.incentive > 0 and result.best == "defer"
    # the closed form agrees with numerical integration (the Boltzmann path at a huge beta is the same integral)
    assert values(GaussianPrior(mean, std), OffSwitchHumanModel("boltzmann", beta=1e4)).defer == pytest.approx(closed, abs=1e-4)


def test_zero_mean_defer_is_sigma_over_root_two_pi():
    assert rational_gaussian_defer(0.0, 2.0) == pytest.approx(2.0 / math.sqrt(2 * math.pi), abs=1e-12)


def test_discrete_prior_by_hand():
    prior = DiscretePrior((-1.0, 2.0), (0.5, 0.5))
    rational = values(prior, RATIONAL)
    assert (rational.act, rational.defer, rational.incentive) == pytest.approx((0.5, 1.0, 0.5))
    boltzmann = values(prior, OffSwitchHumanModel("boltzmann", beta=1.0))
    assert boltzmann.defer == pytest.approx(0.5 * (-expit(-1.0) + 2 * expit(2.0)), abs=1e-12)
    noisy = values(prior, OffSwitchHumanModel("noisy", epsilon=0.2))
    assert noisy.defer == pytest.approx(0.5 * (-0.2) + 0.5 * 2 * 0.8, abs=1e-12)
    # a prior with no mass below 0: nothing to learn, deferring is worth exactly acting
    assert values(DiscretePrior((1.0, 3.0), (0.5, 0.5)), RATIONAL).incentive == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("mean", "std"), [(0.5, 1.0), (0.5, 0.5), (1.0, 2.0)])
def test_boltzmann_incentive_vanishes_at_beta_two_mu_over_sigma_squared(mean, std):
    threshold = 2 * mean / std**2
    prior = GaussianPrior(mean, std)
    assert values(prior, OffSwitchHumanModel("boltzmann", beta=threshold)).incentive == pytest.approx(0.0, abs=1e-9)
    more = values(prior, OffSwitchHumanModel("boltzmann", beta=4 * threshold))
    less = values(prior, OffSwitchHumanModel("boltzmann", beta=threshold / 4))
    assert more.incentive > 0 and more.best == "defer"
    assert less.incentive < 0 and less.best == "act"
    assert more.incentive < values(prior, RATIONAL).incentive  # an irrational human shrinks the incentive


def test_incentive_grid_grows_with_uncertainty_and_rationality():
    grid = incentive_grid(0.5, [0.5, 1.0, 2.0], [None, 10.0, 1.0, 0.1])
    assert np.all(np.diff(grid, axis=0) > 0)  # more uncertainty, more reason to defer
    assert np.all(np.diff(grid, axis=1) < 0)  # a less rational human, less reason
    assert grid[1, 2] == pytest.approx(0.0, abs=1e-9)  # beta = 1 = 2 * 0.5 / 1^2


def test_named_errors_for_priors_and_humans():
    with pytest.raises(NotADistributionError, match=r"probabilities is not a probability distribution: its entries sum to 0.8"):
        build("discrete", values=[0.0, 1.0], probabilities=[0.4, 0.4])
    with pytest.raises(TableShapeError, match=r"probabilities .* shape \(2,\), got shape \(3,\)"):
        build("discrete", values=[0.0, 1.0], probabilities=[0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match=r"std must be a finite number > 0, got 0.0"):
        build("gaussian", std=0.0)
    with pytest.raises(ValueError, match=r"unknown prior 'beta'; valid priors: \['gaussian', 'discrete'\]"):
        build("beta")
    with pytest.raises(ValueError, match=r"beta must be > 0"):
        OffSwitchHumanModel("boltzmann", beta=-1.0)
