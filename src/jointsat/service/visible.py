"""Load the satellites and stations a caller may see, as the pass and track routes read them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jointsat.service.access import (
    satellite_visibilities,
    sees_satellite,
    sees_station,
    station_visibilities,
)
from jointsat.service.problems import ProblemError
from jointsat.store.tables import GroundStation, Satellite, User


def visible_satellites(
    session: Session, user: User, satellite_id: int | None = None
) -> list[Satellite]:
    """Return the satellites with element sets that the user sees (only ``satellite_id``'s)."""
    query = (
        select(Satellite)
        .options(selectinload(Satellite.operators), selectinload(Satellite.element_sets))
        .order_by(Satellite.id)
    )
    if satellite_id is not None:
        query = query.where(Satellite.id == satellite_id)
    visibility = satellite_visibilities(session)
    return [
        s for s in session.scalars(query) if s.element_sets and sees_satellite(user, s, visibility)
    ]


def visible_stations(session: Session, user: User) -> list[GroundStation]:
    """Return the stations that the user sees, by id."""
    visibility = station_visibilities(session)
    query = select(GroundStation).order_by(GroundStation.id)
    return [g for g in session.scalars(query) if sees_station(user, g, visibility)]


def visible_station(session: Session, user: User, station_id: int) -> GroundStation:
    """Return the station if the user sees it, else answer 404."""
    station = session.get(GroundStation, station_id)
    if station is None or not sees_station(user, station, station_visibilities(session)):
        raise ProblemError(404, "Not found", f"no station with id {station_id}")
    return station
