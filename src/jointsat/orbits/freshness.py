"""Say how old the elements behind a prediction are, and when they are too old: stale.

The age of a satellite's elements at a moment is |moment - epoch|, in days, of the
element set the propagator uses then (the nearest in epoch): how far it extrapolates,
forwards or backwards. Past a threshold the prediction is *stale*: by default 7 days
for a low Earth orbit (more than 11.25 revolutions a day, eccentricity below 0.25)
and 30 days for any higher orbit, whose elements age more slowly. Pure: the moments
are handed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from jointsat.constants import STALE_ABOVE_LEO_DAYS, STALE_LEO_DAYS
from jointsat.orbits.propagation import Orbit
from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray
from jointsat.timelib import TimeOrigin

WINDOW_SAMPLE_S = 60.0
"""Step (s) at which a window is sampled for its oldest moment: the worst age is exact
to half of it (ages change by one day per day)."""


@dataclass(frozen=True)
class StaleRule:
    """Say when elements are stale: older than ``leo_days`` in LEO, ``above_leo_days`` above."""

    leo_days: float = STALE_LEO_DAYS
    above_leo_days: float = STALE_ABOVE_LEO_DAYS

    def __post_init__(self) -> None:
        for name in ("leo_days", "above_leo_days"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name}: give a positive number of days, not {value!r}")

    def threshold_days(self, satellite: Orbit) -> float:
        """Return the age past which this satellite's elements are stale."""
        return self.leo_days if satellite.low_earth_orbit else self.above_leo_days


DEFAULT_RULE = StaleRule()
"""7 days in LEO, 30 above (constants.py); settings.py reads the configured rule."""


@dataclass(frozen=True)
class Freshness:
    """The oldest the elements of one satellite get over a window, and its threshold."""

    norad_id: int
    name: str
    elements_age_days: float
    stale_after_days: float

    @property
    def stale(self) -> bool:
        """Say whether the elements are stale at some moment of the window."""
        return self.elements_age_days > self.stale_after_days


def window_freshness(
    satellite: Orbit, start: datetime, end: datetime, rule: StaleRule
) -> Freshness:
    """Return the oldest age of the satellite's elements over [start, end]."""
    origin = TimeOrigin.of(start)
    duration_s = max(origin.seconds(end), 0.0)
    t_s = np.append(np.arange(0.0, duration_s, WINDOW_SAMPLE_S), duration_s)
    ages = satellite.elements_age_days(*origin.julian(t_s))
    return Freshness(
        satellite.norad_id, satellite.name, float(np.max(ages)), rule.threshold_days(satellite)
    )


def ages_at(
    satellites: Sequence[Orbit], satellite: IntArray, origin: TimeOrigin, t_s: FloatArray
) -> FloatArray:
    """Return the age of the elements of ``satellites[satellite[i]]`` at ``t_s[i]`` (s)."""
    ages = np.zeros(np.shape(t_s))
    jd, fr = origin.julian(t_s)
    for k in np.unique(satellite):
        rows = satellite == k
        ages[rows] = satellites[int(k)].elements_age_days(jd[rows], fr[rows])
    return ages


def stale_mask(
    satellites: Sequence[Orbit], satellite: IntArray, ages_days: FloatArray, rule: StaleRule
) -> BoolArray:
    """Return whether each age, of ``satellites[satellite[i]]``, is past its threshold."""
    thresholds = np.array([rule.threshold_days(s) for s in satellites] or [0.0])
    return np.asarray(ages_days > thresholds[satellite], dtype=bool)
