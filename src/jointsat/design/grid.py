"""Sample areas of interest at points of equal area: the centres of H3 cells.

Coverage is measured at grid points, each weighted by the area it stands for. A plain
longitude-latitude grid crowds its points towards the poles; H3 (Uber's hierarchical
hexagonal grid, https://h3geo.org) tiles the sphere with cells of nearly equal area
(hexagons and twelve pentagons per resolution, within a factor of 2.4 of each other),
so its cell centres sample the Earth almost evenly, and each cell's own area weighs
its point.

Conventions:

* A cell's centre (``h3.cell_to_latlng``) is taken as a geodetic WGS-84 latitude and a
  longitude. H3 itself works on a sphere; reading its latitudes as geodetic moves the
  grid's points by at most a fifth of a degree of latitude (the most that geodetic and
  geocentric latitudes differ), which changes where they sit, not how evenly.
* A cell's area (``h3.cell_area``, km^2) is on H3's authalic sphere (radius
  6371.0072 km, the sphere of the WGS-84 ellipsoid's surface area): the cells of a
  resolution sum to that sphere's 510.07 million km^2, the Earth's surface area.
* A cell belongs to an area when its centre is inside the area (:meth:`Area.contains`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import h3
import numpy as np
from h3.api import basic_int as h3_int
from h3.api import numpy_int as h3_np
from numpy.typing import NDArray

from jointsat.design.areas import Area
from jointsat.errors import DesignError

MAX_RESOLUTION = 15
"""H3's finest resolution (cells of about 0.9 m^2)."""

KM_PER_DEG = 111.195
"""Kilometres in a degree of a great circle of the mean Earth (6371.0 km)."""

H3_RADIUS_KM = 6371.007180918475
"""The radius of H3's (authalic) sphere, km."""

DESCENDANT_REACH = 1.5
"""How far, in average edge lengths of its resolution, a cell's descendants' centres lie.

Measured over H3's cells the farthest is 1.12 edges (the children of a cell overhang
it, theirs overhang them, and so on); 1.5 leaves a margin.
"""


def resolution_for(grid_deg: float) -> int:
    """Return the H3 resolution whose cells are closest in size to a grid of ``grid_deg``.

    Closest means the mean cell area (``h3.average_hexagon_area``) nearest, by ratio,
    to a square of ``grid_deg`` degrees of a great circle a side ((``grid_deg`` x
    111.195 km)^2): 1 degree gives resolution 3 (12,393 km^2 cells, 41,162 of them
    over the Earth), 0.1 degree resolution 5. Raise :class:`DesignError` unless
    ``grid_deg`` is a positive number.
    """
    if not (isinstance(grid_deg, int | float) and math.isfinite(grid_deg) and grid_deg > 0):
        raise DesignError(f"the grid spacing must be a positive number of degrees, not {grid_deg}")
    target = math.log((grid_deg * KM_PER_DEG) ** 2)
    return min(
        range(MAX_RESOLUTION + 1),
        key=lambda res: abs(math.log(h3.average_hexagon_area(res, "km^2")) - target),
    )


@dataclass(frozen=True, eq=False)
class Grid:
    """Points sampling areas of interest: H3 cells, sorted by index, with their centres.

    ``cell`` holds the H3 indices (as unsigned integers), ``lat_deg`` and ``lon_deg``
    the cells' centres (geodetic, degrees; longitudes in [-180, 180]), ``area_km2``
    each cell's area, the weight of its point; all at one ``resolution``.
    """

    cell: NDArray[np.uint64]
    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    area_km2: NDArray[np.float64]
    resolution: int

    def __len__(self) -> int:
        return len(self.cell)


def cell_names(cells: NDArray[np.uint64]) -> NDArray[np.object_]:
    """Return H3 indices as their usual hexadecimal strings (``832830fffffffff``)."""
    return np.array([h3_int.int_to_str(int(c)) for c in cells.tolist()], dtype=object)


def sample(areas: Sequence[Area], resolution: int) -> tuple[Grid, tuple[NDArray[np.intp], ...]]:
    """Return the grid of the cells inside any area, and each area's cells in it.

    The grid holds, once each and sorted by index, the cells at ``resolution`` whose
    centre is inside at least one area; the second value gives, for each area in
    order, the (sorted) indices into the grid of the cells inside it. The globe gets
    every cell of the resolution (``h3.get_num_cells``), a band the cells whose centre
    latitude lies in it.

    Polygons are sampled without visiting the whole Earth: from H3's 122 cells of
    resolution 0 down, only the cells whose centre lies close enough to an area's
    bounding box to have a descendant inside it (within :data:`DESCENDANT_REACH`
    average edge lengths) are divided, and the centres of the cells reached at
    ``resolution`` are tested with :meth:`Area.contains`.

    Raise :class:`DesignError` for a resolution outside 0-15, no areas, or an area
    that holds no cell centre (too small for the grid).
    """
    if not areas:
        raise DesignError("no areas to sample")
    if isinstance(resolution, bool) or not (
        isinstance(resolution, int | np.integer) and 0 <= resolution <= MAX_RESOLUTION
    ):
        raise DesignError(f"the H3 resolution must be an integer 0-15, not {resolution!r}")
    res = int(resolution)
    found = [_cells_in(area, res) for area in areas]
    for area, (cells, _, _) in zip(areas, found, strict=True):
        if len(cells) == 0:
            size_km = math.sqrt(h3.average_hexagon_area(res, "km^2"))
            raise DesignError(
                f"area {area.name!r} holds no grid point: it is too small for the grid "
                f"(H3 resolution {res}, cells about {size_km:,.0f} km across): "
                "use a finer --grid-deg"
            )
    every = np.concatenate([cells for cells, _, _ in found])
    cell, first = np.unique(every, return_index=True)
    lat = np.concatenate([lat for _, lat, _ in found])[first]
    lon = np.concatenate([lon for _, _, lon in found])[first]
    area_km2 = np.fromiter((h3_int.cell_area(c, "km^2") for c in cell.tolist()), float, len(cell))
    grid = Grid(cell, lat, lon, area_km2, res)
    members = tuple(np.searchsorted(cell, cells).astype(np.intp) for cells, _, _ in found)
    return grid, members


def _cells_in(
    area: Area, res: int
) -> tuple[NDArray[np.uint64], NDArray[np.float64], NDArray[np.float64]]:
    """Return the sorted cells at ``res`` whose centre is in the area, with the centres."""
    cells = np.sort(np.asarray(h3_np.get_res0_cells(), dtype=np.uint64))
    if area.kind == "globe":
        cells = np.sort(np.asarray(h3_np.uncompact_cells(cells, res), np.uint64))
        lat, lon = _centres(cells)
        return cells, lat, lon
    for level in range(res + 1):
        lat, lon = _centres(cells)
        if level == res:
            inside = area.contains(lat, lon)
            return cells[inside], lat[inside], lon[inside]
        reach_deg = math.degrees(
            DESCENDANT_REACH * h3.average_hexagon_edge_length(level, "km") / H3_RADIUS_KM
        )
        near = np.zeros(len(cells), dtype=bool)
        for box in area.boxes:
            near |= _near_box(lat, lon, box, reach_deg)
        cells = np.sort(
            np.concatenate(
                [h3_np.cell_to_children(c, level + 1) for c in cells[near].tolist()]
                or [np.empty(0, np.uint64)]
            ).astype(np.uint64)
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _centres(cells: NDArray[np.uint64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the cells' centres: latitudes and longitudes, degrees."""
    flat = np.fromiter(
        (x for c in cells.tolist() for x in h3_int.cell_to_latlng(c)), float, 2 * len(cells)
    )
    return flat[0::2].copy(), flat[1::2].copy()


def _near_box(
    lat_deg: NDArray[np.float64],
    lon_deg: NDArray[np.float64],
    box: tuple[float, float, float, float],
    reach_deg: float,
) -> NDArray[np.bool_]:
    """Return whether each point may lie within ``reach_deg`` (of arc) of a lon/lat box.

    Conservative: it may keep a point farther away, never drops a nearer one. Latitudes
    within ``reach_deg`` of the box's; longitudes within the largest difference a point
    that near can have: asin(sin(reach) / cos(box's largest |latitude|)), or any
    longitude once the reach touches a pole. The box's longitudes may be unwrapped
    (past 180); differences are taken round the circle.
    """
    lon_min, lon_max, lat_min, lat_max = box
    near = (lat_deg >= lat_min - reach_deg) & (lat_deg <= lat_max + reach_deg)
    polar = max(abs(lat_min), abs(lat_max))
    if polar + reach_deg >= 90.0:
        return near
    spread = math.degrees(
        math.asin(min(1.0, math.sin(math.radians(reach_deg)) / math.cos(math.radians(polar))))
    )
    half_width = (lon_max - lon_min) / 2.0
    if half_width + spread >= 180.0:
        return near
    offset = (lon_deg - (lon_min + lon_max) / 2.0 + 180.0) % 360.0 - 180.0
    return near & (np.abs(offset) <= half_width + spread)
