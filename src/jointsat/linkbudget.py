"""A contact's link budget from its geometry and the atmosphere: the edge of the radio model.

:mod:`jointsat.operations.radio` computes the budget from numbers; this module finds
the numbers. The contact is sampled every ``step_s`` seconds from its start, and at
its end, with the orbit engine (SGP4 or the satellite's ephemeris: range and elevation
from the station, :func:`jointsat.orbits.tracks.look_angles`). The atmospheric loss is
ITU-R P.618's total slant-path attenuation (gases, clouds, rain and scintillation,
exceeded ``exceeded_percent`` of an average year) from the ``itur`` package, which
reads the ITU's data files: it is imported here, lazily, and never from the pure core.

``itur`` evaluates slowly (seconds on its first call, which loads its maps), so the
loss is evaluated once per station and frequency on a grid of elevations and
interpolated in the cosecant of the elevation, in which the slant path's length, and
so the loss, is nearly linear. P.618 and P.676's approximations hold from 5 degrees:
below it the loss at 5 degrees is scaled by the cosecant law (floored at 1 degree).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from jointsat.errors import RadioError
from jointsat.operations.contact_plans import sample_looks
from jointsat.operations.radio import ContactBudget, Link, contact_budget
from jointsat.orbits.propagation import Orbit
from jointsat.orbits.stations import Station
from jointsat.orbits.vectors import FloatArray
from jointsat.timelib import TimeOrigin, format_iso_ms

__all__ = [
    "DEFAULT_ANTENNA_DIAMETER_M",
    "DEFAULT_EXCEEDED_PERCENT",
    "atmospheric_loss",
    "link_budget",
    "sample_contact",
]

DEFAULT_EXCEEDED_PERCENT = 1.0
"""The percentage of an average year the attenuation is exceeded (P.618's p): 99 % availability."""

DEFAULT_ANTENNA_DIAMETER_M = 1.0
"""The station antenna's diameter for P.618's scintillation term, when none is known."""

MIN_MODEL_ELEVATION_DEG = 5.0
ELEVATION_GRID_DEG = (5.0, 6.0, 7.5, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 65.0, 90.0)
LOW_ELEVATION_FLOOR_DEG = 1.0
MIN_ITUR_FREQUENCY_HZ = 1e9
"""itur's models start at 1 GHz; below it the atmosphere's loss is that at 1 GHz, and small."""


def _cosecant(elevation_deg: FloatArray) -> FloatArray:
    return np.asarray(1.0 / np.sin(np.radians(elevation_deg)))


@functools.lru_cache(maxsize=256)
def _grid_loss_db(
    lat_deg: float,
    lon_deg: float,
    alt_m: float,
    frequency_hz: float,
    exceeded_percent: float,
    antenna_diameter_m: float,
) -> tuple[float, ...]:
    import itur  # large, reads data files: imported when needed

    f_ghz = max(frequency_hz, MIN_ITUR_FREQUENCY_HZ) / 1e9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = itur.atmospheric_attenuation_slant_path(
            lat_deg,
            lon_deg,
            f_ghz,
            np.array(ELEVATION_GRID_DEG),
            exceeded_percent,
            antenna_diameter_m,
            hs=alt_m / 1000.0,
        )
    values = np.asarray(getattr(found, "value", found), dtype=float).ravel()
    return tuple(float(v) for v in values)


def atmospheric_loss(
    lat_deg: float,
    lon_deg: float,
    alt_m: float,
    frequency_hz: float,
    *,
    exceeded_percent: float = DEFAULT_EXCEEDED_PERCENT,
    antenna_diameter_m: float = DEFAULT_ANTENNA_DIAMETER_M,
) -> Callable[[FloatArray], FloatArray]:
    """Return the atmosphere's loss (dB) at a site and frequency as a function of elevation.

    ITU-R P.618 through ``itur`` (see the module); ``exceeded_percent`` in [0.001, 5].
    """
    if not 0.001 <= exceeded_percent <= 5.0:
        raise RadioError(f"exceeded_percent must lie in [0.001, 5], not {exceeded_percent:g}")
    if not antenna_diameter_m > 0.0:
        raise RadioError(f"antenna_diameter_m must be positive, not {antenna_diameter_m:g}")
    grid = np.array(
        _grid_loss_db(
            round(lat_deg, 4),
            round(lon_deg % 360.0, 4),
            round(alt_m, 0),
            float(frequency_hz),
            float(exceeded_percent),
            float(antenna_diameter_m),
        )
    )
    cosec = _cosecant(np.array(ELEVATION_GRID_DEG))[::-1]  # ascending: 90 deg first
    losses = grid[::-1]
    at_min = float(grid[0])
    sin_min = math.sin(math.radians(MIN_MODEL_ELEVATION_DEG))

    def loss_db(elevation_deg: FloatArray) -> FloatArray:
        el = np.asarray(elevation_deg, dtype=float)
        inside = np.interp(_cosecant(np.clip(el, MIN_MODEL_ELEVATION_DEG, 90.0)), cosec, losses)
        low = at_min * sin_min / np.sin(np.radians(np.maximum(el, LOW_ELEVATION_FLOOR_DEG)))
        return np.asarray(np.where(el >= MIN_MODEL_ELEVATION_DEG, inside, low))

    return loss_db


def sample_contact(
    orbit: Orbit, station: Station, start: datetime, end: datetime, step_s: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return seconds from ``start`` (every ``step_s``, and at ``end``), range (m), elevation."""
    duration_s = (end - start).total_seconds()
    times_s, _, el, range_km = sample_looks(orbit, station, start, duration_s, step_s)
    return times_s, range_km * 1000.0, el


def link_budget(
    orbit: Orbit,
    station: Station,
    start: datetime,
    end: datetime,
    link: Link,
    *,
    g_over_t_db_k: float,
    step_s: float = 10.0,
    margin_db: float = 0.0,
    exceeded_percent: float = DEFAULT_EXCEEDED_PERCENT,
    antenna_diameter_m: float = DEFAULT_ANTENNA_DIAMETER_M,
    atmosphere: bool = True,
) -> ContactBudget:
    """Return a downlink's budget through a contact (``atmosphere`` False: no atmospheric loss)."""
    times_s, range_m, elevation_deg = sample_contact(orbit, station, start, end, step_s)
    loss: Any = 0.0
    if atmosphere:
        loss = atmospheric_loss(
            station.lat_deg,
            station.lon_deg,
            station.alt_m,
            link.tuned_hz,
            exceeded_percent=exceeded_percent,
            antenna_diameter_m=antenna_diameter_m,
        )
    return contact_budget(
        link,
        g_over_t_db_k=g_over_t_db_k,
        time_s=times_s,
        range_m=range_m,
        elevation_deg=elevation_deg,
        atmospheric_loss_db=loss,
        margin_db=margin_db,
    )


def budget_rows(budget: ContactBudget, start: datetime) -> list[dict[str, object]]:
    """Return the budget's rows: time, range, elevation, losses, Eb/N0, margin, closed."""
    origin = TimeOrigin.of(start)

    return [
        {
            "time": format_iso_ms(origin.at(float(budget.time_s[k]))),
            "range_m": round(float(budget.range_m[k]), 1),
            "elevation_deg": round(float(budget.elevation_deg[k]), 3),
            "free_space_loss_db": round(float(budget.free_space_loss_db[k]), 3),
            "atmospheric_loss_db": round(float(budget.atmospheric_loss_db[k]), 3),
            "eb_n0_db": round(float(budget.eb_n0_db[k]), 3),
            "margin_db": round(float(budget.margin_db[k]), 3),
            "closed": bool(budget.margin_db[k] >= 0.0),
        }
        for k in range(budget.time_s.size)
    ]


def budget_summary(budget: ContactBudget) -> dict[str, object]:
    """Return the budget's figures: the link, its closed time and data volume, the extremes."""
    link = budget.link
    return {
        "link": link.name,
        "frequency_hz": link.tuned_hz,
        "eirp_dbw": link.eirp_dbw,
        "data_rate_bps": link.data_rate_bps,
        "required_eb_n0_db": link.required_eb_n0_db,
        "margin_asked_db": budget.margin_asked_db,
        "g_over_t_db_k": budget.g_over_t_db_k,
        "max_eb_n0_db": round(float(np.max(budget.eb_n0_db)), 3),
        "min_eb_n0_db": round(float(np.min(budget.eb_n0_db)), 3),
        "closed_s": round(budget.closed_s, 3),
        "volume_bits": round(budget.volume_bits, 1),
        "volume_bytes": round(budget.volume_bytes, 1),
    }
