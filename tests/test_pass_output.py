"""Test the passes files written column by column: CSV, JSON and Parquet agree.

The oracles are Python's own formatting (``f"{x:.3f}"``, ``datetime.isoformat``) on
the engine's rows, the csv and json modules reading the text back, and pyarrow
reading the Parquet back.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.cli.test_cli import STATIONS_TLE

from jointsat.files import read_elements
from jointsat.orbits.passes import Passes, find_passes
from jointsat.orbits.stations import Station
from jointsat.pass_output import (
    PASS_COLUMNS,
    ParquetPasses,
    arrow_table,
    fixed_decimals,
    format_passes_csv,
    format_passes_json,
)
from jointsat.timelib import format_iso_ms

START = datetime(2024, 5, 10, tzinfo=UTC)
STATIONS = (
    Station("Kiruna KI2S", 67.857, 20.964, 402.3),
    Station('Perth, "WA"', -31.8, 115.9, min_elevation_deg=10.0),
    Station("Cebreros", 40.45, -4.37, 794.0),
)


@pytest.fixture(scope="module")
def passes() -> Passes:
    elements = read_elements([STATIONS_TLE]).orbits
    return find_passes(elements, STATIONS, START, START + timedelta(hours=12))


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_fixed_decimals_keep_three_decimals_within_half_a_thousandth(value: float) -> None:
    (text,) = fixed_decimals(np.array([value]), 3).tolist()
    whole, _, decimals = text.partition(".")
    assert len(decimals) == 3
    assert whole.lstrip("-").isdigit()
    assert abs(float(text) - value) <= 0.0005 + 1e-9 * max(1.0, abs(value))


def test_missing_numbers_are_empty_in_csv_and_null_in_json(passes: Passes) -> None:
    ages = passes.elements_age_days.copy()
    ages[0] = np.nan
    odd = replace(passes, elements_age_days=ages)
    row = next(csv.DictReader(io.StringIO(format_passes_csv(odd))))
    assert row["elements_age_days"] == ""
    assert json.loads(format_passes_json(odd))[0]["elements_age_days"] is None


def test_csv_rows_are_the_engine_rows_formatted_one_by_one(passes: Passes) -> None:
    assert len(passes) > 50
    rows = list(csv.DictReader(io.StringIO(format_passes_csv(passes))))
    assert len(rows) == len(passes)
    for row, p in zip(rows, passes.rows(), strict=True):
        assert row["satellite"] == p.satellite.name
        assert row["station"] == p.station.name  # quotes and commas survive
        assert int(row["norad_id"]) == p.satellite.norad_id
        for key in ("aos", "tca", "los"):
            assert row[key] == format_iso_ms(getattr(p, key))
        aos, los = (datetime.fromisoformat(row[k]) for k in ("aos", "los"))
        assert float(row["duration_s"]) == pytest.approx((los - aos).total_seconds(), abs=1e-9)
        for key in ("max_elevation_deg", "aos_azimuth_deg", "los_azimuth_deg"):
            assert abs(float(row[key]) - getattr(p, key)) <= 0.0005 + 1e-12
        assert row["sunlit"] == ("true" if p.sunlit else "false")
        assert row["truncated"] == ("true" if p.truncated else "false")


def test_json_and_parquet_hold_the_csv_values(passes: Passes, tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(format_passes_csv(passes))))
    records = json.loads(format_passes_json(passes))
    path = tmp_path / "passes.parquet"
    half = len(passes) // 2
    with ParquetPasses(path) as out:  # two row groups, as two blocks of satellites give
        for part in (slice(0, half), slice(half, None)):
            out.write(_rows(passes, part))
    stored = pq.ParquetFile(path)
    assert stored.metadata.num_row_groups == 2
    table = stored.read()
    assert table.column_names == list(PASS_COLUMNS)
    assert table.schema == arrow_table(passes).schema
    for row, record, cells in zip(rows, records, table.to_pylist(), strict=True):
        assert list(record) == list(PASS_COLUMNS)
        for key in PASS_COLUMNS:
            if key in ("aos", "tca", "los"):
                assert record[key] == row[key] == format_iso_ms(cells[key])
            elif key in ("sunlit", "truncated", "stale"):
                assert record[key] is cells[key] is (row[key] == "true")
            else:
                assert str(record[key]) == str(cells[key])
                assert (
                    float(row[key]) == cells[key]
                    if key != "satellite" and key != "station"
                    else row[key] == cells[key]
                )


def test_no_passes_give_a_header_an_empty_list_and_an_empty_parquet(
    passes: Passes, tmp_path: Path
) -> None:
    none = _rows(passes, slice(0, 0))
    assert format_passes_csv(none) == ",".join(PASS_COLUMNS) + "\n"
    assert json.loads(format_passes_json(none)) == []
    path = tmp_path / "none.parquet"
    with ParquetPasses(path) as out:
        out.write(none)
    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.column_names == list(PASS_COLUMNS)


def _rows(passes: Passes, part: slice) -> Passes:
    """Return some of the passes (all their satellites and stations kept)."""
    from jointsat.orbits.passes import PASS_ARRAYS

    return replace(passes, **{name: getattr(passes, name)[part] for name in PASS_ARRAYS})


def test_passes_without_rows_hold_no_memory_of_their_rows(passes: Passes) -> None:
    from jointsat.orbits.passes import PASS_ARRAYS

    empty = passes.without_rows()
    assert len(empty) == 0
    assert empty.satellites == passes.satellites
    assert empty.freshness == passes.freshness
    for name in PASS_ARRAYS:
        column = getattr(empty, name)
        assert column.base is None  # its own (empty) buffer, not a view of the rows
        assert column.dtype == getattr(passes, name).dtype
