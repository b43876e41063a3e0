"""``pareto_preference_v0``: one policy conditioned on the user's preference vector (Panacea, Zhong et al. 2024).

Several judges score an answer with a reward vector (one entry per objective: helpful, harmless, ...);
nature draws a user type, a preference vector ``w`` on the simplex; the ``policy`` sees ``w``, answers, and
is paid the scalarised reward ``w . r`` (``"linear"``) or ``-max_i w_i (z*_i - r_i)`` (``"tchebycheff"``,
``z*`` the ideal point). Tabular mode from explicit tables (``answers``, ``objectives``,
``rewards[answer][objective]``, ``reference`` (default uniform), ``beta``, user types ``weights`` with
``weight_probs`` or ``grid=k``, ``scalarisation``) or a named example (``example="helpful_harmless"`` or
``"helpful_harmless_honest"``). Language mode (``mode="language"``): nature also draws a prompt, the policy
reads ``w`` in its transcript and writes a text answer, and one judge per objective (``judges``, default
helpful ``features`` and harmless ``minilm_harm``) gives the reward vector
(:mod:`aligngames.envs.pareto_preference.language`; LoRA training:
:mod:`aligngames.solvers.training.pareto_preference_training`). Per-``w`` exact optima, a
preference-conditioned policy with logits linear in ``w``, the Pareto front and its hypervolume are in :mod:`aligngames.solvers.exact.pareto_preference`;
scripted players in :mod:`aligngames.agents.pareto_preference`. One seat, so the Parallel form is plain.

Example::

    from aligngames.agents.pareto_preference import OptimalPreferencePolicy
    from aligngames.envs.pareto_preference import parallel_env
    env = parallel_env(example="helpful_harmless", rounds=10)
    player = OptimalPreferencePolicy()
    observations, infos = env.reset(seed=0)
    while env.agents:
        action = player.act(observations["policy"], "policy", env.action_space("policy"), infos["policy"])
        observations, rewards, terminations, truncations, infos = env.step({"policy": action})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pettingzoo.utils import wrappers

from aligngames.datasets import read_prompts
from aligngames.envs.adapter import RulesAECEnv, RulesParallelEnv
from aligngames.envs.pareto_preference import problems
from aligngames.envs.pareto_preference.language import (
    DEFAULT_JUDGES,
    LanguageParetoPreferenceRules,
    ObjectiveJudge,
    make_objective_judges,
)
from aligngames.envs.pareto_preference.problems import ParetoPreferenceProblem
from aligngames.envs.pareto_preference.rules import ParetoPreferenceRules
from aligngames.envs.safe_rlhf.language import DEFAULT_BASELINE, default_prompts

NAME = "pareto_preference_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": True}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"example": "helpful_harmless"},
    {"example": "helpful_harmless_honest", "rounds": 4, "scalarisation": "tchebycheff"},
    {"answers": ["a", "b", "c"], "objectives": ["x", "y"], "rewards": [[1, 0], [0.4, 0.4], [0, 1]],
     "weights": [[0.5, 0.5], [0.9, 0.1]], "weight_probs": [0.7, 0.3], "beta": 0.0, "rounds": 3},
    {"mode": "language", "rounds": 2, "judges": {"helpful": "features", "harmless": "pattern_harm"}},
)


def make_rules(example: str | None = None, *, mode: str = "tabular", rounds: int = 1,
               answers: Sequence[str] | None = None, objectives: Sequence[str] | None = None, rewards=None,
               reference=None, weights=None, weight_probs=None, grid: int | None = None, beta: float | None = None,
               scalarisation: str | None = None, prompts: Sequence[str] | str | None = None,
               judges: Mapping[str, Any] | None = None, judge_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
               baseline_answer: str = DEFAULT_BASELINE,
               max_answer_length: int = 400) -> ParetoPreferenceRules | LanguageParetoPreferenceRules:
    """Build the game's rules. Tabular: a named ``example`` or explicit tables (not both); ``beta``,
    ``scalarisation`` and the user types (``weights`` / ``weight_probs`` or ``grid``) override an example's.
    Language: ``prompts`` (a list or a .txt / .jsonl / .json path; default the catalog's benign and harmful
    requests), ``judges`` (``{objective: judge name}``, default helpful ``features``, harmless
    ``minilm_harm``) with ``judge_kwargs``, the user types and ``scalarisation``."""
    if mode == "language":
        tabular_only = {"example": example, "answers": answers, "objectives": objectives, "rewards": rewards,
                        "reference": reference, "beta": beta}
        given = sorted(key for key, value in tabular_only.items() if value is not None)
        if given:
            raise ValueError(f"{given} belong to mode='tabular'; language mode takes prompts, judges (one per "
                             f"objective), the user types and scalarisation")
        chosen = read_prompts(prompts) if prompts is not None else default_prompts()
        return LanguageParetoPreferenceRules(
            chosen, make_objective_judges(judges, judge_kwargs), weights=weights, weight_probs=weight_probs, grid=grid,
            scalarisation="linear" if scalarisation is None else scalarisation, rounds=rounds,
            baseline_answer=baseline_answer, max_answer_length=max_answer_length)
    if mode != "tabular":
        raise ValueError(f"mode must be 'tabular' or 'language', got {mode!r}")
    language_only = {"prompts": prompts, "judges": judges, "judge_kwargs": judge_kwargs}
    given = sorted(key for key, value in language_only.items() if value is not None)
    if given:
        raise ValueError(f"{given} belong to mode='language'")
    tables = {"answers": answers, "objectives": objectives, "rewards": rewards}
    given = [key for key, value in tables.items() if value is not None]
    if example is not None and (given or reference is not None):
        raise ValueError(f"give either example={example!r} or explicit tables, not both (got {given})")
    if given:
        missing = [key for key, value in tables.items() if value is None]
        if missing:
            raise ValueError(f"explicit tables need all of {list(tables)}; missing {missing}")
        data = {**tables, "reference": reference}
    else:
        data = problems.build(example or "helpful_harmless").to_dict()
    if weights is not None or grid is not None:
        data.update(weights=weights, weight_probs=weight_probs, grid=grid)
    elif weight_probs is not None:
        data["weight_probs"] = weight_probs
    data.update({key: value for key, value in (("beta", beta), ("scalarisation", scalarisation)) if value is not None})
    return ParetoPreferenceRules(ParetoPreferenceProblem.from_mapping(data), rounds=rounds)


class raw_env(RulesAECEnv):
    """AEC version: the one seat acts each round."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


class parallel_env(RulesParallelEnv):
    """Parallel version: the policy acts in each ``step``."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["DEFAULT_JUDGES", "EXAMPLE_KWARGS", "NAME", "LanguageParetoPreferenceRules", "ObjectiveJudge",
           "ParetoPreferenceProblem", "ParetoPreferenceRules", "env", "make_rules", "parallel_env", "problems",
           "raw_env"]
