"""``jointsat events``: read events, subscribe webhooks or apprise URLs, see deliveries.

Like the other management commands they work on the store (as the consortium admin)
or, with ``--url`` and ``--token``, on a server with the token's rights (docs/api.md,
Events). ``jointsat events deliver`` runs one pass of the notifier on the store: the
service does that by itself every few seconds; the command is for a store without a
running service, or a cron job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import typer
from rich.console import Console

from jointsat.cli import common, remote
from jointsat.cli.common import DatabaseUrl
from jointsat.cli.output import Column, Format, FormatOption, emit_one, emit_rows
from jointsat.cli.remote import Place
from jointsat.errors import JointsatError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

events_app = typer.Typer(
    name="events",
    help="List events, subscribe to them (signed webhooks, e-mail or chat), see deliveries.",
    no_args_is_help=True,
)

EVENT_COLUMNS = [
    Column("id", "id", "whole"),
    Column("at", "at", "time"),
    Column("kind", "kind"),
    Column("satellite_id", "satellite", "whole", drop=2),
    Column("station_id", "station", "whole", drop=2),
    Column("product_id", "product", drop=3),
    Column("partner_id", "partner", "whole", drop=3),
    Column("payload", None),
]
SUBSCRIPTION_COLUMNS = [
    Column("id", "id", "whole"),
    Column("user_id", "user", "whole"),
    Column("kind", "kind"),
    Column("target", "target"),
    Column(
        "kinds", "kinds", "text", lambda s: "all" if s["kinds"] is None else ", ".join(s["kinds"])
    ),
    Column("created_at", "created", "time", drop=1),
    Column("disabled_at", "disabled", "time", drop=2),
]
CREATED_COLUMNS = [*SUBSCRIPTION_COLUMNS, Column("secret", "secret (shown once)")]
DELIVERY_COLUMNS = [
    Column("id", "id", "whole"),
    Column("event_id", "event", "whole"),
    Column("event_kind", "kind"),
    Column("status", "status"),
    Column("attempts", "tries", "whole"),
    Column("response_status", "HTTP", "whole"),
    Column("next_attempt_at", "next try", "time", drop=1),
    Column("delivered_at", "delivered", "time", drop=1),
    Column("error", "error", drop=2),
]

Kinds = Annotated[
    list[str] | None,
    typer.Option(
        "--kind", metavar="KIND", help="An event kind (repeat for several; default: all)."
    ),
]
Limit = Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")]
SubscriptionId = Annotated[int, typer.Argument(min=1, help="The subscription's id.")]


def _json(model: Any) -> dict[str, Any]:
    return remote.json_of(model)


@remote.command(events_app, "list")
def events_list(
    place: Place,
    kind: Kinds = None,
    after: Annotated[int, typer.Option("--after", min=0, help="Only events after this id.")] = 0,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="At most this many.")
    ] = 100,
    newest: Annotated[
        bool, typer.Option("--newest", help="The newest --limit events, newest first.")
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List the events (the ones the token's user may see), oldest first (--newest: the
    newest ones, newest first)."""
    from jointsat.operations.events import parse_kinds

    try:
        kinds = parse_kinds(kind)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="'--kind'") from None
    with place.work() as where:
        if where.api is not None:
            params = {
                "after": after,
                "limit": limit,
                "kind": [k.value for k in kinds or []],
                "order": "newest" if newest else "oldest",
            }
            query = urlencode(params, doseq=True)
            found: list[dict[str, Any]] = where.api.call("GET", f"/events?{query}").body
        else:
            found = _stored_events(where.session, after, kinds, limit, newest=newest)
    emit_rows(found, EVENT_COLUMNS, fmt, title=f"{len(found)} event(s)")


def _stored_events(
    session: Session, after: int, kinds: list[Any] | None, limit: int, *, newest: bool = False
) -> list[dict[str, Any]]:
    from jointsat.operations.events import EventKind
    from jointsat.service.routes.events import EventPublic
    from jointsat.store.deliveries import document, events_between

    PING = EventKind.PING.value
    chosen = [k.value for k in kinds] if kinds is not None else [k.value for k in EventKind]
    chosen = [k for k in chosen if k != PING]  # a subscriber's test, not an event to list
    rows = events_between(session, after, newest_first=newest, kinds=chosen, limit=limit)
    return [_json(EventPublic.model_validate(document(e))) for e in rows]


@remote.command(events_app, "subscribe")
def events_subscribe(
    place: Place,
    target: Annotated[
        str,
        typer.Argument(help="The webhook's http(s) URL, or with --apprise an apprise URL."),
    ],
    apprise: Annotated[
        bool, typer.Option("--apprise", help="TARGET is an apprise URL (mailto://, slack:// ...).")
    ] = False,
    kind: Kinds = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            metavar="USER",
            help="Subscribe for this user (name or id; the admin only). On the store: needed.",
        ),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Subscribe to events; a webhook's signing secret is shown this once: keep it."""
    from jointsat.cli.users import USERS

    body: dict[str, Any] = {"target": target, "kind": "apprise" if apprise else "webhook"}
    if kind is not None:
        body["kinds"] = kind
    with place.work() as where:
        if user is not None:
            body["user_id"] = USERS.ident(where, user)
        elif where.api is None:
            raise JointsatError("on the store, say whose subscription it is: --user NAME")
        if where.api is not None:
            found: dict[str, Any] = where.api.call("POST", "/subscriptions", body=body).body
        else:
            found = _add_subscription(where.session, body)
    emit_one(found, CREATED_COLUMNS, fmt)


def _add_subscription(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    from jointsat.service.problems import ProblemError
    from jointsat.service.routes.events import (
        SubscriptionCreate,
        SubscriptionCreated,
        check_target,
        kinds_of,
        public,
    )
    from jointsat.settings import webhook_private_targets_from_environment
    from jointsat.store.deliveries import add_subscription, user_of

    checked = remote.checked(SubscriptionCreate, body)
    assert checked.user_id is not None
    if user_of(session, checked.user_id) is None:
        raise JointsatError(f"no user with id {checked.user_id}")
    try:
        private = webhook_private_targets_from_environment()
        check_target(checked.kind, checked.target, private_targets=private)
        kinds = kinds_of(checked.kinds)
    except ProblemError as problem:
        raise JointsatError(problem.detail) from None
    row = add_subscription(
        session, checked.user_id, checked.kind, checked.target, kinds, common.now()
    )
    remote.committed(session, "the subscription could not be stored")
    return _json(SubscriptionCreated(**public(row).model_dump(), secret=row.secret))


@remote.command(events_app, "subscriptions")
def events_subscriptions(place: Place, fmt: FormatOption = Format.TABLE) -> None:
    """List the subscriptions (the token's user's; the admin's and the store's: all)."""
    with place.work() as where:
        if where.api is not None:
            found: list[dict[str, Any]] = where.api.get("/subscriptions").body
        else:
            from jointsat.service.routes.events import public
            from jointsat.store.deliveries import subscriptions

            found = [_json(public(s)) for s in subscriptions(where.session)]
    emit_rows(found, SUBSCRIPTION_COLUMNS, fmt, title=f"{len(found)} subscription(s)")


@remote.command(events_app, "unsubscribe")
def events_unsubscribe(place: Place, subscription: SubscriptionId) -> None:
    """Remove a subscription and its delivery log."""
    with place.work() as where:
        if where.api is not None:
            where.api.call("DELETE", f"/subscriptions/{subscription}")
        else:
            from jointsat.store.deliveries import subscription as stored

            row = stored(where.session, subscription)
            if row is None:
                raise JointsatError(f"no subscription with id {subscription}")
            where.session.delete(row)
            where.session.commit()
    typer.echo(f"subscription {subscription} removed")


@remote.command(events_app, "deliveries")
def events_deliveries(
    place: Place,
    subscription: SubscriptionId,
    status: Annotated[
        str | None,
        typer.Option("--status", metavar="pending|delivered|failed", help="Only these."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="At most this many.")
    ] = 100,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Show a subscription's delivery log, newest event first."""
    from jointsat.store.tables import DeliveryStatus

    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise typer.BadParameter(
            f"{status!r}: give pending, delivered or failed", param_hint="'--status'"
        )
    with place.work() as where:
        if where.api is not None:
            params: dict[str, Any] = {"limit": limit}
            if status is not None:
                params["status"] = status
            path = f"/subscriptions/{subscription}/deliveries"
            found: list[dict[str, Any]] = where.api.get(path, **params).body
        else:
            from jointsat.service.routes.events import delivery_public
            from jointsat.store.deliveries import delivery_log
            from jointsat.store.deliveries import subscription as stored

            if stored(where.session, subscription) is None:
                raise JointsatError(f"no subscription with id {subscription}")
            chosen = None if status is None else DeliveryStatus(status)
            rows = delivery_log(where.session, subscription, status=chosen, limit=limit)
            found = [_json(delivery_public(d)) for d in rows]
    emit_rows(found, DELIVERY_COLUMNS, fmt, title=f"{len(found)} deliveries")


@events_app.command("deliver")
def events_deliver(
    database_url: DatabaseUrl = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Run one pass of the notifier on the store: tell releases and stale elements, fan
    out new events, send what is due (retries included)."""
    from jointsat.service.notifier import deliver_due
    from jointsat.settings import (
        stale_rule_from_environment,
        webhook_private_targets_from_environment,
    )
    from jointsat.store.database import open_engine, session_factory

    with common.reporting_errors(Console(stderr=True)), common.store_errors():
        engine = open_engine(common.store_settings(database_url).database_url)
        try:
            done = deliver_due(
                session_factory(engine),
                common.now(),
                stale_rule=stale_rule_from_environment(),
                private_targets=webhook_private_targets_from_environment(),
            )
        finally:
            engine.dispose()
    found = {
        "told": done.told,
        "fanned_out": done.fanned_out,
        "delivered": done.delivered,
        "retried": done.retried,
        "failed": done.failed,
    }
    emit_one(found, [Column(k, k.replace("_", " "), "whole") for k in found], fmt)
