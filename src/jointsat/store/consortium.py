"""Keep the consortium in the store: partners and their agreements, users, stations, satellites.

Lists come ordered by id (agreements by partner), with what their answers show loaded
in the same few queries. Nothing here decides who may see what (``service.access``
does); the visibilities it needs are read here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, object_session, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from jointsat.errors import ElementsError, StoreError
from jointsat.operations.events import EventKind
from jointsat.orbits.elements import Elements, parse_elements
from jointsat.orbits.ephemeris import Ephemeris
from jointsat.planning.problem import Imager
from jointsat.settings import SOURCE_KINDS
from jointsat.store.events import record_event
from jointsat.store.requests import set_payload
from jointsat.store.tables import (
    Agreement,
    ApiToken,
    Base,
    ElementSetRecord,
    EphemerisRecord,
    GroundStation,
    Partner,
    Role,
    Satellite,
    SatelliteOperator,
    Unavailability,
    UnavailabilityKind,
    User,
    Versioned,
    Visibility,
)

RowT = TypeVar("RowT", bound=Base)
T = TypeVar("T")


def by_id(session: Session, table: type[RowT], row_id: int | None) -> RowT | None:
    """Return the row of ``table`` with the id, None when there is none (or no id)."""
    return None if row_id is None else session.get(table, row_id)


def exists(session: Session, table: type[Any], row_id: int) -> bool:
    """Return whether the store holds a row of the mapped ``table`` with the id (read afresh)."""
    primary = inspect(table).primary_key[0]
    return session.scalar(select(primary).where(primary == row_id)) is not None


def touch(row: Versioned) -> None:
    """Move the row's version on though none of its columns changed (what it shows did).

    The UPDATE still names the version read, so a concurrent writer is caught.
    """
    row.version = row.version + 1


# --- partners and agreements ----------------------------------------------------------


def partners(session: Session) -> list[Partner]:
    """Return every partner, by id."""
    return list(session.scalars(select(Partner).order_by(Partner.id)))


def add_partner(session: Session, **fields: Any) -> Partner:
    """Add a partner with a default agreement (not yet committed)."""
    partner = Partner(**fields)
    session.add(partner)
    session.add(Agreement(partner=partner))
    return partner


def agreements(session: Session) -> list[Agreement]:
    """Return every partner's agreement, by partner id."""
    return list(session.scalars(select(Agreement).join(Partner).order_by(Agreement.partner_id)))


def agreement(session: Session, partner_id: int) -> Agreement | None:
    """Return the partner's agreement, None when there is none."""
    query = select(Agreement).where(Agreement.partner_id == partner_id)
    return session.scalars(query).one_or_none()


def station_visibilities(session: Session) -> dict[int, Visibility]:
    """Return each partner's station visibility (partners without agreement: consortium)."""
    return {a.partner_id: a.station_visibility for a in session.scalars(select(Agreement))}


def satellite_visibilities(session: Session) -> dict[int, Visibility]:
    """Return each partner's satellite visibility (partners without agreement: consortium)."""
    return {a.partner_id: a.satellite_visibility for a in session.scalars(select(Agreement))}


# --- users and their tokens -----------------------------------------------------------


def users(session: Session) -> list[User]:
    """Return every user, by id."""
    return list(session.scalars(select(User).order_by(User.id)))


def tokens(session: Session, user_id: int) -> list[ApiToken]:
    """Return the user's tokens (revoked ones too), by id."""
    query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
    return list(session.scalars(query))


# --- stations -------------------------------------------------------------------------


def stations(session: Session) -> list[GroundStation]:
    """Return every station with its unavailability windows, by id."""
    query = (
        select(GroundStation)
        .options(selectinload(GroundStation.unavailable))
        .order_by(GroundStation.id)
    )
    return list(session.scalars(query))


# --- satellites -----------------------------------------------------------------------


def satellites(session: Session, satellite_id: int | None = None) -> list[Satellite]:
    """Return every satellite (only ``satellite_id``'s) with operators, element sets and
    ephemerides."""
    only = [] if satellite_id is None else [Satellite.id == satellite_id]
    query = (
        select(Satellite)
        .where(*only)
        .options(
            selectinload(Satellite.operators),
            selectinload(Satellite.element_sets),
            selectinload(Satellite.ephemerides),
        )
        .order_by(Satellite.id)
    )
    return list(session.scalars(query))


def element_set_satellites(session: Session, ids: Iterable[int]) -> dict[int, Satellite]:
    """Return the satellite (with operators) of each of these element sets that still exists."""
    query = (
        select(ElementSetRecord.id, Satellite)
        .join(Satellite, ElementSetRecord.satellite_id == Satellite.id)
        .where(ElementSetRecord.id.in_(list(ids)))
        .options(selectinload(Satellite.operators))
    )
    return {set_id: satellite for set_id, satellite in session.execute(query)}


def satellites_by_number(session: Session, norad_ids: Iterable[int]) -> dict[int, Satellite]:
    """Return the stored satellites of these catalog numbers, with operators, by number."""
    query = (
        select(Satellite)
        .where(Satellite.norad_id.in_(list(norad_ids)))
        .options(selectinload(Satellite.operators))
    )
    return {s.norad_id: s for s in session.scalars(query)}


def add_satellite(
    session: Session,
    *,
    name: str,
    norad_id: int,
    daily_demand_s: float | None,
    imager: Imager | None,
    operators: dict[int, float],
) -> Satellite:
    """Add a satellite with its payload and its operators' fractions (not yet committed)."""
    satellite = Satellite(name=name, norad_id=norad_id, daily_demand_s=daily_demand_s)
    set_payload(satellite, imager)
    satellite.operators = [
        SatelliteOperator(partner_id=p, fraction=f) for p, f in operators.items()
    ]
    session.add(satellite)
    return satellite


def element_set_history(
    session: Session, satellite_id: int, *, raw: bool = False
) -> list[ElementSetRecord]:
    """Return every element set stored for the satellite, whatever its source, newest first.

    Newest epoch first; at one epoch the chosen set (the one predictions use) first,
    then the others, the latest arrived first. ``raw``: load each record as received
    too (left unread otherwise: it is the bulk of a set).
    """
    query = (
        select(ElementSetRecord)
        .where(ElementSetRecord.satellite_id == satellite_id)
        .order_by(
            ElementSetRecord.epoch.desc(),
            ElementSetRecord.chosen.desc(),
            ElementSetRecord.id.desc(),
        )
    )
    if not raw:
        query = query.options(defer(ElementSetRecord.raw))
    return list(session.scalars(query))


ELEMENT_UPLOAD_TRIES = 5
"""How often an upload is tried afresh when another one changed the satellite meanwhile."""


@dataclass(frozen=True)
class Arrival:
    """Where element sets come from: the source's kind and name, the preference, the time.

    ``order`` names the source kinds, preferred first (``Settings.source_order``).
    """

    source: str
    now: datetime
    kind: str = "upload"
    order: Sequence[str] = SOURCE_KINDS

    def rank(self, kind: str) -> int:
        """Return the kind's place in the order of preference (0: the most preferred)."""
        return self.order.index(kind) if kind in self.order else len(self.order)


def store_element_sets(
    session: Session,
    satellite: Satellite,
    sets: Sequence[Elements],
    arrival: Arrival,
    raws: Sequence[str | None] | None = None,
) -> int | None:
    """Add and commit the element sets the satellite lacks; return how many.

    The satellite's version moves on with every upload that stores a set, so that of
    two uploads at once the second finds the first's sets on its next try (already
    known: not stored twice). None: the satellite is gone. ``raws``: each set's record
    as received.
    """
    return _retried(
        session, satellite, lambda: _commit_element_sets(session, satellite, sets, arrival, raws)
    )


def _retried(session: Session, satellite: Satellite, write: Callable[[], T]) -> T | None:
    """Return what ``write`` committed, tried afresh while another writer changed the satellite.

    None: the satellite is gone.
    """
    for _ in range(ELEMENT_UPLOAD_TRIES - 1):
        try:
            return write()
        except (StaleDataError, IntegrityError):
            session.rollback()
            if not exists(session, Satellite, satellite.id):
                return None
            session.refresh(satellite)
    return write()


def _commit_element_sets(
    session: Session,
    satellite: Satellite,
    sets: Sequence[Elements],
    arrival: Arrival,
    raws: Sequence[str | None] | None,
) -> int:
    stored = add_element_sets(satellite, sets, arrival, raws)
    if stored:
        touch(satellite)
        record_event(
            session,
            EventKind.ELEMENTS_REFRESHED,
            at=arrival.now,
            satellite_id=satellite.id,
            payload={
                "satellite_id": satellite.id,
                "norad_id": satellite.norad_id,
                "stored": stored,
                "source": arrival.kind,
                "newest_epoch": max(s.epoch for s in sets).isoformat(),
            },
        )
    session.commit()
    return stored


def add_element_sets(
    satellite: Satellite,
    sets: Iterable[Elements],
    arrival: Arrival,
    raws: Sequence[str | None] | None = None,
) -> int:
    """Add the element sets the satellite lacks from this source's kind; return how many.

    A set of an epoch the satellite has from another kind is kept too; it becomes the
    chosen one (the one predictions use) when its kind is preferred to the chosen set's.
    """
    sets = list(sets)
    raws = list(raws) if raws is not None else [None] * len(sets)
    held: dict[datetime, list[ElementSetRecord]] = {}
    for record in _history(satellite):
        held.setdefault(record.epoch, []).append(record)
    stored = 0
    for elements, raw in zip(sets, raws, strict=True):
        there = held.setdefault(elements.epoch, [])
        if any(r.source_kind == arrival.kind for r in there):
            continue
        record = ElementSetRecord(
            epoch=elements.epoch,
            omm=elements.to_omm(),
            source=arrival.source,
            received_at=arrival.now,
            source_kind=arrival.kind,
            raw=raw,
        )
        _place(satellite, record, [r for r in there if r.chosen], arrival)
        there.append(record)
        stored += 1
    return stored


def _history(satellite: Satellite) -> list[ElementSetRecord]:
    """Return every set the store holds of the satellite, read afresh (none if it is new)."""
    session = object_session(satellite)
    if session is None or satellite.id is None:
        return list(satellite.element_sets)
    query = select(ElementSetRecord).where(ElementSetRecord.satellite_id == satellite.id)
    return list(session.scalars(query))


def _place(
    satellite: Satellite, record: ElementSetRecord, chosen: list[ElementSetRecord], arrival: Arrival
) -> None:
    """Add the record, chosen at its epoch when its kind is preferred to the chosen set's."""
    if chosen and arrival.rank(chosen[0].source_kind) <= arrival.rank(record.source_kind):
        record.chosen = False
        record.satellite_id = satellite.id
        session = object_session(satellite)
        assert session is not None
        session.add(record)
        return
    if chosen:
        chosen[0].chosen = False
        kept = [r for r in satellite.element_sets if r is not chosen[0]]
        set_committed_value(satellite, "element_sets", kept)
    record.chosen = True
    satellite.element_sets.append(record)


# --- ephemerides ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEphemeris:
    """An uploaded ephemeris as the store keeps it, and whether this upload added it."""

    record: EphemerisRecord
    new: bool


def store_ephemeris(
    session: Session, satellite: Satellite, ephemeris: Ephemeris, raw: str, arrival: Arrival
) -> StoredEphemeris | None:
    """Add and commit an ephemeris (an OEM, ``raw`` as received) of the satellite.

    The upload names the satellite: the OEM's OBJECT_ID need not be its catalog
    number. The same text uploaded again is not stored twice. The satellite's version
    moves on with a new one. None: the satellite is gone.
    """
    return _retried(
        session, satellite, lambda: _commit_ephemeris(session, satellite, ephemeris, raw, arrival)
    )


def _commit_ephemeris(
    session: Session, satellite: Satellite, ephemeris: Ephemeris, raw: str, arrival: Arrival
) -> StoredEphemeris:
    known = next((e for e in ephemerides(session, satellite.id) if e.raw == raw), None)
    if known is not None:
        return StoredEphemeris(known, new=False)
    start, end = ephemeris.coverage
    record = EphemerisRecord(
        source=arrival.source,
        received_at=arrival.now,
        created_at=ephemeris.created,
        coverage_start=start,
        coverage_end=end,
        frame=ephemeris.frame,
        raw=raw,
    )
    satellite.ephemerides.append(record)
    touch(satellite)
    session.commit()
    return StoredEphemeris(record, new=True)


def ephemerides(session: Session, satellite_id: int) -> list[EphemerisRecord]:
    """Return the satellite's ephemerides, by arrival."""
    query = (
        select(EphemerisRecord)
        .where(EphemerisRecord.satellite_id == satellite_id)
        .order_by(EphemerisRecord.id)
    )
    return list(session.scalars(query))


# --- what the service and the command line both change ---------------------------------


def change_partner(partner: Partner, changes: dict[str, Any]) -> None:
    """Apply changes to a partner (not committed); its agreement's version moves on with
    the contribution share it shows."""
    share = partner.contribution_share
    for field, value in changes.items():
        setattr(partner, field, value)
    if partner.agreement is not None and partner.contribution_share != share:
        touch(partner.agreement)


def change_agreement(session: Session, row: Agreement, changes: dict[str, Any]) -> None:
    """Apply changes to an agreement (not committed); its products' release times follow."""
    from jointsat.store.products import refresh_release_times

    for field, value in changes.items():
        setattr(row, field, value)
    if {"embargo_days", "public_release_days"} & set(changes):
        session.flush()
        refresh_release_times(session, [row.partner_id])


def add_user(
    session: Session, *, name: str, role: Role, partner_id: int | None, now: datetime
) -> User:
    """Add a user (not committed); refuse a partner that does not exist."""
    if partner_id is not None and by_id(session, Partner, partner_id) is None:
        raise StoreError(f"no partner with id {partner_id}")
    user = User(name=name, role=role, partner_id=partner_id, created_at=now)
    session.add(user)
    return user


def add_station(session: Session, fields: dict[str, Any]) -> GroundStation:
    """Add a station of a partner (not committed); refuse a partner that does not exist."""
    if by_id(session, Partner, fields["partner_id"]) is None:
        raise StoreError(f"no partner with id {fields['partner_id']}")
    station = GroundStation(**fields)
    session.add(station)
    return station


def record_unavailability(
    station: GroundStation,
    start: datetime,
    end: datetime,
    kind: UnavailabilityKind,
    reason: str,
    *,
    now: datetime,
) -> Unavailability:
    """Record a window in which the station cannot be used (not committed), and its
    ``station.outage`` event at ``now``; the station's version moves on."""
    window = Unavailability(start=start, end_at=end, kind=kind, reason=reason)
    station.unavailable.append(window)
    touch(station)
    session = object_session(station)
    if session is not None:
        record_event(
            session,
            EventKind.STATION_OUTAGE,
            at=now,
            station_id=station.id,
            payload={
                "station_id": station.id,
                "station": station.name,
                "kind": kind.value,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "reason": reason,
            },
        )
    return window


def station_kept(session: Session, station_id: int) -> tuple[str, list[int]]:
    """Return why a station with history may not be removed, and the ids of the
    schedules that have contacts at it (none: it may be removed)."""
    from jointsat.store.schedules import schedules_using_station

    used = schedules_using_station(session, station_id)
    listed = ", ".join(str(i) for i in used[:20]) + (", ..." if len(used) > 20 else "")
    refusal = (
        f"station {station_id} has contacts in schedules {listed}".rstrip()
        + "; it is kept with their history (record an unavailability to stop scheduling it)"
    )
    return refusal, used


@dataclass(frozen=True)
class ElementUpload:
    """What an element upload stored: sets new and known, or one ephemeris (an OEM)."""

    stored: int
    already_known: int
    ephemeris: StoredEphemeris | None = None


def store_upload(
    session: Session, satellite: Satellite, text: str, arrival: Arrival
) -> ElementUpload | None:
    """Store an element file (TLE, 3LE, OMM, or an OEM) of the satellite; None: it is gone.

    All or nothing: a malformed record, or one of another catalog number, raises
    ``ElementsError`` naming it, before anything is stored.
    """
    parsed = parse_elements(text, source=arrival.source, strict=True)
    if parsed.ephemerides:
        kept = store_ephemeris(session, satellite, parsed.ephemerides[0], text, arrival)
        if kept is None:
            return None
        return ElementUpload(int(kept.new), int(not kept.new), kept)
    foreign = [e for e in parsed.elements if e.norad_cat_id != satellite.norad_id]
    if foreign:
        raise ElementsError(
            f"{arrival.source}: catalog number {foreign[0].norad_cat_id} is not this "
            f"satellite's ({satellite.norad_id})"
        )
    stored = store_element_sets(session, satellite, parsed.elements, arrival)
    if stored is None:
        return None
    return ElementUpload(stored, len(parsed.elements) - stored)
