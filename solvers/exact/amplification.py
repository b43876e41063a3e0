"""Exact accuracy of iterated distillation and amplification (IDA) and recursive reward modelling (RRM).

Sources: Christiano, Shlegeris & Amodei 2018, "Supervising strong learners by amplifying weak experts"
(IDA); Leike et al. 2018, "Scalable agent alignment via reward modeling" (RRM). The task model and the
recursion are in :mod:`aligngames.envs.amplification.problems`; with ``flip(a, e) = (1 - e) a + e (1 - a)``,
``delta`` the overseer's error and ``eps`` the distillation error:

    A_k = flip(f(a_{k-1}), delta),    a_k = flip(A_k, eps),    a_0 = base accuracy.

Closed forms (the tests check them):

- **parity.** In the bias ``s = 2a - 1`` a flip multiplies by ``(1 - 2e)`` and parity raises to the ``b``:
  ``s_k = c s_{k-1}^b`` with ``c = (1 - 2 delta)(1 - 2 eps)``, so
  ``s_k = c^((b^k - 1) / (b - 1)) s_0^(b^k)`` (``c^k s_0`` for ``b = 1``): any error drives the accuracy to
  1/2, doubly exponentially in ``k``. Decomposing into subtasks that all matter compounds errors.
- **vote** (redundant subtasks). With ``u = a - 1/2`` and the per-level noise ``n = compose(delta, eps) =
  delta + eps - 2 delta eps``, ``b = 3``: ``f(1/2 + u) = 1/2 + 3u/2 - 2u^3``, so the distilled map is
  ``u -> (1 - 2n)(3u/2 - 2u^3)``. Its fixed points are ``u = 0`` and ``u^2 = 3/4 - 1 / (2 (1 - 2n))``, real iff
  ``n < 1/6``; the slope there is ``3 - 3 (1 - 2n) < 1``: stable, and ``u = 0`` is unstable. So for
  ``n < 1/6`` every ``a_0 > 1/2`` converges to ``a* = 1 - (1/2 - sqrt(3/4 - 1 / (2 (1 - 2n))))``
  (``n = 0.1``: ``a* = 0.853553``), and for ``n >= 1/6`` to 1/2. For odd ``b`` the same pitchfork sits at
  ``(1 - 2n) f'(1/2) = 1`` with ``f'(1/2) = b C(b - 1, (b - 1)/2) / 2^(b - 1)`` (``f`` is concave above 1/2):
  the threshold ``n* = (1 - 1 / f'(1/2)) / 2`` (1/6 for ``b = 3``, 7/30 for ``b = 5``).
- **majority** over uniform leaves: ``f'(1/2) = 3/4`` for ``b = 3`` and ``1 - f(a) ~ 1.5 (1 - a)`` near 1, so
  1/2 is the only stable point: even a perfect overseer loses accuracy level by level.

Compute / oversight trade-off for a depth-``k`` root: amplifying the top ``j`` levels over ``M_{k - j}`` costs
``b^j`` model calls and ``(b^j - 1) / (b - 1)`` overseer calls (``j`` for ``b = 1``) and has accuracy
``Amp^j(a_{k - j})`` (:meth:`AmplificationProblem.amplified_accuracy`); ``j = 0`` is the distilled ``M_k``
(one call, no oversight) and ``j = k`` full amplification (HCH).

**Recursive reward modelling (the model stated precisely).** Agent ``0`` answers leaves with accuracy
``q_0 = a_0``. The level-``k`` reward model ``R_k`` judges answers to depth-``k`` tasks; its training
labels come from the overseer evaluating with the level-``(k - 1)`` agent's help: the overseer asks agent
``k - 1`` the ``b`` subtasks, combines their answers by the rule (error ``delta``) into a reference answer, and
labels an answer good iff it matches. ``R_k`` learns that labelling with error ``eps_rm``
(``reward_model_error``: its reference is flipped). ``R_k`` therefore judges every answer correctly with
probability ``r_k = flip(flip(f(q_{k - 1}), delta), eps_rm)`` (the verdict is right iff its reference is).
Agent ``k`` is trained by RL on ``R_k``; the reward-maximising answer is ``R_k``'s reference (the reward
model's mistakes are exploited, not averaged out), which RL reaches except with probability ``eps_rl``
(``policy_error``): ``q_k = flip(r_k, eps_rl)``. So RRM is IDA with per-level noise
``compose(delta, eps_rm, eps_rl)``: one more learned step per level than IDA, and with ``eps_rl = 0`` and
``eps_rm = eps`` exactly IDA (the tests check both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq

from aligngames.envs.amplification.problems import (
    AmplificationProblem,
    check_rule,
    combination_accuracy,
    combine,
    compose_errors,
    flip,
)

#: Grid points used to bracket fixed points in (1/2, 1].
FIXED_POINT_GRID = 2001


def check_noise(noise: float, name: str = "noise") -> float:
    value = float(noise)
    if not (np.isfinite(value) and 0.0 <= value <= 0.5):
        raise ValueError(f"{name} must be a probability in [0, 0.5], got {noise!r}")
    return value


def level_map(rule: str, branching: int, noise: float, accuracy: float) -> float:
    """One level of the distilled recursion: ``flip(f(a), noise)`` (``noise = compose(delta, eps)``)."""
    return flip(combination_accuracy(rule, accuracy, branching), noise)


def parity_closed_form(problem: AmplificationProblem) -> np.ndarray:
    """``[a_0, ..., a_k]`` for ``rule="parity"`` from ``s_k = c^((b^k - 1)/(b - 1)) s_0^(b^k)``."""
    if problem.rule != "parity":
        raise ValueError(f"parity_closed_form needs rule='parity', got rule={problem.rule!r}")
    b = problem.branching
    c = (1.0 - 2.0 * problem.overseer_error) * (1.0 - 2.0 * problem.distillation_error)
    s0 = 2.0 * problem.base_accuracy - 1.0
    values = []
    for k in range(problem.depth + 1):
        calls = k if b == 1 else (b ** k - 1) // (b - 1)
        values.append(0.5 * (1.0 + c ** calls * s0 ** (b ** k)))
    return np.array(values)


def vote_slope_at_half(branching: int) -> float:
    """``f'(1/2) = b C(b - 1, (b - 1)/2) / 2^(b - 1)`` for the vote of ``b`` (odd) answers."""
    check_rule("vote", branching)
    m = (branching - 1) // 2
    return branching * math.comb(branching - 1, m) / 2.0 ** (branching - 1)


def vote_threshold(branching: int) -> float:
    """The per-level noise ``n*`` below which vote-amplification keeps an accuracy above 1/2 at every depth:
    ``(1 - 1 / f'(1/2)) / 2`` (1/6 for ``b = 3``; 0 for ``b = 1``)."""
    return 0.5 * (1.0 - 1.0 / vote_slope_at_half(branching))


def vote_fixed_point_three(noise: float) -> float:
    """The stable fixed-point accuracy of vote-amplification with ``b = 3`` and per-level ``noise`` (< 1/6):
    ``1/2 + sqrt(3/4 - 1 / (2 (1 - 2 noise)))``; 1/2 at or above the threshold."""
    noise = check_noise(noise)
    radicand = 0.75 - 1.0 / (2.0 * (1.0 - 2.0 * noise)) if noise < 0.5 else -1.0
    return 0.5 + math.sqrt(radicand) if radicand > 0 else 0.5


@dataclass(frozen=True)
class FixedPoint:
    """A fixed point ``a = flip(f(a), noise)`` in [1/2, 1] with the map's slope there (stable iff ``|slope| < 1``)."""

    accuracy: float
    slope: float

    @property
    def stable(self) -> bool:
        return abs(self.slope) < 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "slope": self.slope, "stable": self.stable}


def _slope(rule: str, branching: int, noise: float, accuracy: float, step: float = 1e-6) -> float:
    high, low = min(accuracy + step, 1.0), max(accuracy - step, 0.5)
    return (level_map(rule, branching, noise, high) - level_map(rule, branching, noise, low)) / (high - low)


def fixed_points(rule: str, branching: int, noise: float) -> list[FixedPoint]:
    """Every fixed point of the per-level map in [1/2, 1], ascending (1/2 is one by symmetry for odd rules and
    for parity), found by a sign change on a grid and Brent's method."""
    check_rule(rule, branching)
    noise = check_noise(noise)

    def gap(a: float) -> float:
        return level_map(rule, branching, noise, a) - a

    points = [0.5] if abs(gap(0.5)) < 1e-12 else []
    grid = np.linspace(0.5, 1.0, FIXED_POINT_GRID)[1:]
    values = [gap(float(a)) for a in grid]
    for left, right, g_left, g_right in zip(grid[:-1], grid[1:], values[:-1], values[1:]):
        if g_left == 0.0:
            points.append(float(left))
        elif g_left * g_right < 0.0:
            points.append(float(brentq(gap, left, right, xtol=1e-14)))
    if values[-1] == 0.0:
        points.append(1.0)
    points = sorted(set(round(point, 12) for point in points))
    return [FixedPoint(point, _slope(rule, branching, noise, point)) for point in points]


def limit_accuracy(rule: str, branching: int, noise: float, base_accuracy: float) -> float:
    """``lim_k a_k`` from ``a_0 = base_accuracy``: the map is increasing on [1/2, 1], so the iterates move
    monotonically to the nearest fixed point in their direction (below 1/2 by the symmetry ``a -> 1 - a``)."""
    if base_accuracy < 0.5:
        return 1.0 - limit_accuracy(rule, branching, noise, 1.0 - base_accuracy)
    points = [point.accuracy for point in fixed_points(rule, branching, noise)]
    step = level_map(rule, branching, noise, base_accuracy) - base_accuracy
    if abs(step) < 1e-15:
        return float(base_accuracy)
    if step < 0:
        return max([p for p in points if p <= base_accuracy + 1e-12], default=0.5)
    return min([p for p in points if p >= base_accuracy - 1e-12], default=1.0)


def tradeoff_table(problem: AmplificationProblem) -> list[dict[str, Any]]:
    """One row per number of amplified levels ``j = 0..k``: model calls ``b^j``, overseer calls, accuracy."""
    b = problem.branching
    rows = []
    for levels in range(problem.depth + 1):
        rows.append({"levels": levels, "frontier_model": f"M_{problem.depth - levels}",
                     "model_calls": b ** levels, "overseer_calls": levels if b == 1 else (b ** levels - 1) // (b - 1),
                     "accuracy": problem.amplified_accuracy(levels)})
    return rows


def rrm_accuracies(problem: AmplificationProblem, reward_model_error: float,
                   policy_error: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Recursive reward modelling (see the module docstring).

    Returns:
        ``(reward_model, agent)``: ``r_1..r_k`` (shape ``(k,)``), each ``R_k``'s probability of judging an
        answer correctly, and ``q_0..q_k`` (shape ``(k + 1,)``), the agents' accuracies.
    """
    reward_model_error = check_noise(reward_model_error, "reward_model_error")
    policy_error = check_noise(policy_error, "policy_error")
    agent, reward_model = [problem.base_accuracy], []
    for _ in range(problem.depth):
        reference = problem.amplify(agent[-1])           # the overseer helped by agent k - 1
        reward_model.append(flip(reference, reward_model_error))
        agent.append(flip(reward_model[-1], policy_error))  # RL reproduces R_k's reference
    return np.array(reward_model), np.array(agent)


def simulate_trees(problem: AmplificationProblem, levels: int, num_trees: int, rng: np.random.Generator) -> float:
    """Monte Carlo on explicit trees: the share of ``num_trees`` depth-``k`` trees whose root is answered right
    when leaves are answered by ``M_0`` (right w.p. ``a_0``), every node combines its children and slips
    w.p. ``delta``, and each node below the top ``levels`` (a distilled model's answer) is flipped once more
    w.p. ``eps``. Vectorised over trees; ``b^k`` leaves per tree."""
    if num_trees < 1:
        raise ValueError(f"num_trees must be >= 1, got {num_trees}")
    problem.amplified_accuracy(levels)  # checks levels
    b, k = problem.branching, problem.depth
    leaves = b ** k
    if problem.rule == "vote":
        truth = np.repeat(rng.integers(2, size=(num_trees, 1)), leaves, axis=1)
    else:
        truth = rng.integers(2, size=(num_trees, leaves))
    answers = truth ^ (rng.random((num_trees, leaves)) >= problem.base_accuracy)
    for depth in range(1, k + 1):
        truth = _combine_rows(problem.rule, truth.reshape(num_trees, -1, b))
        answers = _combine_rows(problem.rule, answers.reshape(num_trees, -1, b))
        answers = answers ^ (rng.random(answers.shape) < problem.overseer_error)
        if depth <= k - levels:  # a distilled model's answer
            answers = answers ^ (rng.random(answers.shape) < problem.distillation_error)
    return float(np.mean(answers[:, 0] == truth[:, 0]))


def _combine_rows(rule: str, groups: np.ndarray) -> np.ndarray:
    """``(trees, nodes, b) -> (trees, nodes)``: XOR or majority over the last axis."""
    total = groups.sum(axis=-1)
    return (total % 2) if rule == "parity" else (2 * total > groups.shape[-1]).astype(np.int64)


@dataclass(frozen=True)
class AmplificationSolution:
    """Everything ``aligngames solve amplification`` reports.

    Attributes:
        problem: the setting.
        distilled: ``a_0..a_k``.
        amplified: ``A_1..A_k``.
        level_noise: ``compose(delta, eps)``, the flip added per level.
        fixed_points: of the per-level map in [1/2, 1].
        limit: ``lim a_k`` from ``a_0``.
        threshold: vote: the noise below which accuracy stays above 1/2 (None for other rules).
        tradeoff: rows of :func:`tradeoff_table`.
        rrm_reward_model, rrm_agent: :func:`rrm_accuracies` (empty without a reward-model error).
    """

    problem: AmplificationProblem
    distilled: np.ndarray
    amplified: np.ndarray
    level_noise: float
    fixed_points: list[FixedPoint]
    limit: float
    threshold: float | None
    tradeoff: list[dict[str, Any]]
    rrm_reward_model: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rrm_agent: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reward_model_error: float | None = None
    policy_error: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        result = {"problem": self.problem.to_dict(), "distilled_accuracy": self.distilled.tolist(),
                  "amplified_accuracy": self.amplified.tolist(), "level_noise": self.level_noise,
                  "fixed_points": [point.to_dict() for point in self.fixed_points], "limit_accuracy": self.limit,
                  "threshold": self.threshold, "tradeoff": self.tradeoff}
        if self.reward_model_error is not None:
            result["rrm"] = {"reward_model_error": self.reward_model_error, "policy_error": self.policy_error,
                             "reward_model_accuracy": self.rrm_reward_model.tolist(),
                             "agent_accuracy": self.rrm_agent.tolist()}
        return result


def solve(problem: AmplificationProblem, *, reward_model_error: float | None = None,
          policy_error: float = 0.0) -> AmplificationSolution:
    """Accuracy by depth, fixed points, the limit, the threshold and the trade-off table (and RRM when a
    ``reward_model_error`` is given)."""
    distilled = problem.distilled_accuracies()
    amplified = np.array([problem.amplify(float(a)) for a in distilled[:-1]])
    noise = compose_errors(problem.overseer_error, problem.distillation_error)
    threshold = vote_threshold(problem.branching) if problem.rule == "vote" else None
    rrm = rrm_accuracies(problem, reward_model_error, policy_error) if reward_model_error is not None else None
    return AmplificationSolution(
        problem, distilled, amplified, noise, fixed_points(problem.rule, problem.branching, noise),
        limit_accuracy(problem.rule, problem.branching, noise, problem.base_accuracy), threshold,
        tradeoff_table(problem), *(rrm if rrm is not None else (np.zeros(0), np.zeros(0))),
        reward_model_error=None if reward_model_error is None else float(reward_model_error),
        policy_error=float(policy_error))


__all__ = ["AmplificationSolution", "FixedPoint", "combination_accuracy", "combine", "compose_errors", "fixed_points",
           "flip", "level_map", "limit_accuracy", "parity_closed_form", "rrm_accuracies", "simulate_trees", "solve",
           "tradeoff_table", "vote_fixed_point_three", "vote_slope_at_half", "vote_threshold"]
