"""Voting rules, maximal lotteries and RLCHF aggregation of annotator populations.

Conitzer et al. 2024 ("Social Choice Should Guide AI Alignment") argue that the feedback behind
RLHF is an election: many annotators rank answers, and some rule turns their rankings into one
training signal. This module runs the classic rules on such elections, built on ``pref_voting``
(Holliday & Pacuit) for the margin rules and the maximal lottery (plurality, instant runoff and
Borda are a few exact sums here, tested against pref_voting):

- an :class:`Election` holds the margin matrix ``M[a, b] = w(a > b) - w(b > a)`` (the weight of
  the voters who rank ``a`` above ``b`` minus the reverse) and, when it came from rankings, the
  rankings and their counts;
- Copeland (pairwise wins minus losses), minimax / Simpson-Kramer (smallest largest defeat),
  ranked pairs, Kemeny-Young, Schulze (beat path), Borda, plurality, instant runoff: each returns
  its winners as a ``frozenset`` of candidate indices; a tie is the whole tied set, never one
  member picked silently. Ties are exact: the rules compare margins and scores in rational
  arithmetic (:attr:`Election.exact_margins`, weights from :func:`exact_counts`), so voters of
  weight 0.1 and 0.2 tie with one of weight 0.3, as they do on paper;
- the maximal lottery (Fishburn 1984): a distribution ``p`` with ``p^T M >= 0``, i.e. the Nash
  equilibrium of the symmetric zero-sum game with payoff ``M``, which is the equilibrium of
  ``preference_game_v0``. It is unique when every margin is odd (an odd number of voters with
  strict rankings); otherwise the maximal lotteries form a polytope, :func:`maximal_lottery`
  returns pref_voting's LP vertex, logs a warning, and :func:`maximal_lottery_bounds` gives each
  candidate's range. Not to be confused with Simpson-Kramer minimax: the "minimax winner" of
  NLHF/SPO is the maximal lottery.

RLCHF (reinforcement learning from collective human feedback): aggregate annotator groups with a
social welfare function into one ranking, then train on its pairwise labels.
:func:`rlchf` returns the social ranking, the labels and the preference matrix
``P[i, j] = 1 / 0.5 / 0`` (i above / tied with / below j) that ``preference_game_v0`` accepts as
``mode="tabular", preferences=P, answers=names``; :func:`compare_rules` runs several rules on one
population and reports who wins and how each group fares.

CLI: ``aligngames solve social_choice --population disagree`` prints the comparison table and the
RLCHF matrix; ``--rankings "0>1>2*4" "1>2>0*3"`` runs your own profile.
"""

from __future__ import annotations

import itertools
import logging
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
from scipy.optimize import linprog

from aligngames.envs.preference_game import scenarios
from aligngames.preferences import AnnotatorGroup, check_preference_matrix, population_preferences
from aligngames.solvers.inputs import float_array

log = logging.getLogger(__name__)

#: Margins are rounded to this many decimals so float noise from weighted populations never
#: turns a true pairwise tie into a win.
MARGIN_DECIMALS = 9

#: A lottery must satisfy ``p^T M >= -LOTTERY_TOLERANCE * max|M|`` to count as maximal.
LOTTERY_TOLERANCE = 1e-7


# --- elections --------------------------------------------------------------------------------

def _check_ranking(ranking: Sequence[int], num_candidates: int, where: str) -> tuple[int, ...]:
    values = tuple(int(c) for c in ranking if isinstance(c, numbers.Integral))  # 1.5 or "a" fail the check below
    if sorted(values) != list(range(num_candidates)):
        raise ValueError(
            f"{where}: a ranking must list each of the {num_candidates} candidates 0..{num_candidates - 1} "
            f"exactly once (best first), got {list(ranking)}"
        )
    return values


def margin_matrix(rankings: Sequence[Sequence[int]], counts: Sequence[float] | None = None,
                  num_candidates: int | None = None) -> np.ndarray:
    """``M[a, b] = sum_r counts[r] * ([a above b in r] - [b above a in r])``, shape ``(m, m)``.

    Rankings are strict and complete: each lists the candidates ``0..m-1`` best first. Summed
    exactly (:func:`exact_counts`), then returned as floats.
    """
    if not rankings:
        raise ValueError("an election needs at least one ranking")
    size = len(rankings[0]) if num_candidates is None else num_candidates
    orders = [_check_ranking(ranking, size, f"ranking {index}") for index, ranking in enumerate(rankings)]
    return _exact_margins(orders, exact_counts(counts, len(orders)), size).astype(np.float64)


def exact_counts(counts: Sequence[float] | None, num_rankings: int) -> tuple[Fraction, ...]:
    """The rankings' weights as exact fractions (all 1 when ``counts`` is None).

    Integers, fractions and decimals are kept exactly; a float is read as the shortest decimal that
    prints as it (``Fraction(repr(x))``: ``0.1`` is 1/10), the number its writer meant, so weights
    0.1 + 0.2 tie with 0.3. The float's exact binary value (``Fraction(0.1)``) would keep the rounding
    that makes ``0.1 + 0.2 > 0.3``.
    """
    if counts is None:
        return (Fraction(1),) * num_rankings
    values = float_array(counts, "counts", f"one weight per ranking ({num_rankings} rankings)", ndim=1)
    if values.shape != (num_rankings,):
        raise ValueError(f"counts must hold one weight per ranking: {num_rankings} rankings but {values.size} counts")
    if np.any(values < 0) or not values.sum() > 0:
        raise ValueError(f"counts must be >= 0 and not all 0, got {values.tolist()}")
    return tuple(Fraction(count) if isinstance(count, numbers.Rational | Decimal) else Fraction(repr(float(count)))
                 for count in counts)


def _exact_margins(orders: Sequence[tuple[int, ...]], weights: Sequence[Fraction], size: int) -> np.ndarray:
    """:func:`margin_matrix` in rational arithmetic: an ``(m, m)`` object array of fractions."""
    margins = np.full((size, size), Fraction(0), dtype=object)
    for order, weight in zip(orders, weights):
        position = np.empty(size, dtype=np.int64)
        position[list(order)] = np.arange(size)  # position[c] = rank of candidate c (0 = best)
        above = (position[:, None] < position[None, :]).astype(np.int64)  # (m, m): a above b
        margins += weight * (above - above.T)
    return margins


@dataclass(frozen=True)
class Election:
    """The data every rule here reads.

    Attributes:
        candidates: candidate names (index ``i`` is ``candidates[i]``).
        margins: ``(m, m)`` skew-symmetric ``M[a, b] = w(a > b) - w(b > a)``, rounded to
            :data:`MARGIN_DECIMALS` decimals.
        total_weight: the voters' total weight (``sum(counts)``; ``num_voters`` for a matrix).
        rankings: the strict rankings (best first) when the election came from rankings, else empty;
            plurality and instant runoff need them.
        counts: the weight of each ranking (same length as ``rankings``), as exact fractions
            (:func:`exact_counts`).
    """

    candidates: tuple[str, ...]
    margins: np.ndarray
    total_weight: float
    rankings: tuple[tuple[int, ...], ...] = ()
    counts: tuple[Fraction, ...] = ()

    def __post_init__(self) -> None:
        if self.rankings:
            object.__setattr__(self, "counts", exact_counts(self.counts, len(self.rankings)))
        margins = np.round(np.asarray(self.margins, dtype=np.float64), MARGIN_DECIMALS) + 0.0  # +0.0: no -0.0
        size = len(self.candidates)
        if margins.shape != (size, size):
            raise ValueError(f"margins must have shape ({size}, {size}) for {size} candidates, got {margins.shape}")
        if not np.allclose(margins, -margins.T, atol=10.0 ** -MARGIN_DECIMALS):
            raise ValueError("margins must be skew-symmetric: M[a, b] = -M[b, a]")
        object.__setattr__(self, "margins", margins)
        if len(self.rankings) != len(self.counts):
            raise ValueError(f"{len(self.rankings)} rankings but {len(self.counts)} counts")

    @property
    def num_candidates(self) -> int:
        return len(self.candidates)

    @cached_property
    def exact_margins(self) -> np.ndarray:
        """``M`` in rational arithmetic, an ``(m, m)`` object array of fractions: summed from the
        rankings and their weights when there are rankings, else :attr:`margins` read as decimals."""
        if self.rankings:
            return _exact_margins(self.rankings, self.counts, self.num_candidates)
        return np.array([[Fraction(repr(float(m))) for m in row] for row in self.margins], dtype=object)

    @cached_property
    def exact_total_weight(self) -> Fraction:
        """:attr:`total_weight` in rational arithmetic."""
        return sum(self.counts, Fraction(0)) if self.rankings else Fraction(repr(float(self.total_weight)))

    @classmethod
    def from_rankings(cls, rankings: Sequence[Sequence[int]], counts: Sequence[float] | None = None,
                      candidates: Sequence[str] | None = None) -> Election:
        """An election from strict rankings (each lists candidate indices best first) with weights."""
        if not rankings:
            raise ValueError("an election needs at least one ranking")
        size = len(candidates) if candidates is not None else len(rankings[0])
        names = tuple(candidates) if candidates is not None else tuple(str(c) for c in range(size))
        weights = exact_counts(counts, len(rankings))
        orders = tuple(_check_ranking(r, size, f"ranking {i}") for i, r in enumerate(rankings))
        margins = _exact_margins(orders, weights, size).astype(np.float64)
        return cls(names, margins, float(sum(weights)), orders, weights)

    @classmethod
    def from_preferences(cls, preferences: np.ndarray, candidates: Sequence[str] | None = None,
                         num_voters: float = 1.0) -> Election:
        """An election from a pairwise preference matrix ``P`` (``P[i, j]`` = share preferring i to j):
        ``M = num_voters * (2P - 1)``. No rankings, so only margin rules and Borda apply."""
        matrix = check_preference_matrix(float_array(preferences, "preferences", "a square preference matrix", ndim=2))
        names = tuple(candidates) if candidates is not None else tuple(str(c) for c in range(len(matrix)))
        if len(names) != len(matrix):
            raise ValueError(f"{len(names)} candidate names for a {len(matrix)}x{len(matrix)} preference matrix")
        if not num_voters > 0:
            raise ValueError(f"num_voters must be > 0, got {num_voters}")
        return cls(names, num_voters * (2.0 * matrix - 1.0), float(num_voters))

    @classmethod
    def from_groups(cls, groups: Sequence[AnnotatorGroup], candidates: Sequence[str] | None = None) -> Election:
        """An election from annotator groups (weights are kept as given, not normalised).

        Deterministic groups with strict utilities become weighted rankings; any stochastic
        (finite beta) group or tied utilities make it a margins-only election from
        ``population_preferences``.
        """
        if not groups:
            raise ValueError("a population needs at least one annotator group")
        strict = all(np.isinf(g.beta) and len(set(g.utilities)) == len(g.utilities) for g in groups)
        if strict:
            return cls.from_rankings([g.ranking() for g in groups], [g.weight for g in groups], candidates)
        total = float(sum(g.weight for g in groups))
        return cls.from_preferences(population_preferences(groups), candidates, num_voters=total)

    def preferences(self) -> np.ndarray:
        """The pairwise preference matrix ``P = (M / total_weight + 1) / 2``."""
        return (self.margins / self.total_weight + 1.0) / 2.0


ProfileLike = Election | Sequence[Sequence[int]]


def as_election(profile: ProfileLike, counts: Sequence[float] | None = None) -> Election:
    """``profile`` itself if it is an :class:`Election` (then ``counts`` must be None), else the
    election of the rankings ``profile`` with weights ``counts``."""
    if isinstance(profile, Election):
        if counts is not None:
            raise ValueError("counts go with a list of rankings; an Election already carries its weights")
        return profile
    return Election.from_rankings(profile, counts)


# --- pref_voting bridge -----------------------------------------------------------------------

def _graph(margins) -> Any:
    """A pref_voting ``MarginGraph`` over candidates ``0..m-1`` with the positive entries of ``margins``."""
    from pref_voting.weighted_majority_graphs import MarginGraph

    size = len(margins)
    edges = [(a, b, margins[a][b]) for a in range(size) for b in range(size) if margins[a][b] > 0]
    return MarginGraph(list(range(size)), edges)


def _margin_graph(election: Election) -> Any:
    """The election's exact margins as a ``MarginGraph``, scaled by their common denominator to Python
    integers: every margin rule elects the same candidates after a positive scaling, and pref_voting's
    sums (Kemeny-Young) and comparisons stay exact and fast."""
    exact = election.exact_margins
    denominator = math.lcm(*(margin.denominator for margin in exact.flat))
    return _graph([[int(margin * denominator) for margin in row] for row in exact])


def _require_rankings(election: Election, rule: str) -> None:
    if not election.rankings:
        raise ValueError(f"{rule} needs the voters' rankings; this election was built from a preference "
                         f"matrix (margins only). Use a margin rule (copeland, minimax, ranked_pairs, "
                         f"schulze, kemeny_young, maximal_lottery) or borda")


def _pref_voting_method(name: str):
    from pref_voting import voting_methods

    return getattr(voting_methods, name)


#: Up to this many candidates, ranked pairs enumerates candidate orders (``m!``, pref_voting's
#: "from_stacks": the winners are the tops of stacks, Zavist & Tideman 1989) instead of edge
#: tie-breaking orders, which grow as the factorial of the number of equal margins and do not
#: finish on small elections with many pairwise ties.
RANKED_PAIRS_STACK_LIMIT = 8


def _winners(method_name: str, election: Election, candidates: Sequence[int] | None = None) -> frozenset[int]:
    """The winners of pref_voting's margin rule ``method_name`` on the election's exact margins."""
    data = _margin_graph(election)
    method = _pref_voting_method(method_name)
    options = {}
    if method_name == "ranked_pairs":
        size = election.num_candidates if candidates is None else len(candidates)
        options["algorithm"] = "from_stacks" if size <= RANKED_PAIRS_STACK_LIMIT else "basic"
    winners = method(data, curr_cands=None if candidates is None else list(candidates), **options)
    return frozenset(int(c) for c in winners)


# --- rules --------------------------------------------------------------------------------------

def _copeland(election: Election) -> np.ndarray:
    margins = election.exact_margins
    return (margins > 0).sum(axis=1) - (margins < 0).sum(axis=1)


def _minimax(election: Election) -> np.ndarray:
    return np.array([-max(Fraction(0), *column) for column in election.exact_margins.T], dtype=object)


def _borda(election: Election) -> np.ndarray:
    return (election.exact_total_weight * (election.num_candidates - 1) + election.exact_margins.sum(axis=1)) / 2


def _top(scores: np.ndarray) -> frozenset[int]:
    """The candidates with the highest (exact) score."""
    return frozenset(int(c) for c in np.flatnonzero(scores == max(scores)))


def copeland_scores(profile: ProfileLike, counts: Sequence[float] | None = None) -> np.ndarray:
    """Pairwise wins minus pairwise losses of each candidate: ``sum_b sign(M[a, b])``."""
    return _copeland(as_election(profile, counts)).astype(np.float64)


def minimax_scores(profile: ProfileLike, counts: Sequence[float] | None = None) -> np.ndarray:
    """Minus each candidate's largest defeat margin, ``-max(0, max_b M[b, a])`` (higher is better)."""
    return _minimax(as_election(profile, counts)).astype(np.float64)


def borda_scores(profile: ProfileLike, counts: Sequence[float] | None = None) -> np.ndarray:
    """Weight of (voter, rival) pairs each candidate beats: ``sum_b (W + M[a, b]) / 2`` over ``b != a``.

    For strict rankings this is the Borda count (candidates ranked below, summed over voters); for a
    preference matrix it is the expected Borda count.
    """
    return _borda(as_election(profile, counts)).astype(np.float64)


def copeland(profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Copeland winners (most pairwise wins minus losses), via pref_voting."""
    return _winners("copeland", as_election(profile, counts))


def minimax(profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Simpson-Kramer minimax winners (smallest largest pairwise defeat), via pref_voting."""
    return _winners("minimax", as_election(profile, counts))


def ranked_pairs(profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Ranked pairs (Tideman) winners, via pref_voting; with tied margins every winner of some
    tie-breaking order is returned."""
    return _winners("ranked_pairs", as_election(profile, counts))


def schulze(profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Schulze (beat path) winners, via pref_voting."""
    return _winners("beat_path", as_election(profile, counts))


def kemeny_young(profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Candidates ranked first by some Kemeny-Young ranking (maximises agreement with the margins),
    via pref_voting; exponential in the number of candidates."""
    election = as_election(profile, counts)
    if election.num_candidates > 8:
        raise ValueError(f"kemeny_young enumerates all rankings; {election.num_candidates} candidates is too many (<= 8)")
    return _winners("kemeny_young", election)


def borda(profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Borda winners: the highest exact :func:`borda_scores` (the Borda count for rankings, the
    expected Borda count for a margins-only election)."""
    return _top(_borda(as_election(profile, counts)))


def _first_places(election: Election, remaining: set[int]) -> np.ndarray:
    """The exact weight of the voters who rank each candidate first among ``remaining`` (0 for the rest)."""
    totals = np.full(election.num_candidates, Fraction(0), dtype=object)
    for ranking, weight in zip(election.rankings, election.counts):
        totals[next(c for c in ranking if c in remaining)] += weight
    return totals


def plurality(profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Plurality winners (most first places); needs rankings."""
    election = as_election(profile, counts)
    _require_rankings(election, "plurality")
    return _top(_first_places(election, set(range(election.num_candidates))))


def instant_runoff(profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Instant-runoff winners; needs rankings.

    pref_voting's rule, in exact arithmetic: a candidate ranked first by more than half the weight
    wins; otherwise every candidate with the fewest first places is removed at once, and if that
    would remove all who are left, they all win.
    """
    election = as_election(profile, counts)
    _require_rankings(election, "instant_runoff")
    remaining = set(range(election.num_candidates))
    while True:
        totals = _first_places(election, remaining)
        majority = [c for c in remaining if 2 * totals[c] > election.exact_total_weight]
        if majority:
            return frozenset(majority)
        fewest = min(totals[c] for c in remaining)
        last = {c for c in remaining if totals[c] == fewest}
        if last == remaining:
            return frozenset(remaining)
        remaining -= last


def is_maximal_lottery(lottery: np.ndarray, margins: np.ndarray) -> bool:
    """Whether ``p`` is a distribution with ``p^T M >= 0`` (up to :data:`LOTTERY_TOLERANCE`)."""
    lottery = np.asarray(lottery, dtype=np.float64)
    scale = max(1.0, float(np.abs(margins).max()))
    return bool(np.all(lottery >= -1e-12) and abs(lottery.sum() - 1.0) < 1e-9
                and np.all(lottery @ margins >= -LOTTERY_TOLERANCE * scale))


def maximal_lottery_bounds(profile: ProfileLike, counts: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)``: each candidate's smallest and largest probability over all maximal lotteries.

    Two LPs per candidate (scipy HiGHS) over ``{p >= 0, sum p = 1, M^T p >= 0}``; ``low == high``
    everywhere exactly when the maximal lottery is unique.
    """
    margins = as_election(profile, counts).margins
    size = len(margins)
    scale = max(1.0, float(np.abs(margins).max()))
    low, high = np.zeros(size), np.zeros(size)
    # M^T p >= 0  <=>  -M^T p <= tolerance (a hair of slack keeps HiGHS from calling rounding infeasible)
    constraints = dict(A_ub=-margins.T / scale, b_ub=np.full(size, 1e-10), A_eq=np.ones((1, size)), b_eq=[1.0],
                       bounds=[(0.0, 1.0)] * size, method="highs")
    for candidate in range(size):
        objective = np.zeros(size)
        objective[candidate] = 1.0
        for sign, out in ((1.0, low), (-1.0, high)):
            result = linprog(sign * objective, **constraints)
            if not result.success:
                raise RuntimeError(f"maximal-lottery bound LP failed for candidate {candidate}: {result.message}")
            out[candidate] = result.x[candidate]
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)


def maximal_lottery(profile: ProfileLike, counts: Sequence[float] | None = None, *,
                    check_unique: bool = True) -> np.ndarray:
    """The maximal lottery ``p`` (``p^T M >= 0``) as an array over candidates, via pref_voting's LP.

    The result is checked (pref_voting falls back to the uniform lottery when its LP fails; that
    is an error here). With ``check_unique`` (and some margin even or fractional), ``2m`` more LPs
    test uniqueness, and a warning names the candidates whose probability is undetermined;
    :func:`maximal_lottery_bounds` gives their ranges.
    """
    election = as_election(profile, counts)
    method = _pref_voting_method("maximal_lottery")
    probabilities = method(_graph(election.margins.tolist()))  # an LP: float margins
    lottery = np.array([float(probabilities[c]) for c in range(election.num_candidates)])
    lottery = np.clip(lottery, 0.0, None)
    lottery /= lottery.sum()
    if not is_maximal_lottery(lottery, election.margins):
        raise RuntimeError(f"pref_voting returned {lottery.tolist()}, which is not a maximal lottery "
                           f"(min of p^T M = {float((lottery @ election.margins).min()):.3g})")
    if check_unique and not _all_margins_odd(election.margins):
        low, high = maximal_lottery_bounds(election)
        loose = [election.candidates[c] for c in np.flatnonzero(high - low > 1e-6)]
        if loose:
            log.warning("the maximal lottery is not unique: the probabilities of %s range over %s; "
                        "returning pref_voting's LP vertex %s", loose,
                        [(round(float(a), 4), round(float(b), 4)) for a, b in zip(low, high)], lottery.round(4).tolist())
    return lottery


def _all_margins_odd(margins: np.ndarray) -> bool:
    """Integer margins that are all odd off the diagonal: the maximal lottery is then unique
    (Laffond, Laslier & Le Breton 1997)."""
    off = margins[~np.eye(len(margins), dtype=bool)]
    return bool(np.all(off == np.round(off)) and np.all(np.abs(off) % 2 == 1))


#: Rules that return a winner set, by name (the CLI and :func:`compare_rules` use these names).
WINNER_RULES: dict[str, Callable[..., frozenset[int]]] = {
    "copeland": copeland,
    "minimax": minimax,
    "borda": borda,
    "ranked_pairs": ranked_pairs,
    "schulze": schulze,
    "kemeny_young": kemeny_young,
    "plurality": plurality,
    "instant_runoff": instant_runoff,
}
#: Every rule :func:`compare_rules` knows: the winner rules and the maximal lottery.
RULES = (*WINNER_RULES, "maximal_lottery")


def winners(rule: str, profile: ProfileLike, counts: Sequence[float] | None = None) -> frozenset[int]:
    """Winners of ``rule`` (a name in :data:`WINNER_RULES`); for ``maximal_lottery`` the support of
    the lottery."""
    if rule == "maximal_lottery":
        return frozenset(int(c) for c in np.flatnonzero(maximal_lottery(profile, counts) > 1e-9))
    if rule not in WINNER_RULES:
        raise ValueError(f"unknown rule {rule!r}; valid rules: {list(RULES)}")
    return WINNER_RULES[rule](profile, counts)


# --- social welfare functions (rankings) -------------------------------------------------------

#: Rules whose social ranking orders candidates by a score (ties in score are ties in the ranking).
_SCORES = {"copeland": _copeland, "minimax": _minimax, "borda": _borda}
#: Rules whose social ranking is built by removing the winners and electing again among the rest.
_ITERATED = ("ranked_pairs", "schulze", "kemeny_young")
SWF_RULES = (*_SCORES, *_ITERATED)


def social_ranking(rule: str, profile: ProfileLike, counts: Sequence[float] | None = None) -> tuple[frozenset[int], ...]:
    """A weak order of the candidates, best tier first, each tier a set of tied candidates.

    Copeland, minimax and Borda rank by their scores; ranked pairs, Schulze and Kemeny-Young rank
    by iterated election (tier 1 = the winners, tier 2 = the winners among the rest, ...).
    """
    election = as_election(profile, counts)
    if rule in _SCORES:
        scores = _SCORES[rule](election)  # exact
        return tuple(frozenset(int(c) for c in np.flatnonzero(scores == value))
                     for value in sorted(set(scores.tolist()), reverse=True))
    if rule in _ITERATED:
        method = {"ranked_pairs": "ranked_pairs", "schulze": "beat_path", "kemeny_young": "kemeny_young"}[rule]
        remaining = list(range(election.num_candidates))
        tiers = []
        while remaining:
            tier = _winners(method, election, candidates=remaining)
            tiers.append(tier)
            remaining = [c for c in remaining if c not in tier]
        return tuple(tiers)
    raise ValueError(f"rule {rule!r} has no social ranking here; valid rules: {list(SWF_RULES)}")


def ranking_preferences(tiers: Sequence[frozenset[int]], num_candidates: int) -> np.ndarray:
    """``P[i, j] = 1`` if ``i`` is in a higher tier than ``j``, ``1/2`` if in the same tier, else 0."""
    tier_of = np.full(num_candidates, -1)
    for level, tier in enumerate(tiers):
        for candidate in tier:
            tier_of[candidate] = level
    if np.any(tier_of < 0):
        raise ValueError(f"the tiers {[sorted(t) for t in tiers]} do not cover all {num_candidates} candidates")
    return 0.5 + 0.5 * np.sign(tier_of[None, :] - tier_of[:, None]).astype(np.float64)


# --- RLCHF ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairLabel:
    """One aggregated comparison: ``preferred`` beats ``other`` (or ties with it when ``tie``)."""

    preferred: int
    other: int
    tie: bool = False


@dataclass(frozen=True)
class RLCHFResult:
    """The aggregate of an annotator population under one social welfare function.

    Attributes:
        rule: the social welfare function.
        answers: the answer names.
        ranking: the social weak order, best tier first.
        preferences: ``P[i, j]`` in {0, 1/2, 1} from ``ranking`` (transitive by construction).
        labels: one :class:`PairLabel` per unordered pair, the training labels of a reward model.
    """

    rule: str
    answers: tuple[str, ...]
    ranking: tuple[frozenset[int], ...]
    preferences: np.ndarray
    labels: tuple[PairLabel, ...]

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``aligngames.make("preference_game_v0", **kwargs)``."""
        return {"mode": "tabular", "preferences": self.preferences.tolist(), "answers": list(self.answers)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "answers": list(self.answers),
            "ranking": [[self.answers[c] for c in sorted(tier)] for tier in self.ranking],
            "preferences": self.preferences.tolist(),
            "labels": [{"preferred": self.answers[x.preferred], "other": self.answers[x.other], "tie": x.tie}
                       for x in self.labels],
        }


def rlchf(election: Election, rule: str) -> RLCHFResult:
    """Aggregate ``election`` (e.g. :meth:`Election.from_groups`) with the social welfare function
    ``rule`` into a social ranking, pairwise labels and a preference matrix."""
    tiers = social_ranking(rule, election)
    matrix = ranking_preferences(tiers, election.num_candidates)
    labels = []
    for a, b in itertools.combinations(range(election.num_candidates), 2):
        if matrix[a, b] == 0.5:
            labels.append(PairLabel(a, b, tie=True))
        else:
            labels.append(PairLabel(a, b) if matrix[a, b] > 0.5 else PairLabel(b, a))
    return RLCHFResult(rule, election.candidates, tiers, matrix, tuple(labels))


# --- comparing rules on one population ---------------------------------------------------------

@dataclass(frozen=True)
class RuleOutcome:
    """What one rule does to one population.

    Attributes:
        rule: the rule's name.
        winners: the winner set (for the maximal lottery, its support).
        lottery: the outcome as a distribution over candidates: the maximal lottery itself, or
            uniform over a deterministic rule's tied winners (how a tie is scored, not broken).
        group_utility: for each group, the expected utility of the outcome normalised to the group's
            own range (1 = its favourite, 0 = its least favourite).
        group_win_rate: for each group, ``P_g(outcome beats a uniformly random other answer)``.
        worst_case_win_rate: ``min_j sum_i lottery_i P[i, j]``: the population's preference for the
            outcome against its strongest single challenger (>= 1/2 only for maximal lotteries).
    """

    rule: str
    winners: frozenset[int]
    lottery: np.ndarray
    group_utility: np.ndarray
    group_win_rate: np.ndarray
    worst_case_win_rate: float


def _group_matrices(election: Election, groups: Sequence[AnnotatorGroup]) -> list[np.ndarray]:
    sizes = {len(g.utilities) for g in groups}
    if sizes != {election.num_candidates}:
        raise ValueError(f"groups rate {sorted(sizes)} candidates but the election has {election.num_candidates}")
    return [g.preference_matrix() for g in groups]


def outcome(rule: str, election: Election, groups: Sequence[AnnotatorGroup]) -> RuleOutcome:
    """Run ``rule`` on ``election`` and score the result for each of ``groups``."""
    size = election.num_candidates
    if rule == "maximal_lottery":
        lottery = maximal_lottery(election)
        winner_set = frozenset(int(c) for c in np.flatnonzero(lottery > 1e-9))
    else:
        winner_set = winners(rule, election)
        lottery = np.zeros(size)
        lottery[sorted(winner_set)] = 1.0 / len(winner_set)
    utilities, win_rates = [], []
    for group, matrix in zip(groups, _group_matrices(election, groups)):
        values = np.asarray(group.utilities)
        spread = values.max() - values.min()
        normalised = (values - values.min()) / spread if spread > 0 else np.ones(size)
        utilities.append(float(lottery @ normalised))
        # P(outcome beats a uniformly random *other* answer): drop the diagonal's 1/2
        beats = (matrix.sum(axis=1) - 0.5) / (size - 1)
        win_rates.append(float(lottery @ beats))
    population = election.preferences()
    return RuleOutcome(rule, winner_set, lottery, np.array(utilities), np.array(win_rates),
                       float((lottery @ population).min()))


@dataclass(frozen=True)
class RuleComparison:
    """Several rules on one population (see :func:`compare_rules`)."""

    answers: tuple[str, ...]
    groups: tuple[AnnotatorGroup, ...]
    outcomes: tuple[RuleOutcome, ...] = field(default=())

    def table(self) -> str:
        """A plain-text table: winners, the lottery, and each group's normalised utility."""
        names = [g.name for g in self.groups]
        header = f"{'rule':<16} {'winners':<44} {'P(beats best challenger)':>24}  " + "  ".join(f"{n:>12}" for n in names)
        lines = [header, "-" * len(header)]
        for item in self.outcomes:
            if item.rule == "maximal_lottery":
                shown = ", ".join(f"{self.answers[c]} {item.lottery[c]:.2f}" for c in sorted(item.winners))
            else:
                shown = ", ".join(self.answers[c] for c in sorted(item.winners))
                shown = shown if len(item.winners) == 1 else f"tie: {shown}"
            lines.append(f"{item.rule:<16} {shown:<44} {item.worst_case_win_rate:>24.3f}  "
                         + "  ".join(f"{u:>12.3f}" for u in item.group_utility))
        lines.append("group columns: expected utility of the outcome, scaled to the group's own range "
                     "(1 = its favourite); ties scored as a uniform draw from the tied set")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answers": list(self.answers),
            "groups": [{"name": g.name, "weight": g.weight, "utilities": list(g.utilities),
                        "beta": g.beta if np.isfinite(g.beta) else "inf"}  # JSON has no Infinity
                       for g in self.groups],
            "outcomes": [{"rule": o.rule, "winners": [self.answers[c] for c in sorted(o.winners)],
                          "lottery": o.lottery.tolist(), "group_utility": o.group_utility.tolist(),
                          "group_win_rate": o.group_win_rate.tolist(),
                          "worst_case_win_rate": o.worst_case_win_rate} for o in self.outcomes],
        }


DEFAULT_COMPARISON = ("copeland", "minimax", "borda", "ranked_pairs", "schulze", "plurality", "maximal_lottery")


def compare_rules(groups: Sequence[AnnotatorGroup], answers: Sequence[str] | None = None,
                  rules: Sequence[str] = DEFAULT_COMPARISON) -> RuleComparison:
    """Run each rule on the population ``groups`` and score how each group fares.

    Ranking-only rules (plurality, instant runoff) are skipped, with a log line, when a group is
    stochastic (then the election has margins but no rankings).
    """
    election = Election.from_groups(groups, answers)
    outcomes = []
    for rule in rules:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; valid rules: {list(RULES)}")
        if rule in ("plurality", "instant_runoff") and not election.rankings:
            log.info("skipping %s: the population has stochastic groups, so there are no rankings", rule)
            continue
        outcomes.append(outcome(rule, election, groups))
    return RuleComparison(election.candidates, tuple(groups), tuple(outcomes))


# --- example populations -----------------------------------------------------------------------

def disagreement_population() -> tuple[tuple[str, ...], tuple[AnnotatorGroup, ...]]:
    """Five answer styles and five annotator groups (23 annotators) on which the rules disagree:
    Copeland elects ``socratic``, minimax and ranked pairs ``concise``, Borda ``cautious``, and the
    maximal lottery mixes concise 7/15, socratic 1/3, playful 1/5."""
    answers = ("concise", "detailed", "cautious", "socratic", "playful")
    concise, detailed, cautious, socratic, playful = range(5)
    rows = [
        ("minimalists", 8, [concise, cautious, playful, detailed, socratic]),
        ("entertainers", 2, [playful, concise, detailed, socratic, cautious]),
        ("skeptics", 5, [playful, socratic, cautious, detailed, concise]),
        ("teachers", 6, [socratic, cautious, detailed, concise, playful]),
        ("debaters", 2, [socratic, playful, detailed, concise, cautious]),
    ]
    groups = tuple(AnnotatorGroup.from_ranking(name, weight, ranking, 5) for name, weight, ranking in rows)
    return answers, groups


def population(name: str) -> tuple[tuple[str, ...], tuple[AnnotatorGroup, ...]]:
    """A named population: ``disagree`` (:func:`disagreement_population`) or a preference-game scenario
    with groups (``food``, ``random``)."""
    if name == "disagree":
        return disagreement_population()
    if name not in ("food", "random"):
        raise ValueError(f"unknown population {name!r}; valid: ['disagree', 'food', 'random']")
    scenario = scenarios.build(name, num_answers=5, num_groups=4, scenario_seed=0)
    return scenario.answers, scenario.groups


# --- rankings as text ---------------------------------------------------------------------------

def parse_ranking(text: str) -> tuple[list[int], float]:
    """``"0>2>1*4"`` -> ``([0, 2, 1], 4.0)`` (``*COUNT`` is optional)."""
    order, _, count = text.partition("*")
    try:
        return [int(c) for c in order.split(">")], float(count) if count else 1.0
    except ValueError as error:
        raise ValueError(f"cannot read ranking {text!r}; write candidates best first like 0>2>1*4") from error
