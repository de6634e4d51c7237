"""A seeded season of VENuS-like products from the real Sentinel-2 tile, and its truths.

The NDVI tests share it: ``season_products`` writes one MUSCATE zip per date (as the
archive stores them) with ``jointsat.analysis.venus_like``; the partner's area is a
pentagon drawn in WGS-84 longitude and latitude (``partner_aoi``); ``area_pixels``
says which pixels' centres it holds, by a point-in-polygon test independent of GDAL's
rasterisation (``jointsat.design.areas``: planar edges in longitude and latitude, as
RFC 7946 draws them), on centres projected with PROJ (checked on a known point by
``test_optical``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.warp import transform as project
from tests.support.data import shared

from jointsat.analysis.venus_like import (
    DEMO_CRS,
    DEMO_TRANSFORM,
    SeasonDate,
    build_date,
    seeded_season,
)
from jointsat.design.areas import read_geojson

SEED = 20240301
DATES = 20
PIXEL_M = 5.0

# The pentagon's corners as (column, row) of the tile's pixel grid (corner units).
PENTAGON_PX = ((20.3, 30.6), (260.2, 30.1), (259.7, 200.4), (140.5, 270.2), (20.1, 230.8))


def s2_tile() -> NDArray[np.float64]:
    """Return the shared Sentinel-2 tile: (4, 300, 300), blue, green, red, nir x 10000."""
    with shared("eo/S2_10m.json").open() as f:
        return np.asarray(json.load(f), dtype=np.float64)


def utm_of(col: float, row: float) -> tuple[float, float]:
    """Return the UTM (x, y) of a grid position (columns, rows from the upper left)."""
    x, y = DEMO_TRANSFORM @ (col, row)
    return float(x), float(y)


def partner_aoi() -> dict[str, Any]:
    """Return the partner's area: a GeoJSON Feature, a pentagon in WGS-84 lon/lat."""
    xs, ys = zip(*(utm_of(c, r) for c, r in PENTAGON_PX), strict=True)
    lon, lat = project(DEMO_CRS, "EPSG:4326", list(xs), list(ys))
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    return {
        "type": "Feature",
        "properties": {"name": "partner field"},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }


def area_pixels(aoi: dict[str, Any], shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Return which pixels of the whole tile have their centre in the WGS-84 area."""
    rows, cols = np.indices(shape)
    x, y = DEMO_TRANSFORM @ (cols.ravel() + 0.5, rows.ravel() + 0.5)
    lon, lat = project(DEMO_CRS, "EPSG:4326", x, y)
    (area,) = read_geojson(json.dumps(aoi))
    return area.contains(np.asarray(lat), np.asarray(lon)).reshape(shape)


@dataclass(frozen=True)
class Season:
    dates: list[SeasonDate]
    products: list[Path]
    quantification: int


def season_products(folder: Path, *, quantification: int = 10000) -> Season:
    """Write the seeded season's products (zips) in ``folder``."""
    dates = seeded_season(s2_tile(), DATES, SEED)
    products = [build_date(folder, d, quantification=quantification) for d in dates]
    return Season(dates, products, quantification)


def window_of(scene_transform: Any, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Return the (rows, cols) slices of the tile that a scene's window covers."""
    col0 = round((scene_transform.c - DEMO_TRANSFORM.c) / PIXEL_M)
    row0 = round((DEMO_TRANSFORM.f - scene_transform.f) / PIXEL_M)
    return slice(row0, row0 + shape[0]), slice(col0, col0 + shape[1])


def quantised(values: NDArray[np.float64], quantification: int) -> NDArray[np.float64]:
    """Return reflectances as a MUSCATE file holds them (value x q, rounded, / q)."""
    return np.round(values * quantification) / quantification
