"""Exchange schedules with other agencies: stored contacts to and from CCSDS SSF messages.

Export writes a schedule's contacts (those the caller may see: the service filters
them first) as a Simple Schedule message (``jointsat.operations.ssf``). Import books
a message's activities on stored stations as a new schedule of policy ``imported``:
each activity's spacecraft is matched to a stored satellite by NORAD catalog number
(or, when the message gives none, by name), its ``siteRef`` to a station by name
(``name (CODE)`` where stations of several partners share the name). What cannot be
matched is refused, every unknown name listed at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jointsat.errors import StoreError
from jointsat.operations.ssf import SsfActivity, SsfMessage, activities_of
from jointsat.orbits.tracks import look_angles
from jointsat.orbits.vectors import FloatArray
from jointsat.store.convert import orbit_of, station_names
from jointsat.store.tables import ContactRecord, GroundStation, Satellite, ScheduleRecord
from jointsat.timelib import TimeOrigin

ORIGINATOR = "JOINTSAT"
"""The ``originatingOrganization`` of the messages jointsat writes."""
IMPORTED = "imported"
"""The policy (and status) of a schedule imported from another agency's message."""
ELEVATION_STEP_S = 5.0  # an imported contact's maximum elevation: sampled this often,
REFINE_STEP_S = 0.02  # then this often around the highest sample


def export_message(
    record: ScheduleRecord,
    contacts: Sequence[ContactRecord],
    *,
    originator: str,
    generated_at: datetime,
) -> SsfMessage:
    """Return the schedule's contacts as an SSF message (contacts as given: already filtered).

    Activity ids are ``{schedule id}-{contact id}``; stations are named as in pass
    tables, qualified by their owner's code only where two of them share a name.
    """
    names = station_names(list({c.station_id: c.station for c in contacts}.values()))
    return SsfMessage(
        originator=originator,
        generated_at=generated_at,
        start=record.start,
        end=record.end_at,
        activities=activities_of(
            [
                (
                    f"{record.id}-{c.id}",
                    c.satellite.name,
                    c.satellite.norad_id,
                    names[c.station_id],
                    c.start,
                    c.end_at,
                )
                for c in sorted(contacts, key=lambda c: (c.start, c.station_id, c.satellite_id))
            ]
        ),
        version=str(record.id),
    )


def import_candidates(session: Session) -> tuple[list[GroundStation], list[Satellite]]:
    """Return every station (with its owner) and satellite (with operators and orbits), by id."""
    stations = session.scalars(
        select(GroundStation).options(selectinload(GroundStation.owner)).order_by(GroundStation.id)
    )
    satellites = session.scalars(
        select(Satellite)
        .options(
            selectinload(Satellite.operators),
            selectinload(Satellite.element_sets),
            selectinload(Satellite.ephemerides),
        )
        .order_by(Satellite.id)
    )
    return list(stations), list(satellites)


def import_message(
    session: Session,
    message: SsfMessage,
    *,
    stations: Sequence[GroundStation],
    satellites: Sequence[Satellite],
    now: datetime,
    sha256: str,
) -> ScheduleRecord:
    """Add the message's activities as a new imported schedule and return its record.

    ``stations`` and ``satellites`` are those the message may name (the service hands
    in the caller's: an operator books only on its partner's stations); a name or
    number not among them is refused with the others (:class:`StoreError`), as is
    a message with no activity. The provenance keeps the originator, the message's
    version and generation time and its SHA-256. Each contact's maximum elevation is
    predicted from the satellite's stored orbit (sampled every
    :data:`ELEVATION_STEP_S`); where it cannot be, the station's minimum elevation
    stands in (the least a booked contact reaches) and the provenance lists the
    activity under ``max_elevation_unknown``.
    """
    if not message.activities:
        raise StoreError("the message schedules no activity")
    by_station = _stations_by_name(stations)
    by_number = {s.norad_id: s for s in satellites}
    by_name: dict[str, list[Satellite]] = {}
    for s in satellites:
        by_name.setdefault(s.name.casefold(), []).append(s)
    unknown: list[str] = []
    contacts = []
    guessed: list[str] = []
    for a in message.activities:
        station = by_station.get(a.site)
        satellite = _satellite(a, by_number, by_name)
        if station is None:
            unknown.append(f"station {a.site!r}")
        if satellite is None:
            unknown.append(f"satellite {_spacecraft(a)}")
        if station is not None and satellite is not None:
            highest = _max_elevation_deg(satellite, station, a.start, a.end)
            if highest is None:
                guessed.append(a.activity_id)
                highest = station.min_elevation_deg or 0.0
            contacts.append(
                ContactRecord(
                    satellite_id=satellite.id,
                    station_id=station.id,
                    start=a.start,
                    end_at=a.end,
                    max_elevation_deg=highest,
                )
            )
    if unknown:
        listed = ", ".join(dict.fromkeys(unknown))
        raise StoreError(f"the message names what the store does not hold: {listed}")
    total = sum((a.end - a.start).total_seconds() for a in message.activities)
    record = ScheduleRecord(
        created_at=now,
        start=message.start,
        end_at=message.end,
        policy=IMPORTED,
        status=IMPORTED,
        solver=f"ssf:{message.originator}"[:100],
        total_seconds=total,
        gap=0.0,
        document=_document(total),
        provenance={
            "imported_from": message.originator,
            "format": "CCSDS 902.1-B-1 Simple Schedule Format",
            "message_version": message.version,
            "message_status": message.status.value,
            "generated_at": message.generated_at.isoformat(),
            "message_sha256": sha256,
            "activity_ids": [a.activity_id for a in message.activities],
            "max_elevation_unknown": guessed,
        },
    )
    record.contacts = contacts
    session.add(record)
    return record


def _max_elevation_deg(
    satellite: Satellite, station: GroundStation, start: datetime, end: datetime
) -> float | None:
    """Return the satellite's greatest elevation over the station from start to end, if known."""
    orbit = orbit_of(satellite)
    if orbit is None:
        return None
    duration_s = (end - start).total_seconds()
    origin = TimeOrigin.of(start)

    def elevations(times_s: FloatArray) -> FloatArray | None:
        jd, fr = origin.julian(times_s)
        codes, r, _ = orbit.propagate(jd, fr)
        good = codes == 0
        if not good.all():
            return None
        _, el, _ = look_angles(r, jd, fr, station.lat_deg, station.lon_deg, station.alt_m)
        return np.asarray(el, dtype=np.float64)

    coarse_s = np.append(np.arange(0.0, duration_s, ELEVATION_STEP_S), duration_s)
    coarse = elevations(coarse_s)
    if coarse is None:
        return None
    # Near the zenith the elevation turns by a degree a second: refine around the peak.
    peak_s = float(coarse_s[int(np.argmax(coarse))])
    fine_s = np.clip(
        np.arange(peak_s - ELEVATION_STEP_S, peak_s + ELEVATION_STEP_S, REFINE_STEP_S),
        0.0,
        duration_s,
    )
    fine = elevations(fine_s)
    highest = coarse.max() if fine is None else max(coarse.max(), fine.max())
    return round(float(highest), 3)


def _document(total_s: float) -> dict[str, object]:
    """Return an imported schedule's document: no solver, so no levels, shares or gap."""
    return {
        "policy": IMPORTED,
        "status": IMPORTED,
        "total_seconds": total_s,
        "bound": total_s,
        "bound_level": "none",
        "gap": 0.0,
        "fairness_gap": 0.0,
        "levels": [],
        "partners": {},
        "settings": {},
    }


def _stations_by_name(stations: Sequence[GroundStation]) -> dict[str, GroundStation]:
    """Return the stations by the names a message may use: plain where unique, else qualified."""
    names = station_names(stations)
    found = {names[g.id]: g for g in stations}
    for g in stations:  # ``name (CODE)`` names each station too, unique or not
        found.setdefault(f"{g.name} ({g.owner.code})", g)
    return found


def _satellite(
    a: SsfActivity, by_number: dict[int, Satellite], by_name: dict[str, list[Satellite]]
) -> Satellite | None:
    if a.norad_id is not None:
        return by_number.get(a.norad_id)
    named = by_name.get(a.spacecraft.casefold(), [])
    return named[0] if len(named) == 1 else None


def _spacecraft(a: SsfActivity) -> str:
    return f"{a.norad_id} ({a.spacecraft})" if a.norad_id is not None else repr(a.spacecraft)
