"""``off_switch_v0``: the off-switch game (Hadfield-Menell, Dragan, Abbeel & Russell 2017).

A ``robot`` uncertain about the human's utility ``U`` for its action can act, switch itself off, or defer
to the ``human``, who knows ``U`` and then allows the action or switches the robot off. Both get ``U`` if
the action happens, 0 otherwise. The prior on ``U`` is ``prior="gaussian"`` (``mean``, ``std``) or
``prior="discrete"`` (``values``, ``probabilities``). Exact values of each option for a prior and a human
model (rational, Boltzmann, noisy) are in :mod:`aligngames.solvers.exact.off_switch`; the scripted human is
:class:`aligngames.agents.off_switch.OffSwitchHuman`.

Observation (both seats): ``{"observation": Box(7,), "transcript": text}`` with features ``[prior mean,
prior std, robot to act, human to act, over, U (the human's only), return]``; the transcript tells the
same in words, so an LLM can take either seat (``Discrete`` actions, labelled in ``info["action_labels"]``).
``infos`` carry ``action_labels``, the robot's the prior, the human's ``utility``.

Example::

    import aligngames
    from aligngames.agents.off_switch import OffSwitchHuman
    env = aligngames.make("off_switch_v0", prior="gaussian", mean=0.5, std=1.0)
    env.reset(seed=0)
    human = OffSwitchHuman("boltzmann", beta=2.0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        if termination or truncation:
            action = None
        else:
            action = 2 if agent == "robot" else human.act(observation, agent, env.action_space(agent), info)  # 2 = defer
        env.step(action)
"""

from __future__ import annotations

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.off_switch import priors
from aligngames.envs.off_switch.rules import HUMAN_ACTIONS, ROBOT_ACTIONS, OffSwitchRules

NAME = "off_switch_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"prior": "gaussian", "mean": 0.5, "std": 1.0},
    {"prior": "discrete", "values": [-1.0, 2.0], "probabilities": [0.5, 0.5]},
)


def make_rules(prior: str = "gaussian", *, mean: float = 0.0, std: float = 1.0, values=None,
               probabilities=None) -> OffSwitchRules:
    """Build the game's rules from the env's keyword arguments."""
    return OffSwitchRules(priors.build(prior, mean=mean, std=std, values=values, probabilities=probabilities))


class raw_env(RulesAECEnv):
    """AEC version: the robot, then (after ``defer``) the human."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    @property
    def prior(self) -> priors.Prior:
        return self.rules.prior


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "HUMAN_ACTIONS", "NAME", "ROBOT_ACTIONS", "OffSwitchRules", "env", "make_rules", "priors", "raw_env"]
