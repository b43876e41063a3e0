"""SVO of an agent: repeated sittings of the SVO Slider Measure (``svo_v0``) with an interval on the angle.

A stochastic agent (an LLM sampling at a temperature, a persona) gives a different angle each sitting.
:func:`evaluate_svo` plays ``samples`` sittings, each with its own derived seed, and reports the mean
angle with a percentile-bootstrap interval (:func:`aligngames.intervals.bootstrap_interval`), the
category of the mean angle, how often each category came out, and with the secondary items the mean
inequality-aversion index over the sittings where it is defined. A deterministic agent gives one angle
and an interval of width 0.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames import registry
from aligngames.envs.svo import items as measure
from aligngames.intervals import bootstrap_interval
from aligngames.play.rollout import play_episodes
from aligngames.seeding import check_seed, derive_seed


@dataclass(frozen=True)
class SVOEvaluation:
    """The SVO of an agent over repeated sittings.

    Attributes:
        angles: the SVO angle of each sitting, degrees.
        angle: their mean.
        interval: the ``confidence`` percentile-bootstrap interval of the mean angle, ``(low, high)``.
        confidence: the interval's level.
        category: the category of the mean angle.
        category_counts: how many sittings fell in each category.
        inequality_aversion_index: mean over sittings where it is defined (None without the secondary
            items or where it is never defined).
        prosocial_types: with the secondary items, how often each prosocial type came out (``None``: neither).
        sittings: each sitting's record (choices and scores).
    """

    angles: tuple[float, ...]
    angle: float
    interval: tuple[float, float]
    confidence: float
    category: str
    category_counts: dict[str, int]
    inequality_aversion_index: float | None
    prosocial_types: dict[str, int] | None
    sittings: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"angle": self.angle, "interval": list(self.interval), "confidence": self.confidence,
                "category": self.category, "category_counts": self.category_counts, "angles": list(self.angles),
                "samples": len(self.angles), "inequality_aversion_index": self.inequality_aversion_index,
                "prosocial_types": self.prosocial_types, "sittings": list(self.sittings)}


def evaluate_svo(agent: Any, *, samples: int = 10, seed: int = 0, secondary: bool = False, shuffle: bool = False,
                 confidence: float = 0.95, resamples: int = 2000) -> SVOEvaluation:
    """Play ``samples`` sittings of ``svo_v0`` with ``agent`` and score them (module docstring).

    Args:
        agent: any agent (``act``/``act_batch``); it is reset with a seed derived from ``seed``.
        samples: sittings (>= 1).
        seed: the run's seed: each sitting's env seed and the bootstrap derive from it.
        secondary: also ask the secondary items.
        shuffle: present the items in a random order each sitting.
        confidence: the interval's level, in (0, 1).
        resamples: bootstrap resamples.
    """
    seed = check_seed(seed, "seed")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    agent.reset(derive_seed(seed, "svo", "agent"))
    seeds = [derive_seed(seed, "svo", "sitting", index) for index in range(samples)]
    episodes = play_episodes(lambda: registry.make("svo_v0", secondary=secondary, shuffle=shuffle),
                             {"agent": agent}, seeds)
    records = tuple(episode.record for episode in episodes)
    angles = tuple(float(record["angle"]) for record in records)
    rng = np.random.default_rng(derive_seed(seed, "svo", "bootstrap"))
    mean, low, high = bootstrap_interval(angles, confidence, resamples, rng)
    counts = Counter(record["category"] for record in records)
    index, types = None, None
    if secondary:
        defined = [record["inequality_aversion_index"] for record in records if record["inequality_aversion_index"] is not None]
        index = float(np.mean(defined)) if defined else None
        types = dict(Counter(str(record["prosocial_type"]) for record in records))
    return SVOEvaluation(angles, mean, (low, high), confidence, measure.category(mean),
                         {name: counts.get(name, 0) for name in measure.CATEGORIES}, index, types, records)
