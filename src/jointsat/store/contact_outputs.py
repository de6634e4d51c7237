"""Load a scheduled contact with what its outputs need: orbit, station, rotator, links, window.

``jointsat pointing --from-store``, ``jointsat doppler --from-store`` and the service's
``/contacts/{id}/pointing``, ``/doppler`` and ``/oem`` read a contact through here, so
that they plan from the same stored facts: the satellite's orbit as pass predictions
build it (its ephemerides where they cover, else its element sets:
:func:`jointsat.store.convert.orbit_of`), the station's geometry and rotator model,
the satellite's radio links and the contact's start..end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jointsat.errors import JointsatError
from jointsat.operations.contact_plans import Window, rotator_from
from jointsat.orbits.pointing import Rotator
from jointsat.orbits.propagation import Orbit
from jointsat.orbits.stations import Station
from jointsat.store.convert import orbit_of, station_of
from jointsat.store.tables import ContactRecord, Satellite

__all__ = ["StoredContact", "contact_model", "load_contact"]


@dataclass(frozen=True)
class StoredContact:
    """A contact's stored facts, as the outputs use them (rows kept for access checks)."""

    record: ContactRecord
    orbit: Orbit
    station: Station
    rotator: Rotator
    links: list[dict[str, Any]]
    window: Window

    @property
    def satellite_name(self) -> str:
        """Return the satellite's stored name."""
        return self.record.satellite.name

    @property
    def object_id(self) -> str:
        """Return the satellite's international designator if its newest set has one, else
        its catalog number (an OEM's OBJECT_ID)."""
        sets = self.record.satellite.element_sets
        designator = sets[-1].omm.get("OBJECT_ID") if sets else None
        return str(designator) if designator else str(self.record.satellite.norad_id)


def load_contact(session: Session, contact_id: int) -> ContactRecord | None:
    """Return the contact with its satellite (element sets, ephemerides, operators) and
    station loaded, or None."""
    return session.scalars(
        select(ContactRecord)
        .where(ContactRecord.id == contact_id)
        .options(
            selectinload(ContactRecord.satellite).selectinload(Satellite.element_sets),
            selectinload(ContactRecord.satellite).selectinload(Satellite.ephemerides),
            selectinload(ContactRecord.satellite).selectinload(Satellite.operators),
            selectinload(ContactRecord.station),
        )
    ).one_or_none()


def contact_model(record: ContactRecord) -> StoredContact:
    """Return what the contact's outputs are computed from.

    Raise :class:`JointsatError` when the satellite has nothing to predict from, or
    the station's stored rotator is not a rotator model.
    """
    satellite = record.satellite
    orbit = orbit_of(satellite)
    if orbit is None:
        raise JointsatError(
            f"satellite {satellite.name} ({satellite.norad_id}) has no element set or "
            "ephemeris in the store"
        )
    return StoredContact(
        record=record,
        orbit=orbit,
        station=station_of(record.station),
        rotator=rotator_from(record.station.rotator),
        links=list(satellite.links or []),
        window=Window(record.start, record.end_at),
    )
