"""Check `jointsat analyse` end to end: files, archived products, runs at ingest.

The NDVI authority is the seeded season itself: the builder knows which pixels no
cloud, shadow, snow, edge or saturation touched (``clear``) and the reflectances it
wrote, so a pixel-aligned field in the product's own CRS has a known valid fraction
and NDVI mean (to the products' quantisation, 1e-4 of reflectance). The transit
authority is Kepler-6b's published period, 3.234723 d (Dunham et al. 2010).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support.data import shared
from typer.testing import CliRunner, Result

from jointsat.analysis.registry import KIND_PROPERTY
from jointsat.analysis.venus_like import (
    DEMO_CRS,
    DEMO_TRANSFORM,
    SeasonDate,
    build_date,
    load_demo_tile,
    seeded_season,
)
from jointsat.cli import app
from jointsat.store.database import open_engine, session_factory
from jointsat.store.tables import Agreement, Partner, Satellite, SatelliteOperator

CHEOPS, VENUS = 44874, 42901
ROWS, COLS = slice(15, 85), slice(20, 80)  # the field, in the products' pixels
KEPLER6_PERIOD_D = 3.234723
quantisation_ndvi = 2e-3  # NDVI from reflectances rounded to 1e-4 (about 0.1 to 0.5)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def field_geojson(path: Path) -> Path:
    """Write the field as a polygon in the products' own CRS (pixel-aligned)."""
    west, north = DEMO_TRANSFORM @ (COLS.start, ROWS.start)
    east, south = DEMO_TRANSFORM @ (COLS.stop, ROWS.stop)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    document = {
        "type": "Feature",
        "crs": {"type": "name", "properties": {"name": DEMO_CRS}},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": "field"},
    }
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[SeasonDate], list[Path]]:
    folder = tmp_path_factory.mktemp("season")
    dates = seeded_season(load_demo_tile(), 5, seed=11, cloudy_fraction=0.4)
    paths = [build_date(folder, d) for d in dates]
    return dates, paths


def expected(date: SeasonDate) -> tuple[float, float]:
    """Return the field's valid fraction and mean NDVI over its clear pixels."""
    clear = date.clear[ROWS, COLS]
    red = np.round(date.red[ROWS, COLS] * 10_000) / 10_000
    nir = np.round(date.nir[ROWS, COLS] * 10_000) / 10_000
    ndvi = (nir - red) / (nir + red)
    return float(clear.mean()), float(ndvi[clear].mean()) if clear.any() else float("nan")


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def check_series(rows: list[dict[str, str]], dates: list[SeasonDate]) -> None:
    assert len(rows) == len(dates)
    for row, date in zip(rows, sorted(dates, key=lambda d: d.acquired), strict=True):
        assert row["date"].startswith(date.acquired.strftime("%Y-%m-%dT%H:%M"))
        fraction, mean = expected(date)
        assert float(row["valid_fraction"]) == pytest.approx(fraction, abs=1e-6)
        if row["ndvi_mean"]:
            assert float(row["ndvi_mean"]) == pytest.approx(mean, abs=quantisation_ndvi)
        else:
            assert fraction == 0.0


def test_ndvi_of_files_writes_a_row_per_date_and_the_rasters(
    season: tuple[list[SeasonDate], list[Path]], tmp_path: Path
) -> None:
    dates, paths = season
    out, rasters = tmp_path / "ndvi.csv", tmp_path / "rasters"
    result = invoke(
        "analyse", "ndvi", *map(str, paths), "--aoi", str(field_geojson(tmp_path / "f.json")),
        "-o", str(out), "--rasters", str(rasters),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_csv(out.read_text())
    assert list(rows[0]) == ["date", "valid_fraction", "ndvi_mean", "ndvi_median", "ndvi_smoothed"]
    check_series(rows, dates)
    assert len(list(rasters.glob("ndvi_*.tif"))) == len(dates)


def test_ndvi_refuses_a_missing_area_and_a_missing_file(tmp_path: Path) -> None:
    result = invoke("analyse", "ndvi", str(tmp_path / "none.zip"))
    assert result.exit_code != 0
    assert "--aoi" in result.output
    aoi = field_geojson(tmp_path / "f.json")
    result = invoke("analyse", "ndvi", str(tmp_path / "none.zip"), "--aoi", str(aoi))
    assert result.exit_code != 0
    assert "no such file" in result.output


@pytest.fixture
def store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_sqlite_store: Callable[[Path], str]
) -> str:
    """A SQLite store: ESA operates CHEOPS, CNES VENUS; ESA's agreement runs transits."""
    url = new_sqlite_store(tmp_path)
    engine = open_engine(url)
    with session_factory(engine).begin() as session:
        esa = Partner(code="esa", name="ESA", contribution_share=0.5)
        cnes = Partner(code="cnes", name="CNES", contribution_share=0.5)
        session.add_all(
            [
                Agreement(partner=esa, embargo_days=30, analyses=["transits"]),
                Agreement(partner=cnes, embargo_days=0),
                Satellite(
                    norad_id=CHEOPS,
                    name="CHEOPS",
                    operators=[SatelliteOperator(partner=esa, fraction=1.0)],
                ),
                Satellite(
                    norad_id=VENUS,
                    name="VENUS",
                    operators=[SatelliteOperator(partner=cnes, fraction=1.0)],
                ),
            ]
        )
    engine.dispose()
    monkeypatch.setenv("JOINTSAT_DATABASE_URL", url)
    monkeypatch.delenv("JOINTSAT_ARCHIVE_ROOT", raising=False)
    return url


def ingest(tmp_path: Path, satellite: int, kind: str, *paths: Path) -> list[str]:
    metadata: dict[str, Any] = {
        "instrument": "test",
        "acquired_start": "2024-05-10T12:00:00Z",
        "acquired_end": "2024-05-10T12:10:00Z",
        "properties": {KIND_PROPERTY: kind},
    }
    path = tmp_path / f"metadata-{kind}.json"
    path.write_text(json.dumps(metadata))
    result = invoke(
        "archive", "ingest", *map(str, paths), "--satellite", str(satellite),
        "--metadata", str(path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def test_ndvi_of_archived_products_stores_a_run_and_a_derived_product(
    store: str, season: tuple[list[SeasonDate], list[Path]], tmp_path: Path
) -> None:
    dates, paths = season
    ids = ingest(tmp_path, VENUS, "optical-l2a", *paths)
    aoi = field_geojson(tmp_path / "f.json")
    result = invoke("analyse", "ndvi", *ids, "--archive", "--aoi", str(aoi))
    assert result.exit_code == 0, result.output
    check_series(read_csv(result.stdout), dates)
    listed = invoke("analyse", "runs", "--format", "json")
    (run,) = json.loads(listed.stdout)
    assert run["status"] == "done"
    assert run["products"] == ", ".join(ids)
    products = json.loads(invoke("archive", "list", "--format", "json").stdout)
    (derived,) = [p for p in products if p["id"] == run["product_id"]]
    assert derived["derived_from"] == ids
    # the wrong kind is refused, naming what the pipeline reads
    refused = invoke("analyse", "transits", ids[0], "--archive")
    assert refused.exit_code != 0
    assert "reads light-curve products" in refused.output


KEPLER6 = "lightcurves/kplr010874614-2009131105131_llc.fits"
KEPLER6_T0_BJD = 2454954.48636  # Dunham et al. 2010
half_an_hour_d = 0.5 / 24


def check_kepler6(candidate: dict[str, Any]) -> None:
    assert abs(candidate["period_d"] - KEPLER6_PERIOD_D) / KEPLER6_PERIOD_D < 0.005
    cycles = round((candidate["t0_bjd"] - KEPLER6_T0_BJD) / KEPLER6_PERIOD_D)
    predicted = KEPLER6_T0_BJD + cycles * KEPLER6_PERIOD_D
    assert abs(candidate["t0_bjd"] - predicted) < half_an_hour_d
    assert candidate["transits"] == 3


@pytest.mark.parametrize("method", ["tls", "bls"])
def test_transits_of_a_file_finds_kepler_6b(method: str, tmp_path: Path) -> None:
    out, plots = tmp_path / "candidates.json", tmp_path / "plots"
    result = invoke(
        "analyse", "transits", str(shared(KEPLER6)), "--method", method,
        "-o", str(out), "--plots", str(plots),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["settings"]["method"] == method
    (curve,) = document["curves"]
    check_kepler6(curve["candidates"][0])
    (plot,) = plots.glob("*.png")
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_an_agreement_runs_the_transit_search_when_the_cli_ingests(
    store: str, tmp_path: Path
) -> None:
    (source,) = ingest(tmp_path, CHEOPS, "light-curve", shared(KEPLER6))
    (run,) = json.loads(invoke("analyse", "runs", "--format", "json").stdout)
    assert (run["pipeline"], run["status"], run["trigger"]) == ("transits 1.0", "done", "ingest")
    assert run["products"] == source
    # the same search by hand gives the same candidates, from the archive
    result = invoke("analyse", "transits", source, "--archive")
    assert result.exit_code == 0, result.output
    check_kepler6(json.loads(result.stdout)["curves"][0]["candidates"][0])
    runs = json.loads(invoke("analyse", "runs", "--format", "json").stdout)
    assert len(runs) == 2
    assert runs[0]["product_id"] == runs[1]["product_id"]  # the same files: one product
