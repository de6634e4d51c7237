"""Keep satellites' observing payloads and partners' observation requests in the store.

A payload is stored in the satellite's columns (``memory_mbit`` empty: it does not
observe) and read back as the planner's ``Imager``; a request is stored as the JSON
object ``request_to_dict`` writes, without its id and partner (its row gives them),
and read back as the planner's ``EarthTarget`` or ``SkyTarget``. Both are checked by
the planner's own rules on the way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jointsat.planning.problem import Agility, Imager
from jointsat.planning.requests import Kind, Request, request_from_dict, request_to_dict
from jointsat.store.tables import ObservationRequest, Satellite, User

OWN_FIELDS = ("id", "partner")  # a stored request's id and partner come from its row


# --- payloads -------------------------------------------------------------------------


def imager_of(satellite: Satellite) -> Imager | None:
    """Return the satellite's payload for planning, None when it does not observe."""
    if satellite.memory_mbit is None:
        return None
    # The payload_complete constraint guarantees the rest of the payload.
    assert satellite.imaging_rate_mbps is not None
    assert satellite.downlink_rate_mbps is not None
    assert satellite.slew_rate_deg_s is not None
    assert satellite.slew_accel_deg_s2 is not None
    assert satellite.settle_s is not None
    assert satellite.observes is not None
    return Imager(
        id=str(satellite.norad_id),
        memory_mbit=satellite.memory_mbit,
        imaging_rate_mbps=satellite.imaging_rate_mbps,
        downlink_rate_mbps=satellite.downlink_rate_mbps,
        agility=Agility(
            max_rate_deg_s=satellite.slew_rate_deg_s,
            max_accel_deg_s2=satellite.slew_accel_deg_s2,
            settle_s=satellite.settle_s,
        ),
        observes=frozenset(Kind(k) for k in satellite.observes.split(",")),
    )


def set_payload(satellite: Satellite, imager: Imager | None) -> None:
    """Store a checked payload on the satellite, or clear it (None: it does not observe)."""
    if imager is None:
        for name in (
            "memory_mbit",
            "imaging_rate_mbps",
            "downlink_rate_mbps",
            "slew_rate_deg_s",
            "slew_accel_deg_s2",
            "settle_s",
            "observes",
        ):
            setattr(satellite, name, None)
        return
    satellite.memory_mbit = imager.memory_mbit
    satellite.imaging_rate_mbps = imager.imaging_rate_mbps
    satellite.downlink_rate_mbps = imager.downlink_rate_mbps
    satellite.slew_rate_deg_s = imager.agility.max_rate_deg_s
    satellite.slew_accel_deg_s2 = imager.agility.max_accel_deg_s2
    satellite.settle_s = imager.agility.settle_s
    satellite.observes = ",".join(sorted(k.value for k in imager.observes))


# --- requests -------------------------------------------------------------------------


def check_request(
    document: Mapping[str, Any], *, partner: str, source: str = "request", ref: str = "new"
) -> Request:
    """Build the core's request from a stored or submitted document, naming a bad field.

    The document's own ``id`` and ``partner`` are replaced by ``ref`` and ``partner``.
    """
    found = {k: v for k, v in document.items() if k not in OWN_FIELDS}
    return request_from_dict({**found, "id": ref, "partner": partner}, source=source)


def request_of(record: ObservationRequest) -> Request:
    """Return the core's request a stored row holds (its id: the row id as a string)."""
    return check_request(
        record.document, partner=record.partner.code, source="store", ref=str(record.id)
    )


def fill_request(
    record: ObservationRequest, request: Request, *, now: datetime, user: User | None = None
) -> None:
    """Write a checked request into its row (new rows get their creation time and author)."""
    record.kind = request.kind.value
    record.gain = request.gain
    record.window_start = request.window.start if request.window else None
    record.window_end = request.window.end if request.window else None
    record.document = {k: v for k, v in request_to_dict(request).items() if k not in OWN_FIELDS}
    record.updated_at = now
    if record.created_at is None:
        record.created_at = now
        record.created_by = user.id if user is not None else None


def unknown_satellites(session: Session, request: Request) -> list[int]:
    """Return the positions of the request's satellite restrictions the store does not know."""
    known = {
        str(n)
        for n in session.scalars(
            select(Satellite.norad_id).where(
                Satellite.norad_id.in_([int(s) for s in request.satellites if s.isdigit()])
            )
        )
    }
    return [k for k, s in enumerate(request.satellites) if s not in known]


def observation_requests(
    session: Session, partner_id: int | None = None
) -> list[ObservationRequest]:
    """Return every request (only ``partner_id``'s) with its partner and creator, by id."""
    query = (
        select(ObservationRequest)
        .options(selectinload(ObservationRequest.partner), selectinload(ObservationRequest.creator))
        .order_by(ObservationRequest.id)
    )
    if partner_id is not None:
        query = query.where(ObservationRequest.partner_id == partner_id)
    return list(session.scalars(query))
