"""One horizon mask, one horizon: passes begin and end on the station's mask wherever it is read.

Oracles: the mask itself (at a pass's AOS and LOS, the satellite's elevation, from
SGP4 and the look angles sampled directly, equals the mask's elevation at that
azimuth within 0.01 degrees), and equality of the stations a stations file and the
store give for the same mask (so passes, the scheduler, coverage and pointing, which
all read one of the two, see the same horizon).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
from tests.support.data import agency_stations, orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import group_satellites
from jointsat.orbits.stations import HorizonMask, Station, parse_stations
from jointsat.orbits.tracks import look_angles
from jointsat.store.convert import station_of
from jointsat.store.tables import GroundStation
from jointsat.timelib import TimeOrigin

START = datetime(2024, 5, 9, tzinfo=UTC)
# A rugged horizon: hills to the north-east and west, open to the south-east.
MASK = HorizonMask(
    (0.0, 45.0, 100.0, 150.0, 210.0, 280.0, 330.0), (6.0, 18.0, 4.0, 2.5, 9.0, 22.0, 11.0)
)
ON_THE_MASK_DEG = 0.01


def _masked_sites() -> list[Station]:
    return [replace(s, min_elevation_deg=0.0, horizon_mask=MASK) for s in agency_stations(4)]


def test_passes_rise_and_set_on_the_mask_over_real_stations() -> None:
    sites = _masked_sites()
    elements = parse_elements(orbit_file("stations.tle").read_text()).elements[:10]
    found = find_passes(elements, sites, START, START + timedelta(days=1))
    rows = [p for p in found.rows() if not p.truncated]
    assert len(rows) > 60
    orbits = {o.norad_id: o for o in group_satellites(elements)}
    origin = TimeOrigin.of(START)
    for p in rows:
        orbit = orbits[p.satellite.norad_id]
        times = [p.aos, p.los]
        jd, fr = origin.julian(np.array([(t - START).total_seconds() for t in times]))
        codes, r, _ = orbit.propagate(jd, fr)
        assert (codes == 0).all()
        s = p.station
        az, el, _ = look_angles(r, jd, fr, s.lat_deg, s.lon_deg, s.alt_m)
        np.testing.assert_allclose(el, MASK.elevation_at(az), atol=ON_THE_MASK_DEG)
        np.testing.assert_allclose(az, [p.aos_azimuth_deg, p.los_azimuth_deg], atol=0.05)
        assert p.max_elevation_deg > float(MASK.elevation_at(np.array([p.tca_azimuth_deg]))[0])


def test_a_stations_file_and_the_store_give_the_same_masked_station() -> None:
    (site,) = _masked_sites()[:1]
    record = {
        "name": site.name,
        "lat_deg": site.lat_deg,
        "lon_deg": site.lon_deg,
        "alt_m": site.alt_m,
        "min_elevation_deg": 0.0,
        "horizon_mask": {
            "azimuth_deg": list(MASK.azimuth_deg),
            "elevation_deg": list(MASK.elevation_deg),
        },
    }
    (from_file,) = parse_stations(json.dumps([record]))
    row = GroundStation(**{k: v for k, v in record.items()})
    assert from_file == site
    assert station_of(row) == site
