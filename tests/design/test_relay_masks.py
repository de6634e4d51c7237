"""Bent-pipe coverage honours the relay stations' horizon masks.

Oracle: brute force. The satellite's elevation and azimuth from each relay station,
sampled every 10 s from SGP4 directly, say when a station sees it (above its minimum
and above its mask at that azimuth); the study's relay windows must say the same at
every sample not within a second of a window's edge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from jointsat.design.access import AccessRule
from jointsat.design.areas import band
from jointsat.design.constellations import combine, walker
from jointsat.design.study import CoverageStudy, _relay_windows
from jointsat.orbits.propagation import build_orbits
from jointsat.orbits.stations import HorizonMask, Station
from jointsat.orbits.tracks import look_angles
from jointsat.timelib import TimeOrigin

START = datetime(2026, 12, 1, tzinfo=UTC)
HOURS = 12
STEP_S = 10.0
EDGE_S = 1.0  # samples this close to a window's edge are not judged
RELAY_MIN_DEG = 5.0
# Below the relay minimum to the east (the minimum rules there), far above it to the west.
MASK = HorizonMask((0.0, 90.0, 180.0, 270.0), (8.0, 1.0, 15.0, 35.0))


def _study(stations: tuple[Station, ...]) -> CoverageStudy:
    return CoverageStudy(
        constellations=(walker(3, 3, 1, 600.0, 70.0, epoch=START),),
        areas=(band(-50.0, 50.0, name="band"),),
        start=START,
        end=START + timedelta(hours=HOURS),
        rule=AccessRule(min_elevation_deg=10.0),
        grid_deg=10.0,
        relay_stations=stations,
        relay_min_elevation_deg=RELAY_MIN_DEG,
    )


def test_relay_windows_are_when_a_station_sees_the_satellite_above_its_mask() -> None:
    relays = (
        Station("Kiruna", 67.857, 20.964, 400.0, horizon_mask=MASK),
        Station("Hartebeesthoek", -25.887, 27.708, 1500.0, horizon_mask=MASK),
    )
    study = _study(relays)
    records = combine(study.constellations)
    windows = _relay_windows(study, records)
    plain = _relay_windows(
        _study(tuple(Station(s.name, s.lat_deg, s.lon_deg, s.alt_m) for s in relays)), records
    )
    t = np.arange(0.0, HOURS * 3600.0, STEP_S)
    origin = TimeOrigin.of(START)
    jd, fr = origin.julian(t)
    judged = 0
    for orbit in build_orbits(records):
        _, r, _ = orbit.propagate(jd, fr)
        seen = np.zeros(t.size, dtype=bool)
        for s in relays:
            az, el, _ = look_angles(r, jd, fr, s.lat_deg, s.lon_deg, s.alt_m)
            seen |= el >= np.maximum(RELAY_MIN_DEG, MASK.elevation_at(az))
        got = windows[orbit.norad_id]
        inside = ((t[:, None] >= got.start_s) & (t[:, None] <= got.end_s)).any(axis=1)
        near = (
            (np.abs(t[:, None] - got.start_s) < EDGE_S) | (np.abs(t[:, None] - got.end_s) < EDGE_S)
        ).any(axis=1)
        np.testing.assert_array_equal(inside[~near], seen[~near])
        judged += int(seen.sum())
        # The mask takes time away: the same stations without it see the satellite longer.
        without = plain[orbit.norad_id]
        assert (got.end_s - got.start_s).sum() < (without.end_s - without.start_s).sum()
    assert judged > 100  # samples seen by a relay: the test judged something
