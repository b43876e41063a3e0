"""The exact value of sparse-evidence debate, and so the honest debater's advantage.

Irving, Christiano and Amodei 2018 ("AI safety via debate") show that with a judge who can check
only a few pieces of evidence, debate lets that judge decide questions it could not decide alone,
provided the honest debater has the advantage. In the tabular ``debate_v0``
(:mod:`aligngames.envs.debate.sparse`) the game is small enough to solve by exhaustive minimax:

    for each evidence vector x (weighted by its prior probability):
        value(revealed) = judge_correct(revealed)                         if |revealed| = budget
        value(revealed) = max / min over unrevealed i of value(revealed + {i: x_i})
                          (max when the honest debater moves, min for the liar)
    judge_correct = 1 if the Bayes judge names the truth, 0 if not, 1/2 on a tie (a coin flip)

which gives ``P(the judge is right | optimal debate)``, with the honest debater moving first or
second. The honest advantage is that probability minus 1/2 (what a judge who sees nothing gets),
and it is compared with a judge who sees ``budget`` features chosen at random. The search is
memoised on the revealed set per ``x``, and the judge's posterior on the revealed features.

CLI: ``aligngames solve sparse_debate --weights 3,2,2,1,1,1,1 --budget 4``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aligngames.agent import Agent
from aligngames.envs.debate.sparse import DEFAULT_BUDGET, DEFAULT_WEIGHTS, posterior_positive, true_label


@dataclass(frozen=True)
class SparseDebateValues:
    """Probabilities that the judge names the truth.

    Attributes:
        honest_first: optimal debate, the honest debater reveals first.
        liar_first: optimal debate, the liar reveals first.
        debater_a_first: the env's order (``debater_a``, who argues A, moves first).
        random_reveals: no debate; ``budget`` features revealed uniformly at random.
        no_evidence: the judge sees nothing.
    """

    honest_first: float
    liar_first: float
    debater_a_first: float
    random_reveals: float
    no_evidence: float

    @property
    def honest_advantage(self) -> float:
        """``P(judge right | optimal debate) - 1/2``, averaged over who moves first."""
        return 0.5 * (self.honest_first + self.liar_first) - 0.5


class _Game:
    def __init__(self, weights: Sequence[float], budget: int, feature_prior: float) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.budget = budget
        self.feature_prior = feature_prior
        self.n = self.weights.size
        self._memo: dict[tuple, dict] = {}  # (evidence, honest_first) -> {revealed: value}
        self._posteriors: dict[tuple, float] = {}  # revealed -> P(y = 1 | revealed)

    def judge_positive(self, revealed: tuple[tuple[int, int], ...]) -> float:
        if revealed not in self._posteriors:
            self._posteriors[revealed] = posterior_positive(self.weights, dict(revealed), self.feature_prior)
        return self._posteriors[revealed]

    def judge_correct(self, revealed: tuple[tuple[int, int], ...], label: int) -> float:
        probability = self.judge_positive(revealed)
        if abs(probability - 0.5) < 1e-12:
            return 0.5
        return 1.0 if (probability > 0.5) == (label == 1) else 0.0

    def value(self, evidence: tuple[int, ...], honest_first: bool,
              revealed: tuple[tuple[int, int], ...] = ()) -> float:
        """P(judge right) under optimal play from ``revealed`` (sorted ``(feature, value)`` pairs)."""
        label = true_label(self.weights, np.array(evidence))
        memo = self._memo.setdefault((evidence, honest_first), {})

        def search(state: tuple[tuple[int, int], ...]) -> float:
            if len(state) == self.budget:
                return self.judge_correct(state, label)
            if state in memo:
                return memo[state]
            honest_moves = (len(state) % 2 == 0) == honest_first
            shown = {i for i, _ in state}
            children = [search(tuple(sorted((*state, (i, evidence[i]))))) for i in range(self.n) if i not in shown]
            memo[state] = max(children) if honest_moves else min(children)
            return memo[state]

        return search(revealed)

    def prior(self, evidence: tuple[int, ...]) -> float:
        p = self.feature_prior
        return float(np.prod([p if v == 1 else 1.0 - p for v in evidence]))


def solve_sparse_debate(weights: Sequence[float] = DEFAULT_WEIGHTS, budget: int = DEFAULT_BUDGET,
                        feature_prior: float = 0.5) -> SparseDebateValues:
    """The exact judge accuracies of :class:`SparseDebateValues` for one setting."""
    game = _Game(weights, budget, feature_prior)
    if not 1 <= budget <= game.n:
        raise ValueError(f"budget must be in 1..{game.n}, got {budget}")
    honest_first = liar_first = a_first = random_reveals = 0.0
    for evidence in itertools.product((-1, 1), repeat=game.n):
        weight = game.prior(evidence)
        label = true_label(game.weights, np.array(evidence))
        honest, liar = game.value(evidence, True), game.value(evidence, False)
        honest_first += weight * honest
        liar_first += weight * liar
        a_first += weight * (honest if label == 1 else liar)  # debater_a is honest exactly when y = 1
        subsets = list(itertools.combinations(range(game.n), budget))
        random_reveals += weight * np.mean([game.judge_correct(tuple((i, evidence[i]) for i in subset), label)
                                            for subset in subsets])
    return SparseDebateValues(honest_first, liar_first, a_first, float(random_reveals), 0.5)


class MinimaxRevealer(Agent):
    """Plays the tabular ``debate_v0`` optimally (the minimax move; ties go to the lowest feature index).

    Args:
        weights, budget, feature_prior: the env's settings.
    """

    def __init__(self, weights: Sequence[float] = DEFAULT_WEIGHTS, budget: int = DEFAULT_BUDGET,
                 feature_prior: float = 0.5) -> None:
        super().__init__()
        self.game = _Game(weights, budget, feature_prior)

    def act(self, observation, agent, action_space, info=None):
        n = self.game.n
        features = np.asarray(observation["observation"], dtype=np.float64)
        evidence = tuple(int(v) for v in features[:n])
        revealed = tuple((i, evidence[i]) for i in range(n) if features[n + i] > 0.5)
        position = round(features[3 * n])  # 0 argues A (y = 1), 1 argues B
        label = true_label(self.game.weights, np.array(evidence))
        honest = (position == 0) == (label == 1)
        honest_first = (len(revealed) % 2 == 0) == honest  # the mover is honest iff the honest side moves now
        best_feature, best_value = -1, None
        for i in range(n):
            if any(j == i for j, _ in revealed):
                continue
            child = tuple(sorted((*revealed, (i, evidence[i]))))
            value = self.game.value(evidence, honest_first, child)
            better = best_value is None or (value > best_value + 1e-12 if honest else value < best_value - 1e-12)
            if better:
                best_feature, best_value = i, value
        return best_feature

    def describe(self):
        return {"class": "MinimaxRevealer", "weights": self.game.weights.tolist(), "budget": self.game.budget,
                "feature_prior": self.game.feature_prior}
