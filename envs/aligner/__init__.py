"""``aligner_v0``: a corrector seat stacked on an upstream policy (Aligner, Ji et al. 2024).

The upstream player (``policy``, or ``blue`` when a ``red`` seat picks the prompt) answers; the ``corrector``
observes ``(x, y)`` and writes the corrected answer ``y'``; the judge scores ``y'``. Tabular mode
(:mod:`aligngames.envs.aligner.rules`) from explicit tables: ``rewards`` (one list per answer: cooperative, seats
``policy`` + ``corrector``; a table ``[prompt][answer]``: red team, seats ``red`` + ``blue`` + ``corrector``),
``upstream`` (the same shape), ``eps`` (the copy prior's resampling probability) and ``beta`` (the corrector's KL
weight), optionally ``answers`` / ``prompts`` labels, or a named ``example`` (``"three_answers"``,
``"two_prompts"``). The team gets ``r(x, y')``, red ``-r(x, y')``. Language mode (``mode="language"``,
:mod:`aligngames.envs.aligner.language`): text answers and corrections in a ``##Question ##Answer ##Correction``
dialogue, scored by a preference judge. The corrector's best response, the composite, win rates, iterated
distillation and the red-team value are in :mod:`aligngames.solvers.exact.aligner`; scripted players in
:mod:`aligngames.agents.aligner`.

Example::

    import aligngames
    from aligngames.agents.aligner import TiltCorrector, UpstreamTable
    env = aligngames.make("aligner_v0", mode="tabular", rewards=[0, 0.5, 1], upstream=[0.3, 0.5, 0.2],
                          eps=0.2, beta=0.25, rounds=5)
    players = {"policy": UpstreamTable(), "corrector": TiltCorrector()}
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        action = None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info)
        env.step(action)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pettingzoo.utils import wrappers

from aligngames.datasets import read_prompts
from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.aligner import problems
from aligngames.envs.aligner.language import (
    DEFAULT_BASELINE,
    LanguageAlignerRules,
    correction_prompt,
    default_prompts,
)
from aligngames.envs.aligner.problems import AlignerProblem
from aligngames.envs.aligner.rules import TabularAlignerRules
from aligngames.envs.red_team.judges import make_harm_judge
from aligngames.judges import make_preference_judge

NAME = "aligner_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"example": "three_answers"},
    {"example": "two_prompts", "rounds": 3},
    {"rewards": [1.0, 0.0], "upstream": [0.5, 0.5], "eps": 0.0, "beta": 0.0, "answers": ["good", "bad"]},
    {"mode": "language", "rounds": 2},
)


def make_rules(example: str | None = None, *, mode: str = "tabular", rounds: int = 1, rewards=None, upstream=None,
               eps: float | None = None, beta: float | None = None, answers: Sequence[str] | None = None,
               prompts: Sequence[str] | str | None = None, judge: str = "features", judge_kwargs: Mapping | None = None,
               cost_judge: str | None = None, cost_judge_kwargs: Mapping | None = None,
               baseline_answer: str = DEFAULT_BASELINE, max_answer_length: int = 400
               ) -> TabularAlignerRules | LanguageAlignerRules:
    """Build the game's rules. Tabular: a named ``example`` or ``rewards`` and ``upstream`` (not both); ``eps``
    (default 0.1) and ``beta`` (default 1) override an example's. Language: ``prompts`` (a list or a .txt /
    .jsonl / .json path; default the catalog's benign requests), ``judge``, optionally ``cost_judge``."""
    if mode == "language":
        tabular_only = {"example": example, "rewards": rewards, "upstream": upstream, "eps": eps, "beta": beta,
                        "answers": answers}
        given = sorted(key for key, value in tabular_only.items() if value is not None)
        if given:
            raise ValueError(f"{given} belong to mode='tabular'; language mode takes prompts and judges")
        chosen = read_prompts(prompts) if prompts is not None else default_prompts()
        harm = None if cost_judge is None else make_harm_judge(cost_judge, dict(cost_judge_kwargs or {}))
        return LanguageAlignerRules(chosen, make_preference_judge(judge, **dict(judge_kwargs or {})), cost_judge=harm,
                                    rounds=rounds, baseline_answer=baseline_answer, max_answer_length=max_answer_length)
    if mode != "tabular":
        raise ValueError(f"mode must be 'tabular' or 'language', got {mode!r}")
    tables = {"rewards": rewards, "upstream": upstream}
    given = [key for key, value in tables.items() if value is not None]
    if example is not None and (given or answers is not None or prompts is not None):
        raise ValueError(f"give either example={example!r} or explicit tables, not both (got {given})")
    if given:
        missing = [key for key, value in tables.items() if value is None]
        if missing:
            raise ValueError(f"explicit tables need both rewards and upstream; missing {missing}")
        data = {"rewards": rewards, "upstream": upstream, "answers": answers, "prompts": prompts,
                "eps": 0.1 if eps is None else eps, "beta": 1.0 if beta is None else beta}
        data = {key: value for key, value in data.items() if value is not None}
    else:
        data = problems.build(example or "three_answers").to_dict()
        data.update({key: value for key, value in (("eps", eps), ("beta", beta)) if value is not None})
    return TabularAlignerRules(AlignerProblem.from_mapping(data), rounds=rounds)


class raw_env(RulesAECEnv):
    """AEC version: (red,) upstream, then the corrector, each round."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "AlignerProblem", "LanguageAlignerRules", "TabularAlignerRules",
           "correction_prompt", "env", "make_rules", "problems", "raw_env"]
