"""Run a coverage study: constellations over areas, figures of merit per point and per area.

One path for every caller (the CLI, the service, the demo, a sweep): a
:class:`CoverageStudy` says what to study, :func:`run_coverage` returns a
:class:`CoverageResult` with the per-point table, the summaries per area and per
partner, and the study's provenance. Pure: files, the clock and executors are the
caller's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np

from jointsat import __version__
from jointsat.design.access import (
    NODE_STEP_S,
    AccessRule,
    GroundPoints,
    find_accesses,
)
from jointsat.design.areas import Area, area_json
from jointsat.design.constellations import Constellation, combine
from jointsat.design.daylight import daylight
from jointsat.design.grid import Grid, cell_names, resolution_for, sample
from jointsat.design.intervals import Intervals, intersect, merge, sort
from jointsat.design.merit import FIGURES, PointFigures, point_figures, summaries
from jointsat.errors import DesignError
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import build_orbits
from jointsat.orbits.stations import Station
from jointsat.orbits.vectors import IntArray, concat_fields
from jointsat.timelib import TimeOrigin, format_iso, to_utc

MAX_STUDY_DAYS = 366.0
Progress = Callable[[int, int], None]
T = TypeVar("T")


@dataclass(frozen=True)
class CoverageStudy:
    """Say what to study: which satellites, over which areas, when, and what counts as seen.

    ``relay_stations`` makes the study bent-pipe: a satellite covers a point only while
    one of these stations sees it above ``relay_min_elevation_deg`` (or the station's
    own minimum) at the same time.
    """

    constellations: tuple[Constellation, ...]
    areas: tuple[Area, ...]
    start: datetime
    end: datetime
    rule: AccessRule = field(default_factory=AccessRule)
    grid_deg: float = 1.0
    relay_stations: tuple[Station, ...] = ()
    relay_min_elevation_deg: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, "the study's start"))
        object.__setattr__(self, "end", to_utc(self.end, "the study's end"))
        if self.end <= self.start:
            raise DesignError("the study's end must be after its start")
        if self.end - self.start > timedelta(days=MAX_STUDY_DAYS):
            raise DesignError(f"a study covers at most {MAX_STUDY_DAYS:g} days")
        if not self.constellations or not any(c.elements for c in self.constellations):
            raise DesignError("a study needs at least one satellite")
        if not self.areas:
            raise DesignError("a study needs at least one area")
        names = [a.name for a in self.areas]
        if len(set(names)) != len(names):
            raise DesignError("the areas' names must differ: " + ", ".join(sorted(names)))
        if not (math.isfinite(self.grid_deg) and 0.05 <= self.grid_deg <= 20.0):
            raise DesignError(
                f"the grid spacing must be within [0.05, 20] degrees, not {self.grid_deg}"
            )

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    def inputs(self) -> dict[str, Any]:
        """Return the study's inputs as JSON-ready values (what a stored study keeps)."""
        rule = self.rule
        return {
            "start": format_iso(self.start),
            "end": format_iso(self.end),
            "constellations": [c.as_dict() for c in self.constellations],
            "areas": [area_json(a) for a in self.areas],
            "grid_deg": self.grid_deg,
            "min_elevation_deg": rule.min_elevation_deg,
            "half_angle_deg": rule.half_angle_deg,
            "daylight_deg": rule.daylight_deg,
            "relay_stations": [s.name for s in self.relay_stations],
            "relay_min_elevation_deg": self.relay_min_elevation_deg
            if self.relay_stations
            else None,
        }


@dataclass(frozen=True)
class SatelliteReport:
    """What one satellite brought: its accesses (before the union) and SGP4's failures."""

    name: str
    norad_id: int
    accesses: int
    failed_nodes: int


@dataclass(frozen=True, eq=False)
class CoverageResult:
    """A study's outcome: the grid, each point's figures, and each area's rows in the grid."""

    study: CoverageStudy
    grid: Grid
    area_rows: tuple[IntArray, ...]
    figures: PointFigures
    satellites: tuple[SatelliteReport, ...]

    def partner_rows(self) -> dict[str, IntArray]:
        """Return each partner's rows: the union of its areas' points."""
        by_partner: dict[str, list[IntArray]] = {}
        for area, rows in zip(self.study.areas, self.area_rows, strict=True):
            if area.partner is not None:
                by_partner.setdefault(area.partner, []).append(rows)
        return {p: np.unique(np.concatenate(parts)) for p, parts in sorted(by_partner.items())}

    def summary(self) -> dict[str, Any]:
        """Return the study's summary: inputs, grid, figures per area and partner, provenance."""
        weight = self.grid.area_km2
        areas = summaries(
            self.figures,
            weight,
            {a.name: r for a, r in zip(self.study.areas, self.area_rows, strict=True)},
        )
        partner_rows = self.partner_rows()
        partners = summaries(self.figures, weight, partner_rows)
        return {
            "inputs": self.study.inputs(),
            "grid": {
                "kind": "H3",
                "resolution": self.grid.resolution,
                "points": len(self.grid),
                "area_km2": float(weight.sum()),
            },
            "window": {
                "start": format_iso(self.study.start),
                "end": format_iso(self.study.end),
                "duration_s": self.study.duration_s,
            },
            "areas": [
                {
                    "name": a.name,
                    "partner": a.partner,
                    "points": int(r.size),
                    "area_km2": float(weight[r].sum()),
                    "figures": areas[a.name],
                }
                for a, r in zip(self.study.areas, self.area_rows, strict=True)
            ],
            "partners": [
                {
                    "partner": p,
                    "points": int(r.size),
                    "area_km2": float(weight[r].sum()),
                    "figures": partners[p],
                }
                for p, r in partner_rows.items()
            ],
            "satellites": [s.__dict__ for s in self.satellites],
            "provenance": self.provenance(),
        }

    def provenance(self) -> dict[str, Any]:
        """Return how the figures were made: jointsat's version, the method and its settings."""
        return {
            "jointsat": __version__,
            "method": "access intervals (footprint cull, Hermite interpolation, Newton)",
            "node_step_s": NODE_STEP_S,
            "propagator": "SGP4 (WGS-72), python-sgp4",
            "grid": f"H3 resolution {self.grid.resolution}",
            "elements": [
                {"name": e.object_name, "norad_id": e.norad_cat_id, "epoch": format_iso(e.epoch)}
                for e in combine(self.study.constellations)
            ],
        }

    def table(self) -> dict[str, np.ndarray]:
        """Return the per-point table: one row per (area, point), the figures as columns."""
        rows = np.concatenate(self.area_rows)
        names = np.concatenate(
            [
                np.full(r.size, a.name, dtype=object)
                for a, r in zip(self.study.areas, self.area_rows, strict=True)
            ]
        )
        partners = np.concatenate(
            [
                np.full(r.size, a.partner or "", dtype=object)
                for a, r in zip(self.study.areas, self.area_rows, strict=True)
            ]
        )
        columns: dict[str, np.ndarray] = {
            "area": names,
            "partner": partners,
            "cell": cell_names(self.grid.cell[rows]),
            "lat_deg": self.grid.lat_deg[rows],
            "lon_deg": self.grid.lon_deg[rows],
            "area_km2": self.grid.area_km2[rows],
        }
        for name, column in self.figures.columns().items():
            columns[name] = column[rows]
        assert tuple(columns)[6:] == FIGURES
        return columns


CHUNK_POINTS = 8_192
"""Points studied together: each chunk is a task (memory stays bounded, chunks run apart)."""


@dataclass(frozen=True, eq=False)
class CoverageChunk:
    """One chunk of a study's points, with everything needed to study it elsewhere (picklable)."""

    records: tuple[Any, ...]
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    start: datetime
    end: datetime
    rule: AccessRule
    relay: dict[int, Intervals] | None

    def run(self) -> tuple[PointFigures, list[tuple[int, int]]]:
        """Return the chunk's figures and, per satellite, (accesses, failed nodes)."""
        points = GroundPoints.of(self.lat_deg, self.lon_deg)
        duration = (self.end - self.start).total_seconds()
        light = None
        if self.rule.daylight_deg is not None:
            origin = TimeOrigin.of(self.start)
            light = merge(sort(daylight(points.up, origin, duration, self.rule.daylight_deg)))
        per_satellite: list[Intervals] = []
        counts = []
        orbits = build_orbits(self.records)
        for found, orbit in zip(
            find_accesses(orbits, points, self.start, self.end, self.rule), orbits, strict=True
        ):
            intervals = Intervals(found.point, found.start_s, found.end_s)
            if self.relay is not None:
                windows = self.relay.get(orbit.norad_id, Intervals.empty())
                intervals = intersect(intervals, windows, common=True)
            if light is not None:
                intervals = intersect(intervals, light)
            per_satellite.append(intervals)
            counts.append((len(intervals), found.failed_nodes))
        return point_figures(per_satellite, len(points), duration), counts


def run_coverage(
    study: CoverageStudy,
    *,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> CoverageResult:
    """Run a study: sample the areas, find every access, and compute the figures.

    The points are studied in chunks of :data:`CHUNK_POINTS`; with an ``executor`` (a
    process pool or a Dask client's) each chunk is a task on it. ``progress(done,
    total)`` is called as chunks finish.
    """
    resolution = resolution_for(study.grid_deg)
    grid, area_rows = sample(study.areas, resolution)
    records = combine(study.constellations)
    relay = _relay_windows(study, records) if study.relay_stations else None
    chunks = [
        CoverageChunk(
            records,
            grid.lat_deg[first : first + CHUNK_POINTS],
            grid.lon_deg[first : first + CHUNK_POINTS],
            study.start,
            study.end,
            study.rule,
            relay,
        )
        for first in range(0, len(grid), CHUNK_POINTS)
    ]
    outcomes = run_tasks([chunk.run for chunk in chunks], executor, progress)
    figures = concat_fields([o[0] for o in outcomes], _no_figures())
    orbits = build_orbits(records)
    reports = tuple(
        SatelliteReport(
            orbit.name,
            orbit.norad_id,
            sum(o[1][k][0] for o in outcomes),
            max((o[1][k][1] for o in outcomes), default=0),
        )
        for k, orbit in enumerate(orbits)
    )
    return CoverageResult(study, grid, area_rows, figures, reports)


def run_tasks(
    tasks: Sequence[Callable[[], T]], executor: Executor | None, progress: Progress | None
) -> list[T]:
    """Return each task's result, run here in turn or as tasks on ``executor``.

    ``progress(done, total)`` is called as results come in (in the tasks' order).
    """
    results: list[T] = []
    if executor is None:
        for task in tasks:
            results.append(task())
            if progress is not None:
                progress(len(results), len(tasks))
        return results
    futures = [executor.submit(task) for task in tasks]
    for future in futures:
        results.append(future.result())
        if progress is not None:
            progress(len(results), len(tasks))
    return results


def _no_figures() -> PointFigures:
    return point_figures([], 0, 1.0)


def _relay_windows(study: CoverageStudy, records: Sequence[Any]) -> dict[int, Intervals]:
    """Return, per satellite (catalog number), when at least one relay station sees it."""
    passes = find_passes(
        records,
        study.relay_stations,
        study.start,
        study.end,
        min_elevation_deg=study.relay_min_elevation_deg,
    )
    out: dict[int, Intervals] = {}
    for k, satellite in enumerate(passes.satellites):
        rows = passes.satellite == k
        found = Intervals(
            np.zeros(int(rows.sum()), np.int64), passes.aos_s[rows], passes.los_s[rows]
        )
        out[satellite.norad_id] = merge(sort(found))
    return out
