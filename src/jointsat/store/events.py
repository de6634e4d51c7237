"""Record events (``jointsat.operations.events``) for the stream and the subscribers.

Every workflow that makes something partners may be told of calls :func:`record_event`
in the same transaction as the change, so an event exists exactly when its change does.
Delivery (``jointsat.store.deliveries``, the service's notifier) reads them afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from jointsat.operations.events import EventKind
from jointsat.store.tables import EventRecord


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
