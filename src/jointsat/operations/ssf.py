"""Write and read schedules in the CCSDS Simple Schedule Format (CCSDS 902.1-B-1).

The Simple Schedule Format (SSF) is how ESA's ESTRACK and other agencies' networks
exchange a station's booked contacts. No maintained Python library writes it and the
blue book's XSD is not at hand offline, so this module writes the structure that
published SSF producers write (namespace ``urn:ccsds:schema:cssm:1.0.0``, schema file
``902x01b1TC1-SmplSchd.xsd``) and reads it back, checking every element it uses. The
elements and attributes, as this module maps them::

    <simpleSchedule xmlns="urn:ccsds:schema:cssm:1.0.0" srvMgtEntityType="SIMPLE_SCHEDULE">
      <simpleScheduleHeader
          originatingOrganization="..."   the originator (our consortium, or the agency)
          generationTime="..."            when the message was written
          status="OPERATIONAL"            TEST | PROVISIONAL | OPERATIONAL | OTHER
          inclusionType="START_INCLUSION" an activity belongs to the window it starts in
          version="1"                     the message's version (our schedule's id on export)
          startTime="..." endTime="..."/> the window the schedule covers
      <scheduledPackage                   one per spacecraft
          scheduledPackageId="NORAD-25544" user="ISS (ZARYA)" comment="...">
        <scheduledActivity                one per contact
            scheduledActivityId="..."     unique in the message
            activityStatus="COMMITTED"    COMMITTED | TENTATIVE | AVAILABLE | UNAVAILABLE
            siteRef="Kiruna"              the station
            apertureRef="Kiruna"          its antenna (one per station here: its name)
            beginningOfTrack="..."        the contact's start (AOS)
            endOfTrack="...">             the contact's end (LOS)
          <unsignedIntParameter name="NORAD_CAT_ID" value="25544"/>
        </scheduledActivity>
      </scheduledPackage>
    </simpleSchedule>

Times are CCSDS ASCII time code B (day of year, ``2026-123T04:05:06.789Z``) on
export, to the millisecond; on import code A (``2026-05-03T04:05:06.789Z``) is read
too, and a time without ``Z`` is UTC. ``beginningOfActivity``/``endOfActivity``
(set-up and tear-down around the track) are read when present and otherwise equal
the track. The spacecraft of an activity is its ``NORAD_CAT_ID`` parameter when it
has one, else its package's ``user`` (a name).

Reading untrusted XML: Python's expat parser never fetches external entities; a
message with a DOCTYPE (where entities would be declared) is refused outright, so no
entity is expanded. Pure: a string in, a string out, no files or clock.
"""

from __future__ import annotations

import enum
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jointsat.errors import SsfError

NAMESPACE = "urn:ccsds:schema:cssm:1.0.0"
SCHEMA_LOCATION = f"{NAMESPACE} 902x01b1TC1-SmplSchd.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NORAD_PARAMETER = "NORAD_CAT_ID"
MEDIA_TYPE = "application/xml"
MAX_ACTIVITIES = 100_000  # a message's contacts: refused beyond (a year of a large network)

ET.register_namespace("", NAMESPACE)  # our messages' elements carry no prefix

_TIME = re.compile(
    r"(?P<year>\d{4})-(?:(?P<month>\d\d)-(?P<day>\d\d)|(?P<doy>\d{3}))"
    r"T(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)(?:\.(?P<fraction>\d{1,9}))?Z?"
)


class ScheduleStatus(enum.StrEnum):
    """Say what a schedule message is for (the header's ``status``)."""

    TEST = "TEST"
    PROVISIONAL = "PROVISIONAL"
    OPERATIONAL = "OPERATIONAL"
    OTHER = "OTHER"


class ActivityStatus(enum.StrEnum):
    """Say how firm an activity is (``activityStatus``)."""

    COMMITTED = "COMMITTED"
    TENTATIVE = "TENTATIVE"
    AVAILABLE = "AVAILABLE"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class SsfActivity:
    """A scheduled activity: a spacecraft's contact at a station's aperture.

    ``norad_id`` is None when the message names the spacecraft only by ``spacecraft``
    (its package's ``user``). ``start``/``end`` are the track (AOS to LOS), aware UTC.
    """

    activity_id: str
    spacecraft: str
    norad_id: int | None
    site: str
    aperture: str
    start: datetime
    end: datetime
    status: ActivityStatus = ActivityStatus.COMMITTED


@dataclass(frozen=True)
class SsfMessage:
    """A Simple Schedule message: who wrote it, when, for which window, and its activities."""

    originator: str
    generated_at: datetime
    start: datetime
    end: datetime
    activities: tuple[SsfActivity, ...]
    version: str = "1"
    status: ScheduleStatus = ScheduleStatus.OPERATIONAL


def format_time(moment: datetime) -> str:
    """Return a time as CCSDS ASCII time code B (day of year), to the millisecond, with Z."""
    utc = _to_ms(moment)
    return f"{utc:%Y-%jT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _to_ms(moment: datetime) -> datetime:
    """Return the time in UTC rounded to the nearest millisecond."""
    utc = moment.astimezone(UTC)
    micro = utc.microsecond
    return utc.replace(microsecond=0) + timedelta(milliseconds=round(micro / 1000))


def parse_time(text: str, where: str) -> datetime:
    """Return a CCSDS ASCII time (code A or B, ``Z`` or no zone: UTC) as aware UTC."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise SsfError(
            f"{text!r} is not a CCSDS time such as 2026-123T04:05:06.789Z", location=where
        )
    g = match.groupdict()
    fraction = (g["fraction"] or "0").ljust(6, "0")[:6]
    try:
        if g["doy"] is not None:
            day = datetime(int(g["year"]), 1, 1, tzinfo=UTC) + timedelta(days=int(g["doy"]) - 1)
            if day.year != int(g["year"]) or int(g["doy"]) < 1:
                raise ValueError("day of year out of range")
        else:
            day = datetime(int(g["year"]), int(g["month"]), int(g["day"]), tzinfo=UTC)
        return day.replace(
            hour=int(g["hour"]),
            minute=int(g["minute"]),
            second=int(g["second"]),
            microsecond=int(fraction),
        )
    except (ValueError, OverflowError) as exc:
        raise SsfError(f"{text!r} is not a valid time ({exc})", location=where) from None


def write_ssf(message: SsfMessage) -> str:
    """Return the message as SSF XML: one package per spacecraft, in order of first contact."""
    q = _qualified
    root = ET.Element(
        q("simpleSchedule"),
        {f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION, "srvMgtEntityType": "SIMPLE_SCHEDULE"},
    )
    ET.SubElement(
        root,
        q("simpleScheduleHeader"),
        {
            "originatingOrganization": message.originator,
            "generationTime": format_time(message.generated_at),
            "status": message.status.value,
            "inclusionType": "START_INCLUSION",
            "version": message.version,
            "startTime": format_time(message.start),
            "endTime": format_time(message.end),
        },
    )
    packages: dict[str, list[SsfActivity]] = {}  # by package id: catalog number, else name
    for a in sorted(message.activities, key=lambda a: (a.start, a.site, a.activity_id)):
        packages.setdefault(_package_id(a.norad_id, a.spacecraft), []).append(a)
    for package_id, activities in packages.items():
        package = ET.SubElement(
            root,
            q("scheduledPackage"),
            {
                "scheduledPackageId": package_id,
                "user": activities[0].spacecraft,
                "comment": f"{len(activities)} contact(s)",
            },
        )
        for a in activities:
            activity = ET.SubElement(
                package,
                q("scheduledActivity"),
                {
                    "scheduledActivityId": a.activity_id,
                    "activityStatus": a.status.value,
                    "siteRef": a.site,
                    "apertureRef": a.aperture,
                    "beginningOfTrack": format_time(a.start),
                    "endOfTrack": format_time(a.end),
                },
            )
            if a.norad_id is not None:
                ET.SubElement(
                    activity,
                    q("unsignedIntParameter"),
                    {"name": NORAD_PARAMETER, "value": str(a.norad_id)},
                )
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _package_id(norad_id: int | None, spacecraft: str) -> str:
    return f"NORAD-{norad_id}" if norad_id is not None else spacecraft


def _qualified(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


def message_sha256(text: str) -> str:
    """Return the SHA-256 of a message's text (UTF-8), for an import's provenance."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_ssf(text: str, *, source: str = "<string>") -> SsfMessage:
    """Read an SSF message; :class:`SsfError` names the element path of what is wrong.

    Elements may be in the SSF namespace or in none. Unknown elements and attributes
    are ignored (SSF lets networks extend it); what this module maps must be there
    and well formed, activity ids unique, each track's end after its start.
    """
    if re.search(r"<!DOCTYPE|<!ENTITY", text, re.IGNORECASE):
        raise SsfError("a DOCTYPE or ENTITY declaration is refused in SSF", source=source)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SsfError(f"not well-formed XML ({exc})", source=source) from None
    reader = _Reader(source)
    if _local(root.tag) != "simpleSchedule":
        raise reader.error(f"/{_local(root.tag)}", "the root element must be simpleSchedule")
    headers = reader.children(root, "simpleScheduleHeader")
    if len(headers) != 1:
        raise reader.error("/simpleSchedule", "needs exactly one simpleScheduleHeader")
    header, hpath = headers[0], "/simpleSchedule/simpleScheduleHeader"
    status_text = reader.attribute(header, hpath, "status")
    try:
        status = ScheduleStatus(status_text)
    except ValueError:
        raise reader.error(
            f"{hpath}/@status", f"{status_text!r} is none of {', '.join(ScheduleStatus)}"
        ) from None
    start = reader.time(header, hpath, "startTime")
    end = reader.time(header, hpath, "endTime")
    if end <= start:
        raise reader.error(f"{hpath}/@endTime", "the schedule's end must be after its start")
    activities: list[SsfActivity] = []
    for i, package in enumerate(reader.children(root, "scheduledPackage"), 1):
        ppath = f"/simpleSchedule/scheduledPackage[{i}]"
        user = reader.attribute(package, ppath, "user")
        reader.attribute(package, ppath, "scheduledPackageId")
        for j, element in enumerate(reader.children(package, "scheduledActivity"), 1):
            activities.append(reader.activity(element, f"{ppath}/scheduledActivity[{j}]", user))
            if len(activities) > MAX_ACTIVITIES:
                raise reader.error("/simpleSchedule", f"holds over {MAX_ACTIVITIES:,} activities")
    seen: set[str] = set()
    for a in activities:
        if a.activity_id in seen:
            raise reader.error(
                "/simpleSchedule", f"scheduledActivityId {a.activity_id!r} appears twice"
            )
        seen.add(a.activity_id)
    return SsfMessage(
        originator=reader.attribute(header, hpath, "originatingOrganization"),
        generated_at=reader.time(header, hpath, "generationTime"),
        start=start,
        end=end,
        activities=tuple(activities),
        version=header.get("version", "1"),
        status=status,
    )


def _local(tag: str) -> str:
    """Return an element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


class _Reader:
    """Read the parts of a message, raising errors that name the element path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: str, reason: str) -> SsfError:
        return SsfError(reason, source=self.source, location=path)

    def children(self, parent: ET.Element, name: str) -> list[ET.Element]:
        return [c for c in parent if _local(c.tag) == name and _in_namespace(c.tag)]

    def attribute(self, element: ET.Element, path: str, name: str) -> str:
        value = element.get(name)
        if value is None or not value.strip():
            raise self.error(f"{path}/@{name}", "is missing or empty")
        return value.strip()

    def time(self, element: ET.Element, path: str, name: str) -> datetime:
        text = self.attribute(element, path, name)
        try:
            return parse_time(text, f"{path}/@{name}")
        except SsfError as exc:
            raise self.error(f"{path}/@{name}", exc.reason) from None

    def activity(self, element: ET.Element, path: str, user: str) -> SsfActivity:
        status_text = self.attribute(element, path, "activityStatus")
        try:
            status = ActivityStatus(status_text)
        except ValueError:
            raise self.error(
                f"{path}/@activityStatus",
                f"{status_text!r} is none of {', '.join(ActivityStatus)}",
            ) from None
        start = self.time(element, path, "beginningOfTrack")
        end = self.time(element, path, "endOfTrack")
        if end <= start:
            raise self.error(f"{path}/@endOfTrack", "the track must end after it begins")
        return SsfActivity(
            activity_id=self.attribute(element, path, "scheduledActivityId"),
            spacecraft=user,
            norad_id=self.norad_id(element, path),
            site=self.attribute(element, path, "siteRef"),
            aperture=self.attribute(element, path, "apertureRef"),
            start=start,
            end=end,
            status=status,
        )

    def norad_id(self, element: ET.Element, path: str) -> int | None:
        for k, p in enumerate(self.children(element, "unsignedIntParameter"), 1):
            if p.get("name") != NORAD_PARAMETER:
                continue
            where = f"{path}/unsignedIntParameter[{k}]"
            value = self.attribute(p, where, "value")
            if not value.isdigit() or not 0 < int(value) < 1_000_000_000:
                raise self.error(f"{where}/@value", f"{value!r} is not a catalog number")
            return int(value)
        return None


def _in_namespace(tag: str) -> bool:
    """Return whether an element is SSF's: in its namespace, or in none."""
    return not tag.startswith("{") or tag.startswith(f"{{{NAMESPACE}}}")


def activities_of(
    contacts: Sequence[tuple[str, str, int, str, datetime, datetime]],
) -> tuple[SsfActivity, ...]:
    """Return activities for contacts: (id, satellite name, NORAD id, station, start, end)."""
    return tuple(
        SsfActivity(
            activity_id=activity_id,
            spacecraft=name,
            norad_id=norad_id,
            site=station,
            aperture=station,
            start=start,
            end=end,
        )
        for activity_id, name, norad_id, station, start, end in contacts
    )
