"""Print what a command lists or shows: a table for people, JSON or CSV for programs.

``emit_rows(documents, columns, fmt)`` writes a list of JSON documents (the API's
shape) as a rich table readable at 80 columns (ids never cut, long text folded), as
the JSON list itself, or as CSV (a header, then a row per document); ``emit_one``
writes one document (a table of field and value). Times in the documents are
RFC 3339 text (``2024-05-10T06:00:00Z``): tables show them readable
(``2024-05-10 06:00:00``), JSON and CSV as they are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jointsat.timelib import format_readable, read_iso

TEXT_MIN = 10
"""The narrowest a text column is folded to in a table."""


class Format(StrEnum):
    """Name the formats a listing or a show writes."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        help="table: for people; json: the API's JSON; csv: a header, then a row each.",
    ),
]


@dataclass(frozen=True)
class Column:
    """A column: its header, the document's field (or a function of the document), its kind.

    ``shown``: what the table shows of the value (CSV and JSON have the value itself);
    ``derived``: what it shows, made from the whole document (a table-only column).
    ``kind``: ``text`` (folded when long), ``id`` and ``word`` (never cut), ``number``
    (right-aligned, never cut), ``time`` (shown readable in tables, never cut). A column
    that is not ``in_table`` is written in CSV only (the table keeps to 80 columns).
    """

    header: str
    field: str
    kind: str = "text"
    shown: Callable[[Any], Any] | None = None
    derived: Callable[[dict[str, Any]], Any] | None = None
    in_table: bool = True
    in_csv: bool = True

    def of(self, document: dict[str, Any]) -> Any:
        """Return the column's value in the document, as JSON has it."""
        return document.get(self.field)

    def cell(self, document: dict[str, Any]) -> str:
        """Return the column's value in the document as a table shows it."""
        if self.derived is not None:
            return cell(self.derived(document), self.kind)
        value = self.of(document)
        return cell(self.shown(value) if self.shown is not None else value, self.kind)


def cell(value: Any, kind: str = "text") -> str:
    """Return a value as a table shows it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "time" and isinstance(value, str):
        try:
            return format_readable(read_iso(value))
        except ValueError:
            return value
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items())
    return str(value)


def csv_value(value: Any) -> Any:
    """Return a value as a CSV cell holds it (lists and objects as JSON, null empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value


def table_of(documents: Sequence[dict[str, Any]], columns: Sequence[Column], title: str) -> Table:
    """Return the rich table of the documents: ids, numbers and times kept whole, text folded."""
    shown = [c for c in columns if c.in_table]
    table = Table(title=title or None, title_justify="left")
    rows = [[c.cell(d) for c in shown] for d in documents]
    for i, column in enumerate(shown):
        if column.kind == "text":  # folded, but not to a sliver
            longest = max([len(column.header), *(len(r[i]) for r in rows)])
            table.add_column(column.header, overflow="fold", min_width=min(longest, TEXT_MIN))
            continue
        widest = max([len(column.header), *(len(r[i]) for r in rows)])
        table.add_column(
            column.header,
            justify="right" if column.kind == "number" else "left",
            no_wrap=True,
            min_width=widest,
        )
    for row in rows:
        table.add_row(*(escape(v) for v in row))
    return table


def emit_rows(
    documents: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    fmt: Format,
    *,
    title: str = "",
) -> None:
    """Write the documents to stdout in the format: a table, their JSON list, or CSV."""
    if fmt is Format.JSON:
        typer.echo(json.dumps(list(documents), indent=2))
        return
    if fmt is Format.CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        written = [c for c in columns if c.in_csv]
        writer.writerow([c.field for c in written])
        for document in documents:
            writer.writerow([csv_value(c.of(document)) for c in written])
        typer.echo(buffer.getvalue(), nl=False)
        return
    Console(highlight=False).print(table_of(documents, columns, title))


def emit_one(document: dict[str, Any], columns: Sequence[Column], fmt: Format) -> None:
    """Write one document: a table of field and value, its JSON, or CSV of one row."""
    if fmt is not Format.TABLE:
        if fmt is Format.JSON:
            typer.echo(json.dumps(document, indent=2))
        else:
            emit_rows([document], columns, fmt)
        return
    table = Table(show_header=False, box=None)
    table.add_column("field", no_wrap=True, style="bold")
    table.add_column("value", overflow="fold")
    for column in columns:
        table.add_row(escape(column.header), escape(column.cell(document)))
    Console(highlight=False).print(table)
