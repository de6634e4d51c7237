"""``jointsat contacts``: the contact lifecycle: list, confirm, cancel, report, tally, tokens.

Like the other management commands (``jointsat.cli.remote``): without ``--url`` on the
store as the consortium admin, with ``--url`` and ``--token`` over a server's API with
the token's rights. A station's software reports with its station token: ``jointsat
contacts report ID start --url URL --token STATION_TOKEN``. On the store the commands
run the API's own handlers, so the rules and answers are the same both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from jointsat.cli import common, remote
from jointsat.cli.output import Column, Format, FormatOption, emit_one, emit_rows
from jointsat.cli.partners import PARTNERS
from jointsat.cli.remote import Place, Work
from jointsat.cli.stations import STATIONS
from jointsat.errors import JointsatError
from jointsat.timelib import format_iso

if TYPE_CHECKING:
    from jointsat.store.tables import User

contacts_app = typer.Typer(
    name="contacts",
    help="The contacts' lifecycle: list, confirm, cancel, report; tallies; station and "
    "calendar tokens.",
    no_args_is_help=True,
)

ContactId = Annotated[int, typer.Argument(metavar="ID", min=1, help="The contact's id.")]


class State(StrEnum):
    """A contact's state, as the command line names it."""

    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Event(StrEnum):
    """What a station reports."""

    START = "start"
    END = "end"
    FAILED = "failed"


class TokenKind(StrEnum):
    """What a scoped token is for."""

    STATION = "station"
    CALENDAR = "calendar"


CONTACT_COLUMNS = [
    Column("id", "id", "whole"),
    Column("schedule_id", "schedule", "whole", drop=3),
    Column("satellite", "satellite"),
    Column("station", "station"),
    Column("start", "start (UTC)", "time"),
    Column("end", "end (UTC)", "time"),
    Column("state", "state", "whole"),
    Column("state_reason", "reason", drop=2),
    Column("bytes_received", "bytes", "whole", drop=1),
]
SHOWN_COLUMNS = [
    *CONTACT_COLUMNS,
    Column("started_at", "started (UTC)", "time"),
    Column("ended_at", "ended (UTC)", "time"),
    Column("current", "current", "whole"),
    Column("product_ids", "products", "whole", lambda c: ", ".join(c["product_ids"]) or None),
]
MOVED_COLUMNS = [
    *CONTACT_COLUMNS,
    Column("replanned_schedule_id", "re-planned as", "whole"),
    Column("replan_problem", "re-plan refused"),
]
TALLY_COLUMNS = [
    Column("partner_id", "partner", "whole"),
    Column("planned_contacts", "planned", "whole"),
    Column("planned_s", "planned s", "number", lambda t: f"{t['planned_s']:.0f}"),
    Column("delivered_contacts", "delivered", "whole"),
    Column("delivered_s", "delivered s", "number", lambda t: f"{t['delivered_s']:.0f}"),
    Column("delivered_bytes", "bytes", "number", lambda t: f"{t['delivered_bytes']:.0f}"),
    Column("failed_contacts", "failed", "whole"),
    Column("cancelled_contacts", "cancelled", "whole"),
    Column("pending_contacts", "pending", "whole"),
]
TOKEN_COLUMNS = [
    Column("id", "id", "whole"),
    Column("kind", "kind", "whole"),
    Column("station_id", "station", "whole"),
    Column("partner_id", "partner", "whole"),
    Column("user_id", "user", "whole"),
    Column("label", "label"),
    Column("created_at", "created (UTC)", "time", drop=2),
    Column("last_used_at", "last used (UTC)", "time", drop=1),
    Column("revoked_at", "revoked (UTC)", "time"),
]


# --- on the store: the API's handlers, as the consortium admin ---------------------------


def _store_admin() -> User:
    """Return the consortium admin the commands act as on the store (not a stored user)."""
    from jointsat.store.tables import Role, User

    return User(name="(the store)", role=Role.ADMIN, partner_id=None)


def _handled(call: Callable[[], Any]) -> Any:
    """Run an API handler on the store and return its answer in JSON (a model's, a list's);
    its refusal is one line (a ``JointsatError``)."""
    from pydantic import BaseModel

    from jointsat.service.problems import ProblemError

    try:
        answer = call()
    except ProblemError as exc:
        raise JointsatError(exc.detail) from None
    if isinstance(answer, list):
        return [remote.json_of(a) for a in answer]
    return remote.json_of(answer) if isinstance(answer, BaseModel) else answer


def _ident(where: Work, ref: str, kind: remote.Kind) -> int:
    """Return the id a reference names: a number as it is, else looked up by name."""
    return int(ref) if ref.isdigit() else kind.ident(where, ref)


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_iso(value)


# --- contacts ----------------------------------------------------------------------------


@remote.command(contacts_app, "list")
def contacts_list(
    place: Place,
    schedule: Annotated[
        int | None, typer.Option("--schedule", min=1, help="Only this schedule's.")
    ] = None,
    station: Annotated[
        str | None, typer.Option("--station", help="Only over this station (id or name).")
    ] = None,
    satellite: Annotated[
        int | None, typer.Option("--satellite", min=1, help="Only of this satellite (id).")
    ] = None,
    state: Annotated[State | None, typer.Option("--state", help="Only in this state.")] = None,
    start: Annotated[
        datetime | None, common.time_option("Only contacts ending after this.", "--start")
    ] = None,
    end: Annotated[
        datetime | None, common.time_option("Only contacts starting before this.", "--end")
    ] = None,
    replaced: Annotated[
        bool,
        typer.Option("--replaced", help="Also the contacts of schedules a re-plan replaced."),
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List the contacts the caller sees (of current schedules unless --schedule, --replaced)."""
    with place.work() as where:
        station_id = None if station is None else _ident(where, station, STATIONS)
        current = False if replaced else None
        if where.api is not None:
            found = where.api.get(
                "/contacts",
                schedule_id=schedule,
                station_id=station_id,
                satellite_id=satellite,
                state=None if state is None else state.value,
                start=_time(start),
                end=_time(end),
                current=None if current is None else "false",
            ).body
        else:
            from jointsat.service.routes.contacts import ContactCaller, list_contacts
            from jointsat.store.tables import ContactState

            found = _handled(
                lambda: list_contacts(
                    where.session,
                    ContactCaller(_store_admin()),
                    schedule_id=schedule,
                    station_id=station_id,
                    satellite_id=satellite,
                    state=None if state is None else ContactState(state.value),
                    start=start,
                    end=end,
                    current=current,
                    limit=10_000,
                )
            )
    emit_rows(found, CONTACT_COLUMNS, fmt, title=f"{len(found)} contact(s)")


@remote.command(contacts_app, "show")
def contacts_show(place: Place, contact: ContactId, fmt: FormatOption = Format.TABLE) -> None:
    """Show a contact: its lifecycle, the station's reports, the products archived from it."""
    with place.work() as where:
        if where.api is not None:
            found = where.api.get(f"/contacts/{contact}").body
        else:
            from jointsat.service.routes.contacts import ContactCaller, get_contact

            found = _handled(
                lambda: get_contact(
                    contact, where.session, ContactCaller(_store_admin()), common.now()
                )
            )
    emit_one(found, SHOWN_COLUMNS, fmt)


def _moved(found: dict[str, Any], fmt: Format) -> None:
    """Show a move's answer: the contact, and a failure's re-plan."""
    if fmt is Format.JSON:
        from jointsat.cli.output import emit, json_text

        emit(json_text(found))
        return
    row = {
        **found["contact"],
        "replanned_schedule_id": found["replanned_schedule_id"],
        "replan_problem": found["replan_problem"],
    }
    emit_one(row, MOVED_COLUMNS, fmt)


@remote.command(contacts_app, "confirm")
def contacts_confirm(place: Place, contact: ContactId, fmt: FormatOption = Format.TABLE) -> None:
    """Confirm a scheduled contact (its station's owner's operators, the admin)."""
    with place.work() as where:
        if where.api is not None:
            found = where.api.call("POST", f"/contacts/{contact}/confirm").body
        else:
            from jointsat.service.routes.contacts import confirm_contact

            found = _handled(
                lambda: confirm_contact(contact, where.session, _store_admin(), common.now())
            )
    _moved(found, fmt)


@remote.command(contacts_app, "cancel")
def contacts_cancel(
    place: Place,
    contact: ContactId,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Cancel a scheduled or confirmed contact; later re-plans leave its pass unused."""
    with place.work() as where:
        if where.api is not None:
            body = {"reason": reason}
            found = where.api.call("POST", f"/contacts/{contact}/cancel", body=body).body
        else:
            from jointsat.service.routes.contacts import Cancellation, cancel_contact

            found = _handled(
                lambda: cancel_contact(
                    contact,
                    where.session,
                    _store_admin(),
                    common.now(),
                    remote.checked(Cancellation, {"reason": reason}),
                )
            )
    _moved(found, fmt)


@remote.command(contacts_app, "report")
def contacts_report(
    place: Place,
    contact: ContactId,
    event: Annotated[Event, typer.Argument(help="What happened: start, end or failed.")],
    at: Annotated[
        datetime | None, common.time_option("When it happened (default: now).", "--at")
    ] = None,
    bytes_received: Annotated[
        int | None, typer.Option("--bytes", min=0, help="Bytes received (with end or failed).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why it failed (with failed: required).")
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, max=300.0, help="A failure's re-plan: s.")
    ] = 30.0,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Report a contact's start, end (and bytes) or failure, as its station does.

    Over a server, with the station's token (`jointsat contacts token --kind station`)
    or an operator's. A failure re-plans the contact's schedule from now.
    """
    body: dict[str, Any] = {
        "event": event.value,
        "at": _time(at),
        "bytes_received": bytes_received,
        "reason": reason,
        "time_limit_s": time_limit,
    }
    with place.work() as where:
        if where.api is not None:
            found = where.api.call("POST", f"/contacts/{contact}/report", body=body).body
        else:
            from jointsat.service.routes.contacts import (
                ContactCaller,
                StationReport,
                report_contact,
            )

            checked = remote.checked(StationReport, body)
            found = _handled(
                lambda: report_contact(
                    contact,
                    checked,
                    where.session,
                    ContactCaller(_store_admin()),
                    common.now(),
                    common.stale_rule(None, None),
                    None,
                )
            )
    _moved(found, fmt)


@remote.command(contacts_app, "tally")
def contacts_tally(
    place: Place,
    partner: Annotated[str, typer.Option("--partner", help="The partner (code or id).")],
    schedule: Annotated[
        int | None,
        typer.Option("--schedule", min=1, help="Over this schedule (default: the current ones)."),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Show a partner's planned contacts against those delivered (and failed, cancelled)."""
    with place.work() as where:
        partner_id = PARTNERS.ident(where, partner)
        if where.api is not None:
            found = where.api.get(
                "/contacts/tally", partner_id=partner_id, schedule_id=schedule
            ).body
        else:
            from jointsat.service.routes.contacts import partner_tally

            found = _handled(
                lambda: partner_tally(where.session, _store_admin(), partner_id, schedule)
            )
    emit_one(found, TALLY_COLUMNS, fmt)


# --- scoped tokens ------------------------------------------------------------------------


@remote.command(contacts_app, "token")
def contacts_token(
    place: Place,
    kind: Annotated[
        TokenKind, typer.Option("--kind", help="station (its reports) or calendar (a feed).")
    ],
    station: Annotated[
        str | None, typer.Option("--station", help="The station (id or name).")
    ] = None,
    partner: Annotated[
        str | None, typer.Option("--partner", help="A calendar of the partner (code or id).")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "",
    user: Annotated[
        str | None,
        typer.Option("--user", help="On the store: the user it acts as (over a server: yours)."),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Make a station token or a calendar token and print it once (a feed: its URL path too).

    It acts as its user and sees no more than it; revoke it with `jointsat contacts revoke`.
    """
    if (station is None) == (partner is None):
        raise typer.BadParameter("give one of them", param_hint="'--station' / '--partner'")
    with place.work() as where:
        body: dict[str, Any] = {
            "kind": kind.value,
            "station_id": None if station is None else _ident(where, station, STATIONS),
            "partner_id": None if partner is None else PARTNERS.ident(where, partner),
            "label": label,
        }
        if where.api is not None:
            if user is not None:
                raise typer.BadParameter("over a server the token is yours", param_hint="'--user'")
            found = where.api.call("POST", "/access-tokens", body=body).body
        else:
            if user is None:
                raise typer.BadParameter("name the user (on the store)", param_hint="'--user'")
            from jointsat.service.routes.contacts import (
                AccessTokenCreate,
                create_access_token,
            )
            from jointsat.service.tokens import user_named

            maker = user_named(where.session, user)
            checked = remote.checked(AccessTokenCreate, body)
            found = _handled(
                lambda: create_access_token(checked, where.session, maker, common.now())
            )
    if fmt is not Format.TABLE:
        emit_one(found, [*TOKEN_COLUMNS, Column("token", "token"), Column("feed", "feed")], fmt)
        return
    note = f"; feed: {found['feed']}?token=<the token>" if found["feed"] else ""
    Console(stderr=True).print(
        f"{found['kind']} token id {found['id']}{note} (shown only now, keep it safe):",
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(found["token"])


@remote.command(contacts_app, "tokens")
def contacts_tokens(place: Place, fmt: FormatOption = Format.TABLE) -> None:
    """List the station and calendar tokens the caller manages (on the store: all)."""
    with place.work() as where:
        if where.api is not None:
            found = where.api.get("/access-tokens").body
        else:
            from jointsat.service.routes.contacts import list_access_tokens

            found = _handled(lambda: list_access_tokens(where.session, _store_admin()))
    emit_rows(found, TOKEN_COLUMNS, fmt, title=f"{len(found)} token(s)")


@remote.command(contacts_app, "revoke")
def contacts_revoke(
    place: Place,
    token_id: Annotated[int, typer.Argument(metavar="ID", min=1, help="The token's id.")],
) -> None:
    """Revoke a station or calendar token, at once."""
    with place.work() as where:
        if where.api is not None:
            where.api.call("DELETE", f"/access-tokens/{token_id}")
        else:
            from jointsat.service.routes.contacts import revoke_scoped_token

            _handled(
                lambda: revoke_scoped_token(token_id, where.session, _store_admin(), common.now())
            )
    typer.echo(f"access token {token_id} revoked")
