"""Run jointsat from the command line: passes, demo, schedule, plan, store, archive, service.

Results go to stdout (or ``-o FILE``); warnings, errors and the progress bar go
to stderr. Exit status: 0 on success, 1 when an input file cannot be used,
2 when the command line itself is wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

from jointsat import __version__
from jointsat.errors import JointsatError, PlanningInputError, StoreError
from jointsat.files import (
    ElementFiles,
    format_passes_csv,
    format_passes_json,
    read_demo_elements,
    read_demo_stations,
    read_elements,
    read_stations,
    write_text,
)
from jointsat.orbits.elements import Elements
from jointsat.orbits.passes import Pass, Passes, ProgressCallback, find_passes
from jointsat.orbits.stations import Station

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from jointsat.demo import DemoConsortium
    from jointsat.planning.plan import Objective, Plan
    from jointsat.planning.planner import PlannerSettings
    from jointsat.scheduling.result import Policy, Schedule

PROGRESS_DELAY_S = 1.0
"""Show the progress bar only once pass finding has run this long."""

DEMO_DAYS = 7
WEEK_DAYS = 7  # what `jointsat schedule --week` plans
DEMO_SCHEDULE_TIME_LIMIT_S = 20.0
DEMO_PLAN_TIME_LIMIT_S = 10.0
# Element sets from which `jointsat passes` spreads the work over the cores.
PARALLEL_FROM_ELEMENT_SETS = 40
DEMO_FEATURED_NORAD_IDS = (25544, 48274, 44874)  # ISS (ZARYA), CSS (TIANHE), CHEOPS
DEMO_NEXT_PASSES = 10
DEMO_STALE_DAYS = 3.0
"""Call a satellite's element set stale when it lies this many days from the demo window."""

_TABLE_FILE_WIDTH = 200

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL of the store (default: JOINTSAT_DATABASE_URL, else a SQLite "
        "file in the user's data folder).",
    ),
]


app = typer.Typer(name="jointsat", no_args_is_help=True, add_completion=False)


class OutputFormat(StrEnum):
    """Name the formats ``jointsat passes`` can write."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 time into an aware UTC datetime; a time without offset is UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time such as 2024-05-09T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


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
            f"the end {_utc_text(end)} is not after the start {_utc_text(start)}",
            param_hint="'--end'",
        )
    return start, end


def _version(value: bool) -> None:
    """Print the version and stop, when ``--version`` is given."""
    if value:
        typer.echo(f"jointsat {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Predict satellite passes over ground stations for joint satellite missions."""


@app.command()
def passes(
    start: Annotated[
        datetime,
        typer.Option(
            parser=parse_utc,
            metavar="ISO8601",
            help="Window start, e.g. 2024-05-09T00:00:00Z; UTC if no offset.",
        ),
    ],
    elements: Annotated[
        list[Path] | None,
        typer.Option(
            "--elements",
            "-e",
            metavar="FILE",
            help="Element sets (TLE, 3LE or OMM); repeat for several files.",
        ),
    ] = None,
    stations: Annotated[
        Path | None,
        typer.Option("--stations", "-s", metavar="FILE", help="Ground stations (CSV or JSON)."),
    ] = None,
    days: Annotated[
        float | None, typer.Option(metavar="D", help="Window length in days (or give --end).")
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(parser=parse_utc, metavar="ISO8601", help="Window end (or give --days)."),
    ] = None,
    min_elevation_deg: Annotated[
        float,
        typer.Option(
            "--min-elevation",
            metavar="DEG",
            min=-90.0,
            max=90.0,
            help="Minimum elevation in degrees for stations that set none.",
        ),
    ] = 0.0,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.TABLE,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Stop at the first unreadable element set, do not warn."),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Processes to use (default: one per core for big jobs)."
        ),
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Take the satellites (and, without --stations, the stations) from the store.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Find every pass of the satellites over the stations in a time window."""
    window_start, window_end = time_window(start, days=days, end=end)
    if not from_store and (not elements or stations is None):
        raise typer.BadParameter("give --elements and --stations, or --from-store")
    errors = Console(stderr=True)
    with _reporting_errors(errors), _store_errors():
        if from_store:
            element_files, station_list = _from_store(database_url)
        if elements:
            element_files = read_elements(elements, strict=strict)
        if stations is not None:
            station_list = read_stations(stations)
        found = _predict(
            element_files,
            station_list,
            window_start,
            window_end,
            min_elevation_deg,
            errors,
            workers=workers,
        )
        if output_format is OutputFormat.CSV:
            _emit(format_passes_csv(found), output)
        elif output_format is OutputFormat.JSON:
            _emit(format_passes_json(found), output)
        else:
            title = f"{len(found)} passes, {_utc_text(found.start)} to {_utc_text(found.end)} UTC"
            _emit_table(_passes_table(found.rows(), title), output)


@app.command()
def demo(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="An empty store to fill (default: a demo SQLite file in the user's data "
            "folder, made anew at each run).",
        ),
    ] = None,
) -> None:
    """Build a demo consortium store, predict a week of its passes and plan that week.

    The week starts the day after the newest element set of the bundled
    "stations" group (ISS, CSS, ...), so that the demo is reproducible and
    those elements are fresh. The pooled network is shared fairly (schedule 1),
    then the partners' requests are planned fairly on the satellites' payloads,
    downlinked in that schedule's contacts (plan 1).
    """
    console = Console()
    errors = Console(stderr=True)
    with _reporting_errors(errors):
        element_files = read_demo_elements()
        station_list = read_demo_stations()
        anchor = max(element_files.parsed[0].elements, key=lambda e: e.epoch)
        midnight = anchor.epoch.replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight + timedelta(days=1)
        end = start + timedelta(days=DEMO_DAYS)
        console.print(
            f"[bold]jointsat demo[/]: {DEMO_DAYS} days from {_utc_text(start)} to "
            f"{_utc_text(end)} UTC, starting the day after the newest element set of "
            f"{element_files.sources[0]} ({escape(anchor.object_name)}, "
            f"epoch {_utc_text(anchor.epoch)} UTC)."
        )
        for name, norad_id, epoch, gap_days in _stale_satellites(
            element_files.elements, start, end
        ):
            console.print(
                f"Note: {escape(name)} ({norad_id}) has no element set near this week; its "
                f"nearest, epoch {_utc_text(epoch)} UTC ({gap_days:.0f} days away), is used, "
                "so its passes are indicative only."
            )
        found = _predict(element_files, station_list, start, end, 0.0, errors)
        _print_demo_summary(console, found, element_files.elements)
        with _store_errors():
            url = database_url or _fresh_demo_store()
            consortium = _build_demo_store(url, element_files, station_list)
        _print_consortium(console, found, consortium)
        from jointsat.scheduling.result import Policy

        shared, document = _schedule_week(url, start, Policy.FAIR, DEMO_SCHEDULE_TIME_LIMIT_S)
        console.print(
            f"\n[bold]The week's pooled network, shared fairly[/] (schedule {document['id']} "
            "in the store; `jointsat schedule --week` plans another):"
        )
        _print_schedule_summary(console, shared)
        from jointsat.planning.plan import Objective
        from jointsat.planning.planner import PlannerSettings

        planned, plan_document = _plan_store(
            url,
            start,
            end,
            Objective.FAIR,
            PlannerSettings(time_limit_s=DEMO_PLAN_TIME_LIMIT_S),
            document["id"],
        )
        console.print(
            f"\n[bold]The week's observations, planned fairly[/] (plan {plan_document['id']} in "
            f"the store, downlinked in schedule {document['id']}'s contacts; "
            "`jointsat plan --from-store` plans another):"
        )
        _print_demo_plan(console, planned, plan_document["provenance"])
        archived = _archive_demo_plan(url, plan_document["id"])
        console.print(
            f"\n[bold]The week's observations, archived[/]: {archived} stand-in products "
            "(a JSON note each; the demo has no instrument data) in "
            f"{escape(str(_archive_root(url)))}, "
            "owned by the requesting partner, open to the other partners after the "
            "embargo and to the public after the public release (`jointsat archive list`, "
            "`/api/v1/products`, `/stac`)."
        )
        console.print(
            "\n[bold]The demo consortium is in the store[/] "
            f"{escape(_redacted(url))}.\nServe it with:\n\n"
            f"  JOINTSAT_DATABASE_URL='{escape(url)}' .venv/bin/jointsat serve\n\n"
            "then open http://127.0.0.1:8000/ (the dashboard: map, timeline, passes, "
            "fairness, archive; `?at=2024-05-10T12:00:00Z` shows the demo's week) and sign "
            "in with the admin token (shown only now), or call the API with it, for "
            "example for its partners or the plan:\n\n"
            f"  curl -H 'Authorization: Bearer {consortium.admin_token}' "
            "http://127.0.0.1:8000/api/v1/partners\n"
            f"  curl -H 'Authorization: Bearer {consortium.admin_token}' "
            f"http://127.0.0.1:8000/api/v1/plans/{plan_document['id']}\n",
            soft_wrap=True,
        )


def _archive_demo_plan(url: str, plan_id: int) -> int:
    """Archive a stand-in product per observation of the demo's plan; return how many."""
    from jointsat.archive.blobs import BlobStore
    from jointsat.demo import archive_plan
    from jointsat.store.database import open_engine, session_factory

    engine = open_engine(url)
    try:
        with _store_errors(), session_factory(engine)() as session:
            return archive_plan(
                session, BlobStore(_archive_root(url)), plan_id, now=datetime.now(UTC)
            )
    finally:
        engine.dispose()


def _from_store(database_url: str | None) -> tuple[ElementFiles, tuple[Station, ...]]:
    """Read every stored element set and station (the CLI has the whole store)."""
    from jointsat.orbits.elements import ElementsFormat, ParsedElements
    from jointsat.store.convert import network

    url = _store_url(database_url)
    with _store_session(url) as session:
        elements, stations = network(session)
    source = f"store {_redacted(url)}"
    parsed = ParsedElements(tuple(elements), (), ElementsFormat.OMM_JSON)
    return ElementFiles((source,), (parsed,)), tuple(stations)


def _fresh_demo_store() -> str:
    """Return the URL of a new, empty demo SQLite file in the user's data folder."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("jointsat", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "jointsat-demo.db"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _build_demo_store(
    url: str, element_files: ElementFiles, stations: Sequence[Station]
) -> DemoConsortium:
    """Migrate the store at ``url`` and fill it with the demo consortium."""
    from jointsat.demo import build
    from jointsat.store import migrate

    migrate.upgrade(url)
    with _store_session(url) as session:
        return build(session, element_files, tuple(stations), now=datetime.now(UTC))


def _print_demo_plan(console: Console, found: Plan, provenance: dict[str, Any]) -> None:
    """Print each partner's gain and share against its entitlement, and requests served."""
    from collections import Counter

    from jointsat.planning.plan import Unserved

    asked = {code: len(ids) for code, ids in provenance["request_ids"].items()}
    served = Counter(o.partner for o in found.observations)
    table = Table(
        title=f"{found.objective.value} plan: {len(found.observations)} observations of "
        f"{sum(asked.values())} requests"
    )
    for name in ("partner", "gain", "received", "entitled", "served / asked", "demand met"):
        table.add_column(name, justify="left" if name == "partner" else "right")
    for partner, got in found.partners.items():
        table.add_row(
            escape(partner),
            f"{got.gain:,}",
            f"{got.share_received:.1%}",
            f"{got.share_entitled:.1%}",
            f"{served[partner]} / {asked.get(partner, 0)}",
            "yes" if got.demand_met else "no",
        )
    console.print(table)
    unobservable = sum(why is Unserved.NO_OPPORTUNITY for why in found.unserved.values())
    console.print(
        f"status {found.status.value}, gap {found.gap:.2%}, {len(found.observations)} "
        f"observations, gain {found.total_gain:,}; {unobservable} request(s) had no "
        f"opportunity this week ({found.solver}, {found.wall_s:.2f} s)",
        highlight=False,
    )
    if all(got.demand_met for got in found.partners.values()):
        console.print(
            "Every request that could be observed is served: the shares received follow "
            "what partners asked, not their entitlements."
        )


def _print_consortium(console: Console, found: Passes, consortium: DemoConsortium) -> None:
    """Print each partner's share and its week of passes: of its satellites, over its stations."""
    from jointsat.demo import PARTNERS

    table = Table(title="The demo consortium's week, per partner")
    for column in ("partner", "share", "stations", "satellites (fraction)"):
        table.add_column(column)
    table.add_column("its satellites' passes / min", justify="right")
    table.add_column("passes over its stations / min", justify="right")
    minutes = found.duration_s / 60.0
    station_owner = np.array([consortium.station_owner[s.name] for s in found.stations])
    for code, (name, share, _, _) in PARTNERS.items():
        mine = [sid for sid, ops in consortium.operators.items() if code in ops]
        sat_rows = np.isin(np.array([found.satellites[i].norad_id for i in found.satellite]), mine)
        station_rows = station_owner[found.station] == code
        table.add_row(
            escape(name),
            f"{share:.2f}",
            str(int(np.sum(station_owner == code))),
            ", ".join(
                f"{found.satellites[[s.norad_id for s in found.satellites].index(sid)].name} "
                f"({consortium.operators[sid][code]:g})"
                for sid in mine
            ),
            f"{int(sat_rows.sum())} / {minutes[sat_rows].sum():.0f}",
            f"{int(station_rows.sum())} / {minutes[station_rows].sum():.0f}",
        )
    console.print(table)


def _predict(
    element_files: ElementFiles,
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    min_elevation_deg: float,
    errors: Console,
    *,
    workers: int | None = None,
) -> Passes:
    """Find the passes, warning on stderr about unreadable element sets and SGP4 failures.

    Without ``workers``, big jobs (many satellites) use one process per core.
    """
    for problem in element_files.problems:
        _warn(errors, str(problem))
    if element_files.problems:
        _warn(errors, f"skipped {len(element_files.problems)} unreadable element set(s)")
    if not element_files.elements:
        raise JointsatError(f"no usable element sets in {', '.join(element_files.sources)}")
    with _progress_callback(errors) as progress:
        found = find_passes(
            element_files.elements,
            stations,
            start,
            end,
            min_elevation_deg=min_elevation_deg,
            workers=workers or _default_workers(len(element_files.elements)),
            progress=progress,
        )
    for failure in found.problems:
        satellite = found.satellites[failure.satellite]  # an index, like Passes.satellite
        _warn(
            errors,
            f"{satellite.name} ({satellite.norad_id}): SGP4 error {failure.code} "
            f"({failure.message}) from {_utc_text(failure.time)} UTC on; passes after it are lost",
        )
    return found


def _default_workers(element_sets: int) -> int:
    """Return one process per core (at most 8) for jobs worth the start-up, else one."""
    return min(os.cpu_count() or 1, 8) if element_sets >= PARALLEL_FROM_ELEMENT_SETS else 1


@contextmanager
def _reporting_errors(errors: Console) -> Iterator[None]:
    """Turn a jointsat error into a one-line red message on stderr and exit status 1."""
    try:
        yield
    except JointsatError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None


def _warn(errors: Console, message: str) -> None:
    """Print one warning line on stderr."""
    errors.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True, highlight=False)


class DelayedProgress:
    """Show a rich progress bar once the work has run for ``delay_s`` seconds.

    Call it as a ``progress(done, total)`` callback; :meth:`close` removes the bar.
    """

    def __init__(self, console: Console, *, delay_s: float = PROGRESS_DELAY_S) -> None:
        self._console = console
        self._delay_s = delay_s
        self._started_s = time.monotonic()
        self._bar: Progress | None = None
        self._task = TaskID(0)

    def __call__(self, done: int, total: int) -> None:
        """Record that ``done`` of ``total`` units of work are finished."""
        if self._bar is None:
            if time.monotonic() - self._started_s < self._delay_s:
                return
            self._bar = Progress(
                *Progress.get_default_columns()[:-1],
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("finding passes", total=total, completed=done)
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        """Remove the progress bar, if it was shown."""
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def _progress_callback(errors: Console) -> Iterator[ProgressCallback | None]:
    """Yield a progress callback drawing on ``errors``, or None when it is no terminal."""
    if not errors.is_terminal:
        yield None
        return
    bar = DelayedProgress(errors)
    try:
        yield bar
    finally:
        bar.close()


def _emit(text: str, output: Path | None) -> None:
    """Write text to the output file, or to stdout."""
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text(output, text)


def _emit_table(table: Table, output: Path | None) -> None:
    """Print a rich table to stdout, or write it as plain text to the output file."""
    if output is None:
        Console().print(table)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=_TABLE_FILE_WIDTH).print(table)
    write_text(output, buffer.getvalue())


def _utc_text(moment: datetime) -> str:
    """Return a UTC time for people to read, to the second: ``2024-05-10 00:00:00``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


_PassCell = Callable[[Pass], str]
_PASS_TABLE_COLUMNS: tuple[tuple[str, bool, _PassCell], ...] = (
    # header, shown in the compact table, cell
    ("satellite", True, lambda p: f"{p.satellite.name} ({p.satellite.norad_id})"),
    ("station", True, lambda p: p.station.name),
    ("AOS (UTC)", True, lambda p: _utc_text(p.aos)),
    ("TCA", False, lambda p: _utc_text(p.tca)[11:]),
    ("LOS", True, lambda p: _utc_text(p.los)[11:]),
    ("max el °", True, lambda p: f"{p.max_elevation_deg:.1f}"),
    ("AOS az °", False, lambda p: f"{p.aos_azimuth_deg:.1f}"),
    ("LOS az °", False, lambda p: f"{p.los_azimuth_deg:.1f}"),
    ("minutes", True, lambda p: f"{p.duration_s / 60.0:.1f}"),
    ("sunlit", False, lambda p: "yes" if p.sunlit else "no"),
    ("truncated", False, lambda p: "yes" if p.truncated else ""),
)


def _passes_table(rows: Sequence[Pass], title: str, *, compact: bool = False) -> Table:
    """Return passes as a rich table; ``compact`` keeps only the essential columns."""
    columns = [column for column in _PASS_TABLE_COLUMNS if column[1] or not compact]
    table = Table(title=title)
    for header, _, _ in columns:
        table.add_column(header, justify="left" if header in ("satellite", "station") else "right")
    for row in rows:
        table.add_row(*(escape(cell(row)) for _, _, cell in columns))
    return table


def _print_demo_summary(console: Console, found: Passes, elements: Sequence[Elements]) -> None:
    """Print the demo's tables: contacts per station and per satellite, then the next passes."""
    shape = (len(found.satellites), len(found.stations))
    counts = np.zeros(shape, dtype=np.int64)
    minutes = np.zeros(shape)
    np.add.at(counts, (found.satellite, found.station), 1)
    np.add.at(minutes, (found.satellite, found.station), found.duration_s / 60.0)
    console.print(
        f"{len(found.satellites)} satellites ({len(elements)} element sets) over "
        f"{len(found.stations)} stations: {len(found)} passes, "
        f"{minutes.sum() / 60.0:.1f} contact hours."
    )

    index = {satellite.norad_id: i for i, satellite in enumerate(found.satellites)}
    featured = [index[n] for n in DEMO_FEATURED_NORAD_IDS if n in index]
    per_station = Table(title="Contacts per station: passes / minutes")
    per_station.add_column("station")
    for i in featured:
        per_station.add_column(escape(found.satellites[i].name), justify="right")
    per_station.add_column(f"all {len(found.satellites)}", justify="right")
    for k, station in enumerate(found.stations):
        cells = [f"{counts[i, k]} / {minutes[i, k]:.0f}" for i in featured]
        total = f"{counts[:, k].sum()} / {minutes[:, k].sum():.0f}"
        per_station.add_row(escape(station.name), *cells, total)
    console.print(per_station)

    per_satellite = Table(title="Contacts per satellite")
    for header in ("satellite", "NORAD", "passes", "minutes", "stations", "busiest station"):
        per_satellite.add_column(header, justify="left" if header == "satellite" else "right")
    for i, satellite in enumerate(found.satellites):
        busiest = int(np.argmax(minutes[i]))
        per_satellite.add_row(
            escape(satellite.name),
            str(satellite.norad_id),
            str(counts[i].sum()),
            f"{minutes[i].sum():.0f}",
            str(np.count_nonzero(counts[i])),
            escape(found.stations[busiest].name) if counts[i, busiest] else "-",
        )
    console.print(per_satellite)

    featured_ids = {found.satellites[i].norad_id for i in featured}
    upcoming = [
        row for row in found.rows() if row.satellite.norad_id in featured_ids and not row.truncated
    ][:DEMO_NEXT_PASSES]
    names = ", ".join(found.satellites[i].name for i in featured)
    console.print(_passes_table(upcoming, f"First passes of {escape(names)}", compact=True))


def _stale_satellites(
    elements: Sequence[Elements], start: datetime, end: datetime
) -> list[tuple[str, int, datetime, float]]:
    """Return name, NORAD ID, epoch and gap (days) of satellites whose nearest set is stale."""
    nearest: dict[int, tuple[float, Elements]] = {}
    for e in elements:
        gap_days = max((start - e.epoch).total_seconds(), (e.epoch - end).total_seconds(), 0.0)
        gap_days /= 86400.0
        if e.norad_cat_id not in nearest or gap_days < nearest[e.norad_cat_id][0]:
            nearest[e.norad_cat_id] = (gap_days, e)
    return [
        (e.object_name, norad_id, e.epoch, gap_days)
        for norad_id, (gap_days, e) in nearest.items()
        if gap_days > DEMO_STALE_DAYS
    ]


db_app = typer.Typer(
    name="db", help="Create and migrate the consortium store.", no_args_is_help=True
)
app.add_typer(db_app)


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseUrl = None,
    revision: Annotated[str, typer.Option(help="Revision to reach.")] = "head",
) -> None:
    """Bring the store's schema up to date (creating the store if it is new)."""
    from jointsat.store import migrate

    with _reporting_errors(Console(stderr=True)), _store_errors():
        url = _store_url(database_url)
        migrate.upgrade(url, revision)
        typer.echo(f"store at revision {migrate.current_revision(url)}: {_redacted(url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Revision to go back to ('base': empty).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Take the store's schema back to an earlier revision."""
    from jointsat.store import migrate

    with _reporting_errors(Console(stderr=True)), _store_errors():
        url = _store_url(database_url)
        migrate.downgrade(url, revision)
        typer.echo(f"store at revision {migrate.current_revision(url)}: {_redacted(url)}")


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn a bad URL, an unreachable server or an unknown revision into a StoreError."""
    from alembic.util import CommandError
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        yield
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {exc}") from None
    except OperationalError as exc:
        raise StoreError(f"cannot reach the store: {str(exc.orig).strip()}") from None
    except CommandError as exc:
        raise StoreError(f"cannot migrate: {exc}") from None


def _redacted(url: str) -> str:
    """Return the URL with any password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _store_url(database_url: str | None) -> str:
    """Return the store's URL: the one given, else JOINTSAT_DATABASE_URL or the user's file."""
    from jointsat.store.database import default_database_url

    return database_url or default_database_url()


@contextmanager
def _store_session(url: str) -> Iterator[Session]:
    """Yield a session of the store at ``url`` in one transaction; close the engine after."""
    from jointsat.store.database import open_engine, session_factory

    engine = open_engine(url)
    try:
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


admin_app = typer.Typer(
    name="admin",
    help="Set up the store's first admin and manage API tokens.",
    no_args_is_help=True,
)
token_app = typer.Typer(name="token", help="Create and revoke API tokens.", no_args_is_help=True)
admin_app.add_typer(token_app)
app.add_typer(admin_app)


@admin_app.command("init")
def admin_init(
    database_url: DatabaseUrl = None,
    name: Annotated[str, typer.Option(help="Name of the first admin user.")] = "admin",
) -> None:
    """Create (or migrate) the store and its first admin; print the admin's token once."""
    from jointsat.service.tokens import initialise
    from jointsat.store import migrate

    with _reporting_errors(Console(stderr=True)), _store_errors():
        url = _store_url(database_url)
        migrate.upgrade(url)
        with _store_session(url) as session:
            token = initialise(session, name=name, now=datetime.now(UTC))
        typer.echo(f"store ready: {_redacted(url)}")
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

    with _reporting_errors(Console(stderr=True)), _store_errors():
        with _store_session(_store_url(database_url)) as session:
            found = session.scalars(select(User).where(User.name == user)).one_or_none()
            if found is None:
                raise StoreError(f"no user named {user!r}")
            token = issue_token(session, found, now=datetime.now(UTC), label=label)
        typer.echo(token)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Id of the token to revoke.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token: requests that carry it are refused from now on."""
    from jointsat.service.tokens import revoke

    with (
        _reporting_errors(Console(stderr=True)),
        _store_errors(),
        _store_session(_store_url(database_url)) as session,
    ):
        row = revoke(session, token_id, now=datetime.now(UTC))
        typer.echo(f"token {row.id} of user {row.user.name!r} revoked at {row.revoked_at}")


@app.command()
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
    from jointsat.service.settings import Settings

    with _reporting_errors(Console(stderr=True)), _store_errors():
        settings = (
            Settings(database_url=database_url) if database_url else Settings.from_environment()
        )
        if workers == 1:
            uvicorn.run(create_app(settings), host=host, port=port)
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
        )


class PolicyChoice(StrEnum):
    """Name the sharing policies ``jointsat schedule`` offers (docs/scheduling.md)."""

    FAIR = "fair"
    MAX_TOTAL = "max-total"
    PRIORITY = "priority"


TimeLimit = Annotated[
    float,
    typer.Option(
        "--time-limit", min=0.1, metavar="S", help="Seconds CP-SAT may search, all levels together."
    ),
]
Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the schedule JSON here, not stdout.")
]


@app.command()
def schedule(
    problem: Annotated[
        Path | None, typer.Option("--problem", help="Problem JSON file (docs/scheduling.md).")
    ] = None,
    week: Annotated[
        bool,
        typer.Option("--week", help="Schedule the store's pooled network for a week and save it."),
    ] = False,
    start: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_utc, metavar="TIME", help="With --week: its start (default: now)."
        ),
    ] = None,
    policy: Annotated[PolicyChoice, typer.Option(help="How to share the network.")] = (
        PolicyChoice.FAIR
    ),
    time_limit: TimeLimit = 30.0,
    output: Output = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Share the pooled stations' passes among partners by policy, proven optimal in time."""
    from jointsat.scheduling.result import Policy

    errors = Console(stderr=True)
    if (problem is None) == (not week):
        raise typer.BadParameter("give exactly one of them", param_hint="'--problem' / '--week'")
    with _reporting_errors(errors):
        if problem is not None:
            found, document = _schedule_file(problem, Policy(policy.value), time_limit)
        else:
            found, document = _schedule_week(
                database_url, start or datetime.now(UTC), Policy(policy.value), time_limit
            )
        _emit(json.dumps(document, indent=2) + "\n", output)
        _print_schedule_summary(errors, found)


@app.command()
def replan(
    schedule_file: Annotated[
        Path, typer.Option("--schedule", help="The schedule JSON being replaced.")
    ],
    problem: Annotated[Path, typer.Option("--problem", help="The problem it was made for.")],
    outage: Annotated[
        tuple[str, str, str],
        typer.Option(
            metavar="STATION START END", help="The station that fails, from START to END (UTC)."
        ),
    ],
    now: Annotated[
        datetime,
        typer.Option(parser=parse_utc, metavar="TIME", help="Contacts started before it are kept."),
    ],
    policy: Annotated[
        PolicyChoice | None,
        typer.Option(help="How to share the network (default: the schedule's own policy)."),
    ] = None,
    time_limit: TimeLimit = 30.0,
    output: Output = None,
) -> None:
    """Re-plan after a station outage: keep what started, change the fewest contacts."""
    from jointsat.files import read_text
    from jointsat.scheduling import solver
    from jointsat.scheduling.problem import Problem, format_time
    from jointsat.scheduling.result import Policy, contact_pass_ids

    errors = Console(stderr=True)
    station, outage_start, outage_end = outage
    begins, ends = parse_utc(outage_start), parse_utc(outage_end)
    with _reporting_errors(errors):
        text = read_text(problem)
        old = _read_json(schedule_file)
        chosen = Policy(policy.value if policy else old.get("policy", Policy.FAIR.value))
        found = solver.replan(
            Problem.from_json(text, source=str(problem)),
            contact_pass_ids(old, source=str(schedule_file)),
            now=now,
            outage=(station, begins, ends),
            policy=chosen,
            settings=solver.SolverSettings(time_limit_s=time_limit),
        )
        document = found.to_dict()
        document["provenance"] = {
            "problem_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "replaces": str(schedule_file),
            "outage": {"station": station, "start": format_time(begins), "end": format_time(ends)},
            "now": format_time(now),
            "jointsat": __version__,
        }
        _emit(json.dumps(document, indent=2) + "\n", output)
        _print_schedule_summary(errors, found)


def _schedule_file(
    path: Path, policy: Policy, time_limit: float
) -> tuple[Schedule, dict[str, Any]]:
    from jointsat.files import read_text
    from jointsat.scheduling import solver
    from jointsat.scheduling.problem import Problem

    text = read_text(path)
    found = solver.solve(
        Problem.from_json(text, source=str(path)),
        policy,
        solver.SolverSettings(time_limit_s=time_limit),
    )
    document = found.to_dict()
    document["provenance"] = {
        "problem_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "jointsat": __version__,
    }
    return found, document


def _schedule_week(
    database_url: str | None, start: datetime, policy: Policy, time_limit: float
) -> tuple[Schedule, dict[str, Any]]:
    """Schedule the store's pooled network for the week from ``start`` and save it."""
    from jointsat.scheduling import solver
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.schedules import StoreProblem

    now = datetime.now(UTC)
    engine = open_engine(_store_url(database_url))
    try:
        with _store_errors(), session_factory(engine)() as session:
            built = StoreProblem(session, start, start + timedelta(days=WEEK_DAYS), now=now)
            found = solver.solve(
                built.problem, policy, solver.SolverSettings(time_limit_s=time_limit)
            )
            record = built.save(session, found, now=now)
            session.commit()
            document = {"id": record.id, **found.to_dict(), "provenance": record.provenance}
    finally:
        engine.dispose()
    return found, document


def _read_json(path: Path) -> dict[str, Any]:
    from jointsat.errors import ProblemInputError
    from jointsat.files import read_text

    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise ProblemInputError(
            f"not valid JSON: {error.msg}", source=str(path), location=f"line {error.lineno}"
        ) from None
    if not isinstance(document, dict):
        raise ProblemInputError("must be a JSON object", source=str(path))
    return document


def _print_schedule_summary(console: Console, found: Schedule) -> None:
    """Print each partner's received and entitled share, and how sure the solver is."""
    table = Table(title=f"{found.policy.value} schedule: {len(found.contacts)} contacts")
    for name in ("partner", "seconds", "normalised", "received", "entitled", "demand met"):
        table.add_column(name, justify="left" if name == "partner" else "right")
    for partner, got in found.partners.items():
        table.add_row(
            partner,
            f"{got.seconds:,.0f}",
            f"{got.normalized:,.0f}",
            f"{got.share_received:.1%}",
            f"{got.share_entitled:.1%}",
            "yes" if got.demand_met else "no",
        )
    console.print(table)
    console.print(
        f"status {found.status.value}, {found.total_seconds:,.0f} s in all, gap "
        f"{found.gap:.2%} ({found.solver}, {found.wall_s:.2f} s)",
        highlight=False,
    )


class ObjectiveChoice(StrEnum):
    """Name the objectives ``jointsat plan`` offers (docs/planning.md)."""

    FAIR = "fair"
    MAX_GAIN = "max-gain"


@app.command()
def plan(
    problem: Annotated[
        Path | None,
        typer.Option("--problem", metavar="FILE", help="Planning problem JSON (docs/planning.md)."),
    ] = None,
    elements: Annotated[
        list[Path] | None,
        typer.Option(
            "--elements",
            "-e",
            metavar="FILE",
            help="With --problem: the satellites' element sets (TLE or OMM); repeat for several.",
        ),
    ] = None,
    schedule_file: Annotated[
        Path | None,
        typer.Option(
            "--schedule",
            metavar="FILE",
            help="With --problem: a network schedule (jointsat schedule) whose contacts "
            "empty the satellites' memories.",
        ),
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option("--from-store", help="Plan the store's satellites and requests and save it."),
    ] = False,
    start: Annotated[
        datetime | None,
        typer.Option(parser=parse_utc, metavar="TIME", help="With --from-store: window start."),
    ] = None,
    days: Annotated[
        float | None, typer.Option(metavar="D", help="With --from-store: window length in days.")
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(parser=parse_utc, metavar="TIME", help="With --from-store: window end."),
    ] = None,
    schedule_id: Annotated[
        int | None,
        typer.Option(
            "--schedule-id",
            min=1,
            metavar="ID",
            help="With --from-store: the stored schedule giving downlinks (default: the "
            "newest overlapping the window).",
        ),
    ] = None,
    objective: Annotated[ObjectiveChoice, typer.Option(help="What to optimise.")] = (
        ObjectiveChoice.FAIR
    ),
    time_limit: TimeLimit = 30.0,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the plan JSON here.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Choose and time partners' observations on the pooled satellites, fairly, with proof."""
    from jointsat.planning.plan import Objective
    from jointsat.planning.planner import PlannerSettings

    errors = Console(stderr=True)
    if (problem is None) == (not from_store):
        raise typer.BadParameter(
            "give exactly one of them", param_hint="'--problem' / '--from-store'"
        )
    settings = PlannerSettings(time_limit_s=time_limit)
    chosen = Objective(objective.value)
    if problem is not None:
        if not elements:
            raise typer.BadParameter("the satellites' orbits are needed", param_hint="'--elements'")
        if any(v is not None for v in (start, days, end, schedule_id)):
            raise typer.BadParameter(
                "--start, --days, --end and --schedule-id go with --from-store"
            )
        with _reporting_errors(errors):
            found, document = _plan_file(problem, elements, schedule_file, chosen, settings, errors)
            _emit(json.dumps(document, indent=2) + "\n", output)
            _print_plan_summary(errors, found)
        return
    if elements or schedule_file:
        raise typer.BadParameter("--elements and --schedule go with --problem")
    if start is None:
        raise typer.BadParameter("--from-store needs the window's start", param_hint="'--start'")
    window_start, window_end = time_window(start, days=days, end=end)
    with _reporting_errors(errors):
        found, document = _plan_store(
            database_url, window_start, window_end, chosen, settings, schedule_id
        )
        if output is not None:
            write_text(output, json.dumps(document, indent=2) + "\n")
        _print_plan_summary(errors, found)
        typer.echo(f"plan {document['id']} saved in the store")


def _plan_file(
    path: Path,
    element_paths: Sequence[Path],
    schedule_path: Path | None,
    objective: Objective,
    settings: PlannerSettings,
    errors: Console,
) -> tuple[Plan, dict[str, Any]]:
    """Plan a problem file over the element files' orbits, with a schedule's contacts."""
    import dataclasses

    from jointsat.files import read_text
    from jointsat.orbits.propagation import group_satellites
    from jointsat.planning.opportunities import candidates, find_opportunities
    from jointsat.planning.planner import plan as solve
    from jointsat.planning.problem import PlanningProblem, downlinks_from_schedule

    text = read_text(path)
    found_problem = PlanningProblem.from_json(text, source=str(path))
    element_files = read_elements(element_paths)
    for problem in element_files.problems:
        _warn(errors, str(problem))
    provenance: dict[str, Any] = {
        "problem_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "elements": {
            str(p): hashlib.sha256(read_text(p).encode()).hexdigest() for p in element_paths
        },
    }
    if schedule_path is not None:
        schedule_text = read_text(schedule_path)
        try:
            schedule_document = json.loads(schedule_text)
        except json.JSONDecodeError as error:
            raise PlanningInputError(
                f"not valid JSON: {error.msg}",
                source=str(schedule_path),
                location=f"line {error.lineno}",
            ) from None
        contacts = downlinks_from_schedule(schedule_document, source=str(schedule_path))
        ours = {s.id for s in found_problem.satellites}
        horizon = found_problem.horizon
        added = tuple(
            dataclasses.replace(d, start=max(d.start, horizon.start), end=min(d.end, horizon.end))
            for d in contacts
            if d.satellite in ours and d.end > horizon.start and d.start < horizon.end
        )
        if contacts and not added:
            _warn(
                errors,
                f"{schedule_path}: none of its {len(contacts)} contacts is of a satellite of "
                "the problem within its horizon",
            )
        try:
            found_problem = dataclasses.replace(
                found_problem, downlinks=found_problem.downlinks + added
            )
        except PlanningInputError as error:
            raise PlanningInputError(
                f"{error.reason} (with the contacts of {schedule_path})",
                source=str(path),
                location=error.location,
            ) from None
        provenance["schedule"] = {
            "file": str(schedule_path),
            "sha256": hashlib.sha256(schedule_text.encode()).hexdigest(),
            "downlinks_added": len(added),
        }
    orbits = group_satellites(element_files.elements)
    try:
        opportunities = find_opportunities(found_problem, orbits)
    except PlanningInputError as error:  # a satellite of the problem without an orbit
        if error.source != "<string>":
            raise
        raise PlanningInputError(
            f"{error.reason}, in {', '.join(map(str, element_paths))}",
            source=str(path),
            location=error.location,
        ) from None
    for failure in opportunities.problems:
        _warn(
            errors,
            f"satellite {found_problem.satellites[failure.satellite].id}: SGP4 error "
            f"{failure.code} ({failure.message}) from {_utc_text(failure.time)} UTC on; "
            "no observation after it",
        )
    found = solve(
        found_problem,
        candidates(found_problem, orbits, opportunities),
        objective,
        settings,
    )
    provenance["jointsat"] = __version__
    return found, {**found.to_dict(), "provenance": provenance}


def _plan_store(
    database_url: str | None,
    start: datetime,
    end: datetime,
    objective: Objective,
    settings: PlannerSettings,
    schedule_id: int | None,
) -> tuple[Plan, dict[str, Any]]:
    """Plan the store's satellites and requests for the window and save the plan."""
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.planning import plan_observations

    engine = open_engine(_store_url(database_url))
    try:
        with _store_errors(), session_factory(engine)() as session:
            record, found, _ = plan_observations(
                session,
                start,
                end,
                now=datetime.now(UTC),
                objective=objective,
                settings=settings,
                schedule_id=schedule_id,
            )
            session.commit()
            document = {"id": record.id, **found.to_dict(), "provenance": record.provenance}
    finally:
        engine.dispose()
    return found, document


def _print_plan_summary(console: Console, found: Plan) -> None:
    """Print each partner's gain against its share, and how sure the planner is."""
    table = Table(title=f"{found.objective.value} plan: {len(found.observations)} observations")
    for name in ("partner", "gain", "normalised", "received", "entitled", "reachable", "asked"):
        table.add_column(name, justify="left" if name == "partner" else "right")
    for partner, got in found.partners.items():
        table.add_row(
            escape(partner),
            f"{got.gain:,}",
            f"{got.normalized:,.1f}",
            f"{got.share_received:.1%}",
            f"{got.share_entitled:.1%}",
            f"{got.reachable_gain:,}",
            f"{got.requested_gain:,}",
        )
    console.print(table)
    console.print(
        f"status {found.status.value}, gain {found.total_gain:,} of a proven bound "
        f"{found.bound:,.0f} at '{found.levels[-1].name if found.levels else 'total gain'}', "
        f"gap {found.gap:.2%}, {len(found.unserved)} request(s) unserved "
        f"({found.solver}, {found.wall_s:.2f} s)",
        highlight=False,
        soft_wrap=True,
    )


requests_app = typer.Typer(
    name="requests", help="Import and list partners' observation requests.", no_args_is_help=True
)
app.add_typer(requests_app)


@requests_app.command("import")
def requests_import(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A JSON list of requests.")],
    partner: Annotated[str, typer.Option("--partner", metavar="CODE", help="Whose requests.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Store a partner's requests from a JSON file: all of them, or none if one is bad."""
    from sqlalchemy import select

    from jointsat.files import read_text
    from jointsat.planning.requests import request_from_dict
    from jointsat.scheduling.problem import Reader
    from jointsat.store.requests import fill_request, unknown_satellites
    from jointsat.store.tables import ObservationRequest, Partner

    errors = Console(stderr=True)
    with _reporting_errors(errors), _store_errors():
        source = str(path)
        try:
            document = json.loads(read_text(path))
        except json.JSONDecodeError as error:
            raise PlanningInputError(
                f"not valid JSON: {error.msg}", source=source, location=f"line {error.lineno}"
            ) from None
        read = Reader(source, PlanningInputError)
        if isinstance(document, dict) and "requests" in document:
            document = document["requests"]
        items = read.sequence(document, "requests")
        with _store_session(_store_url(database_url)) as session:
            owner = session.scalars(select(Partner).where(Partner.code == partner)).one_or_none()
            if owner is None:
                raise StoreError(f"no partner with code {partner!r}")
            now = datetime.now(UTC)
            table = Table(title=f"{len(items)} request(s) of {escape(partner)} stored")
            for name in ("file id", "stored id", "kind", "gain"):
                table.add_column(name)
            records = []
            for i, item in enumerate(items):
                where = f"requests[{i}]"
                found = read.mapping(item, where)
                if found.get("partner", partner) != partner:
                    raise read.error(
                        f"is {found['partner']!r}, not {partner!r}", f"{where}.partner"
                    )
                request = request_from_dict(  # the store gives the id
                    {**found, "id": where, "partner": partner}, source=source, where=where
                )
                missing = unknown_satellites(session, request)
                if missing:
                    raise read.error(
                        f"no satellite with catalog number {request.satellites[missing[0]]!r} "
                        "in the store",
                        f"{where}.satellites[{missing[0]}]",
                    )
                record = ObservationRequest(partner=owner)
                fill_request(record, request, now=now)
                session.add(record)
                records.append((found.get("id", "-"), record, request))
            session.flush()
            for file_id, record, request in records:
                table.add_row(
                    escape(str(file_id)), str(record.id), request.kind.value, str(request.gain)
                )
        Console().print(table)


@requests_app.command("list")
def requests_list(
    partner: Annotated[
        str | None, typer.Option("--partner", metavar="CODE", help="Only this partner's.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List the stored requests: target, gain, window."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from jointsat.store.tables import ObservationRequest, Partner

    with _reporting_errors(Console(stderr=True)), _store_errors():
        with _store_session(_store_url(database_url)) as session:
            query = (
                select(ObservationRequest)
                .options(selectinload(ObservationRequest.partner))
                .order_by(ObservationRequest.id)
            )
            if partner is not None:
                query = query.join(Partner).where(Partner.code == partner)
            rows = list(session.scalars(query))
            table = Table(title=f"{len(rows)} request(s)")
            for name in ("id", "partner", "kind", "target", "gain", "window (UTC)", "satellites"):
                table.add_column(name, justify="right" if name in ("id", "gain") else "left")
            for r in rows:
                d = r.document
                target = (
                    f"{d['lat_deg']:.3f}, {d['lon_deg']:.3f}"
                    if r.kind == "earth"
                    else f"RA {d['ra_deg']:.3f}, Dec {d['dec_deg']:.3f}"
                )
                window = (
                    f"{_utc_text(r.window_start)} to {_utc_text(r.window_end)}"
                    if r.window_start and r.window_end
                    else "any"
                )
                table.add_row(
                    str(r.id),
                    escape(r.partner.code),
                    r.kind,
                    target,
                    str(r.gain),
                    window,
                    ", ".join(d.get("satellites", [])) or "any",
                )
        Console().print(table)


archive_app = typer.Typer(
    name="archive",
    help="Archive downlinked products, list them, fetch them with their checksums verified.",
    no_args_is_help=True,
)
app.add_typer(archive_app)

HTTP_TIMEOUT_S = 60.0
"""Seconds `jointsat archive get --url` waits for the server before giving up."""
PRODUCT_DOCUMENT_MAX_BYTES = 16 << 20
"""The most bytes a product's JSON description from a server may have."""

# The ingest options that give a metadata field, and the field each gives.
_METADATA_OPTIONS = {
    "satellite": "--satellite",
    "instrument": "--instrument",
    "acquired_start": "--start",
    "acquired_end": "--end",
    "processing_level": "--level",
}


class ArchiveListFormat(StrEnum):
    """Name the formats ``jointsat archive list`` can write."""

    TABLE = "table"
    JSON = "json"


@dataclass(frozen=True)
class _ProductFileSource:
    """A product's file to fetch: its name, checksum, size and how to open its bytes."""

    name: str
    sha256: str
    size_bytes: int
    open: Callable[[], AbstractContextManager[BinaryIO]]
    where: str  # where the bytes come from, for errors: "the archive" or the URL


def _archive_root(database_url: str) -> Path:
    """Return the archive's root: JOINTSAT_ARCHIVE_ROOT, else beside the store."""
    from jointsat.store.database import default_archive_root

    return default_archive_root(database_url)


@contextmanager
def _archive_input_errors(errors: Console, source: str) -> Iterator[None]:
    """Turn refused metadata into one red line naming ``source`` and the field, status 2."""
    from jointsat.errors import ArchiveInputError

    try:
        yield
    except ArchiveInputError as exc:
        where = exc.source if exc.source != "<string>" else source
        message = f"{where} {exc.location}".strip() + f": {exc.reason}"
        errors.print(f"[red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None


def _same_field(name: str, in_file: Any, given: Any) -> bool:
    """Return whether the metadata file's value of a field is the option's value."""
    if name == "satellite":
        return not isinstance(in_file, bool) and in_file == given
    if isinstance(given, datetime):
        if not isinstance(in_file, str):
            return False
        try:
            moment = datetime.fromisoformat(in_file.replace("Z", "+00:00"))
        except ValueError:
            return False
        return moment.tzinfo is not None and moment == given
    return isinstance(in_file, str) and in_file.strip() == str(given).strip()


def _ingest_metadata(metadata_file: Path | None, given: dict[str, Any]) -> Any:
    """Return the checked metadata of the file and options; a field given twice must agree."""
    from jointsat.archive.metadata import metadata_from_dict
    from jointsat.errors import ArchiveInputError
    from jointsat.files import read_text
    from jointsat.scheduling.problem import format_time

    source = "the metadata" if metadata_file is None else str(metadata_file)
    document: dict[str, Any] = {}
    if metadata_file is not None:
        try:
            loaded = json.loads(read_text(metadata_file))
        except json.JSONDecodeError as error:
            raise ArchiveInputError(
                f"not valid JSON: {error.msg}", source=source, location=f"line {error.lineno}"
            ) from None
        if not isinstance(loaded, dict):
            raise ArchiveInputError("the metadata must be a JSON object", source=source)
        document = loaded
    for name, value in given.items():
        if value is None:
            continue
        if name in document and not _same_field(name, document[name], value):
            shown = format_time(value) if isinstance(value, datetime) else value
            raise ArchiveInputError(
                f"{name}: the file gives {document[name]!r}, "
                f"{_METADATA_OPTIONS[name]} gives {shown!r}",
                source=source,
            )
        document[name] = format_time(value) if isinstance(value, datetime) else value
    try:
        return metadata_from_dict(document)
    except ArchiveInputError as exc:
        raise ArchiveInputError(exc.reason, source=source) from None


@archive_app.command("ingest")
def archive_ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            exists=True,
            dir_okay=False,
            help="Files to archive, each one product of one file.",
        ),
    ],
    satellite: Annotated[
        int,
        typer.Option(
            "--satellite", min=1, metavar="NORAD", help="Catalog number of the acquiring satellite."
        ),
    ],
    metadata_file: Annotated[
        Path | None,
        typer.Option(
            "--metadata",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="A metadata JSON object (docs/cli.md) applied to every PATH; a field it shares "
            "with an option must agree with it.",
        ),
    ] = None,
    instrument: Annotated[
        str | None, typer.Option(metavar="NAME", help="The instrument (field instrument).")
    ] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_utc, metavar="TIME", help="Start of the acquisition (acquired_start)."
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_utc, metavar="TIME", help="End of the acquisition (acquired_end)."
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level", metavar="LEVEL", help="Processing level (processing_level; default L0)."
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Archive each file as a product; print `<id> <sha256> <path>` once it is durable.

    Each line is printed when the product's record is committed, before the next
    file is read: a printed product survives whatever happens after. Ingesting the
    same bytes of the same satellite again prints the same id. Bad metadata stops
    with status 2 before anything is stored; a file refused (its bytes archived already
    with other metadata) stops with status 2, the products printed before it staying.
    """
    import mimetypes

    from jointsat.archive.blobs import BlobStore
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.products import DEFAULT_MEDIA_TYPE, StoredFile, record_product, resolve

    errors = Console(stderr=True)
    given = {
        "satellite": satellite,
        "instrument": instrument,
        "acquired_start": start,
        "acquired_end": end,
        "processing_level": level,
    }
    with _reporting_errors(errors), _store_errors():
        with _archive_input_errors(errors, "the metadata"):
            metadata = _ingest_metadata(metadata_file, given)
        url = _store_url(database_url)
        store = BlobStore(_archive_root(url))
        engine = open_engine(url)
        created = 0
        try:
            with session_factory(engine)() as session:
                # The satellite, owners and contact are checked before any file is stored.
                with _archive_input_errors(errors, "the metadata"):
                    resolve(session, metadata)
                for done, path in enumerate(paths):
                    with _archive_input_errors(errors, str(path)):
                        try:
                            blob = store.put_file(path)
                        except OSError as exc:
                            raise JointsatError(
                                f"{path}: cannot read the file ({exc.strerror or exc}); "
                                f"{done} product(s) archived before it"
                            ) from None
                        media_type = mimetypes.guess_type(path.name)[0] or DEFAULT_MEDIA_TYPE
                        product, new = record_product(
                            session,
                            metadata,
                            [StoredFile(path.name, blob, media_type)],
                            now=datetime.now(UTC),
                        )
                    typer.echo(f"{product.id} {blob.sha256} {path}")
                    sys.stdout.flush()
                    created += new
        finally:
            engine.dispose()
        errors.print(
            f"{len(paths)} product(s) archived in {escape(str(store.root))}, {created} new",
            highlight=False,
            soft_wrap=True,
        )


@archive_app.command("list")
def archive_list(
    output_format: Annotated[
        ArchiveListFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ArchiveListFormat.TABLE,
    database_url: DatabaseUrl = None,
) -> None:
    """List every archived product: id, files and checksums, satellite, acquisition, owners.

    The command line has the whole store, so it lists every product whatever its
    embargo, oldest acquisition first.
    """
    from sqlalchemy import select

    from jointsat.archive.rights import Caller
    from jointsat.scheduling.problem import format_time
    from jointsat.store.products import search
    from jointsat.store.tables import Partner

    with _reporting_errors(Console(stderr=True)), _store_errors():
        with _store_session(_store_url(database_url)) as session:
            codes = {i: code for i, code in session.execute(select(Partner.id, Partner.code))}
            products = list(session.scalars(search(Caller(admin=True), datetime.now(UTC))))
            documents: list[dict[str, Any]] = [
                {
                    "id": p.id,
                    "satellite": p.satellite.norad_id,
                    "satellite_name": p.satellite.name,
                    "instrument": p.instrument,
                    "processing_level": p.processing_level,
                    "acquired_start": format_time(p.acquired_start),
                    "acquired_end": format_time(p.acquired_end),
                    "owners": [codes[o] for o in p.owner_ids],
                    "members_from": format_time(p.members_from),
                    "public_from": None if p.public_from is None else format_time(p.public_from),
                    "ingested_at": format_time(p.ingested_at),
                    "files": [
                        {
                            "name": f.name,
                            "sha256": f.sha256,
                            "size_bytes": f.size_bytes,
                            "media_type": f.media_type,
                        }
                        for f in p.files
                    ],
                }
                for p in products
            ]
        if output_format is ArchiveListFormat.JSON:
            _emit(json.dumps(documents, indent=2) + "\n", None)
            return
        table = Table(title=f"{len(documents)} archived product(s)")
        for name in ("id", "NORAD", "instrument", "level", "start (UTC)", "end", "owners"):
            table.add_column(name, justify="right" if name == "NORAD" else "left")
        table.add_column("file")
        table.add_column("bytes", justify="right")
        table.add_column("SHA-256", no_wrap=True)
        for d in documents:
            start, end = parse_utc(d["acquired_start"]), parse_utc(d["acquired_end"])
            table.add_row(
                d["id"],
                str(d["satellite"]),
                escape(d["instrument"]),
                escape(d["processing_level"]),
                _utc_text(start),
                _utc_text(end)[11:] if start.date() == end.date() else _utc_text(end),
                escape(", ".join(d["owners"])),
                "\n".join(escape(f["name"]) for f in d["files"]),
                "\n".join(f"{f['size_bytes']:,}" for f in d["files"]),
                "\n".join(f["sha256"] for f in d["files"]),
            )
        console = Console()
        if not console.is_terminal:  # a pipe or a file: keep each checksum on one line
            console = Console(width=_TABLE_FILE_WIDTH)
        console.print(table)


@archive_app.command("get")
def archive_get(
    product_id: Annotated[str, typer.Argument(metavar="ID", help="The product's id.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to write: the file for a product of one file, else a folder.",
        ),
    ],
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            help="Download from the jointsat server at URL instead of the local archive.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", metavar="TOKEN", help="With --url: the API token to send."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Fetch a product's files, verifying each one's SHA-256 before it takes its name.

    Each file is written to a temporary file beside its destination, hashed on the
    way, and renamed only when every file of the product matched its checksum; on a
    mismatch nothing is left at PATH.
    """
    if token is not None and url is None:
        raise typer.BadParameter("--token goes with --url", param_hint="'--token'")
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise typer.BadParameter(f"{url!r} is not an http:// or https:// URL", param_hint="'--url'")
    with _reporting_errors(Console(stderr=True)), _store_errors():
        if url is None:
            files = _local_product_files(database_url, product_id)
        else:
            files = _remote_product_files(url, token, product_id)
        written = _restore(files, output)
        for path, source in zip(written, files, strict=True):
            typer.echo(f"{source.sha256} {path}")


def _local_product_files(database_url: str | None, product_id: str) -> list[_ProductFileSource]:
    """Return the files of a product in the local store, read from its archive."""
    from jointsat.archive.blobs import BlobStore
    from jointsat.errors import ArchiveStorageError
    from jointsat.store.tables import Product

    url = _store_url(database_url)
    store = BlobStore(_archive_root(url))
    with _store_session(url) as session:
        product = session.get(Product, product_id)
        if product is None:
            raise JointsatError(f"no product {product_id!r} in the store {_redacted(url)}")
        files = [(f.name, f.sha256, f.size_bytes) for f in product.files]

    def opener(name: str, sha256: str) -> Callable[[], AbstractContextManager[BinaryIO]]:
        @contextmanager
        def opened() -> Iterator[BinaryIO]:
            try:
                stored = store.open(sha256)
            except FileNotFoundError:
                raise ArchiveStorageError(
                    f"{name}: the archive at {store.root} has no blob {sha256}"
                ) from None
            with stored:
                yield stored

        return opened

    return [
        _ProductFileSource(name, sha256, size, opener(name, sha256), f"the archive {store.root}")
        for name, sha256, size in files
    ]


def _http_open(url: str, token: str | None) -> BinaryIO:
    """Send GET ``url`` (with the bearer token) and return the response, or a clear error.

    The token is not passed on if the server redirects elsewhere.
    """
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method="GET")
    if token is not None:
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        response: BinaryIO = urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        detail = ""
        try:
            body = json.loads(exc.read(PRODUCT_DOCUMENT_MAX_BYTES) or b"null")
            if isinstance(body, dict) and isinstance(body.get("detail"), str):
                detail = f": {body['detail']}"
        except (ValueError, OSError):
            pass
        raise JointsatError(f"GET {url}: HTTP {exc.code} {exc.reason}{detail}") from None
    except urllib.error.URLError as exc:
        raise JointsatError(f"GET {url}: cannot reach the server ({exc.reason})") from None
    except (OSError, ValueError) as exc:
        raise JointsatError(f"GET {url}: {exc}") from None
    return response


def _remote_product_files(url: str, token: str | None, product_id: str) -> list[_ProductFileSource]:
    """Return the files of a product a jointsat server describes, to download from it."""
    from http.client import HTTPException
    from urllib.parse import quote

    from jointsat.archive.blobs import check_sha256
    from jointsat.errors import ArchiveInputError

    product_url = f"{url.rstrip('/')}/api/v1/products/{quote(product_id, safe='')}"
    try:
        with _http_open(product_url, token) as response:
            body = response.read(PRODUCT_DOCUMENT_MAX_BYTES + 1)
    except (OSError, HTTPException) as exc:
        raise JointsatError(f"GET {product_url}: the answer was cut short ({exc})") from None
    try:
        if len(body) > PRODUCT_DOCUMENT_MAX_BYTES:
            raise ValueError("the answer is too long")
        document = json.loads(body)
        files = document["files"]
        if not isinstance(files, list) or not files:
            raise ValueError("no files")
        described = []
        for item in files:
            name, size = item["name"], item["size_bytes"]
            if not isinstance(name, str) or isinstance(size, bool) or not isinstance(size, int):
                raise ValueError("a file's name or size_bytes is of the wrong type")
            described.append((name, check_sha256(str(item["sha256"])), size))
    except (ValueError, KeyError, TypeError, ArchiveInputError) as exc:
        raise JointsatError(f"GET {product_url}: not a product description ({exc})") from None

    def opener(name: str) -> Callable[[], AbstractContextManager[BinaryIO]]:
        return lambda: _http_open(f"{product_url}/files/{quote(name, safe='')}", token)

    return [
        _ProductFileSource(name, sha256, size, opener(name), product_url)
        for name, sha256, size in described
    ]


def _restore(files: Sequence[_ProductFileSource], output: Path) -> list[Path]:
    """Write the files at ``output`` (a file, or a folder for several), verified; return paths.

    Nothing takes its name before every file matched its SHA-256; on any failure the
    temporary files, and a folder made for them, are removed.
    """
    import contextlib
    import tempfile

    for f in files:
        if f.name in ("", ".", "..") or Path(f.name).name != f.name or "\\" in f.name:
            raise JointsatError(f"the product's file name {f.name!r} is not a plain file name")
    if len(files) == 1:
        targets = [output / files[0].name if output.is_dir() else output]
    else:
        targets = [output / f.name for f in files]
    made_folder = False
    written: list[tuple[Path, Path]] = []
    try:
        if len(files) > 1 and not output.is_dir():
            if output.exists():
                raise JointsatError(f"{output}: the product has {len(files)} files; give a folder")
            output.mkdir(parents=True)
            made_folder = True
        for source, target in zip(files, targets, strict=True):
            try:
                fd, name = tempfile.mkstemp(
                    dir=target.parent, prefix=f".{target.name}.", suffix=".part"
                )
            except OSError as exc:
                raise JointsatError(f"{target}: cannot write ({exc.strerror or exc})") from None
            temporary = Path(name)
            written.append((temporary, target))
            with os.fdopen(fd, "wb") as sink:
                _copy_verified(source, sink, target)
                sink.flush()
                os.fsync(sink.fileno())
        for temporary, target in written:
            temporary.replace(target)
    except BaseException:
        for temporary, _ in written:
            with contextlib.suppress(OSError):
                temporary.unlink()
        if made_folder:
            with contextlib.suppress(OSError):
                output.rmdir()
        raise
    return targets


def _copy_verified(source: _ProductFileSource, sink: BinaryIO, target: Path) -> None:
    """Copy a file's bytes to ``sink``, refusing them unless size and SHA-256 match."""
    from http.client import HTTPException

    from jointsat.archive.blobs import CHUNK_BYTES
    from jointsat.errors import ArchiveStorageError

    digest = hashlib.sha256()
    size = 0
    try:
        with source.open() as stream:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                sink.write(chunk)
    except (OSError, HTTPException) as exc:  # IncompleteRead: the server stopped midway
        raise JointsatError(
            f"{source.name}: reading from {source.where} failed ({exc}); nothing written"
        ) from None
    if digest.hexdigest() != source.sha256 or size != source.size_bytes:
        raise ArchiveStorageError(
            f"{source.name}: the bytes from {source.where} ({size:,} bytes, SHA-256 "
            f"{digest.hexdigest()}) are not the product's ({source.size_bytes:,} bytes, "
            f"SHA-256 {source.sha256}); refused, nothing written at {target}"
        )


@archive_app.command("sweep")
def archive_sweep(
    min_age_minutes: Annotated[
        float,
        typer.Option(
            "--min-age",
            min=0.0,
            help="Leave files younger than this many minutes (ingests may still own them).",
        ),
    ] = 60.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove blobs no product refers to and temporary files of interrupted ingests.

    Only files older than --min-age are removed: a file being ingested is
    unreferenced until its product is recorded. With --min-age 0, run it only while
    no ingest runs, here or through the server.
    """
    from sqlalchemy import select

    from jointsat.archive.blobs import BlobStore
    from jointsat.store.tables import ProductFile

    with _reporting_errors(Console(stderr=True)), _store_errors():
        url = _store_url(database_url)
        with _store_session(url) as session:
            referenced = set(session.scalars(select(ProductFile.sha256).distinct()))
        store = BlobStore(_archive_root(url))
        blobs, parts = store.sweep(referenced, min_age_s=min_age_minutes * 60.0)
        typer.echo(
            f"removed {blobs} unreferenced blob(s) and {parts} temporary file(s) from {store.root}"
        )


bench_app = typer.Typer(
    name="bench", help="Run jointsat's solvers on public benchmarks.", no_args_is_help=True
)
app.add_typer(bench_app)


@bench_app.command("spot5")
def bench_spot5(
    folder: Annotated[
        Path, typer.Argument(help="Folder of SPOT5 .spot files (best_known.csv beside).")
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, metavar="S", help="Seconds per instance.")
    ] = 60.0,
    solutions: Annotated[
        Path | None,
        typer.Option(help="Write each answer to SOLUTIONS/<file>.sol: 'photo_id value' lines."),
    ] = None,
) -> None:
    """Solve every SPOT5 instance and print value, proven bound, time, best known, check."""
    import csv

    from jointsat.files import read_text
    from jointsat.planning import spot5

    console = Console()
    errors = Console(stderr=True)
    with _reporting_errors(errors):
        files = sorted(folder.glob("*.spot"), key=lambda f: (len(f.stem), f.stem))
        if not files:
            raise JointsatError(f"{folder}: no .spot files")
        best: dict[str, str] = {}
        listing = folder / "best_known.csv"
        if listing.exists():
            with listing.open(newline="") as f:
                best = {r["file"]: r["best_known_value"] for r in csv.DictReader(f)}
        if solutions is not None:
            solutions.mkdir(parents=True, exist_ok=True)
        table = Table(title=f"SPOT5, {time_limit:g} s per instance")
        for name in (
            "instance",
            "photos",
            "value",
            "bound",
            "optimal",
            "time_s",
            "best known",
            "checker",
        ):
            table.add_column(name, justify="left" if name == "instance" else "right")
        for path in files:
            instance = spot5.read_spot5(read_text(path), source=path.name)
            found = spot5.solve(instance, time_limit_s=time_limit)
            problems = spot5.check(instance, found.answer)
            if solutions is not None:
                write_text(solutions / f"{path.name}.sol", spot5.format_answer(found.answer))
            table.add_row(
                path.name,
                str(len(instance.photos)),
                str(found.value),
                f"{found.bound:.0f}",
                "yes" if found.optimal else "no",
                f"{found.wall_s:.1f}",
                best.get(path.name, "-"),
                "accepts" if not problems else f"REJECTS: {problems[0]}",
            )
        console.print(table)
