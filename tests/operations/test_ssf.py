"""The CCSDS Simple Schedule Format: what is written reads back the same, bad input is named.

Oracles: the round trip (export then import gives the same contacts, times to the
millisecond), the calendar (day-of-year code B against ``datetime``'s own day count),
and the element paths a malformed message's errors must name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jointsat.errors import SsfError
from jointsat.operations.ssf import (
    NAMESPACE,
    SsfActivity,
    SsfMessage,
    activities_of,
    format_time,
    parse_time,
    read_ssf,
    write_ssf,
)

START = datetime(2026, 5, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def _message(activities: tuple[SsfActivity, ...]) -> SsfMessage:
    return SsfMessage("JOINTSAT", START, START, START + timedelta(days=7), activities, "12")


def _contacts() -> tuple[SsfActivity, ...]:
    h = timedelta(hours=1)
    return activities_of(
        [
            ("12-1", "ISS (ZARYA)", 25544, "Kiruna", START + h + MS / 1000, START + 69 * h / 60),
            (
                "12-2",
                "NOAA 19",
                33591,
                "Svalbard",
                START + 2 * h,
                START + 2 * h + 843.25 * 1000 * MS,
            ),
            ("12-3", "ISS (ZARYA)", 25544, "Svalbard", START + 3 * h, START + 185 * h / 60),
        ]
    )


def _rounded(moment: datetime) -> datetime:
    return moment.replace(microsecond=0) + timedelta(milliseconds=round(moment.microsecond / 1000))


def test_export_then_import_gives_the_same_contacts() -> None:
    sent = _message(_contacts())
    got = read_ssf(write_ssf(sent))
    assert (got.originator, got.version, got.start, got.end) == (
        "JOINTSAT",
        "12",
        sent.start,
        sent.end,
    )
    key = lambda a: a.activity_id  # noqa: E731
    assert len(got.activities) == 3
    for a, b in zip(sorted(sent.activities, key=key), sorted(got.activities, key=key), strict=True):
        assert (b.norad_id, b.spacecraft, b.site, b.aperture) == (
            a.norad_id,
            a.spacecraft,
            a.site,
            a.site,
        )
        assert abs(b.start - a.start) <= MS / 2
        assert abs(b.end - a.end) <= MS / 2
        assert (b.start, b.end) == (_rounded(a.start), _rounded(a.end))


def test_the_message_has_the_ssf_structure() -> None:
    root = ET.fromstring(write_ssf(_message(_contacts())))
    ns = {"s": NAMESPACE}
    assert root.tag == f"{{{NAMESPACE}}}simpleSchedule"
    header = root.find("s:simpleScheduleHeader", ns)
    assert header is not None
    assert header.get("startTime") == "2026-121T00:00:00.000Z"
    packages = root.findall("s:scheduledPackage", ns)
    # One package per spacecraft, each activity in its spacecraft's package.
    assert [p.get("scheduledPackageId") for p in packages] == ["NORAD-25544", "NORAD-33591"]
    assert [len(p.findall("s:scheduledActivity", ns)) for p in packages] == [2, 1]


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1958, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive)
        max_value=datetime(2199, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_times_read_back_to_the_millisecond(moment: datetime) -> None:
    text = format_time(moment)
    # Code B: the day of year is the calendar's own count.
    rounded = _rounded(moment)
    assert text.startswith(f"{rounded.year:04d}-{rounded.timetuple().tm_yday:03d}T")
    assert parse_time(text, "t") == rounded
    assert abs(parse_time(text, "t") - moment) <= MS / 2
    # Code A reads the same instant.
    assert parse_time(rounded.strftime("%Y-%m-%dT%H:%M:%S.%f"), "t") == rounded


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 99_999),
            st.sampled_from(["Kiruna", "Svalbard", "Malindi & <Co>", "Réunion"]),
            st.integers(0, 7 * 86_400_000 - 1),
            st.integers(1, 3_600_000),
        ),
        max_size=20,
    )
)
def test_any_contacts_round_trip(rows: list[tuple[int, str, int, int]]) -> None:
    sent = activities_of(
        [
            (f"a{k}", f"SAT {n}", n, station, START + t * MS, START + (t + length) * MS)
            for k, (n, station, t, length) in enumerate(rows)
        ]
    )
    text = write_ssf(_message(sent))
    got = {a.activity_id: a for a in read_ssf(text).activities}
    assert got == {a.activity_id: a for a in sent}
    ids = [p.get("scheduledPackageId") for p in ET.fromstring(text)]
    assert len(ids) == len(set(ids)) == 1 + len({n for n, *_ in rows})  # the header, a package each


TRACK = "2026-121T01:00:00.000Z"
END = "2026-121T01:09:00.000Z"


@pytest.mark.parametrize(
    ("old", "new", "where", "why"),
    [
        ('status="OPERATIONAL"', 'status="LIVE"', "Header/@status", "'LIVE' is none"),
        ('activityStatus="COMMITTED"', "", "Activity[1]/@activityStatus", "missing"),
        ('siteRef="Kiruna"', 'siteRef=" "', "Activity[1]/@siteRef", "missing or empty"),
        (END, "2026-121T00:59:00.000Z", "Activity[1]/@endOfTrack", "end after"),
        (TRACK, "2026-366T01:00:00.000Z", "@beginningOfTrack", "not a valid time"),
        (TRACK, "yesterday", "@beginningOfTrack", "not a CCSDS time"),
        ('value="25544"', 'value="-3"', "Parameter[1]/@value", "not a catalog number"),
        ('user="ISS (ZARYA)"', "", "scheduledPackage[1]/@user", "missing"),
    ],
)
def test_a_malformed_message_is_refused_naming_the_element(
    old: str, new: str, where: str, why: str
) -> None:
    text = write_ssf(_message(_contacts()[:1]))
    assert old in text
    with pytest.raises(SsfError, match=why) as caught:
        read_ssf(text.replace(old, new), source="in.xml")
    assert where in caught.value.location
    assert str(caught.value).startswith("in.xml /simpleSchedule")


def test_what_is_not_a_schedule_is_refused() -> None:
    with pytest.raises(SsfError, match="not well-formed"):
        read_ssf("<simpleSchedule>")
    with pytest.raises(SsfError, match="root element must be simpleSchedule"):
        read_ssf("<schedule/>")
    with pytest.raises(SsfError, match="exactly one simpleScheduleHeader"):
        read_ssf(f'<simpleSchedule xmlns="{NAMESPACE}"/>')
    twice = write_ssf(_message(_contacts()[:1])).replace(
        "</scheduledPackage>",
        '<scheduledActivity scheduledActivityId="12-1" activityStatus="COMMITTED" '
        'siteRef="K" apertureRef="K" beginningOfTrack="2026-122T00:00:00Z" '
        'endOfTrack="2026-122T00:10:00Z"/></scheduledPackage>',
    )
    with pytest.raises(SsfError, match="'12-1' appears twice"):
        read_ssf(twice)


def test_entities_are_refused_not_expanded() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><simpleSchedule>&b;</simpleSchedule>'
    )
    with pytest.raises(SsfError, match="DOCTYPE or ENTITY"):
        read_ssf(bomb)


def test_another_agencys_message_without_our_parameter_names_the_spacecraft() -> None:
    # No namespace, code A times without Z, set-up time around the track, service info:
    # what another network may send. The spacecraft is then its package's user.
    text = """<simpleSchedule>
      <simpleScheduleHeader originatingOrganization="ESA" generationTime="2026-04-30T10:00:00"
        status="PROVISIONAL" inclusionType="START_INCLUSION" version="3"
        startTime="2026-05-01T00:00:00" endTime="2026-05-02T00:00:00"/>
      <scheduledPackage scheduledPackageId="P1" user="SENTINEL-2A" comment="">
        <scheduledActivity scheduledActivityId="A1" activityStatus="TENTATIVE" siteRef="KIR"
          apertureRef="KIR-1" beginningOfActivity="2026-05-01T09:50:00"
          beginningOfTrack="2026-05-01T10:00:00.5" endOfTrack="2026-05-01T10:12:00"
          endOfActivity="2026-05-01T10:15:00">
          <serviceInfo serviceType="TELEMETRY" frequencyBand="X-NE"/>
        </scheduledActivity>
      </scheduledPackage>
    </simpleSchedule>"""
    got = read_ssf(text)
    (a,) = got.activities
    assert (got.originator, got.version, got.status.value) == ("ESA", "3", "PROVISIONAL")
    assert (a.spacecraft, a.norad_id, a.site, a.aperture, a.status.value) == (
        "SENTINEL-2A", None, "KIR", "KIR-1", "TENTATIVE"
    )  # fmt: skip
    assert a.start == datetime(2026, 5, 1, 10, 0, 0, 500_000, tzinfo=UTC)
