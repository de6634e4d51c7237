"""Write what the API answers in JSON as files for other tools: CSV, Parquet and iCalendar.

- :func:`csv_text` writes rows of the JSON answer as CSV, one column per field in the
  JSON's order, with the JSON's values (times ISO 8601 UTC ending in ``Z``, booleans
  ``true``/``false``, an absent value empty): the same table, for a spreadsheet.
- :func:`parquet_file` writes the same rows as a Parquet file, typed by the answer's
  model (times as UTC timestamps), for dataframes and column stores.
- :func:`contacts_calendar` writes a schedule's contacts as an iCalendar file
  (RFC 5545), one ``VEVENT`` per contact, for a station's or a partner's calendar.

Both take what the routes have already filtered by the caller's rights: nothing here
decides who sees what.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Response
from icalendar import Calendar, Event
from pydantic import BaseModel

from jointsat.timelib import format_readable

CSV_TYPE = "text/csv; charset=utf-8"
CALENDAR_TYPE = "text/calendar; charset=utf-8"
PARQUET_TYPE = "application/vnd.apache.parquet"
PRODUCT_ID = "-//jointsat//contacts//EN"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Return ``rows`` (JSON objects) as CSV text with a header of ``columns``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(_cell(row.get(column)) for column in columns)
    return buffer.getvalue()


def parquet_file(model: type[BaseModel], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Return ``rows`` (JSON objects of ``model``) as a Parquet file, a column per field.

    Fields typed ``int``, ``float``, ``bool`` and ``str`` keep their types; datetimes
    become UTC timestamps (microseconds); anything else is written as JSON text.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}
    fields = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if kind is datetime:
            fields.append(pa.field(name, pa.timestamp("us", tz="UTC")))
        else:
            fields.append(pa.field(name, types.get(kind, pa.string())))  # type: ignore[arg-type]
    schema = pa.schema(fields)
    columns = []
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if pa.types.is_timestamp(field.type):
            columns.append(pa.array(values, pa.string()).cast(field.type))
        elif field.type == pa.string() and model.model_fields[field.name].annotation is not str:
            columns.append(pa.array([None if v is None else json.dumps(v) for v in values]))
        else:
            columns.append(pa.array(values, field.type))
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns, schema=schema), sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def file_response(body: str | bytes, media_type: str, filename: str) -> Response:
    """Return ``body`` as a download named ``filename``."""
    return Response(
        content=body.encode("utf-8") if isinstance(body, str) else body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def contact_uid(contact: Mapping[str, Any]) -> str:
    """Return a contact's event UID: the same contact (satellite, station, start) keeps it.

    Downloaded again, from this schedule or from one that re-plans it, an unchanged
    contact updates its event in a calendar instead of adding a second one.
    """
    start = _utc(contact["start"]).strftime("%Y%m%dT%H%M%SZ")
    return f"contact-{contact['norad_id']}-{contact['station_id']}-{start}@jointsat"


def _covering(start_value: datetime | str, end_value: datetime | str) -> tuple[datetime, datetime]:
    """Return a span in whole seconds that covers it (iCalendar counts whole seconds)."""
    start = _utc(start_value).replace(microsecond=0)
    end = _utc(end_value)
    if end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    return start, end


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    return calendar


def _utc(value: datetime | str) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC)


STATUS_OF_STATE = {
    "scheduled": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "executing": "CONFIRMED",
    "completed": "CONFIRMED",
    "failed": "CANCELLED",
    "cancelled": "CANCELLED",
}
"""A contact's lifecycle state as an event's STATUS (RFC 5545: TENTATIVE, CONFIRMED, CANCELLED)."""


def contacts_calendar(
    schedule: Mapping[str, Any],
    contacts: Iterable[Mapping[str, Any]],
    operators: Mapping[int, str],
    name: str,
) -> str:
    """Return the contacts of ``schedule`` (its JSON) as an iCalendar file.

    ``operators`` names each satellite's operating partners (satellite id: their
    codes); ``name`` is the calendar's name. Every event is in UTC: ``DTSTART`` is
    the contact's start to the second below, ``DTEND`` its end to the second above (the
    event covers the contact), ``DTSTAMP`` the schedule's creation (or the contact's
    last change of state, if later). A contact with a lifecycle ``state`` has a
    ``STATUS`` (:data:`STATUS_OF_STATE`: failed and cancelled ones are CANCELLED).
    """
    return contacts_feed(((schedule, c) for c in contacts), operators, name)


def contacts_feed(
    entries: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]],
    operators: Mapping[int, str],
    name: str,
) -> str:
    """Return contacts of several schedules, (schedule JSON, contact JSON) pairs, as iCalendar.

    Each event as :func:`contacts_calendar` writes it, for its own schedule.
    """
    calendar = _calendar(name)
    for schedule, contact in entries:
        calendar.add_component(
            _contact_event(schedule, contact, operators.get(contact["satellite_id"], ""))
        )
    text: bytes = calendar.to_ical()
    return text.decode("utf-8")


def _contact_event(schedule: Mapping[str, Any], contact: Mapping[str, Any], partners: str) -> Event:
    start, end = _covering(contact["start"], contact["end"])  # start down, end up
    stamp = _utc(schedule["created_at"])
    changed = contact.get("state_changed_at")
    if changed is not None:
        stamp = max(stamp, _utc(changed))
    event = Event()
    event.add("uid", contact_uid(contact))
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    summary = f"{contact['satellite']} over {contact['station']}"
    event.add("summary", f"{summary} for {partners}" if partners else summary)
    event.add("location", contact["station"])
    lines = [
        f"{contact['satellite']} (NORAD {contact['norad_id']}) over {contact['station']}",
        f"{format_readable(start)} to {format_readable(end)} UTC,"
        f" {(end - start).total_seconds() / 60:.1f} min",
        f"max elevation {contact['max_elevation_deg']:.1f} deg",
        f"operators: {partners or 'none'}",
        f"schedule #{schedule['id']} ({schedule['policy']}),"
        f" {format_readable(_utc(schedule['start']))} to"
        f" {format_readable(_utc(schedule['end']))} UTC",
    ]
    state = contact.get("state")
    if state is not None:
        reason = contact.get("state_reason")
        lines.append(f"state: {state}" + (f" ({reason})" if reason else ""))
        event.add("status", STATUS_OF_STATE[state])
    event.add("description", "\n".join(lines))
    event.add("categories", ["jointsat contact"])
    return event


def pass_uid(row: Mapping[str, Any]) -> str:
    """Return a pass's event UID: the same pass (satellite, station, AOS) keeps it."""
    aos = _utc(row["aos"]).strftime("%Y%m%dT%H%M%SZ")
    return f"pass-{row['norad_id']}-{row['station_id']}-{aos}@jointsat"


def passes_calendar(rows: Iterable[Mapping[str, Any]], name: str, stamp: datetime) -> str:
    """Return passes (the JSON's rows) as an iCalendar file, one event per pass.

    DTSTART and DTEND cover AOS to LOS in whole seconds (UTC); SUMMARY "SATELLITE over
    STATION"; LOCATION the station; DESCRIPTION the maximum elevation, the AOS, TCA and
    LOS azimuths, the duration and whether the window cut the pass. ``stamp`` (the
    request's time) is every event's DTSTAMP.
    """
    calendar = _calendar(name)
    for row in rows:
        start, end = _covering(row["aos"], row["los"])
        event = Event()
        event.add("uid", pass_uid(row))
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", f"{row['satellite']} over {row['station']}")
        event.add("location", row["station"])
        lines = [
            f"{row['satellite']} (NORAD {row['norad_id']}) over {row['station']}",
            f"AOS {format_readable(_utc(row['aos']))}, TCA {format_readable(_utc(row['tca']))},"
            f" LOS {format_readable(_utc(row['los']))} UTC, {row['duration_s'] / 60:.1f} min",
            f"max elevation {row['max_elevation_deg']:.1f} deg",
            f"azimuth AOS {row['aos_azimuth_deg']:.1f} deg, TCA {row['tca_azimuth_deg']:.1f} deg,"
            f" LOS {row['los_azimuth_deg']:.1f} deg",
        ]
        if row.get("truncated"):
            lines.append("truncated: the pass goes on beyond the window asked for")
        event.add("description", "\n".join(lines))
        event.add("categories", ["jointsat pass"])
        calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text.decode("utf-8")
