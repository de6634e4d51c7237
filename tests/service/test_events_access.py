"""Check events against the access rules: every user x event, through the rule, the list
and the stream.

The expected cells are written here from the issue's rules, not from the service's
code: an event about a private station, a hidden satellite or an embargoed product
never reaches another partner; a partner's own matter reaches only that partner; the
admin sees every event; an event naming a row that is gone is the admin's alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from tests.support.consortium import NOW, Consortium

from jointsat.operations.events import EventKind
from jointsat.service.access import sees_event
from jointsat.store.deliveries import event_subjects
from jointsat.store.events import emit_releases, record_event
from jointsat.store.tables import (
    EventRecord,
    Product,
    ProductOwner,
    Role,
    User,
    Visibility,
)

EMBARGO_DAYS = 30
USERS = ("admin", "a-operator", "a-viewer", "b-operator")
# event name -> who sees it now (before the embargo passes)
EXPECTED = {
    "outage at A's private station": {"admin", "a-operator", "a-viewer"},
    "outage at B's station": set(USERS),
    "elements of C's hidden satellite": {"admin"},
    "elements of A's satellite": set(USERS),
    "A's embargoed product archived": {"admin", "a-operator", "a-viewer"},
    "A's analysis run finished": {"admin", "a-operator", "a-viewer"},
    "B's analysis run finished": {"admin", "b-operator"},
    "a schedule": set(USERS),
    "about a station that is gone": {"admin"},
    "B's product on C's hidden satellite": {"admin"},
}


class World(Consortium):
    """Partners A (private stations, 30-day embargo), B (open), C (private satellites)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.events: dict[str, int] = {}
        with self.session() as s:
            self.add_admin(s)
            a = self.add_partner(
                s,
                "a",
                0.4,
                agreement={
                    "station_visibility": Visibility.PRIVATE,
                    "embargo_days": EMBARGO_DAYS,
                },
            )
            b = self.add_partner(s, "b", 0.4, agreement={})
            c = self.add_partner(
                s, "c", 0.2, agreement={"satellite_visibility": Visibility.PRIVATE}
            )
            self.add_user(s, "a-operator", Role.OPERATOR, a)
            self.add_user(s, "a-viewer", Role.VIEWER, a)
            self.add_user(s, "b-operator", Role.OPERATOR, b)
            station_a = self.add_station(s, "a-private", a, 10.0, 20.0)
            station_b = self.add_station(s, "b-open", b, 11.0, 21.0)
            sat_a = self.add_satellite(s, "A-SAT", 90001, {a: 1.0})
            sat_c = self.add_satellite(s, "C-SAT", 90003, {c: 1.0})
            end = NOW - timedelta(days=1)
            product_a = self.product(s, "a" * 32, sat_a.id, [a.id], end, EMBARGO_DAYS)
            product_c = self.product(s, "c" * 32, sat_c.id, [b.id], end, 0)

            def add(name: str, kind: EventKind, **ids: Any) -> None:
                event = record_event(s, kind, at=NOW, payload={"name": name}, **ids)
                s.flush()
                self.events[name] = event.id

            add("outage at A's private station", EventKind.STATION_OUTAGE, station_id=station_a.id)
            add("outage at B's station", EventKind.STATION_OUTAGE, station_id=station_b.id)
            add(
                "elements of C's hidden satellite",
                EventKind.ELEMENTS_REFRESHED,
                satellite_id=sat_c.id,
            )
            add("elements of A's satellite", EventKind.ELEMENTS_REFRESHED, satellite_id=sat_a.id)
            add(
                "A's embargoed product archived",
                EventKind.PRODUCT_ARCHIVED,
                satellite_id=sat_a.id,
                product_id=product_a,
            )
            add("A's analysis run finished", EventKind.ANALYSIS_FINISHED, partner_id=a.id)
            add("B's analysis run finished", EventKind.ANALYSIS_FINISHED, partner_id=b.id)
            add("a schedule", EventKind.SCHEDULE_CREATED)
            add("about a station that is gone", EventKind.STATION_OUTAGE, station_id=999_999)
            add(
                "B's product on C's hidden satellite",
                EventKind.PRODUCT_ARCHIVED,
                satellite_id=sat_c.id,
                product_id=product_c,
            )

    @staticmethod
    def product(
        session: Any, ident: str, satellite_id: int, owners: list[int], end: Any, embargo: int
    ) -> str:
        # the embargo counts from the end of the acquisition (docs/archive.md)
        session.add(
            Product(
                id=ident,
                satellite_id=satellite_id,
                instrument="imager",
                processing_level="L1",
                acquired_start=end - timedelta(minutes=5),
                acquired_end=end,
                members_from=end + timedelta(days=embargo),
                public_from=None,
                ingested_at=NOW,
                owners=[ProductOwner(partner_id=p) for p in owners],
            )
        )
        session.flush()
        return ident

    def seen_by_rule(self, name: str, now: Any) -> set[str]:
        with self.session() as s:
            events = list(s.query(EventRecord).order_by(EventRecord.id))
            subjects = event_subjects(s, events)
            event = next(e for e in events if e.id == self.events[name])
            users = {u.name: u for u in s.query(User)}
            return {who for who in USERS if sees_event(users[who], event, subjects, now)}


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    made = World(store_url)
    yield made
    made.close()


def test_the_rule_gives_each_user_the_events_it_may_see(world: World) -> None:
    for name, seen in EXPECTED.items():
        assert world.seen_by_rule(name, NOW) == seen, name


def test_the_embargoed_product_reaches_other_members_once_released(world: World) -> None:
    name = "A's embargoed product archived"
    just_before = NOW + timedelta(days=EMBARGO_DAYS - 1) - timedelta(seconds=1)
    released = NOW + timedelta(days=EMBARGO_DAYS - 1)  # acquired a day before NOW
    assert "b-operator" not in world.seen_by_rule(name, just_before)
    assert world.seen_by_rule(name, released) == set(USERS)
    # and the release is told once, at its time, to those who see it then
    with world.session() as s:
        assert emit_releases(s, just_before) == 0
        assert emit_releases(s, released) == 1
    with world.session() as s:
        assert emit_releases(s, released + timedelta(days=1)) == 0
        told = s.query(EventRecord).filter_by(kind=EventKind.PRODUCT_RELEASED.value).one()
        assert told.product_id == "a" * 32
        assert told.payload["release"] == "members"
        assert told.at == released


def _names(world: World, ids: list[int]) -> set[str]:
    by_id = {v: k for k, v in world.events.items()}
    return {by_id[i] for i in ids}


@pytest.mark.parametrize("who", USERS)
def test_the_list_and_the_stream_hold_only_what_the_user_may_see(world: World, who: str) -> None:
    client = world.serve()
    expected = {name for name, seen in EXPECTED.items() if who in seen}
    listed = client.get("/api/v1/events", headers=world.headers(who))
    assert listed.status_code == 200, listed.text
    assert _names(world, [e["id"] for e in listed.json()]) == expected
    streamed = client.get(
        "/api/v1/events/stream", params={"after": 0, "once": True}, headers=world.headers(who)
    )
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in streamed.text.split("\n\n") if f.startswith("id: ")]
    ids = [int(f.split("\n")[0].removeprefix("id: ")) for f in frames]
    assert ids == sorted(ids)
    assert _names(world, ids) == expected
    for frame in frames:
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        data = json.loads(lines["data"])
        assert data["id"] == int(lines["id"])
        assert data["kind"] == lines["event"]


def test_the_stream_resumes_after_last_event_id(world: World) -> None:
    client = world.serve()
    mark = world.events["elements of A's satellite"]
    headers = {**world.headers("b-operator"), "Last-Event-ID": str(mark)}
    streamed = client.get("/api/v1/events/stream", params={"once": True}, headers=headers)
    ids = [
        int(line.removeprefix("id: "))
        for line in streamed.text.split("\n")
        if line.startswith("id: ")
    ]
    expected = {
        n for n, seen in EXPECTED.items() if "b-operator" in seen and world.events[n] > mark
    }
    assert _names(world, ids) == expected
    assert expected  # the schedule and B's run come after the mark


def test_kinds_filter_the_list_and_an_unknown_kind_is_refused(world: World) -> None:
    client = world.serve()
    found = client.get(
        "/api/v1/events", params={"kind": "station.outage"}, headers=world.headers("admin")
    )
    assert {e["kind"] for e in found.json()} == {"station.outage"}
    assert len(found.json()) == 3
    refused = client.get("/api/v1/events", params={"kind": "nope"}, headers=world.headers("admin"))
    assert refused.status_code == 422
    assert "nope" in refused.text
    assert client.get("/api/v1/events").status_code == 401


def _listed(client: Any, headers: dict[str, str], **params: Any) -> list[int]:
    answer = client.get("/api/v1/events", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return [e["id"] for e in answer.json()]


def _hide_many(world: World, count: int) -> None:
    """Record ``count`` events about C's hidden satellite (the admin's alone), newest of all."""
    with world.session() as s:
        hidden = s.get(EventRecord, world.events["elements of C's hidden satellite"])
        assert hidden is not None
        for k in range(count):
            record_event(
                s,
                EventKind.ELEMENTS_REFRESHED,
                at=NOW,
                payload={"n": k},
                satellite_id=hidden.satellite_id,
            )
        s.commit()


@pytest.mark.parametrize("who", USERS)
def test_the_newest_n_are_the_last_n_of_the_full_list_for_each_user(world: World, who: str) -> None:
    # More hidden events than one read of the store (100 rows) come last: a page of the
    # newest must still hold N events the user sees, not N rows filtered afterwards.
    _hide_many(world, 250)
    client = world.serve()
    headers = world.headers(who)
    full = _listed(client, headers, limit=1000)  # oldest first: the reference
    assert _names(world, [i for i in full if i in world.events.values()]) == {
        name for name, seen in EXPECTED.items() if who in seen
    }
    for n in sorted({*range(1, 13), len(full) - 1, len(full), len(full) + 1} - {0}):
        newest = _listed(client, headers, order="newest", limit=n)
        assert newest == full[::-1][:n], n
    # Paging back with before= the last id read walks the whole list, newest first.
    walked: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"order": "newest", "limit": 3}
        if before is not None:
            params["before"] = before
        page = _listed(client, headers, **params)
        if not page:
            break
        assert len(page) <= 3
        walked.extend(page)
        before = page[-1]
    assert walked == full[::-1]
    # after= bounds the newest from below; oldest first takes before= as well.
    if len(full) >= 3:
        middle = full[len(full) // 2]
        assert _listed(client, headers, order="newest", after=middle, limit=1000) == [
            i for i in full[::-1] if i > middle
        ]
        assert _listed(client, headers, before=middle, limit=1000) == [
            i for i in full if i < middle
        ]
    refused = client.get("/api/v1/events", params={"order": "sideways"}, headers=headers)
    assert refused.status_code == 422
