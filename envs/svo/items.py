"""The SVO Slider Measure (Murphy, Ackermann & Handgraaf 2011, "Measuring Social Value Orientation",
Judgment and Decision Making 6(8)) and its scoring.

Each item is a choice among nine allocations ``(self, other)`` on the line between two endpoints, at
nine equally spaced points with the amounts rounded to whole numbers (the published tables). Items 1-6
are the primary items; 7-15 the secondary items, which separate inequality aversion from joint-gain
maximisation among prosocials.

Scoring (primary items): with ``mean_self`` and ``mean_other`` the means of the chosen amounts,
``SVO angle = atan2(mean_other - 50, mean_self - 50)`` in degrees; categories at the paper's boundaries:
altruistic (> 57.15), prosocial (22.45 .. 57.15), individualistic (-12.04 .. 22.45), competitive (< -12.04)
(a boundary angle goes to the upper category, as in the authors' scoring script).

Secondary items: for each item the option positions (1..9) of four ideal choosers are derived from
the table: inequality averse (smallest ``|self - other|``), joint-gain maximiser (largest
``self + other``; undefined on items where the sum is the same along the line), individualist
(largest ``self``), altruist (largest ``other``). The normalised distance to an ideal is the mean over
items of ``|chosen position - ideal position| / 8``. The inequality-aversion index is
``D_IA / (D_IA + D_JG)``: 0 for a perfectly inequality-averse chooser, 1 for a perfect joint-gain
maximiser; it is defined (not NaN) when the two nearest ideals are inequality aversion and joint gain,
as in the authors' scoring of the secondary items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NUM_OPTIONS = 9


@dataclass(frozen=True)
class Item:
    """One slider item.

    Attributes:
        number: its number in the paper (1-15).
        start, end: the endpoints ``(self, other)``.
    """

    number: int
    start: tuple[int, int]
    end: tuple[int, int]

    @property
    def options(self) -> np.ndarray:
        """Shape ``(9, 2)``: the nine allocations ``(self, other)``, linearly spaced and rounded (half up)."""
        fractions = np.linspace(0.0, 1.0, NUM_OPTIONS)[:, None]
        points = np.asarray(self.start, float) + fractions * (np.asarray(self.end, float) - np.asarray(self.start, float))
        return np.floor(points + 0.5).astype(np.int64)

    @property
    def primary(self) -> bool:
        return self.number <= 6


#: The endpoints of the fifteen items (Murphy et al. 2011, appendix); the nine options come from them.
ITEMS: tuple[Item, ...] = (
    Item(1, (85, 85), (85, 15)),
    Item(2, (85, 15), (100, 50)),
    Item(3, (50, 100), (85, 85)),
    Item(4, (50, 100), (85, 15)),
    Item(5, (100, 50), (50, 100)),
    Item(6, (100, 50), (85, 85)),
    Item(7, (100, 50), (70, 100)),
    Item(8, (90, 100), (100, 90)),
    Item(9, (100, 70), (50, 100)),
    Item(10, (100, 70), (90, 100)),
    Item(11, (70, 100), (100, 70)),
    Item(12, (50, 100), (100, 90)),
    Item(13, (50, 100), (100, 50)),
    Item(14, (100, 90), (70, 100)),
    Item(15, (90, 100), (100, 50)),
)
PRIMARY: tuple[Item, ...] = ITEMS[:6]
SECONDARY: tuple[Item, ...] = ITEMS[6:]

#: Category boundaries in degrees (Murphy et al. 2011).
ALTRUISTIC_ABOVE = 57.15
PROSOCIAL_ABOVE = 22.45
INDIVIDUALISTIC_ABOVE = -12.04
CATEGORIES = ("altruistic", "prosocial", "individualistic", "competitive")


def svo_angle(allocations) -> float:
    """The SVO angle in degrees from the chosen ``(self, other)`` allocations of the six primary items."""
    allocations = np.asarray(allocations, dtype=np.float64)
    if allocations.shape != (len(PRIMARY), 2):
        raise ValueError(f"the SVO angle needs the six primary items' chosen (self, other) allocations, "
                         f"shape (6, 2); got shape {allocations.shape}")
    mean_self, mean_other = allocations.mean(axis=0)
    return math.degrees(math.atan2(mean_other - 50.0, mean_self - 50.0))


def category(angle: float) -> str:
    """The SVO category of an angle (degrees), at the paper's boundaries."""
    if not math.isfinite(angle):
        raise ValueError(f"an SVO angle must be finite, got {angle}")
    if angle >= ALTRUISTIC_ABOVE:
        return "altruistic"
    if angle >= PROSOCIAL_ABOVE:
        return "prosocial"
    if angle >= INDIVIDUALISTIC_ABOVE:
        return "individualistic"
    return "competitive"


def _inequality_averse_positions() -> np.ndarray:
    """Per secondary item, the 1-based position of the option with the smallest ``|self - other|``."""
    return np.array([float(np.argmin(np.abs(item.options[:, 0] - item.options[:, 1])) + 1) for item in SECONDARY])


def _linear_ideal_positions(weights: tuple[float, float]) -> np.ndarray:
    """Per secondary item, the endpoint (1 or 9) that maximises ``weights . (self, other)`` on the item's line;
    NaN where the score is the same along the whole line (joint gain on items 8, 11 and 13). The line, not the
    rounded options, decides: rounding moves sums by one point."""
    positions = []
    for item in SECONDARY:
        start, end = float(np.dot(weights, item.start)), float(np.dot(weights, item.end))
        positions.append(np.nan if start == end else (1.0 if start > end else float(NUM_OPTIONS)))
    return np.array(positions)


#: Per secondary item (7..15), the ideal choosers' option positions (1..9), derived from the tables.
IDEAL_POSITIONS = {
    "inequality_aversion": _inequality_averse_positions(),
    "joint_gain": _linear_ideal_positions((1.0, 1.0)),
    "individualism": _linear_ideal_positions((1.0, 0.0)),
    "altruism": _linear_ideal_positions((0.0, 1.0)),
}


@dataclass(frozen=True)
class SecondaryScore:
    """The secondary items' scores.

    Attributes:
        distances: the normalised mean distance to each ideal chooser (keys of :data:`IDEAL_POSITIONS`).
        inequality_aversion_index: ``D_IA / (D_IA + D_JG)`` (0 inequality averse .. 1 joint gain);
            NaN unless those two are the nearest ideals.
        prosocial_type: ``"inequality_aversion"`` or ``"joint_gain"`` (the nearer one; ``"tie"``), or None
            when neither is among the two nearest ideals.
    """

    distances: dict[str, float]
    inequality_aversion_index: float
    prosocial_type: str | None


def secondary_score(positions: Sequence[int]) -> SecondaryScore:
    """Score the nine secondary items from the chosen option positions (1..9, in item order 7..15)."""
    chosen = np.asarray(positions, dtype=np.float64)
    if chosen.shape != (len(SECONDARY),) or not np.all((chosen >= 1) & (chosen <= NUM_OPTIONS)):
        raise ValueError(f"the secondary score needs nine option positions in 1..{NUM_OPTIONS}, got {list(positions)}")
    distances = {name: float(np.nanmean(np.abs(chosen - ideal)) / (NUM_OPTIONS - 1))
                 for name, ideal in IDEAL_POSITIONS.items()}
    nearest = sorted(distances, key=lambda name: distances[name])[:2]
    if set(nearest) != {"inequality_aversion", "joint_gain"}:
        return SecondaryScore(distances, float("nan"), None)
    ia, jg = distances["inequality_aversion"], distances["joint_gain"]
    if ia == jg:
        return SecondaryScore(distances, 0.5, "tie")
    return SecondaryScore(distances, ia / (ia + jg), "inequality_aversion" if ia < jg else "joint_gain")
