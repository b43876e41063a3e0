"""``preference_game_v0``: two answers before a preference judge.

Two symmetric players (``player_0``, ``player_1``) answer the same prompt simultaneously. The
judge returns ``p = P(y_0 > y_1 | x)``; ``player_0`` gets ``p - 1/2`` and ``player_1`` gets
``1/2 - p``. The game's Nash equilibrium is the maximal lottery (von Neumann winner) of the
judge's preferences; with a cyclic annotator population no single answer is best.

Modes:
    ``tabular``: ``Discrete(n)`` actions over a scenario's answer set (``food``, ``transitive``,
    ``random``, or an explicit ``preferences`` matrix). ``language``: text actions; prompts from the
    packaged prompt set (or ``prompts=[...]`` / the path of a .txt, .jsonl or .json file), judged by
    the embedded :class:`FeatureJudge` or any registered judge (``judge="reward_model",
    judge_kwargs={"path": ...}``).

Constrained preference game (tabular): ``costs=[...]`` (one per answer) and ``budget=d`` bound the expected cost
of a strategy, ``E_pi[c] <= d`` (a :class:`~aligngames.game.BudgetConstraint`); ``comparator="unconstrained"``
binds ``player_0`` only (against a worst-case unconstrained comparator), ``"constrained"`` both players. A
budget constrains mixed strategies, not single answers: episodes play as before and each player's info
carries its answer's ``cost``; ``aligngames solve nash`` solves the budgeted game
(:mod:`aligngames.solvers.equilibrium.constrained`) and reports the budget's shadow price.

Observation: ``{"observation": [seat, episode over, own payoff], "transcript": text}``; after the
episode the transcript shows both answers and the verdict, and ``infos[agent]["preference"]`` is p.

Example::

    import aligngames
    env = aligngames.make("preference_game_v0", mode="tabular", scenario="food")
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        env.step(None if termination or truncation else env.action_space(agent).sample())
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pettingzoo.utils import wrappers

from aligngames.datasets import read_prompts
from aligngames.envs.adapter import RulesAECEnv, RulesParallelEnv
from aligngames.envs.preference_game import scenarios
from aligngames.envs.preference_game.rules import PreferenceGameRules, default_prompts
from aligngames.game import BudgetConstraint, MatrixGame
from aligngames.judges import PreferenceJudge, make_preference_judge

NAME = "preference_game_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": True}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"mode": "tabular", "scenario": "food"},
    {"mode": "tabular", "scenario": "transitive"},
    {"mode": "tabular", "scenario": "random", "num_answers": 6, "num_groups": 4, "scenario_seed": 3},
    {"mode": "language"},
    {"mode": "tabular", "scenario": "food", "costs": [0.0, 1.0, 0.5], "budget": 0.2, "comparator": "constrained"},
)


def make_rules(
    mode: str = "language",
    *,
    scenario: str = "food",
    num_answers: int = 5,
    num_groups: int = 3,
    scenario_seed: int = 0,
    preferences: Sequence[Sequence[float]] | np.ndarray | None = None,
    answers: Sequence[str] | None = None,
    judge: str | PreferenceJudge = "features",
    judge_kwargs: Mapping | None = None,
    prompts: Sequence[str] | str | None = None,
    max_answer_length: int = 600,
    costs: Sequence[float] | None = None,
    budget: float | None = None,
    comparator: str = "unconstrained",
) -> PreferenceGameRules:
    """Build the game's rules from the env's keyword arguments (see the module docstring)."""
    if (costs is None) != (budget is None):
        raise ValueError("costs and budget go together: a budget bounds the expected cost of a strategy")
    if costs is not None and mode != "tabular":
        raise ValueError("costs and budget need mode='tabular' (a cost per answer of the finite answer set)")
    if mode == "tabular":
        if preferences is not None:
            chosen = scenarios.custom(answers, preferences)
        else:
            chosen = scenarios.build(scenario, num_answers=num_answers, num_groups=num_groups,
                                     scenario_seed=scenario_seed)
        constraint = None
        if costs is not None:
            if len(costs) != len(chosen.answers):
                raise ValueError(f"costs has {len(costs)} entries for the {len(chosen.answers)} answers {list(chosen.answers)}")
            constraint = BudgetConstraint(costs, budget, comparator)
        return PreferenceGameRules("tabular", judge=None, scenario=chosen, prompts=(),
                                   max_answer_length=max_answer_length, budget=constraint)
    if isinstance(judge, str):
        judge = make_preference_judge(judge, **dict(judge_kwargs or {}))
    elif judge_kwargs:
        raise ValueError("judge_kwargs is only used when judge is given by name")
    chosen_prompts = read_prompts(prompts) if prompts is not None else default_prompts()
    return PreferenceGameRules(mode, judge=judge, scenario=None, prompts=chosen_prompts,
                               max_answer_length=max_answer_length)


class raw_env(RulesAECEnv):
    """AEC version; the two players answer one after another without seeing each other's answer."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    def matrix_game(self) -> MatrixGame:
        return self.rules.matrix_game()

    def budget_constraint(self) -> BudgetConstraint | None:
        return self.rules.budget


class parallel_env(RulesParallelEnv):
    """Parallel version; both players answer in one ``step``."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    def matrix_game(self) -> MatrixGame:
        return self.rules.matrix_game()

    def budget_constraint(self) -> BudgetConstraint | None:
        return self.rules.budget


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


def matrix_game(**kwargs) -> MatrixGame:
    """The tabular game as a :class:`MatrixGame` (``mode="tabular"`` is implied)."""
    return make_rules("tabular", **kwargs).matrix_game()


__all__ = ["EXAMPLE_KWARGS", "NAME", "env", "make_rules", "matrix_game", "parallel_env", "raw_env", "scenarios"]
