"""Keep the subscribers and the deliveries of events to them: the fan-out and the log.

Each subscription acts as the user who made it. The fan-out (``fan_out``) reads the
events a subscription has not yet considered (ids above its ``seen_event_id``), and
adds a ``pending`` delivery for each one its user may see (the rule is handed in:
``service.access.sees_event``) whose kind it asked for. Deliveries are then tried
when due (``due``, ``claim``) and their outcome kept (``record_outcome``): delivered,
tried again later, or given up after ``operations.signing.MAX_ATTEMPTS``. Everything
is in the store: a restart loses nothing, and of several processes one sends each.

On PostgreSQL ids are handed out before commit, so an event may become readable after
one with a higher id; the watermark therefore stops before a gap in the ids until the
events past it are ``GAP_GRACE`` old (the fan-out adds each delivery once: the pair
is unique).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from jointsat.archive.rights import ReleaseTimes
from jointsat.operations.events import EventKind
from jointsat.operations.signing import gives_up, retry_delay_s
from jointsat.store.consortium import satellite_visibilities, station_visibilities
from jointsat.store.tables import (
    Delivery,
    DeliveryStatus,
    EventRecord,
    GroundStation,
    Product,
    Satellite,
    Subscription,
    SubscriptionKind,
    User,
    Visibility,
)

GAP_GRACE = timedelta(seconds=60)
"""How long the fan-out waits for an event whose id was skipped to be committed."""

BATCH = 500
"""The most events one fan-out pass reads per subscription."""

CLAIM_LEASE = timedelta(minutes=5)
"""How long a claimed delivery is left to its sender before another may try it."""


def new_secret() -> str:
    """Return a fresh signing secret for a webhook (``whsec_`` and 32 random bytes)."""
    return "whsec_" + secrets.token_urlsafe(32)


# --- what the events are about, for the access rule -------------------------------------


@dataclass(frozen=True)
class EventSubjects:
    """The rows that events name, loaded at once, for ``service.access.sees_event``."""

    satellites: Mapping[int, Satellite]
    stations: Mapping[int, GroundStation]
    products: Mapping[str, tuple[tuple[int, ...], ReleaseTimes]]  # owners, release times
    station_visibility: dict[int, Visibility]
    satellite_visibility: dict[int, Visibility]


def event_subjects(session: Session, events: Iterable[EventRecord]) -> EventSubjects:
    """Return the satellites, stations and products (with the agreements) ``events`` name."""
    events = list(events)
    satellite_ids = {e.satellite_id for e in events if e.satellite_id is not None}
    station_ids = {e.station_id for e in events if e.station_id is not None}
    product_ids = {e.product_id for e in events if e.product_id is not None}
    satellites: dict[int, Satellite] = {}
    if satellite_ids:
        query = (
            select(Satellite)
            .where(Satellite.id.in_(satellite_ids))
            .options(selectinload(Satellite.operators))
        )
        satellites = {s.id: s for s in session.scalars(query)}
    stations: dict[int, GroundStation] = {}
    if station_ids:
        query_st = select(GroundStation).where(GroundStation.id.in_(station_ids))
        stations = {s.id: s for s in session.scalars(query_st)}
    products: dict[str, tuple[tuple[int, ...], ReleaseTimes]] = {}
    if product_ids:
        query_p = (
            select(Product).where(Product.id.in_(product_ids)).options(selectinload(Product.owners))
        )
        products = {
            p.id: (tuple(p.owner_ids), ReleaseTimes(p.members_from, p.public_from))
            for p in session.scalars(query_p)
        }
    return EventSubjects(
        satellites,
        stations,
        products,
        station_visibilities(session) if stations else {},
        satellite_visibilities(session) if satellites else {},
    )


Sees = Callable[[User, EventRecord, EventSubjects, datetime], bool]
"""The access rule for events (``service.access.sees_event``), handed in by the service."""


# --- events ------------------------------------------------------------------------------


def events_between(
    session: Session,
    after_id: int = 0,
    before_id: int | None = None,
    *,
    newest_first: bool = False,
    kinds: Sequence[str] | None = None,
    limit: int = BATCH,
) -> list[EventRecord]:
    """Return up to ``limit`` events with ids above ``after_id`` and below ``before_id``
    (None: any), oldest first or ``newest_first`` (``kinds``: those only)."""
    query = select(EventRecord).where(EventRecord.id > after_id)
    if before_id is not None:
        query = query.where(EventRecord.id < before_id)
    if kinds is not None:
        query = query.where(EventRecord.kind.in_(list(kinds)))
    order = EventRecord.id.desc() if newest_first else EventRecord.id
    return list(session.scalars(query.order_by(order).limit(limit)))


def last_event_id(session: Session) -> int:
    """Return the highest event id (0: none yet)."""
    return int(session.scalar(select(func.max(EventRecord.id))) or 0)


def document(event: EventRecord) -> dict[str, Any]:
    """Return an event as subscribers, the stream and the API receive it."""
    return {
        "id": event.id,
        "kind": event.kind,
        "at": event.at.isoformat().replace("+00:00", "Z"),
        "satellite_id": event.satellite_id,
        "station_id": event.station_id,
        "product_id": event.product_id,
        "partner_id": event.partner_id,
        "payload": event.payload,
    }


def body_of(event: EventRecord) -> bytes:
    """Return the JSON bytes a webhook sends (and signs) for the event."""
    return json.dumps(document(event), sort_keys=True, separators=(",", ":")).encode("utf-8")


# --- subscriptions -----------------------------------------------------------------------


def add_subscription(
    session: Session,
    user_id: int,
    kind: SubscriptionKind,
    target: str,
    kinds: Sequence[str] | None,
    now: datetime,
) -> Subscription:
    """Add a subscription (not committed); it hears of events recorded from now on.

    A webhook gets a fresh signing secret (``secret``), shown to its maker once.
    """
    row = Subscription(
        user_id=user_id,
        kind=kind,
        target=target,
        secret=new_secret() if kind is SubscriptionKind.WEBHOOK else None,
        kinds=None if kinds is None else list(kinds),
        created_at=now,
        seen_event_id=last_event_id(session),
    )
    session.add(row)
    return row


def subscriptions(session: Session, user_id: int | None = None) -> list[Subscription]:
    """Return the subscriptions (``user_id``'s only, when given), by id."""
    query = select(Subscription).order_by(Subscription.id)
    if user_id is not None:
        query = query.where(Subscription.user_id == user_id)
    return list(session.scalars(query))


def subscription(session: Session, subscription_id: int) -> Subscription | None:
    """Return the subscription, None when there is none of that id."""
    return session.get(Subscription, subscription_id)


def set_enabled(session: Session, row: Subscription, enabled: bool, now: datetime) -> None:
    """Enable or disable a subscription (not committed); enabled again, it hears of
    events from now on, not of those it missed."""
    if enabled and row.disabled_at is not None:
        row.disabled_at = None
        row.seen_event_id = last_event_id(session)
    elif not enabled and row.disabled_at is None:
        row.disabled_at = now


# --- the fan-out -------------------------------------------------------------------------


def _advance(seen: int, events: Sequence[EventRecord], now: datetime) -> int:
    """Return the new watermark past ``events`` (ids ascending): not past a young gap."""
    for event in events:
        if event.id != seen + 1 and event.at > now - GAP_GRACE:
            break
        seen = event.id
    return seen


def fan_out(session: Session, now: datetime, sees: Sees) -> int:
    """Add the deliveries the new events owe each enabled subscription; return how many.

    Committed per subscription; a subscription another process moved on meanwhile is
    left to it.
    """
    added = 0
    query = (
        select(Subscription)
        .join(User, Subscription.user_id == User.id)
        .where(Subscription.disabled_at.is_(None), User.disabled_at.is_(None))
        .options(selectinload(Subscription.user))
        .order_by(Subscription.id)
    )
    for row in list(session.scalars(query)):
        seen = row.seen_event_id
        read = events_between(session, seen)
        if not read:
            continue
        events = [e for e in read if e.kind != EventKind.PING.value]  # a ping is sent alone
        subjects = event_subjects(session, events)
        had = set(
            session.scalars(
                select(Delivery.event_id).where(
                    Delivery.subscription_id == row.id,
                    Delivery.event_id.in_([e.id for e in events]),
                )
            )
        )
        wanted = None if row.kinds is None else set(row.kinds)
        new = [
            Delivery(
                event_id=e.id,
                subscription_id=row.id,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
            )
            for e in events
            if e.id not in had
            and (wanted is None or e.kind in wanted)
            and sees(row.user, e, subjects, now)
        ]
        try:
            session.add_all(new)
            moved = session.execute(
                update(Subscription)
                .where(Subscription.id == row.id, Subscription.seen_event_id == seen)
                .values(seen_event_id=_advance(seen, read, now))
                .execution_options(synchronize_session=False)
            )
            if getattr(moved, "rowcount", 0) != 1:  # another process moved it on
                session.rollback()
                continue
            session.commit()
        except IntegrityError:  # another process fanned these out meanwhile
            session.rollback()
            continue
        added += len(new)
    return added


def add_ping(session: Session, row: Subscription, now: datetime) -> Delivery:
    """Record a ``ping`` event for this subscription alone and its delivery (not committed)."""
    event = EventRecord(
        at=now,
        kind=EventKind.PING.value,
        payload={"subscription_id": row.id, "message": "a test of this subscription"},
    )
    delivery = Delivery(
        event=event,
        subscription_id=row.id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    session.add_all([event, delivery])
    return delivery


# --- deliveries --------------------------------------------------------------------------


def due(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Return the ids of the pending deliveries due at ``now``, oldest first."""
    query = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim(session: Session, delivery_id: int, now: datetime) -> Delivery | None:
    """Take a due delivery to send it (committed), with its event and subscription.

    None: not due any more (another process took it, or it was settled). A claimed
    delivery is due again after ``CLAIM_LEASE`` should its sender stop before settling it.
    """
    taken = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if getattr(taken, "rowcount", 0) != 1:
        return None
    return session.scalars(
        select(Delivery)
        .where(Delivery.id == delivery_id)
        .options(
            selectinload(Delivery.event),
            selectinload(Delivery.subscription).selectinload(Subscription.user),
        )
    ).one()


@dataclass(frozen=True)
class Outcome:
    """What one try of a delivery gave: delivered, or why not."""

    delivered: bool
    response_status: int | None = None  # the HTTP status (None: no answer, or apprise)
    error: str | None = None


def record_outcome(
    session: Session, delivery_id: int, outcome: Outcome, now: datetime
) -> Delivery | None:
    """Keep a try's outcome (committed): delivered, due again after the back-off, or given
    up. None: the delivery is gone (its subscription was removed while it was sent)."""
    row = session.get(Delivery, delivery_id)
    if row is None:
        return None
    row.attempts += 1
    row.last_attempt_at = now
    row.response_status = outcome.response_status
    row.error = None if outcome.error is None else outcome.error[:2000]
    if outcome.delivered:
        row.status = DeliveryStatus.DELIVERED
        row.delivered_at = now
        row.next_attempt_at = None
    elif gives_up(row.attempts):
        row.status = DeliveryStatus.FAILED
        row.next_attempt_at = None
    else:
        row.next_attempt_at = now + timedelta(seconds=retry_delay_s(row.attempts))
    session.commit()
    return row


def give_up(session: Session, delivery_id: int, reason: str, now: datetime) -> None:
    """Settle a delivery as failed without sending it (committed): ``reason`` says why."""
    row = session.get(Delivery, delivery_id)
    if row is None:
        return
    row.status = DeliveryStatus.FAILED
    row.error = reason
    row.last_attempt_at = now
    row.next_attempt_at = None
    session.commit()


def delivery_log(
    session: Session,
    subscription_id: int,
    *,
    status: DeliveryStatus | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """Return a subscription's deliveries, newest event first, with their events."""
    query = (
        select(Delivery)
        .where(Delivery.subscription_id == subscription_id)
        .options(selectinload(Delivery.event))
        .order_by(Delivery.event_id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    return list(session.scalars(query))


def user_of(session: Session, user_id: int) -> User | None:
    """Return the user (None: gone)."""
    return session.get(User, user_id)
