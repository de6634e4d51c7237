"""The contact lifecycle: where a scheduled contact stands, and who may move it where.

A contact of a schedule is ``scheduled``; its station's owner ``confirm``-s or
``cancel``-s it; the station reports its ``start`` (``executing``), its ``end``
(``completed``, with the bytes received) or its failure (``failed``, with a reason).
``completed``, ``failed`` and ``cancelled`` are terminal: nothing moves a contact out
of them. The moves and who makes them:

========  =========================  ==========  =========================
move      from                       to          by
========  =========================  ==========  =========================
confirm   scheduled                  confirmed   the station's operators
cancel    scheduled, confirmed       cancelled   the station's operators
start     scheduled, confirmed       executing   the station, its operators
end       executing                  completed   the station, its operators
fail      scheduled, confirmed,      failed      the station, its operators
          executing
========  =========================  ==========  =========================

("the station's operators": its owner's operators and the consortium admin; "the
station": a station token, ``jointsat.service.tokens``.) The station's reports carry
their own times: a start or an end lies within the contact's span widened by
:data:`REPORT_MARGIN_S`, none lies more than :data:`CLOCK_SLACK_S` after ``now``, an
end (or a failure once started) is not before the start. Pure: ``now`` is an argument.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from jointsat.errors import ContactReportError, ContactStateError

REPORT_MARGIN_S = 3600.0
"""How far (s) before a contact's start or after its end a reported start or end may lie."""
CLOCK_SLACK_S = 60.0
"""How far (s) ahead of the service's clock a station's report may be (its clock runs fast)."""
MAX_REASON_CHARS = 2000


class ContactState(enum.StrEnum):
    """Say where a scheduled contact stands (this module moves it)."""

    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"  # by the station's owner
    EXECUTING = "executing"  # the station reported its start
    COMPLETED = "completed"  # the station reported its end
    FAILED = "failed"  # with a reason; the schedule is re-planned around it
    CANCELLED = "cancelled"


class Move(enum.StrEnum):
    """Name a move of the lifecycle (the station's reports: start, end, fail)."""

    CONFIRM = "confirm"
    CANCEL = "cancel"
    START = "start"
    END = "end"
    FAIL = "fail"


class Actor(enum.StrEnum):
    """Say who moves a contact: the station's operators (or the admin), or the station."""

    OPERATOR = "operator"
    STATION = "station"


TERMINAL: frozenset[ContactState] = frozenset(
    {ContactState.COMPLETED, ContactState.FAILED, ContactState.CANCELLED}
)
"""States no move leaves."""
LOST: frozenset[ContactState] = frozenset({ContactState.FAILED, ContactState.CANCELLED})
"""States of a contact that delivers nothing: a re-plan neither keeps nor re-uses its pass."""

TARGET: Mapping[Move, ContactState] = {
    Move.CONFIRM: ContactState.CONFIRMED,
    Move.CANCEL: ContactState.CANCELLED,
    Move.START: ContactState.EXECUTING,
    Move.END: ContactState.COMPLETED,
    Move.FAIL: ContactState.FAILED,
}
SOURCES: Mapping[Move, frozenset[ContactState]] = {
    Move.CONFIRM: frozenset({ContactState.SCHEDULED}),
    Move.CANCEL: frozenset({ContactState.SCHEDULED, ContactState.CONFIRMED}),
    Move.START: frozenset({ContactState.SCHEDULED, ContactState.CONFIRMED}),
    Move.END: frozenset({ContactState.EXECUTING}),
    Move.FAIL: frozenset({ContactState.SCHEDULED, ContactState.CONFIRMED, ContactState.EXECUTING}),
}
ACTORS: Mapping[Move, frozenset[Actor]] = {
    Move.CONFIRM: frozenset({Actor.OPERATOR}),
    Move.CANCEL: frozenset({Actor.OPERATOR}),
    Move.START: frozenset({Actor.OPERATOR, Actor.STATION}),
    Move.END: frozenset({Actor.OPERATOR, Actor.STATION}),
    Move.FAIL: frozenset({Actor.OPERATOR, Actor.STATION}),
}


def transitions() -> dict[ContactState, frozenset[ContactState]]:
    """Return every state's possible next states (none for a terminal state)."""
    found: dict[ContactState, set[ContactState]] = {s: set() for s in ContactState}
    for move, sources in SOURCES.items():
        for source in sources:
            found[source].add(TARGET[move])
    return {s: frozenset(t) for s, t in found.items()}


def may(actor: Actor, move: Move) -> bool:
    """Return whether ``actor`` may make ``move`` at all (whatever the state)."""
    return actor in ACTORS[move]


@dataclass(frozen=True)
class Lifecycle:
    """A contact's lifecycle: its state, why (a failure's reason) and the station's reports.

    ``changed_at``: when the state last changed (the service's clock); ``started_at``
    and ``ended_at``: as the station reported them; ``bytes_received``: its count.
    """

    state: ContactState = ContactState.SCHEDULED
    reason: str | None = None
    changed_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    bytes_received: int | None = None


@dataclass(frozen=True)
class Report:
    """What comes with a move: the reported time (start, end, failure), bytes, a reason."""

    at: datetime | None = None
    bytes_received: int | None = None
    reason: str | None = None


def advance(
    life: Lifecycle,
    move: Move,
    actor: Actor,
    report: Report,
    *,
    span: tuple[datetime, datetime],
    now: datetime,
) -> Lifecycle:
    """Return the lifecycle after ``move`` by ``actor`` at ``now``, of a contact over ``span``.

    Raise ``ContactStateError`` for a move the state or the actor does not allow, and
    ``ContactReportError`` for a report that cannot be (module docstring: the rules).
    """
    if not may(actor, move):
        raise ContactStateError(f"a {actor.value} may not {move.value} a contact")
    if life.state not in SOURCES[move]:
        allowed = sorted(m.value for m, sources in SOURCES.items() if life.state in sources)
        raise ContactStateError(
            f"a {life.state.value} contact cannot {move.value}"
            + (f" (it may: {', '.join(allowed)})" if allowed else " (its state is final)")
        )
    _check_report(move, report, life, span, now)
    at = report.at if report.at is not None else now
    changed = replace(life, state=TARGET[move], changed_at=now)
    if move is Move.START:
        return replace(changed, started_at=at, reason=None)
    if move is Move.END:
        return replace(changed, ended_at=at, bytes_received=report.bytes_received, reason=None)
    if move is Move.FAIL:
        return replace(
            changed,
            reason=(report.reason or "").strip(),
            ended_at=at if life.started_at is not None else None,
            bytes_received=report.bytes_received,
        )
    return replace(changed, reason=(report.reason or "").strip() or None)


def _check_report(
    move: Move,
    report: Report,
    life: Lifecycle,
    span: tuple[datetime, datetime],
    now: datetime,
) -> None:
    """Refuse a report that cannot be: times, bytes and reasons out of place or of range."""
    if report.at is not None:
        if report.at.tzinfo is None:
            raise ContactReportError("the report's time needs a time zone (UTC)", location="at")
        if report.at > now + timedelta(seconds=CLOCK_SLACK_S):
            raise ContactReportError(
                f"the report's time {report.at.isoformat()} is in the future"
                f" (now {now.isoformat()})",
                location="at",
            )
    if move in (Move.START, Move.END) and report.at is not None:
        margin = timedelta(seconds=REPORT_MARGIN_S)
        if not span[0] - margin <= report.at <= span[1] + margin:
            raise ContactReportError(
                f"a {move.value} at {report.at.isoformat()} is outside the contact"
                f" ({span[0].isoformat()} to {span[1].isoformat()}, give or take"
                f" {REPORT_MARGIN_S:g} s)",
                location="at",
            )
    at = report.at if report.at is not None else now
    if move in (Move.END, Move.FAIL) and life.started_at is not None and at < life.started_at:
        raise ContactReportError(
            f"the {move.value} ({at.isoformat()}) is before the reported start"
            f" ({life.started_at.isoformat()})",
            location="at",
        )
    if report.bytes_received is not None:
        if move not in (Move.END, Move.FAIL):
            raise ContactReportError(
                "bytes_received comes with an end or a failure", location="bytes_received"
            )
        if report.bytes_received < 0:
            raise ContactReportError("bytes_received cannot be negative", location="bytes_received")
    reason = (report.reason or "").strip()
    if move is Move.FAIL and not reason:
        raise ContactReportError("a failure needs a reason", location="reason")
    if reason and move not in (Move.FAIL, Move.CANCEL):
        raise ContactReportError(
            "a reason comes with a failure or a cancellation", location="reason"
        )
    if len(reason) > MAX_REASON_CHARS:
        raise ContactReportError(
            f"the reason is longer than {MAX_REASON_CHARS} characters", location="reason"
        )
