"""``jointsat db``, ``jointsat admin`` and ``jointsat serve``: set up and serve the store."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.errors import StoreError

db_app = typer.Typer(
    name="db", help="Create and migrate the consortium store.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseUrl = None,
    revision: Annotated[str, typer.Option(help="Revision to reach.")] = "head",
) -> None:
    """Bring the store's schema up to date (creating the store if it is new)."""
    from jointsat.store import migrate

    with common.store_command(database_url) as settings:
        url = settings.database_url
        migrate.upgrade(url, revision)
        typer.echo(f"store at revision {migrate.current_revision(url)}: {common.redacted(url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to go back to ('base': empty).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Take the store's schema back to an earlier revision."""
    from jointsat.store import migrate

    with common.store_command(database_url) as settings:
        url = settings.database_url
        migrate.downgrade(url, revision)
        typer.echo(f"store at revision {migrate.current_revision(url)}: {common.redacted(url)}")


admin_app = typer.Typer(
    name="admin",
    help="Set up the store's first admin and manage API tokens.",
    no_args_is_help=True,
)
token_app = typer.Typer(name="token", help="Create and revoke API tokens.", no_args_is_help=True)
admin_app.add_typer(token_app)


@admin_app.command("init")
def admin_init(
    database_url: DatabaseUrl = None,
    name: Annotated[str, typer.Option(help="Name of the first admin user.")] = "admin",
) -> None:
    """Create (or migrate) the store and its first admin; print the admin's token once."""
    from jointsat.service.tokens import initialise
    from jointsat.store import migrate

    with common.store_command(database_url) as settings:
        url = settings.database_url
        migrate.upgrade(url)
        with common.store_session(url) as session:
            token = initialise(session, name=name, now=common.now())
        typer.echo(f"store ready: {common.redacted(url)}")
        typer.echo(f"admin {name!r} token (shown only now, keep it safe):")
        typer.echo(token)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="Name of the user the token is for.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create a token for a user and print it once."""
    from sqlalchemy import select

    from jointsat.service.tokens import issue_token
    from jointsat.store.tables import User

    with common.reporting_errors(Console(stderr=True)), common.store_errors():
        with common.store_session(database_url) as session:
            found = session.scalars(select(User).where(User.name == user)).one_or_none()
            if found is None:
                raise StoreError(f"no user named {user!r}")
            token = issue_token(session, found, now=common.now(), label=label)
        typer.echo(token)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Id of the token to revoke.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token: requests that carry it are refused from now on."""
    from jointsat.service.tokens import revoke

    with (
        common.reporting_errors(Console(stderr=True)),
        common.store_errors(),
        common.store_session(database_url) as session,
    ):
        row = revoke(session, token_id, now=common.now())
        typer.echo(f"token {row.id} of user {row.user.name!r} revoked at {row.revoked_at}")


GRACEFUL_SHUTDOWN_S = 3
"""Seconds ``jointsat serve`` lets open requests finish after SIGTERM or Ctrl-C."""


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (each opens its own connections).")
    ] = 1,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, docs at /docs) with uvicorn."""
    import uvicorn

    from jointsat.service.app import create_app
    from jointsat.service.shedding import exit_when_stuck

    with common.store_command(database_url) as settings:
        if workers == 1:
            app = exit_when_stuck(create_app(settings))
            # SIGTERM: stop accepting, give open requests a few seconds, then close
            # them (uvicorn would otherwise wait for every connection, however long).
            uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
            return
        # Several processes need the app as an import string; they read the store's
        # URL from the environment.
        os.environ["JOINTSAT_DATABASE_URL"] = settings.database_url
        uvicorn.run(
            "jointsat.service.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
