"""Check SSF exchange: a schedule exported as CCSDS SSF, and another agency's imported.

Oracles: the schedule's own JSON (the SSF holds the same contacts, to the
millisecond, and only those the caller sees), and the access rules (an operator books
only on its partner's stations; a viewer imports nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.service.test_schedules_api import DAY, _fill
from tests.support.consortium import Consortium

from jointsat.operations.ssf import MEDIA_TYPE, read_ssf

World = tuple[TestClient, dict[str, dict[str, str]]]
MS = timedelta(milliseconds=1)
XML = {"content-type": MEDIA_TYPE}


@pytest.fixture
def world(consortium: Consortium) -> Iterator[World]:
    _fill(consortium)
    with consortium.serve() as client:
        yield client, {k: consortium.headers(k) for k in consortium.tokens}


def _schedule(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    response = client.post("/api/v1/schedules", json={**DAY, "time_limit_s": 20}, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _keys(contacts: list[dict[str, Any]]) -> list[tuple[int, str, datetime, datetime]]:
    """Return each contact as (NORAD id, station, start, end), times to the millisecond."""

    def ms(text: str) -> datetime:
        t = datetime.fromisoformat(text).astimezone(UTC)
        return t.replace(microsecond=0) + round(t.microsecond / 1000) * MS

    return sorted((c["norad_id"], c["station"], ms(c["start"]), ms(c["end"])) for c in contacts)


def _ssf(client: TestClient, schedule_id: int, auth: dict[str, str]) -> str:
    response = client.get(f"/api/v1/schedules/{schedule_id}/schedule.ssf", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    return str(response.text)


def _activities(text: str) -> list[tuple[int, str, datetime, datetime]]:
    return sorted((a.norad_id or 0, a.site, a.start, a.end) for a in read_ssf(text).activities)


def test_the_ssf_holds_the_contacts_the_caller_sees(world: World) -> None:
    client, auth = world
    schedule = _schedule(client, auth["admin"])
    assert any(c["station"] == "Wallops" for c in schedule["contacts"]), "needs NASA's contacts"
    everything = _activities(_ssf(client, schedule["id"], auth["admin"]))
    assert everything == _keys(schedule["contacts"])
    # ESA's viewer: NASA's private station's contacts are left out, as in the JSON.
    seen = client.get(f"/api/v1/schedules/{schedule['id']}", headers=auth["esa-view"]).json()
    partial = _activities(_ssf(client, schedule["id"], auth["esa-view"]))
    assert partial == _keys(seen["contacts"])
    assert all(site != "Wallops" for _, site, _, _ in partial)
    assert len(partial) == len(schedule["contacts"]) - seen["hidden_contacts"] < len(everything)
    assert "Wallops" not in _ssf(client, schedule["id"], auth["esa-view"])
    missing = client.get("/api/v1/schedules/999/schedule.ssf", headers=auth["admin"])
    assert missing.status_code == 404


def test_an_imported_message_becomes_a_schedule_of_the_same_contacts(world: World) -> None:
    client, auth = world
    schedule = _schedule(client, auth["admin"])
    text = _ssf(client, schedule["id"], auth["admin"])
    response = client.post(
        "/api/v1/schedules/import-ssf", content=text, headers=auth["admin"] | XML
    )
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["policy"] == "imported"
    assert imported["provenance"]["imported_from"] == "JOINTSAT"
    assert imported["provenance"]["message_version"] == str(schedule["id"])
    got = client.get(f"/api/v1/schedules/{imported['id']}", headers=auth["admin"]).json()
    assert got["policy"] == "imported"
    assert _keys(got["contacts"]) == _keys(schedule["contacts"])
    # The maximum elevation is predicted again from the stored orbits: the solver's.
    before = {(c["norad_id"], c["station"], c["start"][:19]): c for c in schedule["contacts"]}
    for c in got["contacts"]:
        twin = before[(c["norad_id"], c["station"], c["start"][:19])]
        assert c["max_elevation_deg"] == pytest.approx(twin["max_elevation_deg"], abs=0.05)
    listed = client.get("/api/v1/schedules", headers=auth["esa-view"]).json()
    assert [s["policy"] for s in listed][:2] == ["imported", "fair"]
    replan = client.post(
        f"/api/v1/schedules/{imported['id']}/replan",
        json={"station_id": 1, "start": DAY["start"], "end": DAY["end"]},
        headers=auth["admin"],
    )
    assert replan.status_code == 409


def test_an_operator_books_only_on_its_partners_stations(world: World) -> None:
    client, auth = world
    schedule = _schedule(client, auth["admin"])
    everything = _ssf(client, schedule["id"], auth["admin"])
    refused = client.post(
        "/api/v1/schedules/import-ssf", content=everything, headers=auth["esa-ops"] | XML
    )
    assert refused.status_code == 422
    assert "station 'Wallops'" in refused.json()["detail"]
    # ESA's own stations' contacts (the viewer's export, less Wallops) are ESA's to book.
    own = _ssf(client, schedule["id"], auth["esa-view"])
    booked = client.post("/api/v1/schedules/import-ssf", content=own, headers=auth["esa-ops"] | XML)
    assert booked.status_code == 201, booked.text
    # NASA's operator may not book on ESA's stations.
    nasa = client.post("/api/v1/schedules/import-ssf", content=own, headers=auth["nasa-ops"] | XML)
    assert nasa.status_code == 422
    assert "station 'Malargue'" in nasa.json()["detail"]
    viewer = client.post(
        "/api/v1/schedules/import-ssf", content=own, headers=auth["esa-view"] | XML
    )
    assert viewer.status_code == 403


def test_a_malformed_message_is_refused_naming_the_element(world: World) -> None:
    client, auth = world
    schedule = _schedule(client, auth["admin"])
    text = _ssf(client, schedule["id"], auth["admin"]).replace('activityStatus="COMMITTED"', "", 1)
    response = client.post(
        "/api/v1/schedules/import-ssf", content=text, headers=auth["admin"] | XML
    )
    assert response.status_code == 422
    assert "scheduledActivity[1]/@activityStatus" in response.json()["detail"]
    bomb = '<!DOCTYPE s [<!ENTITY a "x">]><simpleSchedule>&a;</simpleSchedule>'
    response = client.post(
        "/api/v1/schedules/import-ssf", content=bomb, headers=auth["admin"] | XML
    )
    assert response.status_code == 422
    assert "DOCTYPE" in response.json()["detail"]
    read = client.get("/api/v1/schedules/import-ssf", headers=auth["admin"])
    assert read.status_code == 405  # not GET /schedules/{id}'s 422
    assert read.headers["allow"] == "POST"
    before = client.get("/api/v1/schedules", headers=auth["admin"]).json()
    assert [s["id"] for s in before] == [schedule["id"]]  # nothing half-imported
