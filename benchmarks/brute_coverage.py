"""Brute-force coverage as a whole process: the baseline ``benchmarks.coverage`` times.

Samples every satellite's view of every grid point every ``--step`` seconds
(:func:`jointsat.design.reference.sampled_accesses`: SGP4 at every sample, no
interpolation; each point tested only while near the sub-satellite point), turns runs
of covered samples into accesses and computes the same figures of merit. Writes the
per-point figures to an ``.npz`` file.

    python -m benchmarks.brute_coverage SPEC START DAYS GRID_DEG MIN_ELEVATION STEP OUT.npz
"""

from __future__ import annotations

import sys
from datetime import timedelta

import numpy as np

from jointsat.design.access import AccessRule, GroundPoints
from jointsat.design.areas import globe
from jointsat.design.constellations import combine, parse_constellation
from jointsat.design.grid import resolution_for, sample
from jointsat.design.intervals import Intervals
from jointsat.design.merit import point_figures
from jointsat.design.reference import sampled_accesses
from jointsat.orbits.propagation import build_orbits
from jointsat.timelib import parse_iso


def main() -> None:
    spec, start_text, days, grid_deg, elevation, step, out = sys.argv[1:8]
    start = parse_iso(start_text, naive_is_utc=True)
    end = start + timedelta(days=float(days))
    grid, _ = sample((globe(),), resolution_for(float(grid_deg)))
    points = GroundPoints.of(grid.lat_deg, grid.lon_deg)
    orbits = build_orbits(combine((parse_constellation(spec, epoch=start),)))
    found = sampled_accesses(orbits, points, start, end, AccessRule(float(elevation)), float(step))
    per_satellite = [Intervals(a.point, a.start_s, a.end_s) for a in found]
    figures = point_figures(per_satellite, len(grid), (end - start).total_seconds())
    np.savez(out, cell=grid.cell, **figures.columns())


if __name__ == "__main__":
    main()
