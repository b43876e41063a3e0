"""``cirl_v0``: assistance games (cooperative inverse reinforcement learning).

A ``human`` who knows their reward parameter ``theta`` and a ``robot`` that only has a prior over it
share one reward (Hadfield-Menell et al. 2016). The robot can ask; the human answers only once
present (``t >= feedback_time``). Scenarios (``scenario=``): ``meal_choice`` (the pie kitchen of
ALGORITHMS.md), ``meal_choice_cherry`` (three fillings) and ``tidy_desk`` (asking is costly and pays
only for some items); see :mod:`aligngames.envs.cirl.scenarios`. The exact optimum, the
reward-learning-first baseline and human models are in :mod:`aligngames.solvers.exact.assistance`.

Modes: ``tabular`` (``Discrete`` actions with action masks) and ``language`` (the robot writes
``"make_1"`` or ``"ask: Which pie would you like?"``; the human answers in free text).

Observation: ``{"observation": features, "transcript": text}``, plus ``"action_mask"`` (int8, one
entry per action; zeros while the agent is not to act) in tabular mode; the features are
``[t, human present, robot has acted, one-hot state, answer counts per question]`` and for the
human also ``[one-hot theta, one-hot pending question]``. The answer counts are a sufficient
statistic of the robot's belief under any of the human models, so a tabular robot can act on the
observation alone. The human's ``infos`` carry ``answer_utility`` and ``answer_mask`` for the
question it must answer.

Example::

    import aligngames
    from aligngames.agents.assistance import ModelHuman
    env = aligngames.make("cirl_v0", scenario="meal_choice", feedback_time=3)
    env.reset(seed=0)
    human = ModelHuman("truthful")
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        if termination or truncation:
            action = None
        elif agent == "human":
            action = human.act(observation, agent, env.action_space(agent), info)
        else:
            action = env.action_space(agent).sample(observation["action_mask"])
        env.step(action)
"""

from __future__ import annotations

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.cirl import scenarios
from aligngames.envs.cirl.rules import CirlRules, parse_command

NAME = "cirl_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"scenario": "meal_choice", "feedback_time": 3},
    {"scenario": "meal_choice_cherry", "feedback_time": 1},
    {"scenario": "tidy_desk"},
    {"scenario": "meal_choice", "mode": "language", "feedback_time": 2},
)


def make_rules(scenario: str = "meal_choice", *, mode: str = "tabular", feedback_time: int | None = None,
               horizon: int | None = None, discount: float | None = None, theta: str | None = None,
               max_message_length: int = 300) -> CirlRules:
    """Build the game's rules from the env's keyword arguments (``None`` keeps the scenario's default)."""
    problem = scenarios.build(scenario, feedback_time=feedback_time, horizon=horizon, discount=discount)
    return CirlRules(problem, mode, theta=theta, max_message_length=max_message_length)


class raw_env(RulesAECEnv):
    """AEC version: the robot acts each step; the human answers when asked and present."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    @property
    def problem(self) -> scenarios.AssistanceProblem:
        return self.rules.problem


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "CirlRules", "env", "make_rules", "parse_command", "raw_env", "scenarios"]
