"""Keep the element sources' state in the store, so that their rules hold across processes.

A source may be blocked (it answered an error: an operator must unblock it), its
queries' last answers are kept with their validators (so that a query is not sent
again too soon, and is sent conditionally when it is), and every request sent to it is
logged (so that its per-minute and per-hour limits are counted by every process).
The callers (``jointsat.sources``) decide what the rules are; this module only reads
and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from jointsat.store.tables import (
    ElementSetRecord,
    Satellite,
    SourceQuery,
    SourceRequest,
    SourceState,
)

REQUEST_LOG_KEPT = timedelta(hours=2)  # requests older than this count for no limit: forgotten


def source_state(session: Session, source: str, *, lock: bool = False) -> SourceState:
    """Return the source's state row, added when missing; ``lock``: hold it until commit.

    Locking (``SELECT ... FOR UPDATE`` where the database has it) makes the processes
    that count a source's requests take turns.
    """
    query = select(SourceState).where(SourceState.source == source)
    if lock:
        query = query.with_for_update()
    state = session.scalars(query).one_or_none()
    if state is None:
        state = SourceState(source=source, blocked_reason="", refresh_summary="")
        session.add(state)
        session.flush()
    return state


def source_states(session: Session) -> list[SourceState]:
    """Return every source's state that the store holds, by name."""
    return list(session.scalars(select(SourceState).order_by(SourceState.source)))


def block(session: Session, source: str, reason: str, now: datetime) -> None:
    """Block the source (until ``unblock``) and commit at once, whatever else fails after."""
    state = source_state(session, source)
    state.blocked_at = now
    state.blocked_reason = reason
    session.commit()


def unblock(session: Session, source: str) -> bool:
    """Clear the source's block and commit; return whether it was blocked."""
    state = source_state(session, source)
    was = state.blocked_at is not None
    state.blocked_at = None
    state.blocked_reason = ""
    session.commit()
    return was


def record_refresh(session: Session, source: str, summary: str, now: datetime) -> None:
    """Remember the source's last refresh (when, and what it did) and commit."""
    state = source_state(session, source)
    state.refreshed_at = now
    state.refresh_summary = summary
    session.commit()


def cached_query(session: Session, source: str, query: str) -> SourceQuery | None:
    """Return what the store knows of a query of the source, None if it was never sent."""
    found = select(SourceQuery).where(SourceQuery.source == source, SourceQuery.query == query)
    return session.scalars(found).one_or_none()


def mark_asked(session: Session, source: str, query: str, now: datetime) -> SourceQuery:
    """Record that the query is being sent now, and commit (before the answer comes)."""
    row = cached_query(session, source, query)
    if row is None:
        row = SourceQuery(source=source, query=query, asked_at=now)
        session.add(row)
    row.asked_at = now
    session.commit()
    return row


@dataclass(frozen=True)
class Validators:
    """What a server said of an answer, to ask for it again only if it changed."""

    etag: str | None = None
    last_modified: str | None = None


def keep_answer(row: SourceQuery, body: str, validators: Validators, now: datetime) -> None:
    """Keep a query's answer (its body and validators), not yet committed."""
    row.body = body
    row.answered_at = now
    row.etag = validators.etag
    row.last_modified = validators.last_modified


def requests_since(session: Session, source: str, since: datetime) -> int:
    """Return how many requests were sent to the source since the time."""
    query = select(func.count()).where(SourceRequest.source == source, SourceRequest.at > since)
    return int(session.scalar(query) or 0)


def log_request(session: Session, source: str, now: datetime) -> None:
    """Log a request to the source, forget requests too old to count, and commit."""
    session.add(SourceRequest(source=source, at=now))
    old = now - REQUEST_LOG_KEPT
    session.execute(
        delete(SourceRequest).where(SourceRequest.source == source, SourceRequest.at < old)
    )
    session.commit()


def element_history(
    session: Session, norad_id: int | None = None
) -> list[tuple[Satellite, ElementSetRecord]]:
    """Return every stored element set with its satellite (only ``norad_id``'s), by satellite
    then epoch, whatever its source."""
    only = [] if norad_id is None else [Satellite.norad_id == norad_id]
    query = (
        select(Satellite, ElementSetRecord)
        .join(ElementSetRecord, ElementSetRecord.satellite_id == Satellite.id)
        .where(*only)
        .order_by(Satellite.norad_id, ElementSetRecord.epoch, ElementSetRecord.id)
    )
    return [(s, e) for s, e in session.execute(query)]
