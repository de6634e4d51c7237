"""Give every command the same consoles, options, time parsing, store access and errors.

What a command writes (tables, JSON, CSV) is :mod:`jointsat.cli.output`'s; long
steps show with :mod:`jointsat.cli.progress`.

Imports stay at the top of the CLI's modules, except the heavy ones (the store's
SQLAlchemy and Alembic, OR-Tools behind the solvers and the planning pipeline,
FastAPI and uvicorn, urllib's HTTP client), which are imported inside the commands
that use them so that ``jointsat --help`` stays quick.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from jointsat.errors import JointsatError, StoreError
from jointsat.timelib import format_readable, parse_iso

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from jointsat.orbits.freshness import Freshness, StaleRule
    from jointsat.settings import Settings

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL of the store (default: JOINTSAT_DATABASE_URL, else a SQLite "
        "file in the user's data folder).",
    ),
]
TimeLimit = Annotated[
    float,
    typer.Option(
        "--time-limit", min=0.1, metavar="S", help="Seconds CP-SAT may search, all levels together."
    ),
]
StaleLeoDays = Annotated[
    float | None,
    typer.Option(
        "--stale-leo-days",
        min=0.001,
        metavar="D",
        help="Call elements of a low Earth orbit stale past this age in days (default: "
        "JOINTSAT_STALE_LEO_DAYS, else 7).",
    ),
]
StaleAboveLeoDays = Annotated[
    float | None,
    typer.Option(
        "--stale-above-leo-days",
        min=0.001,
        metavar="D",
        help="Call elements of a higher orbit stale past this age in days (default: "
        "JOINTSAT_STALE_ABOVE_LEO_DAYS, else 30).",
    ),
]
Strict = Annotated[
    bool, typer.Option("--strict", help="Refuse stale elements: an error, not a warning.")
]


def now() -> datetime:
    """Return the time now, in UTC: the one clock reading of a command, handed down."""
    return datetime.now(UTC)


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 time into an aware UTC datetime; a time without offset is UTC."""
    try:
        return parse_iso(text, naive_is_utc=True)
    except ValueError as error:
        raise typer.BadParameter(str(error).removeprefix("time ")) from None


def time_option(help_text: str, *names: str, metavar: str = "TIME") -> Any:
    """Return a typer option for an ISO 8601 time, UTC when it has no offset."""
    return typer.Option(*names, parser=parse_utc, metavar=metavar, help=help_text)


def days_option(help_text: str) -> Any:
    """Return a typer option for a window's length in days."""
    return typer.Option(metavar="D", help=help_text)


def files_option(help_text: str, *names: str) -> Any:
    """Return a typer option naming input files (``FILE``); repeat it for several."""
    return typer.Option(*names, metavar="FILE", help=help_text)


def time_window(
    start: datetime, *, days: float | None = None, end: datetime | None = None
) -> tuple[datetime, datetime]:
    """Return the window from ``start`` lasting ``days``, or ending at ``end``: exactly one."""
    if (days is None) == (end is None):
        raise typer.BadParameter("give exactly one of them", param_hint="'--days' / '--end'")
    if days is not None:
        if not (math.isfinite(days) and days > 0.0):
            raise typer.BadParameter(
                f"{days} is not a positive number of days", param_hint="'--days'"
            )
        try:
            end = start + timedelta(days=days)
        except OverflowError:
            raise typer.BadParameter(f"{days} days is too long", param_hint="'--days'") from None
    assert end is not None
    if end <= start:
        raise typer.BadParameter(
            f"the end {format_readable(end)} is not after the start {format_readable(start)}",
            param_hint="'--end'",
        )
    return start, end


@contextmanager
def reporting_errors(errors: Console) -> Iterator[None]:
    """Turn a jointsat error into a one-line red message on stderr and exit status 1."""
    try:
        yield
    except JointsatError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None


def warn(errors: Console, message: str) -> None:
    """Print one warning line on stderr."""
    errors.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True, highlight=False)


def stale_rule(leo_days: float | None, above_leo_days: float | None) -> StaleRule:
    """Return when elements are stale: the options given, else the environment, else 7 and 30."""
    from jointsat.settings import stale_rule_from_environment

    try:
        return stale_rule_from_environment(leo_days=leo_days, above_leo_days=above_leo_days)
    except ValueError as error:
        raise JointsatError(str(error)) from None


def check_freshness(errors: Console, found: Iterable[Freshness], *, strict: bool) -> None:
    """Warn once per satellite whose elements are stale; with ``strict`` refuse them."""
    stale = [
        (f"{f.name} ({f.norad_id})", f.elements_age_days, f"{f.stale_after_days:g} days")
        for f in found
        if f.stale
    ]
    _stale_elements(errors, stale, strict=strict)


def check_provenance_freshness(
    errors: Console, provenance: Mapping[str, Any], *, strict: bool
) -> None:
    """Warn about (``strict``: refuse) the stale elements a result's provenance notes."""
    rule = provenance.get("stale_after_days", {})
    limit = f"{rule.get('leo', 0):g} days in LEO, {rule.get('above_leo', 0):g} above"
    stale = [(f"satellite {n}", age, limit) for n, age in provenance["stale_element_sets"].items()]
    _stale_elements(errors, stale, strict=strict)


def _stale_elements(errors: Console, stale: list[tuple[str, float, str]], *, strict: bool) -> None:
    """Warn about each (who, oldest age in days, threshold) once, or refuse them all at once."""
    lines = [
        f"{who}: elements up to {age:.1f} days old in this window, stale past {limit}"
        for who, age, limit in stale
    ]
    if strict and lines:
        raise JointsatError(
            f"stale elements (--strict): {'; '.join(lines)}; fetch newer ones "
            '(docs/elements.md, "Freshness")'
        )
    for line in lines:
        warn(errors, line)


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn a bad URL, an unreachable server or an unknown revision into a StoreError.

    SQLAlchemy and Alembic are looked at only if they were imported: a command
    that reads files never pays for importing them.
    """
    try:
        yield
    except Exception as exc:
        converted = _store_error(exc)
        if converted is None:
            raise
        raise converted from None


def _store_error(exc: Exception) -> StoreError | None:
    database = sys.modules.get("sqlalchemy.exc")
    migrations = sys.modules.get("alembic.util")
    if database is not None and isinstance(exc, database.ArgumentError):
        return StoreError(f"not a database URL: {exc}")
    if database is not None and isinstance(exc, database.OperationalError):
        return StoreError(f"cannot reach the store: {str(exc.orig).strip()}")
    if migrations is not None and isinstance(exc, migrations.CommandError):
        return StoreError(f"cannot migrate: {exc}")
    return None


def store_settings(database_url: str | None) -> Settings:
    """Return the store and archive: the URL given, else as the environment says."""
    from jointsat.settings import Settings

    return Settings.from_environment(database_url=database_url)


@contextmanager
def store_command(database_url: str | None) -> Iterator[Settings]:
    """Yield the store's settings to a command; its errors end it with one line on stderr."""
    with reporting_errors(Console(stderr=True)), store_errors():
        yield store_settings(database_url)


def redacted(url: str) -> str:
    """Return the URL with any password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def store_session(database_url: str | None) -> Iterator[Session]:
    """Yield a session of the store (the URL given, else the environment's), committed at the end.

    Store errors become ``StoreError``; the engine is closed after. Work may commit
    along the way (an ingest commits each product).
    """
    from jointsat.store.database import open_engine, session_factory

    with store_errors():
        engine = open_engine(store_settings(database_url).database_url)
        try:
            with session_factory(engine)() as session:
                yield session
                session.commit()
        finally:
            engine.dispose()


@contextmanager
def store_work(database_url: str | None) -> Iterator[Session]:
    """Yield a session of the store to a command; its errors end it with one line on stderr."""
    with reporting_errors(Console(stderr=True)), store_errors(), store_session(database_url) as s:
        yield s


Cluster = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        metavar="local|tcp://HOST:PORT",
        help="Run on Dask: local starts a cluster of --workers processes here; an address "
        "uses a running scheduler and its workers.",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(min=1, metavar="N", help="Worker processes of a local Dask cluster."),
]


@contextmanager
def dask_executor(cluster: str | None, workers: int | None) -> Iterator[Executor | None]:
    """Yield Dask's executor when a cluster is asked for (or several workers), else None."""
    if cluster is None and (workers is None or workers == 1):
        yield None
        return
    from jointsat.executors import dask_client, local_workers

    with dask_client(cluster, workers or local_workers(64)) as client:
        yield client.get_executor()  # type: ignore[no-untyped-call]


@contextmanager
def progress_bar(console: Console, description: str) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a progress callback drawing a bar on a terminal (nothing elsewhere)."""
    if not console.is_terminal:
        yield None
        return
    with Progress(
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield tick
