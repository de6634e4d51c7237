"""Export a schedule's contacts (iCalendar, CSV) and passes (CSV) under each caller's rights.

Every file is read back by an independent parser (``icalendar``, the ``csv`` module)
and compared, row by row, with the JSON the same caller gets; what each caller may
get is written from the access rules (tests/service/test_access_matrix.py), not taken
from the service: every member exports the contacts it may see of any schedule, a
station hidden from it is a 404 as in the JSON, the public (no token) gets a 401.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from icalendar import Calendar
from tests.service.test_access_matrix import World
from tests.support.consortium import PUBLIC

from jointsat.store.tables import Partner, Role, Visibility
from jointsat.timelib import parse_iso

# Callers: the admin, an operator and a viewer of "own", a viewer of "consortium" (another
# partner) and one of "private" (whose satellite and stations others may not see).
CALLERS = ("admin", "operator", "viewer", "consortium-viewer", "private-viewer")
WINDOW = {"start": "2024-05-10T00:00:00Z", "end": "2024-05-10T06:00:00Z"}


class ExportWorld(World):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        with self.session() as session:
            for code in ("consortium", "private"):
                partner = session.get_one(Partner, self.partner[code])
                self.add_user(session, f"{code}-viewer", Role.VIEWER, partner)
            private = session.get_one(Partner, self.partner["private"])
            private.agreement.station_visibility = Visibility.PRIVATE  # type: ignore[union-attr]

    def get(self, who: str, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers(who))

    def json(self, who: str, path: str, **params: Any) -> Any:
        answer = self.get(who, path, **params)
        assert answer.status_code == 200, (who, path, answer.text)
        return answer.json()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, new_sqlite_store: Callable[[Path], str]
) -> Iterator[ExportWorld]:
    """One world for the module (a schedule takes seconds to solve): the tests only read."""
    made = ExportWorld(new_sqlite_store(tmp_path_factory.mktemp("exports")))
    yield made
    made.close()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def as_cell(value: Any) -> str:
    """Return how a JSON value reads in CSV (the rule docs/dashboard.md states)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expected_contacts(
    world: ExportWorld, who: str, station_id: int | None = None, partner_id: int | None = None
) -> list[dict[str, Any]]:
    """The JSON contacts of the schedule, filtered here from the caller's own lists."""
    schedule = world.json(who, f"/api/v1/schedules/{world.schedule}")
    stations = {s["id"]: s for s in world.json(who, "/api/v1/stations")}
    satellites = {s["id"]: s for s in world.json(who, "/api/v1/satellites")}
    kept = []
    for c in schedule["contacts"]:
        # Nothing the caller may not see: the station and the satellite are in its lists.
        assert c["station_id"] in stations
        assert c["satellite_id"] in satellites
        if station_id is not None and c["station_id"] != station_id:
            continue
        operators = {int(p) for p in satellites[c["satellite_id"]]["operators"]}
        if partner_id is not None and not (
            stations[c["station_id"]]["partner_id"] == partner_id or partner_id in operators
        ):
            continue
        kept.append(c)
    return sorted(kept, key=lambda c: (c["start"], c["station_id"], c["satellite_id"]))


def check_calendar(
    world: ExportWorld, who: str, text: bytes, contacts: list[dict[str, Any]]
) -> None:
    calendar = Calendar.from_ical(text)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == len(contacts)
    satellites = {s["id"]: s for s in world.json(who, "/api/v1/satellites")}
    codes = {p["id"]: p["code"] for p in world.json(who, "/api/v1/partners")}
    uids = set()
    for event, contact in zip(events, contacts, strict=True):
        # Whole seconds, covering the contact: the start down, the end up.
        start, end = utc(contact["start"]), utc(contact["end"])
        assert event.decoded("dtstart") == start.replace(microsecond=0)
        assert timedelta(0) <= event.decoded("dtend") - end < timedelta(seconds=1)
        assert event.decoded("dtend").microsecond == 0
        assert event.decoded("dtstart").utcoffset().total_seconds() == 0
        operators = [codes[int(p)] for p in satellites[contact["satellite_id"]]["operators"]]
        summary = str(event["summary"])
        assert summary.startswith(f"{contact['satellite']} over {contact['station']} for ")
        assert set(summary.rsplit(" for ", 1)[1].split(", ")) == set(operators)
        assert str(event["location"]) == contact["station"]
        assert f"max elevation {contact['max_elevation_deg']:.1f} deg" in str(event["description"])
        uids.add(str(event["uid"]))
    assert len(uids) == len(events)  # one UID per contact


def check_csv(text: str, contacts: list[dict[str, Any]]) -> None:
    rows = rows_of(text)
    assert len(rows) == len(contacts)
    for row, contact in zip(rows, contacts, strict=True):
        assert set(row) == set(contact)
        assert row == {k: as_cell(v) for k, v in contact.items()}


@pytest.mark.parametrize("who", CALLERS)
def test_the_contacts_files_hold_exactly_the_callers_json_contacts(
    world: ExportWorld, who: str
) -> None:
    base = f"/api/v1/schedules/{world.schedule}/contacts"
    contacts = expected_contacts(world, who)
    if who in ("admin", "operator"):
        assert contacts  # the comparison below has something to compare
    private = {c["satellite"] == "private-sat" for c in contacts}
    # The private partner's contacts exist and reach only the admin and its own users.
    assert (True in private) == (who in ("admin", "private-viewer"))
    ics = world.get(who, base + ".ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "attachment" in ics.headers["content-disposition"]
    check_calendar(world, who, ics.content, contacts)
    answer = world.get(who, base + ".csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    check_csv(answer.text, contacts)
    # The same UID for the same contact in every file it is in (whoever downloads it).
    if who == "admin":
        everyone = {str(e["uid"]) for e in Calendar.from_ical(ics.content).walk("VEVENT")}
        for other in CALLERS[1:]:
            theirs = world.get(other, base + ".ics").content
            assert {str(e["uid"]) for e in Calendar.from_ical(theirs).walk("VEVENT")} <= everyone


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("owner", ["own", "consortium", "private"])
def test_the_filters_by_station_and_partner_keep_the_rules(
    world: ExportWorld, who: str, owner: str
) -> None:
    base = f"/api/v1/schedules/{world.schedule}/contacts"
    station, partner = world.station[owner], world.partner[owner]
    hidden = owner == "private" and who not in ("admin", "private-viewer")
    for suffix in (".ics", ".csv"):
        by_station = world.get(who, base + suffix, station_id=station)
        assert by_station.status_code == (404 if hidden else 200), (who, owner, suffix)
        by_partner = world.get(who, base + suffix, partner_id=partner)
        assert by_partner.status_code == 200  # partners are known to every member
    if not hidden:
        wanted = expected_contacts(world, who, station_id=station)
        got = world.get(who, base + ".ics", station_id=station).content
        check_calendar(world, who, got, wanted)
    wanted = expected_contacts(world, who, partner_id=partner)
    check_csv(world.get(who, base + ".csv", partner_id=partner).text, wanted)
    check_calendar(world, who, world.get(who, base + ".ics", partner_id=partner).content, wanted)


def test_the_public_and_unknown_schedules_get_nothing(world: ExportWorld) -> None:
    base = f"/api/v1/schedules/{world.schedule}/contacts"
    for suffix in (".ics", ".csv"):
        assert world.get(PUBLIC, base + suffix).status_code == 401
        assert world.get("admin", f"/api/v1/schedules/999999/contacts{suffix}").status_code == 404
        assert world.get("viewer", base + suffix, partner_id=999999).status_code == 404
    for format in ("csv", "parquet"):
        assert world.get(PUBLIC, "/api/v1/passes", **WINDOW, format=format).status_code == 401


def _passes_file(world: ExportWorld, who: str, format: str, media_type: str) -> list[Any]:
    """Return the window's passes asked as a file both ways: ``format=`` and ``Accept``."""
    return [
        world.get(who, "/api/v1/passes", **WINDOW, format=format),
        world.client.get(
            "/api/v1/passes", params=WINDOW, headers={**world.headers(who), "Accept": media_type}
        ),
    ]


@pytest.mark.parametrize("who", CALLERS)
def test_passes_as_csv_are_the_json_passes(world: ExportWorld, who: str) -> None:
    passes = world.json(who, "/api/v1/passes", **WINDOW)
    if who == "admin":
        assert passes
    for answer in _passes_file(world, who, "csv", "text/csv"):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        check_csv(answer.text, passes)
    json_again = world.get(who, "/api/v1/passes", **WINDOW, format="json")
    assert json_again.json() == passes


@pytest.mark.parametrize("who", CALLERS)
def test_passes_as_parquet_are_the_json_passes(world: ExportWorld, who: str) -> None:
    passes = world.json(who, "/api/v1/passes", **WINDOW)
    if who == "admin":
        assert passes
    for answer in _passes_file(world, who, "parquet", "application/vnd.apache.parquet"):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/vnd.apache.parquet"
        table = pq.read_table(io.BytesIO(answer.content))
        if passes:
            assert table.column_names == list(passes[0])
        assert table.num_rows == len(passes)
        for row, expected in zip(table.to_pylist(), passes, strict=True):
            for key, value in expected.items():
                if key in ("aos", "tca", "los"):
                    assert row[key] == parse_iso(value), key
                else:
                    assert row[key] == value, key


@pytest.mark.parametrize("who", CALLERS)
def test_passes_as_icalendar_are_the_json_passes_filtered_by_elevation(
    world: ExportWorld, who: str
) -> None:
    passes = world.json(who, "/api/v1/passes", **WINDOW)
    high = [p for p in passes if p["max_elevation_deg"] >= 30.0]
    if who == "admin":
        assert 0 < len(high) < len(passes)  # the filter has something to leave out
    filtered = world.json(who, "/api/v1/passes", **WINDOW, min_max_elevation_deg=30)
    assert filtered == high
    check_csv(
        world.get(who, "/api/v1/passes", **WINDOW, format="csv", min_max_elevation_deg=30).text,
        high,
    )
    answer = world.get(who, "/api/v1/passes", **WINDOW, format="ics", min_max_elevation_deg=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    events = list(Calendar.from_ical(answer.content).walk("VEVENT"))
    assert len(events) == len(high)
    for event, row in zip(events, high, strict=True):
        assert event.decoded("dtstart") == utc(row["aos"]).replace(microsecond=0)
        assert timedelta(0) <= event.decoded("dtend") - utc(row["los"]) < timedelta(seconds=1)
        assert str(event["summary"]) == f"{row['satellite']} over {row['station']}"
        assert str(event["location"]) == row["station"]
        description = str(event["description"])
        assert f"max elevation {row['max_elevation_deg']:.1f} deg" in description
        assert f"AOS {row['aos_azimuth_deg']:.1f} deg" in description
        assert f"LOS {row['los_azimuth_deg']:.1f} deg" in description
        assert ("truncated" in description) == row["truncated"]
    assert len({str(e["uid"]) for e in events}) == len(events)
