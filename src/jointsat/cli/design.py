"""``jointsat design``: coverage and revisit of candidate constellations over areas.

``design coverage`` studies one constellation (or a mix) over areas of interest and
writes the per-point table (CSV or Parquet) and the summary (JSON); ``design sweep``
studies a grid of designs and writes one row per design with the Pareto front of
satellites against the worst-served partner's figure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jointsat.cli import common
from jointsat.cli.output import emit
from jointsat.errors import DesignError
from jointsat.files import read_elements, read_stations, read_text

design_app = typer.Typer(
    name="design",
    help="Mission design: coverage and revisit of candidate constellations over areas.",
    no_args_is_help=True,
)

_BAND = re.compile(r"band:(?P<lo>[-+0-9.]+):(?P<hi>[-+0-9.]+)")


class TableFormat(StrEnum):
    """Name the formats of the per-point table."""

    CSV = "csv"
    PARQUET = "parquet"


class SweepFormat(StrEnum):
    """Name the formats of the sweep's table."""

    CSV = "csv"
    JSON = "json"


Aoi = Annotated[
    list[str] | None,
    typer.Option(
        "--aoi",
        metavar="FILE|globe|band:LAT1:LAT2",
        help="Areas of interest: a GeoJSON file (each Feature an area; its properties "
        "'name' and 'partner' name it and its partner), 'globe', or a latitude band; "
        "repeat for several. Default: the globe.",
    ),
]
Start = Annotated[
    datetime, common.time_option("Study start, e.g. 2026-12-01T00:00:00Z.", metavar="ISO8601")
]
Days = Annotated[float | None, common.days_option("Study length in days (or give --end).")]
End = Annotated[
    datetime | None, common.time_option("Study end (or give --days).", metavar="ISO8601")
]
MinElevation = Annotated[
    float | None,
    typer.Option(
        "--min-elevation",
        metavar="DEG",
        help="A point is covered while a satellite is at least this high (default 10 "
        "unless --half-angle is given).",
    ),
]
HalfAngle = Annotated[
    float | None,
    typer.Option(
        "--half-angle",
        metavar="DEG",
        help="A point is covered while it is within this angle of a satellite's nadir "
        "(an imager's half-angle, or its largest off-nadir look).",
    ),
]
Daylight = Annotated[
    float | None,
    typer.Option(
        "--daylight",
        metavar="DEG",
        help="Count coverage only while the Sun is at least this high at the point.",
    ),
]
GridDeg = Annotated[
    float,
    typer.Option(
        "--grid-deg",
        metavar="DEG",
        help="Spacing of the equal-area (H3) grid of points, in degrees at the equator.",
    ),
]


def coverage(
    start: Start,
    constellation: Annotated[
        list[str],
        typer.Option(
            "--constellation",
            "-c",
            metavar="SPEC|FILE",
            help="walker:T/P/F:ALT_KM:INC_DEG[:RAAN_DEG], walker-star:..., "
            "sso:ALT_KM:LTAN_HH:MM[:COUNT], or an element file (TLE, OMM); repeat to mix.",
        ),
    ],
    aoi: Aoi = None,
    days: Days = None,
    end: End = None,
    min_elevation_deg: MinElevation = None,
    half_angle_deg: HalfAngle = None,
    daylight_deg: Daylight = None,
    grid_deg: GridDeg = 1.0,
    relay_stations: Annotated[
        Path | None,
        common.files_option(
            "Bent pipe: a satellite covers a point only while one of these stations (CSV "
            "or JSON) sees it too.",
            "--relay-stations",
        ),
    ] = None,
    relay_min_elevation_deg: Annotated[
        float,
        typer.Option("--relay-min-elevation", metavar="DEG", help="The relay stations' minimum."),
    ] = 5.0,
    output: Annotated[
        Path | None,
        common.files_option(
            "Write the per-point table here (.csv or .parquet); without it, print the "
            "summary per area.",
            "--output",
            "-o",
        ),
    ] = None,
    table_format: Annotated[
        TableFormat | None,
        typer.Option("--format", "-f", help="The table's format (default: from -o's suffix)."),
    ] = None,
    summary: Annotated[
        Path | None,
        common.files_option(
            "Write the summary (JSON) here; default with -o: beside it, OUT.summary.json.",
            "--summary",
        ),
    ] = None,
    cluster: common.Cluster = None,
    workers: common.Workers = None,
) -> None:
    """Study a constellation's coverage and revisit over areas: figures per point and area."""
    from jointsat.design.study import CoverageStudy, run_coverage
    from jointsat.design_output import coverage_csv, coverage_parquet_bytes, summary_json

    errors = Console(stderr=True)
    with common.reporting_errors(errors):
        start, end = common.time_window(start, days=days, end=end)
        study = CoverageStudy(
            constellations=_constellations(constellation, start),
            areas=_areas(aoi),
            start=start,
            end=end,
            rule=_rule(min_elevation_deg, half_angle_deg, daylight_deg),
            grid_deg=grid_deg,
            relay_stations=read_stations(relay_stations) if relay_stations else (),
            relay_min_elevation_deg=relay_min_elevation_deg,
        )
        fmt = _table_format(table_format, output)
        with (
            common.dask_executor(cluster, workers) as executor,
            common.progress_bar(errors, "studying coverage") as tick,
        ):
            result = run_coverage(study, executor=executor, progress=tick)
        document = result.summary()
        if output is not None:
            columns = result.table()
            if fmt is TableFormat.PARQUET:
                output.write_bytes(coverage_parquet_bytes(columns))
            else:
                output.write_text(coverage_csv(columns), encoding="utf-8")
            summary = summary or output.with_name(output.stem + ".summary.json")
        if summary is not None:
            summary.write_text(summary_json(document), encoding="utf-8")
        if output is None and summary is None:
            _print_summary(document)
        else:
            _print_summary(document, console=errors)


def _print_summary(document: dict[str, Any], console: Console | None = None) -> None:
    table = Table(title="Coverage by area (area-weighted over the points)")
    for name in (
        "area",
        "partner",
        "points",
        "coverage",
        "max revisit",
        "mean revisit",
        "mean response",
    ):
        table.add_column(name, justify="left" if name in ("area", "partner") else "right")
    for area in document["areas"]:
        f = area["figures"]
        table.add_row(
            area["name"],
            area["partner"] or "",
            str(area["points"]),
            _percent(f["coverage_fraction"]["mean"]),
            _duration(f["max_gap_s"]["mean"]),
            _duration(f["mean_gap_s"]["mean"]),
            _duration(f["mean_response_s"]["mean"]),
        )
    (console or Console()).print(table)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100.0 * value:.1f} %"


def _duration(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 3600.0:.2f} h" if value >= 3600.0 else f"{value / 60.0:.1f} min"


def sweep(
    start: Start,
    aoi: Aoi = None,
    days: Days = None,
    end: End = None,
    total: Annotated[
        str, typer.Option(metavar="T,...", help="Satellites per design (comma-separated).")
    ] = "12,24",
    planes: Annotated[
        str, typer.Option(metavar="P,...", help="Walker planes (P must divide T).")
    ] = "3,4,6",
    phasing: Annotated[
        str, typer.Option(metavar="F,...", help="Walker phasing F (0 <= F < P).")
    ] = "1",
    altitude_km: Annotated[
        str, typer.Option("--altitude", metavar="KM,...", help="Altitudes in km.")
    ] = "550",
    inclination_deg: Annotated[
        str, typer.Option("--inclination", metavar="DEG,...", help="Walker inclinations.")
    ] = "53",
    star: Annotated[
        bool, typer.Option("--star", help="Walker star (planes over 180 deg).")
    ] = False,
    sso_ltan: Annotated[
        str | None,
        typer.Option(
            "--sso-ltan",
            metavar="HH:MM,...",
            help="Also study one sun-synchronous plane of each --total and --altitude at "
            "these local times of the ascending node.",
        ),
    ] = None,
    min_elevation_deg: MinElevation = None,
    half_angle_deg: HalfAngle = None,
    daylight_deg: Daylight = None,
    grid_deg: GridDeg = 2.0,
    figure: Annotated[
        str,
        typer.Option(metavar="NAME", help="The figure of merit to judge designs by."),
    ] = "max_gap_s",
    statistic: Annotated[
        str,
        typer.Option(
            metavar="mean|min|max|p10|p50|p90",
            help="How the figure is summarised over each partner's points (area-weighted).",
        ),
    ] = "mean",
    output: Annotated[
        Path | None, common.files_option("Write the table here.", "--output", "-o")
    ] = None,
    sweep_format: Annotated[
        SweepFormat, typer.Option("--format", "-f", help="csv or json.")
    ] = SweepFormat.CSV,
    cluster: common.Cluster = None,
    workers: common.Workers = None,
) -> None:
    """Study a grid of designs; one row per design, with the Pareto front of cost and figure."""
    from jointsat.design.sweep import SweepSettings, run_sweep, sso_designs, walker_designs
    from jointsat.design_output import format_cell, summary_json

    errors = Console(stderr=True)
    with common.reporting_errors(errors):
        start, end = common.time_window(start, days=days, end=end)
        totals = _numbers(total, int, "--total")
        altitudes = _numbers(altitude_km, float, "--altitude")
        designs = walker_designs(
            totals,
            _numbers(planes, int, "--planes"),
            _numbers(phasing, int, "--phasing"),
            altitudes,
            _numbers(inclination_deg, float, "--inclination"),
            star=star,
        )
        if sso_ltan:
            designs += sso_designs(totals, altitudes, [_hours(x) for x in sso_ltan.split(",")])
        settings = SweepSettings(
            _areas(aoi),
            start,
            end,
            _rule(min_elevation_deg, half_angle_deg, daylight_deg),
            grid_deg,
            figure,
            statistic,
        )
        with (
            common.dask_executor(cluster, workers) as executor,
            common.progress_bar(errors, "studying designs") as tick,
        ):
            result = run_sweep(designs, settings, executor=executor, progress=tick)
        rows = result.table()
        if sweep_format is SweepFormat.JSON:
            emit(summary_json({"figure": figure, "statistic": statistic, "designs": rows}), output)
        else:
            names = list(dict.fromkeys(k for row in rows for k in row))
            lines = [",".join(names)]
            for row in rows:
                lines.append(",".join(_sweep_cell(row.get(n), n, format_cell) for n in names))
            emit("\n".join(lines) + "\n", output)


def _sweep_cell(value: Any, name: str, cell: Callable[[Any, str], str]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return cell(value, name)


def _numbers(text: str, kind: Callable[[str], Any], option: str) -> list[Any]:
    try:
        return [kind(x.strip()) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list", param_hint=option
        ) from None


def _hours(text: str) -> float:
    hh, _, mm = text.strip().partition(":")
    try:
        return int(hh) + int(mm or 0) / 60.0
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not HH:MM", param_hint="--sso-ltan") from None


def _rule(elevation: float | None, half_angle: float | None, daylight: float | None) -> Any:
    from jointsat.design.access import AccessRule

    if elevation is None and half_angle is None:
        elevation = 10.0
    return AccessRule(elevation, half_angle, daylight)


def _constellations(specs: Sequence[str], start: datetime) -> tuple[Any, ...]:
    from jointsat.design.constellations import (
        from_elements,
        is_constellation_spec,
        parse_constellation,
    )

    out = []
    for spec in specs:
        if is_constellation_spec(spec):
            out.append(parse_constellation(spec, epoch=start))
            continue
        path = Path(spec)
        if not path.is_file():
            raise DesignError(
                f"{spec!r} is neither a constellation (walker:T/P/F:ALT:INC, sso:ALT:HH:MM) "
                "nor an element file"
            )
        found = read_elements([path])
        if not found.elements:
            raise DesignError(f"{spec}: no element set could be read")
        out.append(from_elements(os.fspath(path), found.elements))
    return tuple(out)


def _areas(aoi: Sequence[str] | None) -> tuple[Any, ...]:
    from jointsat.design.areas import band, globe, read_geojson

    out: list[Any] = []
    for item in aoi or ["globe"]:
        match = _BAND.fullmatch(item)
        if item == "globe":
            out.append(globe())
        elif match:
            out.append(band(float(match["lo"]), float(match["hi"]), name=item))
        else:
            out.extend(read_geojson(read_text(item), name=Path(item).stem))
    return tuple(out)


def _table_format(chosen: TableFormat | None, output: Path | None) -> TableFormat:
    if chosen is not None:
        return chosen
    if output is not None and output.suffix.lower() in (".parquet", ".pq"):
        return TableFormat.PARQUET
    return TableFormat.CSV


design_app.command()(coverage)
design_app.command()(sweep)
