"""Turn stored rows into the orbit engine's records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jointsat.orbits.elements import Elements
from jointsat.orbits.stations import HorizonMask, Station
from jointsat.store.tables import ElementSetRecord, GroundStation, Satellite


def elements_of(record: ElementSetRecord) -> Elements:
    """Return the element set a stored record holds (its OMM fields were checked on upload)."""
    return Elements.from_omm(record.omm, source="store", location=f"element set {record.id}")


def station_names(rows: Sequence[GroundStation]) -> dict[int, str]:
    """Return each station's name by id, ``name (CODE)`` where several partners use the name.

    Names are unique per partner only (a clash across partners would reveal a private
    station); where stations of several partners share a name, the name is qualified
    by the owner's code so that problems, pass tables and schedules stay unambiguous,
    and every other station keeps the name its operators know.
    """
    count = Counter(g.name for g in rows)
    return {g.id: g.name if count[g.name] == 1 else f"{g.name} ({g.owner.code})" for g in rows}


def station_of(row: GroundStation, name: str | None = None) -> Station:
    """Return the engine's station for a stored ground station (named ``name`` if given)."""
    mask = row.horizon_mask
    return Station(
        name=row.name if name is None else name,
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
    rows = list(
        session.scalars(
            select(GroundStation)
            .options(selectinload(GroundStation.owner))
            .order_by(GroundStation.id)
        )
    )
    names = station_names(rows)
    return elements, [station_of(g, names[g.id]) for g in rows]
