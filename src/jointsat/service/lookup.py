"""What the routes share: find a row or answer 404, refuse a change with 403 or 409.

A row the caller may not see is answered 404 like one that is absent (access.py),
so as not to reveal that it exists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jointsat.service.access import (
    changes,
    sees_area_record,
    sees_request,
    sees_satellite,
    sees_station,
    sees_study_record,
)
from jointsat.service.problems import ProblemError
from jointsat.store.consortium import (
    by_id,
    element_set_satellites,
    satellite_visibilities,
    satellites,
    station_visibilities,
    stations,
)
from jointsat.store.design import areas, studies, study
from jointsat.store.requests import observation_requests
from jointsat.store.tables import (
    AreaRecord,
    DesignStudyRecord,
    GroundStation,
    ObservationRequest,
    Role,
    Satellite,
    User,
)

RowT = TypeVar("RowT")
ModelT = TypeVar("ModelT", bound=BaseModel)


def found(row: RowT | None, what: str, row_id: int) -> RowT:
    """Return the row, or answer 404 when it is None (absent or hidden)."""
    if row is None:
        raise ProblemError(404, "Not found", f"no {what} with id {row_id}")
    return row


def may_change(user: User, owners: Iterable[int], detail: str) -> None:
    """Answer 403 with ``detail`` unless the user may change what ``owners`` own."""
    if not changes(user, owners):
        raise ProblemError(403, "Forbidden", detail)


def commit_or_conflict(session: Session, detail: str) -> None:
    """Commit, or answer 409 with ``detail`` when a uniqueness or reference rule refuses it."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ProblemError(409, "Conflict", detail) from None


def deleted(session: Session, row: object, conflict: str | None = None) -> Response:
    """Delete the row and answer 204; ``conflict``: answer 409 with it if rows still need it."""
    session.delete(row)
    if conflict is None:
        session.commit()
    else:
        commit_or_conflict(session, conflict)
    return Response(status_code=204)


def check_window(start: datetime, end: datetime, max_span: timedelta, days: str) -> None:
    """Answer 422 unless the window is forward and at most ``max_span`` (``days``: its unit)."""
    if end <= start:
        raise ProblemError(422, "Invalid request", "end must be after start")
    if end - start > max_span:
        raise ProblemError(
            422, "Invalid request", f"the window may not exceed {max_span.days} {days}"
        )


def patched(body: BaseModel, nullable: Collection[str] = ()) -> dict[str, Any]:
    """Return the fields a PATCH body sets; answer 422 for a null a field may not take."""
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in nullable:
            raise ProblemError(422, "Invalid request", f"{field} cannot be null")
    return changes


def shown(model: type[ModelT], row: Any, **fields: Any) -> ModelT:
    """Return ``model`` filled from the row's attributes of the same names, or from ``fields``."""
    return model.model_validate(
        {
            name: fields[name] if name in fields else getattr(row, name)
            for name in model.model_fields
        }
    )


# --- what a caller may see ------------------------------------------------------------


def visible_satellites(
    session: Session, user: User, satellite_id: int | None = None, *, flown: bool = True
) -> list[Satellite]:
    """Return the satellites the user sees (only ``satellite_id``'s), by id.

    ``flown``: only those with element sets or ephemerides (the ones that can be propagated).
    """
    visibility = satellite_visibilities(session)
    return [
        s
        for s in satellites(session, satellite_id)
        if (s.element_sets or s.ephemerides or not flown) and sees_satellite(user, s, visibility)
    ]


def visible_satellite(session: Session, user: User, satellite_id: int) -> Satellite:
    """Return the satellite if the user sees it, else answer 404."""
    satellite = by_id(session, Satellite, satellite_id)
    if satellite is not None and not sees_satellite(
        user, satellite, satellite_visibilities(session)
    ):
        satellite = None
    return found(satellite, "satellite", satellite_id)


def visible_stations(session: Session, user: User) -> list[GroundStation]:
    """Return the stations that the user sees, by id."""
    visibility = station_visibilities(session)
    return [g for g in stations(session) if sees_station(user, g, visibility)]


def visible_station(session: Session, user: User, station_id: int) -> GroundStation:
    """Return the station if the user sees it, else answer 404."""
    station = by_id(session, GroundStation, station_id)
    if station is not None and not sees_station(user, station, station_visibilities(session)):
        station = None
    return found(station, "station", station_id)


def seen_element_set_ids(session: Session, user: User, ids: Iterable[int]) -> list[int]:
    """Return those of the element set ids that belong to satellites the user sees.

    A provenance names element sets by id; a set deleted since is shown to the admin only.
    """
    ids = list(ids)
    if user.role is Role.ADMIN:
        return ids
    visibility = satellite_visibilities(session)
    owner = element_set_satellites(session, ids)
    return [i for i in ids if i in owner and sees_satellite(user, owner[i], visibility)]


FRESHNESS_KEYS = ("elements_age_days", "stale_element_sets")
"""The parts of a provenance that name satellites by catalog number, with their elements' age."""


def seen_freshness(session: Session, user: User, provenance: dict[str, Any]) -> None:
    """Keep, in a provenance's elements' ages, only the satellites the user sees (admin: all)."""
    if user.role is Role.ADMIN:
        return
    seen = {str(s.norad_id) for s in visible_satellites(session, user, flown=False)}
    for key in FRESHNESS_KEYS:
        if key in provenance:
            provenance[key] = {k: v for k, v in provenance[key].items() if k in seen}


def seen_station_ids(session: Session, user: User, ids: Iterable[int]) -> list[int]:
    """Return those of the station ids that the user sees (a station deleted since: the admin)."""
    ids = list(ids)
    if user.role is Role.ADMIN:
        return ids
    seen = {g.id for g in visible_stations(session, user)}
    return [i for i in ids if i in seen]


def visible_requests(
    session: Session, user: User, partner_id: int | None = None
) -> list[ObservationRequest]:
    """Return the observation requests the user sees (only ``partner_id``'s), by id."""
    rows = observation_requests(session, partner_id)
    return [r for r in rows if sees_request(user, r.partner_id)]


def visible_request(session: Session, user: User, request_id: int) -> ObservationRequest:
    """Return the observation request if the user sees it, else answer 404."""
    record = by_id(session, ObservationRequest, request_id)
    if record is not None and not sees_request(user, record.partner_id):
        record = None
    return found(record, "request", request_id)


def visible_areas(session: Session, user: User) -> list[AreaRecord]:
    """Return the areas of interest the user sees, by id."""
    return [a for a in areas(session) if sees_area_record(user, a)]


def visible_area(session: Session, user: User, area_id: int) -> AreaRecord:
    """Return the area if the user sees it, else answer 404."""
    area = by_id(session, AreaRecord, area_id)
    if area is not None and not sees_area_record(user, area):
        area = None
    return found(area, "area", area_id)


def visible_studies(session: Session, user: User) -> list[DesignStudyRecord]:
    """Return the design studies the user sees (every area of each), by id."""
    return [s for s in studies(session) if sees_study_record(user, s)]


def visible_study(
    session: Session, user: User, study_id: int, *, with_points: bool = False
) -> DesignStudyRecord:
    """Return the study if the user sees it, else answer 404."""
    record = study(session, study_id, with_points=with_points)
    if record is not None and not sees_study_record(user, record):
        record = None
    return found(record, "design study", study_id)
