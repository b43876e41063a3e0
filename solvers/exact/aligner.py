"""Exact solution of tabular Aligner games (``aligner_v0``): the corrector's best response, the composite, win
rates, iterated distillation and the red-team value.

Source: Ji et al. (2024), "Aligner: Efficient Alignment by Learning to Correct" (a small corrector
``mu(y' | x, y)`` stacked on an upstream policy ``pi(y | x)``, trained on (question, answer, correction) triples and
then used to distill corrected answers back into the upstream model).

The corrector is regularised toward the copy prior ``mu0(y' | y) = (1 - eps) [y' = y] + eps / n`` (``n`` answers;
correcting is easier than generating: mostly copy) with weight ``beta``. For each prompt ``x`` and answer ``y``
it maximises ``E_{y' ~ mu}[r(x, y')] - beta KL(mu || mu0(. | y))``, whose maximiser is the Gibbs tilt

    mu*(y' | x, y) = mu0(y' | y) exp(r(x, y') / beta) / Z(x, y),   Z(x, y) = sum_y' mu0(y' | y) exp(r(x, y') / beta),

with value ``beta log Z(x, y)`` (:func:`corrector_kernel`, :func:`regularised_value`). As ``beta -> 0`` the tilt puts
all its mass on the best answers in the support of ``mu0(. | y)`` (every answer when ``eps > 0``), split in
proportion to ``mu0``; with ``eps = 0`` the corrector can only copy. Written out for the copy prior, with
``g = softmax(r / beta)`` and ``S = sum_y' exp(r(y') / beta)``, each row keeps ``y`` with probability
``a(y) = (1 - eps) e^{r(y)/beta} / Z(y)`` and otherwise resamples from ``g`` (``1 - a(y) = (eps / n) S / Z(y)``).

The composite (the corrected answer distribution) is ``q(y') = sum_y pi(y) mu(y' | y)`` (:func:`composite`); its win
rate against the upstream is ``P(r(y') > r(y)) + P(r(y') = r(y)) / 2`` for independent draws ``y' ~ q``, ``y ~ pi``
(:func:`win_rate`).

Iterated distillation (:func:`distill`): after each round the upstream is trained to the corrected outputs, exactly,
``pi_{t+1} = q_t = pi_t K`` with the corrector's kernel ``K`` fixed, a Markov chain on the answers. (A corrector that
re-best-responds each round plays the same ``K``: its objective is separable in ``y``, so its best response does not
depend on ``pi``.) Its fixed point is the stationary distribution of ``K``. For the tilt kernel, stationarity
``p(y') = p(y') a(y') + g(y') sum_y p(y) (1 - a(y))`` gives ``p(y) ∝ g(y) / (1 - a(y)) ∝ g(y) Z(y)``:

    p*(y) ∝ exp(r(y) / beta) [(1 - eps) exp(r(y) / beta) + (eps / n) S]        (eps > 0, beta > 0)

(:func:`tilt_fixed_point`; the chain is irreducible and aperiodic, so ``pi_t -> p*`` from any start). With
``beta -> 0`` it is uniform over the best answers; with ``eps = 0`` nothing moves (``p* = pi_0``).
:func:`stationary_distribution` finds it for any kernel as the eigenvector of ``K^T`` for eigenvalue 1.

Red team (:func:`solve` on a red-team problem): a ``red`` seat picks the prompt ``x`` and is paid ``-r(x, y')``; the
upstream ``pi(. | x)`` is fixed and the corrector commits to its kernel per prompt. The corrector's regularised
objective ``E_{x ~ rho} E_{y ~ pi(.|x)} [E_mu r - beta KL]`` is separable in ``x``, so its best response to any red
mixture ``rho`` is the per-prompt tilt above, whichever seat moves first. Given it, red minimises the expected
corrected reward ``V(x) = sum_y' q(y' | x) r(x, y')``: the game's value is ``min_x V(x)`` and red's equilibrium
strategies are the mixtures over the minimising prompts (reported: uniform over them). With ``beta = 0`` the
(red, corrector) game is exactly zero-sum and this is its minimax value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from aligngames.envs.aligner.problems import AlignerProblem
from aligngames.tables import TableShapeError, distribution, table

#: Rewards closer than this (relative to the largest reward, at least 1) count as a tie.
TIE_TOLERANCE = 1e-12

#: How far from 1 an eigenvalue may be and still count as 1 (stationary distributions).
EIGENVALUE_TOLERANCE = 1e-9


def _rewards(rewards) -> np.ndarray:
    array = table(rewards, "rewards", None, "[answer]")
    if array.ndim != 1 or array.size == 0:
        raise TableShapeError(f"rewards must be a non-empty list per answer, got shape {array.shape}")
    return array


def _check_eps_beta(eps: float, beta: float) -> None:
    if not (np.isfinite(eps) and 0.0 <= eps <= 1.0):
        raise ValueError(f"eps must be in [0, 1] (a probability of resampling), got {eps}")
    if not (np.isfinite(beta) and beta >= 0.0):
        raise ValueError(f"beta must be a finite number >= 0 (a KL weight), got {beta}")


def _tolerance(rewards: np.ndarray) -> float:
    return TIE_TOLERANCE * max(1.0, float(np.abs(rewards).max()))


def copy_prior(num_answers: int, eps: float) -> np.ndarray:
    """``mu0[y, y'] = (1 - eps) [y' = y] + eps / n``, shape ``(n, n)`` (rows y, columns y')."""
    if isinstance(num_answers, bool) or not isinstance(num_answers, int | np.integer) or num_answers < 1:
        raise ValueError(f"num_answers must be an int >= 1, got {num_answers!r}")
    _check_eps_beta(eps, 0.0)
    return (1.0 - eps) * np.eye(num_answers) + eps / num_answers


def corrector_kernel(rewards, eps: float, beta: float) -> np.ndarray:
    """The corrector's best response ``mu*(y' | y)``, shape ``(n, n)``: the Gibbs tilt of the copy prior by
    ``exp(r / beta)`` (``beta > 0``) or its ``beta -> 0`` limit, the best answers in the prior's support weighted by
    the prior (module docstring)."""
    rewards = _rewards(rewards)
    _check_eps_beta(eps, beta)
    prior = copy_prior(rewards.size, eps)  # (n, n)
    if beta > 0:
        with np.errstate(divide="ignore"):
            logits = np.log(prior) + rewards[None, :] / beta  # (n, n); -inf off the support
        return np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    support = prior > 0
    masked = np.where(support, rewards[None, :], -np.inf)  # (n, n)
    best = masked.max(axis=1, keepdims=True)
    weights = np.where(support & (masked >= best - _tolerance(rewards)), prior, 0.0)
    return weights / weights.sum(axis=1, keepdims=True)


def regularised_value(upstream, rewards, eps: float, beta: float) -> float:
    """``E_{y ~ pi} max_mu (E_mu r - beta KL(mu || mu0(. | y))) = E_{y ~ pi} beta log Z(y)``
    (``beta = 0``: the best reward in the prior's support)."""
    rewards = _rewards(rewards)
    upstream = distribution(upstream, "upstream", rewards.size)
    _check_eps_beta(eps, beta)
    prior = copy_prior(rewards.size, eps)
    if beta > 0:
        with np.errstate(divide="ignore"):
            per_answer = beta * logsumexp(np.log(prior) + rewards[None, :] / beta, axis=1)  # (n,)
    else:
        per_answer = np.where(prior > 0, rewards[None, :], -np.inf).max(axis=1)
    return float(upstream @ per_answer)


def _kernel(kernel) -> np.ndarray:
    array = table(kernel, "kernel", None, "[y][y']")
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.size == 0:
        raise TableShapeError(f"kernel must be a square table [y][y'], got shape {array.shape}")
    for index, row in enumerate(array):
        distribution(row, f"kernel[{index}]")
    return array


def composite(upstream, kernel) -> np.ndarray:
    """``q(y') = sum_y pi(y) mu(y' | y)``: the distribution of the corrected answers."""
    kernel = _kernel(kernel)
    upstream = distribution(upstream, "upstream", kernel.shape[0])
    return upstream @ kernel


def expected_reward(answer_distribution, rewards) -> float:
    """``sum_y p(y) r(y)``."""
    rewards = _rewards(rewards)
    return float(distribution(answer_distribution, "answer_distribution", rewards.size) @ rewards)


def win_rate(corrected, upstream, rewards) -> float:
    """``P(r(y') > r(y)) + P(r(y') = r(y)) / 2`` for independent ``y' ~ corrected``, ``y ~ upstream``."""
    rewards = _rewards(rewards)
    corrected = distribution(corrected, "corrected", rewards.size)
    upstream = distribution(upstream, "upstream", rewards.size)
    difference = rewards[:, None] - rewards[None, :]  # (y', y)
    tolerance = _tolerance(rewards)
    score = np.where(np.abs(difference) <= tolerance, 0.5, (difference > 0).astype(np.float64))
    return float(corrected @ score @ upstream)


def stationary_distribution(kernel) -> np.ndarray:
    """The stationary distribution ``p = p K`` of a Markov kernel: the eigenvector of ``K^T`` for eigenvalue 1,
    normalised. Raises ``ValueError`` when it is not unique (eigenvalue 1 repeated: several closed classes,
    e.g. the copy-only kernel of ``eps = 0``)."""
    kernel = _kernel(kernel)
    values, vectors = np.linalg.eig(kernel.T)
    ones = np.flatnonzero(np.abs(values - 1.0) <= EIGENVALUE_TOLERANCE)
    if ones.size != 1:
        raise ValueError(f"kernel has {ones.size} eigenvalues equal to 1: its stationary distribution is not unique")
    vector = np.real(vectors[:, ones[0]])
    vector = np.clip(vector / vector.sum(), 0.0, None)
    return vector / vector.sum()


def tilt_fixed_point(rewards, eps: float, beta: float) -> np.ndarray:
    """The closed-form stationary distribution of the tilt kernel,
    ``p*(y) ∝ e^{r(y)/beta} ((1 - eps) e^{r(y)/beta} + (eps / n) S)`` (module docstring); needs ``eps > 0`` and
    ``beta > 0`` (the limits are :func:`fixed_point`'s)."""
    rewards = _rewards(rewards)
    _check_eps_beta(eps, beta)
    if eps == 0 or beta == 0:
        raise ValueError(f"the closed form needs eps > 0 and beta > 0, got eps={eps}, beta={beta}")
    scaled = rewards / beta
    shift = scaled.max()
    tilt = np.exp(scaled - shift)  # e^{r/beta} up to the common factor e^{shift}
    weights = tilt * ((1.0 - eps) * tilt + eps / rewards.size * tilt.sum())
    return weights / weights.sum()


def fixed_point(upstream, kernel) -> np.ndarray:
    """``lim_t pi_0 K^t``: the stationary distribution when it is unique, else (a kernel with a repeated eigenvalue
    1, such as the copy-only ``eps = 0`` corrector) the power iteration's limit from ``upstream``."""
    kernel = _kernel(kernel)
    upstream = distribution(upstream, "upstream", kernel.shape[0])
    try:
        return stationary_distribution(kernel)
    except ValueError:
        current = upstream
        for _ in range(100_000):
            following = current @ kernel
            if np.abs(following - current).sum() < 1e-13:
                return following
            current = following
        raise ValueError("iterated correction did not converge in 100000 rounds (a periodic kernel?)") from None


@dataclass(frozen=True)
class Distillation:
    """Rounds of iterated distillation ``pi_{t+1} = q_t = pi_t K`` for one prompt.

    Attributes:
        upstreams: shape ``(rounds + 1, n)``: ``pi_0 .. pi_rounds``.
        composites: shape ``(rounds, n)``: ``q_0 .. q_{rounds - 1}`` (``q_t = pi_{t+1}``).
        expected_rewards: shape ``(rounds,)``: ``E_{q_t} r``.
        fixed_point: the limit ``lim_t pi_t``.
    """

    upstreams: np.ndarray
    composites: np.ndarray
    expected_rewards: np.ndarray
    fixed_point: np.ndarray


def distill(upstream, kernel, rewards, rounds: int) -> Distillation:
    """``rounds`` rounds of exact distillation of the corrected outputs into the upstream (the kernel fixed)."""
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 1:
        raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
    kernel = _kernel(kernel)
    rewards = _rewards(rewards)
    if rewards.size != kernel.shape[0]:
        raise TableShapeError(f"rewards has {rewards.size} answers but the kernel {kernel.shape[0]}")
    upstreams = [distribution(upstream, "upstream", kernel.shape[0])]
    for _ in range(rounds):
        upstreams.append(upstreams[-1] @ kernel)
    upstreams_array = np.array(upstreams)
    return Distillation(upstreams_array, upstreams_array[1:], upstreams_array[1:] @ rewards,
                        fixed_point(upstreams[0], kernel))


@dataclass(frozen=True)
class AlignerSolution:
    """The corrector's best response and its accounts, per prompt (one prompt in a cooperative problem).

    Attributes:
        problem: the problem solved.
        kernels: shape ``(num_prompts, n, n)``, ``mu*(y' | x, y)``.
        composites: shape ``(num_prompts, n)``, ``q(. | x)``.
        expected_rewards: shape ``(num_prompts,)``, ``E_q r(x, .)``.
        upstream_rewards: shape ``(num_prompts,)``, ``E_pi r(x, .)`` (no corrector).
        win_rates: shape ``(num_prompts,)``, the composite's win rate against the upstream.
        regularised_values: shape ``(num_prompts,)``, the corrector's objective at its optimum.
        red_strategy: shape ``(num_prompts,)``: red's equilibrium mixture (uniform over the minimising prompts).
        value: ``min_x E_q r(x, .)`` (the expected reward in a cooperative problem).
        upstream_value: ``min_x E_pi r(x, .)``: the value red gets without a corrector.
        distillations: one :class:`Distillation` per prompt, or ``None`` when no rounds were asked for.
    """

    problem: AlignerProblem
    kernels: np.ndarray
    composites: np.ndarray
    expected_rewards: np.ndarray
    upstream_rewards: np.ndarray
    win_rates: np.ndarray
    regularised_values: np.ndarray
    red_strategy: np.ndarray
    value: float
    upstream_value: float
    distillations: tuple[Distillation, ...] | None = None

    def round_expected_rewards(self) -> np.ndarray:
        """Shape ``(rounds,)``: per distillation round, ``min_x E_{q_t(.|x)} r(x, .)`` (red best-responding each
        round; in a cooperative problem the expected corrected reward)."""
        if self.distillations is None:
            raise ValueError("solve(problem, rounds=R) with R >= 1 to get distillation rounds")
        return np.min([distillation.expected_rewards for distillation in self.distillations], axis=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``kernel`` (rows y, columns y'), ``composite``, ``expected_reward``, ``win_rate_vs_upstream``,
        ... For a red-team problem each is a mapping by prompt, and ``red`` holds the value and red's strategy."""
        problem = self.problem
        answers = list(problem.answers)

        def by_answer(vector) -> dict[str, float]:
            return dict(zip(answers, np.asarray(vector).tolist()))

        per_prompt = {
            "kernel": [kernel.tolist() for kernel in self.kernels],
            "composite": [by_answer(row) for row in self.composites],
            "expected_reward": self.expected_rewards.tolist(),
            "upstream_reward": self.upstream_rewards.tolist(),
            "win_rate_vs_upstream": self.win_rates.tolist(),
            "regularised_value": self.regularised_values.tolist(),
        }
        if self.distillations is not None:
            per_prompt["fixed_point"] = [by_answer(d.fixed_point) for d in self.distillations]
            per_prompt["fixed_point_expected_reward"] = [float(d.fixed_point @ problem.rewards[i])
                                                         for i, d in enumerate(self.distillations)]
        if problem.red_team:
            result = {key: dict(zip(problem.prompts, values)) for key, values in per_prompt.items()}
        else:
            result = {key: values[0] for key, values in per_prompt.items()}
        result = {"problem": problem.to_dict(), "answers": answers, **result}
        if self.distillations is not None:
            result["rounds"] = int(self.distillations[0].composites.shape[0])
            result["round_expected_reward"] = self.round_expected_rewards().tolist()
        if problem.red_team:
            result["red"] = {"value": self.value, "strategy": dict(zip(problem.prompts, self.red_strategy.tolist())),
                             "upstream_value": self.upstream_value,
                             "best_prompts": [p for p, w in zip(problem.prompts, self.red_strategy) if w > 0]}
        return result


def solve(problem: AlignerProblem, rounds: int = 0) -> AlignerSolution:
    """The corrector's best response on every prompt, the composite and its accounts, red's best response, and
    (``rounds >= 1``) that many rounds of iterated distillation with the fixed point."""
    if not isinstance(problem, AlignerProblem):
        raise TypeError(f"problem must be an AlignerProblem, got {type(problem).__name__}")
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 0:
        raise ValueError(f"rounds must be an int >= 0, got {rounds!r}")
    eps, beta = problem.eps, problem.beta
    kernels = np.array([corrector_kernel(row, eps, beta) for row in problem.rewards])  # (P, n, n)
    composites = np.einsum("py,pyz->pz", problem.upstream, kernels)  # (P, n)
    expected = (composites * problem.rewards).sum(axis=1)
    upstream_rewards = (problem.upstream * problem.rewards).sum(axis=1)
    wins = np.array([win_rate(q, pi, r) for q, pi, r in zip(composites, problem.upstream, problem.rewards)])
    values = np.array([regularised_value(pi, r, eps, beta) for pi, r in zip(problem.upstream, problem.rewards)])
    value = float(expected.min())
    minimisers = expected <= value + _tolerance(problem.rewards)
    distillations = None
    if rounds:
        distillations = tuple(distill(pi, kernel, r, rounds)
                              for pi, kernel, r in zip(problem.upstream, kernels, problem.rewards))
    return AlignerSolution(problem, kernels, composites, expected, upstream_rewards, wins, values,
                           minimisers / minimisers.sum(), value, float(upstream_rewards.min()), distillations)
