"""Exact judge accuracy of recursive (binary-search) debate, one-check consultancy, and a judge who checks nothing.

Irving, Christiano & Amodei 2018 ("AI safety via debate", section 2.2 and the complexity argument): a
claim that decomposes into ``n`` steps can be settled by a judge who checks a single step, if two
debaters recursively narrow the disagreement. The game is :mod:`aligngames.envs.debate.recursive`
(a chain ``x_i = T_i(x_{i-1})`` of permutations of ``{0..V-1}``; answers ``A`` and ``B``, one true).

**Debate.** Invariant: the debaters agree on the value at ``lo`` and disagree at ``hi``. If the honest
debater states the truth, every agreed value is true (agreeing means stating the honest value), so at the
last step the honest claim is ``T_hi(agreed)`` and the liar's, being different, is not: the one check
finds the liar whatever it does. The liar chooses which half is kept (agree -> right half of length
``ceil(L/2)``, disagree -> left half ``floor(L/2)``), so there are at most ``ceil(log2 n)`` rounds, reached by
always agreeing. With a check that errs with probability ``delta``, accuracy is exactly ``1 - delta``. The
solver checks this by game-tree search (minimax over both debaters' statements, memoised on
``(lo, hi, agreed, honest claim, liar claim)``): the value with the honest debater maximising is
``1 - delta`` for every instance, and with the honest debater fixed to the truth the liar's best is the same.

**Consultancy.** The judge checks step ``i`` with probability ``p_i`` and accepts iff it is right. An honest
consultant always passes. A liar's chain ends at a wrong value, so some step is wrong; because the tables are
permutations, a chain wrong at one chosen step ``i`` only exists for every ``i``, so the liar is caught with
probability ``min_i p_i``, and the judge's best (minimax) check is uniform: caught with probability ``1/n``.
With the consultant honest half the time and a check that errs with probability ``delta``:

    P(correct) = 1/2 (1 - delta) + 1/2 [ (1/n)(1 - delta) + (1 - 1/n) delta ] = 1/2 + (1 - 2 delta) / (2n).

The solver checks the ``1/n`` by enumerating every chain the liar could state (``V^(n-1)``) for small ``n``.

**No check.** A judge who sees only two answers and cannot check picks one at random: 1/2.

So with the same one-check budget, debate's accuracy ``1 - delta`` does not depend on ``n``, consultancy's
advantage over chance falls as ``1/n``, and the price of debate is ``2 ceil(log2 n)`` statements against the
consultant's ``n - 1``.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames.envs.debate.recursive import max_rounds, random_steps, true_chain

#: The most chains :func:`consultancy_catch_probability` enumerates.
MAX_ENUMERATED_CHAINS = 200_000


def _check_error(check_error: float) -> float:
    value = float(check_error)
    if not (np.isfinite(value) and 0.0 <= value <= 0.5):
        raise ValueError(f"check_error must be a probability in [0, 0.5], got {check_error!r}")
    return value


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    return int(steps)


def _check_tables(tables: Any, start: int) -> np.ndarray:
    array = np.asarray(tables)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 2:
        raise ValueError(f"tables must have shape (steps, values) with values >= 2, got shape {array.shape}")
    values = array.shape[1]
    for index, row in enumerate(array):
        if sorted(row.tolist()) != list(range(values)):
            raise ValueError(f"tables[{index}] must be a permutation of 0..{values - 1}, got {row.tolist()}")
    if not 0 <= int(start) < values:
        raise ValueError(f"start must be in 0..{values - 1}, got {start}")
    return array.astype(np.int64)


def debate_accuracy(check_error: float = 0.0) -> float:
    """Optimal recursive debate: ``1 - delta``, for any number of steps."""
    return 1.0 - _check_error(check_error)


def consultancy_accuracy(steps: int, check_error: float = 0.0) -> float:
    """One-check consultancy with a uniform check and the consultant honest half the time:
    ``1/2 + (1 - 2 delta) / (2 n)``."""
    return 0.5 + (1.0 - 2.0 * _check_error(check_error)) / (2.0 * _check_steps(steps))


def blind_accuracy() -> float:
    """A judge who checks nothing: 1/2."""
    return 0.5


@dataclass(frozen=True)
class DebateSearch:
    """Game-tree search on one chain.

    Attributes:
        value: P(judge right) with the honest debater maximising and the liar minimising.
        truthful_value: the same with the honest debater fixed to the truth (the liar still minimising).
        max_rounds: the most rounds the liar can force against the truthful debater.
        states: distinct states searched.
    """

    value: float
    truthful_value: float
    max_rounds: int
    states: int


def search_debate(tables: Any, start: int, false_answer: int, *, check_error: float = 0.0,
                  honest_first: bool = True) -> DebateSearch:
    """Exact minimax over every statement of both debaters (see the module docstring).

    Args:
        tables: shape ``(steps, values)``, each row a permutation: ``tables[i - 1][v] = T_i(v)``.
        start: ``x_0``.
        false_answer: the liar's answer (``!= x_n``).
        check_error: ``delta``.
        honest_first: whether the honest debater states first each round (the second one sees the first).
    """
    tables = _check_tables(tables, start)
    delta = _check_error(check_error)
    steps, values = tables.shape
    if steps < 2:
        raise ValueError(f"tables must have at least 2 steps (one step needs no debate), got {steps}")
    chain = true_chain(tables, start)
    if not 0 <= int(false_answer) < values or int(false_answer) == chain[-1]:
        raise ValueError(f"false_answer must be a value in 0..{values - 1} other than the true end {chain[-1]}, "
                         f"got {false_answer}")

    def leaf(hi: int, agreed: int, honest_claim: int, liar_claim: int) -> float:
        computed = int(tables[hi - 1][agreed])
        if honest_claim == computed:
            return 1.0 - delta
        if liar_claim == computed:
            return delta
        return 0.5  # neither matches: a coin flip

    def successor(lo: int, hi: int, agreed: int, claims: tuple[int, int], honest: int, liar: int):
        mid = (lo + hi) // 2
        if honest == liar:
            return mid, hi, honest, *claims
        return lo, mid, agreed, honest, liar

    @functools.cache
    def value(lo: int, hi: int, agreed: int, honest_claim: int, liar_claim: int, truthful: bool) -> float:
        if hi - lo == 1:
            return leaf(hi, agreed, honest_claim, liar_claim)
        honest_options = [chain[(lo + hi) // 2]] if truthful else range(values)
        claims = (honest_claim, liar_claim)

        def after(honest: int, liar: int) -> float:
            return value(*successor(lo, hi, agreed, claims, honest, liar), truthful)

        if honest_first:
            return max(min(after(h, d) for d in range(values)) for h in honest_options)
        return min(max(after(h, d) for h in honest_options) for d in range(values))

    @functools.cache
    def longest(lo: int, hi: int, agreed: int, honest_claim: int, liar_claim: int) -> int:
        if hi - lo == 1:
            return 0
        honest = chain[(lo + hi) // 2]
        return 1 + max(longest(*successor(lo, hi, agreed, (honest_claim, liar_claim), honest, d)) for d in range(values))

    root = (0, steps, chain[0], chain[-1], int(false_answer))
    minimax, truthful = value(*root, False), value(*root, True)
    return DebateSearch(minimax, truthful, longest(*root), value.cache_info().currsize)


def consultancy_catch_probability(tables: Any, start: int, false_answer: int,
                                  check_distribution: Any = None) -> tuple[float, tuple[int, ...]]:
    """The liar's best chain against a check at step ``i`` with probability ``check_distribution[i - 1]``
    (uniform by default), by enumerating every chain ``c_1..c_{n-1}`` (``c_n = false_answer``).

    Returns:
        ``(P(caught), the liar's best chain c_1..c_{n-1})``.
    """
    tables = _check_tables(tables, start)
    steps, values = tables.shape
    if check_distribution is None:
        weights = np.full(steps, 1.0 / steps)
    else:
        weights = np.asarray(check_distribution, dtype=np.float64)
        if weights.shape != (steps,):
            raise ValueError(f"check_distribution must have shape ({steps},) (one probability per step), "
                             f"got shape {weights.shape}")
        if (weights < 0).any() or abs(weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"check_distribution is not a probability distribution: {weights.tolist()}")
    if values ** (steps - 1) > MAX_ENUMERATED_CHAINS:
        raise ValueError(f"{values}^{steps - 1} chains is more than the {MAX_ENUMERATED_CHAINS} this enumerates; "
                         f"use fewer steps or values")
    if int(false_answer) == true_chain(tables, start)[-1]:
        raise ValueError("false_answer must differ from the true end of the chain")
    best, best_chain = 2.0, ()
    for middle in itertools.product(range(values), repeat=steps - 1):
        chain = (int(start), *middle, int(false_answer))
        caught = sum(weights[i - 1] for i in range(1, steps + 1) if tables[i - 1][chain[i - 1]] != chain[i])
        if caught < best:
            best, best_chain = float(caught), tuple(middle)
    return best, best_chain


def compare(steps: int, check_error: float = 0.0) -> list[dict[str, Any]]:
    """One row per protocol: judge accuracy, checks, statements (debate: the liar's longest game)."""
    steps = _check_steps(steps)
    rounds = max_rounds(steps)
    return [
        {"protocol": "recursive debate", "accuracy": debate_accuracy(check_error), "checks": 1,
         "rounds": rounds, "statements": 2 * rounds},
        {"protocol": "consultancy", "accuracy": consultancy_accuracy(steps, check_error), "checks": 1,
         "rounds": 1, "statements": steps - 1},
        {"protocol": "no check", "accuracy": blind_accuracy(), "checks": 0, "rounds": 0, "statements": 0},
    ]


def search_random_instances(steps: int, values: int, instances: int, rng: np.random.Generator, *,
                            check_error: float = 0.0) -> list[dict[str, Any]]:
    """:func:`search_debate` (and, where small enough, :func:`consultancy_catch_probability`) on random chains."""
    results = []
    for _ in range(instances):
        tables = random_steps(rng, steps, values)
        start = int(rng.integers(values))
        end = true_chain(tables, start)[-1]
        false_answer = int(rng.choice([v for v in range(values) if v != end]))
        search = search_debate(tables, start, false_answer, check_error=check_error)
        row = {"value": search.value, "truthful_value": search.truthful_value, "max_rounds": search.max_rounds,
               "states": search.states}
        if values ** (steps - 1) <= MAX_ENUMERATED_CHAINS:
            row["consultancy_catch"] = consultancy_catch_probability(tables, start, false_answer)[0]
        results.append(row)
    return results


__all__ = ["DebateSearch", "blind_accuracy", "compare", "consultancy_accuracy", "consultancy_catch_probability",
           "debate_accuracy", "search_debate", "search_random_instances"]
