"""Compare jointsat's passes with Skyfield's ``find_events`` on the same inputs.

Skyfield is the oracle: for every satellite-station pair it finds rises,
culminations and sets. Its rise and set times come out late by up to half a
second (it stops refining at 0.5 s), and its culmination is refined to about
a second, so its maximum elevation is re-measured here by a golden-section
search on Skyfield's own altitude around its culmination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from jointsat.orbits.elements import Elements
from jointsat.orbits.passes import Passes
from jointsat.orbits.stations import Station

GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass
class SkyPass:
    """One complete pass as Skyfield sees it, in seconds after the window's start."""

    satellite: int
    station: int
    rise_s: float
    culmination_s: float
    set_s: float
    max_elevation_deg: float


def skyfield_passes(
    elements: Sequence[Elements],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    min_elevation_deg: float,
    *,
    refine_maxima: bool = True,
) -> tuple[list[SkyPass], int]:
    """Return Skyfield's complete passes (rise, culmination, set) and its number of rises."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale()
    t0, t1 = ts.from_datetime(start), ts.from_datetime(end)
    out: list[SkyPass] = []
    rises = 0
    for i, e in enumerate(elements):
        sat = EarthSatellite.from_satrec(e.satrec(), ts)
        for j, s in enumerate(stations):
            site = wgs84.latlon(s.lat_deg, s.lon_deg, s.alt_m)
            times, events = sat.find_events(site, t0, t1, altitude_degrees=min_elevation_deg)
            rises += int(np.sum(events == 0))
            seconds = (times.tt - t0.tt) * 86400.0
            _collect(out, i, j, seconds, events, sat - site, ts, t0, refine_maxima)
    return out, rises


def _collect(out, i, j, seconds, events, topocentric, ts, t0, refine) -> None:  # type: ignore[no-untyped-def]
    k = 0
    while k < len(events):
        if events[k] != 0:
            k += 1
            continue
        m = k + 1
        culminations = []
        while m < len(events) and events[m] != 2:
            if events[m] == 1:
                culminations.append(m)
            m += 1
        if m == len(events) or not culminations:
            break
        altitude = _altitude(topocentric, ts, t0)
        best = max(culminations, key=lambda q: float(altitude(seconds[q])))
        tc = seconds[best]
        max_el = _golden_max(altitude, tc - 3.0, tc + 3.0) if refine else float(altitude(tc))
        out.append(SkyPass(i, j, seconds[k], tc, seconds[m], max_el))
        k = m + 1


def _altitude(topocentric, ts, t0):  # type: ignore[no-untyped-def]
    def altitude(seconds: float) -> float:
        t = ts.tt_jd(t0.tt + seconds / 86400.0)
        return float(topocentric.at(t).altaz()[0].degrees)

    return altitude


def _golden_max(fun, lo: float, hi: float, tolerance_s: float = 1e-3) -> float:  # type: ignore[no-untyped-def]
    a, b = lo, hi
    c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
    fc, fd = fun(c), fun(d)
    while b - a > tolerance_s:
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - GOLDEN * (b - a)
            fc = fun(c)
        else:
            a, c, fc = c, d, fd
            d = a + GOLDEN * (b - a)
            fd = fun(d)
    return float(max(fc, fd))


@dataclass
class Comparison:
    """How jointsat's complete passes match Skyfield's."""

    skyfield_passes: int
    matched: int
    missed: list[SkyPass] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    aos_max_s: float = 0.0
    los_max_s: float = 0.0
    tca_max_s: float = 0.0
    max_elevation_max_deg: float = 0.0


def compare(ours: Passes, sky: Sequence[SkyPass], match_s: float = 60.0) -> Comparison:
    """Match passes pair by pair by AOS and measure the largest differences.

    Our passes truncated by the window's edges are left out, as Skyfield reports
    no complete pass for them.
    """
    result = Comparison(skyfield_passes=len(sky), matched=0)
    by_pair: dict[tuple[int, int], list[int]] = {}
    for k in range(len(ours)):
        if not ours.truncated[k]:
            by_pair.setdefault((int(ours.satellite[k]), int(ours.station[k])), []).append(k)
    used: set[int] = set()
    for p in sky:
        candidates = [
            k for k in by_pair.get((p.satellite, p.station), []) if abs(ours.aos_s[k] - p.rise_s) < match_s
        ]
        if not candidates:
            result.missed.append(p)
            continue
        k = candidates[0]
        used.add(k)
        result.matched += 1
        result.aos_max_s = max(result.aos_max_s, abs(float(ours.aos_s[k]) - p.rise_s))
        result.los_max_s = max(result.los_max_s, abs(float(ours.los_s[k]) - p.set_s))
        result.tca_max_s = max(result.tca_max_s, abs(float(ours.tca_s[k]) - p.culmination_s))
        result.max_elevation_max_deg = max(
            result.max_elevation_max_deg, abs(float(ours.max_elevation_deg[k]) - p.max_elevation_deg)
        )
    result.extra = [k for ks in by_pair.values() for k in ks if k not in used]
    return result
