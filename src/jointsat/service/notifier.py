"""Tell the subscribers of events: fan out, send what is due, retry with back-off.

A pass (``deliver_due``) records what time alone makes happen (products released
from embargo, elements gone stale: ``store.events``), adds each new event's
deliveries to the subscribers whose users may see it (``store.deliveries.fan_out``
under ``access.sees_event``), then sends every delivery that is due: a signed webhook
or an apprise message (``jointsat.notify``). A failed try is due again after the
back-off of ``operations.signing``; after ``MAX_ATTEMPTS`` it is given up, and the
delivery log says why. All of it is kept in the store, so a restart loses nothing.

Under ``jointsat serve`` a thread of the service runs a pass every ``Notifier.poll_s``
(``service/runner.py``); ``jointsat events deliver`` runs one from the command line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from jointsat.notify import PRIVATE_TARGET, Message, resolves_private, send
from jointsat.operations.events import EventKind
from jointsat.orbits.freshness import DEFAULT_RULE, StaleRule
from jointsat.service import runner
from jointsat.service.access import sees_event
from jointsat.store.deliveries import (
    Outcome,
    Sees,
    body_of,
    claim,
    due,
    event_subjects,
    events_between,
    fan_out,
    give_up,
    record_outcome,
)
from jointsat.store.events import emit_releases, emit_stale
from jointsat.store.tables import EventRecord, User

_log = logging.getLogger("uvicorn.error")  # the service's log

Sender = Callable[[Message, int], Outcome]
"""Send one message, signed at a Unix time (s): ``notify.send``, or a test's."""


@dataclass(frozen=True)
class Round:
    """What one pass did."""

    told: int  # events recorded for releases and stale elements
    fanned_out: int  # deliveries added
    delivered: int
    retried: int  # tries that failed and will be made again
    failed: int  # deliveries given up


def deliver_due(
    sessions: sessionmaker[Session],
    now: datetime,
    sender: Sender = send,
    *,
    sees: Sees = sees_event,
    stale_rule: StaleRule = DEFAULT_RULE,
    stopping: Callable[[], bool] = lambda: False,
    private_targets: bool = False,
) -> Round:
    """Run one pass at ``now`` (module docstring); return what it did.

    Unless ``private_targets``, a delivery whose target resolves to a private address
    (``notify.resolves_private``) is given up at once, its error ``PRIVATE_TARGET``.
    """
    with sessions() as session:
        told = emit_releases(session, now) + emit_stale(session, now, stale_rule)
        session.commit()
        added = fan_out(session, now, sees)
        ids = due(session, now)
    delivered = retried = failed = 0
    for delivery_id in ids:
        if stopping():
            break
        with sessions() as session:
            row = claim(session, delivery_id, now)
            if row is None:
                continue
            subscription, event = row.subscription, row.event
            user = subscription.user
            refusal = _refusal(session, user, event, sees, now, subscription.disabled_at)
            if refusal is not None:
                give_up(session, delivery_id, refusal, now)
                failed += 1
                continue
            message = Message(
                subscription.kind,
                subscription.target,
                subscription.secret,
                event.id,
                event.kind,
                body_of(event),
            )
        if not private_targets and resolves_private(message.kind, message.target):
            with sessions() as session:
                give_up(session, delivery_id, PRIVATE_TARGET, now)
            failed += 1
            continue
        try:
            outcome = sender(message, int(now.timestamp()))
        except Exception as error:  # a sender's bug must not lose the delivery
            outcome = Outcome(False, None, f"{type(error).__name__}: {error}")
        with sessions() as session:
            settled = record_outcome(session, delivery_id, outcome, now)
            if settled is None:
                continue
            if outcome.delivered:
                delivered += 1
            elif settled.next_attempt_at is None:
                failed += 1
            else:
                retried += 1
    return Round(told, added, delivered, retried, failed)


def _refusal(
    session: Session,
    user: User,
    event: EventRecord,
    sees: Sees,
    now: datetime,
    disabled_at: datetime | None,
) -> str | None:
    """Return why a claimed delivery may no longer be sent (None: it may)."""
    if disabled_at is not None:
        return "the subscription was disabled"
    if user.disabled_at is not None:
        return "the subscription's user was disabled"
    if event.kind != EventKind.PING.value and not sees(
        user, event, event_subjects(session, [event]), now
    ):
        return "the subscription's user may no longer see this event"
    return None


def seen_events(
    session: Session,
    user: User,
    now: datetime,
    *,
    after: int = 0,
    before: int | None = None,
    newest_first: bool = False,
    kinds: Sequence[str] | None = None,
    limit: int = 100,
) -> list[EventRecord]:
    """Return ``limit`` events the user sees with ids between ``after`` and ``before``
    (None: no bound): the first of them oldest first, or the last ``newest_first``.

    The rule is applied while reading, batch by batch, so ``limit`` events the user sees
    are found where there are that many: not ``limit`` rows filtered afterwards. A
    subscriber's ``ping`` is not listed: it is its test, sent to it alone.
    """
    found: list[EventRecord] = []
    while len(found) < limit:
        batch = events_between(
            session, after, before, newest_first=newest_first, kinds=kinds, limit=max(limit, 100)
        )
        if not batch:
            break
        found.extend(_seen(session, user, now, batch))
        if newest_first:
            before = batch[-1].id
        else:
            after = batch[-1].id
    return found[:limit]


def _seen(
    session: Session, user: User, now: datetime, batch: Sequence[EventRecord]
) -> list[EventRecord]:
    """Return the events of ``batch`` the user sees, in its order (a ``ping``: never)."""
    subjects = event_subjects(session, batch)
    return [
        e for e in batch if e.kind != EventKind.PING.value and sees_event(user, e, subjects, now)
    ]


class Notifier(runner.JobRunner):
    """Run the notifier's passes on a thread of the service."""

    name = "notifier"
    poll_s = 5.0

    def look(self) -> None:
        state = self._app.state
        done = deliver_due(
            state.sessions,
            state.clock(),
            getattr(state, "event_sender", send),
            stale_rule=state.stale_rule,
            stopping=lambda: self.stopping,
            private_targets=state.webhook_private_targets,
        )
        if done.delivered or done.failed or done.retried:
            _log.info(
                "notifier: %d delivered, %d to retry, %d given up",
                done.delivered,
                done.retried,
                done.failed,
            )


def install(app: FastAPI) -> None:
    """Give the app its notifier, started and stopped with the service's lifespan."""
    app.state.notifier = Notifier(app)
    runner.install(app, app.state.notifier)
