"""Scripted players for the Aligner game (``aligner_v0``).

- :class:`UpstreamTable`: the upstream seat (``policy`` / ``blue``); samples ``y ~ pi(. | x)`` from the problem's
  ``upstream`` table (or a table of its own);
- :class:`TiltCorrector`: the corrector's exact best response, ``y' ~ mu*(. | x, y)``, the Gibbs tilt of the copy
  prior (:func:`aligngames.solvers.exact.aligner.corrector_kernel`), at the problem's ``beta`` or its own;
- :class:`CopyCorrector`: ``y' = y`` (tabular and language mode): the corrector that changes nothing;
- :class:`FixedAnswerPolicy`: the language-mode upstream that always writes the same answer (a weak policy to
  correct);
- :class:`RedTable`: the red seat; samples the prompt from a mixture (default: the solver's equilibrium
  strategy, uniform over the prompts with the lowest expected corrected reward).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aligngames.agent import Agent
from aligngames.envs.aligner.problems import AlignerProblem
from aligngames.solvers.exact.aligner import corrector_kernel, solve
from aligngames.tables import distribution
from aligngames.text import sanitize


def _problem(info: Mapping[str, Any] | None, agent: str, who: str) -> AlignerProblem:
    if not info or "problem" not in info:
        raise ValueError(f"agent {agent!r}: {who} needs info['problem'] (aligner_v0's tabular mode)")
    return AlignerProblem.from_mapping(info["problem"])


class UpstreamTable(Agent):
    """Samples the answer from ``policy[prompt]`` (default: the problem's ``upstream``; rows are distributions)."""

    def __init__(self, policy: Sequence[Sequence[float]] | None = None) -> None:
        super().__init__()
        self.policy = None if policy is None else np.array(
            [distribution(row, f"policy[{index}]") for index, row in enumerate(policy)])

    def act(self, observation, agent, action_space, info=None):
        problem = _problem(info, agent, "UpstreamTable")
        table = problem.upstream if self.policy is None else self.policy
        if table.shape != problem.upstream.shape:
            raise ValueError(f"agent {agent!r}: UpstreamTable has shape {table.shape}; the game's upstream table "
                             f"[prompt][answer] has shape {problem.upstream.shape}")
        return int(self.rng.choice(action_space.n, p=table[info["prompt_index"]]))

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "policy": None if self.policy is None else self.policy.tolist()}


class TiltCorrector(Agent):
    """Samples ``y' ~ mu*(. | x, y) ∝ mu0(. | y) exp(r(x, .) / beta)`` (``beta`` default: the problem's)."""

    def __init__(self, beta: float | None = None) -> None:
        super().__init__()
        if beta is not None and not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {beta}")
        self.beta = beta

    def act(self, observation, agent, action_space, info=None):
        problem = _problem(info, agent, "TiltCorrector")
        beta = problem.beta if self.beta is None else self.beta
        kernel = corrector_kernel(problem.rewards[info["prompt_index"]], problem.eps, beta)  # (n, n)
        return int(self.rng.choice(action_space.n, p=kernel[info["answer_index"]]))

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "beta": self.beta}


class CopyCorrector(Agent):
    """Copies the upstream answer: ``info['answer_index']`` in tabular mode, ``info['answer']`` in language mode."""

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        if "answer_index" in info:
            return int(info["answer_index"])
        if "answer" in info:
            return str(info["answer"])[: action_space.max_length]
        raise ValueError(f"agent {agent!r}: CopyCorrector needs info['answer_index'] or info['answer'] "
                         f"(aligner_v0's corrector seat)")


class FixedAnswerPolicy(Agent):
    """Language mode's upstream seat: always writes ``answer`` (cut to the action space's limit)."""

    def __init__(self, answer: str) -> None:
        super().__init__()
        if not isinstance(answer, str):
            raise ValueError(f"answer must be a str, got {type(answer).__name__}")
        self.answer = answer

    def act(self, observation, agent, action_space, info=None):
        return sanitize(self.answer, action_space.max_length)

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "answer": self.answer}


class RedTable(Agent):
    """Samples the prompt from ``strategy`` (default: the exact solver's red strategy for the game)."""

    def __init__(self, strategy: Sequence[float] | None = None) -> None:
        super().__init__()
        self.strategy = None if strategy is None else distribution(strategy, "strategy")

    def act(self, observation, agent, action_space, info=None):
        problem = _problem(info, agent, "RedTable")
        strategy = solve(problem).red_strategy if self.strategy is None else self.strategy
        if strategy.shape != (action_space.n,):
            raise ValueError(f"agent {agent!r}: RedTable's strategy has {strategy.size} entries for "
                             f"{action_space.n} prompts")
        return int(self.rng.choice(action_space.n, p=strategy))

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "strategy": None if self.strategy is None else self.strategy.tolist()}
