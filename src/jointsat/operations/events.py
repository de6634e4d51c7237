"""The events partners may be told of, and what each one is about.

An event names the satellite, station, product and partner it concerns; who may see
it follows from those (``jointsat.service.access`` applies the access matrix), so an
event about a hidden satellite or station never reaches another partner.
"""

from __future__ import annotations

import enum


class EventKind(enum.StrEnum):
    """Say what happened (the ``kind`` of an event, as subscribers receive it)."""

    CONTACT_STATE = "contact.state"  # a contact moved in its lifecycle
    SCHEDULE_CREATED = "schedule.created"  # a new (or re-planned) schedule
    STATION_OUTAGE = "station.outage"  # a station reported unavailable
    ELEMENTS_REFRESHED = "elements.refreshed"  # new element sets from a source
    ELEMENTS_STALE = "elements.stale"  # a satellite's newest set is too old
    PRODUCT_ARCHIVED = "product.archived"
    PRODUCT_RELEASED = "product.released"  # out of embargo, to the members or the public
    ANALYSIS_FINISHED = "analysis.finished"  # done or failed
    PING = "ping"  # a subscriber's test (POST /subscriptions/{id}/test): sent to it alone


def parse_kinds(values: list[str] | None) -> list[EventKind] | None:
    """Return the event kinds named (None: every kind); ValueError names an unknown one."""
    if values is None:
        return None
    known = {k.value: k for k in EventKind}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown event kind(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[v] for v in values]
