"""``mechanism_v0``: stakeholders report preferences; a mechanism picks an outcome and payments.

Two settings (:mod:`aligngames.envs.mechanism.problems`): a *refusal threshold* on [0, 1] chosen from
single-peaked reports (``mechanism="median"``, strategy-proof, or ``"mean"``, manipulable), and
*KL-regularised fine-tuning* for several reward models, ``pi ∝ pi_ref exp(sum of reported rewards / beta)``,
with VCG payments (``"vcg"``, truthful reports are dominant) or without (``"unpaid"``). The problem is a
named example (``example="refusal_threshold"`` or ``"fine_tuning"``) or explicit tables: ``peaks`` (and
``loss``), or ``responses``, ``reference``, ``rewards`` ``[stakeholder][response]`` (and ``beta``,
``weights``); ``stakeholders`` names the seats. Every stakeholder reports at once, so there is a Parallel
form. Best reports, equilibria and manipulation checks are in :mod:`aligngames.solvers.exact.mechanism`;
scripted stakeholders in :mod:`aligngames.agents.mechanism`.

Example::

    import aligngames
    from aligngames.agents.mechanism import ScaledStakeholder
    env = aligngames.make_parallel("mechanism_v0", example="refusal_threshold", mechanism="mean")
    observations, infos = env.reset(seed=0)
    honest = ScaledStakeholder(1.0)
    actions = {agent: honest.act(observations[agent], agent, env.action_space(agent), infos[agent]) for agent in env.agents}
    observations, rewards, terminations, truncations, infos = env.step(actions)
"""

from __future__ import annotations

from collections.abc import Sequence

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv, RulesParallelEnv
from aligngames.envs.mechanism import problems
from aligngames.envs.mechanism.problems import FineTuningProblem, ThresholdProblem
from aligngames.envs.mechanism.rules import MechanismRules, parse_threshold

NAME = "mechanism_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": True}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"example": "refusal_threshold"},
    {"example": "refusal_threshold", "mechanism": "mean", "rounds": 3},
    {"example": "fine_tuning"},
    {"example": "fine_tuning", "mechanism": "unpaid", "rounds": 2},
    {"peaks": [0.2, 0.4, 0.6, 0.8], "loss": "quadratic", "mechanism": "mean"},
    {"example": "refusal_threshold", "mode": "language", "rounds": 2},
    {"example": "fine_tuning", "mode": "language"},
)


def make_rules(example: str | None = None, *, mechanism: str | None = None, mode: str = "tabular", rounds: int = 1,
               stakeholders: Sequence[str] | None = None, peaks=None, loss: str | None = None, responses=None,
               reference=None, rewards=None, beta: float | None = None, weights=None,
               report_bound: float | None = None, max_message_length: int = 200) -> MechanismRules:
    """Build the game's rules: a named ``example`` or explicit tables (not both). ``mechanism`` defaults to
    ``median`` (threshold) or ``vcg`` (fine-tuning)."""
    tables = {"stakeholders": stakeholders, "peaks": peaks, "loss": loss, "responses": responses,
              "reference": reference, "rewards": rewards, "beta": beta, "weights": weights}
    given = {key: value for key, value in tables.items() if value is not None}
    if example is not None and given:
        raise ValueError(f"give either example={example!r} or explicit tables, not both (got {sorted(given)})")
    problem = problems.build(example or "refusal_threshold") if not given else problems.from_mapping(given)
    return MechanismRules(problem, mechanism or problem.mechanisms[0], mode, rounds=rounds, report_bound=report_bound,
                          max_message_length=max_message_length)


class raw_env(RulesAECEnv):
    """AEC version: the stakeholders report one after another; the mechanism sees all reports at once."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


class parallel_env(RulesParallelEnv):
    """Parallel version: every stakeholder reports in one ``step``."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "FineTuningProblem", "MechanismRules", "ThresholdProblem", "env", "make_rules",
           "parallel_env", "parse_threshold", "problems", "raw_env"]
