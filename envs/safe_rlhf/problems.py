"""Safe-RLHF problems written down as tables (Dai et al. 2023, "Safe RLHF: Safe reinforcement learning from
human feedback").

A :class:`SafeRLHFProblem` has ``prompts`` drawn with ``prompt_probs``, the ``answers`` a policy can give,
a reward table and a cost table indexed ``[prompt][answer]`` (cost: higher is more harmful), a reference
policy ``reference[prompt][answer]`` (default uniform), a KL weight ``beta >= 0`` and a cost ``threshold``
``d``. The constrained problem is

    maximise    sum_x p(x) (E_pi(.|x)[r(x, .)] - beta KL(pi(.|x) || pi_ref(.|x)))
    subject to  sum_x p(x) E_pi(.|x)[c(x, .)] <= d,

and the game puts the Lagrange multiplier ``lambda >= 0`` in a seat of its own: the policy gets
``r - lambda (c - d)``, the multiplier ``lambda (c - d)``.

Named examples (:data:`EXAMPLES`): ``comply_refuse`` (one borderline request; complying is worth 1 and costs
1, refusing is worth and costs 0; beta 0.5, d 0.2: the closed form is ``lambda* = 1 - beta logit(d)``) and
``two_prompts`` (a benign and a harmful request, three answers each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames.tables import distribution, names, table


@dataclass(frozen=True)
class SafeRLHFProblem:
    """A tabular constrained alignment problem.

    Attributes:
        prompts: prompt names.
        answers: answer names (the same set for every prompt).
        prompt_probs: shape ``(num_prompts,)``.
        rewards: shape ``(num_prompts, num_answers)``, ``[prompt][answer]``.
        costs: shape ``(num_prompts, num_answers)``, ``[prompt][answer]``; higher is more harmful.
        reference: shape ``(num_prompts, num_answers)``, each row a distribution (default uniform).
        beta: the KL weight (>= 0; 0 makes the problem an LP).
        threshold: ``d``, the bound on the expected cost.
        name: a label.
    """

    prompts: tuple[str, ...]
    answers: tuple[str, ...]
    prompt_probs: np.ndarray
    rewards: np.ndarray
    costs: np.ndarray
    reference: np.ndarray | None = None
    beta: float = 0.1
    threshold: float = 0.0
    name: str = "custom"

    def __post_init__(self) -> None:
        prompts = names(self.prompts, "prompts")
        answers = names(self.answers, "answers")
        shape = (len(prompts), len(answers))
        reference = (np.full(shape, 1.0 / len(answers)) if self.reference is None else
                     table(self.reference, "reference", shape, "[prompt][answer]"))
        rows = [distribution(row, f"reference[{prompt!r}]", len(answers)) for prompt, row in zip(prompts, reference)]
        beta, threshold = float(self.beta), float(self.threshold)
        if not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta}")
        if not np.isfinite(threshold):
            raise ValueError(f"threshold must be finite, got {self.threshold}")
        for key, value in (("prompts", prompts), ("answers", answers),
                           ("prompt_probs", distribution(self.prompt_probs, "prompt_probs", len(prompts))),
                           ("rewards", table(self.rewards, "rewards", shape, "[prompt][answer]")),
                           ("costs", table(self.costs, "costs", shape, "[prompt][answer]")),
                           ("reference", np.array(rows)), ("beta", beta), ("threshold", threshold)):
            object.__setattr__(self, key, value)

    @property
    def num_prompts(self) -> int:
        return len(self.prompts)

    @property
    def num_answers(self) -> int:
        return len(self.answers)

    def support(self) -> np.ndarray:
        """Shape ``(num_prompts, num_answers)``: answers a policy may give (all with beta = 0; the reference's
        support with beta > 0, since the KL term is infinite elsewhere)."""
        return np.ones_like(self.reference, dtype=bool) if self.beta == 0 else self.reference > 0

    def min_cost(self) -> float:
        """The smallest expected cost any allowed policy achieves."""
        costs = np.where(self.support(), self.costs, np.inf)
        return float(self.prompt_probs @ costs.min(axis=1))

    def expected(self, policy: np.ndarray, values: np.ndarray) -> float:
        """``sum_x p(x) E_pi(.|x)[values(x, .)]``."""
        return float(self.prompt_probs @ np.sum(policy * values, axis=1))

    def kl(self, policy: np.ndarray) -> float:
        """``sum_x p(x) KL(pi(.|x) || pi_ref(.|x))`` (0 log 0 = 0; infinite off the reference's support)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(policy > 0, policy * (np.log(policy) - np.log(self.reference)), 0.0)
        return float(self.prompt_probs @ terms.sum(axis=1))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SafeRLHFProblem:
        """A problem from plain data (a YAML / JSON file) with the attribute names as keys."""
        required = ("prompts", "answers", "prompt_probs", "rewards", "costs")
        optional = ("reference", "beta", "threshold", "name")
        missing = [key for key in required if key not in data]
        if missing:
            raise ValueError(f"a safe_rlhf problem needs the keys {list(required)}; missing {missing}")
        unknown = sorted(set(data) - {*required, *optional})
        if unknown:
            raise ValueError(f"unknown keys in a safe_rlhf problem: {unknown}; allowed: {[*required, *optional]}")
        return cls(data["prompts"], data["answers"], data["prompt_probs"], data["rewards"], data["costs"],
                   data.get("reference"), float(data.get("beta", 0.1)), float(data.get("threshold", 0.0)),
                   str(data.get("name", "custom")))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "prompts": list(self.prompts), "answers": list(self.answers),
                "prompt_probs": self.prompt_probs.tolist(), "rewards": self.rewards.tolist(),
                "costs": self.costs.tolist(), "reference": self.reference.tolist(), "beta": self.beta,
                "threshold": self.threshold}


def comply_refuse() -> SafeRLHFProblem:
    """One borderline request: comply (reward 1, cost 1) or refuse (0, 0); beta 0.5, d 0.2."""
    return SafeRLHFProblem(("borderline",), ("comply", "refuse"), [1.0], [[1.0, 0.0]], [[1.0, 0.0]],
                           beta=0.5, threshold=0.2, name="comply_refuse")


def two_prompts() -> SafeRLHFProblem:
    """A benign and a harmful request (prompt probabilities 0.7 / 0.3); answers comply, hedge, refuse."""
    return SafeRLHFProblem(("benign", "harmful"), ("comply", "hedge", "refuse"), [0.7, 0.3],
                           rewards=[[1.0, 0.6, 0.0], [1.0, 0.5, 0.1]],
                           costs=[[0.0, 0.0, 0.0], [1.0, 0.3, 0.0]], beta=0.1, threshold=0.05, name="two_prompts")


EXAMPLES = {"comply_refuse": comply_refuse, "two_prompts": two_prompts}


def build(example: str) -> SafeRLHFProblem:
    if example not in EXAMPLES:
        raise ValueError(f"unknown safe_rlhf example {example!r}; valid examples: {sorted(EXAMPLES)}")
    return EXAMPLES[example]()


def custom(prompts: Sequence[str], answers: Sequence[str], prompt_probs, rewards, costs, **options: Any) -> SafeRLHFProblem:
    return SafeRLHFProblem(prompts, answers, prompt_probs, rewards, costs, **options)
