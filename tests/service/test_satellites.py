"""Check satellites: operators, element uploads (all or nothing), history and visibility."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from tests.support.consortium import Consortium
from tests.support.data import orbit_file
from tests.support.shared import SharedWorld

from jointsat.orbits.elements import parse_elements
from jointsat.store.consortium import Arrival, store_element_sets
from jointsat.store.tables import Role, Satellite, Visibility

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
ISS_TLE = orbit_file("tle-CATNR-25544.txt").read_text()
STATIONS_TLE = orbit_file("stations.tle").read_text()


class World(Consortium):
    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        with self.session() as session:
            self.admin = self.add_admin(session)
            esa = self.add_partner(session, "esa", 0.5, name="ESA", agreement={})
            hidden = {"satellite_visibility": Visibility.PRIVATE}
            nasa = self.add_partner(session, "nasa", 0.3, name="NASA", agreement=hidden)
            asi = self.add_partner(session, "asi", 0.2, name="ASI", agreement={})
            self.esa, self.nasa, self.asi = esa.id, nasa.id, asi.id
            for name, partner, role in (
                ("esa-ops", esa, Role.OPERATOR),
                ("asi-ops", asi, Role.OPERATOR),
                ("esa-view", esa, Role.VIEWER),
            ):
                self.add_user(session, name, role, partner)
        self.client = self.serve()

    def create(self, norad_id: int, operators: dict[int, float], name: str = "ISS") -> int:
        response = self.client.post(
            "/api/v1/satellites",
            json={"name": name, "norad_id": norad_id, "operators": operators},
            headers=self.headers("admin"),
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    w = World(store_url)
    yield w
    w.close()


@pytest.fixture(scope="module")
def shared_world(module_stores: Callable[[], str]) -> Iterator[SharedWorld[World]]:
    """One world per backend for the requests refused (tests.support.shared)."""
    shared = SharedWorld(lambda: World(module_stores()))
    yield shared
    shared.close()


@pytest.fixture
def refusing_world(shared_world: SharedWorld[World]) -> Iterator[World]:
    """The shared world, for a test whose requests are all refused."""
    with shared_world.use() as world:
        yield world


def test_a_joint_satellite_and_its_element_history(world: World) -> None:
    sat = world.create(25544, {world.esa: 0.6, world.asi: 0.4})
    up = world.client.post(
        f"/api/v1/satellites/{sat}/elements",
        content=ISS_TLE,
        headers={**world.headers("asi-ops"), "Content-Type": "text/plain"},
    )
    assert up.status_code == 201, up.text
    assert up.json()["stored"] == 1
    stations_iss = "\n".join(STATIONS_TLE.splitlines()[:3])
    up = world.client.post(
        f"/api/v1/satellites/{sat}/elements",
        files={"file": ("iss-2024.tle", stations_iss.encode(), "text/plain")},
        headers=world.headers("esa-ops"),
    )
    assert up.json()["stored"] == 1
    again = world.client.post(
        f"/api/v1/satellites/{sat}/elements",
        content=ISS_TLE,
        headers={**world.headers("esa-ops"), "Content-Type": "text/plain"},
    )
    assert again.json() == {**again.json(), "stored": 0, "already_known": 1}
    history = world.client.get(
        f"/api/v1/satellites/{sat}/elements", headers=world.headers("esa-view")
    ).json()
    expected_epochs = sorted(
        (e.epoch for e in parse_elements(ISS_TLE + "\n" + stations_iss).elements), reverse=True
    )
    assert [datetime.fromisoformat(h["epoch"]) for h in history] == expected_epochs
    assert [h["source"] for h in history] == ["iss-2024.tle", "upload"]
    assert [h["source_kind"] for h in history] == ["upload", "upload"]
    assert all(datetime.fromisoformat(h["received_at"]) == NOW for h in history)
    assert history[0]["omm"]["NORAD_CAT_ID"] == 25544


def test_the_history_lists_every_source_at_one_epoch_the_preferred_one_chosen(
    world: World,
) -> None:
    sat = world.create(25544, {world.esa: 1.0})
    iss = parse_elements(ISS_TLE).elements[0]  # 2020: older than the upload's other set
    newer = parse_elements("\n".join(STATIONS_TLE.splitlines()[:3])).elements[0]
    raw = '{"NORAD_CAT_ID": 25544}'
    with world.sessions() as session:  # store_element_sets commits itself
        satellite = session.get_one(Satellite, sat)
        for kind in ("celestrak", "supgp"):
            arrival = Arrival(f"{kind} query", NOW, kind=kind)
            assert store_element_sets(session, satellite, [iss], arrival, [raw]) == 1
    up = world.client.post(
        f"/api/v1/satellites/{sat}/elements",
        content=ISS_TLE + "\n" + "\n".join(STATIONS_TLE.splitlines()[:3]),
        headers={**world.headers("esa-ops"), "Content-Type": "text/plain"},
    )
    assert up.json()["stored"] == 2, up.text
    url = f"/api/v1/satellites/{sat}/elements"
    history = world.client.get(url, headers=world.headers("esa-view")).json()
    listed = [(datetime.fromisoformat(h["epoch"]), h["source_kind"], h["chosen"]) for h in history]
    # At the shared epoch: the upload is preferred to SupGP, SupGP to CelesTrak (settings).
    assert listed == [
        (newer.epoch, "upload", True),
        (iss.epoch, "upload", True),
        (iss.epoch, "supgp", False),
        (iss.epoch, "celestrak", False),
    ]
    assert all(h["raw"] is None for h in history)
    for h in history:
        expected_age = (NOW - datetime.fromisoformat(h["epoch"])).total_seconds() / 86400.0
        assert h["age_days"] == pytest.approx(expected_age, abs=1e-9)
    with_raw = world.client.get(url, params={"raw": "true"}, headers=world.headers("esa-view"))
    assert {h["source_kind"]: h["raw"] for h in with_raw.json()} == {
        "upload": None,
        "supgp": raw,
        "celestrak": raw,
    }
    with world.session() as session:
        used = session.get_one(Satellite, sat).element_sets
        assert sorted((e.epoch, e.source_kind) for e in used) == sorted(
            (datetime.fromisoformat(h["epoch"]), h["source_kind"]) for h in history if h["chosen"]
        )


def test_a_rejected_upload_stores_nothing_and_names_the_line(world: World) -> None:
    sat = world.create(25544, {world.esa: 1.0})
    lines = STATIONS_TLE.splitlines()[:6]
    good_then_bad = [*lines[:3], lines[3], lines[4][:-1] + "0", lines[5]]
    bad = "\n".join(good_then_bad)
    response = world.client.post(
        f"/api/v1/satellites/{sat}/elements",
        content=bad,
        headers={**world.headers("esa-ops"), "Content-Type": "text/plain"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "line 5" in response.json()["detail"]
    history = world.client.get(f"/api/v1/satellites/{sat}/elements", headers=world.headers("admin"))
    assert history.json() == []
    foreign = world.client.post(
        f"/api/v1/satellites/{sat}/elements",
        content="\n".join(lines[3:6]),
        headers={**world.headers("esa-ops"), "Content-Type": "text/plain"},
    )
    assert foreign.status_code == 422
    assert "48274" in foreign.json()["detail"]


@pytest.mark.parametrize(
    ("operators", "status"),
    [({}, 422), ({1: 0.5}, 422), ({1: 0.7, 2: 0.7}, 422), ({999_999: 1.0}, 422)],
)
def test_operator_fractions_must_make_one_satellite(
    refusing_world: World, operators: dict[int, float], status: int
) -> None:
    world = refusing_world
    response = world.client.post(
        "/api/v1/satellites",
        json={"name": "X", "norad_id": 1, "operators": operators},
        headers=world.headers("admin"),
    )
    assert response.status_code == status


def test_only_admins_create_and_operators_of_the_satellite_upload(world: World) -> None:
    created = world.client.post(
        "/api/v1/satellites",
        json={"name": "X", "norad_id": 5, "operators": {str(world.esa): 1.0}},
        headers=world.headers("esa-ops"),
    )
    assert created.status_code == 403
    sat = world.create(25544, {world.esa: 1.0})
    for who, status in (("asi-ops", 403), ("esa-view", 403), ("esa-ops", 201)):
        response = world.client.post(
            f"/api/v1/satellites/{sat}/elements",
            content=ISS_TLE,
            headers={**world.headers(who), "Content-Type": "text/plain"},
        )
        assert response.status_code == status, who
    duplicate = world.client.post(
        "/api/v1/satellites",
        json={"name": "Again", "norad_id": 25544, "operators": {str(world.esa): 1.0}},
        headers=world.headers("admin"),
    )
    assert duplicate.status_code == 409


def test_a_private_operator_hides_a_joint_satellite_from_others(world: World) -> None:
    shared = world.create(25544, {world.esa: 0.5, world.nasa: 0.5})
    open_one = world.create(48274, {world.asi: 1.0}, name="CSS")
    seen_by_asi = world.client.get("/api/v1/satellites", headers=world.headers("asi-ops")).json()
    assert [s["id"] for s in seen_by_asi] == [open_one]
    assert (
        world.client.get(
            f"/api/v1/satellites/{shared}", headers=world.headers("asi-ops")
        ).status_code
        == 404
    )
    hidden_history = world.client.get(
        f"/api/v1/satellites/{shared}/elements", headers=world.headers("asi-ops")
    )
    assert hidden_history.status_code == 404
    seen_by_esa = world.client.get("/api/v1/satellites", headers=world.headers("esa-view")).json()
    assert {s["id"] for s in seen_by_esa} == {shared, open_one}
