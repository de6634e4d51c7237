"""Write what a command lists or shows: a table for people, JSON or CSV for programs.

The one home of the CLI's outputs. A listing is records (the API's JSON documents,
or objects such as passes) and :class:`Column` s; :func:`emit_rows` writes them in the
``--format`` asked (:class:`Format`), :func:`emit_one` writes one record (a show).

- ``table``: a rich table fitted to the terminal (:func:`fitted_table`): ids, times and
  numbers never cut, text folded, secondary columns left out, highest ``drop`` first,
  while the table would not fit. Times show readable (``2024-05-10 06:00:00``),
  booleans ``yes``/``no``, null ``-``, lists joined by ``, ``.
- ``json``: the records as they are (:func:`json_text`), times ISO 8601 UTC
  (``2024-05-10T06:00:00Z``).
- ``csv``: a header of the columns' keys, then a line per record (:func:`csv_text`):
  times ISO 8601 UTC, booleans ``true``/``false``, null empty, and a list or an object
  as its compact JSON (``["esa","asi"]``), which reads back whatever it holds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jointsat.files import write_text
from jointsat.timelib import format_iso, format_readable, read_iso

TABLE_FILE_WIDTH = 200
"""The width of a table written to a file (``-o``): wide enough for every column."""
TEXT_MIN = 14
"""The narrowest a text column is folded to (less when its longest value is shorter);
columns are dropped while the table would not fit with its text columns this wide."""
_TABLE_EXTRA = 3  # each column's padding (one space each side) and its left border


class Format(StrEnum):
    """Name the formats a listing or a show is written in."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        help="table: for people, fitted to the terminal; json: the API's JSON; csv: a "
        "header line, then one line per row.",
    ),
]
"""The ``--format table|json|csv`` option of every listing and show."""
ResultFormatOption = Annotated[
    Format | None,
    typer.Option(
        "--format",
        "-f",
        help="json: the whole document (the default with -o or in a pipe); table: the "
        "summary (the default on a terminal); csv: the summary's rows.",
    ),
]
"""The ``--format`` of a command whose result is one document (schedule, plan)."""


def result_format(chosen: Format | None, output: Path | None) -> Format:
    """Return how to write a result document (a schedule, a plan) as the user asked.

    ``--format`` when given; else its JSON to ``-o`` or to a pipe (as scripts expect),
    and, on a terminal, the summary table instead of thousands of lines of JSON.
    """
    if chosen is not None:
        return chosen
    if output is not None or not Console().is_terminal:
        return Format.JSON
    return Format.TABLE


Kind = Literal["text", "whole", "number", "time"]
"""How a table shows a column: ``text`` folds (names wrap at spaces); ``whole`` (ids,
codes, words) and ``time`` (shown readable) keep the width of their longest value;
``number`` too, right-aligned."""


@dataclass(frozen=True)
class Column:
    """A field of a listing: its JSON and CSV name, and how a table shows it.

    ``key``: the record's field, the CSV header. ``header``: the table's; None keeps
    the column out of tables (CSV only). ``shown``: the table's value, made from the
    whole record (which then need not be a mapping: a pass, a tuple); else the field's
    value. ``drop``: a secondary column's rank; a table too narrow leaves it out, the
    highest rank first (a show keeps it). ``in_csv`` False: a table-only column.
    """

    key: str
    header: str | None = None
    kind: Kind = "text"
    shown: Callable[[Any], Any] | None = None
    drop: int = 0
    in_csv: bool = True

    def text(self, record: Any) -> str:
        """Return the column's text in a table for the record."""
        value = self.shown(record) if self.shown is not None else record.get(self.key)
        return table_text(value, self.kind)


def table_text(value: Any, kind: Kind = "text") -> str:
    """Return a value as a table shows it: times readable, yes/no, null ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "time" and isinstance(value, datetime | str):
        try:
            return format_readable(value if isinstance(value, datetime) else read_iso(value))
        except ValueError:
            return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(table_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {table_text(v)}" for k, v in value.items())
    return str(value)


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_iso(value)
    if isinstance(value, Mapping):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def json_text(document: Any) -> str:
    """Return a document (a record, a list of them) as indented JSON, times with ``Z``."""
    return json.dumps(_json_ready(document), indent=2) + "\n"


def csv_value(value: Any) -> str:
    """Return a value as a CSV cell holds it (lists and objects as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_iso(value)
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(_json_ready(value), separators=(",", ":"))
    return str(value)


def csv_text(records: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Return the records as CSV: a header of the columns' keys, then a line per record."""
    written = [c for c in columns if c.in_csv]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in written])
    for record in records:
        writer.writerow([csv_value(record.get(c.key)) for c in written])
    return buffer.getvalue()


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def fitted_table(
    records: Sequence[Any], columns: Sequence[Column], title: str, width: int
) -> Table:
    """Return the records as a rich table that fits ``width`` characters.

    Ids, times and numbers get the width of their longest value and are never cut (their
    headers on one line where the width allows); secondary columns are dropped, highest
    ``drop`` first, while the table would not fit with its text columns
    :data:`TEXT_MIN` wide; text then folds to what is left, no narrower than that.
    ``title`` is rich markup.
    """
    shown = [c for c in columns if c.header is not None]
    cells = {c.key: [c.text(r) for r in records] for c in shown}

    def natural(column: Column) -> int:
        texts = [column.header or "", *cells[column.key]]
        return max(1, *(_longest_line(t) for t in texts))

    def least(column: Column) -> int:
        texts = [column.header or "", *cells[column.key]]
        word = max(1, *(_longest_word(t) for t in texts))
        if column.kind != "text":  # a fixed width: the longest value, never cut
            return max([word, *(_longest_line(t) for t in texts[1:])])
        return min(natural(column), max(word, TEXT_MIN))

    while sum(least(c) + _TABLE_EXTRA for c in shown) + 1 > width:
        secondary = [c for c in shown if c.drop > 0]
        if not secondary:
            break
        shown.remove(max(reversed(secondary), key=lambda c: c.drop))
    fixed = {c.key: least(c) for c in shown if c.kind != "text"}  # ids, times, numbers
    spare = width - 1 - sum(least(c) + _TABLE_EXTRA for c in shown)
    for key, column in ((c.key, c) for c in shown if c.key in fixed):
        grown = min(natural(column), fixed[key] + max(spare, 0))  # the header on one line
        spare -= grown - fixed[key]
        fixed[key] = grown
    table = Table(title=title or None)
    for column in shown:
        table.add_column(
            column.header or "",
            justify="right" if column.kind == "number" else "left",
            width=fixed.get(column.key),
            min_width=None if column.key in fixed else min(natural(column), TEXT_MIN),
            overflow="fold",
        )
    for i in range(len(records)):
        table.add_row(*(escape(cells[c.key][i]) for c in shown))
    return table


def table_width(output: Path | None) -> int:
    """Return the width a table is fitted to: the terminal's, or a file's."""
    return TABLE_FILE_WIDTH if output is not None else Console().width


def emit(text: str, output: Path | None = None) -> None:
    """Write text to the output file, or to stdout."""
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text(output, text)


def emit_table(table: Table, output: Path | None) -> None:
    """Print a rich table to stdout, or write it as plain text to the output file."""
    if output is None:
        Console(highlight=False).print(table)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=TABLE_FILE_WIDTH, highlight=False).print(table)
    write_text(output, buffer.getvalue())


def emit_rows(
    records: Sequence[Any],
    columns: Sequence[Column],
    fmt: Format,
    *,
    title: str = "",
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
    if fmt is Format.JSON:
        emit(json_text(list(records)), output)
    elif fmt is Format.CSV:
        emit(
            csv_text(
                records if csv_records is None else csv_records,
                columns if csv_columns is None else csv_columns,
            ),
            output,
        )
    else:
        emit_table(fitted_table(records, columns, title, table_width(output)), output)


def emit_result(
    document: Mapping[str, Any],
    fmt: Format | None,
    output: Path | None,
    *,
    summary: Callable[[Console], None],
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    what: str,
    held: str,
) -> None:
    """Write a result (a schedule, a plan) as asked: its JSON, its summary's CSV, its summary.

    ``fmt`` None: as :func:`result_format` chooses. ``summary`` prints the summary
    table on a console; ``rows`` and ``columns`` are its CSV. On a terminal the summary
    ends saying how to get the document (:func:`result_hint`: a ``what`` that holds
    ``held``); beside a JSON or CSV result, or a table written to ``output``, the
    summary goes to stderr.
    """
    fmt = result_format(fmt, output)
    if fmt is Format.TABLE and output is None:
        console = Console()
        summary(console)
        console.print(result_hint(what, document, held), highlight=False)
        return
    if fmt is Format.TABLE:
        buffer = io.StringIO()
        summary(Console(file=buffer, width=TABLE_FILE_WIDTH))
        emit(buffer.getvalue(), output)
    else:
        emit(json_text(document) if fmt is Format.JSON else csv_text(rows, columns), output)
    summary(Console(stderr=True))


def result_hint(what: str, document: Mapping[str, Any], held: str) -> str:
    """Return how to get a result's whole document, ``held`` saying what it holds.

    A result saved in the store (its document has an id) says where the server serves it.
    """
    if "id" not in document:
        return f"{held} in JSON: --format json, or -o FILE"
    ident = document["id"]
    return (
        f"{what} {ident} saved in the store ({held}: GET /api/v1/{what}s/{ident} from "
        "jointsat serve); -o FILE or --format json also writes the JSON"
    )


def emit_one(record: Mapping[str, Any], columns: Sequence[Column], fmt: Format) -> None:
    """Write one record (a show): a table of every column's name and value, JSON or CSV."""
    if fmt is Format.JSON:
        emit(json_text(record))
        return
    if fmt is Format.CSV:
        emit_rows([record], columns, fmt)
        return
    table = Table(show_header=False, box=None)
    table.add_column("field", no_wrap=True, style="bold")
    table.add_column("value", overflow="fold")
    for column in columns:
        table.add_row(escape(column.header or column.key), escape(column.text(record)))
    Console(highlight=False).print(table)
