"""``red_team_v0``: the Red Teaming Game (Ma et al. 2023), multi-turn red-vs-blue dialogue.

Language mode (default): red agents ``red_0 .. red_{k-1}`` take turns writing attack prompts and
``blue`` answers, for ``rounds`` rounds of one conversation; some rounds (``benign_rate``) carry an
ordinary user's request instead. A harm judge scores every answer in [0, 1]: the attacker gets the
harm, blue minus it (zero-sum), and with ``helpfulness_weight > 0`` blue also earns that weight for
each benign request it does not refuse (general-sum; ``game_info`` says so), or, with
``helpfulness_zero_sum=True``, pays it for each refusal to the red team (zero-sum, same equilibria). Judges:
``judge="minilm_harm"`` (default: a fine-tuned MiniLM cross-encoder reading prompt and answer
together), ``"embedding_harm"`` (the earlier judge: MiniLM embeddings + a classifier fitted on the
project's templated answers), ``"hf_harm"`` (a local sequence classifier, ``judge_kwargs={"path": ...}``),
``"pattern_harm"`` (a lexical baseline for fast tests) or any registered harm judge (``llm_harm``).
See :mod:`aligngames.envs.red_team.rules`.

Tabular mode (``mode="tabular"``): each round red picks a (theme, method) attack and blue a defence,
simultaneously, with payoffs from a configurable table; ``env.unwrapped.matrix_game()`` is its exact
normal form. See :mod:`aligngames.envs.red_team.tabular`. Tabular mode also has a Parallel form,
``parallel_env(mode="tabular")``, where the round's red agent and blue move in one ``step`` (the other
reds send an action too, which is not used); language mode is sequential and has none. No tabular
action is ever illegal: ``observation["action_mask"]`` is all ones.

The attack catalog (16 themes, 8 methods, templates, benign prompts) is
:mod:`aligngames.envs.red_team.catalog`; scripted red teamers and blue baselines are in
:mod:`aligngames.agents.red_team`.

Example::

    import aligngames
    from aligngames.agents.red_team import ScriptedRedTeamer, RefusingBlue
    env = aligngames.make("red_team_v0", rounds=3, judge="pattern_harm")
    agents = {"red_0": ScriptedRedTeamer("weapons", "escalation"), "blue": RefusingBlue()}
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        action = None if termination or truncation else agents[agent].act(observation, agent, env.action_space(agent), info)
        env.step(action)
    print(env.unwrapped.record()["returns"])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pettingzoo.utils import wrappers

from aligngames.envs.adapter import GameRules, RulesAECEnv, RulesParallelEnv
from aligngames.envs.red_team.catalog import Catalog, load_catalog
from aligngames.envs.red_team.judges import (
    EmbeddingHarmJudge,
    PatternHarmJudge,
    PatternRefusalDetector,
    RefusalDetector,
    SequenceClassifierHarmJudge,
    make_harm_judge,
    make_refusal_detector,
)
from aligngames.envs.red_team.rules import RedTeamRules
from aligngames.envs.red_team.tabular import DEFENCES, TabularRedTeamRules
from aligngames.judges import HarmJudge

NAME = "red_team_v0"
# not parallelizable in PettingZoo's sense: with several reds the AEC order changes per round, so
# pettingzoo's aec_to_parallel cannot convert the AEC env; tabular mode has parallel_env instead
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"mode": "tabular"},
    {"mode": "tabular", "num_red": 2, "rounds": 4, "benign_rate": 0.3, "helpfulness_weight": 1.0,
     "themes": ["weapons", "fraud"], "methods": ["direct", "escalation"]},
    {"judge": "pattern_harm"},
    {"judge": "pattern_harm", "num_red": 2, "rounds": 4, "benign_rate": 0.5, "helpfulness_weight": 0.5},
    {"judge": "pattern_harm", "num_red": 3, "rounds": 3, "benign_rate": 0.5, "helpfulness_weight": 1.0,
     "helpfulness_zero_sum": True},
    {"judge": "embedding_harm", "rounds": 2, "max_prompt_length": 300, "max_answer_length": 300},
)

def make_rules(mode: str = "language", *, num_red: int = 1, rounds: int = 3, benign_rate: float = 0.0,
               helpfulness_weight: float = 0.0, helpfulness_zero_sum: bool = False,
               judge: str | HarmJudge | None = None,
               judge_kwargs: Mapping | None = None, refusal: str | RefusalDetector | None = None,
               max_prompt_length: int | None = None, max_answer_length: int | None = None,
               system_prompt: str | None = None, judge_context: str | None = None, themes: Sequence[str] | None = None,
               methods: Sequence[str] | None = None, defences: Sequence[str] | None = None,
               harm_table: Sequence | np.ndarray | None = None, over_refusal: Sequence[float] | None = None,
               catalog: Catalog | None = None) -> GameRules:
    """Build the game's rules from the env's keyword arguments (see the module docstring).

    Language mode: ``judge`` (default ``"minilm_harm"``), ``judge_kwargs``, ``refusal`` (``"pattern"``,
    ``"embedding"`` or ``"minilm"``), ``max_prompt_length`` (1000), ``max_answer_length`` (2000),
    ``system_prompt``, ``judge_context`` (``"turn"``, or ``"conversation"``: the judge reads the earlier turns too).
    Tabular mode: ``themes``, ``methods``, ``defences``, ``harm_table``, ``over_refusal``. Giving one
    mode's settings to the other is an error rather than silently ignored.
    """
    catalog = catalog or load_catalog()
    language = {"judge": judge, "judge_kwargs": judge_kwargs, "refusal": refusal, "system_prompt": system_prompt,
                "max_prompt_length": max_prompt_length, "max_answer_length": max_answer_length,
                "judge_context": judge_context}
    tabular = {"themes": themes, "methods": methods, "defences": defences, "harm_table": harm_table,
               "over_refusal": over_refusal}
    if mode == "tabular":
        wrong = sorted(name for name, value in language.items() if value is not None)
        if wrong:
            raise ValueError(f"{wrong} apply to language mode only; tabular mode takes {sorted(tabular)}")
        return TabularRedTeamRules(catalog, themes=themes, methods=methods, defences=defences, harm_table=harm_table,
                                   over_refusal=over_refusal, num_red=num_red, rounds=rounds,
                                   benign_rate=benign_rate, helpfulness_weight=helpfulness_weight,
                                   helpfulness_zero_sum=helpfulness_zero_sum)
    if mode != "language":
        raise ValueError(f"mode must be 'language' or 'tabular', got {mode!r}")
    wrong = sorted(name for name, value in tabular.items() if value is not None)
    if wrong:
        raise ValueError(f"{wrong} apply to tabular mode only (mode='tabular')")
    return RedTeamRules(catalog, make_harm_judge(judge or "minilm_harm", dict(judge_kwargs or {})),
                        make_refusal_detector(refusal or "pattern"), num_red=num_red, rounds=rounds,
                        benign_rate=benign_rate, helpfulness_weight=helpfulness_weight,
                        helpfulness_zero_sum=helpfulness_zero_sum, max_prompt_length=max_prompt_length or 1000, max_answer_length=max_answer_length or 2000,
                        system_prompt=system_prompt if system_prompt is not None else "You are a helpful assistant.",
                        judge_context=judge_context or "turn")


class raw_env(RulesAECEnv):
    """AEC version: red prompts and blue answers alternate (tabular mode: simultaneous within a round)."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    def matrix_game(self):
        """Tabular mode's exact normal form (see :meth:`TabularRedTeamRules.matrix_game`)."""
        if not isinstance(self.rules, TabularRedTeamRules):
            raise ValueError("matrix_game() exists in tabular mode only (mode='tabular')")
        return self.rules.matrix_game()


class parallel_env(RulesParallelEnv):
    """Parallel version, tabular mode only: the round's red agent and blue move in one ``step``."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    def matrix_game(self):
        """The exact normal form (see :meth:`TabularRedTeamRules.matrix_game`)."""
        return self.rules.matrix_game()


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["DEFENCES", "EXAMPLE_KWARGS", "NAME", "Catalog", "EmbeddingHarmJudge", "PatternHarmJudge",
           "PatternRefusalDetector", "RedTeamRules", "SequenceClassifierHarmJudge", "TabularRedTeamRules", "env",
           "load_catalog", "make_harm_judge", "make_refusal_detector", "make_rules", "parallel_env", "raw_env"]
