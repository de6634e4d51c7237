"""Check `jointsat design coverage` and `jointsat design sweep` end to end, through the CLI.

The authorities: H3 itself (which cells have their centre inside a band or a
longitude-latitude box, each cell's centre and area, ``h3.cell_to_latlng`` and
``h3.cell_area``), the definitions' own identities between the per-point columns
(``mean_response_s`` is half ``time_avg_gap_s``; covered time is accesses times their
mean length), the table against its summary (the area-weighted mean of a column), the
CSV against the Parquet file of the same study, and a brute-force Pareto check on the
sweep's rows. Tolerances are the CSV's rounding: 6 decimals for degrees and fractions,
3 for km^2 and seconds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import h3
import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.design.grid import resolution_for
from jointsat.design.merit import FIGURES

START = "2024-05-09T00:00:00Z"  # the bundled element sets' epoch
DAYS = "0.125"  # three hours
WINDOW_S = 3 * 3_600.0
GRID = ["--grid-deg", "10"]
WALKER = "walker:12/3/1:550:53"
COLUMNS = ["area", "partner", "cell", "lat_deg", "lon_deg", "area_km2", *FIGURES]

half_a_microdegree = 5e-7  # deg: the CSV's 6 decimals
half_a_metre_squared_km2 = 5e-4  # km^2: 3 decimals (a thousandth of a km^2 is 1000 m^2)
half_a_millisecond = 5e-4  # s: 3 decimals
half_a_millionth = 5e-7  # of the window: a fraction's 6 decimals

BOXES = {  # name: (partner, lon0, lat0, lon1, lat1)
    "europe": ("esa", -10.0, 35.0, 30.0, 60.0),
    "america": ("nasa", -120.0, 25.0, -70.0, 50.0),
}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["design", *args])


def coverage(*args: str) -> Result:
    result = run("coverage", "--start", START, "--days", DAYS, *GRID, *args)
    assert result.exit_code == 0, result.output
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def h3_cells_where(keep: Any) -> dict[str, tuple[float, float]]:
    """Return every cell of the study's resolution whose centre ``keep(lat, lon)`` accepts."""
    res = resolution_for(10.0)
    out = {}
    for base in h3.get_res0_cells():
        for cell in h3.cell_to_children(base, res):
            lat, lon = h3.cell_to_latlng(cell)
            if keep(lat, lon):
                out[cell] = (lat, lon)
    return out


def geojson_file(folder: Path) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"name": name, "partner": partner},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]],
            },
        }
        for name, (partner, a, b, c, d) in BOXES.items()
    ]
    path = folder / "partners.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture(scope="module")
def band_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One study of the tropics written as CSV and as Parquet."""
    folder = tmp_path_factory.mktemp("band")
    table = folder / "x.csv"
    coverage("-c", WALKER, "--aoi", "band:-30:30", "-o", str(table))
    parquet = folder / "x.parquet"
    coverage("-c", WALKER, "--aoi", "band:-30:30", "-o", str(parquet))
    return table, parquet


def test_csv_table_has_one_row_per_h3_cell_of_the_band(band_study: tuple[Path, Path]) -> None:
    table, _ = band_study
    assert table.read_text().splitlines()[0] == ",".join(COLUMNS)
    rows = read_csv(table)
    expected = h3_cells_where(lambda lat, lon: -30.0 <= lat <= 30.0)
    assert sorted(r["cell"] for r in rows) == sorted(expected)
    for r in rows:
        assert r["area"] == "band:-30:30"
        assert r["partner"] == ""
        lat, lon = expected[r["cell"]]
        assert abs(float(r["lat_deg"]) - lat) <= half_a_microdegree
        assert abs(float(r["lon_deg"]) - lon) <= half_a_microdegree
        area = h3.cell_area(r["cell"], "km^2")
        assert abs(float(r["area_km2"]) - area) <= half_a_metre_squared_km2


def test_csv_figures_are_consistent_point_by_point(band_study: tuple[Path, Path]) -> None:
    rows = read_csv(band_study[0])
    covered = sum(1 for r in rows if int(r["accesses"]) > 0)
    assert 0 < covered < len(rows)  # a real mix: the test can tell covered from not
    for r in rows:
        fraction = float(r["coverage_fraction"])
        accesses = int(r["accesses"])
        assert 0.0 <= fraction <= 1.0
        assert (r["first_access_s"] == "") == (accesses == 0)
        assert (r["mean_access_s"] == "") == (accesses == 0)
        assert (r["max_gap_interior_s"] == "") == (accesses < 2)
        time_avg, response = float(r["time_avg_gap_s"]), float(r["mean_response_s"])
        assert abs(response - time_avg / 2.0) <= 2 * half_a_millisecond
        if accesses:
            covered_s = accesses * float(r["mean_access_s"])
            tolerance = accesses * half_a_millisecond + WINDOW_S * half_a_millionth
            assert abs(covered_s - fraction * WINDOW_S) <= tolerance
        else:
            assert float(r["max_gap_s"]) == WINDOW_S
        if accesses >= 2:
            assert float(r["max_gap_s"]) >= float(r["max_gap_interior_s"])
        assert int(r["max_in_view"]) >= (1 if accesses else 0)


def test_summary_beside_the_table_aggregates_its_rows(band_study: tuple[Path, Path]) -> None:
    table, _ = band_study
    summary = json.loads((table.parent / "x.summary.json").read_text())
    rows = read_csv(table)
    (area,) = summary["areas"]
    assert area["name"] == "band:-30:30"
    assert area["points"] == len(rows) == summary["grid"]["points"]
    assert summary["partners"] == []
    assert summary["window"]["duration_s"] == WINDOW_S
    weight = np.array([float(r["area_km2"]) for r in rows])
    for name in ("coverage_fraction", "max_gap_s", "mean_in_view"):
        values = np.array([float(r[name]) for r in rows])
        figures = area["figures"][name]
        assert figures["undefined_points"] == 0
        assert figures["mean"] == pytest.approx(np.average(values, weights=weight), abs=1e-5)
        assert figures["max"] == pytest.approx(values.max(), abs=half_a_millisecond)
    undefined = sum(1 for r in rows if r["first_access_s"] == "")
    assert area["figures"]["first_access_s"]["undefined_points"] == undefined


def test_parquet_table_holds_the_csv_rows_with_nulls(band_study: tuple[Path, Path]) -> None:
    table, parquet = band_study
    frame = pq.read_table(parquet)
    assert frame.column_names == COLUMNS
    rows = read_csv(table)
    columns = frame.to_pydict()
    assert len(columns["cell"]) == len(rows)
    by_cell = {r["cell"]: r for r in rows}
    for k, cell in enumerate(columns["cell"]):
        row = by_cell[cell]
        for name in COLUMNS:
            value = columns[name][k]
            if isinstance(value, str):
                assert value == row[name]
            elif row[name] == "":
                assert value is None, (cell, name)
            else:
                assert value == pytest.approx(float(row[name]), abs=half_a_millisecond)
    assert frame.schema.field("accesses").type == "int64"


def test_without_output_the_summary_per_area_is_printed() -> None:
    result = coverage("-c", WALKER, "--aoi", "band:-30:30", "--aoi", "band:40:60")
    assert "Coverage by area" in result.stdout
    points = h3_cells_where(lambda lat, lon: -30.0 <= lat <= 30.0)
    assert f" {len(points)} " in result.stdout
    assert len([line for line in result.stdout.splitlines() if "band:" in line]) == 2


def test_geojson_partners_and_an_element_file(tmp_path: Path) -> None:
    copied = CliRunner().invoke(app, ["data", "copy", str(tmp_path / "data")])
    assert copied.exit_code == 0, copied.output
    elements = tmp_path / "data" / "stations.tle"
    table = tmp_path / "partners.csv"
    coverage(
        "-c", str(elements), "-c", WALKER, "--aoi", str(geojson_file(tmp_path)), "-o", str(table)
    )
    summary = json.loads((tmp_path / "partners.summary.json").read_text())
    assert [p["partner"] for p in summary["partners"]] == ["esa", "nasa"]
    assert [(a["name"], a["partner"]) for a in summary["areas"]] == [
        ("europe", "esa"),
        ("america", "nasa"),
    ]
    in_file = [int(line[2:7]) for line in elements.read_text().splitlines() if line[:2] == "1 "]
    assert in_file[:2] == [25544, 48274]  # the ISS and Tianhe first
    norad = [s["norad_id"] for s in summary["satellites"]]
    assert norad[: len(in_file)] == in_file  # the file's satellites, then the Walker's twelve
    assert len(norad) == len(in_file) + 12
    rows = read_csv(table)
    for name, (partner, a, b, c, d) in BOXES.items():
        mine = [r for r in rows if r["area"] == name]
        assert {r["partner"] for r in mine} == {partner}
        inside = h3_cells_where(
            lambda lat, lon, a=a, b=b, c=c, d=d: a <= lon <= c and b <= lat <= d
        )
        assert sorted(r["cell"] for r in mine) == sorted(inside)
        assert next(p for p in summary["partners"] if p["partner"] == partner)["points"] == len(
            mine
        )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-c", "walker:24/5/1:550:53"], "T must be a multiple of P"),
        (["-c", "walker:abc"], "expected walker:T/P/F:ALT_KM:INC_DEG"),
        (["-c", "missing.tle"], "'missing.tle' is neither a constellation"),
        (["-c", WALKER, "--aoi", "missing.geojson"], "missing.geojson: no such file"),
        (["-c", WALKER, "--aoi", "band:30:-30"], "a band needs -90 <= lat_min < lat_max"),
        (["-c", WALKER, "--grid-deg", "0"], "the grid spacing must be"),
        (["-c", WALKER, "--half-angle", "95"], "half-angle must be in (0, 90) degrees"),
        (["-c", WALKER, "--min-elevation", "90"], "minimum elevation must be in [-5, 90)"),
    ],
    ids=["walker-pattern", "bad-spec", "no-file", "no-aoi", "band", "grid", "half", "elevation"],
)
def test_bad_inputs_exit_1_with_one_line(args: list[str], fragment: str) -> None:
    result = run("coverage", "--start", START, "--days", DAYS, *GRID, *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_an_end_before_the_start_is_a_usage_error() -> None:
    """Like every command's window, refused by the option parser: status 2, no study."""
    result = run("coverage", "--start", START, "--end", "2024-05-08T00:00:00Z", "-c", WALKER)
    assert result.exit_code == 2, result.output
    assert "is not after the start" in " ".join(result.stderr.replace("│", " ").split())


# jointsat design sweep

SWEEP = [
    "sweep",
    "--start",
    START,
    "--days",
    DAYS,
    *GRID,
    "--total",
    "4,6,7",
    "--planes",
    "2",
    "--phasing",
    "0,1",
    "--sso-ltan",
    "10:30",
]


def undominated(rows: list[dict[str, Any]]) -> list[bool]:
    """Brute force: a design is on the front unless another is no worse on both and better
    on one (satellites and the objective, both minimised: max_gap_s)."""

    def beats(j: dict[str, Any], k: dict[str, Any]) -> bool:
        cj, ck, vj, vk = j["satellites"], k["satellites"], j["objective"], k["objective"]
        return cj <= ck and vj <= vk and (cj < ck or vj < vk)

    return [
        math.isfinite(k["objective"]) and not any(beats(j, k) for j in rows if j is not k)
        for k in rows
    ]


def test_sweep_csv_and_json(tmp_path: Path) -> None:
    aoi = ["--aoi", str(geojson_file(tmp_path)), "--aoi", "band:-20:20"]
    result = run(*SWEEP, *aoi)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # Walker 4/2/0, 4/2/1, 6/2/0, 6/2/1 (7 is not shared by 2 planes), SSO of 4, 6 and 7.
    assert [r["design"] for r in rows] == [
        "walker:4/2/0:550:53",
        "walker:4/2/1:550:53",
        "walker:6/2/0:550:53",
        "walker:6/2/1:550:53",
        "sso:550:10:30:4",
        "sso:550:10:30:6",
        "sso:550:10:30:7",
    ]
    header = list(rows[0])
    assert {"design", "satellites", "objective", "worst", "pareto"} <= set(header)
    assert header[-2:] == ["partner:esa", "partner:nasa"]
    for r in rows:
        esa, nasa = float(r["partner:esa"]), float(r["partner:nasa"])
        assert float(r["objective"]) == pytest.approx(max(esa, nasa), abs=half_a_millisecond)
        assert r["worst"] == ("esa" if esa >= nasa else "nasa")
    typed = [{"satellites": int(r["satellites"]), "objective": float(r["objective"])} for r in rows]
    assert [r["pareto"] == "true" for r in rows] == undominated(typed)

    as_json = run(*SWEEP, *aoi, "--format", "json", "-o", str(tmp_path / "sweep.json"))
    assert as_json.exit_code == 0, as_json.output
    document = json.loads((tmp_path / "sweep.json").read_text())
    assert (document["figure"], document["statistic"]) == ("max_gap_s", "mean")
    designs = document["designs"]
    assert [d["design"] for d in designs] == [r["design"] for r in rows]
    assert [d["pareto"] for d in designs] == [r["pareto"] == "true" for r in rows]
    for d, r in zip(designs, rows, strict=True):
        assert d["objective"] == pytest.approx(float(r["objective"]), abs=half_a_millisecond)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--total", "5", "--planes", "2"], "the sweep has no valid design"),
        (["--figure", "revisit"], "unknown figure of merit 'revisit'"),
        (["--statistic", "p95"], "unknown statistic 'p95'"),
    ],
)
def test_sweep_refusals(args: list[str], fragment: str) -> None:
    result = run("sweep", "--start", START, "--days", DAYS, *GRID, *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert fragment in lines[0]
