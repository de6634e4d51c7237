"""Test the equal-area sampling of areas of interest with H3 cells.

The authorities: H3's published cell counts (h3geo.org, "Tables of cell statistics
across resolutions": 41,162 cells at resolution 3); the area of H3's authalic sphere,
4 pi 6371.0072^2 km^2; the exact area of a spherical zone, 2 pi R^2 (sin lat2 -
sin lat1); the mean of sin^2(latitude) over a sphere, 1/3; and, for the descent through
H3's hierarchy that skips most of the Earth, a brute force that tests every cell of
the resolution.
"""

from __future__ import annotations

import json
import math

import h3
import numpy as np
import pytest

from jointsat.design.areas import Area, band, globe, read_geojson
from jointsat.design.grid import Grid, resolution_for, sample
from jointsat.errors import DesignError

H3_SPHERE_KM2 = 4.0 * math.pi * 6371.0072**2
CELLS_AT_RES_3 = 41_162  # h3geo.org's table of cell statistics
# H3 cells' areas are computed on its sphere to double precision; the brief's bound.
area_sum_fraction = 1e-3
# A band's edge cuts cells: those whose centre is inside count whole. Measured at
# resolution 3 (cells 111 km across), under 0.3 % of the band's area.
band_share_fraction = 1e-2
# Weighted by their exact areas, H3's centres give the sphere's mean to sampling error.
sin_squared_fraction = 5e-3


def area_of(text: str, name: str = "area") -> Area:
    (area,) = read_geojson(text, name=name)
    return area


def polygon(*rings: list[list[float]]) -> str:
    return json.dumps({"type": "Polygon", "coordinates": list(rings)})


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> list[list[float]]:
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


@pytest.fixture(scope="module")
def globe3() -> Grid:
    return sample([globe()], 3)[0]


@pytest.fixture(scope="module")
def globe4() -> Grid:
    return sample([globe()], 4)[0]


def brute_force(area: Area, everything: Grid) -> np.ndarray:
    """Return the cells of the whole-Earth grid whose centre is in the area."""
    return everything.cell[area.contains(everything.lat_deg, everything.lon_deg)]


@pytest.mark.parametrize(
    ("grid_deg", "resolution"),
    # H3's mean cell areas: res 0 4.36e6 km^2, 3 12,393, 5 252.9, 6 36.13, 10 0.015.
    [(1.0, 3), (0.1, 5), (0.05, 6), (0.001, 10), (100.0, 0), (1e-6, 15)],
)
def test_resolution_for_grid_spacing(grid_deg: float, resolution: int) -> None:
    assert resolution_for(grid_deg) == resolution


@pytest.mark.parametrize("grid_deg", [0.0, -1.0, math.nan, math.inf])
def test_resolution_for_refuses_a_bad_spacing(grid_deg: float) -> None:
    with pytest.raises(DesignError, match="positive number of degrees"):
        resolution_for(grid_deg)


def test_global_grid_has_every_cell_once(globe3: Grid) -> None:
    assert len(globe3) == CELLS_AT_RES_3
    assert globe3.resolution == 3
    assert np.all(np.diff(globe3.cell.astype(np.int64)) > 0)  # sorted, each once
    assert all(h3.get_resolution(h3.int_to_str(int(c))) == 3 for c in globe3.cell[::97])
    assert np.all(np.abs(globe3.lat_deg) <= 90.0)
    assert np.all(np.abs(globe3.lon_deg) <= 180.0)
    grid, (members,) = sample([globe()], 3)
    assert members.tolist() == list(range(len(grid)))


def test_global_grid_area_is_the_spheres(globe3: Grid) -> None:
    assert globe3.area_km2.sum() == pytest.approx(H3_SPHERE_KM2, rel=area_sum_fraction)


@pytest.mark.parametrize(("lat1", "lat2"), [(30.0, 60.0), (-10.0, 10.0), (-90.0, -45.0)])
def test_band_share_is_the_spherical_zones(globe3: Grid, lat1: float, lat2: float) -> None:
    grid, _ = sample([band(lat1, lat2)], 3)
    zone = (math.sin(math.radians(lat2)) - math.sin(math.radians(lat1))) / 2.0
    share = grid.area_km2.sum() / globe3.area_km2.sum()
    assert share == pytest.approx(zone, rel=band_share_fraction)
    assert np.array_equal(grid.cell, brute_force(band(lat1, lat2), globe3))


def test_grid_is_equal_area(globe3: Grid) -> None:
    sin2 = np.sin(np.radians(globe3.lat_deg)) ** 2
    weighted = np.average(sin2, weights=globe3.area_km2)
    assert weighted == pytest.approx(1.0 / 3.0, rel=sin_squared_fraction)
    # H3's centres alone are nearly even too; a plain 1-degree grid's are not (1/2).
    assert sin2.mean() == pytest.approx(1.0 / 3.0, rel=2 * sin_squared_fraction)
    lat = np.arange(-89.5, 90.0, 1.0)
    assert np.mean(np.sin(np.radians(lat)) ** 2) == pytest.approx(0.5, rel=1e-3)


def test_antimeridian_polygon_cut_or_not_gives_the_same_cells(globe4: Grid) -> None:
    uncut = area_of(polygon(box(170, -10, -170, 10)))
    cut = area_of(
        json.dumps(
            {
                "type": "MultiPolygon",
                "coordinates": [[box(170, -10, 180, 10)], [box(-180, -10, -170, 10)]],
            }
        )
    )
    want = globe4.cell[(np.abs(globe4.lat_deg) < 10.0) & (np.abs(globe4.lon_deg) > 170.0)]
    assert len(want) > 100
    assert np.array_equal(sample([uncut], 4)[0].cell, want)
    assert np.array_equal(sample([cut], 4)[0].cell, want)


def test_polar_caps_give_the_band_cells(globe3: Grid) -> None:
    rfc_cap = area_of(polygon([[-180, 70], [0, 70], [180, 70], [180, 90], [-180, 90], [-180, 70]]))
    round_cap = area_of(polygon([[lon, 70] for lon in (0, 90, 180, -90, 0)]))
    south_cap = area_of(polygon([[lon, -70] for lon in (0, -90, 180, 90, 0)]))
    want = globe3.cell[globe3.lat_deg >= 70.0]
    assert np.array_equal(sample([band(70, 90)], 3)[0].cell, want)
    assert np.array_equal(sample([rfc_cap], 3)[0].cell, want)
    assert np.array_equal(sample([round_cap], 3)[0].cell, want)
    assert np.array_equal(sample([south_cap], 3)[0].cell, globe3.cell[globe3.lat_deg <= -70.0])


def test_hole_cells_are_left_out(globe4: Grid) -> None:
    outer, hole = box(0, 0, 20, 20), box(5, 5, 15, 15)
    holed = area_of(polygon(outer, hole))
    inside_outer = sample([area_of(polygon(outer))], 4)[0].cell
    inside_hole = sample([area_of(polygon(hole))], 4)[0].cell
    got = sample([holed], 4)[0].cell
    assert len(inside_hole) > 100
    assert np.array_equal(got, np.setdiff1d(inside_outer, inside_hole))
    assert np.array_equal(got, brute_force(holed, globe4))


SHAPES = {
    "small square": polygon(box(10.0, 45.0, 11.0, 46.0)),
    "thin sliver": polygon(box(-30.0, -5.0, 0.0, -4.7)),
    "near the pole": polygon(box(0.0, 80.0, 100.0, 88.0)),
    "across at 60N": polygon(box(150.0, 55.0, -160.0, 65.0)),
    "star": polygon(
        [
            [20 + 12 * math.cos(a) * (1 + 0.5 * math.cos(5 * a)), -30 + 8 * math.sin(a)]
            for a in [*np.linspace(0.0, 2.0 * math.pi, 61)[:-1].tolist(), 0.0]
        ]
    ),
    "two islands": json.dumps(
        {
            "type": "MultiPolygon",
            "coordinates": [[box(-5.0, 50.0, -4.0, 51.0)], [box(120.0, -40.0, 122.0, -38.0)]],
        }
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_descent_finds_every_cell_a_brute_force_finds(globe4: Grid, shape: str) -> None:
    area = area_of(SHAPES[shape])
    grid, (members,) = sample([area], 4)
    want = brute_force(area, globe4)
    assert np.array_equal(grid.cell, want)
    assert members.tolist() == list(range(len(want)))
    index = np.searchsorted(globe4.cell, grid.cell)
    assert np.array_equal(grid.lat_deg, globe4.lat_deg[index])
    assert np.array_equal(grid.area_km2, globe4.area_km2[index])


def test_grid_is_the_union_and_each_area_has_its_cells() -> None:
    areas = [
        area_of(polygon(box(0, 0, 20, 20)), "a"),
        area_of(polygon(box(10, 10, 30, 30)), "b"),
        band(25, 28),
    ]
    grid, members = sample(areas, 3)
    alone = [sample([area], 3)[0].cell for area in areas]
    assert np.array_equal(grid.cell, np.unique(np.concatenate(alone)))
    for cells, index in zip(alone, members, strict=True):
        assert np.array_equal(grid.cell[index], cells)
    assert len(grid) < sum(len(cells) for cells in alone)  # the overlaps are shared


def test_area_too_small_for_the_grid() -> None:
    tiny = area_of(polygon(box(10.0, 45.0, 10.1, 45.1)), "tiny")
    with pytest.raises(DesignError, match=r"'tiny'.*too small.*--grid-deg"):
        sample([tiny], 3)
    assert len(sample([tiny], 7)[0]) > 0


@pytest.mark.parametrize("resolution", [-1, 16, 3.5, True])
def test_bad_resolution(resolution: int) -> None:
    with pytest.raises(DesignError, match="resolution must be an integer 0-15"):
        sample([globe()], resolution)


def test_no_areas() -> None:
    with pytest.raises(DesignError, match="no areas"):
        sample([], 3)
