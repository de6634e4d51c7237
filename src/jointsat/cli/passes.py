"""``jointsat passes``: every pass of the satellites over the stations in a window."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl, StaleAboveLeoDays, StaleLeoDays
from jointsat.cli.output import (
    Column,
    emit,
    emit_table,
    fitted_table,
    table_width,
)
from jointsat.errors import JointsatError
from jointsat.executors import (
    LOCAL,
    PartitionWriter,
    Written,
    cluster_blocks,
    dask_client,
    default_workers,
    local_workers,
    partition_directory,
    run_block,
)
from jointsat.files import ElementFiles, read_elements, read_stations
from jointsat.orbits.elements import ElementsFormat, ParsedElements
from jointsat.orbits.ephemeris import OUTSIDE_COVERAGE
from jointsat.orbits.freshness import DEFAULT_RULE, StaleRule
from jointsat.orbits.passes import (
    Block,
    BlockJob,
    Pass,
    Passes,
    ProgressCallback,
    merge_blocks,
    plan_blocks,
    run_blocks,
)
from jointsat.orbits.propagation import OrbitRecord
from jointsat.orbits.stations import Station
from jointsat.pass_output import format_passes_csv, format_passes_json
from jointsat.timelib import format_readable


class PassFormat(StrEnum):
    """Name the formats ``jointsat passes`` writes."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


PROGRESS_DELAY_S = 1.0
"""Show the progress bar only once pass finding has run this long."""


def passes(
    start: Annotated[
        datetime,
        common.time_option(
            "Window start, e.g. 2024-05-09T00:00:00Z; UTC if no offset.", metavar="ISO8601"
        ),
    ],
    elements: Annotated[
        list[Path] | None,
        common.files_option(
            "Element sets (TLE, 3LE or OMM) or ephemerides (OEM); repeat for several files.",
            "--elements",
            "-e",
        ),
    ] = None,
    stations: Annotated[
        Path | None,
        common.files_option("Ground stations (CSV or JSON).", "--stations", "-s"),
    ] = None,
    days: Annotated[
        float | None, common.days_option("Window length in days (or give --end).")
    ] = None,
    end: Annotated[
        datetime | None, common.time_option("Window end (or give --days).", metavar="ISO8601")
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
        PassFormat,
        typer.Option(
            "--format",
            "-f",
            help="table: for people, fitted to the terminal; csv: a header line, then one "
            "line per pass; json: a list of objects; parquet: a Parquet file (needs "
            "--output), written block of satellites by block as they finish; with "
            "--cluster, a directory of Parquet files, one per block, each written by the "
            "worker that computed it.",
        ),
    ] = PassFormat.TABLE,
    output: Annotated[
        Path | None, common.files_option("Write here instead of stdout.", "--output", "-o")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Stop at the first unreadable element set, and refuse stale elements, "
            "instead of warning.",
        ),
    ] = False,
    stale_leo_days: StaleLeoDays = None,
    stale_above_leo_days: StaleAboveLeoDays = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            help="Worker processes of a local Dask cluster; 1: this process alone "
            "(default: one per core for big predictions, else 1).",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="local|tcp://HOST:PORT",
            help="Predict on Dask: local starts a cluster of --workers processes here; an "
            "address uses a running scheduler and its workers.",
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
    window_start, window_end = common.time_window(start, days=days, end=end)
    if not from_store and (not elements or stations is None):
        raise typer.BadParameter("give --elements and --stations, or --from-store")
    if output_format is PassFormat.PARQUET and output is None:
        where = "DIRECTORY" if cluster is not None else "FILE.parquet"
        raise typer.BadParameter(f"Parquet is written to a file: give --output {where}")
    if cluster is not None and cluster != LOCAL and workers is not None:
        raise typer.BadParameter(
            f"--workers sizes a local cluster; the cluster at {cluster} has its own workers",
            param_hint="'--workers'",
        )
    errors = Console(stderr=True)
    with common.reporting_errors(errors), common.store_errors():
        if from_store:
            element_files, station_list = _from_store(database_url)
        if elements:
            element_files = read_elements(elements, strict=strict)
        if stations is not None:
            station_list = read_stations(stations)
        run = partial(
            predict,
            element_files,
            station_list,
            window_start,
            window_end,
            min_elevation_deg,
            errors,
            workers=workers,
            cluster=cluster,
            stale_rule=common.stale_rule(stale_leo_days, stale_above_leo_days),
            strict=strict,
        )
        if output_format is PassFormat.PARQUET and cluster is not None:
            assert output is not None
            partitions = Partitions(partition_directory(output))
            run(partitions=partitions)
            errors.print(
                f"{partitions.rows} passes written to {output} "
                f"({partitions.files} Parquet files, one per block)",
                highlight=False,
            )
            return
        if output_format is PassFormat.PARQUET:
            assert output is not None
            from jointsat.pass_output import ParquetPasses

            with ParquetPasses(output) as parquet:
                run(sink=parquet.write)
            errors.print(f"{parquet.rows} passes written to {output}", highlight=False)
            return
        found = run()
        if output_format is PassFormat.CSV:
            emit(format_passes_csv(found), output)
        elif output_format is PassFormat.JSON:
            emit(format_passes_json(found), output)
        else:
            start_text, end_text = format_readable(found.start), format_readable(found.end)
            title = f"{len(found)} passes, {start_text} to {end_text} UTC"
            emit_table(passes_table(found.rows(), title, width=table_width(output)), output)


def _from_store(database_url: str | None) -> tuple[ElementFiles, tuple[Station, ...]]:
    """Read every stored satellite's orbit and every station (the CLI has the whole store).

    A satellite with ephemerides (OEM) is predicted from them where they cover, as the
    service does (``store.convert.orbit_of``).
    """
    from jointsat.store.consortium import satellites
    from jointsat.store.convert import network, records_of

    url = common.store_settings(database_url).database_url
    with common.store_session(url) as session:
        _, stations = network(session)
        records = tuple(records_of(satellites(session)))
    source = f"store {common.redacted(url)}"
    parsed = ParsedElements((), (), ElementsFormat.OMM_JSON)
    return StoredOrbits((source,), (parsed,), records), tuple(stations)


@dataclass(frozen=True)
class StoredOrbits(ElementFiles):
    """A store's satellites, as the engine predicts them: no file, no unreadable set."""

    records: tuple[OrbitRecord, ...] = ()

    @property
    def orbits(self) -> tuple[OrbitRecord, ...]:
        """Return the stored satellites' orbits."""
        return self.records


@dataclass
class Partitions:
    """A directory the workers write their blocks' passes to, and what they wrote."""

    directory: Path
    rows: int = 0
    files: int = 0

    def add(self, written: Written) -> Block:
        """Count a block a worker wrote; return it (without its passes)."""
        self.rows += written.rows
        self.files += 1
        return written.block


def predict(
    element_files: ElementFiles,
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    min_elevation_deg: float,
    errors: Console,
    *,
    workers: int | None = None,
    cluster: str | None = None,
    stale_rule: StaleRule = DEFAULT_RULE,
    strict: bool = False,
    warn_stale: bool = True,
    sink: Callable[[Passes], None] | None = None,
    partitions: Partitions | None = None,
) -> Passes:
    """Find the passes, warning on stderr about unreadable element sets and SGP4 failures.

    Stale elements are warned about once per satellite, with their oldest age in the
    window; with ``strict`` they are an error; ``warn_stale`` False leaves them to the
    caller (``Passes.freshness``).

    Where it runs: with ``cluster`` on Dask (``"local"``: a cluster of ``workers``
    processes started here; an address: a running scheduler's workers); else on a
    local cluster of ``workers`` processes when more than one; else, and by default for
    small predictions (:func:`jointsat.executors.default_workers`), in this process.
    With a ``sink``, each block of satellites' passes goes to it as the block finishes
    and is not kept; with ``partitions`` (a cluster only) each worker writes its
    blocks' passes there itself. Either way the passes returned are then empty, with
    every satellite's freshness and problems.
    """
    for problem in element_files.problems:
        common.warn(errors, str(problem))
    if element_files.problems:
        common.warn(errors, f"skipped {len(element_files.problems)} unreadable element set(s)")
    if not element_files.orbits:
        raise JointsatError(f"no usable element sets in {', '.join(element_files.sources)}")
    jobs = plan_blocks(
        element_files.orbits,
        stations,
        start,
        end,
        min_elevation_deg=min_elevation_deg,
        stale_rule=stale_rule,
    )
    kept: list[Block] = []
    with (
        _progress_callback(errors) as progress,
        _blocks(jobs, cluster, workers, progress, partitions) as blocks,
    ):
        for block in blocks:
            if sink is not None:
                sink(block.passes)
                block = Block(block.first, block.passes.without_rows())
            kept.append(block)
    found = merge_blocks(kept, stations, start, end)
    if warn_stale:
        common.check_freshness(errors, found.freshness, strict=strict)
    for failure in found.problems:
        satellite = found.satellites[failure.satellite]  # an index, like Passes.satellite
        if failure.code == OUTSIDE_COVERAGE:
            common.warn(
                errors,
                f"{satellite.name} ({satellite.norad_id}): {failure.message}, first at "
                f"{format_readable(failure.time)} UTC; no passes there",
            )
            continue
        common.warn(
            errors,
            f"{satellite.name} ({satellite.norad_id}): SGP4 error {failure.code} "
            f"({failure.message}) from {format_readable(failure.time)} UTC on; "
            "passes after it are lost",
        )
    return found


@contextmanager
def _blocks(
    jobs: Sequence[BlockJob],
    cluster: str | None,
    workers: int | None,
    progress: ProgressCallback | None,
    partitions: Partitions | None,
) -> Iterator[Iterator[Block]]:
    """Yield the planned blocks' passes as they finish, computed where the caller says."""
    if cluster is None:
        n = workers or default_workers(len(jobs))
        if n <= 1:
            if partitions is not None:
                raise JointsatError("Parquet partitions are written by a cluster's workers")
            yield run_blocks(jobs, progress=progress)
            return
    else:
        n = workers or local_workers(len(jobs))
    with dask_client(cluster, n) as client:
        if partitions is None:
            yield cluster_blocks(client, jobs, run_block, progress=progress)
            return
        writer = PartitionWriter(str(partitions.directory))
        yield (partitions.add(w) for w in cluster_blocks(client, jobs, writer, progress=progress))


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


def _satellite(found: Pass) -> str:
    return f"{found.satellite.name} ({found.satellite.norad_id})"


PASS_TABLE_COLUMNS: tuple[Column, ...] = (
    # The essential columns first; the others (drop > 0) fill a wide terminal, the
    # highest rank leaving first. The CSV and JSON (pass_output.PASS_COLUMNS) keep them all.
    Column(
        "satellite", "satellite", shown=lambda p: f"{p.satellite.name} ({p.satellite.norad_id})"
    ),
    Column("station", "station", shown=lambda p: p.station.name),
    Column("aos", "AOS (UTC)", "time", lambda p: p.aos),
    Column("tca", "TCA", "whole", lambda p: format_readable(p.tca)[11:], drop=1),
    Column("los", "LOS", "whole", lambda p: format_readable(p.los)[11:]),
    Column("max_elevation_deg", "max el °", "number", lambda p: f"{p.max_elevation_deg:.1f}"),
    Column("aos_azimuth_deg", "AOS az °", "number", lambda p: f"{p.aos_azimuth_deg:.1f}", drop=3),
    Column("los_azimuth_deg", "LOS az °", "number", lambda p: f"{p.los_azimuth_deg:.1f}", drop=4),
    Column("duration_s", "minutes", "number", lambda p: f"{p.duration_s / 60.0:.1f}"),
    Column("sunlit", "sunlit", "whole", lambda p: p.sunlit, drop=5),
    Column("truncated", "truncated", "whole", lambda p: "yes" if p.truncated else "", drop=2),
)


def passes_table(
    rows: Sequence[Pass], title: str, *, compact: bool = False, width: int | None = None
) -> Table:
    """Return passes as a rich table fitting ``width`` (default: the terminal's).

    Times are never cut and names fold; secondary columns (TCA, azimuths, sunlit,
    truncated) show where they fit. ``compact`` keeps only the essential columns.
    """
    columns = [c for c in PASS_TABLE_COLUMNS if not (compact and c.drop)]
    return fitted_table(rows, columns, title, width or Console().width)
