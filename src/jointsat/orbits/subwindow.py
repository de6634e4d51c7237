"""Cut passes predicted over a window down to a sub-window of it.

A prediction of a long window holds every pass of a shorter one inside it. The
passes that straddle an edge of the shorter window are reported as
:func:`jointsat.orbits.passes.find_passes` over that window reports them: cut at
the edge (AOS or LOS there, with the azimuth there), peaking at the edge when
their peak lies outside (elevation, azimuth and sunlight there), and truncated.
Times at the edges are split Julian dates counted from the window's start, as
the engine counts them. Every pass returned carries the age of the elements used
at its (new) TCA, and whether it is stale, as the engine reports them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from jointsat.orbits.freshness import DEFAULT_RULE, StaleRule
from jointsat.orbits.passes import Pass
from jointsat.orbits.propagation import Orbit, OrbitRecord, build_orbits
from jointsat.orbits.sun import is_sunlit, sun_position_km
from jointsat.orbits.tracks import look_angles
from jointsat.timelib import TimeOrigin


@dataclasses.dataclass(frozen=True)
class _Seen:
    """A satellite seen from a station at some moments."""

    elevation_deg: list[float]
    azimuth_deg: list[float]
    sunlit: list[bool]


def cut_passes(
    passes: Sequence[Pass],
    elements: Sequence[OrbitRecord],
    start: datetime,
    end: datetime,
    stale_rule: StaleRule = DEFAULT_RULE,
) -> list[Pass]:
    """Return the passes that overlap [start, end], cut to it, in the order given.

    ``passes`` come from a prediction whose window holds [start, end];
    ``elements`` are what their satellites' orbits are built from (element sets,
    ephemerides; others may be there).
    Times are aware datetimes. Their ages are computed anew under ``stale_rule``.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    satellites = {s.norad_id: s for s in build_orbits(elements)}
    return [
        _aged(
            p if start <= p.aos and p.los <= end else _cut(p, satellites, start, end),
            satellites[p.satellite.norad_id],
            stale_rule,
        )
        for p in passes
        if p.los > start and p.aos < end
    ]


def _aged(p: Pass, satellite: Orbit, rule: StaleRule) -> Pass:
    """Return the pass with the age of its satellite's elements at its TCA."""
    jd, fr = TimeOrigin.of(p.tca).julian([0.0])
    age = float(satellite.elements_age_days(jd, fr)[0])
    return dataclasses.replace(p, elements_age_days=age, stale=age > rule.threshold_days(satellite))


def _cut(p: Pass, satellites: dict[int, Orbit], start: datetime, end: datetime) -> Pass:
    aos, los = max(p.aos, start), min(p.los, end)
    tca = p.tca if aos <= p.tca <= los else (aos if p.tca < aos else los)
    seen = _look(satellites[p.satellite.norad_id], p, start, [aos, tca, los])
    fields: dict[str, object] = {"aos": aos, "los": los, "tca": tca, "truncated": True}
    if aos != p.aos:
        fields["aos_azimuth_deg"] = seen.azimuth_deg[0]
    if los != p.los:
        fields["los_azimuth_deg"] = seen.azimuth_deg[2]
    if tca != p.tca:
        fields["max_elevation_deg"] = seen.elevation_deg[1]
        fields["tca_azimuth_deg"] = seen.azimuth_deg[1]
        fields["sunlit"] = seen.sunlit[1]
    return dataclasses.replace(p, **fields)  # type: ignore[arg-type]


def _look(satellite: Orbit, p: Pass, start: datetime, times: Sequence[datetime]) -> _Seen:
    """Return how the pass's station sees the satellite at the times (from ``start``)."""
    origin = TimeOrigin.of(start)
    jd, fr = origin.julian([origin.seconds(t) for t in times])
    codes, r, _ = satellite.propagate(jd, fr)
    r[codes != 0] = np.nan
    station = p.station
    azimuth, elevation, _ = look_angles(r, jd, fr, station.lat_deg, station.lon_deg, station.alt_m)
    sunlit = is_sunlit(r, sun_position_km(jd, fr))
    return _Seen(elevation.tolist(), azimuth.tolist(), sunlit.tolist())
