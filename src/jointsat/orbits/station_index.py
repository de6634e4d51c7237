"""A spatial index of ground stations on the unit sphere: which stations can lie near a point.

The sphere is cut into latitude-longitude cells of CELL_DEG. For a search radius,
each cell lists the stations within that radius of some point of the cell (of
its centre, widened by the cell's own radius), so that the stations near any
point are among its cell's list: a lookup costs one cell, and the candidates
grow with the stations actually near, not with all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from jointsat.orbits.vectors import FloatArray, IntArray, dot

CELL_DEG = 5.0
# Search radii are rounded up to a multiple of this, so that satellites of nearly
# the same reach share the cells' lists.
RADIUS_QUANTUM_RAD = math.radians(0.5)
SLACK_RAD = 1e-9  # rounding in the angles compared


@dataclass(frozen=True)
class CellLists:
    """For each cell, the stations that may lie within one radius of a point in it (CSR)."""

    radius_rad: float
    start: IntArray  # (cells,) first row of the cell's stations in ``station``
    count: IntArray  # (cells,)
    station: IntArray


@dataclass(frozen=True)
class StationCells:
    """Stations' unit vectors and a grid of cells to find the ones near a point."""

    unit: FloatArray  # (M, 3) geocentric directions of the stations
    _lists: dict[float, CellLists] = field(default_factory=dict, compare=False, repr=False)

    @property
    def rows(self) -> int:
        return round(180.0 / CELL_DEG)

    @property
    def columns(self) -> int:
        return round(360.0 / CELL_DEG)

    def cell_of(self, points: FloatArray) -> IntArray:
        """Return the cell of each unit vector ``(..., 3)`` (any cell for NaN)."""
        step = math.radians(CELL_DEG)
        lat = np.arcsin(np.clip(np.nan_to_num(points[..., 2]), -1.0, 1.0))
        lon = np.arctan2(np.nan_to_num(points[..., 1]), np.nan_to_num(points[..., 0]))
        row = np.clip(((lat + 0.5 * math.pi) / step).astype(np.int64), 0, self.rows - 1)
        column = np.clip(((lon + math.pi) / step).astype(np.int64), 0, self.columns - 1)
        return np.asarray(row * self.columns + column)

    def lists(self, radius_rad: float) -> CellLists:
        """Return each cell's stations within ``radius_rad`` of some point of the cell.

        The radius is first rounded up to RADIUS_QUANTUM_RAD (a larger radius only
        lists more); lists are kept, one set per rounded radius.
        """
        radius = math.ceil(radius_rad / RADIUS_QUANTUM_RAD) * RADIUS_QUANTUM_RAD
        known = self._lists.get(radius)
        if known is not None:
            return known
        step = math.radians(CELL_DEG)
        lat0 = -0.5 * math.pi + step * np.arange(self.rows)
        lon0 = -math.pi + step * np.arange(self.columns)
        lat0, lon0 = (a.ravel() for a in np.meshgrid(lat0, lon0, indexing="ij"))
        centre = _unit(lat0 + 0.5 * step, lon0 + 0.5 * step)
        # The farthest point of a latitude-longitude cell from its centre is a corner.
        corners = [_unit(lat0 + a * step, lon0 + b * step) for a in (0, 1) for b in (0, 1)]
        cell_radius = np.max([np.arccos(np.clip(dot(centre, c), -1.0, 1.0)) for c in corners], 0)
        reach = np.minimum(radius + cell_radius + SLACK_RAD, math.pi)
        near = centre @ self.unit.T >= np.cos(reach)[:, None]  # (cells, M)
        cell, station = np.nonzero(near)
        count = np.bincount(cell, minlength=centre.shape[0]).astype(np.int64)
        lists = CellLists(radius, np.cumsum(count) - count, count, station.astype(np.int64))
        self._lists[radius] = lists
        return lists


def _unit(lat: FloatArray, lon: FloatArray) -> FloatArray:
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
