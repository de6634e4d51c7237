"""Check /api/v1/schedules: planning the pooled network, what each partner sees, re-plans."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.consortium import Consortium
from tests.support.data import orbit_file
from tests.support.shared import SharedWorld

from jointsat.orbits.elements import parse_elements
from jointsat.store.tables import Partner, Role, Visibility

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
START = datetime(2024, 5, 10, tzinfo=UTC)
TURNAROUND_S = 120.0
SITES = {  # name: (owner, lat, lon)
    "Malargue": ("esa", -35.776, -69.398),
    "Kourou": ("esa", 5.251, -52.805),
    "Wallops": ("nasa", 37.927, -75.476),  # NASA keeps its stations private
}
DAY = {"start": START.isoformat(), "end": (START + timedelta(days=1)).isoformat()}

World = tuple[TestClient, dict[str, dict[str, str]]]


def _fill(consortium: Consortium) -> None:
    """Add the module's consortium to the store."""
    elements = parse_elements(orbit_file("stations.tle").read_text()).elements[:4]
    with consortium.session() as session:
        consortium.add_admin(session)
        hidden = {"station_visibility": Visibility.PRIVATE}
        partners = {
            "esa": consortium.add_partner(session, "esa", 0.6, name="ESA", agreement={}),
            "nasa": consortium.add_partner(session, "nasa", 0.4, name="NASA", agreement=hidden),
        }
        for name, (owner, lat, lon) in SITES.items():
            consortium.add_station(
                session,
                name,
                partners[owner],
                lat,
                lon,
                min_elevation_deg=10.0,
                turnaround_s=TURNAROUND_S,
            )
        operators: list[dict[str, float]] = [
            {"esa": 1.0},
            {"nasa": 1.0},
            {"esa": 0.5, "nasa": 0.5},
            {"nasa": 1.0},
        ]
        for e, shares in zip(elements, operators, strict=True):
            fractions: dict[Partner | int, float] = {partners[p]: f for p, f in shares.items()}
            consortium.add_satellite(
                session, e.object_name, e.norad_cat_id, fractions, [e], daily_demand_s=1800
            )
        for name, role, partner in (
            ("esa-view", Role.VIEWER, "esa"),
            ("esa-ops", Role.OPERATOR, "esa"),
            ("nasa-ops", Role.OPERATOR, "nasa"),
        ):
            consortium.add_user(session, name, role, partners[partner])


@pytest.fixture
def world(consortium: Consortium) -> Iterator[World]:
    _fill(consortium)
    with consortium.serve() as client:
        yield client, {k: consortium.headers(k) for k in consortium.tokens}


class Served(Consortium):
    """The module's consortium, and the service over it (its lifespan started)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        _fill(self)
        self.client = self.serve().__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        super().close()


@pytest.fixture(scope="module")
def shared_world(module_stores: Callable[[], str]) -> Iterator[SharedWorld[Served]]:
    """One world per backend for the requests refused (tests.support.shared)."""
    shared = SharedWorld(lambda: Served(module_stores()))
    yield shared
    shared.close()


@pytest.fixture
def refusing_world(shared_world: SharedWorld[Served]) -> Iterator[World]:
    """The shared world, for a test whose requests are all refused."""
    with shared_world.use() as served:
        yield served.client, {k: served.headers(k) for k in served.tokens}


def _check_feasible(contacts: list[dict[str, Any]]) -> None:
    """Check the rules from the contacts alone: turnaround per station, one link per satellite."""
    for key, gap_s in (("station_id", TURNAROUND_S), ("satellite_id", 0.0)):
        groups: dict[int, list[tuple[datetime, datetime]]] = {}
        for c in contacts:
            groups.setdefault(c[key], []).append(
                (datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"]))
            )
        for spans in groups.values():
            for (_, end), (start, _) in pairwise(sorted(spans)):
                assert (start - end).total_seconds() >= gap_s


def _create(client: TestClient, auth: dict[str, str], **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/schedules", json={**DAY, **extra}, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_the_admin_schedules_the_network_with_proof_and_provenance(world: World) -> None:
    client, auth = world
    schedule = _create(client, auth["admin"], time_limit_s=20)
    assert schedule["status"] == "optimal"
    assert schedule["policy"] == "fair"
    assert schedule["hidden_contacts"] == 0
    contacts = schedule["contacts"]
    assert len(contacts) > 5
    _check_feasible(contacts)
    # What the partners received is what the contacts give, capped by demand.
    per_satellite: dict[int, float] = {}
    for c in contacts:
        seconds = round(
            (datetime.fromisoformat(c["end"]) - datetime.fromisoformat(c["start"])).total_seconds()
        )
        per_satellite[c["satellite_id"]] = per_satellite.get(c["satellite_id"], 0) + seconds
    useful = {s: min(v, 1800.0) for s, v in per_satellite.items()}
    assert schedule["total_seconds"] == pytest.approx(sum(useful.values()))
    partners = schedule["partners"]
    assert sum(p["seconds"] for p in partners.values()) == pytest.approx(sum(useful.values()))
    assert partners["esa"]["share_entitled"] == pytest.approx(0.6)
    provenance = schedule["provenance"]
    assert len(provenance["element_set_ids"]) == 4
    assert provenance["pass_prediction"]["fingerprint"]
    again = client.get(f"/api/v1/schedules/{schedule['id']}", headers=auth["admin"]).json()
    assert again == schedule
    listed = client.get("/api/v1/schedules", headers=auth["esa-view"]).json()
    assert [s["id"] for s in listed] == [schedule["id"]]


def test_partners_see_the_contacts_their_agreements_allow(world: World) -> None:
    client, auth = world
    schedule = _create(client, auth["admin"], time_limit_s=20)
    on_wallops = [c for c in schedule["contacts"] if c["station"] == "Wallops"]
    assert on_wallops, "the test needs contacts on NASA's private station"
    seen = client.get(f"/api/v1/schedules/{schedule['id']}", headers=auth["esa-view"]).json()
    assert [c for c in seen["contacts"] if c["station"] == "Wallops"] == []
    assert seen["hidden_contacts"] == len(on_wallops)
    assert seen["partners"] == schedule["partners"]  # the fairness figures are for everyone
    nasa = client.get(f"/api/v1/schedules/{schedule['id']}", headers=auth["nasa-ops"]).json()
    assert nasa["contacts"] == schedule["contacts"]  # ESA's stations are consortium-visible
    refused = client.post("/api/v1/schedules", json=DAY, headers=auth["esa-ops"])
    assert refused.status_code == 403


def test_an_outage_re_plans_from_now_keeping_the_past(world: World) -> None:
    client, auth = world
    first = _create(client, auth["admin"], time_limit_s=20)
    outage = {
        "station_id": 1,
        "start": NOW.isoformat(),
        "end": (NOW + timedelta(hours=6)).isoformat(),
        "reason": "antenna drive failure",
    }
    assert (
        client.post(
            f"/api/v1/schedules/{first['id']}/replan", json=outage, headers=auth["nasa-ops"]
        ).status_code
        == 403
    )
    hidden = {**outage, "station_id": 3}  # NASA's private station, unseen by ESA
    assert (
        client.post(
            f"/api/v1/schedules/{first['id']}/replan", json=hidden, headers=auth["esa-ops"]
        ).status_code
        == 404
    )
    response = client.post(
        f"/api/v1/schedules/{first['id']}/replan", json=outage, headers=auth["esa-ops"]
    )
    assert response.status_code == 201, response.text
    assert [c["station"] for c in response.json()["contacts"]].count("Wallops") == 0
    second = client.get(f"/api/v1/schedules/{response.json()['id']}", headers=auth["admin"]).json()
    assert second["replaces_id"] == first["id"]
    assert second["levels"][-1]["name"] == "contacts changed"

    def started(contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The contacts started before now, but for their ids (each schedule has its own)."""
        return [
            {k: v for k, v in c.items() if k != "id"}
            for c in contacts
            if datetime.fromisoformat(c["start"]) < NOW
        ]

    assert started(second["contacts"]) == started(first["contacts"])
    for c in second["contacts"]:
        if c["station_id"] == 1 and datetime.fromisoformat(c["start"]) >= NOW:
            assert datetime.fromisoformat(c["start"]) >= NOW + timedelta(hours=6)
    _check_feasible(second["contacts"])
    station = client.get("/api/v1/stations/1", headers=auth["admin"]).json()
    assert [u["kind"] for u in station["unavailable"]] == ["outage"]
    assert station["unavailable"][0]["reason"] == "antenna drive failure"


@pytest.mark.parametrize(
    "body",
    [
        {"start": "2024-05-11T00:00:00Z", "end": "2024-05-10T00:00:00Z"},
        {"start": "2024-05-10T00:00:00Z", "end": "2024-07-10T00:00:00Z"},
        {**DAY, "policy": "whatever"},
        {**DAY, "time_limit_s": 0},
        {**DAY, "time_limit_s": 10_000},
        {"start": "0001-01-01T00:00:00+00:01", "end": "2000-01-01T00:00:00Z"},  # found by
    ],  # schemathesis: a time that overflows once turned to UTC
)
def test_bad_schedule_requests_are_problems(refusing_world: World, body: dict[str, Any]) -> None:
    client, auth = refusing_world
    response = client.post("/api/v1/schedules", json=body, headers=auth["admin"])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    missing = client.get("/api/v1/schedules/99", headers=auth["admin"])
    assert missing.status_code == 404
