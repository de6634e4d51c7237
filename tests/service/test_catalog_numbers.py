"""Nine-digit catalog numbers through the service: stored, served, predicted, archived.

Since 2026 new objects get catalog numbers above 99999, and CelesTrak serves them
only as OMM. Here the ISS's real OMM record is renumbered 799501299 (nine digits),
400000 (above 339999, Alpha-5's last) and 270000 (Alpha-5's T0000), and uploaded
through the API beside the ISS itself: the satellite, its element history, its
passes, positions, track and scheduled contacts keep each number intact, and every
prediction equals the ISS's (the same elements under the ISS's number: an oracle
independent of the catalog number).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.support.consortium import Consortium
from tests.support.data import orbit_file

from jointsat.store.tables import Role

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)  # a day after the ISS record's epoch
START, END = datetime(2024, 5, 10, tzinfo=UTC), datetime(2024, 5, 11, tzinfo=UTC)
ISS = 25544
NUMBERS = (799_501_299, 400_000, 270_000)
ISS_OMM = json.loads(orbit_file("stations.json").read_text())[0]
IDENTITY = ("satellite_id", "satellite", "norad_id", "name")


def omm_of(number: int) -> str:
    """Return the ISS's OMM JSON record under another catalog number (and name)."""
    return json.dumps([ISS_OMM | {"NORAD_CAT_ID": number, "OBJECT_NAME": f"SAT {number}"}])


def unnamed(row: dict[str, Any]) -> dict[str, Any]:
    """Return what a row says of the orbit: all but which satellite it is."""
    return {k: v for k, v in row.items() if k not in IDENTITY}


class World(Consortium):
    """ESA operates the ISS and its renumbered twins, seen from Kiruna and Malargue."""

    def __init__(self, url: str, archive: Path) -> None:
        super().__init__(url, now=NOW)
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(session, "esa", 1.0, agreement={})
            self.esa = esa.id
            self.add_user(session, "esa-ops", Role.OPERATOR, esa)
            for name, lat, lon in (("Kiruna", 67.857, 20.964), ("Malargue", -35.776, -69.398)):
                self.add_station(session, name, esa, lat, lon, min_elevation_deg=5.0)
        self.client = self.serve(archive_root=archive)
        self.ids = {n: self.create(n)["id"] for n in (ISS, *NUMBERS)}  # number: satellite id

    def create(self, number: int) -> Any:
        """Create the satellite through the API and upload its OMM as an operator would."""
        created = self.client.post(
            "/api/v1/satellites",
            json={"name": f"SAT {number}", "norad_id": number, "operators": {self.esa: 1.0}},
            headers=self.headers("admin"),
        )
        assert created.status_code == 201, created.text
        satellite = created.json()
        upload = self.client.post(
            f"/api/v1/satellites/{satellite['id']}/elements",
            files={"file": (f"sat-{number}.json", omm_of(number).encode(), "application/json")},
            headers=self.headers("esa-ops"),
        )
        assert upload.status_code == 201, upload.text
        assert upload.json()["satellite"]["norad_id"] == number
        return satellite

    def get(self, path: str, **params: Any) -> Any:
        answer = self.client.get(f"/api/v1/{path}", params=params, headers=self.headers("admin"))
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    made = World(store_url, tmp_path / "archive")
    yield made
    made.close()


def test_large_catalog_numbers_are_stored_and_served_intact(world: World) -> None:
    ids = world.ids
    for number, satellite_id in ids.items():
        assert world.get(f"satellites/{satellite_id}")["norad_id"] == number
        (history,) = world.get(f"satellites/{satellite_id}/elements")
        assert history["omm"] == json.loads(omm_of(number))[0]
    listed = {s["id"]: s["norad_id"] for s in world.get("satellites")}
    assert listed == {i: n for n, i in ids.items()}


def test_an_upload_of_another_number_names_both(world: World) -> None:
    ids = world.ids
    wrong = world.client.post(
        f"/api/v1/satellites/{ids[799_501_299]}/elements",
        content=omm_of(799_501_298),
        headers={**world.headers("esa-ops"), "Content-Type": "text/plain"},
    )
    assert wrong.status_code == 422
    assert "799501298" in wrong.json()["detail"]
    assert "(799501299)" in wrong.json()["detail"]


def test_passes_positions_and_tracks_are_the_iss_s_under_each_number(world: World) -> None:
    ids = world.ids
    window = {"start": START.isoformat(), "end": END.isoformat()}
    passes = world.get("passes", **window)
    by_number: dict[int, list[dict[str, Any]]] = {}
    for row in passes:
        assert ids[row["norad_id"]] == row["satellite_id"]
        by_number.setdefault(row["norad_id"], []).append(unnamed(row))
    assert by_number[ISS]
    positions = {p["norad_id"]: p for p in world.get("satellites/positions", at=NOW.isoformat())}
    iss_track = world.get(f"satellites/{ids[ISS]}/track", **window)
    for number in NUMBERS:
        assert by_number[number] == by_number[ISS]
        assert positions[number]["satellite_id"] == ids[number]
        assert positions[number]["lat_deg"] is not None
        assert unnamed(positions[number]) == unnamed(positions[ISS])
        track = world.get(f"satellites/{ids[number]}/track", **window)
        assert track["norad_id"] == number
        assert unnamed(track) == unnamed(iss_track)


def test_scheduled_contacts_carry_each_number(world: World) -> None:
    ids = world.ids
    answer = world.client.post(
        "/api/v1/schedules",
        json={"start": START.isoformat(), "end": END.isoformat(), "time_limit_s": 5.0},
        headers=world.headers("admin"),
    )
    assert answer.status_code == 201, answer.text
    contacts = answer.json()["contacts"]
    assert contacts
    assert all(ids[c["norad_id"]] == c["satellite_id"] for c in contacts)
    assert {c["norad_id"] for c in contacts} & set(NUMBERS)


def test_a_product_of_a_nine_digit_satellite_is_archived_and_catalogued(world: World) -> None:
    number = 799_501_299
    metadata = {
        "satellite": number,
        "instrument": "CAM",
        "processing_level": "L1",
        "acquired_start": NOW.isoformat(),
        "acquired_end": (NOW + timedelta(minutes=1)).isoformat(),
        "sky": {"ra_deg": 83.8, "dec_deg": -5.4},
    }
    answer = world.client.post(
        "/api/v1/products",
        data={"metadata": json.dumps(metadata)},
        files=[("file", ("frame.fits", b"SIMPLE  = T".ljust(2880), "image/fits"))],
        headers=world.headers("esa-ops"),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["satellite"] == number
    (listed,) = world.get("products", satellite=number)
    assert listed["id"] == answer.json()["id"]
    collections = world.client.get("/stac/collections", headers=world.headers("admin")).json()
    (collection,) = collections["collections"]
    assert f"catalog number {number}" in collection["description"]
