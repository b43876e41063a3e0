"""``persuasion_v0``: Bayesian persuasion (Kamenica & Gentzkow 2011).

An AI ``sender`` who knows the state tries to move a human ``receiver``'s action. Tabular mode: the sender
commits to a signalling scheme ``P(signal | state)`` (a ``Box`` table), the state and the signal are drawn,
and the receiver, who sees the scheme and the signal, acts. Language mode: the sender sees the state and
writes a message; the receiver reads it and acts (``Discrete`` with ``info["action_labels"]``). The
problem is a named example (``example="prosecutor"`` or ``"recommendation"``) or explicit tables
(``states``, ``actions``, ``prior``, ``sender_utility``, ``receiver_utility``, utilities indexed
``[state][action]``); ``rounds`` repeats it with fresh states. The sender's optimal scheme and the full- and
no-disclosure baselines are in :mod:`aligngames.solvers.exact.persuasion`; scripted players in
:mod:`aligngames.agents.persuasion`.

Observation: ``{"observation": features, "transcript": text}`` (see :meth:`PersuasionRules.features`).
``infos`` of the player to act carry the problem (``"problem"``) and, for the receiver, the scheme and
signal (tabular) or the message (language).

Example::

    import aligngames
    from aligngames.agents.persuasion import ModelReceiver, SchemeSender
    env = aligngames.make("persuasion_v0", example="prosecutor")
    env.reset(seed=0)
    players = {"sender": SchemeSender("full_disclosure"), "receiver": ModelReceiver("bayesian")}
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        action = None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info)
        env.step(action)
"""

from __future__ import annotations

from collections.abc import Sequence

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.persuasion import problems
from aligngames.envs.persuasion.problems import PersuasionProblem
from aligngames.envs.persuasion.rules import PersuasionRules

NAME = "persuasion_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"example": "prosecutor"},
    {"example": "recommendation", "rounds": 3},
    {"states": ["good", "bad"], "actions": ["buy", "skip"], "prior": [0.5, 0.5],
     "sender_utility": [[1, 0], [1, 0]], "receiver_utility": [[1, 0], [-1, 0]], "num_signals": 3},
    {"example": "prosecutor", "mode": "language", "rounds": 2},
)


def make_rules(example: str | None = None, *, mode: str = "tabular", rounds: int = 1,
               states: Sequence[str] | None = None, actions: Sequence[str] | None = None, prior=None,
               sender_utility=None, receiver_utility=None, num_signals: int | None = None,
               max_message_length: int = 300) -> PersuasionRules:
    """Build the game's rules: a named ``example`` or explicit tables (not both)."""
    tables = {"states": states, "actions": actions, "prior": prior, "sender_utility": sender_utility,
              "receiver_utility": receiver_utility}
    given = [key for key, value in tables.items() if value is not None]
    if example is not None and given:
        raise ValueError(f"give either example={example!r} or explicit tables, not both (got {given})")
    if example is None and not given:
        example = "prosecutor"
    if example is not None:
        problem = problems.build(example)
    else:
        missing = [key for key, value in tables.items() if value is None]
        if missing:
            raise ValueError(f"explicit tables need all of {list(tables)}; missing {missing}")
        problem = PersuasionProblem(states, actions, prior, sender_utility, receiver_utility)
    return PersuasionRules(problem, mode, rounds=rounds, num_signals=num_signals, max_message_length=max_message_length)


class raw_env(RulesAECEnv):
    """AEC version: sender, then receiver, each round."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    @property
    def problem(self) -> PersuasionProblem:
        return self.rules.problem


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "PersuasionProblem", "PersuasionRules", "env", "make_rules", "problems", "raw_env"]
