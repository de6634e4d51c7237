"""``jointsat db``, ``jointsat admin`` and ``jointsat serve``: set up and serve the store."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from jointsat.cli import common, users
from jointsat.cli.common import DatabaseUrl
from jointsat.errors import StoreError

if TYPE_CHECKING:
    from jointsat.settings import Settings

db_app = typer.Typer(
    name="db", help="Create and migrate the consortium store.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseUrl = None,
    revision: Annotated[str, typer.Option(help="Revision to reach.")] = "head",
) -> None:
    """Bring the store's schema up to date (creating the store if it is new)."""
    with _upgraded(database_url, revision) as settings:
        _say_revision(settings.database_url)


@contextmanager
def _upgraded(database_url: str | None, revision: str = "head") -> Iterator[Settings]:
    """Yield the store's settings once its schema is at ``revision`` (the store made if new).

    Its errors end the command with one line on stderr.
    """
    from jointsat.store import migrate

    with common.store_command(database_url) as settings:
        migrate.upgrade(settings.database_url, revision)
        yield settings


def _say_revision(url: str) -> None:
    """Print the revision the store is at now."""
    from jointsat.store import migrate

    typer.echo(f"store at revision {migrate.current_revision(url)}: {common.redacted(url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to go back to ('base': empty).")],
    database_url: DatabaseUrl = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Go down even if data is lost (rows, columns dropped)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Take the store's schema back to an earlier revision, in one transaction.

    A downgrade that would lose data is refused unless --force; it asks for
    confirmation (--yes does not, and is needed when the input is not a terminal).
    Whatever fails, the store stays at the revision it was at.
    """
    from jointsat.store import migrate

    with common.store_command(database_url) as settings:
        url = settings.database_url
        current = migrate.current_revision(url)
        if current is None and revision == "base":
            typer.echo(f"store at revision None (empty) already: {common.redacted(url)}")
            return
        losses = migrate.downgrade_losses(url, revision)  # tried, then undone
        if losses and not force:
            raise migrate.DataLossError(revision, losses)
        if not yes:
            if not _interactive():
                raise StoreError(
                    "a downgrade asks for confirmation and the input is not a terminal: "
                    "add --yes to go ahead"
                )
            lose = f", losing {'; '.join(losses)}" if losses else ""
            typer.confirm(
                f"take the store {common.redacted(url)} from revision {current} down to "
                f"{revision}{lose}?",
                abort=True,
            )
        migrate.downgrade(url, revision, force=force)
        _say_revision(url)


def _interactive() -> bool:
    """Return whether the user can answer a question (standard input is a terminal)."""
    return sys.stdin.isatty()


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

    with _upgraded(database_url) as settings:
        url = settings.database_url
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
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Serve the store `jointsat demo` filled (and its archive)."),
    ] = False,
) -> None:
    """Serve the dashboard (/), the REST API (/api/v1, docs at /docs) with uvicorn.

    It refuses to start on a store that does not exist, was never migrated or is
    behind this jointsat's schema, saying what to run; at start it prints the store,
    its archive and the addresses it serves.
    """
    import uvicorn

    from jointsat.service.app import create_app
    from jointsat.service.shedding import exit_when_stuck

    with common.store_command(database_url) as settings:
        if demo:
            settings = _demo_settings(database_url)
        named = f" --database-url {common.redacted(settings.database_url)}"
        partners = _servable(settings, named if demo or database_url else "")
        if settings.dask_scheduler is not None:
            _reachable(settings.dask_scheduler)
        _print_start(settings, host, port, partners)
        if workers == 1:
            app = exit_when_stuck(create_app(settings))
            # SIGTERM: stop accepting, give open requests a few seconds, then close
            # them (uvicorn would otherwise wait for every connection, however long).
            uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
            return
        # Several processes need the app as an import string; they read the store's
        # URL (and the archive's root, when set) from the environment.
        os.environ["JOINTSAT_DATABASE_URL"] = settings.database_url
        if settings.archive_root is not None:
            os.environ["JOINTSAT_ARCHIVE_ROOT"] = str(settings.archive_root)
        uvicorn.run(
            "jointsat.service.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )


def _reachable(scheduler: str) -> None:
    """Refuse a Dask scheduler (JOINTSAT_DASK_SCHEDULER) that cannot be reached, in one line.

    Each server process connects on its own; this checks once, before any starts.
    """
    from jointsat.executors import dask_client

    with dask_client(scheduler, 1):
        pass


def _demo_settings(database_url: str | None) -> Settings:
    """Return the settings of the demo's store, refused when it was never made."""
    from jointsat.demo import DEMO_STORE_FILE_NAME
    from jointsat.settings import user_data_folder

    if database_url is not None:
        raise StoreError("give --demo or --database-url, not both")
    path = user_data_folder() / DEMO_STORE_FILE_NAME
    if not path.is_file():
        raise StoreError(f"no demo store at {path}: run `jointsat demo` first")
    return common.store_settings(f"sqlite:///{path}")


def _servable(settings: Settings, named: str) -> int:
    """Refuse a store the service cannot serve, saying what to run; return its partners.

    A SQLite store must exist (nothing is created for it), have a schema and be at
    this jointsat's newest revision; its archive must not be another store's. The
    commands suggested name the store with ``named`` (``--database-url URL``, or empty).
    """
    from sqlalchemy import func, select

    from jointsat.archive.ingest import store_archive
    from jointsat.store import migrate
    from jointsat.store.tables import Partner

    url = common.redacted(settings.database_url)
    create = f"create it with `jointsat admin init{named}` (or `jointsat db upgrade{named}`)"
    path = settings.store_file
    if path is not None and not path.parent.is_dir():
        raise StoreError(
            f"no store at {path}: its folder {path.parent} does not exist (check the URL); "
            f"make the folder, then {create}"
        )
    if path is not None and not path.is_file():
        raise StoreError(f"no store at {path}; {create}")
    current, head = migrate.current_revision(settings.database_url), migrate.head_revision()
    if current is None:
        raise StoreError(f"the store {url} has no schema (it was never migrated); {create}")
    if current != head:
        if not migrate.is_known(current):
            raise StoreError(
                f"the store {url} is at revision {current}, newer than this jointsat knows "
                f"({head}): upgrade jointsat"
            )
        raise StoreError(
            f"the store {url} is at revision {current}, this jointsat needs {head}: "
            f"back it up, then run `jointsat db upgrade{named}`"
        )
    with common.store_session(settings.database_url) as session:
        store_archive(settings, session).check_owner(claim=False)
        return int(session.scalar(select(func.count()).select_from(Partner)) or 0)


def _print_start(settings: Settings, host: str, port: int, partners: int) -> None:
    """Print which store, archive and addresses the server serves; a hint if it is empty."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    typer.echo(f"store: {common.redacted(settings.database_url)}")
    archive = f"archive: {settings.archive_folder}"
    legacy = settings.legacy_archive_folder
    if legacy is not None and (legacy / "sha256").is_dir():
        archive += f" (older products read from {legacy} too)"
    typer.echo(archive)
    typer.echo(f"dashboard: {base}/")
    typer.echo(f"API: {base}/api/v1 (docs: {base}/docs)")
    if settings.dask_scheduler is not None:
        typer.echo(f"pass predictions: on the Dask cluster at {settings.dask_scheduler}")
    if partners == 0:
        typer.echo(
            "this store is empty: `jointsat demo` fills a demo store you can serve with "
            "`jointsat serve --demo`; or add partners: `jointsat partner add ...`"
        )
    sys.stdout.flush()
