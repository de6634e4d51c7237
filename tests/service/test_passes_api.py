"""Check /api/v1/passes against the library, its filters, visibility and cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.support.consortium import Consortium
from tests.support.data import orbit_file
from tests.support.shared import SharedWorld

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.passes import find_passes
from jointsat.orbits.stations import Station
from jointsat.store import passes as stored
from jointsat.store.tables import Partner, Role, Visibility

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
START = datetime(2024, 5, 10, tzinfo=UTC)
SITES = {  # name: (owner, lat, lon, alt)
    "Kiruna": ("esa", 67.857, 20.964, 402.0),
    "Malargue": ("esa", -35.776, -69.398, 1550.0),
    "Wallops": ("nasa", 37.927, -75.476, 10.0),  # NASA keeps its stations private
}


World = tuple[TestClient, dict[str, dict[str, str]]]


def _fill(consortium: Consortium) -> None:
    """Add the module's consortium to the store."""
    elements = parse_elements(orbit_file("stations.tle").read_text()).elements[:3]
    with consortium.session() as session:
        consortium.add_admin(session)
        hidden = {"station_visibility": Visibility.PRIVATE}
        partners = {
            "esa": consortium.add_partner(session, "esa", 0.5, name="ESA", agreement={}),
            "nasa": consortium.add_partner(session, "nasa", 0.5, name="NASA", agreement=hidden),
        }
        for name, (owner, lat, lon, alt) in SITES.items():
            consortium.add_station(
                session, name, partners[owner], lat, lon, alt_m=alt, min_elevation_deg=10.0
            )
        for e, owner in zip(elements, ["esa", "nasa", "esa"], strict=True):
            consortium.add_satellite(
                session, e.object_name, e.norad_cat_id, {partners[owner]: 1.0}, [e]
            )
        consortium.add_user(session, "esa-view", Role.VIEWER, partners["esa"])


@pytest.fixture
def world(consortium: Consortium) -> Iterator[World]:
    _fill(consortium)
    with consortium.serve() as client:
        yield client, {k: consortium.headers(k) for k in ("admin", "esa-view")}


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
        yield served.client, {k: served.headers(k) for k in ("admin", "esa-view")}


def _window(days: float = 1.0) -> dict[str, str]:
    return {"start": START.isoformat(), "end": (START + timedelta(days=days)).isoformat()}


def test_passes_are_the_library_s_for_what_the_caller_sees(world: World) -> None:
    client, auth = world
    elements = parse_elements(orbit_file("stations.tle").read_text()).elements[:3]
    for who, site_names in (("admin", list(SITES)), ("esa-view", ["Kiruna", "Malargue"])):
        served = client.get("/api/v1/passes", params=_window(), headers=auth[who])
        assert served.status_code == 200
        stations = [Station(n, *SITES[n][1:], min_elevation_deg=10.0) for n in site_names]
        oracle = find_passes(elements, stations, START, START + timedelta(days=1))
        got = sorted((p["station"], p["norad_id"], p["aos"]) for p in served.json())
        want = sorted(
            (p.station.name, p.satellite.norad_id, p.aos.isoformat().replace("+00:00", "Z"))
            for p in oracle.rows()
        )
        assert [(s, n) for s, n, _ in got] == [(s, n) for s, n, _ in want]
        for (_, _, a), (_, _, b) in zip(got, want, strict=True):
            assert datetime.fromisoformat(a) == datetime.fromisoformat(b)


def test_filters_and_the_cache(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    client, auth = world
    everything = client.get("/api/v1/passes", params=_window(), headers=auth["admin"]).json()
    calls = _count_predictions(monkeypatch)
    again = client.get("/api/v1/passes", params=_window(), headers=auth["admin"]).json()
    assert again == everything
    assert calls == []  # served from the cache
    by_station = client.get(
        "/api/v1/passes", params={**_window(), "station_id": 1}, headers=auth["admin"]
    ).json()
    assert by_station == [p for p in everything if p["station_id"] == 1]
    nasa = client.get(
        "/api/v1/passes", params={**_window(), "partner_id": 2}, headers=auth["admin"]
    ).json()
    assert nasa == [p for p in everything if p["station"] == "Wallops" or p["satellite_id"] == 2]
    hidden = client.get(
        "/api/v1/passes", params={**_window(), "station_id": 3}, headers=auth["esa-view"]
    )
    assert hidden.status_code == 404


def _count_predictions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = stored.find_passes
    monkeypatch.setattr(stored, "find_passes", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_predictions_are_stored_for_every_server_process(
    world: World, consortium: Consortium, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, auth = world
    first = client.get("/api/v1/passes", params=_window(), headers=auth["admin"]).json()
    calls = _count_predictions(monkeypatch)
    with consortium.serve() as other:  # another server process's app over the same store
        assert other.get("/api/v1/passes", params=_window(), headers=auth["admin"]).json() == first
        assert calls == []  # read back from the store, not predicted again
        # A write that changes no station or element set keeps the stored passes.
        created = other.post(
            "/api/v1/partners",
            json={"code": "jaxa", "name": "JAXA", "contribution_share": 0.1},
            headers=auth["admin"],
        )
        assert created.status_code == 201
        assert other.get("/api/v1/passes", params=_window(), headers=auth["admin"]).json() == first
        assert calls == []
        # Moving a station predicts anew; deleting one forgets its passes.
        moved = other.patch(
            "/api/v1/stations/2", json={"min_elevation_deg": 20.0}, headers=auth["admin"]
        )
        assert moved.status_code == 200
        high = other.get("/api/v1/passes", params=_window(), headers=auth["admin"]).json()
        assert calls == [1]
        low = [p for p in first if p["station_id"] == 2]
        assert 0 < len([p for p in high if p["station_id"] == 2]) < len(low)
        assert other.delete("/api/v1/stations/2", headers=auth["admin"]).status_code == 204
        rest = other.get("/api/v1/passes", params=_window(), headers=auth["admin"]).json()
        assert rest == [p for p in first if p["station_id"] != 2]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2024-05-10T00:00:00Z", "end": "2024-05-09T00:00:00Z"},
        {"start": "2024-05-10T24:30:00", "end": "2024-05-11T00:00:00Z"},
        {"start": "2024-05-10T00:00:00Z", "end": "2024-07-10T00:00:00Z"},
        {"start": "yesterday", "end": "2024-05-11T00:00:00Z"},
        {"start": "2024-05-10T00:00:00Z"},
    ],
)
def test_bad_windows_are_problems(refusing_world: World, params: dict[str, str]) -> None:
    client, auth = refusing_world
    response = client.get("/api/v1/passes", params=params, headers=auth["admin"])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_the_demo_week_is_predicted_once_for_every_reader(consortium: Consortium) -> None:
    """Seven readers of the demo week (viewers, filters, a sub-window, the scheduler) share one."""
    from jointsat.demo import build
    from jointsat.files import read_demo_elements, read_demo_stations
    from jointsat.store.schedules import StoreProblem
    from jointsat.store.tables import PassPrediction, PassRecord

    elements = read_demo_elements()
    anchor = max(elements.parsed[0].elements, key=lambda e: e.epoch)
    start = anchor.epoch.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    end = start + timedelta(days=7)
    with consortium.session() as session:
        demo = build(session, elements, read_demo_stations(), now=NOW)
        consortium.tokens["admin"] = demo.admin_token
        for code in ("esa", "dlr"):
            partner = session.get_one(Partner, demo.partners[code])
            consortium.add_user(session, f"{code}-view", Role.VIEWER, partner, key=code)
    week = {"start": start.isoformat(), "end": end.isoformat()}
    day = start + timedelta(days=2)
    asked = [
        ("admin", week),
        ("esa", week),
        ("dlr", week),
        ("admin", {**week, "satellite_id": 1}),
        ("admin", {**week, "station_id": 1}),
        (
            "admin",
            {
                "start": (day + timedelta(hours=6)).isoformat(),
                "end": (day + timedelta(hours=18)).isoformat(),
            },
        ),  # a sub-window of a day
    ]
    with consortium.serve() as client:
        answers = [
            client.get("/api/v1/passes", params=params, headers=consortium.headers(who))
            for who, params in asked
        ]
    assert [a.status_code for a in answers] == [200] * 6
    everything = answers[0].json()
    assert len(everything) == 2_627
    assert answers[2].json() == everything  # DLR sees every station: its own are private
    assert 0 < len(answers[1].json()) < len(everything)  # ESA does not see DLR's
    with consortium.sessions() as session:
        scheduled = StoreProblem(session, start, end, now=NOW)
        assert len(scheduled.passes) == 2_627
        assert session.scalar(select(func.count()).select_from(PassPrediction)) == 1
        assert session.scalar(select(func.count()).select_from(PassRecord)) == 2_627


def test_every_pass_says_how_old_its_elements_are(world: World) -> None:
    """The age at TCA is |TCA - epoch| (one set each), read from the TLE's own columns."""
    client, auth = world
    epochs = {}
    for line in orbit_file("stations.tle").read_text().splitlines():
        if line.startswith("1 "):  # YYDDD.DDDDDDDD in columns 19-32
            day = float(line[20:32])
            epochs[int(line[2:7])] = datetime(2000 + int(line[18:20]), 1, 1, tzinfo=UTC) + (
                timedelta(days=day - 1.0)
            )
    for who in ("admin", "esa-view"):
        served = client.get("/api/v1/passes", params=_window(days=9.0), headers=auth[who])
        assert served.status_code == 200
        rows = served.json()
        assert rows
        for p in rows:
            tca = datetime.fromisoformat(p["tca"])
            expected = abs((tca - epochs[p["norad_id"]]).total_seconds()) / 86_400
            assert p["elements_age_days"] == pytest.approx(expected, abs=2e-8)  # 2 ms
            assert p["stale"] is (expected > 7.0)  # all three are in low Earth orbit
        assert {p["stale"] for p in rows} == {False, True}  # the 9 days cross the threshold


def test_the_openapi_documents_the_elements_age(world: World) -> None:
    client, _ = world
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("PassPublic", "Position", "Track", "Look"):
        fields = schemas[name]["properties"]
        age = fields["elements_age_days"]
        # null where nothing predicts the satellite (outside an ephemeris' coverage)
        assert {a["type"] for a in age.get("anyOf", [age])} - {"null"} == {"number"}, name
        assert fields["stale"]["type"] == "boolean", name
        assert {"elements_age_days", "stale"} <= set(schemas[name]["required"]), name
