"""Give every command the same consoles, options, time parsing, outputs and errors.

Imports stay at the top of the CLI's modules, except the heavy ones (the store's
SQLAlchemy and Alembic, OR-Tools behind the solvers and the planning pipeline,
FastAPI and uvicorn, urllib's HTTP client), which are imported inside the commands
that use them so that ``jointsat --help`` stays quick.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jointsat.cli import progress
from jointsat.errors import JointsatError, StoreError
from jointsat.files import write_text
from jointsat.timelib import format_iso, format_readable, parse_iso

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from jointsat.orbits.freshness import Freshness, StaleRule
    from jointsat.settings import Settings

TABLE_FILE_WIDTH = 200
"""The width of a table written to a file (``-o``): wide enough for every column."""

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


def emit(text: str, output: Path | None) -> None:
    """Write text to the output file, or to stdout."""
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text(output, text)


def emit_table(table: Table, output: Path | None) -> None:
    """Print a rich table to stdout, or write it as plain text to the output file."""
    if output is None:
        Console().print(table)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=TABLE_FILE_WIDTH).print(table)
    write_text(output, buffer.getvalue())


@contextmanager
def store_errors() -> Iterator[None]:
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


# --- listings: one table for people, JSON and CSV for programs ---------------------------


class OutputFormat(StrEnum):
    """Name the formats a listing is written in."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FORMAT_HELP = (
    "table: for people, fitted to the terminal; json: a list of objects; csv: a header "
    "line, then one line per row."
)
Format = Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)]
"""The ``--format table|json|csv`` option of every listing."""

FLEX_COMFORT = 14
"""Characters a column of names is given, when deciding which columns fit a terminal."""
_TABLE_EXTRA = 3  # each column's padding (one space each side) and its left border
Cell = Callable[[Any], str]


@dataclass(frozen=True)
class Column:
    """A field of a listing: its JSON and CSV name, and how its terminal table shows it.

    ``whole`` marks ids and times, ``right`` numbers: they keep the width of their
    longest value, never wrapped or cut. Other columns fold their text (names wrap at
    spaces). Secondary columns (hashes, azimuths) have a ``drop`` rank:
    a table too narrow for them leaves them out, the highest rank first; JSON and CSV
    keep every field. ``header`` None keeps the field out of the table; ``cell`` gives
    the table's text from the record (which then need not be a mapping).
    """

    key: str
    header: str | None = None
    cell: Cell | None = None
    whole: bool = False
    right: bool = False
    drop: int = 0

    def text(self, record: Any) -> str:
        """Return the table's text of this column for a record."""
        if self.cell is not None:
            return self.cell(record)
        return plain_value(record.get(self.key))


def plain_value(value: Any) -> str:
    """Return a field's value as CSV writes it: times ISO 8601 UTC, lists joined by ';'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_iso(value)
    if isinstance(value, list | tuple):
        return ";".join(plain_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_iso(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def records_json(records: Sequence[Mapping[str, Any]]) -> str:
    """Return the records as a JSON list of objects (times ISO 8601 UTC with ``Z``)."""
    return json.dumps([_json_ready(dict(r)) for r in records], indent=2) + "\n"


def records_csv(records: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Return the records as CSV: a header of the columns' keys, then one line per record."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in columns])
    for record in records:
        writer.writerow([plain_value(record.get(c.key)) for c in columns])
    return buffer.getvalue()


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def fitted_table(
    records: Sequence[Any], columns: Sequence[Column], title: str, width: int
) -> Table:
    """Return the records as a rich table that fits ``width`` characters.

    Ids and times (``whole``) get the width of their longest value and are never cut;
    secondary columns are dropped, highest ``drop`` first, while the table would not fit
    with names given :data:`FLEX_COMFORT` characters; names then fold to what is left.
    """
    shown = [c for c in columns if c.header is not None]
    cells = {c.key: [c.text(r) for r in records] for c in shown}

    def least(column: Column) -> int:
        texts = cells[column.key]
        header = column.header or ""
        word = max(_longest_word(header), *(_longest_word(t) for t in texts), 1)
        if column.whole or column.right:  # a fixed width: the longest value, never cut
            return max([word, *(_longest_line(t) for t in texts)])
        natural = max(_longest_line(header), *(_longest_line(t) for t in texts), 1)
        return min(natural, max(word, FLEX_COMFORT))

    while sum(least(c) + _TABLE_EXTRA for c in shown) + 1 > width:
        secondary = [c for c in shown if c.drop > 0]
        if not secondary:
            break
        shown.remove(max(reversed(secondary), key=lambda c: c.drop))
    table = Table(title=title)
    for column in shown:
        # Ids, times and numbers keep a fixed width (their headers wrap); names fold.
        fixed = least(column) if column.whole or column.right else None
        table.add_column(
            column.header or "",
            justify="right" if column.right else "left",
            width=fixed,
            overflow="fold",
        )
    for i in range(len(records)):
        table.add_row(*(escape(cells[c.key][i]) for c in shown))
    return table


def emit_records(
    records: Sequence[Any],
    columns: Sequence[Column],
    output_format: OutputFormat,
    *,
    title: str,
    output: Path | None = None,
    csv_records: Sequence[Mapping[str, Any]] | None = None,
    csv_columns: Sequence[Column] | None = None,
) -> None:
    """Write a listing as a table fitted to the terminal, a JSON list or CSV.

    JSON gets the records as they are (the API's field names); CSV the columns' fields
    (``csv_records`` and ``csv_columns`` when a record holds a list of its own, such as a
    product's files: one line each). A table written to ``output`` is
    :data:`TABLE_FILE_WIDTH` wide.
    """
    if output_format is OutputFormat.JSON:
        emit(records_json(records), output)
    elif output_format is OutputFormat.CSV:
        emit(
            records_csv(
                records if csv_records is None else csv_records,
                columns if csv_columns is None else csv_columns,
            ),
            output,
        )
    else:
        width = TABLE_FILE_WIDTH if output is not None else Console().width
        emit_table(fitted_table(records, columns, title, width), output)


def result_format(chosen: OutputFormat | None, output: Path | None) -> OutputFormat:
    """Return how to write a result document (a schedule, a plan) as the user asked.

    ``--format`` when given; else its JSON to ``-o`` or to a pipe (as scripts expect),
    and, on a terminal, the summary table instead of thousands of lines of JSON.
    """
    if chosen is not None:
        return chosen
    if output is not None or not Console().is_terminal:
        return OutputFormat.JSON
    return OutputFormat.TABLE


ResultFormat = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-f",
        help="json: the whole document (the default with -o or in a pipe); table: the "
        "summary (the default on a terminal); csv: the summary's rows.",
    ),
]
"""The ``--format`` of a command whose result is one document (schedule, plan)."""


class Steps:
    """The long steps of a command, each shown by :func:`jointsat.cli.progress.step`.

    Call it with a step's description as a context manager (a store ``Stage``);
    :meth:`level` notes the solver's level in the running step.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._running: progress.Step | None = None

    @contextmanager
    def __call__(self, description: str) -> Iterator[progress.Step]:
        """Show the step while the block runs."""
        with progress.step(self._console, description) as running:
            self._running = running
            try:
                yield running
            finally:
                self._running = None

    def level(self, number: int, name: str) -> None:
        """Note in the running step that the solver searches its level ``number``."""
        if self._running is not None:
            self._running.note(f"level {number}")
