"""Write a coverage study's per-point table as CSV or Parquet, and its summary as JSON.

The columns are :meth:`jointsat.design.study.CoverageResult.table`'s: ``area, partner,
cell, lat_deg, lon_deg, area_km2`` and then the figures of merit
(:data:`jointsat.design.merit.FIGURES`). An undefined figure (a point never covered has
no first access) is an empty CSV field and a Parquet null.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

_DECIMALS = {"lat_deg": 6, "lon_deg": 6, "area_km2": 3, "coverage_fraction": 6, "mean_in_view": 6}
_SECONDS_DECIMALS = 3


def format_cell(value: Any, name: str) -> str:
    """Return one CSV field: a figure with its column's decimals, empty where undefined."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    number = float(value)
    if not math.isfinite(number):
        return ""
    decimals = _DECIMALS.get(name, _SECONDS_DECIMALS)
    return f"{number:.{decimals}f}"


def coverage_csv(columns: Mapping[str, np.ndarray]) -> str:
    """Return the table as CSV text: a header line, then one line per (area, point)."""
    names = list(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    data = [columns[n].tolist() for n in names]
    for row in zip(*data, strict=True):
        writer.writerow([format_cell(v, n) for v, n in zip(row, names, strict=True)])
    return buffer.getvalue()


def coverage_arrow(columns: Mapping[str, np.ndarray]) -> Any:
    """Return the table as a pyarrow Table (NaN figures as nulls)."""
    import pyarrow as pa

    arrays = {}
    for name, column in columns.items():
        if column.dtype == object:
            arrays[name] = pa.array(column.tolist(), type=pa.string())
        elif np.issubdtype(column.dtype, np.floating):
            arrays[name] = pa.array(column, mask=~np.isfinite(column), type=pa.float64())
        else:
            arrays[name] = pa.array(column, type=pa.int64())
    return pa.table(arrays)


def coverage_parquet_bytes(columns: Mapping[str, np.ndarray]) -> bytes:
    """Return the table as the bytes of a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(coverage_arrow(columns), sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def summary_json(summary: Mapping[str, Any]) -> str:
    """Return a study's summary as indented JSON (NaN as null)."""
    return json.dumps(_finite(summary), indent=2) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
