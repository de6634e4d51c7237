"""Check /api/v1/requests and satellites' payloads: stored as the planner reads them, checked
by the planner's own rules, a bad field named."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.service.planning_world import PlanningWorld, earth_request

from jointsat.errors import PlanningInputError
from jointsat.planning.problem import Agility, Imager
from jointsat.planning.requests import EarthTarget, Mode, SkyTarget, request_to_dict
from jointsat.scheduling.problem import Window
from jointsat.store.requests import request_of
from jointsat.store.tables import ObservationRequest, Satellite

SKY = {"kind": "sky", "ra_deg": 83.63, "dec_deg": 22.01, "gain": 7, "duration_s": 600.0}
DAY = {"start": "2024-05-10T00:00:00Z", "end": "2024-05-11T00:00:00Z"}


@pytest.fixture
def world(store_url: str) -> Iterator[PlanningWorld]:
    w = PlanningWorld(store_url)
    yield w
    w.close()


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, new_sqlite_store: Callable[[Path], str]
) -> Iterator[PlanningWorld]:
    """One SQLite world for the checks that store nothing (refusals)."""
    w = PlanningWorld(new_sqlite_store(tmp_path_factory.mktemp("requests")))
    yield w
    w.close()


def _stored(world: PlanningWorld, request_id: int) -> dict[str, Any]:
    """Return the request as the planner reads it from the store."""
    with world.sessions() as session:
        record = session.get(ObservationRequest, request_id)
        assert record is not None
        return request_to_dict(request_of(record))


def test_a_partner_creates_reads_replaces_and_withdraws_a_request(world: PlanningWorld) -> None:
    c, ops = world.client, world.headers("operator")
    body = earth_request("KI2S", 4, window=DAY, satellites=[world.norad["own"]], mode="stereo")
    made = c.post("/api/v1/requests", json=body, headers=ops)
    assert made.status_code == 201, made.text
    shown = made.json()
    assert shown["partner"] == "own"
    assert shown["created_by"] == "own-operator"
    # What the planner reads back is the target the partner described, with the core's
    # own defaults for what it left out.
    lat, lon, alt = body["lat_deg"], body["lon_deg"], body["alt_m"]
    same = EarthTarget(
        id=str(shown["id"]),
        partner="own",
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        gain=4,
        max_off_nadir_deg=45.0,
        mode=Mode.STEREO,
        window=Window(datetime(2024, 5, 10, tzinfo=UTC), datetime(2024, 5, 11, tzinfo=UTC)),
        satellites=(str(world.norad["own"]),),
    )
    assert _stored(world, shown["id"]) == request_to_dict(same)
    assert shown["min_duration_s"] == same.min_duration_s
    assert shown["stereo_angle_deg"] == same.stereo_angle_deg
    path = f"/api/v1/requests/{shown['id']}"
    assert c.get(path, headers=world.headers("viewer")).json() == shown
    replaced = c.put(path, json=SKY, headers=ops)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["kind"] == "sky"
    assert replaced.json()["created_at"] == shown["created_at"]
    fields = {k: v for k, v in SKY.items() if k != "kind"}
    sky = SkyTarget(id=str(shown["id"]), partner="own", **fields)  # type: ignore[arg-type]
    assert _stored(world, shown["id"]) == request_to_dict(sky)
    listed = c.get("/api/v1/requests", headers=ops).json()
    assert [r["id"] for r in listed] == [*world.requests["own"], shown["id"]]
    assert c.delete(path, headers=world.headers("viewer")).status_code == 403
    assert c.delete(path, headers=ops).status_code == 204
    assert c.get(path, headers=ops).status_code == 404


def test_the_admin_names_the_partner(world: PlanningWorld) -> None:
    c, admin = world.client, world.headers("admin")
    refused = c.post("/api/v1/requests", json=SKY, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["location"] == ["body", "partner_id"]
    made = c.post(
        "/api/v1/requests", json={**SKY, "partner_id": world.partner["private"]}, headers=admin
    )
    assert made.status_code == 201
    assert made.json()["partner"] == "private"
    unknown = c.post("/api/v1/requests", json={**SKY, "partner_id": 999}, headers=admin)
    assert unknown.status_code == 422
    everyone = c.get("/api/v1/requests", headers=admin).json()
    assert len(everyone) == 10
    theirs = c.get(f"/api/v1/requests?partner_id={world.partner['private']}", headers=admin)
    assert [r["id"] for r in theirs.json()] == [*world.requests["private"], made.json()["id"]]


def _core_location(document: dict[str, Any]) -> str:
    """Return the field the planner's own constructors name for a bad request."""
    fields = {k: v for k, v in document.items() if k not in ("kind", "satellites", "window")}
    kind = EarthTarget if document["kind"] == "earth" else SkyTarget
    if "mode" in fields:
        fields["mode"] = Mode(fields["mode"])
    with pytest.raises(PlanningInputError) as caught:
        kind(id="x", partner="own", **fields)
    return caught.value.location


@pytest.mark.parametrize(
    "change",
    [
        {"lat_deg": 95.0},
        {"lon_deg": -190.0},
        {"gain": 0},
        {"gain": 2_000_000},
        {"max_off_nadir_deg": 85.0},
        {"min_sun_elevation_deg": 91.0},
        {"min_duration_s": 0.0},
        {"mode": "stereo", "stereo_angle_deg": 75.0},
        {"alt_m": 10_000.0},
    ],
)
def test_a_bad_earth_field_is_named_as_the_planner_names_it(
    shared: PlanningWorld, change: dict[str, Any]
) -> None:
    body = {**earth_request("MPLS", 1), **change}
    response = shared.client.post("/api/v1/requests", json=body, headers=shared.headers("operator"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    field = _core_location(body)
    assert response.json()["errors"] == [
        {"location": ["body", field], "message": response.json()["errors"][0]["message"]}
    ]
    assert response.json()["detail"].startswith(f"body.{field}: ")


@pytest.mark.parametrize(
    "change",
    [{"ra_deg": 361.0}, {"dec_deg": -91.0}, {"duration_s": 0.0}, {"min_sun_angle_deg": 181.0}],
)
def test_a_bad_sky_field_is_named_as_the_planner_names_it(
    shared: PlanningWorld, change: dict[str, Any]
) -> None:
    body = {**SKY, **change}
    response = shared.client.post("/api/v1/requests", json=body, headers=shared.headers("operator"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == ["body", _core_location(body)]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"window": {"start": DAY["end"], "end": DAY["start"]}}, "window"),
        ({"window": {"start": 1715299200, "end": DAY["end"]}}, "window"),
        ({"kind": "moon"}, "body"),
        ({"mode": "tri"}, "mode"),
        ({"colour": "red"}, "colour"),
        ({"satellites": [99_999]}, "satellites"),
    ],
)
def test_malformed_requests_are_refused_naming_the_field(
    shared: PlanningWorld, change: dict[str, Any], where: str
) -> None:
    body = {**earth_request("MPLS", 1), **change}
    response = shared.client.post("/api/v1/requests", json=body, headers=shared.headers("operator"))
    assert response.status_code == 422
    assert where in response.json()["detail"]


def test_restrictions_name_satellites_the_caller_may_see(world: PlanningWorld) -> None:
    hidden = {**SKY, "satellites": [world.norad["private"]]}
    refused = world.client.post("/api/v1/requests", json=hidden, headers=world.headers("operator"))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["location"] == ["body", "satellites", "0"]
    admin = {**hidden, "partner_id": world.partner["own"]}
    assert (
        world.client.post(
            "/api/v1/requests", json=admin, headers=world.headers("admin")
        ).status_code
        == 201
    )


def test_a_satellite_payload_is_set_cleared_and_checked(world: PlanningWorld) -> None:
    c, ops = world.client, world.headers("operator")
    path = f"/api/v1/satellites/{world.satellite['own']}"
    payload = {
        "observes": ["sky"],
        "memory_mbit": 512.0,
        "imaging_rate_mbps": 8.0,
        "downlink_rate_mbps": 2.0,
        "agility": {"max_rate_deg_s": 1.5},
    }
    changed = c.patch(path, json={"payload": payload}, headers=ops)
    assert changed.status_code == 200, changed.text
    defaults = Agility()  # the planner's, for what the payload leaves out
    agility = {
        "max_rate_deg_s": 1.5,
        "max_accel_deg_s2": defaults.max_accel_deg_s2,
        "settle_s": defaults.settle_s,
    }
    expected = {**payload, "agility": agility}
    assert changed.json()["payload"] == expected
    assert changed.json()["daily_demand_s"] is None  # left as it was
    with world.sessions() as session:
        satellite = session.get(Satellite, world.satellite["own"])
        assert satellite is not None
        assert satellite.observes == "sky"
        assert satellite.slew_rate_deg_s == 1.5
    demand = c.patch(path, json={"daily_demand_s": 1800.0}, headers=ops).json()
    assert demand["payload"] == expected
    assert demand["daily_demand_s"] == 1800.0
    cleared = c.patch(path, json={"payload": None}, headers=ops).json()
    assert cleared["payload"] is None
    assert cleared["daily_demand_s"] == 1800.0
    for bad, where in (
        ({**payload, "memory_mbit": 0.0}, ["body", "payload", "memory_mbit"]),
        ({**payload, "agility": {"settle_s": -1.0}}, ["body", "payload", "agility", "settle_s"]),
        ({**payload, "observes": []}, ["body", "payload", "observes"]),
    ):
        response = c.patch(path, json={"payload": bad}, headers=ops)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["location"] == where
    for bad_value in ({**payload, "observes": ["moon"]}, {**payload, "spare": 1}):
        assert c.patch(path, json={"payload": bad_value}, headers=ops).status_code == 422
    assert c.patch(path, json={"daily_demand_s": -1.0}, headers=ops).status_code == 422
    assert (
        c.patch(path, json={"payload": payload}, headers=world.headers("viewer")).status_code == 403
    )
    hidden = f"/api/v1/satellites/{world.satellite['private']}"
    assert c.patch(hidden, json={"payload": None}, headers=ops).status_code == 404


def test_a_new_satellite_may_come_with_its_payload(world: PlanningWorld) -> None:
    body = {
        "name": "CHEOPS",
        "norad_id": 44874,
        "operators": {str(world.partner["consortium"]): 1.0},
        "payload": {"memory_mbit": 1000.0, "imaging_rate_mbps": 1.0, "downlink_rate_mbps": 1.0},
    }
    made = world.client.post("/api/v1/satellites", json=body, headers=world.headers("admin"))
    assert made.status_code == 201, made.text
    default = Imager(id="x", memory_mbit=1.0, imaging_rate_mbps=1.0, downlink_rate_mbps=1.0)
    assert made.json()["payload"]["observes"] == sorted(k.value for k in default.observes)
    assert made.json()["payload"]["agility"]["max_rate_deg_s"] == default.agility.max_rate_deg_s


def test_a_validators_refusal_reaches_the_caller_in_its_own_words(shared: PlanningWorld) -> None:
    """A window ending before it starts: the validator's sentence, no 'Value error,'; a
    start without offset is UTC, as on the command line."""
    body = {**SKY, "window": {"start": DAY["end"], "end": DAY["start"]}}
    response = shared.client.post("/api/v1/requests", json=body, headers=shared.headers("operator"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "body.sky.window: end must be after start"
    assert problem["errors"][0]["message"] == "end must be after start"
    assert "Value error" not in response.text
