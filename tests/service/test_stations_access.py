"""Check stations against the access rules: every role x owner x verb, none left out.

The expected answer of each cell is written here from the issue's rules, not taken
from the service's code: admins do everything; a partner's users see its stations
and its operators change them; others' stations are seen when the owner's agreement
says consortium or public, and a private one is answered 404 (its existence hidden).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.support.consortium import Consortium

from jointsat.store.tables import GroundStation, Partner, Role, Visibility

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
ROLES = ("admin", "operator", "viewer")  # operator and viewer belong to partner "own"
OWNERS = ("own", "consortium", "private")  # whose station, and the owner's visibility
VERBS = ("read", "list", "create", "update", "delete", "unavailability")


def expected(role: str, owner: str, verb: str) -> int:
    """Return the status the rules give (200/201/204 success, 403 refused, 404 hidden)."""
    success = {
        "read": 200,
        "list": 200,
        "create": 201,
        "update": 200,
        "delete": 204,
        "unavailability": 201,
    }[verb]
    if role == "admin":
        return success
    hidden = owner == "private"
    if verb in ("read", "list"):
        return 404 if hidden else 200
    if verb == "create":  # the station does not exist yet: nothing to hide
        return success if (role == "operator" and owner == "own") else 403
    if hidden:
        return 404
    return success if (role == "operator" and owner == "own") else 403


class World(Consortium):
    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        self.partner: dict[str, int] = {}
        with self.session() as session:
            self.add_admin(session)
            for code, share, visibility in (
                ("own", 0.5, Visibility.CONSORTIUM),
                ("consortium", 0.3, Visibility.CONSORTIUM),
                ("private", 0.2, Visibility.PRIVATE),
            ):
                agreement = {"station_visibility": visibility}
                partner = self.add_partner(
                    session, code, share, name=code.title(), agreement=agreement
                )
                self.partner[code] = partner.id
            own = session.get(Partner, self.partner["own"])
            for role in (Role.OPERATOR, Role.VIEWER):
                self.add_user(session, f"own-{role.value}", role, own, key=role.value)
        self.client = self.serve()
        self.counter = itertools.count()

    def station(self, owner: str) -> int:
        with self.session() as session:
            station = GroundStation(
                name=f"{owner}-{next(self.counter)}",
                partner_id=self.partner[owner],
                lat_deg=10.0,
                lon_deg=20.0,
            )
            session.add(station)
            session.flush()
            return station.id

    def call(self, role: str, owner: str, verb: str) -> int:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        if verb == "create":
            body = {
                "name": f"new-{next(self.counter)}",
                "partner_id": self.partner[owner],
                "lat_deg": 1.0,
                "lon_deg": 2.0,
            }
            return self.client.post("/api/v1/stations", json=body, headers=headers).status_code
        station_id = self.station(owner)
        path = f"/api/v1/stations/{station_id}"
        response: httpx.Response
        if verb == "read":
            response = self.client.get(path, headers=headers)
        elif verb == "list":
            listed = self.client.get("/api/v1/stations", headers=headers)
            assert listed.status_code == 200
            return 200 if station_id in {s["id"] for s in listed.json()} else 404
        elif verb == "update":
            response = self.client.patch(path, json={"alt_m": 5.0}, headers=headers)
        elif verb == "delete":
            response = self.client.delete(path, headers=headers)
        else:
            window = {
                "start": "2024-05-11T00:00:00Z",
                "end": "2024-05-11T06:00:00Z",
                "kind": "maintenance",
            }
            response = self.client.post(f"{path}/unavailability", json=window, headers=headers)
        return response.status_code


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    w = World(store_url)
    yield w
    w.close()


def test_every_cell_of_the_station_access_matrix(world: World) -> None:
    cells = list(itertools.product(ROLES, OWNERS, VERBS))
    assert len(cells) == 3 * 3 * 6
    wrong = [
        (role, owner, verb, got, want)
        for role, owner, verb in cells
        if (got := world.call(role, owner, verb)) != (want := expected(role, owner, verb))
    ]
    assert wrong == []


def test_station_validation_and_unavailability(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['operator']}"}
    base = {
        "name": "Kiruna",
        "partner_id": world.partner["own"],
        "lat_deg": 67.86,
        "lon_deg": 20.96,
    }
    bad = [
        {**base, "lat_deg": 91.0},
        {**base, "horizon_mask": {"azimuth_deg": [10, 5], "elevation_deg": [1, 2]}},
        {**base, "partner_id": 999_999},
        {**base, "unknown": 1},
    ]
    for body in bad:
        response = world.client.post("/api/v1/stations", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    created = world.client.post(
        "/api/v1/stations",
        json={**base, "horizon_mask": {"azimuth_deg": [0, 180], "elevation_deg": [5, 12]}},
        headers=headers,
    )
    assert created.status_code == 201
    assert created.json()["horizon_mask"] == {"azimuth_deg": [0, 180], "elevation_deg": [5, 12]}
    again = world.client.post("/api/v1/stations", json=base, headers=headers)
    assert again.status_code == 409
    path = f"/api/v1/stations/{created.json()['id']}/unavailability"
    for window in (
        {"start": "2024-05-11T06:00:00Z", "end": "2024-05-11T00:00:00Z", "kind": "outage"},
        {"start": "2024-05-11", "end": "2024-05-10T06:00:00Z", "kind": "outage"},
        {"start": "2024-05-11T00:00:00Z", "end": "2024-05-11T06:00:00Z", "kind": "holiday"},
    ):
        assert world.client.post(path, json=window, headers=headers).status_code == 422
    ok = world.client.post(
        path,
        json={
            "start": "2024-05-11T02:00:00+02:00",
            "end": "2024-05-11T06:00:00Z",
            "kind": "outage",
            "reason": "antenna drive",
        },
        headers=headers,
    )
    assert ok.status_code == 201
    window = ok.json()["unavailable"][0]
    assert window["start"].startswith("2024-05-11T00:00:00")
    assert window["kind"] == "outage"
