"""``jointsat db``, ``jointsat admin`` and ``jointsat serve``: set up and serve the store."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from jointsat.cli import common, users
from jointsat.cli.common import DatabaseUrl

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
    help="Set up the store's first admin (then: jointsat user, jointsat token).",
    no_args_is_help=True,
)


@admin_app.command("init")
def admin_init(
    database_url: DatabaseUrl = None,
    name: Annotated[str, typer.Option(help="Name of the first admin user.")] = "admin",
) -> None:
    """Create (or migrate) the store and its first admin; print the admin's token once."""
    from jointsat.service.tokens import TokenLifetime, initialise
    from jointsat.store import migrate

    with common.store_command(database_url) as settings:
        url = settings.database_url
        migrate.upgrade(url)
        now = common.now()
        expires_at = TokenLifetime.of(settings).expiry(now, None)
        with common.store_session(url) as session:
            token = initialise(session, name=name, now=now, expires_at=expires_at)
        typer.echo(f"store ready: {common.redacted(url)}")
        typer.echo(f"admin {name!r} token (shown only now, keep it safe):")
        typer.echo(token)
        typer.echo(f"it expires {expires_at.isoformat()}", err=True)


# The commands that were here moved to `jointsat token` and `jointsat user`; the old
# names keep working, unlisted.
admin_app.add_typer(users.token_app, name="token", hidden=True)
admin_app.command("disable-user", hidden=True)(users.user_disable)
admin_app.command("enable-user", hidden=True)(users.user_enable)


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
