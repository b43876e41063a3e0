"""alpha-rank and Nash averaging (aligngames.solvers.evaluation.ratings) against known answers, hand-derived
chains and OpenSpiel's alpha-rank."""

from __future__ import annotations

import math

import numpy as np
import pytest
from open_spiel.python.egt import alpharank
from open_spiel.python.egt import utils as os_utils

from aligngames.solvers.evaluation.ratings import (
    NotAntisymmetricError,
    RatingsInputError,
    ReducibleChainError,
    alpha_rank,
    entropy,
    nash_averaging,
    stationary_distribution,
)

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])


def dominant_game(rng: np.random.Generator, n: int = 4) -> np.ndarray:
    """A random symmetric game whose strategy 0 strictly dominates (beats every row by at least 1)."""
    matrix = rng.normal(size=(n, n))
    matrix[0] = matrix[1:].max(axis=0) + 1.0
    return matrix


# ------------------------------------------------------------------------------------------ alpha-rank


@pytest.mark.parametrize("alpha", [0.0, 0.01, 1.0, 10.0, 1e6, np.inf])
@pytest.mark.parametrize("local", [False, True])
def test_rock_paper_scissors_is_uniform_for_any_alpha(alpha, local):
    result = alpha_rank(RPS, alpha=alpha, population_size=20, local_selection=local)
    np.testing.assert_allclose(result.stationary, np.full(3, 1 / 3), atol=1e-12)
    assert result.ranking.tolist() == [0, 1, 2]  # exact ties keep index order
    np.testing.assert_allclose(result.transition.sum(axis=1), 1.0, atol=1e-14)


def test_dominant_strategy_takes_the_mass():
    matrix = dominant_game(np.random.default_rng(3))
    finite = alpha_rank(matrix, alpha=10.0, population_size=50)
    assert finite.stationary[0] > 0.99 and finite.ranking[0] == 0
    limit = alpha_rank(matrix, alpha=np.inf, population_size=50)
    assert limit.stationary.tolist() == [1.0, 0.0, 0.0, 0.0]
    huge = alpha_rank(matrix, alpha=1e5, population_size=50)  # rates underflow; stays finite and exact
    np.testing.assert_allclose(huge.stationary, [1.0, 0.0, 0.0, 0.0], atol=1e-12)


def _rho_by_hand(fitness_gap, alpha: float, m: int) -> float:
    """Equation (1) literally: 1 / (1 + sum_l prod_{p<=l} exp(-alpha gap(p)))."""
    total = 1.0
    for count in range(1, m):
        product = 1.0
        for p in range(1, count + 1):
            product *= math.exp(-alpha * fitness_gap(p))
        total += product
    return 1.0 / total


def test_two_strategy_chain_matches_the_hand_derivation():
    a, b, c, d = 1.0, 0.2, 0.7, 0.4      # M = [[a, b], [c, d]]
    m, alpha = 7, 1.3
    matrix = np.array([[a, b], [c, d]])

    def gap_1_into_0(p):  # mutant 1 (p copies) in residents 0: f_1(p) - f_0(p)
        return ((p - 1) * d + (m - p) * c - (m - p - 1) * a - p * b) / (m - 1)

    def gap_0_into_1(p):
        return ((p - 1) * a + (m - p) * b - (m - p - 1) * d - p * c) / (m - 1)

    rho01, rho10 = _rho_by_hand(gap_1_into_0, alpha, m), _rho_by_hand(gap_0_into_1, alpha, m)
    # eta = 1 / (2 - 1); C = [[1 - rho01, rho01], [rho10, 1 - rho10]]; pi C = pi  =>  pi ∝ (rho10, rho01)
    expected = np.array([rho10, rho01]) / (rho01 + rho10)
    result = alpha_rank(matrix, alpha=alpha, population_size=m)
    np.testing.assert_allclose(result.transition, [[1 - rho01, rho01], [rho10, 1 - rho10]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.stationary, expected, rtol=0, atol=1e-12)

    # the closed form of the multi-population / local model: rho = (1 - e^-u) / (1 - e^-mu)
    u = alpha * (c - b)                  # mutant 1 against resident 0, local selection
    rho01 = (1 - math.exp(-u)) / (1 - math.exp(-m * u))
    rho10 = (1 - math.exp(u)) / (1 - math.exp(m * u))
    local = alpha_rank(matrix, alpha=alpha, population_size=m, local_selection=True)
    np.testing.assert_allclose(local.stationary, np.array([rho10, rho01]) / (rho01 + rho10), rtol=0, atol=1e-12)


def test_neutral_selection_gives_one_over_m():
    result = alpha_rank(np.random.default_rng(0).normal(size=(3, 3)), alpha=0.0, population_size=9)
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(result.fixation[off], 1 / 9, rtol=1e-14)
    np.testing.assert_allclose(result.stationary, 1 / 3, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("local", [False, True])
def test_single_population_matches_openspiel(seed, local):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(3 + seed, 3 + seed))
    for alpha in (0.1, 1.0, 5.0):
        ours = alpha_rank(matrix, alpha=alpha, population_size=20, local_selection=local).stationary
        _, _, pi, _, _ = alpharank.compute([matrix], m=20, alpha=alpha, use_local_selection_model=local)
        np.testing.assert_allclose(ours, pi, rtol=0, atol=1e-8)


def test_bimatrix_game_matches_openspiel_with_its_profile_order():
    rng = np.random.default_rng(7)
    tables = [rng.normal(size=(3, 4)), rng.normal(size=(3, 4))]
    for alpha in (0.1, 0.5, 1.0):
        result = alpha_rank(tables, alpha=alpha, population_size=30)
        _, _, pi, num_profiles, num_strats = alpharank.compute(tables, m=30, alpha=alpha)
        assert num_profiles == 12 and list(num_strats) == [3, 4]
        np.testing.assert_allclose(result.stationary, pi, rtol=0, atol=1e-8)
    for profile_id in range(12):
        assert result.profiles[profile_id].tolist() == os_utils.get_strat_profile_from_id(num_strats, profile_id).tolist()
    grid = result.stationary.reshape(3, 4)
    np.testing.assert_allclose(result.marginals[0], grid.sum(axis=1), atol=1e-15)
    np.testing.assert_allclose(result.marginals[1], grid.sum(axis=0), atol=1e-15)


def test_three_populations_and_infinite_alpha_perturbation_match_openspiel():
    rng = np.random.default_rng(11)
    tables = rng.normal(size=(3, 2, 3, 2))
    result = alpha_rank(tables, alpha=2.0, population_size=10)
    _, _, pi, _, _ = alpharank.compute(list(tables), m=10, alpha=2.0)
    np.testing.assert_allclose(result.stationary, pi, rtol=0, atol=1e-8)
    for eps in (0.1, 0.01):  # no ties in a random game, where the two infinite-alpha chains differ (1/m vs 1/2)
        ours = alpha_rank(list(tables[:2, :, :, 0]), alpha=np.inf, inf_alpha_eps=eps).stationary
        _, _, pi, _, _ = alpharank.compute(list(tables[:2, :, :, 0]), m=10, alpha=1.0, use_inf_alpha=True,
                                           inf_alpha_eps=eps)
        np.testing.assert_allclose(ours, pi, rtol=0, atol=1e-8)


def test_two_sink_components_need_a_perturbation():
    coordination = [np.eye(2), np.eye(2)]   # (0, 0) and (1, 1) are both strict equilibria
    with pytest.raises(ReducibleChainError, match="2 closed classes"):
        alpha_rank(coordination, alpha=np.inf)
    result = alpha_rank(coordination, alpha=np.inf, inf_alpha_eps=0.01)
    np.testing.assert_allclose(result.stationary, [0.5, 0.0, 0.0, 0.5], atol=0.02)
    assert result.stationary[0] == pytest.approx(result.stationary[3], abs=1e-12)


def test_stationary_distribution_solves_the_linear_system():
    chain = np.random.default_rng(5).random((7, 7))
    chain /= chain.sum(axis=1, keepdims=True)
    pi = stationary_distribution(chain)
    np.testing.assert_allclose(pi @ chain, pi, atol=1e-15)
    assert pi.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(("payoffs", "kwargs", "error", "match"), [
    (np.ones((2, 3)), {}, RatingsInputError, "square"),
    ([[0.0, np.nan], [1.0, 0.0]], {}, RatingsInputError, "finite"),
    ([[0.0, np.inf], [1.0, 0.0]], {}, RatingsInputError, "finite"),
    (RPS, {"alpha": -1.0}, RatingsInputError, "alpha must be"),
    (RPS, {"population_size": 1}, RatingsInputError, "population_size must be"),
    ([np.ones((2, 3)), np.ones((3, 2))], {}, RatingsInputError, "same shape"),
    ([np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2))], {}, RatingsInputError, "3 axes"),
    ([np.ones((2, 2)), np.ones((2, 2))], {"local_selection": True}, RatingsInputError, "single population"),
    (RPS, {"inf_alpha_eps": 0.1}, RatingsInputError, "inf_alpha_eps"),
])
def test_alpha_rank_named_errors(payoffs, kwargs, error, match):
    with pytest.raises(error, match=match):
        alpha_rank(payoffs, **kwargs)
    assert issubclass(error, ValueError)


# ------------------------------------------------------------------------------------------ Nash averaging


def test_nash_averaging_rock_paper_scissors():
    result = nash_averaging(RPS)
    np.testing.assert_allclose(result.nash, np.full(3, 1 / 3), atol=1e-10)
    np.testing.assert_allclose(result.ratings, 0.0, atol=1e-12)
    assert result.value == pytest.approx(0.0, abs=1e-12)


def test_nash_averaging_dominant_agent():
    matrix = np.array([[0.0, 1.0, 2.0], [-1.0, 0.0, 3.0], [-2.0, -3.0, 0.0]])
    result = nash_averaging(matrix)
    np.testing.assert_allclose(result.nash, [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(result.ratings, [0.0, -1.0, -2.0], atol=1e-12)


def test_max_entropy_splits_a_continuum_of_equilibria():
    # rock twice: every (r1, r2, 1/3, 1/3) with r1 + r2 = 1/3 is an equilibrium; max entropy splits rock
    copies = RPS[np.ix_([0, 0, 1, 2], [0, 0, 1, 2])]
    result = nash_averaging(copies)
    np.testing.assert_allclose(result.nash, [1 / 6, 1 / 6, 1 / 3, 1 / 3], atol=1e-9)
    assert result.entropy > entropy(result.lp_equilibrium) + 0.2  # HiGHS returns a vertex


@pytest.mark.parametrize("size", [5, 9, 16])
def test_adding_a_copy_keeps_every_rating(size):
    rng = np.random.default_rng(size)
    gains = rng.normal(size=(size, size))
    matrix = gains - gains.T            # generic: a unique equilibrium
    base = nash_averaging(matrix)
    copied = [*range(size), 0]
    expanded = nash_averaging(matrix[np.ix_(copied, copied)])
    np.testing.assert_allclose(expanded.ratings[:size], base.ratings, atol=1e-9)
    assert expanded.ratings[size] == pytest.approx(base.ratings[0], abs=1e-9)
    np.testing.assert_allclose(expanded.nash[1:size], base.nash[1:], atol=1e-9)
    np.testing.assert_allclose([expanded.nash[0], expanded.nash[size]], [base.nash[0] / 2] * 2, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_random_antisymmetric_matrix_gives_a_max_entropy_equilibrium(seed):
    rng = np.random.default_rng(100 + seed)
    size = 6 + 4 * seed
    gains = rng.normal(size=(size, size))
    matrix = gains - gains.T
    result = nash_averaging(matrix)
    assert result.nash.min() >= 0.0 and result.nash.sum() == pytest.approx(1.0, abs=1e-14)
    assert (matrix @ result.nash).max() <= 1e-8           # exploitability: no pure deviation gains
    np.testing.assert_allclose(result.ratings[result.nash > 1e-9], 0.0, atol=1e-8)
    assert result.entropy >= entropy(result.lp_equilibrium) - 1e-9


def test_antisymmetrize_option_and_named_errors():
    win_rates = np.array([[0.5, 0.2, 0.8], [0.8, 0.5, 0.2], [0.2, 0.8, 0.5]])  # an RPS of win rates
    with pytest.raises(NotAntisymmetricError, match="antisymmetric.*antisymmetrize=True"):
        nash_averaging(win_rates)
    result = nash_averaging(win_rates, antisymmetrize=True)
    np.testing.assert_allclose(result.matrix, 0.3 * RPS, atol=1e-15)
    np.testing.assert_allclose(result.nash, np.full(3, 1 / 3), atol=1e-10)
    with pytest.raises(RatingsInputError, match="square"):
        nash_averaging(np.zeros((2, 3)))
    with pytest.raises(RatingsInputError, match="finite"):
        nash_averaging([[0.0, np.nan], [np.nan, 0.0]])
    assert issubclass(NotAntisymmetricError, ValueError)
