"""``jointsat user`` and ``jointsat token``: who may use the service, and their API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from jointsat.cli import common, remote
from jointsat.cli.output import Column, Format, FormatOption, emit_one, emit_rows
from jointsat.cli.partners import PARTNERS
from jointsat.cli.remote import Place, Work
from jointsat.errors import StoreError
from jointsat.timelib import read_iso

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

user_app = typer.Typer(
    name="user", help="List, add, disable and enable users.", no_args_is_help=True
)
token_app = typer.Typer(
    name="token", help="Create, list and revoke API tokens.", no_args_is_help=True
)

UserRef = Annotated[str, typer.Argument(metavar="USER", help="The user's name or id.")]


def _status(token: dict[str, Any]) -> str:
    if token["revoked_at"] is not None:
        return "revoked"
    return "expired" if read_iso(token["expires_at"]) <= common.now() else "live"


USER_COLUMNS = [
    Column("id", "id", "whole"),
    Column("name", "name"),
    Column("role", "role", "whole"),
    Column("partner_id", "partner", "whole"),
    Column("created_at", "created (UTC)", "time"),
    Column("disabled_at", "disabled (UTC)", "time"),
]
TOKEN_COLUMNS = [
    Column("id", "id", "whole"),
    Column("user_id", "user", "whole"),
    Column("label", "label"),
    Column("created_at", "created (UTC)", "time", drop=2),
    Column("expires_at", "expires (UTC)", "time"),
    Column("last_used_at", "last used (UTC)", "time"),
    Column("revoked_at", "revoked (UTC)", "time", drop=1),
    Column("status", "status", "whole", _status, in_csv=False),
    Column("mints", "mints", "whole", drop=3),
    Column("minted_by_id", "minted by", "whole", drop=4),
]
ISSUED_COLUMNS = [
    Column("id", "id", "whole"),
    Column("token", "token", "whole"),
    Column("label", "label"),
    Column("expires_at", "expires (UTC)", "time"),
    Column("mints", "mints", "whole"),
]


def _users(session: Session) -> list[dict[str, Any]]:
    """Return every user in the store as the API shows them."""
    from jointsat.service.routes.users import UserPublic
    from jointsat.store.consortium import users

    return [remote.shown(UserPublic, u) for u in users(session)]


USERS = remote.Kind("user", "/users", _users, ("name", "id"), USER_COLUMNS)
"""The users (over a server: an admin's token only), named by name (else id)."""
USERS.commands(user_app, "List every user.", None)


@remote.command(user_app, "add")
def user_add(
    place: Place,
    name: Annotated[str, typer.Argument(help="The user's name (unique).")],
    role: Annotated[str, typer.Option("--role", help="admin, operator or viewer.")],
    partner: Annotated[
        str | None,
        typer.Option("--partner", help="The partner (code or id) of an operator or viewer."),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Add a user; then `jointsat token create --user NAME` gives it a token."""
    with place.work() as where:
        body = {
            "name": name,
            "role": role,
            "partner_id": None if partner is None else PARTNERS.ident(where, partner),
        }
        found = USERS.create(where, body, _add_user)
    emit_one(found, USER_COLUMNS, fmt)


def _add_user(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """Add a user to the store (see :data:`remote.Add`)."""
    from jointsat.service.routes.users import UserCreate, UserPublic
    from jointsat.store.consortium import add_user

    checked = remote.checked(UserCreate, body)
    row = add_user(
        session,
        name=checked.name,
        role=checked.role,
        partner_id=checked.partner_id,
        now=common.now(),
    )
    remote.committed(session, f"a user named {body['name']!r} exists")
    return remote.shown(UserPublic, row)


def _set_disabled(place: Place, user: str, disabled: bool, fmt: Format) -> None:
    with place.work() as where:
        ident = USERS.ident(where, user)
        if where.api is not None:
            found = where.api.call("PATCH", f"/users/{ident}", body={"disabled": disabled}).body
        else:
            from jointsat.service.routes.users import UserPublic
            from jointsat.service.tokens import set_disabled
            from jointsat.store.tables import User

            row = where.session.get_one(User, ident)
            set_disabled(where.session, row, disabled, now=common.now())
            where.session.commit()
            found = remote.shown(UserPublic, row)
    emit_one(found, USER_COLUMNS, fmt)


@remote.command(user_app, "update")
def user_update(
    place: Place,
    user: UserRef,
    disabled: Annotated[
        bool,
        typer.Option(
            "--disabled/--enabled", help="Disable the user (its tokens refused) or enable it."
        ),
    ],
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Change a user: what the API lets change is whether it is disabled."""
    _set_disabled(place, user, disabled, fmt)


@remote.command(user_app, "disable")
def user_disable(place: Place, user: UserRef, fmt: FormatOption = Format.TABLE) -> None:
    """Disable a user: every one of its tokens is refused from now on (until enabled)."""
    _set_disabled(place, user, True, fmt)


@remote.command(user_app, "enable")
def user_enable(place: Place, user: UserRef, fmt: FormatOption = Format.TABLE) -> None:
    """Enable a disabled user again: its unexpired, unrevoked tokens work again."""
    _set_disabled(place, user, False, fmt)


# --- tokens ---------------------------------------------------------------------------------


def _caller(where: Work) -> dict[str, Any]:
    """Return who the server's token belongs to (GET /me)."""
    assert where.api is not None
    found: dict[str, Any] = where.api.get("/me").body
    return found


def _user_id(where: Work, user: str | None) -> int:
    """Return the id of the user named, else (over a server) of the token's own user."""
    if user is not None:
        if where.api is not None and _caller(where)["name"] == user:
            return int(_caller(where)["id"])
        return USERS.ident(where, user)
    if where.api is None:
        raise typer.BadParameter("name the user (on the store)", param_hint="'--user'")
    return int(_caller(where)["id"])


@remote.command(token_app, "create")
def token_create(
    place: Place,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="Name of the user the token is for (over a server: default yours)."
        ),
    ] = None,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Days it lives (default JOINTSAT_TOKEN_DAYS, at most JOINTSAT_TOKEN_MAX_DAYS).",
        ),
    ] = None,
    mints: Annotated[
        bool, typer.Option("--mints", help="Let the token create tokens for its user.")
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Create a token and print it once; its id (to revoke it) and expiry on stderr.

    With --format json: the API's answer (id, token, label, expires_at, mints).
    """
    with place.work() as where:
        ident = _user_id(where, user)
        if where.api is not None:
            body = {"label": label, "expires_in_days": days, "mints": mints}
            found = where.api.call("POST", f"/users/{ident}/tokens", body=body).body
        else:
            from jointsat.service.routes.users import TokenIssued
            from jointsat.service.tokens import TokenLifetime, issue_token, live_token
            from jointsat.store.tables import User

            now = common.now()
            settings = common.store_settings(place.database_url)
            expires_at = TokenLifetime.of(settings).expiry(now, days)
            row = where.session.get_one(User, ident)
            if row.disabled_at is not None:
                raise StoreError(f"user {row.name!r} is disabled; enable it first")
            issued = issue_token(
                where.session, row, now=now, label=label, expires_at=expires_at, mints=mints
            )
            where.session.flush()
            made = live_token(where.session, issued, now)
            assert made is not None
            found = remote.shown(TokenIssued, made, token=issued)
    if fmt is not Format.TABLE:
        emit_one(found, ISSUED_COLUMNS, fmt)
        return
    who = user or f"user {ident}"
    Console(stderr=True).print(
        f"token id {found['id']} for {who}, expires {found['expires_at']} "
        "(shown only now, keep it safe):",
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(found["token"])


@remote.command(token_app, "list")
def token_list(
    place: Place,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Name of the user whose tokens to list (default: all)."),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List tokens (never the tokens themselves): a user's, or everyone's.

    Over a server, a token that is not an admin's lists its own user's.
    """
    with place.work() as where:
        if user is not None:
            ids = [_user_id(where, user)]
        elif where.api is not None and _caller(where)["role"] != "admin":
            ids = [int(_caller(where)["id"])]
        else:
            ids = [int(u["id"]) for u in USERS.documents(where)]
        found: list[dict[str, Any]] = []
        for ident in ids:
            if where.api is not None:
                found += where.api.get(f"/users/{ident}/tokens").body
            else:
                from jointsat.service.routes.users import TokenPublic
                from jointsat.store.consortium import tokens

                found += [remote.shown(TokenPublic, t) for t in tokens(where.session, ident)]
    emit_rows(found, TOKEN_COLUMNS, fmt, title=f"{len(found)} token(s)")


@remote.command(token_app, "revoke")
def token_revoke(
    place: Place,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="Id of the token to revoke.")],
) -> None:
    """Revoke a token and those it minted: requests that carry them are refused from now on."""
    with place.work() as where:
        if where.api is not None:
            where.api.call("DELETE", f"/tokens/{token_id}")
        else:
            from jointsat.service.tokens import revoke

            revoke(where.session, token_id, now=common.now())
    typer.echo(f"token {token_id} revoked")


@remote.command(token_app, "revoke-all")
def token_revoke_all(
    place: Place,
    user: Annotated[str, typer.Option("--user", help="Name of the user whose tokens to revoke.")],
) -> None:
    """Revoke every token of a user at once (a leaked laptop, a person who left)."""
    with place.work() as where:
        ident = _user_id(where, user)
        if where.api is not None:
            count = where.api.call("DELETE", f"/users/{ident}/tokens").body["revoked"]
        else:
            from jointsat.service.tokens import revoke_all
            from jointsat.store.tables import User

            count = revoke_all(where.session, where.session.get_one(User, ident), now=common.now())
    typer.echo(f"{count} token(s) of user {user!r} revoked")
