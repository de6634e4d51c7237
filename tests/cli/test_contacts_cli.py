"""``jointsat contacts``: on the store and over HTTP, its JSON the API's own answer.

The world is test_schedules_api's consortium with a day's schedule, served by uvicorn on
a loopback port (its clock after the schedule's day); commands run in this process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from tests.service.test_schedules_api import NOW, START, _fill
from tests.support.consortium import Consortium, bearer
from tests.support.server import in_thread
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.service.app import create_app
from jointsat.settings import Settings
from jointsat.store.schedules import schedule_network

CLEAN_ENV = {"JOINTSAT_URL": None, "JOINTSAT_TOKEN": None, "COLUMNS": "120"}
HTTP_S = 60.0  # a loaded machine answers slowly; waiting is not what is tested
MALARGUE, KOUROU = 1, 2
LATER = NOW + timedelta(hours=13)  # the server's clock: the day's contacts are over


@dataclass
class World:
    url: str
    consortium: Consortium
    server: str

    def store(self, *args: str) -> Result:
        return CliRunner().invoke(app, [*args, "--database-url", self.url], env=CLEAN_ENV)

    def remote(self, token: str, *args: str) -> Result:
        return CliRunner().invoke(
            app, [*args, "--url", self.server, "--token", token], env=CLEAN_ENV
        )

    def token(self, who: str) -> str:
        return self.consortium.tokens[who]

    def api(self, who: str, path: str, **params: Any) -> Any:
        answer = httpx.get(
            f"{self.server}/api/v1{path}",
            headers=bearer(self.token(who)),
            params=params,
            timeout=HTTP_S,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    consortium = Consortium(store_url)
    _fill(consortium)
    with consortium.sessions() as session:
        schedule_network(session, START, START + timedelta(days=1), now=NOW)
        session.commit()
    settings = Settings(database_url=store_url, archive_root=tmp_path / "archive")
    try:
        with in_thread(create_app(settings, clock=lambda: LATER)) as base:
            yield World(store_url, consortium, base)
    finally:
        consortium.close()


def test_contacts_on_the_store_and_over_http(world: World) -> None:
    listed = json.loads(ok(world.store("contacts", "list", "-f", "json")))
    assert listed == world.api("admin", "/contacts")
    esa_view = json.loads(
        ok(world.remote(world.token("esa-view"), "contacts", "list", "-f", "json"))
    )
    assert esa_view == world.api("esa-view", "/contacts")
    assert len(esa_view) < len(listed)  # NASA's private station's contacts are not ESA's to see
    malargue = [c for c in listed if c["station_id"] == MALARGUE]
    kourou = [c for c in listed if c["station_id"] == KOUROU]
    first, second = malargue[0], malargue[1]
    # Confirm on the store, read it over HTTP.
    ok(world.store("contacts", "confirm", str(first["id"])))
    shown = json.loads(
        ok(world.remote(world.token("esa-ops"), "contacts", "show", str(first["id"]), "-f", "json"))
    )
    assert shown == world.api("esa-ops", f"/contacts/{first['id']}")
    assert shown["state"] == "confirmed"
    refused = world.remote(world.token("nasa-ops"), "contacts", "cancel", str(second["id"]))
    assert refused.exit_code == 1
    assert "operators" in refused.output
    # A station token, made over HTTP, reports its station's contacts.
    made = world.remote(
        world.token("esa-ops"), "contacts", "token", "--kind", "station", "--station", "Malargue"
    )
    station = ok(made).strip()
    assert station.startswith("jst_station_")
    start = world.remote(
        station, "contacts", "report", str(first["id"]), "start", "--at", first["start"]
    )
    assert "executing" in ok(start)
    end = world.remote(
        station,
        "contacts",
        "report",
        str(first["id"]),
        "end",
        "--at",
        first["end"],
        "--bytes",
        "4096",
        "-f",
        "json",
    )
    moved = json.loads(ok(end))
    assert (moved["contact"]["state"], moved["contact"]["bytes_received"]) == ("completed", 4096)
    elsewhere = world.remote(station, "contacts", "report", str(kourou[0]["id"]), "start")
    assert elsewhere.exit_code == 1
    assert f"no contact with id {kourou[0]['id']}" in elsewhere.output
    no_reason = world.store("contacts", "report", str(second["id"]), "failed")
    assert no_reason.exit_code == 1
    assert "reason" in no_reason.output
    # The tally, both ways, is the API's.
    tally = world.api("admin", "/contacts/tally", partner_id=1)
    assert (
        json.loads(ok(world.store("contacts", "tally", "--partner", "esa", "-f", "json"))) == tally
    )
    assert tally["delivered_contacts"] == 1
    # A calendar token made on the store reads its feed, until revoked.
    calendar = ok(
        world.store(
            "contacts", "token", "--kind", "calendar", "--partner", "esa", "--user", "esa-view"
        )
    )
    feed = httpx.get(
        f"{world.server}/api/v1/partners/1/calendar.ics",
        params={"token": calendar.strip()},
        timeout=HTTP_S,
    )
    assert feed.status_code == 200
    uids = [str(e["uid"]) for e in Calendar.from_ical(feed.content).walk("VEVENT")]
    assert len(uids) == len(set(uids)) > 0
    tokens = json.loads(ok(world.store("contacts", "tokens", "-f", "json")))
    assert [(t["kind"], t["station_id"], t["partner_id"]) for t in tokens] == [
        ("station", MALARGUE, None),
        ("calendar", None, 1),
    ]
    ok(world.store("contacts", "revoke", str(tokens[1]["id"])))
    again = httpx.get(
        f"{world.server}/api/v1/partners/1/calendar.ics",
        params={"token": calendar.strip()},
        timeout=HTTP_S,
    )
    assert again.status_code == 404


def test_contacts_commands_refuse_what_cannot_be(world: World) -> None:
    both = world.store(
        "contacts",
        "token",
        "--kind",
        "calendar",
        "--station",
        "1",
        "--partner",
        "esa",
        "--user",
        "admin",
    )
    assert both.exit_code == 2
    nobody = world.store("contacts", "token", "--kind", "station", "--station", "1")
    assert nobody.exit_code == 2
    viewer = world.store(
        "contacts", "token", "--kind", "station", "--station", "1", "--user", "esa-view"
    )
    assert viewer.exit_code == 1
    assert "operators" in viewer.output
    missing = world.store("contacts", "show", "999999")
    assert missing.exit_code == 1
    assert "no contact with id 999999" in missing.output
    bad_state = world.store("contacts", "list", "--state", "lost")
    assert bad_state.exit_code == 2
