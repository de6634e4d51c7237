"""Check /api/v1/contacts, access tokens and calendar feeds: who may see, move and report what.

The world is test_schedules_api's: ESA's Malargue (1) and Kourou (2), visible to the
consortium, NASA's private Wallops (3); four satellites, ESA's, NASA's, joint, NASA's.
Feeds are read back with the ``icalendar`` library; tallies are recomputed here from
the reports the test made.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from tests.service.test_schedules_api import DAY, NOW, TURNAROUND_S, _fill
from tests.support.consortium import Consortium, bearer

from jointsat.service.exports import contact_uid
from jointsat.store.tables import EventRecord, ScheduleRecord

MALARGUE, KOUROU, WALLOPS = 1, 2, 3
ESA, NASA = 1, 2


@dataclass
class Clock:
    """The service's clock, moved by the test."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    client: TestClient
    auth: dict[str, dict[str, str]]
    clock: Clock
    consortium: Consortium
    schedule: dict[str, Any] = field(default_factory=dict)

    def get(self, who: str | dict[str, str], path: str, **params: Any) -> Any:
        headers = self.auth[who] if isinstance(who, str) else who
        return self.client.get(f"/api/v1{path}", headers=headers, params=params)

    def post(self, who: str | dict[str, str], path: str, body: Any = None) -> Any:
        headers = self.auth[who] if isinstance(who, str) else who
        return self.client.post(f"/api/v1{path}", headers=headers, json=body)

    def contacts(
        self, station: int | None = None, after: bool | None = None
    ) -> list[dict[str, Any]]:
        """The schedule's contacts as the admin sees them (at a station, starting after now)."""
        return [
            c
            for c in self.schedule["contacts"]
            if (station is None or c["station_id"] == station)
            and (after is None or (utc(c["start"]) > self.clock.now) == after)
        ]

    def token(self, who: str, **body: Any) -> str:
        answer = self.post(who, "/access-tokens", body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def world(consortium: Consortium) -> Iterator[World]:
    _fill(consortium)
    clock = Clock()
    with consortium.serve(clock=clock) as client:
        auth = {k: consortium.headers(k) for k in consortium.tokens}
        made = World(client, {**auth, "public": {}}, clock, consortium)
        answer = made.post("admin", "/schedules", {**DAY, "time_limit_s": 20})
        assert answer.status_code == 201, answer.text
        made.schedule = answer.json()
        yield made


def test_partners_see_the_contacts_their_agreements_allow(world: World) -> None:
    everything = world.get("admin", "/contacts").json()
    assert [c["id"] for c in everything] == [c["id"] for c in world.schedule["contacts"]]
    assert {c["state"] for c in everything} == {"scheduled"}
    on_wallops = [c["id"] for c in everything if c["station_id"] == WALLOPS]
    assert on_wallops, "the test needs contacts on NASA's private station"
    esa = world.get("esa-view", "/contacts").json()
    assert [c["id"] for c in esa] == [c["id"] for c in everything if c["id"] not in on_wallops]
    assert world.get("nasa-ops", "/contacts").json() == everything
    for contact_id in on_wallops:
        assert world.get("esa-view", f"/contacts/{contact_id}").status_code == 404
        assert world.post("esa-ops", f"/contacts/{contact_id}/confirm").status_code == 404
    assert world.get("esa-view", "/contacts", station_id=WALLOPS).status_code == 404
    assert world.get("public", "/contacts").status_code == 401
    # Filters, against the list filtered here.
    kourou = world.get("esa-view", "/contacts", station_id=KOUROU, start=NOW.isoformat()).json()
    assert [c["id"] for c in kourou] == [
        c["id"] for c in esa if c["station_id"] == KOUROU and utc(c["end"]) > NOW
    ]
    assert world.get("admin", "/contacts", state="confirmed").json() == []


def test_only_the_stations_operators_confirm_and_cancel(world: World) -> None:
    first, second, *_ = world.contacts(MALARGUE)
    for who, status in (("nasa-ops", 403), ("esa-view", 403), ("public", 401)):
        assert world.post(who, f"/contacts/{first['id']}/confirm").status_code == status
    confirmed = world.post("esa-ops", f"/contacts/{first['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["contact"]["state"] == "confirmed"
    again = world.post("esa-ops", f"/contacts/{first['id']}/confirm")
    assert again.status_code == 409
    assert "confirmed contact cannot confirm" in again.json()["detail"]
    cancelled = world.post("admin", f"/contacts/{second['id']}/cancel", {"reason": "VIP pass"})
    assert cancelled.json()["contact"]["state"] == "cancelled"
    assert cancelled.json()["contact"]["state_reason"] == "VIP pass"
    shown = world.get("esa-view", f"/schedules/{world.schedule['id']}").json()
    states = {c["id"]: c["state"] for c in shown["contacts"]}
    assert (states[first["id"]], states[second["id"]]) == ("confirmed", "cancelled")
    # Each move is an event, about the contact's satellite and station.
    with world.consortium.session() as session:
        events = session.query(EventRecord).order_by(EventRecord.id).all()
        assert [(e.kind, e.payload["contact_id"], e.payload["state"]) for e in events] == [
            ("contact.state", first["id"], "confirmed"),
            ("contact.state", second["id"], "cancelled"),
        ]
        assert (events[1].station_id, events[1].satellite_id) == (MALARGUE, second["satellite_id"])


def test_a_station_token_reports_on_its_station_and_reads_nothing_else(world: World) -> None:
    assert (
        world.post(
            "esa-view", "/access-tokens", {"kind": "station", "station_id": MALARGUE}
        ).status_code
        == 403
    )
    assert (
        world.post(
            "esa-ops", "/access-tokens", {"kind": "station", "station_id": WALLOPS}
        ).status_code
        == 404
    )
    assert (
        world.post(
            "nasa-ops", "/access-tokens", {"kind": "station", "station_id": MALARGUE}
        ).status_code
        == 403
    )
    assert (
        world.post("esa-ops", "/access-tokens", {"kind": "station", "partner_id": ESA}).status_code
        == 422
    )
    station = bearer(world.token("esa-ops", kind="station", station_id=MALARGUE, label="antenna 1"))
    mine = world.get(station, "/contacts").json()
    assert mine
    assert [c["id"] for c in mine] == [c["id"] for c in world.contacts(MALARGUE)]
    kourou = world.contacts(KOUROU)[0]
    assert world.get(station, f"/contacts/{kourou['id']}").status_code == 404
    assert world.get(station, "/contacts", station_id=KOUROU).status_code == 404
    report = {"event": "start", "at": kourou["start"]}
    assert world.post(station, f"/contacts/{kourou['id']}/report", report).status_code == 404
    for path in ("/stations", "/schedules", f"/schedules/{world.schedule['id']}", "/access-tokens"):
        assert world.get(station, path).status_code == 401, path
    assert world.post(station, f"/contacts/{mine[0]['id']}/confirm").status_code == 401
    assert (
        world.post(station, "/access-tokens", {"kind": "calendar", "partner_id": ESA}).status_code
        == 401
    )
    # Its own contacts: start, end with bytes.
    contact = mine[0]
    world.clock.now = utc(contact["end"]) + timedelta(minutes=5)
    started = world.post(
        station, f"/contacts/{contact['id']}/report", {"event": "start", "at": contact["start"]}
    )
    assert started.status_code == 200, started.text
    assert started.json()["contact"]["state"] == "executing"
    bad = {"event": "end", "at": (utc(contact["start"]) - timedelta(seconds=1)).isoformat()}
    assert world.post(station, f"/contacts/{contact['id']}/report", bad).status_code == 422
    end = {"event": "end", "at": contact["end"], "bytes_received": 123_456_789}
    done = world.post(station, f"/contacts/{contact['id']}/report", end).json()["contact"]
    assert (done["state"], done["bytes_received"]) == ("completed", 123_456_789)
    assert utc(done["started_at"]) == utc(contact["start"])
    assert utc(done["ended_at"]) == utc(contact["end"])
    assert world.post(station, f"/contacts/{contact['id']}/report", end).status_code == 409
    # Revoked by a colleague, it is refused at once.
    listed = world.get("esa-ops", "/access-tokens").json()
    assert [(t["kind"], t["station_id"], t["label"]) for t in listed] == [
        ("station", MALARGUE, "antenna 1")
    ]
    assert listed[0]["last_used_at"] is not None
    assert world.get("nasa-ops", "/access-tokens").json() == []
    assert (
        world.client.delete(
            f"/api/v1/access-tokens/{listed[0]['id']}", headers=world.auth["nasa-ops"]
        ).status_code
        == 404
    )
    assert (
        world.client.delete(
            f"/api/v1/access-tokens/{listed[0]['id']}", headers=world.auth["esa-ops"]
        ).status_code
        == 204
    )
    assert world.get(station, "/contacts").status_code == 401
    assert (
        world.post(station, f"/contacts/{mine[1]['id']}/report", {"event": "start"}).status_code
        == 401
    )


def _feed(world: World, kind: str, ident: int, token: str) -> Any:
    return world.client.get(f"/api/v1/{kind}/{ident}/calendar.ics", params={"token": token})


def test_calendar_tokens_read_their_feed_alone(world: World) -> None:
    partner = world.token("esa-view", kind="calendar", partner_id=ESA)
    station = world.token("esa-view", kind="calendar", station_id=KOUROU)
    reporting = world.token("esa-ops", kind="station", station_id=KOUROU)
    assert (
        world.post(
            "esa-view", "/access-tokens", {"kind": "calendar", "partner_id": NASA}
        ).status_code
        == 403
    )
    assert (
        world.post(
            "esa-view", "/access-tokens", {"kind": "calendar", "station_id": WALLOPS}
        ).status_code
        == 404
    )
    assert _feed(world, "partners", ESA, partner).status_code == 200
    assert _feed(world, "stations", KOUROU, station).status_code == 200
    for kind, ident, token in (
        ("partners", NASA, partner),
        ("stations", MALARGUE, station),
        ("stations", KOUROU, partner),
        ("partners", ESA, station),
        ("stations", KOUROU, reporting),
        ("stations", KOUROU, "jst_calendar_made-up"),
        ("stations", KOUROU, world.consortium.tokens["admin"]),
    ):
        answer = _feed(world, kind, ident, token)
        assert answer.status_code == 404, (kind, ident)
        assert "BEGIN:VCALENDAR" not in answer.text
    assert world.get(bearer(partner), "/contacts").status_code == 401
    assert world.get(bearer(station), "/stations").status_code == 401
    rows = world.get("esa-view", "/access-tokens").json()
    world.client.delete(f"/api/v1/access-tokens/{rows[0]['id']}", headers=world.auth["esa-view"])
    assert _feed(world, "partners", ESA, partner).status_code == 404


def _events(text: bytes) -> dict[str, Any]:
    events = list(Calendar.from_ical(text).walk("VEVENT"))
    uids = [str(e["uid"]) for e in events]
    assert len(set(uids)) == len(uids)
    return dict(zip(uids, events, strict=True))


def test_the_feeds_hold_the_contacts_the_user_sees_with_their_state(world: World) -> None:
    esa = world.token("esa-view", kind="calendar", partner_id=ESA)
    nasa = world.token("nasa-ops", kind="calendar", partner_id=NASA)
    satellites = {s["id"]: s for s in world.get("nasa-ops", "/satellites").json()}
    wanted: dict[str, list[str]] = {"esa": [], "nasa": []}
    for c in world.schedule["contacts"]:
        operators = {int(p) for p in satellites[c["satellite_id"]]["operators"]}
        owner = ESA if c["station_id"] in (MALARGUE, KOUROU) else NASA
        if (ESA in operators or owner == ESA) and c["station_id"] != WALLOPS:
            wanted["esa"].append(contact_uid(c))
        if NASA in operators or owner == NASA:
            wanted["nasa"].append(contact_uid(c))
    first, second = world.contacts(MALARGUE)[:2]
    world.post("esa-ops", f"/contacts/{first['id']}/confirm")
    world.post("esa-ops", f"/contacts/{second['id']}/cancel")
    events = _events(_feed(world, "partners", ESA, esa).content)
    assert sorted(events) == sorted(wanted["esa"])
    assert sorted(_events(_feed(world, "partners", NASA, nasa).content)) == sorted(wanted["nasa"])
    status = {uid: str(e["status"]) for uid, e in events.items()}
    assert status[contact_uid(first)] == "CONFIRMED"
    assert status[contact_uid(second)] == "CANCELLED"
    assert {
        s for uid, s in status.items() if uid not in (contact_uid(first), contact_uid(second))
    } == {"TENTATIVE"}
    # A week on, the day's contacts have all left the feed.
    world.clock.now = NOW + timedelta(days=8, hours=12)
    assert _events(_feed(world, "partners", ESA, esa).content) == {}


def _feasible(contacts: list[dict[str, Any]]) -> None:
    """Turnaround per station, one link per satellite, among the live contacts."""
    live = [c for c in contacts if c["state"] not in ("failed", "cancelled")]
    for key, gap_s in (("station_id", TURNAROUND_S), ("satellite_id", 0.0)):
        spans: dict[int, list[tuple[datetime, datetime]]] = {}
        for c in live:
            spans.setdefault(c[key], []).append((utc(c["start"]), utc(c["end"])))
        for group in spans.values():
            group.sort()
            for (_, end), (start, _) in pairwise(group):
                assert (start - end).total_seconds() >= gap_s


def _pass(c: dict[str, Any]) -> tuple[int, int, str]:
    return (c["satellite_id"], c["station_id"], c["start"])


def test_a_failure_re_plans_around_the_failed_pass_keeping_the_rest(world: World) -> None:
    old = world.schedule
    done, running = world.contacts(after=False)[:2]  # before noon
    confirmed, failing = [c for c in world.contacts(after=True) if c["station_id"] != WALLOPS][:2]
    station = bearer(world.token("admin", kind="station", station_id=done["station_id"]))
    for c, moves in ((done, ("start", "end")), (running, ("start",))):
        for event in moves:
            at = c["start"] if event == "start" else c["end"]
            answer = world.post(
                "admin" if c["station_id"] != done["station_id"] else station,
                f"/contacts/{c['id']}/report",
                {"event": event, "at": at},
            )
            assert answer.status_code == 200, answer.text
    world.post("esa-ops", f"/contacts/{confirmed['id']}/confirm")
    failed = world.post(
        "esa-ops",
        f"/contacts/{failing['id']}/report",
        {"event": "failed", "reason": "LNA fault", "time_limit_s": 20},
    )
    assert failed.status_code == 200, failed.text
    assert failed.json()["contact"]["state"] == "failed"
    new_id = failed.json()["replanned_schedule_id"]
    assert new_id is not None
    new = world.get("admin", f"/schedules/{new_id}").json()
    assert new["replaces_id"] == old["id"]
    _feasible(new["contacts"])
    by_pass = {_pass(c): c for c in new["contacts"]}
    # The failed contact is carried, failed; its pass is not used again by its satellite.
    assert by_pass[_pass(failing)]["state"] == "failed"
    assert by_pass[_pass(failing)]["id"] != failing["id"]
    assert [c for c in new["contacts"] if _pass(c) == _pass(failing)] == [by_pass[_pass(failing)]]
    # The past is kept with what the stations reported; a confirmed contact kept stays confirmed.
    assert (by_pass[_pass(done)]["state"], by_pass[_pass(running)]["state"]) == (
        "completed",
        "executing",
    )
    for c in world.contacts(after=False):
        assert _pass(c) in by_pass
    assert by_pass[_pass(confirmed)]["state"] == "confirmed"  # kept in this world
    # Of the later contacts, those changed are as few as the re-plan says (its last level).
    before = {_pass(c) for c in world.contacts(after=True)} - {_pass(failing)}
    after = {_pass(c) for c in new["contacts"] if utc(c["start"]) > NOW and c["state"] != "failed"}
    assert len(before ^ after) == new["levels"][-1]["value"]
    assert len(before ^ after) <= 4  # one pass lost: a few swaps at most, not a new schedule
    # The old schedule's contact, acted on, acts on its newest version.
    again = world.post("esa-ops", f"/contacts/{failing['id']}/report", {"event": "start"})
    assert again.status_code == 409
    cancelled = world.post("esa-ops", f"/contacts/{confirmed['id']}/cancel").json()["contact"]
    assert cancelled["id"] == by_pass[_pass(confirmed)]["id"]
    assert cancelled["schedule_id"] == new_id


def test_the_tally_is_planned_against_delivered(world: World) -> None:
    satellites = {s["id"]: s for s in world.get("admin", "/satellites").json()}
    contacts = world.contacts()
    past = world.contacts(after=False)
    future = [c for c in world.contacts(after=True) if c["station_id"] != WALLOPS]
    world.clock.now = NOW + timedelta(hours=13)  # 01:00 the next day: every contact is over
    reports: dict[int, dict[str, Any]] = {}
    for i, c in enumerate(past):  # every other one delivered, with bytes
        if i % 2 == 0:
            start = utc(c["start"]) + timedelta(seconds=10)
            world.post(
                "admin", f"/contacts/{c['id']}/report", {"event": "start", "at": start.isoformat()}
            )
            world.post(
                "admin",
                f"/contacts/{c['id']}/report",
                {"event": "end", "at": c["end"], "bytes_received": 1000 * (i + 1)},
            )
            reports[c["id"]] = {
                "state": "completed",
                "s": (utc(c["end"]) - start).total_seconds(),
                "bytes": 1000 * (i + 1),
            }
    world.post("esa-ops", f"/contacts/{future[0]['id']}/cancel")
    reports[future[0]["id"]] = {"state": "cancelled"}
    # A failure with no re-plan possible now (past the schedule's window: nothing to solve) is kept.
    failing = future[1]
    answer = world.post(
        "esa-ops",
        f"/contacts/{failing['id']}/report",
        {"event": "failed", "reason": "rain", "time_limit_s": 5},
    )
    assert answer.status_code == 200, answer.text
    reports[failing["id"]] = {"state": "failed"}
    schedule_id = answer.json()["replanned_schedule_id"] or world.schedule["id"]
    for partner, who in ((ESA, "esa-view"), (NASA, "nasa-ops")):
        got = world.get(who, "/contacts/tally", partner_id=partner, schedule_id=schedule_id).json()
        wanted = {"planned": 0, "delivered": 0, "failed": 0, "cancelled": 0, "pending": 0}
        planned_s = delivered_s = delivered_bytes = 0.0
        for c in contacts:
            share = float(satellites[c["satellite_id"]]["operators"].get(str(partner), 0.0))
            if str(partner) not in satellites[c["satellite_id"]]["operators"]:
                continue
            state = reports.get(c["id"], {"state": "scheduled"})
            span = (utc(c["end"]) - utc(c["start"])).total_seconds()
            if state["state"] == "cancelled":
                wanted["cancelled"] += 1
                continue
            wanted["planned"] += 1
            planned_s += share * span
            if state["state"] == "completed":
                wanted["delivered"] += 1
                delivered_s += share * state["s"]
                delivered_bytes += share * state["bytes"]
            elif state["state"] == "failed":
                wanted["failed"] += 1
            else:
                wanted["pending"] += 1
        assert {k: got[f"{k}_contacts"] for k in wanted} == wanted, partner
        assert got["planned_s"] == pytest.approx(planned_s, abs=1e-3)  # seconds
        assert got["delivered_s"] == pytest.approx(delivered_s, abs=1e-3)
        assert got["delivered_bytes"] == pytest.approx(delivered_bytes, abs=1e-6)
    assert world.get("esa-view", "/contacts/tally", partner_id=NASA).status_code == 404
    assert world.get("admin", "/contacts/tally", partner_id=NASA).status_code == 200


def test_a_failure_in_a_schedule_not_ours_to_re_plan_is_kept_unplanned(world: World) -> None:
    """Another agency's schedule (imported, no policy of ours) is not re-planned: said why."""
    with world.consortium.session() as session:
        record = session.get(ScheduleRecord, world.schedule["id"])
        assert record is not None
        record.policy = "imported"
    contact = world.contacts(MALARGUE, after=True)[0]
    body = {"event": "failed", "reason": "no lock"}
    answer = world.post("esa-ops", f"/contacts/{contact['id']}/report", body).json()
    assert answer["contact"]["state"] == "failed"
    assert answer["replanned_schedule_id"] is None
    assert "'imported' is not re-planned" in answer["replan_problem"]
