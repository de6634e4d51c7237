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


@dataclass
class SkyEvents:
    """Skyfield's raw events for one satellite-station pair."""

    satellite: int
    station: int
    seconds: np.ndarray
    events: np.ndarray


def skyfield_events(
    elements: Sequence[Elements],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    min_elevation_deg: float,
) -> list[SkyEvents]:
    """Run Skyfield's find_events for every satellite-station pair (what the benchmark times)."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale()
    t0, t1 = ts.from_datetime(start), ts.from_datetime(end)
    out = []
    for i, e in enumerate(elements):
        sat = EarthSatellite.from_satrec(e.satrec(), ts)
        for j, s in enumerate(stations):
            site = wgs84.latlon(s.lat_deg, s.lon_deg, s.alt_m)
            times, events = sat.find_events(site, t0, t1, altitude_degrees=min_elevation_deg)
            out.append(SkyEvents(i, j, (times.tt - t0.tt) * 86400.0, events))
    return out


def complete_passes(
    raw: Sequence[SkyEvents],
    elements: Sequence[Elements],
    stations: Sequence[Station],
    start: datetime,
    *,
    refine_maxima: bool = True,
) -> list[SkyPass]:
    """Turn raw events into complete passes (rise, highest culmination, set)."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale()
    t0 = ts.from_datetime(start)
    out: list[SkyPass] = []
    for r in raw:
        sat = EarthSatellite.from_satrec(elements[r.satellite].satrec(), ts)
        s = stations[r.station]
        site = wgs84.latlon(s.lat_deg, s.lon_deg, s.alt_m)
        _collect(
            out, r.satellite, r.station, r.seconds, r.events, sat - site, ts, t0, refine_maxima
        )
    return out


def skyfield_passes(
    elements: Sequence[Elements],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    min_elevation_deg: float,
    *,
    refine_maxima: bool = True,
) -> tuple[list[SkyPass], int]:
    """Return Skyfield's complete passes and its number of rises."""
    raw = skyfield_events(elements, stations, start, end, min_elevation_deg)
    rises = sum(int(np.sum(r.events == 0)) for r in raw)
    return complete_passes(raw, elements, stations, start, refine_maxima=refine_maxima), rises


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
            k
            for k in by_pair.get((p.satellite, p.station), [])
            if abs(ours.aos_s[k] - p.rise_s) < match_s
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
            result.max_elevation_max_deg,
            abs(float(ours.max_elevation_deg[k]) - p.max_elevation_deg),
        )
    result.extra = [k for ks in by_pair.values() for k in ks if k not in used]
    return result
