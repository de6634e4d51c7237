"""Brute-force coverage: sample every satellite's view of every point at a fixed step.

This is the baseline the access engine is measured against (tests and
``benchmarks/coverage.py``), written apart from it: SGP4 at every sample (no
interpolation), the elevation from :func:`jointsat.orbits.frames.topocentric` and the
off-nadir angle from the vectors' angle. A point is covered on a run of covered samples
from ``t_a`` to ``t_b``: the access is ``[t_a - step/2, t_b + step/2]`` cut to the
window, so a sampled boundary is off by at most half a step.

Only points within the footprint's central angle (plus a margin) of the sub-satellite
point are tested at each sample, so that a global grid stays feasible; the cull is
exact (a point outside cannot be covered at that moment).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from jointsat.design.access import (
    CAP_MARGIN_DEG,
    AccessRule,
    GroundPoints,
    SatelliteAccesses,
    footprint_deg,
)
from jointsat.orbits.frames import WGS84_B_KM, gmst82_rad, teme_to_ecef, topocentric
from jointsat.orbits.propagation import Orbit
from jointsat.orbits.vectors import FloatArray
from jointsat.timelib import TimeOrigin

_CHUNK_CELLS = 8_000_000  # (point, sample) pairs tested at once: 64 MB of cosines


def sampled_accesses(
    orbits: Sequence[Orbit],
    points: GroundPoints,
    start: datetime,
    end: datetime,
    rule: AccessRule,
    step_s: float,
) -> list[SatelliteAccesses]:
    """Return each satellite's accesses found by sampling every ``step_s`` seconds."""
    origin = TimeOrigin.of(start)
    duration = origin.seconds(end)
    samples = math.floor(duration / step_s) + 1
    t_all = np.arange(samples) * step_s
    unit = points.position_km / np.linalg.norm(points.position_km, axis=1)[:, None]
    enu = np.stack(
        [_east(points), _north(points), points.up], axis=-2
    )  # the rows topocentric() wants
    chunk = max(1, _CHUNK_CELLS // max(len(points), 1))
    out = []
    for orbit in orbits:
        point_parts, sample_parts = [], []
        for first in range(0, samples, chunk):
            t = t_all[first : first + chunk]
            jd, fr = origin.julian(t)
            err, r_teme, v_teme = orbit.propagate(jd, fr)
            r, v = teme_to_ecef(r_teme, v_teme, gmst82_rad(jd, fr))
            r[err != 0] = np.nan
            v[err != 0] = np.nan
            radius = np.linalg.norm(r, axis=1)
            reach = np.array([_reach_deg(rule, float(x)) for x in radius])
            sub = r / radius[:, None]
            # Every point near enough to each sample's sub-satellite point.
            cos_angle = unit @ np.nan_to_num(sub).T  # (N, samples)
            near_point, near_sample = np.nonzero(cos_angle >= np.cos(np.radians(reach))[None, :])
            covered = _covered(rule, r[near_sample], v[near_sample], points, enu, near_point)
            point_parts.append(near_point[covered])
            sample_parts.append(first + near_sample[covered])
        out.append(
            _runs(np.concatenate(point_parts), np.concatenate(sample_parts), step_s, duration)
        )
    return out


def _reach_deg(rule: AccessRule, radius_km: float) -> float:
    if not math.isfinite(radius_km) or radius_km <= WGS84_B_KM:
        return -1.0  # cos > 1: nothing is near
    elevation = 0.0 if rule.min_elevation_deg is None else rule.min_elevation_deg
    reach = float(footprint_deg(None, elevation, radius_km, WGS84_B_KM))
    if rule.half_angle_deg is not None:
        reach = min(reach, float(footprint_deg(rule.half_angle_deg, 0.0, radius_km, WGS84_B_KM)))
    return reach + CAP_MARGIN_DEG


def _east(points: GroundPoints) -> FloatArray:
    lon = np.radians(points.lon_deg)
    return np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=-1)


def _north(points: GroundPoints) -> FloatArray:
    return np.cross(points.up, _east(points))


def _covered(
    rule: AccessRule,
    r: FloatArray,
    v: FloatArray,
    points: GroundPoints,
    enu: FloatArray,
    point: np.ndarray,
) -> np.ndarray:
    """Say, per (state, point) row, whether the point is covered (both limits where given)."""
    _, el, _, _ = topocentric(r, v, points.position_km[point], enu[point])
    elevation = 0.0 if rule.min_elevation_deg is None else rule.min_elevation_deg
    ok = el >= elevation
    if rule.half_angle_deg is not None:
        to_point = points.position_km[point] - r
        cos_off = np.einsum("ij,ij->i", -r, to_point) / (
            np.linalg.norm(r, axis=1) * np.linalg.norm(to_point, axis=1)
        )
        off_nadir = np.degrees(np.arccos(np.clip(cos_off, -1.0, 1.0)))
        ok &= off_nadir <= rule.half_angle_deg
    return np.asarray(ok)


def _runs(
    point: np.ndarray, sample: np.ndarray, step_s: float, duration_s: float
) -> SatelliteAccesses:
    """Turn covered (point, sample) pairs into intervals: runs of consecutive samples."""
    order = np.lexsort((sample, point))
    point, sample = point[order], sample[order]
    opens = np.ones(point.size, dtype=bool)
    opens[1:] = (point[1:] != point[:-1]) | (sample[1:] != sample[:-1] + 1)
    first = np.flatnonzero(opens)
    last = np.append(first[1:], point.size) - 1
    start = np.maximum(sample[first] * step_s - 0.5 * step_s, 0.0)
    end = np.minimum(sample[last] * step_s + 0.5 * step_s, duration_s)
    return SatelliteAccesses(
        point[first].astype(np.int64), start, end, 0, int(point.size), first.size
    )
