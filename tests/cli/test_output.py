"""The CLI's one writer of listings: fitted tables, JSON and CSV read back by their parsers.

The oracles: the csv and json modules reading back what was written, the widths of
the lines rich prints, and the records themselves (every id and time of a row shows
whole on that row's first line).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from rich.console import Console

from jointsat.cli.output import Column, csv_text, fitted_table, json_text, table_text

START = datetime(2024, 5, 10, 6, 0, tzinfo=UTC)
NAME = "Agenzia Spaziale Italiana, Centro di Geodesia Spaziale Giuseppe Colombo"
COLUMNS = (
    Column("id", "id", "whole"),
    Column("name", "name"),
    Column("start", "start (UTC)", "time"),
    Column("gain", "gain", "number"),
    Column("owners", "owners", drop=1),
    Column("public", "public", "whole", drop=3),
    Column("sha256", "SHA-256", "whole", drop=2),
    Column("note", None),
)


def records() -> list[dict[str, Any]]:
    return [
        {
            "id": f"product-{n:04d}",
            "name": f"{NAME} {n}",
            "start": START + timedelta(hours=n),
            "gain": 10**n,
            "owners": ["esa", "asi"][: n + 1],
            "public": n % 2 == 0,
            "sha256": f"{n}" * 64,
            "note": None if n else {"why": "a, b"},
        }
        for n in range(3)
    ]


def rendered(width: int, columns: tuple[Column, ...] = COLUMNS) -> list[str]:
    console = Console(file=io.StringIO(), width=width, highlight=False)
    console.print(fitted_table(records(), columns, "3 products", width))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return [line.rstrip() for line in text.splitlines()]


def headers_shown(lines: list[str]) -> set[str]:
    return {c.key for c in COLUMNS if c.header and any(c.header in line for line in lines)}


@pytest.mark.parametrize("width", [64, 80, 100, 140, 200, 300])
def test_a_table_fits_and_keeps_ids_and_times_whole(width: int) -> None:
    lines = rendered(width)
    assert max(map(len, lines)) <= width
    for record in records():
        (row,) = [line for line in lines if f" {record['id']} " in line]
        assert record["start"].strftime("%Y-%m-%d %H:%M:%S") in row
        assert f" {record['gain']} " in row


def test_secondary_columns_leave_highest_rank_first_and_never_the_essential() -> None:
    shown = [headers_shown(rendered(width)) for width in range(64, 320, 8)]
    assert shown[0] >= {"id", "name", "start", "gain"}
    assert shown[-1] == {"id", "name", "start", "gain", "owners", "public", "sha256"}
    for narrower, wider in pairwise(shown):
        assert narrower <= wider  # a wider terminal never loses a column
        for column in COLUMNS:
            if column.key in narrower and column.drop:
                # a column shown keeps every column of a lower rank with it
                assert {c.key for c in COLUMNS if 0 < c.drop < column.drop} <= narrower


def test_table_cells_read_as_people_write_them() -> None:
    assert table_text(None) == "-"
    assert (table_text(True), table_text(False)) == ("yes", "no")
    assert table_text("2024-05-10T06:00:00Z", "time") == "2024-05-10 06:00:00"
    assert table_text(START, "time") == "2024-05-10 06:00:00"
    assert table_text(["esa", "asi"]) == "esa, asi"
    assert table_text(0.1 + 0.2) == "0.3"


def test_csv_reads_back_with_the_json_of_the_same_records() -> None:
    written = csv_text(records(), COLUMNS)
    rows = list(csv.DictReader(io.StringIO(written)))
    assert list(rows[0]) == [c.key for c in COLUMNS]  # table-less columns too
    as_json = json.loads(json_text(records()))
    for row, record in zip(rows, as_json, strict=True):
        assert row["id"] == record["id"]
        assert row["start"] == record["start"]
        assert record["start"].endswith("Z")
        assert datetime.fromisoformat(row["start"]) in {r["start"] for r in records()}
        assert int(row["gain"]) == record["gain"]
        assert json.loads(row["owners"]) == record["owners"]
        assert row["public"] == ("true" if record["public"] else "false")
        assert (json.loads(row["note"]) if row["note"] else None) == record["note"]


def test_csv_leaves_out_table_only_columns() -> None:
    columns = (Column("id", "id"), Column("status", "status", shown=lambda r: "x", in_csv=False))
    assert csv_text([{"id": 1}], columns).splitlines() == ["id", "1"]
