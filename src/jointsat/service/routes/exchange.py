"""Exchange schedules with other agencies in the CCSDS Simple Schedule Format (902.1-B-1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from jointsat.errors import SsfError, StoreError
from jointsat.operations.ssf import MEDIA_TYPE, message_sha256, read_ssf, write_ssf
from jointsat.service.access import changes, sees_satellite, sees_station
from jointsat.service.deps import NowDep, SessionDep, UserDep
from jointsat.service.exports import file_response
from jointsat.service.lookup import found
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import PathId
from jointsat.store.consortium import satellite_visibilities, station_visibilities
from jointsat.store.exchange import (
    IMPORTED,
    ORIGINATOR,
    export_message,
    import_candidates,
    import_message,
)
from jointsat.store.schedules import load_schedule
from jointsat.store.tables import Role

router = APIRouter(prefix="/schedules", tags=["schedules"])

SSF_FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The SSF message", "content": {MEDIA_TYPE: {}}},
    404: {"description": "No such schedule"},
}


class ImportedSchedule(BaseModel):
    """A schedule booked from another agency's SSF message."""

    id: int
    created_at: datetime
    start: datetime
    end: datetime
    policy: str
    contacts: int
    total_seconds: float
    provenance: dict[str, Any]


@router.get("/{schedule_id}/schedule.ssf", response_class=Response, responses=SSF_FILE)
def export_ssf(schedule_id: PathId, session: SessionDep, user: UserDep, now: NowDep) -> Response:
    """Return the schedule's contacts the caller may see as a CCSDS Simple Schedule message.

    One ``scheduledPackage`` per satellite, one ``scheduledActivity`` per contact
    (track from the contact's start to its end, ``siteRef`` and ``apertureRef`` the
    station's name, the NORAD catalog number as an ``unsignedIntParameter``
    ``NORAD_CAT_ID``); contacts on stations or satellites hidden from the caller
    are left out, as in the schedule's JSON.
    """
    record = found(load_schedule(session, schedule_id), "schedule", schedule_id)
    stations, satellites = station_visibilities(session), satellite_visibilities(session)
    seen = [
        c
        for c in record.contacts
        if sees_station(user, c.station, stations) and sees_satellite(user, c.satellite, satellites)
    ]
    message = export_message(record, seen, originator=ORIGINATOR, generated_at=now)
    return file_response(write_ssf(message), MEDIA_TYPE, f"schedule-{schedule_id}.ssf.xml")


@router.get("/import-ssf", include_in_schema=False)
def import_ssf_read() -> None:
    """Answer 405 (Allow: POST), not 422 from ``GET /schedules/{schedule_id}`` matching it."""
    raise HTTPException(405)


@router.post(
    "/import-ssf",
    response_model=ImportedSchedule,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
            "required": True,
        }
    },
)
async def import_ssf(
    request: Request, session: SessionDep, user: UserDep, now: NowDep
) -> ImportedSchedule:
    """Book another agency's SSF message on our stations as a new schedule (policy imported).

    The consortium admin may book on any station; a partner's operator only on its
    partner's stations, and only satellites it sees (a name it may not use reads as
    unknown). Activities are matched to satellites by ``NORAD_CAT_ID`` (else by the
    package's ``user`` as a name) and to stations by ``siteRef``; a malformed message
    is a 422 naming the element path, unknown names a 422 listing them all.
    """
    if user.role not in (Role.ADMIN, Role.OPERATOR):
        raise ProblemError(403, "Forbidden", "only operators or an admin may import a schedule")
    data = await request.body()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProblemError(422, "Unprocessable SSF", f"not UTF-8 text (byte {exc.start})") from None
    try:
        message = read_ssf(text, source="body")
    except SsfError as exc:
        raise ProblemError(422, "Unprocessable SSF", str(exc)) from None
    stations, satellites = import_candidates(session)
    visibility = satellite_visibilities(session)
    try:
        record = import_message(
            session,
            message,
            stations=[g for g in stations if changes(user, [g.partner_id])],
            satellites=[s for s in satellites if sees_satellite(user, s, visibility)],
            now=now,
            sha256=message_sha256(text),
        )
    except StoreError as exc:
        raise ProblemError(422, "Unprocessable SSF", str(exc)) from None
    session.commit()
    return ImportedSchedule(
        id=record.id,
        created_at=record.created_at,
        start=record.start,
        end=record.end_at,
        policy=IMPORTED,
        contacts=len(record.contacts),
        total_seconds=record.total_seconds,
        provenance=record.provenance,
    )
