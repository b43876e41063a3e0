"""Ratings of a population of agents from a payoff (meta-game) table: alpha-rank and Nash averaging.

**alpha-rank** (Omidshafiei et al. 2019, "alpha-Rank: Multi-agent evaluation by evolution", Sci. Rep. 9,
9937; arXiv:1903.01373). Each of ``K`` populations holds ``m`` individuals; in the small-mutation limit a
population is almost always monomorphic, so the state is a pure (joint) strategy profile ``s``. From ``s`` a
mutant strategy ``tau`` appears in one population ``k`` (chosen with the others, uniformly over the
``sum_k (|S_k| - 1)`` single-population deviations), and takes over that population with the fixation
probability of the Moran process with Fermi (logistic) selection of intensity ``alpha``::

    rho = (1 + sum_{l=1}^{m-1} prod_{p=1}^{l} exp(-alpha (f_mut(p) - f_res(p))))^{-1},       (1)

where ``f_mut(p)``, ``f_res(p)`` are the fitnesses of a mutant and a resident when ``p`` individuals play
the mutant strategy. The Markov chain over profiles has ``C[s, s'] = eta * rho(s -> s')`` for the profiles
``s'`` one deviation away, ``eta = 1 / sum_k (|S_k| - 1)``, and ``C[s, s] = 1 - sum_{s' != s} C[s, s']``;
its stationary distribution ``pi`` is the alpha-rank score of each profile.

* Multi-population (the paper's eq. for ``K >= 2``): the fitness of population ``k`` at profile ``s`` is
  its payoff ``M_k(s)``, independent of ``p``, so (1) is the closed form
  ``rho = (1 - exp(-u)) / (1 - exp(-m u))``, ``u = alpha (M_k(s') - M_k(s))``, with the neutral value
  ``rho = 1/m`` at ``u = 0``.
* Single population (a symmetric game, ``M[i, j]`` = payoff of ``i`` against ``j``): by default the
  paper's population-dependent fitnesses
  ``f_tau(p) = ((p - 1) M[tau, tau] + (m - p) M[tau, sigma]) / (m - 1)``,
  ``f_sigma(p) = ((m - p - 1) M[sigma, sigma] + p M[sigma, tau]) / (m - 1)`` enter (1);
  ``local_selection=True`` uses OpenSpiel's "local selection model" instead (fitness against the
  current opponent only: ``u = alpha (M[tau, sigma] - M[sigma, tau])`` in the closed form).

Numerics: (1) is evaluated in log space, ``log rho = -logsumexp(0, -alpha S_1, ..., -alpha S_{m-1})`` with
the partial sums ``S_l = sum_{p<=l} (f_mut(p) - f_res(p))``, so no ``alpha`` overflows. The stationary
distribution solves ``pi C = pi, sum(pi) = 1`` by the Grassmann-Taksar-Heyman elimination (Gaussian
elimination on the linear system without subtractions, accurate for transition rates down to the
smallest floats), restricted to the chain's unique closed class; transitions that underflow to 0 can make
the chain reducible, and more than one closed class raises :class:`ReducibleChainError`.

``alpha = np.inf`` is the limit ``alpha -> infinity`` of (1): ``rho -> 1`` when every partial sum
``S_l > 0`` (a strictly better mutant in the constant-fitness cases), ``rho -> 1 / (1 + #{l: S_l = 0})``
when all ``S_l >= 0`` (``1/m`` for a neutral mutant), and ``rho -> 0`` otherwise. When that limiting chain
has one closed class (one sink component of the response graph, e.g. a strictly dominant strategy), its
stationary distribution is the exact limit of ``pi(alpha)``. When it has several, the limit depends on how
fast the vanishing transitions vanish; ``inf_alpha_eps > 0`` then gives the perturbed chain of OpenSpiel's
infinite-alpha mode (Rowland et al. 2019, "Multiagent evaluation under incomplete information"): a
transition that the limit would take with probability 1 is taken with ``1 - eps``, one it would never
take with ``eps``.

Conventions shared with OpenSpiel's ``open_spiel.python.egt.alpharank.compute``: multi-population tables
are ``K`` arrays of shape ``(|S_1|, ..., |S_K|)`` with ``tables[k][s]`` the payoff of population ``k`` at
profile ``s``; profiles are numbered in C order (the last population's strategy varies fastest). The
differences: OpenSpiel defaults to the local selection model for single-population games (here it is
opt-in) and gives neutral transitions probability ``1/2`` in its infinite-alpha mode (here ``1/m``, the
limit of (1)); its stationary distribution comes from an eigen-decomposition.

**Nash averaging** (Balduzzi, Tuyls, Perolat, Graepel 2018, "Re-evaluating evaluation", NeurIPS). For an
antisymmetric evaluation matrix ``A`` (``A = -A^T``: ``A[i, j]`` is how much agent ``i`` beats ``j``, e.g.
``M - M^T`` or the log-odds of win rates), play the symmetric zero-sum game ``A`` (value 0). Its
equilibria are the polytope ``{p in simplex : (A p)_j <= 0 for all j}``; the maximum-entropy one
``p*`` is unique (entropy is strictly concave), and the Nash average of agent ``i`` is ``(A p*)_i``, its
payoff against ``p*``: 0 for the agents in the support of an equilibrium, negative for the others.
Adding an exact copy of an agent splits its mass equally between the copies and leaves every rating
unchanged when the equilibrium is unique (generic ``A``); with a continuum of equilibria the copy tilts
the maximum-entropy choice (the split adds ``p_k log 2`` to the entropy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog, minimize
from scipy.sparse.csgraph import connected_components
from scipy.special import logsumexp, xlogy

from aligngames.solvers.equilibrium.nash import solve_zero_sum
from aligngames.solvers.inputs import float_array

#: Relative tolerance (times the largest payoff magnitude, at least 1) below which two fitnesses tie.
TIE_TOLERANCE = 1e-12
#: ``max |A + A^T|`` allowed, relative to ``max(1, max |A|)``, for a matrix to count as antisymmetric.
ANTISYMMETRY_TOLERANCE = 1e-9


class RatingsInputError(ValueError):
    """A payoff table or parameter given to :func:`alpha_rank` or :func:`nash_averaging` is not usable."""


class NotAntisymmetricError(RatingsInputError):
    """:func:`nash_averaging` was given a matrix that is not antisymmetric (and ``antisymmetrize=False``)."""


class ReducibleChainError(ValueError):
    """The alpha-rank chain has several closed classes, so its stationary distribution is not unique."""


@dataclass(frozen=True)
class AlphaRankResult:
    """The alpha-rank of every pure (joint) strategy profile.

    Attributes:
        stationary: the stationary distribution ``pi`` over profiles, shape ``(num_profiles,)``, profiles in
            C order of ``num_strategies``.
        ranking: profile indices by decreasing mass; masses within ``1e-12`` tie and keep index order.
        marginals: per population, the mass of each of its strategies (``pi`` summed over the others).
        transition: the Markov transition matrix ``C`` (rows sum to 1), ``(num_profiles, num_profiles)``.
        fixation: ``rho[s, s']`` for the profiles one deviation apart (0 elsewhere).
        profiles: the strategy of each population in each profile, ``(num_profiles, K)``.
        num_strategies: ``(|S_1|, ..., |S_K|)``.
        alpha, population_size: the parameters used.
    """

    stationary: np.ndarray
    ranking: np.ndarray
    marginals: tuple[np.ndarray, ...]
    transition: np.ndarray
    fixation: np.ndarray
    profiles: np.ndarray
    num_strategies: tuple[int, ...]
    alpha: float
    population_size: int


@dataclass(frozen=True)
class NashAverage:
    """Nash averaging of an antisymmetric evaluation matrix.

    Attributes:
        nash: the maximum-entropy Nash equilibrium ``p*`` of the symmetric zero-sum game, shape ``(n,)``.
        ratings: ``A p*``: each agent's payoff against ``p*`` (0 in the support, negative outside).
        matrix: the antisymmetric matrix ``A`` used.
        lp_equilibrium: the equilibrium the LP found first (any point of the equilibrium polytope).
        value: the game value from the LP (0 up to rounding, as ``A`` is antisymmetric).
        entropy: the Shannon entropy of ``nash`` in nats.
    """

    nash: np.ndarray
    ratings: np.ndarray
    matrix: np.ndarray
    lp_equilibrium: np.ndarray
    value: float
    entropy: float


# ----------------------------------------------------------------------------------------------- alpha-rank


def alpha_rank(payoffs, alpha: float = 100.0, population_size: int = 50, *, local_selection: bool = False,
               inf_alpha_eps: float = 0.0) -> AlphaRankResult:
    """alpha-rank (Omidshafiei et al. 2019) of a single- or multi-population game (module docstring).

    Args:
        payoffs: a square matrix ``M`` (``M[i, j]`` = payoff of strategy ``i`` against ``j``: one
            population, a symmetric game), or ``K`` tables of shape ``(|S_1|, ..., |S_K|)``, one per
            population (``K >= 2``; e.g. ``[A, B]`` for a bimatrix game). ``[M]`` also means one population.
        alpha: selection intensity ``>= 0``; ``np.inf`` for the limit ``alpha -> infinity``.
        population_size: ``m >= 2`` individuals per population.
        local_selection: single population only: fitness against the current opponent only (OpenSpiel's
            default) instead of the paper's fitness against the whole population.
        inf_alpha_eps: with ``alpha=np.inf``, the perturbation ``eps`` in ``[0, 1)`` of OpenSpiel's
            infinite-alpha chain; 0 (the default) for the exact limit.

    Raises:
        RatingsInputError: on a bad table (not square, NaN/inf, mismatched shapes) or parameter.
        ReducibleChainError: if the chain (with ``alpha=np.inf`` and ``inf_alpha_eps=0``, or a finite
            ``alpha`` so large that rates underflow) has more than one closed class.
    """
    tables, single = _payoff_tables(payoffs)
    m = _check_parameters(alpha, population_size, inf_alpha_eps, local_selection, single)
    alpha = float(alpha)
    num_strategies = tables[0].shape if not single else (tables[0].shape[0],)
    scale = max(1.0, max(float(np.abs(table).max()) for table in tables))
    if single:
        fixation = _single_population_fixation(tables[0], alpha, m, local_selection, scale)
    else:
        fixation = _multi_population_fixation(tables, alpha, m, scale)
    eta = 1.0 / sum(size - 1 for size in num_strategies) if fixation.shape[0] > 1 else 0.0
    rates = fixation
    if np.isinf(alpha) and inf_alpha_eps > 0.0:
        rates = _perturb(fixation, _neighbours(num_strategies), inf_alpha_eps)
    transition = eta * rates
    np.fill_diagonal(transition, 0.0)
    np.fill_diagonal(transition, 1.0 - transition.sum(axis=1))
    stationary = stationary_distribution(transition)
    profiles = np.array(np.unravel_index(np.arange(stationary.size), num_strategies)).T
    return AlphaRankResult(stationary, rank_order(stationary), _marginals(stationary, num_strategies), transition,
                           fixation, profiles,
                           tuple(int(size) for size in num_strategies), alpha, m)


def _marginals(stationary: np.ndarray, num_strategies: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Per population ``k``, the stationary mass of each of its strategies (summed over the others)."""
    grid = stationary.reshape(num_strategies)
    axes = range(grid.ndim)
    return tuple(grid.sum(axis=tuple(a for a in axes if a != k)) for k in axes)


def rank_order(masses: np.ndarray, tie: float = 1e-12) -> np.ndarray:
    """Indices by decreasing mass; masses within ``tie`` of each other (on a grid of step ``tie``) keep
    their index order."""
    return np.argsort(-np.round(np.asarray(masses) / tie), kind="stable")


def fixation_probability(partial_sums: np.ndarray, alpha: float, scale: float = 1.0) -> np.ndarray:
    """Equation (1) from the partial sums ``S_l`` (last axis, ``l = 1 .. m-1``), in log space.

    ``rho = 1 / (1 + sum_l exp(-alpha S_l)) = exp(-logsumexp(0, -alpha S_1, ..., -alpha S_{m-1}))``. With
    ``alpha = inf``: 1 if every ``S_l > 0``, ``1 / (1 + #{S_l = 0})`` if all ``S_l >= 0``, else 0; ``S_l``
    within ``TIE_TOLERANCE * scale`` of 0 counts as 0.
    """
    sums = np.asarray(partial_sums, dtype=np.float64)
    if np.isinf(alpha):
        zero = np.abs(sums) <= TIE_TOLERANCE * scale
        negative = (sums < 0) & ~zero
        return np.where(negative.any(axis=-1), 0.0, 1.0 / (1.0 + zero.sum(axis=-1)))
    exponents = np.concatenate([np.zeros((*sums.shape[:-1], 1)), -alpha * sums], axis=-1)
    return np.exp(-logsumexp(exponents, axis=-1))


def _constant_difference_sums(difference: np.ndarray, m: int) -> np.ndarray:
    """``S_l = l * difference`` for ``l = 1 .. m-1`` (fitnesses that do not depend on ``p``)."""
    return np.asarray(difference)[..., None] * np.arange(1, m)


def _single_population_fixation(matrix: np.ndarray, alpha: float, m: int, local: bool, scale: float) -> np.ndarray:
    """``rho[sigma, tau]``: mutant ``tau`` fixing in a population of ``sigma`` (diagonal 0)."""
    n = matrix.shape[0]
    if local:
        sums = _constant_difference_sums(matrix.T - matrix, m)  # [sigma, tau] -> M[tau, sigma] - M[sigma, tau]
    else:
        p = np.arange(1, m)
        diag = np.diag(matrix)
        # f_tau(p) - f_sigma(p) for resident sigma (axis 0), mutant tau (axis 1), p mutants (axis 2)
        mutant = (p - 1) * diag[None, :, None] + (m - p) * matrix.T[:, :, None]
        resident = (m - p - 1) * diag[:, None, None] + p * matrix[:, :, None]
        sums = np.cumsum((mutant - resident) / (m - 1), axis=-1)
    rho = fixation_probability(sums, alpha, scale)
    rho[np.arange(n), np.arange(n)] = 0.0
    return rho


def _neighbours(num_strategies: tuple[int, ...]) -> np.ndarray:
    """Boolean ``(P, P)``: profiles differing in exactly one population's strategy."""
    profiles = np.array(np.unravel_index(np.arange(int(np.prod(num_strategies))), num_strategies)).T
    return (profiles[:, None, :] != profiles[None, :, :]).sum(axis=-1) == 1


def _multi_population_fixation(tables: list[np.ndarray], alpha: float, m: int, scale: float) -> np.ndarray:
    """``rho[s, s']`` for profiles ``s'`` that change one population's strategy (0 elsewhere)."""
    shape = tables[0].shape
    size = int(np.prod(shape))
    index = np.arange(size).reshape(shape)
    rho = np.zeros((size, size))
    for k, table in enumerate(tables):
        for new in range(shape[k]):
            target = np.broadcast_to(np.expand_dims(np.take(index, new, axis=k), k), shape)
            gain = np.broadcast_to(np.expand_dims(np.take(table, new, axis=k), k), shape) - table
            moves = target != index
            values = fixation_probability(_constant_difference_sums(gain[moves], m), alpha, scale)
            rho[index[moves], target[moves]] = values
    return rho


def _perturb(fixation: np.ndarray, neighbours: np.ndarray, eps: float) -> np.ndarray:
    """OpenSpiel's infinite-alpha perturbation: limit 1 -> ``1 - eps``, limit 0 -> ``eps`` (neutral kept)."""
    rates = fixation.copy()
    rates[neighbours & (fixation >= 1.0)] = 1.0 - eps
    rates[neighbours & (fixation <= 0.0)] = eps
    return rates


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    """The stationary distribution ``pi`` (``pi C = pi``, ``sum pi = 1``) of a stochastic matrix whose
    transition graph has exactly one closed class (mass 0 on the transient states).

    Raises:
        ReducibleChainError: with several closed classes (the distribution is not unique).
    """
    size = transition.shape[0]
    if size == 1:
        return np.ones(1)
    graph = (transition > 0.0) & ~np.eye(size, dtype=bool)
    count, labels = connected_components(graph, directed=True, connection="strong")
    leaves = np.array([graph[labels == c][:, labels != c].any() for c in range(count)])
    closed = np.flatnonzero(~leaves)
    if closed.size != 1:
        raise ReducibleChainError(
            f"the alpha-rank chain has {closed.size} closed classes (sink components of the response graph), so "
            "its stationary distribution is not unique: use a smaller finite alpha, or alpha=np.inf with "
            "inf_alpha_eps > 0")
    members = np.flatnonzero(labels == closed[0])
    chain = transition[np.ix_(members, members)]
    # the elimination keeps the first state and scales every other by its mass relative to it: put the most
    # absorbing state (largest self-transition) first, so the relative masses stay small instead of overflowing
    order = np.argsort(-np.diag(chain), kind="stable")
    pi = np.zeros(size)
    pi[members[order]] = _gth(chain[np.ix_(order, order)])
    return pi


def _gth(chain: np.ndarray) -> np.ndarray:
    """Grassmann-Taksar-Heyman elimination: the stationary distribution of an irreducible chain.

    State ``k`` is censored out (``a[i, j] += a[i, k] a[k, j] / sum_{j<k} a[k, j]``) from the last to the
    first; back substitution ``x_k = sum_{i<k} x_i a[i, k]`` then rebuilds ``pi``. Only sums and products of
    non-negative numbers occur (the diagonal is never used), so no cancellation.
    """
    a = np.array(chain, dtype=np.float64)
    size = a.shape[0]
    for k in range(size - 1, 0, -1):
        out = a[k, :k].sum()
        a[:k, k] /= out
        a[:k, :k] += np.outer(a[:k, k], a[k, :k])
    x = np.zeros(size)
    x[0] = 1.0
    for k in range(1, size):
        x[k] = x[:k] @ a[:k, k]
        if x[k] > 1e150:  # rescale before a later product overflows (only ratios matter)
            x[:k + 1] /= x[k]
    return x / x.sum()


def _payoff_tables(payoffs) -> tuple[list[np.ndarray], bool]:
    """The tables as float arrays and whether the game is single-population; named errors otherwise."""
    expected = "a square payoff matrix (n, n) or K payoff tables of shape (|S_1|, ..., |S_K|)"
    if isinstance(payoffs, list | tuple) and len(payoffs) > 0 and _ragged(payoffs):
        return _multi([_float(table, f"payoffs[{k}]", "a payoff table") for k, table in enumerate(payoffs)]), False
    array = _float(payoffs, "payoffs", expected)
    if array.ndim < 2:
        raise RatingsInputError(f"payoffs must be {expected}, got shape {array.shape}")
    if array.ndim == 2:
        return [_square(array)], True
    if array.ndim == 3 and array.shape[0] == 1:  # [M]: OpenSpiel's single-population form
        return [_square(array[0])], True
    return _multi(list(array)), False


def _ragged(value) -> bool:
    """Whether numpy refuses ``value`` as one regular array (tables of different shapes)."""
    try:
        np.asarray(value)
    except ValueError:
        return True
    return False


def _float(value, name: str, expected: str) -> np.ndarray:
    try:
        return float_array(value, name, expected)
    except ValueError as error:
        raise RatingsInputError(str(error)) from None


def _square(matrix: np.ndarray) -> np.ndarray:
    if matrix.shape[0] != matrix.shape[1]:
        raise RatingsInputError(f"payoffs must be a square matrix for a single population (M[i, j] = payoff of "
                                f"strategy i against j), got shape {matrix.shape}")
    return matrix


def _multi(tables: list[np.ndarray]) -> list[np.ndarray]:
    count = len(tables)
    for k, table in enumerate(tables):
        if table.ndim != count or table.shape != tables[0].shape:
            raise RatingsInputError(
                f"payoffs: with {count} populations every table must have {count} axes and the same shape "
                f"(|S_1|, ..., |S_{count}|); payoffs[{k}] has shape {table.shape}, payoffs[0] {tables[0].shape}")
    return tables


def _check_parameters(alpha: float, population_size: int, eps: float, local: bool, single: bool) -> int:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.integer | np.floating) or np.isnan(alpha) \
            or alpha < 0 or alpha == -np.inf:
        raise RatingsInputError(f"alpha must be a number >= 0 (np.inf for the limit), got {alpha!r}")
    if isinstance(population_size, bool) or not isinstance(population_size, int | np.integer) or population_size < 2:
        raise RatingsInputError(f"population_size must be an integer >= 2, got {population_size!r}")
    if not (isinstance(eps, int | float | np.floating) and 0.0 <= eps < 1.0):
        raise RatingsInputError(f"inf_alpha_eps must be in [0, 1), got {eps!r}")
    if eps > 0.0 and not np.isinf(alpha):
        raise RatingsInputError(f"inf_alpha_eps applies only with alpha=np.inf, got alpha={alpha!r}")
    if local and not single:
        raise RatingsInputError("local_selection applies only to a single population (one square matrix)")
    return int(population_size)


# ------------------------------------------------------------------------------------------- Nash averaging


def nash_averaging(payoffs, *, antisymmetrize: bool = False) -> NashAverage:
    """Nash averaging (Balduzzi et al. 2018) of an antisymmetric evaluation matrix (module docstring).

    The maximum-entropy Nash is found in three convex steps: (i) the LP (HiGHS, via
    :func:`~aligngames.solvers.equilibrium.nash.solve_zero_sum`) for the value and one equilibrium;
    (ii) one more LP over the cone ``{y >= 0 : A y <= 0}`` for a relative-interior point of the
    equilibrium polytope, which gives the agents in the support of some equilibrium and the constraints
    ``(A p)_j <= 0`` that bind at every equilibrium; (iii) entropy maximised by SLSQP on that face
    (the support as variables, the always-binding constraints as equalities, the others as inequalities),
    started from the relative-interior point, then projected back onto the equalities.

    Args:
        payoffs: an ``(n, n)`` antisymmetric matrix (``A[i, j] = -A[j, i]``).
        antisymmetrize: use ``(M - M^T) / 2`` instead of refusing a matrix that is not antisymmetric
            (for a constant-sum ``M`` that is ``M`` minus half the constant).

    Raises:
        RatingsInputError: a matrix that is not square or has NaN/inf entries.
        NotAntisymmetricError: a matrix that is not antisymmetric, unless ``antisymmetrize=True``.
    """
    matrix = _square(_float(payoffs, "payoffs", "an antisymmetric evaluation matrix (n, n)"))
    if matrix.ndim != 2:
        raise RatingsInputError(f"payoffs must be an (n, n) matrix, got shape {matrix.shape}")
    matrix = _antisymmetric(matrix, antisymmetrize)
    n = matrix.shape[0]
    if not np.any(matrix):
        uniform = np.full(n, 1.0 / n)
        return NashAverage(uniform, np.zeros(n), matrix, uniform, 0.0, float(np.log(n)))
    solution = solve_zero_sum(matrix)
    support, binding, interior = _equilibrium_face(matrix)
    nash = _max_entropy_on_face(matrix, support, binding, interior)
    return NashAverage(nash, matrix @ nash, matrix, solution.row, float(solution.value), entropy(nash))


def entropy(p: np.ndarray) -> float:
    """Shannon entropy ``-sum p log p`` in nats (``0 log 0 = 0``)."""
    return float(0.0 - xlogy(p, p).sum()) + 0.0


def _antisymmetric(matrix: np.ndarray, antisymmetrize: bool) -> np.ndarray:
    if antisymmetrize:
        return (matrix - matrix.T) / 2.0
    error = float(np.abs(matrix + matrix.T).max())
    if error > ANTISYMMETRY_TOLERANCE * max(1.0, float(np.abs(matrix).max())):
        i, j = np.unravel_index(int(np.argmax(np.abs(matrix + matrix.T))), matrix.shape)
        raise NotAntisymmetricError(
            f"payoffs must be antisymmetric (A[i, j] = -A[j, i]) for Nash averaging: A[{i}, {j}] + A[{j}, {i}] = "
            f"{matrix[i, j] + matrix[j, i]:.3g}; pass antisymmetrize=True to use (M - M^T) / 2, or give M - M^T "
            "or the log-odds of win rates")
    return (matrix - matrix.T) / 2.0  # exact antisymmetry, removing rounding


def _equilibrium_face(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The support of the equilibrium polytope, its always-binding constraints, a relative-interior point.

    LP over the cone ``{y >= 0 : A y <= 0}`` (the polytope without ``sum = 1``): maximise
    ``sum t + sum w`` with ``0 <= t <= y``, ``0 <= w <= -(A y)``, ``t, w <= 1``. The cone is closed under
    sums and scaling, so at the optimum ``t_i = 1`` exactly for the agents in the support of some
    equilibrium and ``w_j = 1`` for the constraints slack at some equilibrium; ``y / sum(y)`` is then in
    the relative interior of the polytope.
    """
    n = matrix.shape[0]
    eye, zero = np.eye(n), np.zeros((n, n))
    a_ub = np.block([[matrix, zero, eye], [-eye, eye, zero]])  # A y + w <= 0 ; t - y <= 0
    cost = np.concatenate([np.zeros(n), -np.ones(2 * n)])
    bounds = [(0, None)] * n + [(0, 1)] * (2 * n)
    result = linprog(cost, A_ub=a_ub, b_ub=np.zeros(2 * n), bounds=bounds, method="highs")
    if result.status != 0:
        raise RuntimeError(f"the equilibrium-face LP failed: {result.message}")
    y, t, w = result.x[:n], result.x[n:2 * n], result.x[2 * n:]
    return t > 0.5, w <= 0.5, y / y.sum()


def _max_entropy_on_face(matrix: np.ndarray, support: np.ndarray, binding: np.ndarray,
                         start: np.ndarray) -> np.ndarray:
    """Maximise ``-sum p log p`` over ``p`` on the support with ``sum p = 1``, ``(A p)_j = 0`` for the
    always-binding ``j`` and ``(A p)_j <= 0`` for the others.

    The equalities are solved exactly: ``q = q0 + N z`` with ``q0`` their least-norm solution and ``N`` an
    orthonormal basis of their null space (redundant equalities drop out); SLSQP maximises the entropy over
    ``z`` subject to ``q >= 0`` and the inequalities, from the relative-interior point ``start``, and
    Newton steps polish the answer when no inequality binds there.
    """
    columns = matrix[:, support]
    equalities = np.vstack([np.ones((1, int(support.sum()))), columns[binding]])
    targets = np.concatenate([[1.0], np.zeros(int(binding.sum()))])
    base = np.linalg.lstsq(equalities, targets, rcond=None)[0]
    basis = null_space(equalities)
    q = base
    if basis.shape[1]:
        slack = columns[~binding]
        inequality = np.vstack([basis, -(slack @ basis)])  # q >= 0 and -(A q)_j >= 0, as G z + h >= 0
        offset = np.concatenate([base, -(slack @ base)])
        result = minimize(_negative_entropy, basis.T @ (start[support] - base), args=(base, basis),
                          jac=_negative_entropy_gradient, method="SLSQP",
                          constraints=[{"type": "ineq", "fun": lambda z: inequality @ z + offset,
                                        "jac": lambda z: inequality}],
                          options={"ftol": 1e-15, "maxiter": 1000})
        q = base + basis @ _newton_polish(result.x, base, basis, inequality, offset)
    q = np.clip(q, 0.0, None)
    p = np.zeros(matrix.shape[0])
    p[support] = q / q.sum()
    return p


def _negative_entropy(z: np.ndarray, base: np.ndarray, basis: np.ndarray) -> float:
    q = np.maximum(base + basis @ z, 0.0)
    return float(xlogy(q, q).sum())


def _negative_entropy_gradient(z: np.ndarray, base: np.ndarray, basis: np.ndarray) -> np.ndarray:
    q = base + basis @ z
    return basis.T @ (np.log(np.maximum(q, 1e-300)) + 1.0)


def _newton_polish(z: np.ndarray, base: np.ndarray, basis: np.ndarray, inequality: np.ndarray,
                   offset: np.ndarray, steps: int = 20) -> np.ndarray:
    """Damped Newton steps on the negative entropy in ``z`` (Hessian ``N^T diag(1/q) N``), kept only while
    every inequality stays strictly slack; returns ``z`` unchanged if one binds at the SLSQP answer."""
    margin = 1e-12 * max(1.0, float(np.abs(offset).max()))
    if (inequality @ z + offset).min() <= margin:
        return z
    for _ in range(steps):
        q = base + basis @ z
        gradient = basis.T @ (np.log(q) + 1.0)
        hessian = basis.T @ (basis / q[:, None])
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-6 and (inequality @ (z - scale * step) + offset).min() <= margin:
            scale /= 2.0
        if scale <= 1e-6:
            break
        z = z - scale * step
        if np.abs(scale * step).max() < 1e-15:
            break
    return z
