"""Events: list them, stream them (server-sent events), and subscribe to them.

Every answer holds only what the caller may see (``access.sees_event``); a
subscription acts as its user, so a webhook, e-mail or chat message is sent only
events that user may see. Users manage their own subscriptions, the admin all; a
subscription of another user is answered 404. A webhook's signing secret is shown
once, when it is created.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from jointsat.notify import literal_private, valid_apprise_url
from jointsat.operations.events import parse_kinds
from jointsat.service.deps import NowDep, SessionDep, UserDep
from jointsat.service.lookup import commit_or_conflict, deleted, found
from jointsat.service.notifier import seen_events
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import PathId, RowId, Text
from jointsat.service.tokens import live_token
from jointsat.settings import WEBHOOK_PRIVATE_TARGETS_VARIABLE
from jointsat.store.deliveries import (
    add_ping,
    add_subscription,
    delivery_log,
    document,
    last_event_id,
    set_enabled,
    subscription,
    subscriptions,
    user_of,
)
from jointsat.store.tables import (
    Delivery,
    DeliveryStatus,
    Role,
    Subscription,
    SubscriptionKind,
    User,
)

router = APIRouter(tags=["events"])

STREAM_POLL_S = 2.0
"""How often the stream looks for new events (s)."""
KEEPALIVE_S = 15.0
"""How long the stream may stay silent before it sends a comment (s), to keep proxies open."""


class EventPublic(BaseModel):
    """Something that happened: what it is about and what subscribers are sent."""

    id: int
    kind: str = Field(description="One of the event kinds (docs/api.md, Events)")
    at: datetime
    satellite_id: int | None
    station_id: int | None
    product_id: str | None
    partner_id: int | None = Field(description="Set: a matter of that partner only")
    payload: dict[str, Any]


KindsQuery = Annotated[
    list[str] | None, Query(description="Only events of these kinds (repeat for several)")
]


def kinds_of(values: list[str] | None) -> list[str] | None:
    try:
        parsed = parse_kinds(values)
    except ValueError as error:
        raise ProblemError(422, "Invalid request", str(error)) from None
    return None if parsed is None else [k.value for k in parsed]


class EventOrder(StrEnum):
    """Name the orders events are listed in."""

    OLDEST = "oldest"
    NEWEST = "newest"


@router.get("/events", response_model=list[EventPublic])
def list_events(
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    kind: KindsQuery = None,
    after: Annotated[int, Query(ge=0, description="Only events with a higher id")] = 0,
    before: Annotated[
        int | None, Query(ge=1, description="Only events with a lower id (default: no bound)")
    ] = None,
    order: Annotated[
        EventOrder,
        Query(
            description="oldest: the first ``limit`` events, oldest first; newest: the last"
            " ``limit`` events, newest first"
        ),
    ] = EventOrder.OLDEST,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventPublic]:
    """Return the events the caller may see with ids between ``after`` and ``before``.

    ``order=oldest`` (the default): the first ``limit`` of them, oldest first (page on
    with ``after`` the last id read); ``order=newest``: the last ``limit`` of them,
    newest first (page back with ``before`` the last id read). Either way a page holds
    ``limit`` events the caller sees while there are that many: the access rule is
    applied before the page is cut, not to it.
    """
    kinds = kinds_of(kind)
    events = seen_events(
        session,
        user,
        now,
        after=after,
        before=before,
        newest_first=order is EventOrder.NEWEST,
        kinds=kinds,
        limit=limit,
    )
    return [EventPublic.model_validate(document(e)) for e in events]


def _frame(event: dict[str, Any]) -> str:
    data = json.dumps(event, sort_keys=True, separators=(",", ":"))
    return f"id: {event['id']}\nevent: {event['kind']}\ndata: {data}\n\n"


@router.get("/events/stream", response_class=StreamingResponse, include_in_schema=False)
def stream_events(
    request: Request,
    user: UserDep,
    kind: KindsQuery = None,
    after: Annotated[
        int | None, Query(ge=0, description="Start after this event id (default: from now)")
    ] = None,
    once: Annotated[bool, Query(description="Send the events there are, then end")] = False,
    last_event: Annotated[
        str | None, Header(alias="Last-Event-ID", include_in_schema=False)
    ] = None,
) -> StreamingResponse:
    """Stream the events the caller may see as server-sent events (``text/event-stream``).

    Each message's ``id`` is the event's id and its ``event`` the kind; a client that
    reconnects sends ``Last-Event-ID`` and gets what it missed. Without ``after`` or
    ``Last-Event-ID`` the stream starts with the next event. ``once``: send what there
    is and end (for scripts and tests).

    It is left out of the OpenAPI, which cannot describe a stream that does not end
    (and whose clients, fuzzers among them, would wait for its end): docs/events.md
    describes it.
    """
    kinds = kinds_of(kind)
    start = after
    if last_event is not None and last_event.strip().isdigit():
        start = int(last_event.strip())
    state = request.app.state
    token = request.headers["Authorization"].partition(" ")[2].strip()
    del user  # authenticated; each look checks the token again (revoked: the stream ends)

    def poll(after_id: int | None) -> tuple[list[dict[str, Any]], int, bool]:
        with state.sessions() as session:
            row = live_token(session, token, state.clock())
            if row is None:
                return [], after_id or 0, False
            viewer = row.user
            if after_id is None:
                return [], last_event_id(session), True
            events = seen_events(session, viewer, state.clock(), after=after_id, kinds=kinds)
            last = events[-1].id if events else after_id
            return [document(e) for e in events], last, True

    async def frames() -> AsyncIterator[str]:
        position = start
        silent_s = 0.0
        yield "retry: 5000\n\n"
        while True:
            events, position_now, alive = await anyio.to_thread.run_sync(poll, position)
            position = position_now
            if not alive:
                return
            for event in events:
                yield _frame(event)
            if events:
                silent_s = 0.0
                continue  # there may be more
            if once:
                return
            if await request.is_disconnected():
                return
            if silent_s >= KEEPALIVE_S:
                yield ": keep-alive\n\n"
                silent_s = 0.0
            await anyio.sleep(STREAM_POLL_S)
            silent_s += STREAM_POLL_S

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# --- subscriptions -----------------------------------------------------------------------


class SubscriptionCreate(BaseModel):
    """A subscriber: a webhook URL, or an apprise URL (e-mail, chat), and the kinds wanted."""

    model_config = ConfigDict(extra="forbid")

    kind: SubscriptionKind = SubscriptionKind.WEBHOOK
    target: Annotated[Text, Field(min_length=1, max_length=2000)] = Field(
        description="The webhook's http(s) URL, or an apprise URL (mailto://, slack:// ...)"
    )
    kinds: list[str] | None = Field(
        default=None,
        description="The event kinds to send (null: every kind)",
        min_length=1,
        max_length=20,
    )
    user_id: RowId | None = Field(
        default=None, description="The admin only: subscribe for this user (default: yourself)"
    )


class SubscriptionChange(BaseModel):
    """What a PATCH changes: enabled or not, and the kinds."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    kinds: list[str] | None = Field(default=None, min_length=1, max_length=20)


class SubscriptionPublic(BaseModel):
    """A subscription, its secret left out (it is shown once, when created)."""

    id: int
    user_id: int
    kind: SubscriptionKind
    target: str = Field(description="Where events go (a password in it is masked)")
    kinds: list[str] | None
    created_at: datetime
    disabled_at: datetime | None = Field(description="Null: enabled")


class SubscriptionCreated(SubscriptionPublic):
    """A new subscription, with its webhook's signing secret (shown this once)."""

    secret: str | None = Field(description="Sign-checking secret of a webhook (null: apprise)")


class DeliveryPublic(BaseModel):
    """One event's delivery to the subscription: where it stands."""

    id: int
    event_id: int
    event_kind: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="Null: settled")
    last_attempt_at: datetime | None
    response_status: int | None = Field(description="The webhook's last HTTP status")
    error: str | None
    delivered_at: datetime | None


def _masked(target: str) -> str:
    """Return the target with any password in it masked."""
    try:
        parts = urlsplit(target)
        if parts.password is None:
            return target
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{parts.username or ''}:***@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return target


def public(row: Subscription) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=row.id,
        user_id=row.user_id,
        kind=row.kind,
        target=_masked(row.target),
        kinds=row.kinds,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def delivery_public(row: Delivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=row.id,
        event_id=row.event_id,
        event_kind=row.event.kind,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        response_status=row.response_status,
        error=row.error,
        delivered_at=row.delivered_at,
    )


def _own(session: SessionDep, user: User, subscription_id: int) -> Subscription:
    row = subscription(session, subscription_id)
    if row is not None and user.role is not Role.ADMIN and row.user_id != user.id:
        row = None
    return found(row, "subscription", subscription_id)


def check_target(kind: SubscriptionKind, target: str, *, private_targets: bool = False) -> None:
    """Refuse (422) a target that is not a webhook's http(s) URL or an apprise URL, or,
    unless ``private_targets``, one whose host is written as a private address or
    ``localhost`` (``notify.literal_private``; a name is resolved at each delivery)."""
    if kind is SubscriptionKind.WEBHOOK:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProblemError(
                422, "Invalid request", "a webhook's target is an http:// or https:// URL"
            )
    elif not valid_apprise_url(target):
        raise ProblemError(
            422,
            "Invalid request",
            "apprise does not understand this target (mailto://, slack://, json:// ...:"
            " https://github.com/caronc/apprise/wiki)",
        )
    host = None if private_targets else literal_private(kind, target)
    if host is not None:
        raise ProblemError(
            422,
            "Invalid request",
            f"the target's host {host} is a private address (loopback, private network,"
            " link-local or multicast): events go to public addresses only, unless the"
            f" service sets {WEBHOOK_PRIVATE_TARGETS_VARIABLE}=1",
        )


@router.post("/subscriptions", response_model=SubscriptionCreated, status_code=201)
def create_subscription(
    body: SubscriptionCreate, session: SessionDep, user: UserDep, now: NowDep, request: Request
) -> SubscriptionCreated:
    """Subscribe to events: a webhook (signed; its secret is in this answer only) or an
    apprise URL. It is sent the events recorded from now on that its user may see.

    A target on a private address (loopback, private network, link-local, multicast:
    written as an address or ``localhost``) is a 422 unless the service allows them
    (``JOINTSAT_WEBHOOK_PRIVATE_TARGETS``); a name that resolves to one fails at delivery.
    """
    owner = user.id
    if body.user_id is not None and body.user_id != user.id:
        if user.role is not Role.ADMIN:
            raise ProblemError(403, "Forbidden", "only the admin subscribes for another user")
        if user_of(session, body.user_id) is None:
            raise ProblemError(422, "Invalid request", f"no user with id {body.user_id}")
        owner = body.user_id
    check_target(body.kind, body.target, private_targets=request.app.state.webhook_private_targets)
    row = add_subscription(session, owner, body.kind, body.target, kinds_of(body.kinds), now)
    commit_or_conflict(session, "the subscription could not be stored")
    return SubscriptionCreated(**public(row).model_dump(), secret=row.secret)


@router.get("/subscriptions", response_model=list[SubscriptionPublic])
def list_subscriptions(session: SessionDep, user: UserDep) -> list[SubscriptionPublic]:
    """Return the caller's subscriptions (the admin: everyone's)."""
    mine = None if user.role is Role.ADMIN else user.id
    return [public(r) for r in subscriptions(session, mine)]


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionPublic)
def read_subscription(
    subscription_id: PathId, session: SessionDep, user: UserDep
) -> SubscriptionPublic:
    """Return one of the caller's subscriptions."""
    return public(_own(session, user, subscription_id))


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionPublic)
def change_subscription(
    subscription_id: PathId,
    body: SubscriptionChange,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
) -> SubscriptionPublic:
    """Enable or disable a subscription, or change its kinds (``kinds: null``: every kind).

    Enabled again, it hears of events from now on, not of those it missed.
    """
    row = _own(session, user, subscription_id)
    given = body.model_dump(exclude_unset=True)
    if "kinds" in given:
        row.kinds = kinds_of(body.kinds)
    if body.enabled is not None:
        set_enabled(session, row, body.enabled, now)
    commit_or_conflict(session, "the subscription could not be changed")
    return public(row)


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: PathId, session: SessionDep, user: UserDep) -> Response:
    """Remove a subscription and its delivery log."""
    return deleted(session, _own(session, user, subscription_id))


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=list[DeliveryPublic])
def list_deliveries(
    subscription_id: PathId,
    session: SessionDep,
    user: UserDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryPublic]:
    """Return the subscription's delivery log, newest event first."""
    row = _own(session, user, subscription_id)
    return [delivery_public(d) for d in delivery_log(session, row.id, status=status, limit=limit)]


@router.post(
    "/subscriptions/{subscription_id}/test", response_model=DeliveryPublic, status_code=202
)
def test_subscription(
    subscription_id: PathId, session: SessionDep, user: UserDep, now: NowDep, request: Request
) -> DeliveryPublic:
    """Send the subscription a ``ping`` event (to it alone); its delivery log tells how it went."""
    row = _own(session, user, subscription_id)
    delivery = add_ping(session, row, now)
    session.commit()
    notifier = getattr(request.app.state, "notifier", None)
    if notifier is not None:
        notifier.nudge()
    return delivery_public(delivery)
