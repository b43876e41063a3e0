"""Aligner problems written down as tables (Ji et al. 2024, "Aligner: Efficient Alignment by Learning to Correct").

An :class:`AlignerProblem` has the ``answers`` an upstream policy can give, the ``rewards[prompt][answer]`` the
judge gives each answer, the ``upstream[prompt][answer]`` policy pi(y|x), and the corrector's copy prior
``mu0(y'|y) = (1 - eps) [y' = y] + eps / |Y|`` (correction is easier than generation: mostly copy) with its KL
weight ``beta``.

Two shapes:

- cooperative (``red_team=False``): one prompt; ``rewards`` and ``upstream`` are given as one list over the
  answers. Seats ``policy`` and ``corrector``.
- red team (``red_team=True``): several prompts that a ``red`` seat chooses between; ``rewards`` and
  ``upstream`` are tables ``[prompt][answer]``. Seats ``red``, ``blue`` (the upstream) and ``corrector``.

Named examples (:data:`EXAMPLES`): ``three_answers`` (a cooperative instance: a wrong, a partial and a correct
answer with the upstream mostly partial) and ``two_prompts`` (a red-team instance: one prompt on which the
upstream is good and one on which it is poor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames.tables import TableShapeError, distribution, names, table


@dataclass(frozen=True)
class AlignerProblem:
    """A finite Aligner game.

    Attributes:
        answers: the answer labels (the upstream's and the corrector's choices alike).
        prompts: the prompt labels (one, ``"x"``, in cooperative problems).
        rewards: shape ``(num_prompts, num_answers)``, the judge's reward ``r(x, y)``.
        upstream: shape ``(num_prompts, num_answers)``, each row the upstream policy ``pi(.|x)``.
        eps: the copy prior's resampling probability, in [0, 1].
        beta: the corrector's KL weight toward the copy prior, >= 0 (0: it maximises the reward).
        red_team: whether a red seat chooses the prompt.
        name: a label for transcripts and results.
    """

    answers: tuple[str, ...]
    prompts: tuple[str, ...]
    rewards: np.ndarray
    upstream: np.ndarray
    eps: float = 0.1
    beta: float = 1.0
    red_team: bool = False
    name: str = "custom"

    def __post_init__(self) -> None:
        answers = names(self.answers, "answers")
        prompts = names(self.prompts, "prompts")
        if not self.red_team and len(prompts) != 1:
            raise TableShapeError(f"a cooperative problem has one prompt, got {len(prompts)}; "
                                  f"give rewards [prompt][answer] for the red-team mode")
        shape = (len(prompts), len(answers))
        rewards = table(self.rewards, "rewards", shape, "[prompt][answer]")
        upstream = table(self.upstream, "upstream", shape, "[prompt][answer]")
        rows = [distribution(row, f"upstream[{prompt!r}]", len(answers)) for prompt, row in zip(prompts, upstream)]
        eps, beta = _number(self.eps, "eps"), _number(self.beta, "beta")
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"eps must be in [0, 1] (a probability of resampling), got {eps}")
        if beta < 0.0:
            raise ValueError(f"beta must be >= 0 (a KL weight), got {beta}")
        object.__setattr__(self, "answers", answers)
        object.__setattr__(self, "prompts", prompts)
        object.__setattr__(self, "rewards", rewards)
        object.__setattr__(self, "upstream", np.array(rows))
        object.__setattr__(self, "eps", eps)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "red_team", bool(self.red_team))

    @property
    def num_answers(self) -> int:
        return len(self.answers)

    @property
    def num_prompts(self) -> int:
        return len(self.prompts)

    @classmethod
    def from_tables(cls, rewards, upstream, *, eps: float = 0.1, beta: float = 1.0,
                    answers: Sequence[str] | None = None, prompts: Sequence[str] | None = None,
                    name: str = "custom") -> AlignerProblem:
        """A problem from ``rewards`` and ``upstream``: one list per answer (cooperative) or tables
        ``[prompt][answer]`` (red team). ``answers`` default ``y0, y1, ...``, ``prompts`` ``x0, x1, ...``."""
        reward_array = table(rewards, "rewards", None, "[answer] or [prompt][answer]")
        if reward_array.ndim not in (1, 2) or reward_array.shape[-1] == 0:
            raise TableShapeError(f"rewards must be a list per answer or a table [prompt][answer], "
                                  f"got shape {reward_array.shape}")
        red_team = reward_array.ndim == 2
        upstream_array = table(upstream, "upstream", None, "[prompt][answer]" if red_team else "[answer]")
        if upstream_array.shape != reward_array.shape:
            raise TableShapeError(f"upstream must have the shape of rewards {reward_array.shape} "
                                  f"({'[prompt][answer]' if red_team else '[answer]'}), got shape {upstream_array.shape}")
        num_prompts, num_answers = (reward_array.shape if red_team else (1, reward_array.shape[0]))
        answers = tuple(answers) if answers is not None else tuple(f"y{k}" for k in range(num_answers))
        if len(answers) != num_answers:
            raise TableShapeError(f"answers has {len(answers)} labels for {num_answers} answers in rewards")
        if prompts is None:
            prompts = tuple(f"x{i}" for i in range(num_prompts)) if red_team else ("x",)
        return cls(answers, tuple(prompts), reward_array.reshape(num_prompts, num_answers),
                   upstream_array.reshape(num_prompts, num_answers), eps=eps, beta=beta, red_team=red_team, name=name)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AlignerProblem:
        """From a mapping with ``rewards``, ``upstream`` and optionally ``eps``, ``beta``, ``answers``, ``prompts``,
        ``name`` (what :meth:`to_dict` writes, or a YAML / JSON file)."""
        if not isinstance(data, Mapping):
            raise TableShapeError(f"an Aligner problem is a mapping, got {type(data).__name__}")
        allowed = {"rewards", "upstream", "eps", "beta", "answers", "prompts", "name"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown keys {unknown} in an Aligner problem; allowed: {sorted(allowed)}")
        missing = [key for key in ("rewards", "upstream") if key not in data]
        if missing:
            raise ValueError(f"an Aligner problem needs {missing}")
        return cls.from_tables(data["rewards"], data["upstream"], eps=data.get("eps", 0.1), beta=data.get("beta", 1.0),
                               answers=data.get("answers"), prompts=data.get("prompts"), name=data.get("name", "custom"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_mapping` reads it back (one list per answer in cooperative problems)."""
        rewards = self.rewards.tolist() if self.red_team else self.rewards[0].tolist()
        upstream = self.upstream.tolist() if self.red_team else self.upstream[0].tolist()
        data: dict[str, Any] = {"name": self.name, "answers": list(self.answers), "rewards": rewards,
                                "upstream": upstream, "eps": self.eps, "beta": self.beta}
        if self.red_team:
            data["prompts"] = list(self.prompts)
        return data


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{what} must be a number, got {type(value).__name__}: {value!r:.80}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    return number


EXAMPLES: dict[str, dict[str, Any]] = {
    "three_answers": {"name": "three_answers", "answers": ["wrong", "partial", "correct"], "rewards": [0.0, 0.5, 1.0],
                      "upstream": [0.3, 0.5, 0.2], "eps": 0.2, "beta": 0.25},
    "two_prompts": {"name": "two_prompts", "prompts": ["easy", "tricky"], "answers": ["harmful", "evasive", "helpful"],
                    "rewards": [[0.0, 0.4, 1.0], [0.0, 0.4, 1.0]], "upstream": [[0.05, 0.15, 0.8], [0.6, 0.3, 0.1]],
                    "eps": 0.3, "beta": 0.5},
}


def build(example: str) -> AlignerProblem:
    """The named example (see :data:`EXAMPLES`)."""
    if example not in EXAMPLES:
        raise ValueError(f"unknown example {example!r}; the examples are {sorted(EXAMPLES)}")
    return AlignerProblem.from_mapping(EXAMPLES[example])
