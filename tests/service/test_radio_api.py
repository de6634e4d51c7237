"""Check the radio records over HTTP: satellites' links, stations' rotators and G/T, and a
contact's link budget (recomputed here from its own rows, ITU-R P.525 and the link's figures).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.support.consortium import Consortium
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.passes import find_passes
from jointsat.orbits.stations import Station
from jointsat.store.tables import ContactRecord, Role, ScheduleRecord, Visibility

NOW = datetime(2024, 5, 10, tzinfo=UTC)
DOWNLINK = {
    "name": "uhf-down",
    "direction": "downlink",
    "frequency_hz": 437.8e6,
    "offset_hz": 1500.0,
    "eirp_dbw": 0.0,
    "data_rate_bps": 9600.0,
    "required_eb_n0_db": 12.0,
    "polarization_loss_db": 3.0,
}
# Rounding of the rows (1e-3 dB) and of their range (0.1 m: 4e-7 dB).
row_db = 2e-3


class World(Consortium):
    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        iss = next(
            e
            for e in parse_elements(orbit_file("stations.tle").read_text()).elements
            if e.norad_cat_id == 25544
        )
        site = Station("NL", 52.0, 5.0, 30.0)
        found = max(
            find_passes([iss], [site], NOW, NOW + timedelta(days=1)).rows(),
            key=lambda p: p.max_elevation_deg,
        )
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(session, "esa", 0.6, agreement={})
            private = {
                "satellite_visibility": Visibility.PRIVATE,
                "station_visibility": Visibility.PRIVATE,
            }
            nasa = self.add_partner(session, "nasa", 0.4, agreement=private)
            self.add_user(session, "esa-ops", Role.OPERATOR, esa)
            self.add_user(session, "nasa-ops", Role.OPERATOR, nasa)
            satellite = self.add_satellite(session, "ISS", 25544, {esa: 1.0}, [iss])
            station = self.add_station(session, "NL", esa, 52.0, 5.0, alt_m=30.0)
            hidden = self.add_station(session, "Private", nasa, 52.0, 5.0, alt_m=30.0)
            schedule = ScheduleRecord(
                created_at=NOW,
                start=NOW,
                end_at=NOW + timedelta(days=1),
                status="OPTIMAL",
                solver="test",
                gap=0.0,
                document={},
                provenance={},
                policy="fair",
                total_seconds=found.duration_s,
            )
            schedule.contacts = [
                ContactRecord(
                    start=found.aos,
                    end_at=found.los,
                    satellite_id=satellite.id,
                    station_id=g.id,
                    max_elevation_deg=found.max_elevation_deg,
                )
                for g in (station, hidden)
            ]
            session.add(schedule)
            session.flush()
            self.satellite_id, self.station_id = satellite.id, station.id
            self.contact_id, self.hidden_contact_id = (c.id for c in schedule.contacts)
        self.duration_s = found.duration_s
        self.client = self.serve()


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    w = World(store_url)
    yield w
    w.close()


def test_links_are_stored_checked_and_shown(world: World) -> None:
    path = f"/api/v1/satellites/{world.satellite_id}"
    ops = world.headers("esa-ops")
    assert world.client.get(path, headers=ops).json()["links"] == []
    bad = [
        [{**DOWNLINK, "direction": "sideways"}],
        [DOWNLINK, DOWNLINK],
        [{**DOWNLINK, "frequency_hz": -1.0}],
        [{k: v for k, v in DOWNLINK.items() if k != "name"}],
    ]
    for links in bad:
        refused = world.client.patch(path, json={"links": links}, headers=ops)
        assert refused.status_code == 422, links
        assert refused.json()["detail"].startswith("body.links: links[")
    changed = world.client.patch(path, json={"links": [DOWNLINK]}, headers=ops)
    assert changed.status_code == 200, changed.text
    shown = changed.json()["links"]
    assert shown == [{**DOWNLINK, "transponder": None}]
    # Only the satellite's operators' operators (or an admin) change its links.
    denied = world.client.patch(path, json={"links": []}, headers=world.headers("nasa-ops"))
    assert denied.status_code == 403
    created = world.client.post(
        "/api/v1/satellites",
        json={"name": "SAT2", "norad_id": 40000, "operators": {"1": 1.0}, "links": [DOWNLINK]},
        headers=world.headers("admin"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["links"][0]["name"] == "uhf-down"


def test_station_rotator_and_g_over_t_are_stored_and_checked(world: World) -> None:
    path = f"/api/v1/stations/{world.station_id}"
    ops = world.headers("esa-ops")
    assert world.client.get(path, headers=ops).json()["rotator"] is None
    for body in (
        {"rotator": {"azimuth_min_deg": 0, "azimuth_max_deg": 300}},  # spans < 360
        {"rotator": {"beamwidth_deg": 0}},
        {"rotator": {"slew": 3}},
        {"g_over_t_db_k": 200.0},
    ):
        assert world.client.patch(path, json=body, headers=ops).status_code == 422, body
    rotator = {"azimuth_min_deg": -180.0, "azimuth_max_deg": 540.0, "elevation_max_deg": 180.0}
    changed = world.client.patch(
        path, json={"rotator": rotator, "g_over_t_db_k": -14.5}, headers=ops
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["rotator"]["azimuth_max_deg"] == 540.0
    assert changed.json()["rotator"]["azimuth_rate_deg_s"] == 6.0  # the default, written out
    assert changed.json()["g_over_t_db_k"] == -14.5
    cleared = world.client.patch(path, json={"rotator": None}, headers=ops)
    assert cleared.json()["rotator"] is None
    assert cleared.json()["g_over_t_db_k"] == -14.5


def test_a_contacts_link_budget(world: World) -> None:
    ops = world.headers("esa-ops")
    path = f"/api/v1/contacts/{world.contact_id}/link-budget"
    no_links = world.client.get(path, headers=ops)
    assert no_links.status_code == 422
    assert "has no radio links" in no_links.json()["detail"]
    world.client.patch(
        f"/api/v1/satellites/{world.satellite_id}", json={"links": [DOWNLINK]}, headers=ops
    )
    no_g_over_t = world.client.get(path, headers=ops)
    assert no_g_over_t.status_code == 422
    assert "no g_over_t_db_k" in no_g_over_t.json()["detail"]
    world.client.patch(
        f"/api/v1/stations/{world.station_id}", json={"g_over_t_db_k": -15.0}, headers=ops
    )
    answer = world.client.get(path, params={"step_s": 5, "margin_db": 2.0}, headers=ops)
    assert answer.status_code == 200, answer.text
    budget = answer.json()
    f_hz = 437.8e6 + 1500.0
    assert budget["frequency_hz"] == f_hz
    for row in budget["rows"]:
        fspl = 20 * math.log10(4 * math.pi * row["range_m"] * f_hz / 299_792_458.0)
        assert row["free_space_loss_db"] == pytest.approx(fspl, abs=row_db)
        expected = (
            0.0 - fspl - row["atmospheric_loss_db"] - 3.0 - 15.0 + 228.5991 - 10 * math.log10(9600)
        )
        assert row["eb_n0_db"] == pytest.approx(expected, abs=row_db)
        assert row["margin_db"] == pytest.approx(expected - 12.0 - 2.0, abs=row_db)
        assert row["closed"] == (row["margin_db"] >= 0.0)
        if row["elevation_deg"] >= 10.0:  # UHF: a fraction of a decibel above 10 degrees
            assert 0.0 <= row["atmospheric_loss_db"] < 1.0
    assert 0.0 < budget["closed_s"] <= world.duration_s + 1e-6
    assert budget["volume_bits"] == pytest.approx(9600.0 * budget["closed_s"], rel=1e-6)
    assert budget["volume_bytes"] == pytest.approx(budget["volume_bits"] / 8, rel=1e-6)
    unknown = world.client.get(path, params={"link": "s-band"}, headers=ops)
    assert unknown.status_code == 422
    assert "no link 's-band'" in unknown.json()["detail"]
    # A contact at a station hidden from the caller, and one that does not exist: 404 alike.
    hidden = f"/api/v1/contacts/{world.hidden_contact_id}/link-budget"
    assert world.client.get(hidden, headers=ops).status_code == 404
    assert world.client.get("/api/v1/contacts/999999/link-budget", headers=ops).status_code == 404


def test_a_schedule_by_data_volume(world: World) -> None:
    admin = world.headers("admin")
    body = {
        "start": "2024-05-10T00:00:00Z",
        "end": "2024-05-11T00:00:00Z",
        "measure": "data-volume",
        "time_limit_s": 10,
    }
    refused = world.client.post("/api/v1/schedules", json=body, headers=admin)
    assert refused.status_code == 409
    assert "has no downlink" in refused.json()["detail"]
    world.client.patch(
        f"/api/v1/satellites/{world.satellite_id}", json={"links": [DOWNLINK]}, headers=admin
    )
    refused = world.client.post("/api/v1/schedules", json=body, headers=admin)
    assert refused.status_code == 409
    assert "no g_over_t_db_k" in refused.json()["detail"]
    stations = world.client.get("/api/v1/stations", headers=admin).json()
    for station in stations:
        patched = world.client.patch(
            f"/api/v1/stations/{station['id']}", json={"g_over_t_db_k": -15.0}, headers=admin
        )
        assert patched.status_code == 200
    created = world.client.post("/api/v1/schedules", json=body, headers=admin)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["measure"] == "data-volume"
    assert schedule["provenance"]["measure"] == "data-volume"
    assert schedule["provenance"]["link_budget"]["step_s"] == 10.0
    # The contacts' budgets, each asked of the API, add up to what the schedule reports
    # (the solver counts whole kilobytes: half a kilobyte of rounding per contact).
    with world.session() as session:
        ids = list(
            session.scalars(
                select(ContactRecord.id).where(ContactRecord.schedule_id == schedule["id"])
            )
        )
    assert ids
    volumes = [
        world.client.get(f"/api/v1/contacts/{i}/link-budget", headers=admin).json()["volume_bytes"]
        for i in ids
    ]
    assert schedule["total_volume_bytes"] == pytest.approx(sum(volumes), abs=500.0 * len(ids))
    assert schedule["partners"]["esa"]["volume_bytes"] == schedule["total_volume_bytes"]
    assert schedule["partners"]["esa"]["share_received"] == pytest.approx(1.0)
    by_seconds = world.client.post(
        "/api/v1/schedules", json={**body, "measure": "seconds"}, headers=admin
    )
    assert by_seconds.status_code == 201
    assert by_seconds.json()["measure"] == "seconds"
    assert by_seconds.json()["total_volume_bytes"] is None
