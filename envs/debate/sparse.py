"""Tabular ``debate_v0``: sparse-evidence debate in the spirit of Irving et al. 2018 ("AI safety via
debate", the MNIST experiment where debaters reveal pixels to a sparse classifier).

The evidence is a hidden vector ``x`` in ``{-1, +1}^n``, each feature +1 with probability
``feature_prior``; the truth is ``y = 1`` ("positive", answer A) when ``w . x > 0`` and ``y = 0``
("negative", answer B) otherwise. ``debater_a`` argues for A and ``debater_b`` for B; both see ``x``.
They take turns, ``debater_a`` first, each turn revealing one feature not yet revealed, until
``budget`` features are revealed. The judge is a fixed classifier on the revealed features only:
the Bayes posterior ``P(y = 1 | revealed)`` under the prior, computed exactly by summing over the
hidden features; it answers A above 1/2, B below, and flips a fair coin (recorded as a tie) at 1/2.
The debater whose answer the judge picks gets +1 and the other -1.

Because the game is small, its value under optimal play, and so the honest debater's advantage,
can be computed exactly (:mod:`aligngames.solvers.exact.sparse_debate`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.debate.judges import POSITIONS
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action, observation_space, sanitize

SEATS = ("debater_a", "debater_b")
#: a few strong features and several weak ones: the honest debater has a clear advantage at budget 4
DEFAULT_WEIGHTS = (3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0)
DEFAULT_BUDGET = 4


def true_label(weights: np.ndarray, evidence: np.ndarray) -> int:
    """``1`` if ``weights . evidence > 0`` else ``0``."""
    return int(float(np.dot(weights, evidence)) > 0.0)


def posterior_positive(weights: np.ndarray, revealed: Mapping[int, int], feature_prior: float) -> float:
    """``P(y = 1 | the revealed features)``, summing over every completion of the hidden features.

    Args:
        weights: shape ``(n,)``.
        revealed: ``{feature index: value in {-1, +1}}``.
        feature_prior: ``P(x_i = +1)`` for each hidden feature.
    """
    hidden = [i for i in range(len(weights)) if i not in revealed]
    known = sum(weights[i] * value for i, value in revealed.items())
    positive = total = 0.0
    for values in itertools.product((-1, 1), repeat=len(hidden)):
        probability = 1.0
        score = known
        for i, value in zip(hidden, values):
            probability *= feature_prior if value == 1 else 1.0 - feature_prior
            score += weights[i] * value
        total += probability
        positive += probability if score > 0 else 0.0
    return positive / total


class SparseDebateRules(GameRules):
    """State and payoffs of one sparse-evidence debate (see the module docstring).

    Args:
        weights: the linear rule ``w`` behind the truth, shape ``(n,)``.
        budget: how many features are revealed in all (``<= n``).
        feature_prior: ``P(x_i = +1)``.
    """

    game_info = GameInfo(2, Utility.ZERO_SUM, Dynamics.SEQUENTIAL)
    possible_agents = SEATS
    has_action_masks = True  # a revealed feature cannot be revealed again

    def __init__(self, weights: Sequence[float] = DEFAULT_WEIGHTS, *, budget: int = DEFAULT_BUDGET,
                 feature_prior: float = 0.5) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1 or weights.size < 1 or weights.size > 16:
            raise ValueError(f"weights must be a list of 1 to 16 numbers, got shape {weights.shape}")
        if not 1 <= budget <= weights.size:
            raise ValueError(f"budget must be in 1..{weights.size}, got {budget}")
        if not 0.0 < feature_prior < 1.0:
            raise ValueError(f"feature_prior must be in (0, 1), got {feature_prior}")
        self.weights = weights
        self.budget = budget
        self.feature_prior = float(feature_prior)
        n = weights.size
        action_space = spaces.Discrete(n)
        # features: [evidence (n), revealed mask (n), revealed values (n), own position, reveals left]
        self.num_features = 3 * n + 2
        self.transcript_length = 400 + 60 * n
        space = observation_space(self.num_features, self.transcript_length, low=-1.0, high=float(max(budget, 1)))
        self.observation_spaces = dict.fromkeys(self.possible_agents, space)
        self.action_spaces = dict.fromkeys(self.possible_agents, action_space)
        self.evidence = np.ones(n, dtype=np.int64)
        self.revealed: dict[int, int] = {}
        self.order: list[tuple[str, int]] = []
        self.choice: str | None = None
        self.tie = False
        self.judge_probability: float | None = None


    @property
    def correct_position(self) -> str:
        return "A" if true_label(self.weights, self.evidence) == 1 else "B"

    def reset(self, rng: np.random.Generator) -> None:
        draws = rng.random(self.weights.size) < self.feature_prior
        self.evidence = np.where(draws, 1, -1).astype(np.int64)
        self.revealed = {}
        self.order = []
        self.choice = None
        self.tie = False
        self.judge_probability = None
        self._rng = rng

    def acting_agents(self) -> tuple[str, ...]:
        if self.choice is not None:
            return ()
        return (SEATS[len(self.order) % 2],)

    def action_mask(self, agent: str) -> np.ndarray:
        """The features ``agent`` may reveal now: those not yet revealed (zeros while it is not to act)."""
        if agent not in self.acting_agents():
            return np.zeros(self.weights.size, dtype=np.int8)
        mask = np.ones(self.weights.size, dtype=np.int8)
        mask[list(self.revealed)] = 0
        return mask

    def check_action(self, agent: str, action: Any) -> int:
        self.check_turn(agent)
        return check_discrete_action(action, self.action_spaces[agent], agent, self.action_mask(agent))

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        ((seat, feature),) = actions.items()
        self.revealed[feature] = int(self.evidence[feature])
        self.order.append((seat, feature))
        if len(self.order) < self.budget:
            return dict.fromkeys(SEATS, 0.0)
        self.judge_probability = posterior_positive(self.weights, self.revealed, self.feature_prior)
        if abs(self.judge_probability - 0.5) < 1e-12:
            self.tie = True
            self.choice = POSITIONS[int(self._rng.integers(2))]
        else:
            self.choice = "A" if self.judge_probability > 0.5 else "B"
        return self.payoffs()

    def payoffs(self) -> dict[str, float]:
        if self.choice is None:
            return dict.fromkeys(SEATS, 0.0)
        return {"debater_a": 1.0 if self.choice == "A" else -1.0, "debater_b": 1.0 if self.choice == "B" else -1.0}

    def is_terminal(self) -> bool:
        return self.choice is not None

    def observe(self, agent: str) -> dict[str, Any]:
        n = self.weights.size
        mask = np.zeros(n)
        values = np.zeros(n)
        for feature, value in self.revealed.items():
            mask[feature], values[feature] = 1.0, value
        features = np.concatenate([self.evidence.astype(np.float64), mask, values,
                                   [SEATS.index(agent), self.budget - len(self.order)]]).astype(np.float32)
        evidence = ", ".join(f"{value:+d}" for value in self.evidence.tolist())
        text = (f"You are {agent} and argue {POSITIONS[SEATS.index(agent)]}. Evidence (the judge sees only what is "
                f"revealed): x = [{evidence}]. Reveal one feature per turn by its index.\n" + self.render_text())
        return {"observation": features, "transcript": sanitize(text, self.transcript_length)}

    def agent_info(self, agent: str) -> dict[str, Any]:
        if self.choice is not None:
            return {"verdict": self.choice, "correct_position": self.correct_position,
                    "judge_correct": self.choice == self.correct_position}
        if agent in self.acting_agents():  # the rule w and the judge are common knowledge
            return {"action_mask": self.action_mask(agent), "weights": self.weights.tolist()}
        return {}

    def render_text(self) -> str:
        lines = [f"=== debate_v0 (tabular, sparse evidence): weights {self.weights.tolist()}, budget {self.budget}",
                 "debater_a argues A (w.x > 0), debater_b argues B."]
        for seat, feature in self.order:
            lines.append(f"{seat} reveals x[{feature}] = {self.evidence[feature]:+d}")
        if self.choice is not None:
            tie = " (tie, coin flip)" if self.tie else ""
            lines.append(f"Judge: P(A) = {self.judge_probability:.3f} -> {self.choice}{tie}; correct: {self.correct_position}")
        return "\n".join(lines)

    def record(self) -> dict[str, Any]:
        return {"evidence": self.evidence.tolist(), "reveals": [[seat, feature] for seat, feature in self.order],
                "judge_probability": self.judge_probability, "verdict": self.choice, "tie": self.tie,
                "correct_position": self.correct_position,
                "judge_correct": None if self.choice is None else self.choice == self.correct_position,
                "payoffs": self.payoffs()}

    def describe(self) -> dict[str, Any]:
        return {"mode": "tabular", "weights": self.weights.tolist(), "budget": self.budget,
                "feature_prior": self.feature_prior}
