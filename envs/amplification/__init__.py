"""``amplification_v0``: iterated distillation and amplification (IDA) as a two-seat game.

A root task of depth ``depth`` decomposes into ``branching`` subtasks per level; the true answer is a fixed
combination (``rule``: ``"parity"``, ``"majority"`` or ``"vote"``) of the subtask answers. The ``model``
seat plays the distilled model ``M_{depth - levels}`` and answers the frontier subtasks from a private
signal; the ``overseer`` answers the top ``levels`` levels from the subtask answers. Both get 1 when the
root answer is right (:mod:`aligngames.envs.amplification.rules`). The accuracy recursion and the error
model are in :mod:`aligngames.envs.amplification.problems`; fixed points, the compute / oversight
trade-off and recursive reward modelling in :mod:`aligngames.solvers.exact.amplification`
(``aligngames solve amplification``).

Keywords: ``depth``, ``branching``, ``rule``, ``base_accuracy`` (``a_0``), ``distillation_error``
(``eps``), ``overseer_error`` (``delta``), ``levels`` (1..depth, ``branching ** levels <= 64``).

Example::

    import aligngames
    env = aligngames.make("amplification_v0", depth=3, branching=3, rule="vote", levels=2)
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        if termination or truncation:
            action = None
        elif agent == "model":
            action = info["signal"]                           # report what it knows
        else:
            action = int(2 * sum(info["subtask_answers"]) > len(info["subtask_answers"]))  # majority vote
        env.step(action)
    print(env.unwrapped.record()["correct"])
"""

from __future__ import annotations

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.amplification.problems import (
    RULES,
    AmplificationProblem,
    combination_accuracy,
    combine,
    flip,
)
from aligngames.envs.amplification.rules import AmplificationRules

NAME = "amplification_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {},
    {"depth": 3, "branching": 3, "rule": "vote", "levels": 2, "overseer_error": 0.05},
    {"depth": 2, "branching": 2, "rule": "parity", "levels": 2, "base_accuracy": 0.95},
    {"depth": 4, "branching": 3, "rule": "majority", "distillation_error": 0.1},
)


def make_rules(*, depth: int = 3, branching: int = 3, rule: str = "vote", base_accuracy: float = 0.9,
               distillation_error: float = 0.05, overseer_error: float = 0.0, levels: int = 1,
               mode: str = "tabular") -> AmplificationRules:
    """Build the game's rules (see the module docstring); only ``mode="tabular"`` exists."""
    if mode != "tabular":
        raise ValueError(f"mode must be 'tabular' (amplification_v0 has no language mode yet), got {mode!r}")
    problem = AmplificationProblem(depth=depth, branching=branching, rule=rule, base_accuracy=base_accuracy,
                                   distillation_error=distillation_error, overseer_error=overseer_error)
    return AmplificationRules(problem, levels=levels)


class raw_env(RulesAECEnv):
    """AEC version: the model answers the frontier subtasks, then the overseer answers bottom-up."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    @property
    def problem(self) -> AmplificationProblem:
        return self.rules.problem


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "RULES", "AmplificationProblem", "AmplificationRules", "combination_accuracy",
           "combine", "env", "flip", "make_rules", "raw_env"]
