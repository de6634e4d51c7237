"""Keep the contacts' lifecycle: find contacts, move them, carry them into re-plans, tally them.

A contact moves by ``jointsat.operations.lifecycle``'s rules; every move is recorded
as an event (``contact.state``) in the same transaction as the change. A schedule that
is re-planned (``store.schedules.replan_network``) is replaced, not changed: the new
schedule's contacts that use the same pass as one of the old carry its lifecycle over,
and the old schedule's failed and cancelled contacts are carried over as they are (their
passes are neither kept nor used again). So a contact acted on in a replaced schedule
is acted on in its newest version (:func:`newest_version`), and a schedule's tally
holds its failures.

``current`` schedules are those no schedule replaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from jointsat.archive.rights import Caller
from jointsat.operations.events import EventKind
from jointsat.operations.lifecycle import (
    LOST,
    Actor,
    ContactState,
    Lifecycle,
    Move,
    Report,
    advance,
)
from jointsat.store.events import record_event
from jointsat.store.products import visible_to
from jointsat.store.tables import ContactRecord, Product, Satellite, ScheduleRecord


@dataclass(frozen=True)
class ContactQuery:
    """Which contacts to list: every filter given must hold (None: any).

    ``ends_after`` and ``starts_before`` bound the contacts' spans; ``current``: only
    contacts of schedules no other replaces.
    """

    schedule_id: int | None = None
    station_id: int | None = None
    satellite_id: int | None = None
    state: ContactState | None = None
    ends_after: datetime | None = None
    starts_before: datetime | None = None
    current: bool = False


def _loaded(query: Select[ContactRecord]) -> Select[ContactRecord]:
    return query.options(
        selectinload(ContactRecord.station),
        selectinload(ContactRecord.satellite).selectinload(Satellite.operators),
        selectinload(ContactRecord.schedule),
    )


def replaced_ids() -> Select[int | None]:
    """Return the query of the ids of the schedules that another replaces."""
    return select(ScheduleRecord.replaces_id).where(ScheduleRecord.replaces_id.is_not(None))


def find_contacts(session: Session, query: ContactQuery) -> list[ContactRecord]:
    """Return the contacts the query selects, by start, station and satellite."""
    found = select(ContactRecord)
    if query.schedule_id is not None:
        found = found.where(ContactRecord.schedule_id == query.schedule_id)
    if query.station_id is not None:
        found = found.where(ContactRecord.station_id == query.station_id)
    if query.satellite_id is not None:
        found = found.where(ContactRecord.satellite_id == query.satellite_id)
    if query.state is not None:
        found = found.where(ContactRecord.state == query.state)
    if query.ends_after is not None:
        found = found.where(ContactRecord.end_at > query.ends_after)
    if query.starts_before is not None:
        found = found.where(ContactRecord.start < query.starts_before)
    if query.current:
        found = found.where(ContactRecord.schedule_id.not_in(replaced_ids()))
    ordered = found.order_by(
        ContactRecord.start, ContactRecord.station_id, ContactRecord.satellite_id, ContactRecord.id
    )
    return list(session.scalars(_loaded(ordered)))


def load_contact(session: Session, contact_id: int) -> ContactRecord | None:
    """Return the contact with its station, satellite (and operators) and schedule."""
    query = _loaded(select(ContactRecord).where(ContactRecord.id == contact_id))
    return session.scalars(query).one_or_none()


def current_schedule_ids(session: Session) -> list[int]:
    """Return the ids of the schedules no schedule replaces, in order."""
    query = (
        select(ScheduleRecord.id)
        .where(ScheduleRecord.id.not_in(replaced_ids()))
        .order_by(ScheduleRecord.id)
    )
    return list(session.scalars(query))


def same_contact(
    candidates: Iterable[ContactRecord], contact: ContactRecord
) -> ContactRecord | None:
    """Return the candidate using the same pass as ``contact``: its satellite and station,
    overlapping it most (new element sets shift a pass by seconds); None if none overlaps."""
    best, most = None, 0.0
    for c in candidates:
        if (c.satellite_id, c.station_id) != (contact.satellite_id, contact.station_id):
            continue
        overlap = (min(c.end_at, contact.end_at) - max(c.start, contact.start)).total_seconds()
        if overlap > most:
            best, most = c, overlap
    return best


def newest_version(session: Session, contact: ContactRecord) -> ContactRecord | None:
    """Return the contact as the newest schedule replacing its own has it (itself if current).

    None: a re-plan dropped its pass (it is in no later schedule).
    """
    seen = {contact.schedule_id}
    while True:
        successor = session.scalars(
            select(ScheduleRecord)
            .where(ScheduleRecord.replaces_id == contact.schedule_id)
            .order_by(ScheduleRecord.id.desc())
            .options(selectinload(ScheduleRecord.contacts))
        ).first()
        if successor is None or successor.id in seen:
            return contact
        seen.add(successor.id)
        found = same_contact(successor.contacts, contact)
        if found is None:
            return None
        loaded = load_contact(session, found.id)
        assert loaded is not None
        contact = loaded


def lifecycle_of(record: ContactRecord) -> Lifecycle:
    """Return the contact's lifecycle, as ``operations.lifecycle`` moves it."""
    return Lifecycle(
        state=ContactState(record.state),
        reason=record.state_reason,
        changed_at=record.state_changed_at,
        started_at=record.started_at,
        ended_at=record.ended_at,
        bytes_received=record.bytes_received,
    )


def _set_lifecycle(record: ContactRecord, life: Lifecycle) -> None:
    record.state = life.state
    record.state_reason = life.reason
    record.state_changed_at = life.changed_at
    record.started_at = life.started_at
    record.ended_at = life.ended_at
    record.bytes_received = life.bytes_received


def move_contact(
    session: Session,
    record: ContactRecord,
    move: Move,
    actor: Actor,
    report: Report,
    *,
    now: datetime,
) -> ContactRecord:
    """Move the contact (``operations.lifecycle.advance``) and record the event; not committed.

    Raise ``ContactStateError`` or ``ContactReportError`` as ``advance`` does; then
    nothing changes. The contact is read again, locked (where the store locks rows), so
    that two moves at once are made one after the other, the second by the first's state.
    """
    session.flush()  # this session's own changes, which the refresh below reads back
    session.refresh(record, with_for_update=True)  # another move waits, then sees this one's
    before = ContactState(record.state)
    after = advance(
        lifecycle_of(record), move, actor, report, span=(record.start, record.end_at), now=now
    )
    _set_lifecycle(record, after)
    record_event(
        session,
        EventKind.CONTACT_STATE,
        at=now,
        payload={
            "contact_id": record.id,
            "schedule_id": record.schedule_id,
            "satellite_id": record.satellite_id,
            "station_id": record.station_id,
            "start": record.start.isoformat(),
            "end": record.end_at.isoformat(),
            "move": move.value,
            "by": actor.value,
            "previous_state": before.value,
            "state": after.state.value,
            "reason": after.reason,
            "started_at": None if after.started_at is None else after.started_at.isoformat(),
            "ended_at": None if after.ended_at is None else after.ended_at.isoformat(),
            "bytes_received": after.bytes_received,
        },
        satellite_id=record.satellite_id,
        station_id=record.station_id,
    )
    return record


def lost_contacts(schedule: ScheduleRecord) -> list[ContactRecord]:
    """Return the schedule's failed and cancelled contacts: a re-plan neither keeps nor re-uses
    their passes."""
    return [c for c in schedule.contacts if ContactState(c.state) in LOST]


def carry_over(previous: ScheduleRecord, record: ScheduleRecord) -> None:
    """Carry the lifecycle of ``previous``'s contacts into its re-plan ``record``.

    A contact of ``record`` using the same pass as a live contact of ``previous``
    takes its lifecycle (state, reason, reports); ``previous``'s failed and cancelled
    contacts are added to ``record`` as they are, so that its tally holds them.
    """
    live = [c for c in previous.contacts if ContactState(c.state) not in LOST]
    for new in record.contacts:
        old = same_contact(live, new)
        if old is not None:
            _set_lifecycle(new, lifecycle_of(old))
    for old in lost_contacts(previous):
        copy = ContactRecord(
            satellite_id=old.satellite_id,
            station_id=old.station_id,
            start=old.start,
            end_at=old.end_at,
            max_elevation_deg=old.max_elevation_deg,
        )
        _set_lifecycle(copy, lifecycle_of(old))
        record.contacts.append(copy)


def lineage(session: Session, record: ContactRecord) -> list[int]:
    """Return the ids of the contact and of its earlier versions, in the schedules it replaced."""
    ids = [record.id]
    schedule_id = record.schedule.replaces_id
    seen = {record.schedule_id}
    while schedule_id is not None and schedule_id not in seen:
        seen.add(schedule_id)
        earlier = session.scalars(
            select(ScheduleRecord)
            .where(ScheduleRecord.id == schedule_id)
            .options(selectinload(ScheduleRecord.contacts))
        ).one_or_none()
        if earlier is None:
            break
        found = same_contact(earlier.contacts, record)
        if found is not None:
            ids.append(found.id)
        schedule_id = earlier.replaces_id
    return ids


def linked_products(
    session: Session, record: ContactRecord, caller: Caller, now: datetime
) -> list[str]:
    """Return the ids of the products archived from the contact (or an earlier version of it)
    that the caller may see, by acquisition."""
    query = (
        select(Product.id)
        .where(Product.contact_id.in_(lineage(session, record)), visible_to(caller, now))
        .order_by(Product.acquired_start, Product.id)
    )
    return list(session.scalars(query))


# --- the tally: planned against delivered --------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """A partner's contacts in some schedules: planned against delivered.

    Counts are whole contacts of the satellites it operates; seconds and bytes are its
    share of them (its operating fraction, as the schedule's fairness counts time).
    ``planned``: every contact not cancelled (delivered, failed and still to come);
    planned seconds are the contacts' spans, delivered seconds the station's reported
    start to end.
    """

    partner_id: int
    schedule_ids: tuple[int, ...]
    planned_contacts: int
    planned_s: float
    delivered_contacts: int
    delivered_s: float
    delivered_bytes: float
    failed_contacts: int
    failed_s: float
    cancelled_contacts: int
    pending_contacts: int


def tally(session: Session, partner_id: int, schedule_ids: Sequence[int]) -> Tally:
    """Return the partner's tally over the schedules' contacts."""
    rows = session.scalars(
        select(ContactRecord)
        .where(ContactRecord.schedule_id.in_(list(schedule_ids)))
        .options(selectinload(ContactRecord.satellite).selectinload(Satellite.operators))
    )
    counts = dict.fromkeys(("planned", "delivered", "failed", "cancelled", "pending"), 0)
    planned_s = delivered_s = delivered_bytes = failed_s = 0.0
    for c in rows:
        fraction = sum(o.fraction for o in c.satellite.operators if o.partner_id == partner_id)
        if not any(o.partner_id == partner_id for o in c.satellite.operators):
            continue
        state = ContactState(c.state)
        span_s = (c.end_at - c.start).total_seconds()
        if state is ContactState.CANCELLED:
            counts["cancelled"] += 1
            continue
        counts["planned"] += 1
        planned_s += fraction * span_s
        if state is ContactState.COMPLETED:
            counts["delivered"] += 1
            if c.started_at is not None and c.ended_at is not None:  # always, by the lifecycle
                delivered_s += fraction * (c.ended_at - c.started_at).total_seconds()
            delivered_bytes += fraction * (c.bytes_received or 0)
        elif state is ContactState.FAILED:
            counts["failed"] += 1
            failed_s += fraction * span_s
        else:
            counts["pending"] += 1
    return Tally(
        partner_id=partner_id,
        schedule_ids=tuple(schedule_ids),
        planned_contacts=counts["planned"],
        planned_s=planned_s,
        delivered_contacts=counts["delivered"],
        delivered_s=delivered_s,
        delivered_bytes=delivered_bytes,
        failed_contacts=counts["failed"],
        failed_s=failed_s,
        cancelled_contacts=counts["cancelled"],
        pending_contacts=counts["pending"],
    )


def feed_contacts(
    session: Session,
    *,
    since: datetime,
    station_id: int | None = None,
    partner_id: int | None = None,
) -> list[ContactRecord]:
    """Return a calendar feed's contacts: of the current schedules, ending after ``since``.

    ``station_id``: only over that station; ``partner_id``: over the partner's stations
    or of satellites it operates. A pass in several current schedules is given once,
    from the newest.
    """
    found = find_contacts(
        session, ContactQuery(station_id=station_id, ends_after=since, current=True)
    )
    if partner_id is not None:
        found = [
            c
            for c in found
            if c.station.partner_id == partner_id
            or any(o.partner_id == partner_id for o in c.satellite.operators)
        ]
    newest: dict[tuple[int, int, datetime], ContactRecord] = {}
    for c in found:
        key = (c.satellite_id, c.station_id, c.start)
        if key not in newest or newest[key].schedule_id < c.schedule_id:
            newest[key] = c
    return [c for c in found if newest[(c.satellite_id, c.station_id, c.start)] is c]
