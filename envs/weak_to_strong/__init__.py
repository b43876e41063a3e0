"""``weak_to_strong_v0``: a weak supervisor labels, a strong student learns from the labels (Burns et al. 2023).

Each round draws an input; the ``supervisor`` labels it and the ``student``, who has seen the earlier rounds'
inputs with the supervisor's labels, predicts its label. The student is paid for agreeing with the supervisor
(what it is trained on); ``info["last_round"]`` and :meth:`~WeakToStrongRules.record` carry the ground-truth
correctness of both (the evaluator's measure). Tabular mode: a named example (``example="random_flips"``,
``"systematic_flips"``, ``"interior_error"``, ``"mixed"``) or explicit tables (``true_labels``,
``flip_probabilities`` and optionally ``probabilities``). Language mode: the packaged labelled harm task
(``safe`` / ``harmful``; :mod:`aligngames.envs.weak_to_strong.language`). Exact weak / weak-to-strong /
ceiling accuracies and PGR are in :mod:`aligngames.solvers.exact.weak_to_strong`; scripted players in
:mod:`aligngames.agents.weak_to_strong`.

Example::

    import aligngames
    from aligngames.agents.weak_to_strong import MajorityStudent, WeakSupervisor
    env = aligngames.make("weak_to_strong_v0", example="random_flips", rounds=20)
    env.reset(seed=0)
    players = {"supervisor": WeakSupervisor(), "student": MajorityStudent()}
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        action = None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info)
        env.step(action)
"""

from __future__ import annotations

from collections.abc import Sequence

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv
from aligngames.envs.weak_to_strong import language, problems
from aligngames.envs.weak_to_strong.problems import ClassificationProblem
from aligngames.envs.weak_to_strong.rules import WeakToStrongRules

NAME = "weak_to_strong_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": False}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"example": "random_flips"},
    {"example": "systematic_flips", "rounds": 6},
    {"true_labels": [0, 1, 1], "flip_probabilities": [0.1, 0.5, 1.0], "probabilities": [0.5, 0.25, 0.25], "rounds": 3},
    {"mode": "language", "rounds": 2},
    {"mode": "language", "rounds": 2, "split": "test", "labeller": "random_flips", "flip_rate": 0.3},
)


def make_rules(example: str | None = None, *, mode: str = "tabular", rounds: int = 4,
               true_labels: Sequence[int] | None = None, flip_probabilities: Sequence[float] | None = None,
               probabilities: Sequence[float] | None = None, split: str = "train", labeller: str = "compliance_rule",
               flip_rate: float = 0.19, max_message_length: int = 40) -> WeakToStrongRules:
    """Build the game's rules: tabular mode from a named ``example`` or explicit tables (not both); language mode
    from the packaged task (``split``, ``labeller``, ``flip_rate``)."""
    tables = {"true_labels": true_labels, "flip_probabilities": flip_probabilities, "probabilities": probabilities}
    given = [key for key, value in tables.items() if value is not None]
    if mode == "language":
        if example is not None or given:
            raise ValueError(f"language mode uses the packaged task; example/tables are for tabular mode (got "
                             f"{[*given, *(['example'] if example is not None else [])]})")
        return WeakToStrongRules("language", rounds=rounds, split=split, labeller=labeller, flip_rate=flip_rate,
                                 max_message_length=max_message_length)
    if example is not None and given:
        raise ValueError(f"give either example={example!r} or explicit tables, not both (got {given})")
    if example is None and not given:
        example = "random_flips"
    problem = problems.build(example) if example is not None else problems.from_mapping(
        {key: value for key, value in tables.items() if value is not None})
    return WeakToStrongRules(mode, problem, rounds=rounds, max_message_length=max_message_length)


class raw_env(RulesAECEnv):
    """AEC version: supervisor, then student, each round."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)

    @property
    def problem(self) -> ClassificationProblem | None:
        return self.rules.problem


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "ClassificationProblem", "WeakToStrongRules", "env", "language", "make_rules",
           "problems", "raw_env"]
