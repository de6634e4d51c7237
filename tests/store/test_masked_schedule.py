"""The scheduler's candidate contacts rise and set on the stored station's horizon mask.

Oracle: the mask itself. For every whole pass of the problem the store builds for
the scheduler (``jointsat schedule --week``, ``POST /schedules``), SGP4 and the look
angles sampled at the window's start put the satellite on the station's mask at that
azimuth, within 0.01 degrees; after the mask is edited, on the new mask.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from tests.support.consortium import Consortium
from tests.support.data import agency_stations, orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.propagation import group_satellites
from jointsat.orbits.stations import HorizonMask
from jointsat.orbits.tracks import look_angles
from jointsat.store.schedules import StoreProblem
from jointsat.store.tables import GroundStation
from jointsat.timelib import TimeOrigin

START = datetime(2024, 5, 9, tzinfo=UTC)
END = START + timedelta(days=1)
ON_THE_MASK_DEG = 0.01
RUGGED = HorizonMask(
    (0.0, 45.0, 100.0, 150.0, 210.0, 280.0, 330.0), (6.0, 18.0, 4.0, 2.5, 9.0, 22.0, 11.0)
)
FLAT_BUT_EAST = HorizonMask((0.0, 90.0, 180.0), (3.0, 25.0, 3.0))


def _json(mask: HorizonMask) -> dict[str, list[float]]:
    return {"azimuth_deg": list(mask.azimuth_deg), "elevation_deg": list(mask.elevation_deg)}


def _check_on_mask(consortium: Consortium, mask: HorizonMask, orbits: dict[int, object]) -> int:
    with consortium.sessions() as session:  # a new prediction is committed at once
        found = StoreProblem(session, START, END, now=START)
        windows = {w.id: w for w in found.problem.passes}
        station = session.get_one(GroundStation, 1)
        judged = 0
        for p in found.passes:
            if p.found.truncated:
                continue
            window = windows[str(p.id)]
            assert (window.start, window.end) == (p.found.aos, p.found.los)
            orbit = orbits[p.found.satellite.norad_id]
            jd, fr = TimeOrigin.of(window.start).julian(np.array([0.0]))
            codes, r, _ = orbit.propagate(jd, fr)  # type: ignore[attr-defined]
            assert (codes == 0).all()
            az, el, _ = look_angles(r, jd, fr, station.lat_deg, station.lon_deg, station.alt_m)
            np.testing.assert_allclose(el, mask.elevation_at(az), atol=ON_THE_MASK_DEG)
            judged += 1
        return judged


def test_schedule_candidates_follow_the_stored_mask_and_its_edits(store_url: str) -> None:
    elements = parse_elements(orbit_file("stations.tle").read_text()).elements[:10]
    site = agency_stations(2)[1]  # Maspalomas
    consortium = Consortium(store_url, now=START)
    try:
        with consortium.session() as session:
            esa = consortium.add_partner(session, "esa", 1.0, name="ESA", agreement={})
            consortium.add_station(
                session,
                site.name,
                esa,
                site.lat_deg,
                site.lon_deg,
                alt_m=site.alt_m,
                min_elevation_deg=0.0,
                horizon_mask=_json(RUGGED),
            )
            for e in elements:
                consortium.add_satellite(session, e.object_name, e.norad_cat_id, {esa: 1.0}, [e])
        orbits: dict[int, object] = {o.norad_id: o for o in group_satellites(elements)}
        assert _check_on_mask(consortium, RUGGED, orbits) > 10
        with consortium.session() as session:  # the mask edited: new passes, on it
            session.get_one(GroundStation, 1).horizon_mask = _json(FLAT_BUT_EAST)
        assert _check_on_mask(consortium, FLAT_BUT_EAST, orbits) > 10
    finally:
        consortium.close()
