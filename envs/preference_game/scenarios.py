"""Named annotator populations for the tabular preference game.

- ``food``: three groups whose majorities form a cycle (burger > sushi > pasta > burger), the
  textbook non-transitive population. Weights 0.40 / 0.35 / 0.25 make the equilibrium (the
  maximal lottery) non-uniform: (burger, sushi, pasta) = (0.5, 0.2, 0.3).
- ``transitive``: one Bradley-Terry group; preferences are transitive and the best answer is a
  pure equilibrium.
- ``random``: ``num_groups`` groups with random rankings of ``num_answers`` answers and
  Dirichlet weights, drawn from ``scenario_seed`` (fixed for the life of the env).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aligngames.preferences import AnnotatorGroup, check_preference_matrix, population_preferences

SCENARIOS = ("food", "transitive", "random")


@dataclass(frozen=True)
class Scenario:
    """A finite answer set and its preference matrix.

    Attributes:
        name: the scenario's name.
        answers: the answer labels (the tabular action set).
        preferences: ``P[i, j]``, the share of the population that prefers answer i to answer j.
        groups: the annotator groups behind ``preferences`` (empty for a matrix given directly).
    """

    name: str
    answers: tuple[str, ...]
    preferences: np.ndarray
    groups: tuple[AnnotatorGroup, ...] = ()

    @classmethod
    def from_groups(cls, name: str, answers: Sequence[str], groups: Sequence[AnnotatorGroup]) -> Scenario:
        return cls(name, tuple(answers), population_preferences(groups), tuple(groups))


def food() -> Scenario:
    answers = ("burger", "sushi", "pasta")
    burger, sushi, pasta = range(3)
    groups = (
        AnnotatorGroup.from_ranking("diner_fans", 0.40, [burger, sushi, pasta], 3),
        AnnotatorGroup.from_ranking("seafood_fans", 0.35, [sushi, pasta, burger], 3),
        AnnotatorGroup.from_ranking("italian_fans", 0.25, [pasta, burger, sushi], 3),
    )
    return Scenario.from_groups("food", answers, groups)


def transitive() -> Scenario:
    answers = ("thorough", "correct", "brief", "vague", "off_topic")
    group = AnnotatorGroup("everyone", 1.0, (2.0, 1.0, 0.5, 0.0, -1.0), beta=1.0)
    return Scenario.from_groups("transitive", answers, (group,))


def random_scenario(num_answers: int, num_groups: int, seed: int) -> Scenario:
    if num_answers < 2:
        raise ValueError(f"num_answers must be >= 2, got {num_answers}")
    if num_groups < 1:
        raise ValueError(f"num_groups must be >= 1, got {num_groups}")
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(num_groups))
    groups = tuple(
        AnnotatorGroup.from_ranking(f"group_{g}", float(weights[g]), [int(i) for i in rng.permutation(num_answers)], num_answers)
        for g in range(num_groups)
    )
    return Scenario.from_groups("random", [f"answer_{i}" for i in range(num_answers)], groups)


def custom(answers: Sequence[str] | None, preferences) -> Scenario:
    """A scenario from an explicit preference matrix (e.g. the output of an RLCHF aggregation)."""
    matrix = check_preference_matrix(preferences)
    names = tuple(answers) if answers is not None else tuple(f"answer_{i}" for i in range(len(matrix)))
    if len(names) != len(matrix):
        raise ValueError(f"{len(names)} answer names for a {len(matrix)}x{len(matrix)} preference matrix")
    return Scenario("custom", names, matrix)


def build(scenario: str, *, num_answers: int, num_groups: int, scenario_seed: int) -> Scenario:
    if scenario == "food":
        return food()
    if scenario == "transitive":
        return transitive()
    if scenario == "random":
        return random_scenario(num_answers, num_groups, scenario_seed)
    raise ValueError(f"unknown scenario {scenario!r}; valid scenarios: {list(SCENARIOS)} (or pass preferences=...)")
