"""Turn stored rows into the orbit engine's records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jointsat.orbits.elements import Elements
from jointsat.orbits.stations import HorizonMask, Station
from jointsat.store.tables import ElementSetRecord, GroundStation, Satellite


def elements_of(record: ElementSetRecord) -> Elements:
    """Return the element set a stored record holds (its OMM fields were checked on upload)."""
    return Elements.from_omm(record.omm, source="store", location=f"element set {record.id}")


def station_of(row: GroundStation) -> Station:
    """Return the engine's station for a stored ground station."""
    mask = row.horizon_mask
    return Station(
        name=row.name,
        lat_deg=row.lat_deg,
        lon_deg=row.lon_deg,
        alt_m=row.alt_m,
        min_elevation_deg=row.min_elevation_deg,
        horizon_mask=(
            HorizonMask(tuple(mask["azimuth_deg"]), tuple(mask["elevation_deg"])) if mask else None
        ),
    )


def network(session: Session) -> tuple[list[Elements], list[Station]]:
    """Return every stored element set and every stored station."""
    satellites = session.scalars(
        select(Satellite).options(selectinload(Satellite.element_sets)).order_by(Satellite.id)
    )
    elements = [elements_of(e) for s in satellites for e in s.element_sets]
    stations = [
        station_of(g) for g in session.scalars(select(GroundStation).order_by(GroundStation.id))
    ]
    return elements, stations
