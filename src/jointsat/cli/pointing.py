"""``jointsat pointing``: a rotator's pointing plan for a satellite's passes over a station.

The passes come from the pass engine (as ``jointsat passes`` finds them); each is
sampled every ``--step`` seconds from AOS to LOS (SGP4, or the satellite's ephemeris,
seen from the station: :func:`jointsat.orbits.tracks.look_angles`) and planned by
:func:`jointsat.orbits.pointing.plan_pass` for the rotator the options describe. This
module adds only the input and the output: a CSV or JSON table of the commanded axis
angles, or a live stream of them to a ``rotctld`` (:mod:`jointsat.rotctld`).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.output import emit
from jointsat.errors import JointsatError, PointingError
from jointsat.files import read_elements, read_stations
from jointsat.orbits.passes import Pass, find_passes
from jointsat.orbits.pointing import PointingPlan, Rotator, plan_pass
from jointsat.orbits.propagation import Orbit, build_orbits, orbit_records
from jointsat.orbits.stations import Station
from jointsat.orbits.tracks import look_angles
from jointsat.rotctld import RotctldClient, parse_address
from jointsat.timelib import TimeOrigin, format_iso_ms, format_readable

ROW_COLUMNS = ("time", "azimuth_deg", "elevation_deg", "lag_deg")
"""The columns of a plan's rows, in CSV and JSON alike."""

ANGLE_DIGITS = 4
"""Decimals of the angles written (1e-4 deg: far below any antenna's beam)."""


class RowFormat(StrEnum):
    """Name the formats ``jointsat pointing`` and ``jointsat doppler`` write."""

    CSV = "csv"
    JSON = "json"


# The options ``jointsat pointing`` and ``jointsat doppler`` share.
ElementsOption = Annotated[
    list[Path],
    common.files_option(
        "Element sets (TLE, 3LE or OMM) or ephemerides (OEM); repeat for several files.",
        "--elements",
        "-e",
    ),
]
StationsOption = Annotated[
    Path, common.files_option("Ground stations (CSV or JSON).", "--stations", "-s")
]
SatelliteOption = Annotated[
    str,
    typer.Option("--satellite", metavar="N", help="The satellite: its catalog number or its name."),
]
StationOption = Annotated[
    str, typer.Option("--station", metavar="NAME", help="The station's name, as in its file.")
]
StartOption = Annotated[
    datetime,
    common.time_option(
        "Window start, e.g. 2024-05-10T00:00:00Z; UTC if no offset.", metavar="ISO8601"
    ),
]
EndOption = Annotated[datetime, common.time_option("Window end.", metavar="ISO8601")]
StepOption = Annotated[
    float,
    typer.Option("--step", metavar="S", min=0.01, max=600.0, help="Seconds between rows."),
]
OutputOption = Annotated[
    Path | None, common.files_option("Write here instead of stdout.", "--output", "-o")
]


@dataclass(frozen=True)
class PassPlan:
    """One pass and its pointing plan; the plan's ``time_s`` counts from the pass's AOS."""

    found: Pass
    plan: PointingPlan

    def time(self, k: int) -> datetime:
        """Return the UTC time of the plan's sample ``k``."""
        return TimeOrigin.of(self.found.aos).at(float(self.plan.time_s[k]))


def pointing(
    elements: ElementsOption,
    stations: StationsOption,
    satellite: SatelliteOption,
    station: StationOption,
    start: StartOption,
    end: EndOption,
    azimuth_range: Annotated[
        tuple[float, float],
        typer.Option(
            "--azimuth-range",
            metavar="MIN MAX",
            help="The azimuth axis's stops in degrees (a span of at least 360).",
        ),
    ] = (0.0, 450.0),
    elevation_range: Annotated[
        tuple[float, float],
        typer.Option(
            "--elevation-range",
            metavar="MIN MAX",
            help="The elevation axis's range in degrees (up to 180: a flip-over mount).",
        ),
    ] = (0.0, 90.0),
    azimuth_rate: Annotated[
        float,
        typer.Option("--azimuth-rate", metavar="DEG_S", help="The azimuth axis's top speed."),
    ] = 6.0,
    elevation_rate: Annotated[
        float,
        typer.Option("--elevation-rate", metavar="DEG_S", help="The elevation axis's top speed."),
    ] = 6.0,
    beamwidth: Annotated[
        float,
        typer.Option("--beamwidth", metavar="DEG", help="The antenna's full half-power beamwidth."),
    ] = 2.0,
    step_s: StepOption = 1.0,
    output_format: Annotated[
        RowFormat,
        typer.Option(
            "--format",
            "-f",
            help="csv: a header line, then one row per sample, pass after pass; json: "
            "the passes, each with its plan's figures and rows.",
        ),
    ] = RowFormat.CSV,
    output: OutputOption = None,
    rotctld: Annotated[
        str | None,
        typer.Option(
            "--rotctld",
            metavar="HOST:PORT",
            help="Stream the plan to a rotator's rotctld (hamlib): each row's P AZ EL at its "
            "time, the first row's early by the pre-positioning time; instead of writing it.",
        ),
    ] = None,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", hidden=True, help="Send the rows at once (tests)."),
    ] = False,
) -> None:
    """Plan a rotator's pointing through a satellite's passes over a station (az/el table)."""
    window_start, window_end = common.time_window(start, end=end)
    try:
        rotator = Rotator(
            azimuth_min_deg=azimuth_range[0],
            azimuth_max_deg=azimuth_range[1],
            elevation_min_deg=elevation_range[0],
            elevation_max_deg=elevation_range[1],
            azimuth_rate_deg_s=azimuth_rate,
            elevation_rate_deg_s=elevation_rate,
            beamwidth_deg=beamwidth,
        )
    except PointingError as exc:
        raise typer.BadParameter(str(exc).removeprefix("rotator "), param_hint="rotator") from None
    address = None if rotctld is None else _address(rotctld)
    errors = Console(stderr=True)
    with common.reporting_errors(errors):
        orbit, site = read_contact(elements, stations, satellite, station, errors)
        plans = plan_passes(orbit, site, window_start, window_end, rotator, step_s, errors)
        if address is None:
            text = plans_csv(plans) if output_format is RowFormat.CSV else plans_json(plans)
            emit(text, output)
            return
        with RotctldClient(*address) as client:
            sent = stream(plans, client.set_position, wait=not no_wait)
        errors.print(
            f"{sent} positions sent to rotctld at {client.address} over {len(plans)} pass(es)",
            highlight=False,
        )


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except JointsatError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--rotctld'") from None


def read_contact(
    elements: Sequence[Path], stations: Path, satellite: str, station: str, errors: Console
) -> tuple[Orbit, Station]:
    """Read the element and station files (their problems warned), and return the
    satellite and the station asked for."""
    element_files = read_elements(elements)
    for problem in element_files.problems:
        common.warn(errors, str(problem))
    orbit = select_orbit(build_orbits(element_files.orbits), satellite)
    return orbit, select_station(read_stations(stations), station)


def select_orbit(orbits: Sequence[Orbit], wanted: str) -> Orbit:
    """Return the satellite whose catalog number is ``wanted``, else whose name is (any case)."""
    text = wanted.strip()
    if text.isdigit():
        found = [o for o in orbits if o.norad_id == int(text)]
    else:
        found = [o for o in orbits if o.name.strip().casefold() == text.casefold()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise JointsatError(f"no satellite {wanted!r} in the element files")
    numbers = ", ".join(str(o.norad_id) for o in found)
    raise JointsatError(f"several satellites are named {wanted!r} ({numbers}): give its number")


def select_station(stations: Sequence[Station], wanted: str) -> Station:
    """Return the station named ``wanted`` (any case)."""
    found = [s for s in stations if s.name.casefold() == wanted.strip().casefold()]
    if not found:
        names = ", ".join(s.name for s in stations[:5])
        more = ", ..." if len(stations) > 5 else ""
        raise JointsatError(f"no station {wanted!r} in the stations file ({names}{more})")
    return found[0]


def plan_passes(
    orbit: Orbit,
    station: Station,
    start: datetime,
    end: datetime,
    rotator: Rotator,
    step_s: float,
    errors: Console,
) -> list[PassPlan]:
    """Find the orbit's passes over the station in the window and plan each one.

    Each pass is sampled every ``step_s`` seconds from AOS, and at LOS; the rotator
    waits at the plan's default parking position before each pass.
    """
    plans = []
    for p in station_passes(orbit, station, start, end, errors):
        times_s, az, el = sample_pass(orbit, station, p, step_s)
        plans.append(PassPlan(p, plan_pass(times_s, az, el, rotator)))
    return plans


def station_passes(
    orbit: Orbit, station: Station, start: datetime, end: datetime, errors: Console
) -> list[Pass]:
    """Return the orbit's passes over the station in the window, as ``jointsat passes`` finds them.

    Stale elements and SGP4 failures are warned about on ``errors``; no pass at all is
    an error (:class:`JointsatError`), one line.
    """
    found = find_passes(orbit_records(orbit), [station], start, end)
    common.check_freshness(errors, found.freshness, strict=False)
    for failure in found.problems:
        common.warn(
            errors,
            f"{orbit.name} ({orbit.norad_id}): SGP4 error {failure.code} ({failure.message}) "
            f"from {format_readable(failure.time)} UTC on",
        )
    if len(found) == 0:
        raise JointsatError(
            f"no pass of {orbit.name} ({orbit.norad_id}) over {station.name} between "
            f"{format_readable(start)} and {format_readable(end)} UTC"
        )
    return list(found.rows())


def sample_times_s(duration_s: float, step_s: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Return seconds from AOS every ``step_s``, and at LOS (``duration_s``)."""
    times_s = np.arange(0.0, duration_s, step_s)
    if times_s.size == 0 or duration_s - times_s[-1] > 1e-6:
        times_s = np.append(times_s, duration_s)
    return times_s


def sample_pass(
    orbit: Orbit, station: Station, found: Pass, step_s: float
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Return seconds from AOS (every ``step_s``, and LOS) and the station's az/el of the orbit."""
    times_s = sample_times_s(found.duration_s, step_s)
    jd, fr = TimeOrigin.of(found.aos).julian(times_s)
    codes, r, _ = orbit.propagate(jd, fr)
    if (codes != 0).any():
        raise JointsatError(
            f"{orbit.name} ({orbit.norad_id}) cannot be predicted through the pass at "
            f"{format_readable(found.aos)} UTC (SGP4 error {int(codes[codes != 0][0])})"
        )
    az, el, _ = look_angles(r, jd, fr, station.lat_deg, station.lon_deg, station.alt_m)
    # The engine's AOS and LOS are where the elevation crosses the threshold: a sample
    # there may come out a hair below the horizon; the track is the pass's, above it.
    return times_s, az, np.clip(el, -90.0, 90.0)


def rows(plans: Sequence[PassPlan]) -> list[dict[str, object]]:
    """Return every plan's rows (time, azimuth_deg, elevation_deg, lag_deg), pass after pass."""
    return [row for p in plans for row in _rows(p)]


def _rows(p: PassPlan) -> list[dict[str, object]]:
    plan = p.plan
    return [
        {
            "time": format_iso_ms(p.time(k)),
            "azimuth_deg": round(float(plan.azimuth_deg[k]), ANGLE_DIGITS),
            "elevation_deg": round(float(plan.elevation_deg[k]), ANGLE_DIGITS),
            "lag_deg": round(float(plan.lag_deg[k]), ANGLE_DIGITS),
        }
        for k in range(plan.time_s.size)
    ]


def plans_csv(plans: Sequence[PassPlan]) -> str:
    """Return the plans' rows as CSV with a header line."""
    return rows_csv(ROW_COLUMNS, rows(plans))


def rows_csv(columns: Sequence[str], records: Sequence[dict[str, object]]) -> str:
    """Return rows as CSV: a header line of ``columns``, then a line per row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def plans_json(plans: Sequence[PassPlan]) -> str:
    """Return ``{"passes": [...]}``: each pass's AOS, LOS, plan figures and rows."""
    document = {
        "passes": [
            {
                "aos": format_iso_ms(p.found.aos),
                "los": format_iso_ms(p.found.los),
                "mode": p.plan.mode.value,
                "preposition_s": round(p.plan.preposition_s, 3),
                "max_lag_deg": round(p.plan.max_lag_deg, ANGLE_DIGITS),
                "lag_over_half_beam_s": round(p.plan.lag_over_half_beam_s, 3),
                "rows": _rows(p),
            }
            for p in plans
        ]
    }
    return json.dumps(document, indent=2) + "\n"


def stream(
    plans: Sequence[PassPlan],
    set_position: Callable[[float, float], None],
    *,
    wait: bool = True,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send each row's axis angles at its time; return how many were sent.

    The first row of a pass goes ``preposition_s`` before AOS, so that the rotator is
    on it at AOS. A row whose successor's time has already come is skipped (the
    antenna goes straight to where it should be now); without ``wait`` every row is
    sent at once, in order.
    """
    sent = 0
    for p in plans:
        plan = p.plan
        aos_unix = p.found.aos.timestamp()
        times = aos_unix + plan.time_s
        due = times.copy()
        due[0] -= plan.preposition_s
        for k in range(plan.time_s.size):
            if wait:
                next_due = times[k + 1] if k + 1 < times.size else times[k] + 1.0
                if clock() >= next_due:
                    continue
                delay = due[k] - clock()
                if delay > 0.0:
                    sleep(delay)
            set_position(float(plan.azimuth_deg[k]), float(plan.elevation_deg[k]))
            sent += 1
    return sent
