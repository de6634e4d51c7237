"""``jointsat doppler``: the frequency to tune through a satellite's passes over a station.

The passes and their sample times are ``jointsat pointing``'s (:mod:`jointsat.cli.pointing`:
every ``--step`` seconds from AOS, and at LOS); each pass's table comes from
:func:`jointsat.orbits.doppler.doppler_table` (light time included). This module adds
only the input, UT1 - UTC, and the output: a CSV or JSON table.

UT1 - UTC is read from astropy's bundled IERS tables (the ``astropy-iers-data``
package), never downloaded: a date past them (about a year after the package's
release) gets 0 and a one-line warning, since each 0.02 s of it is about 0.1 m/s of
range rate overhead.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.output import emit
from jointsat.cli.pointing import (
    ElementsOption,
    EndOption,
    OutputOption,
    RowFormat,
    SatelliteOption,
    StartOption,
    StationOption,
    StationsOption,
    StepOption,
    read_contact,
    rows_csv,
    sample_times_s,
    station_passes,
)
from jointsat.orbits.doppler import DopplerTable, doppler_table
from jointsat.orbits.passes import Pass
from jointsat.timelib import TimeOrigin, format_iso_ms, format_readable

ROW_COLUMNS = ("time", "range_rate_m_s", "frequency_hz")
"""The columns of a pass's rows, in CSV and JSON alike."""

RATE_DIGITS = 4
"""Decimals of the range rate written (0.1 mm/s: 1.5e-4 Hz at 437 MHz)."""

FREQUENCY_DIGITS = 3
"""Decimals of the frequency written (1 mHz: far below the 0.1 Hz the table aims at)."""


@dataclass(frozen=True)
class PassDoppler:
    """One pass and its Doppler table; the table's ``time_s`` counts from the pass's AOS."""

    found: Pass
    table: DopplerTable

    def time(self, k: int) -> datetime:
        """Return the UTC time of the table's sample ``k``."""
        return TimeOrigin.of(self.found.aos).at(float(self.table.time_s[k]))


def doppler(
    elements: ElementsOption,
    stations: StationsOption,
    satellite: SatelliteOption,
    station: StationOption,
    start: StartOption,
    end: EndOption,
    frequency_hz: Annotated[
        float,
        typer.Option(
            "--frequency-hz",
            metavar="F",
            help="The link's frequency at the satellite, in hertz (e.g. 437.8e6).",
        ),
    ],
    uplink: Annotated[
        bool,
        typer.Option(
            "--uplink",
            help="Tell the frequency to transmit so that the satellite receives F "
            "(default: the frequency the station receives F sent at).",
        ),
    ] = False,
    step_s: StepOption = 1.0,
    output_format: Annotated[
        RowFormat,
        typer.Option(
            "--format",
            "-f",
            help="csv: a header line, then one row per sample, pass after pass; json: "
            "the passes, each with its AOS, LOS and rows.",
        ),
    ] = RowFormat.CSV,
    output: OutputOption = None,
) -> None:
    """Tell the frequency to tune through a satellite's passes over a station (Doppler table)."""
    window_start, window_end = common.time_window(start, end=end)
    errors = Console(stderr=True)
    with common.reporting_errors(errors):
        orbit, site = read_contact(elements, stations, satellite, station, errors)
        tables = []
        unknown_dut1: list[datetime] = []
        for p in station_passes(orbit, site, window_start, window_end, errors):
            dut1_s = ut1_utc_s(p.aos)
            if dut1_s is None:
                unknown_dut1.append(p.aos)
                dut1_s = 0.0
            times_s = sample_times_s(p.duration_s, step_s)
            table = doppler_table(
                orbit, site, p.aos, times_s, frequency_hz, uplink=uplink, ut1_utc_s=dut1_s
            )
            tables.append(PassDoppler(p, table))
        if unknown_dut1:
            common.warn(
                errors,
                f"UT1-UTC unknown for {format_readable(unknown_dut1[0])} UTC "
                "(past astropy's IERS tables): 0 used, range rate off by up to ~0.1 m/s "
                "per 0.02 s of it",
            )
        text = tables_csv(tables) if output_format is RowFormat.CSV else tables_json(tables)
        emit(text, output)


def ut1_utc_s(when: datetime) -> float | None:
    """Return UT1 - UTC (s) at ``when`` from astropy's bundled IERS tables, or None.

    Nothing is downloaded: a time the tables (measured or predicted) do not cover, or
    an astropy that cannot read them, gives None.
    """
    try:
        from astropy.time import Time
        from astropy.utils import iers

        iers.conf.auto_download = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = iers.earth_orientation_table.get()
            value, status = table.ut1_utc(Time(when), return_status=True)
    except Exception:  # any failure to read the tables means "unknown"
        return None
    if int(status) < 0:
        return None
    return float(value.to_value("s"))


def rows(tables: list[PassDoppler]) -> list[dict[str, object]]:
    """Return every pass's rows (time, range_rate_m_s, frequency_hz), pass after pass."""
    return [row for p in tables for row in _rows(p)]


def _rows(p: PassDoppler) -> list[dict[str, object]]:
    table = p.table
    return [
        {
            "time": format_iso_ms(p.time(k)),
            "range_rate_m_s": round(float(table.range_rate_m_s[k]), RATE_DIGITS),
            "frequency_hz": round(float(table.frequency_hz[k]), FREQUENCY_DIGITS),
        }
        for k in range(table.time_s.size)
    ]


def tables_csv(tables: list[PassDoppler]) -> str:
    """Return the passes' rows as CSV with a header line."""
    return rows_csv(ROW_COLUMNS, rows(tables))


def tables_json(tables: list[PassDoppler]) -> str:
    """Return ``{"passes": [...]}``: each pass's AOS, LOS and rows."""
    document = {
        "passes": [
            {"aos": format_iso_ms(p.found.aos), "los": format_iso_ms(p.found.los), "rows": _rows(p)}
            for p in tables
        ]
    }
    return json.dumps(document, indent=2) + "\n"
