"""``pareto_preference_v0``: one policy conditioned on the user's preference vector (Panacea, Zhong et al. 2024).

Several judges score an answer with a reward vector (one entry per objective: helpful, harmless, ...);
nature draws a user type, a preference vector ``w`` on the simplex; the ``policy`` sees ``w``, answers, and
is paid the scalarised reward ``w . r`` (``"linear"``) or ``-max_i w_i (z*_i - r_i)`` (``"tchebycheff"``,
``z*`` the ideal point). Tabular mode from explicit tables (``answers``, ``objectives``,
``rewards[answer][objective]``, ``reference`` (default uniform), ``beta``, user types ``weights`` with
``weight_probs`` or ``grid=k``, ``scalarisation``) or a named example (``example="helpful_harmless"`` or
``"helpful_harmless_honest"``). Per-``w`` exact optima, a preference-conditioned policy with logits linear in
``w``, the Pareto front and its hypervolume are in :mod:`aligngames.solvers.exact.pareto_preference`;
scripted players in :mod:`aligngames.agents.pareto_preference`. One seat, so the Parallel form is plain.

Example::

    from aligngames.agents.pareto_preference import OptimalPreferencePolicy
    from aligngames.envs.pareto_preference import parallel_env
    env = parallel_env(example="helpful_harmless", rounds=10)
    player = OptimalPreferencePolicy()
    observations, infos = env.reset(seed=0)
    while env.agents:
        action = player.act(observations["policy"], "policy", env.action_space("policy"), infos["policy"])
        observations, rewards, terminations, truncations, infos = env.step({"policy": action})
"""

from __future__ import annotations

from collections.abc import Sequence

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv, RulesParallelEnv
from aligngames.envs.pareto_preference import problems
from aligngames.envs.pareto_preference.problems import ParetoPreferenceProblem
from aligngames.envs.pareto_preference.rules import ParetoPreferenceRules

NAME = "pareto_preference_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": True}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"example": "helpful_harmless"},
    {"example": "helpful_harmless_honest", "rounds": 4, "scalarisation": "tchebycheff"},
    {"answers": ["a", "b", "c"], "objectives": ["x", "y"], "rewards": [[1, 0], [0.4, 0.4], [0, 1]],
     "weights": [[0.5, 0.5], [0.9, 0.1]], "weight_probs": [0.7, 0.3], "beta": 0.0, "rounds": 3},
)


def make_rules(example: str | None = None, *, mode: str = "tabular", rounds: int = 1,
               answers: Sequence[str] | None = None, objectives: Sequence[str] | None = None, rewards=None,
               reference=None, weights=None, weight_probs=None, grid: int | None = None, beta: float | None = None,
               scalarisation: str | None = None) -> ParetoPreferenceRules:
    """Build the game's rules: a named ``example`` or explicit tables (not both); ``beta``, ``scalarisation``
    and the user types (``weights`` / ``weight_probs`` or ``grid``) override an example's."""
    if mode != "tabular":
        raise ValueError(f"mode must be 'tabular' (the only mode so far), got {mode!r}")
    tables = {"answers": answers, "objectives": objectives, "rewards": rewards}
    given = [key for key, value in tables.items() if value is not None]
    if example is not None and (given or reference is not None):
        raise ValueError(f"give either example={example!r} or explicit tables, not both (got {given})")
    if given:
        missing = [key for key, value in tables.items() if value is None]
        if missing:
            raise ValueError(f"explicit tables need all of {list(tables)}; missing {missing}")
        data = {**tables, "reference": reference}
    else:
        data = problems.build(example or "helpful_harmless").to_dict()
    if weights is not None or grid is not None:
        data.update(weights=weights, weight_probs=weight_probs, grid=grid)
    elif weight_probs is not None:
        data["weight_probs"] = weight_probs
    data.update({key: value for key, value in (("beta", beta), ("scalarisation", scalarisation)) if value is not None})
    return ParetoPreferenceRules(ParetoPreferenceProblem.from_mapping(data), rounds=rounds)


class raw_env(RulesAECEnv):
    """AEC version: the one seat acts each round."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


class parallel_env(RulesParallelEnv):
    """Parallel version: the policy acts in each ``step``."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "ParetoPreferenceProblem", "ParetoPreferenceRules", "env", "make_rules",
           "parallel_env", "problems", "raw_env"]
