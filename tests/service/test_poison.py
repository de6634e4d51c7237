"""Refuse at the boundary what a store cannot hold, alike on SQLite and PostgreSQL (issue 14).

A NUL character, a lone surrogate, NaN or an infinity, text longer than its column,
a time or a number beyond what the store or the clock can hold: each is a 4xx naming
the field, and nothing of the refused write is stored; reads keep working after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.support.consortium import Consortium
from tests.support.data import orbit_file
from tests.support.shared import SharedWorld

from jointsat.orbits.elements import parse_elements
from jointsat.store.tables import (
    ApiToken,
    ElementSetRecord,
    GroundStation,
    Partner,
    Product,
    Unavailability,
    User,
)

STATION = {"name": "Svalbard", "partner_id": 1, "lat_deg": 78.2, "lon_deg": 15.4}
META = {
    "satellite": 25544,
    "instrument": "CAM",
    "acquired_start": "2024-05-10T10:00:00Z",
    "acquired_end": "2024-05-10T10:10:00Z",
}


class World(Consortium):
    def __init__(self, url: str, archive: Path) -> None:
        super().__init__(url)
        iss = parse_elements(orbit_file("tle-CATNR-25544.txt").read_text()).elements[0]
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(session, "esa", 1.0, agreement={})
            self.add_satellite(session, "ISS", 25544, {esa: 1.0}, [iss])
            self.add_station(session, "Kiruna", esa, 67.8, 20.9, bands=["S"])
        self.client = self.serve(archive_root=archive)
        self.client.headers.update(self.headers("admin"))

    def raw(self, method: str, path: str, body: str) -> Any:
        """Send a JSON body as written (json.dumps would escape a lone surrogate anyway)."""
        return self.client.request(
            method, path, content=body.encode(), headers={"content-type": "application/json"}
        )

    def count(self, table: Any) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)

    def ingest(self, metadata: str, media_type: str = "application/fits") -> Any:
        return self.client.post(
            "/api/v1/products",
            data={"metadata": metadata},
            files=[("file", ("a.fits", b"science", media_type))],
        )


@pytest.fixture(scope="module")
def shared_world(
    module_stores: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedWorld[World]]:
    """One world per backend for the tests whose writes are all refused (tests.support.shared)."""
    shared = SharedWorld(
        lambda: World(module_stores(), tmp_path_factory.mktemp("poison") / "archive")
    )
    yield shared
    shared.close()


@pytest.fixture
def world(shared_world: SharedWorld[World]) -> Iterator[World]:
    """The shared world: a test that stores something takes ``own_world``."""
    with shared_world.use() as world:
        yield world


@pytest.fixture
def own_world(store_url: str, tmp_path: Path) -> Iterator[World]:
    """A world of the test's own, for a test that stores a product."""
    made = World(store_url, tmp_path / "archive")
    yield made
    made.close()


def _names(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "table"),
    [
        ("PATCH", "/api/v1/stations/1", '{"bands": ["\\ud800"]}', "bands", None),
        ("PATCH", "/api/v1/stations/1", '{"name": "a\\u0000b"}', "name", None),
        ("PATCH", "/api/v1/stations/1", '{"lat_deg": NaN}', "lat_deg", None),
        ("PATCH", "/api/v1/stations/1", '{"turnaround_s": Infinity}', "turnaround_s", None),
        (
            "POST",
            "/api/v1/stations",
            json.dumps({**STATION, "name": "a\0b"}),
            "name",
            GroundStation,
        ),
        (
            "POST",
            "/api/v1/partners",
            '{"code": "x", "name": "\\u0000", "contribution_share": 0.1}',
            "name",
            Partner,
        ),
        ("POST", "/api/v1/users", '{"name": "a\\u0000", "role": "admin"}', "name", User),
        ("POST", "/api/v1/users/1/tokens", '{"label": "a\\u0000"}', "label", ApiToken),
        (
            "POST",
            "/api/v1/stations/1/unavailability",
            '{"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z",'
            ' "kind": "maintenance", "reason": "x\\u0000"}',
            "reason",
            Unavailability,
        ),
        (
            "POST",
            "/api/v1/satellites",
            '{"name": "X", "norad_id": 5, "operators": {"1": 1.0}, "daily_demand_s": false}',
            "daily_demand_s",
            None,
        ),
    ],
)
def test_a_body_a_store_cannot_hold_is_refused_naming_the_field(
    world: World, method: str, path: str, body: str, field: str, table: Any
) -> None:
    before = None if table is None else world.count(table)
    _names(world.raw(method, path, body), field)
    if table is not None:
        assert world.count(table) == before
    stations = world.client.get("/api/v1/stations")
    assert stations.status_code == 200
    assert [(s["name"], s["bands"]) for s in stations.json()] == [("Kiruna", ["S"])]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        (json.dumps({**META, "properties": {"x": float("nan")}}), "properties.x"),
        (json.dumps({**META, "properties": {"x": [1, {"y": float("inf")}]}}), "properties.x[1].y"),
        (json.dumps({**META, "properties": {"x": "\ud800"}}), "properties.x"),
        (json.dumps({**META, "properties": {"\ud800": 1}}), "properties"),
        (json.dumps({**META, "instrument": "a\0b"}), "instrument"),
        (json.dumps({**META, "owners": ["esa\0"]}), "owners"),
        (json.dumps({**META, "acquired_end": "9999-12-31T23:59:59-14:00"}), "acquired_end"),
        (json.dumps({**META, "acquired_start": "0001-01-01T00:00:00+14:00"}), "acquired_start"),
        (json.dumps({**META, "contact_id": 10**30}), "contact_id"),
        (json.dumps({**META, "satellite": 10**30}), "satellite"),
    ],
)
def test_metadata_a_store_cannot_hold_is_refused_and_nothing_is_stored(
    world: World, metadata: str, field: str
) -> None:
    _names(world.ingest(metadata), field)
    assert world.count(Product) == 0
    assert world.client.get("/api/v1/products").status_code == 200
    assert world.client.get("/stac/search").status_code == 200


def test_a_media_type_longer_than_its_column_is_refused(own_world: World) -> None:
    world = own_world
    _names(world.ingest(json.dumps(META), "a" * 50 + "/" + "b" * 60), "file")
    assert world.count(Product) == 0
    assert world.ingest(json.dumps(META), "a" * 40 + "/" + "b" * 59).status_code == 201


def test_an_element_file_name_longer_than_its_column_is_refused(world: World) -> None:
    text = orbit_file("tle-CATNR-25544.txt").read_bytes()
    before = world.count(ElementSetRecord)
    answer = world.client.post(
        "/api/v1/satellites/1/elements", files={"file": ("x" * 600 + ".tle", text)}
    )
    _names(answer, "file")
    assert world.count(ElementSetRecord) == before


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/audit", {"since": "9999-12-31T23:59:59-14:00"}, 422),
        ("/api/v1/audit", {"since": "0001-01-01T00:00:00+01:00"}, 422),
        ("/api/v1/audit", {"since": "0.5"}, 422),
        ("/api/v1/products", {"start": "0001-01-01T00:00:00+01:00"}, 422),
        ("/api/v1/products", {"end": "9999-12-31T23:59:59-14:00"}, 422),
        ("/stac/search", {"datetime": "9999-12-31T23:59:59-14:00"}, 400),
        ("/stac/search", {"datetime": "0001-01-01T00:00:00+14:00/.."}, 400),
        ("/stac/search", {"ids": "a\0b"}, 400),
        (f"/api/v1/stations/{10**30}", {}, 422),
        (f"/api/v1/satellites/{10**30}", {}, 422),
        ("/api/v1/products/a%00b", {}, 422),
    ],
)
def test_overflowing_or_unstorable_parameters_are_4xx(
    world: World, path: str, params: dict[str, str], status: int
) -> None:
    assert world.client.get(path, params=params).status_code == status


def test_a_range_of_thousands_of_digits_is_not_a_server_error(own_world: World) -> None:
    world = own_world
    made = world.ingest(json.dumps(META))
    assert made.status_code == 201, made.text
    href = f"/api/v1/products/{made.json()['id']}/files/a.fits"
    whole = world.client.get(href, headers={"Range": "bytes=0-" + "9" * 5000})
    assert whole.status_code == 206
    assert whole.content == b"science"
    beyond = world.client.get(href, headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert beyond.status_code == 416
    tail = world.client.get(href, headers={"Range": "bytes=-" + "9" * 5000})
    assert tail.status_code == 206


def test_a_405_names_every_method_of_the_path(world: World) -> None:
    answer = world.client.put("/api/v1/stations")
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) == {"GET", "POST"}
    positions = world.client.patch("/api/v1/satellites/positions")
    assert positions.status_code == 405
    assert "GET" in positions.headers["allow"]
