"""Predict passes of the stored satellites over the stored stations, as the caller may see."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from jointsat.service.access import (
    satellite_visibilities,
    sees_satellite,
    sees_station,
    station_visibilities,
)
from jointsat.service.cache import cached_json, viewer
from jointsat.service.deps import NowDep, SessionDep, UserDep
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import MAX_ID, AwareDatetime
from jointsat.store.passes import stored_passes
from jointsat.store.tables import GroundStation, Satellite

router = APIRouter(prefix="/passes", tags=["passes"])
MAX_WINDOW = timedelta(days=31)


class PassPublic(BaseModel):
    """One pass of a satellite over a station."""

    satellite_id: int
    satellite: str
    norad_id: int
    station_id: int
    station: str
    aos: datetime
    tca: datetime
    los: datetime
    max_elevation_deg: float
    aos_azimuth_deg: float
    tca_azimuth_deg: float
    los_azimuth_deg: float
    duration_s: float
    sunlit: bool
    truncated: bool


@router.get("", response_model=list[PassPublic])
def list_passes(
    request: Request,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    start: Annotated[AwareDatetime, Query(description="Window start, ISO 8601 with zone")],
    end: Annotated[AwareDatetime, Query(description="Window end, ISO 8601 with zone")],
    satellite_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    station_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    partner_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Passes of its satellites or over its stations"),
    ] = None,
) -> Response:
    """Return every pass in the window that the caller may see, filtered as asked."""
    if end <= start:
        raise ProblemError(422, "Invalid request", "end must be after start")
    if end - start > MAX_WINDOW:
        raise ProblemError(
            422, "Invalid request", f"the window may not exceed {MAX_WINDOW.days} days"
        )
    key = ("passes", viewer(user), start, end, satellite_id, station_id, partner_id)
    return cached_json(
        request,
        session,
        key,
        list[PassPublic],
        lambda: _passes(session, user, now, start, end, satellite_id, station_id, partner_id),
    )


def _passes(
    session: SessionDep,
    user: UserDep,
    now: datetime,
    start: datetime,
    end: datetime,
    satellite_id: int | None,
    station_id: int | None,
    partner_id: int | None,
) -> list[PassPublic]:
    satellites = _satellites(session, user, satellite_id, partner_id, station_id)
    stations = _stations(session, user, station_id, partner_id, satellite_id)
    if not satellites or not stations:
        return []
    sats = {s.id: s for s in satellites}
    sites = {g.id: g for g in stations}
    _, passes = stored_passes(session, satellites, stations, start, end, now=now)
    rows = []
    for p in passes:
        sat, station = sats[p.satellite_id], sites[p.station_id]
        if partner_id is not None and not (
            station.partner_id == partner_id
            or any(o.partner_id == partner_id for o in sat.operators)
        ):
            continue
        rows.append(
            PassPublic(
                satellite_id=sat.id,
                satellite=sat.name,
                norad_id=sat.norad_id,
                station_id=station.id,
                station=station.name,
                aos=p.aos,
                tca=p.tca,
                los=p.los,
                max_elevation_deg=p.max_elevation_deg,
                aos_azimuth_deg=p.aos_azimuth_deg,
                tca_azimuth_deg=p.tca_azimuth_deg,
                los_azimuth_deg=p.los_azimuth_deg,
                duration_s=(p.los - p.aos).total_seconds(),
                sunlit=p.sunlit,
                truncated=p.truncated,
            )
        )
    return rows


def _satellites(
    session: SessionDep,
    user: UserDep,
    satellite_id: int | None,
    partner_id: int | None,
    station_id: int | None,
) -> list[Satellite]:
    visibility = satellite_visibilities(session)
    query = (
        select(Satellite)
        .options(selectinload(Satellite.operators), selectinload(Satellite.element_sets))
        .order_by(Satellite.id)
    )
    if satellite_id is not None:
        query = query.where(Satellite.id == satellite_id)
    rows = [
        s for s in session.scalars(query) if s.element_sets and sees_satellite(user, s, visibility)
    ]
    if satellite_id is not None and not rows:
        raise ProblemError(404, "Not found", f"no satellite with id {satellite_id} and elements")
    return rows


def _stations(
    session: SessionDep,
    user: UserDep,
    station_id: int | None,
    partner_id: int | None,
    satellite_id: int | None,
) -> list[GroundStation]:
    visibility = station_visibilities(session)
    query = select(GroundStation).order_by(GroundStation.id)
    if station_id is not None:
        query = query.where(GroundStation.id == station_id)
    rows = [g for g in session.scalars(query) if sees_station(user, g, visibility)]
    if station_id is not None and not rows:
        raise ProblemError(404, "Not found", f"no station with id {station_id}")
    return rows
