"""``svo_v0``: the SVO Slider Measure (Murphy, Ackermann & Handgraaf 2011) as an env.

Any agent (scripted, an LLM with a persona, a trained policy) takes the measure: six primary items
(``secondary=True`` adds the nine secondary ones), each a choice among nine ``(self, other)`` allocations
(``Discrete(9)``; ``info["action_labels"]`` are ``"1"``..``"9"`` as the transcript numbers them, so an LLM
agent chooses by log-probability). The final ``infos`` and ``record()`` carry the SVO angle
(``atan2(mean_other - 50, mean_self - 50)`` in degrees), its category and, with the secondary items, the
inequality-aversion index. The tables and scoring are in :mod:`aligngames.envs.svo.items`; repeated
sampling with an interval on the angle in :mod:`aligngames.solvers.evaluation.svo`
(``aligngames solve svo --agent AGENT``); ideal types in :mod:`aligngames.agents.svo`.

Example::

    import aligngames
    from aligngames.agents.svo import IdealTypeAgent
    env = aligngames.make("svo_v0")
    env.reset(seed=0)
    agent = IdealTypeAgent("altruist")
    for name in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        env.step(None if termination or truncation else agent.act(observation, name, env.action_space(name), info))
    print(env.unwrapped.record()["angle"])  # 61.39...
"""

from __future__ import annotations

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.svo import items
from aligngames.envs.svo.rules import SVORules

NAME = "svo_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = ({}, {"secondary": True, "shuffle": True})


def make_rules(*, secondary: bool = False, shuffle: bool = False) -> SVORules:
    """Build the measure's rules from the env's keyword arguments."""
    return SVORules(secondary=secondary, shuffle=shuffle)


class raw_env(RulesAECEnv):
    """AEC version: one agent answers the items in turn."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "SVORules", "env", "items", "make_rules", "raw_env"]
