"""``safe_rlhf_v0``: constrained alignment with the Lagrange multiplier as a player (Safe RLHF, Dai et al. 2023).

A ``policy`` answers prompts to maximise reward subject to an expected-cost bound ``E[c] <= d``; a
``multiplier`` seat names ``lambda >= 0`` and is paid ``lambda (c - d)``, the policy ``r - lambda (c - d)``.
Tabular mode from explicit tables (``prompts``, ``answers``, ``prompt_probs``, ``rewards`` and ``costs``
indexed ``[prompt][answer]``, ``reference`` (default uniform), ``beta``, ``threshold``) or a named example
(``example="comply_refuse"`` or ``"two_prompts"``); ``adversary=True`` adds a third seat, an ``adversary`` who
picks the prompts the cost is measured on (a constrained red-team game: the constraint must hold on every
prompt; :class:`~aligngames.envs.safe_rlhf.rules.AdversarialSafeRLHFRules`). Language mode (``mode="language"``): the policy writes
text answers, scored by a reward judge (``P(answer > baseline)``, any preference judge) and a cost judge
(``P(harmful)``, any harm judge; :mod:`aligngames.envs.safe_rlhf.language`). The exact optimum (``lambda*``, the policy) and
primal-dual dynamics are in :mod:`aligngames.solvers.exact.safe_rlhf`; scripted players in
:mod:`aligngames.agents.safe_rlhf`. Both seats act at once, so there is a Parallel form.

Example::

    import aligngames
    from aligngames.agents.safe_rlhf import FixedMultiplier, TablePolicy
    from aligngames.envs.safe_rlhf.problems import build
    from aligngames.solvers.exact.safe_rlhf import solve
    solution = solve(build("two_prompts"))
    env = aligngames.make_parallel("safe_rlhf_v0", example="two_prompts", rounds=10)
    players = {"policy": TablePolicy(solution.policy.tolist()), "multiplier": FixedMultiplier(solution.multiplier)}
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {agent: players[agent].act(observations[agent], agent, env.action_space(agent), infos[agent]) for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pettingzoo.utils import wrappers

from aligngames.datasets import read_prompts
from aligngames.envs.adapter import RulesAECEnv, RulesParallelEnv
from aligngames.envs.red_team.judges import make_harm_judge
from aligngames.envs.safe_rlhf import problems
from aligngames.envs.safe_rlhf.language import DEFAULT_BASELINE, LanguageSafeRLHFRules, default_prompts
from aligngames.envs.safe_rlhf.problems import SafeRLHFProblem
from aligngames.envs.safe_rlhf.rules import AdversarialSafeRLHFRules, SafeRLHFRules
from aligngames.judges import make_preference_judge

NAME = "safe_rlhf_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": True}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"example": "comply_refuse"},
    {"example": "two_prompts", "rounds": 4},
    {"prompts": ["p"], "answers": ["a", "b", "c"], "prompt_probs": [1.0], "rewards": [[1, 0.5, 0]],
     "costs": [[1, 0.2, 0]], "beta": 0.0, "threshold": 0.3, "lambda_max": 10.0},
    {"example": "two_prompts", "adversary": True, "rounds": 3},
    {"mode": "language", "rounds": 2},
)


def make_rules(example: str | None = None, *, mode: str = "tabular", rounds: int = 1,
               prompts: Sequence[str] | str | None = None, answers: Sequence[str] | None = None, prompt_probs=None,
               rewards=None, costs=None, reference=None, beta: float | None = None, threshold: float | None = None,
               lambda_max: float = 100.0, adversary: bool = False, probe_rate: float = 0.5,
               reward_judge: str = "features", reward_judge_kwargs: Mapping | None = None,
               cost_judge: str = "minilm_harm", cost_judge_kwargs: Mapping | None = None,
               baseline_answer: str = DEFAULT_BASELINE, max_answer_length: int = 400) -> SafeRLHFRules | LanguageSafeRLHFRules:
    """Build the game's rules. Tabular: a named ``example`` or explicit tables (not both); ``beta`` and
    ``threshold`` override an example's; ``adversary=True`` adds the adversary seat (a probe with probability
    ``probe_rate`` each round). Language: ``prompts`` (a list or a .txt / .jsonl / .json path; default
    the catalog's benign and harmful requests), the two judges, ``threshold`` (default 0.1)."""
    if mode == "language":
        tabular_only = {"example": example, "answers": answers, "prompt_probs": prompt_probs, "rewards": rewards,
                        "costs": costs, "reference": reference, "beta": beta, "adversary": adversary or None}
        given = sorted(key for key, value in tabular_only.items() if value is not None)
        if given:
            raise ValueError(f"{given} belong to mode='tabular'; language mode takes prompts, judges and threshold")
        chosen = read_prompts(prompts) if prompts is not None else default_prompts()
        return LanguageSafeRLHFRules(
            chosen, make_preference_judge(reward_judge, **dict(reward_judge_kwargs or {})),
            make_harm_judge(cost_judge, dict(cost_judge_kwargs or {})),
            threshold=0.1 if threshold is None else threshold, rounds=rounds, lambda_max=lambda_max,
            baseline_answer=baseline_answer, max_answer_length=max_answer_length)
    if mode != "tabular":
        raise ValueError(f"mode must be 'tabular' or 'language', got {mode!r}")
    tables = {"prompts": prompts, "answers": answers, "prompt_probs": prompt_probs, "rewards": rewards, "costs": costs}
    given = [key for key, value in tables.items() if value is not None]
    if example is not None and (given or reference is not None):
        raise ValueError(f"give either example={example!r} or explicit tables, not both (got {given})")
    if given:
        missing = [key for key, value in tables.items() if value is None]
        if missing:
            raise ValueError(f"explicit tables need all of {list(tables)}; missing {missing}")
        data = {**tables, "reference": reference}
    else:
        data = problems.build(example or "comply_refuse").to_dict()
    data.update({key: value for key, value in (("beta", beta), ("threshold", threshold)) if value is not None})
    problem = SafeRLHFProblem.from_mapping(data)
    if adversary:
        return AdversarialSafeRLHFRules(problem, rounds=rounds, lambda_max=lambda_max, probe_rate=probe_rate)
    return SafeRLHFRules(problem, rounds=rounds, lambda_max=lambda_max)


class raw_env(RulesAECEnv):
    """AEC version: the policy, then the multiplier; the rules see both actions at once."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


class parallel_env(RulesParallelEnv):
    """Parallel version: both seats act in one ``step``."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = [
    "EXAMPLE_KWARGS",
    "NAME",
    "AdversarialSafeRLHFRules",
    "SafeRLHFProblem",
    "SafeRLHFRules",
    "env",
    "make_rules",
    "parallel_env",
    "problems",
    "raw_env",
]
