"""Record events (``jointsat.operations.events``) for the stream and the subscribers.

Every workflow that makes something partners may be told of calls :func:`record_event`
in the same transaction as the change, so an event exists exactly when its change does.
Delivery (``jointsat.store.deliveries``, the service's notifier) reads them afterwards.
What follows from time passing alone (a product's release from embargo, elements
going stale) is recorded by the notifier's passes (``emit_releases``, ``emit_stale``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from jointsat.constants import LEO_MAX_ECCENTRICITY, LEO_MIN_MEAN_MOTION_REV_PER_DAY
from jointsat.operations.events import EventKind
from jointsat.orbits.freshness import StaleRule
from jointsat.store.tables import ElementSetRecord, EventRecord, Product


def record_event(
    session: Session,
    kind: EventKind,
    *,
    at: datetime,
    payload: dict[str, Any],
    satellite_id: int | None = None,
    station_id: int | None = None,
    product_id: str | None = None,
    partner_id: int | None = None,
) -> EventRecord:
    """Add an event about what the ids name; it is committed with the caller's change.

    ``partner_id``: a matter of that partner only (its analysis run, its tally); the
    satellite, station and product ids decide who else may see it.
    """
    event = EventRecord(
        at=at,
        kind=kind.value,
        satellite_id=satellite_id,
        station_id=station_id,
        product_id=product_id,
        partner_id=partner_id,
        payload=payload,
    )
    session.add(event)
    return event


# --- events that follow from time passing: releases from embargo, stale elements ---------


def emit_releases(session: Session, now: datetime) -> int:
    """Record ``product.released`` for each product whose embargo or public release
    passed by ``now`` and was not yet told (not committed); return how many.

    A release is told once, at its time (``at``: ``members_from`` or ``public_from``),
    and only when it came after the product was archived (otherwise its
    ``product.archived`` reached the same users). The latest release told is the
    watermark: only releases since then are looked for.
    """
    told_until = session.scalar(
        select(func.max(EventRecord.at)).where(EventRecord.kind == EventKind.PRODUCT_RELEASED)
    )
    members = and_(Product.members_from > Product.ingested_at, Product.members_from <= now)
    public = and_(
        Product.public_from.is_not(None),
        Product.public_from > Product.ingested_at,
        Product.public_from > Product.members_from,
        Product.public_from <= now,
    )
    if told_until is not None:
        members = and_(members, Product.members_from >= told_until)
        public = and_(public, Product.public_from >= told_until)
    candidates = list(session.scalars(select(Product).where(or_(members, public))))
    if not candidates:
        return 0
    told = {
        (e.product_id, str(e.payload.get("release")))
        for e in session.scalars(
            select(EventRecord).where(
                EventRecord.kind == EventKind.PRODUCT_RELEASED,
                EventRecord.product_id.in_([p.id for p in candidates]),
            )
        )
    }
    added = 0
    for product in candidates:
        for release, at in (("members", product.members_from), ("public", product.public_from)):
            if at is None or not (product.ingested_at < at <= now) or (product.id, release) in told:
                continue
            if release == "public" and at <= product.members_from:
                continue
            if told_until is not None and at < told_until:
                continue
            record_event(
                session,
                EventKind.PRODUCT_RELEASED,
                at=at,
                satellite_id=product.satellite_id,
                product_id=product.id,
                payload={
                    "product_id": product.id,
                    "release": release,
                    "instrument": product.instrument,
                    "acquired_start": product.acquired_start.isoformat(),
                },
            )
            added += 1
    return added


def emit_stale(session: Session, now: datetime, rule: StaleRule) -> int:
    """Record ``elements.stale`` for each satellite whose newest element set is past the
    rule's age at ``now`` (not committed); return how many.

    Told once per newest set: not again until a newer set has arrived (and gone stale).
    """
    newest = (
        select(ElementSetRecord.satellite_id, func.max(ElementSetRecord.epoch).label("epoch"))
        .where(ElementSetRecord.chosen)
        .group_by(ElementSetRecord.satellite_id)
        .subquery()
    )
    rows = session.scalars(
        select(ElementSetRecord).join(
            newest,
            and_(
                ElementSetRecord.satellite_id == newest.c.satellite_id,
                ElementSetRecord.epoch == newest.c.epoch,
                ElementSetRecord.chosen,
            ),
        )
    )
    told: dict[int | None, datetime] = {
        satellite_id: at
        for satellite_id, at in session.execute(
            select(EventRecord.satellite_id, func.max(EventRecord.at))
            .where(EventRecord.kind == EventKind.ELEMENTS_STALE)
            .group_by(EventRecord.satellite_id)
        )
    }
    added = 0
    for record in rows:
        age_days = (now - record.epoch).total_seconds() / 86400.0
        leo = (
            float(record.omm.get("MEAN_MOTION", 0.0)) > LEO_MIN_MEAN_MOTION_REV_PER_DAY
            and float(record.omm.get("ECCENTRICITY", 1.0)) < LEO_MAX_ECCENTRICITY
        )
        limit_days = rule.leo_days if leo else rule.above_leo_days
        last = told.get(record.satellite_id)
        if age_days <= limit_days or (last is not None and last >= record.received_at):
            continue
        record_event(
            session,
            EventKind.ELEMENTS_STALE,
            at=now,
            satellite_id=record.satellite_id,
            payload={
                "satellite_id": record.satellite_id,
                "norad_id": record.omm.get("NORAD_CAT_ID"),
                "epoch": record.epoch.isoformat(),
                "age_days": round(age_days, 3),
                "stale_after_days": limit_days,
            },
        )
        told[record.satellite_id] = now
        added += 1
    return added
