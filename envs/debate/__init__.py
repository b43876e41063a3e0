"""``debate_v0``: AI safety via debate, with verified quotes (Irving et al. 2018; Khan et al. 2024).

Language mode (default): an item is a passage about a fictional entity, a question, the correct
answer and a distractor (240 packaged items, split by entity into train / validation / test; the
generator is :mod:`aligngames.envs.debate.generate`). Protocols: ``debate`` (``debater_a`` defends
answer A, ``debater_b`` answer B, ``rounds`` rounds), ``consultancy`` (one ``consultant``) and
``blind`` (the judge sees only the question and the answers). Debaters see the passage; quotes
written as ``<quote>...</quote>`` are checked word for word and shown to the judge as verified or
not. The judge answers A or B: a fixed judge inside the env (``judge="quote_counting"``, the
default; ``judge="agent_judge"`` with ``judge_kwargs={"agent": NAME, "agent_kwargs": {...}}`` for
any registered agent, e.g. an LLM) or the ``judge`` seat (``judge="player"``). +1 / -1 to the
debater the judge picks; see :mod:`aligngames.envs.debate.rules`.

Tabular mode (``mode="tabular"``): sparse-evidence debate over a hidden feature vector with a
fixed Bayes classifier as judge (:mod:`aligngames.envs.debate.sparse`), small enough to solve exactly.

Judge accuracy per protocol with confidence intervals, and debater Elo:
``aligngames solve debate_eval``; the exact honest-debater advantage: ``aligngames solve sparse_debate``.

Example::

    import aligngames
    from aligngames.agents.debate import QuoteDebater
    env = aligngames.make("debate_v0", protocol="debate", split="test")
    env.reset(seed=0)
    debater = QuoteDebater()
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        env.step(None if termination or truncation else debater.act(observation, agent, env.action_space(agent), info))
    print(env.unwrapped.record()["judge_correct"])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pettingzoo.utils import wrappers

from aligngames import registry
from aligngames.envs.adapter import GameRules, RulesAECEnv
from aligngames.envs.debate.items import DebateItem, load_items
from aligngames.envs.debate.judges import AgentJudge, DebateJudge, QuoteCountingJudge, parse_verdict
from aligngames.envs.debate.recursive import RECURSIVE_PROTOCOLS, RecursiveDebateRules, make_recursive_rules
from aligngames.envs.debate.rules import DebateRules
from aligngames.envs.debate.sparse import DEFAULT_BUDGET, DEFAULT_WEIGHTS, SparseDebateRules

NAME = "debate_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"protocol": "debate"},
    {"protocol": "consultancy", "rounds": 2},
    {"protocol": "debate", "judge": "player", "rounds": 1},
    {"protocol": "blind", "judge": "player"},
    {"mode": "tabular"},
    {"mode": "tabular", "weights": [1, 1, 1], "budget": 2},
    {"mode": "tabular", "protocol": "recursive", "steps": 8},
    {"mode": "tabular", "protocol": "recursive", "steps": 5, "values": 3, "check_error": 0.1},
    {"mode": "tabular", "protocol": "recursive_consultancy", "steps": 6},
    {"mode": "language", "protocol": "recursive", "steps": 4, "values": 3},
    {"mode": "language", "protocol": "recursive_consultancy", "steps": 3},
)


def make_judge(judge: str | DebateJudge | None, judge_kwargs: Mapping | None = None) -> DebateJudge | None:
    """A fixed judge from a registered judge name or an instance; ``"player"`` (or None) means a judge seat."""
    if judge is None or judge == "player":
        if judge_kwargs:
            raise ValueError("judge_kwargs need a fixed judge; judge='player' is a seat")
        return None
    return registry.make_judge(judge, judge_kwargs, expected=DebateJudge)


def make_rules(mode: str = "language", *, protocol: str = "debate", judge: str | DebateJudge | None = "quote_counting",
               judge_kwargs: Mapping | None = None, split: str = "train", item_ids: Sequence[str] | None = None,
               rounds: int = 3, max_words: int = 150, max_argument_length: int = 1500,
               correct_position: str | None = None, consultant_position: str | None = None,
               weights: Sequence[float] | None = None, budget: int | None = None,
               feature_prior: float | None = None, steps: int | None = None, values: int | None = None,
               check_error: float | None = None) -> GameRules:
    """Build the game's rules from the env's keyword arguments (see the module docstring).

    ``weights``, ``budget`` and ``feature_prior`` belong to tabular mode; ``protocol``, ``judge``,
    ``judge_kwargs``, ``item_ids`` and the positions to language mode. Giving one to the other mode is an
    error rather than silently ignored. ``protocol="recursive"`` / ``"recursive_consultancy"`` (tabular or language mode) take
    ``steps``, ``values``, ``check_error`` and the positions (:mod:`aligngames.envs.debate.recursive`).
    """
    if protocol in RECURSIVE_PROTOCOLS:
        others = {"judge": (judge, "quote_counting"), "judge_kwargs": (judge_kwargs, None), "split": (split, "train"),
                  "item_ids": (item_ids, None), "rounds": (rounds, 3), "max_words": (max_words, 150),
                  "max_argument_length": (max_argument_length, 1500), "weights": (weights, None),
                  "budget": (budget, None), "feature_prior": (feature_prior, None)}
        given = {name: value for name, (value, default) in others.items() if value != default}
        return make_recursive_rules(mode, protocol=protocol, steps=steps, values=values, check_error=check_error,
                                    correct_position=correct_position, consultant_position=consultant_position, **given)
    recursive_only = [name for name, value in (("steps", steps), ("values", values), ("check_error", check_error))
                      if value is not None]
    if recursive_only:
        raise ValueError(f"{recursive_only} apply to protocol='recursive' or 'recursive_consultancy' only")
    if mode == "tabular":
        language_only = {"protocol": (protocol, "debate"), "judge": (judge, "quote_counting"),
                         "judge_kwargs": (judge_kwargs, None), "item_ids": (item_ids, None),
                         "correct_position": (correct_position, None), "consultant_position": (consultant_position, None)}
        given = [name for name, (value, default) in language_only.items() if value != default]
        if given:
            raise ValueError(f"{given} apply to language mode only; tabular mode takes weights, budget and feature_prior")
        return SparseDebateRules(DEFAULT_WEIGHTS if weights is None else weights,
                                 budget=DEFAULT_BUDGET if budget is None else budget,
                                 feature_prior=0.5 if feature_prior is None else feature_prior)
    if mode != "language":
        raise ValueError(f"mode must be 'language' or 'tabular', got {mode!r}")
    given = [name for name, value in (("weights", weights), ("budget", budget), ("feature_prior", feature_prior))
             if value is not None]
    if given:
        raise ValueError(f"{given} apply to tabular mode only (mode='tabular')")
    items = load_items(split, tuple(item_ids) if item_ids is not None else None)
    return DebateRules(items, protocol=protocol, judge=make_judge(judge, judge_kwargs), rounds=rounds,
                       max_words=max_words, max_argument_length=max_argument_length,
                       correct_position=correct_position, consultant_position=consultant_position)


class raw_env(RulesAECEnv):
    """AEC version: debaters argue in turn, then the judge (a seat or fixed inside the env) decides."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        rules = make_rules(**kwargs)
        if not rules.possible_agents:
            raise ValueError("protocol='blind' with a fixed judge has no players; seat the judge (judge='player') "
                             "or evaluate the judge with aligngames.solvers.evaluation.debate_eval")
        super().__init__(rules, render_mode=render_mode)


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "AgentJudge", "DebateItem", "DebateJudge", "DebateRules", "QuoteCountingJudge",
           "RecursiveDebateRules", "SparseDebateRules", "env", "load_items", "make_judge", "make_rules", "parse_verdict", "raw_env"]
