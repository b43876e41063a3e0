"""Typed game-theoretic metadata and normal-form games.

Solvers read :class:`GameInfo` and refuse games they do not apply to, with a message that says
why (Nash LP needs two players and a constant sum, MPO needs a symmetric game, ...).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


class Utility(enum.Enum):
    """How the players' payoffs relate (OpenSpiel's ``GameType.Utility``)."""

    ZERO_SUM = "zero_sum"
    CONSTANT_SUM = "constant_sum"
    GENERAL_SUM = "general_sum"
    IDENTICAL = "identical"  # every player gets the same payoff (assistance games)


class Dynamics(enum.Enum):
    """Whether players move at once (simultaneous) or one after another (sequential)."""

    SIMULTANEOUS = "simultaneous"
    SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class GameInfo:
    """Game-theoretic facts about a game, checked by solvers.

    Attributes:
        num_players: number of players with payoffs (a judge fixed inside the env is not a player).
        utility: zero-sum, constant-sum, general-sum or identical interest.
        dynamics: simultaneous or sequential moves.
        symmetric: the players are interchangeable (swapping seats swaps payoffs).
        constant_sum: the sum of payoffs for constant- and zero-sum games (0 for zero-sum).
    """

    num_players: int
    utility: Utility
    dynamics: Dynamics
    symmetric: bool = False
    constant_sum: float = 0.0

    def __post_init__(self) -> None:
        if self.num_players < 1:
            raise ValueError(f"num_players must be >= 1, got {self.num_players}")
        if self.utility is Utility.ZERO_SUM and self.constant_sum != 0.0:
            raise ValueError("a zero-sum game has constant_sum 0")

    @property
    def is_two_player_constant_sum(self) -> bool:
        return self.num_players == 2 and self.utility in (Utility.ZERO_SUM, Utility.CONSTANT_SUM)

    def require_two_player_constant_sum(self, solver: str) -> None:
        """Raise ``ValueError`` unless this is a two-player zero- or constant-sum game."""
        if not self.is_two_player_constant_sum:
            raise ValueError(
                f"{solver} needs a two-player zero-sum or constant-sum game; this game has "
                f"{self.num_players} players and is {self.utility.value}"
            )

    def to_dict(self) -> dict:
        return {
            "num_players": self.num_players,
            "utility": self.utility.value,
            "dynamics": self.dynamics.value,
            "symmetric": self.symmetric,
            "constant_sum": self.constant_sum,
        }


@dataclass(frozen=True)
class MatrixGame:
    """A normal-form game: one payoff tensor per player.

    Attributes:
        payoffs: shape ``(num_players, n_1, ..., n_num_players)``; ``payoffs[p][a_1, ..., a_n]`` is
            player ``p``'s payoff when player ``i`` plays ``a_i``.
        info: the game's metadata.
        action_names: one tuple of names per player.
    """

    payoffs: np.ndarray
    info: GameInfo
    action_names: tuple[tuple[str, ...], ...] = field(default=())

    def __post_init__(self) -> None:
        payoffs = np.asarray(self.payoffs, dtype=np.float64)
        if payoffs.ndim != self.info.num_players + 1 or payoffs.shape[0] != self.info.num_players:
            raise ValueError(
                f"payoffs must have shape (num_players, n_1, ..., n_num_players) with num_players="
                f"{self.info.num_players}; got shape {payoffs.shape}"
            )
        if not np.all(np.isfinite(payoffs)):
            raise ValueError("payoffs must be finite")
        object.__setattr__(self, "payoffs", payoffs)
        if self.action_names:
            sizes = tuple(len(names) for names in self.action_names)
            if sizes != payoffs.shape[1:]:
                raise ValueError(f"action_names sizes {sizes} do not match payoff shape {payoffs.shape[1:]}")
        else:
            names = tuple(tuple(str(a) for a in range(n)) for n in payoffs.shape[1:])
            object.__setattr__(self, "action_names", names)
        if self.info.utility in (Utility.ZERO_SUM, Utility.CONSTANT_SUM):
            total = payoffs.sum(axis=0)
            if not np.allclose(total, self.info.constant_sum, atol=1e-9):
                raise ValueError(
                    f"payoffs do not sum to {self.info.constant_sum} although the game is "
                    f"{self.info.utility.value} (largest deviation {np.abs(total - self.info.constant_sum).max():.3g})"
                )

    @property
    def row_payoffs(self) -> np.ndarray:
        """Player 0's payoff matrix (two-player games)."""
        return self.payoffs[0]

    @classmethod
    def zero_sum(cls, row_payoffs: np.ndarray, action_names=(), symmetric: bool = False) -> MatrixGame:
        """A two-player zero-sum game from the row player's payoff matrix."""
        row = np.asarray(row_payoffs, dtype=np.float64)
        if row.ndim != 2:
            raise ValueError(f"row_payoffs must be a matrix, got shape {row.shape}")
        info = GameInfo(2, Utility.ZERO_SUM, Dynamics.SIMULTANEOUS, symmetric=symmetric)
        return cls(np.stack([row, -row]), info, tuple(tuple(n) for n in action_names))


@dataclass(frozen=True)
class MetaGame:
    """An empirical game between named policies, as estimated by a tournament.

    Attributes:
        seats: the env's seats in order (``("player_0", "player_1")``).
        pools: for each seat, the names of the policies that played it.
        mean: for each seat, its mean return; an array of shape ``(len(pools[s]) for s in seats)``.
        ci95: half-widths of 95% confidence intervals, same shapes (NaN where one episode was played).
        episodes: episodes per match.
        info: the env's game metadata.
    """

    seats: tuple[str, ...]
    pools: dict[str, tuple[str, ...]]
    mean: dict[str, np.ndarray]
    ci95: dict[str, np.ndarray]
    episodes: int
    info: GameInfo

    def matrix_game(self) -> MatrixGame:
        """The empirical game as a :class:`MatrixGame` (one payoff tensor per seat)."""
        payoffs = np.stack([self.mean[seat] for seat in self.seats])
        names = tuple(self.pools[seat] for seat in self.seats)
        info = self.info
        if info.utility in (Utility.ZERO_SUM, Utility.CONSTANT_SUM):
            # sampled returns can miss the constant by float rounding; re-centre exactly
            correction = (payoffs.sum(axis=0) - info.constant_sum) / len(self.seats)
            payoffs = payoffs - correction[None]
        return MatrixGame(payoffs, info, names)

    def symmetric_table(self) -> tuple[tuple[str, ...], np.ndarray]:
        """For a symmetric two-seat game with the same pool in both seats: ``(names, M)`` where
        ``M[i, j]`` is policy i's mean payoff against policy j, averaged over both seatings."""
        if not (self.info.symmetric and len(self.seats) == 2 and self.pools[self.seats[0]] == self.pools[self.seats[1]]):
            raise ValueError("a symmetric table needs a symmetric two-player game with the same pool in both seats")
        first, second = self.seats
        return self.pools[first], 0.5 * (self.mean[first] + self.mean[second].T)


COMPARATORS = ("unconstrained", "constrained")


@dataclass(frozen=True)
class BudgetConstraint:
    """A bound on a player's expected cost in a tabular game: ``sum_a pi(a) costs[a] <= budget``.

    Attributes:
        costs: one cost per action (higher is worse), shape ``(num_actions,)``.
        budget: the bound ``d``.
        comparator: ``"unconstrained"``: only the row player is bound (a constrained policy against a
            worst-case unconstrained comparator); ``"constrained"``: both players of a symmetric game are bound
            by the same costs and budget (a coupled constraint, not a per-player penalty).
    """

    costs: np.ndarray
    budget: float
    comparator: str = "unconstrained"

    def __post_init__(self) -> None:
        costs = np.asarray(self.costs, dtype=np.float64)
        if costs.ndim != 1 or costs.size == 0 or not np.isfinite(costs).all():
            raise ValueError(f"costs must be a non-empty list of finite numbers, one per action; got {self.costs!r:.80}")
        if not np.isfinite(self.budget):
            raise ValueError(f"budget must be finite, got {self.budget}")
        if self.comparator not in COMPARATORS:
            raise ValueError(f"comparator must be one of {list(COMPARATORS)}, got {self.comparator!r}")
        if self.budget < costs.min() - 1e-12:
            raise ValueError(f"budget {self.budget:g} is infeasible: the cheapest action costs {costs.min():g}")
        object.__setattr__(self, "costs", costs)
        object.__setattr__(self, "budget", float(self.budget))

    def to_dict(self) -> dict:
        return {"costs": self.costs.tolist(), "budget": self.budget, "comparator": self.comparator}
