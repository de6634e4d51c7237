"""Turn stored rows into the orbit engine's records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jointsat.operations.contact_plans import rotator_from
from jointsat.operations.radio import Link, parse_links
from jointsat.orbits.elements import Elements
from jointsat.orbits.ephemeris import Ephemeris
from jointsat.orbits.oem import read_oem
from jointsat.orbits.pointing import Rotator
from jointsat.orbits.propagation import Covered, Orbit, OrbitRecord, Satellite, orbit_records
from jointsat.orbits.stations import HorizonMask, Station
from jointsat.store import tables
from jointsat.store.tables import ElementSetRecord, EphemerisRecord, GroundStation


def elements_of(record: ElementSetRecord) -> Elements:
    """Return the element set a stored record holds (its OMM fields were checked on upload)."""
    return Elements.from_omm(record.omm, source="store", location=f"element set {record.id}")


def ephemeris_of(record: EphemerisRecord, norad_id: int) -> Ephemeris:
    """Return the ephemeris a stored OEM holds, as satellite ``norad_id``'s (checked on upload)."""
    return read_oem(record.raw, source=f"ephemeris {record.id}", norad_id=norad_id)


def orbit_of(
    satellite: tables.Satellite, sets: Sequence[ElementSetRecord] | None = None
) -> Orbit | None:
    """Return the engine's orbit of a stored satellite; None when it has nothing to predict from.

    Its ephemerides, where they cover, else its element sets (``sets``: these of them;
    None: all), nearest epoch. Without ephemerides it is the element sets' satellite,
    named after the newest set; with them, a :class:`Covered` of the stored name.
    """
    sets = satellite.element_sets if sets is None else sets
    ordered = tuple(sorted((elements_of(e) for e in sets), key=lambda e: e.epoch))
    elements = Satellite(satellite.norad_id, ordered[-1].object_name, ordered) if sets else None
    if not satellite.ephemerides:
        return elements
    found = tuple(ephemeris_of(e, satellite.norad_id) for e in satellite.ephemerides)
    return Covered(satellite.norad_id, satellite.name, found, elements)


def records_of(
    satellites: Sequence[tables.Satellite],
    sets: Mapping[int, Sequence[ElementSetRecord]] | None = None,
) -> list[OrbitRecord]:
    """Return what the engine builds the satellites' orbits from (see :func:`orbit_of`).

    ``sets``: the element sets to use of each satellite, by row id (None: all).
    """
    orbits = (orbit_of(s, None if sets is None else sets[s.id]) for s in satellites)
    return [r for o in orbits if o is not None for r in orbit_records(o)]


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


def rotator_of(row: GroundStation) -> Rotator:
    """Return a stored station's rotator (the default model where none is stored)."""
    return rotator_from(row.rotator)


def links_of(satellite: tables.Satellite) -> tuple[Link, ...]:
    """Return a stored satellite's radio links (checked when stored; none: an empty tuple)."""
    return parse_links(satellite.links, f"satellite {satellite.norad_id} links")


def network(session: Session) -> tuple[list[Elements], list[Station]]:
    """Return every stored element set and every stored station."""
    satellites = session.scalars(
        select(tables.Satellite)
        .options(selectinload(tables.Satellite.element_sets))
        .order_by(tables.Satellite.id)
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
