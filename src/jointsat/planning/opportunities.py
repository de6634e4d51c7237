"""Find when each satellite can observe each request.

An *opportunity* is a maximal stretch of time over which one satellite may observe
one request: for an Earth target, the target is within the off-nadir limit, above
the horizon and (when asked) lit by the Sun; for a sky target, the direction is far
enough from the Sun and above the Earth's limb (and, when asked, the satellite is
in the Earth's shadow). The planner's candidates are made from them
(:mod:`jointsat.planning.candidates`); the geometry is :mod:`jointsat.orbits.looks`.

How no window is missed. Every condition is a margin (degrees, or kilometres for
the shadow) whose rate of change is bounded from the orbit's radii and speed
(:class:`jointsat.orbits.bounds.MotionBounds`); dividing each margin by its bound
and taking the least gives ``g``, in seconds, a lower bound on the time before the
condition can change. ``g`` moves at most one second per second, so where two
samples ``h`` apart have the same sign and ``|g0| + |g1| > h`` the condition holds
(or fails) throughout; every other
interval is bisected, with exact SGP4 evaluations, until it is proven or shorter
than ``EDGE_BRACKET_S``. The first samples thus set the cost, never the result.
An interval that fails at both ends and is shorter than the least usable window
(the look's duration) is dropped: what it may hide could not be used. Earth targets
are first culled to the passes of the pass engine (``find_passes``) above the
lowest elevation at which the off-nadir limit can be met; sky targets are sampled
over their whole window.

Times are seconds after the planning horizon's start; positions and lines of sight
are TEME. SGP4 failing is reported as :class:`PropagationProblem` rows, never
raised: where a satellite cannot be propagated it has no opportunity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np

from jointsat.constants import EARTH_ROTATION_RAD_S
from jointsat.errors import PlanningInputError
from jointsat.orbits.bounds import MotionBounds, sun_turning_rad_s
from jointsat.orbits.looks import Epochs, earth_look, ground_site, sky_direction, sky_look
from jointsat.orbits.passes import PropagationProblem, find_passes
from jointsat.orbits.propagation import Orbit, error_message, orbit_records
from jointsat.orbits.search import golden_minimum, margin_windows
from jointsat.orbits.stations import Station
from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray, concat_fields, norm
from jointsat.planning.problem import PlanningProblem
from jointsat.planning.requests import EarthTarget, Mode, Request, SkyTarget
from jointsat.timelib import TimeOrigin

# Window edges are bisected until the bracket is this short, and the edge is put at
# its end inside the window: every edge is within 0.005 s of the true one.
EDGE_BRACKET_S = 0.005
# First step inside a culled pass (a pass above the cull's elevation lasts 1-10 min).
EARTH_STEP_S = 5.0
# First step over a sky target's window: the Earth-limb margin moves by at most
# this many degrees per step (71 s for the ISS); clipped to SKY_STEP_RANGE_S.
SKY_SWEEP_DEG = 5.0
SKY_STEP_RANGE_S = (5.0, 600.0)
# The culled passes are widened by this much on each side (their ends are exact
# to a millisecond; the cull's elevation is already below any usable one).
PASS_PAD_S = 1.0
# The cull's elevation is lowered by this much: the geodetic vertical departs
# from the geocentric one, for which the sphere's formula is exact, by at most
# 0.193 degree on WGS-84.
CULL_MARGIN_DEG = 0.5
# SGP4 is checked every this many seconds over the horizon for failures; the first
# one found is then bisected to FAILURE_BRACKET_S.
FAILURE_SCAN_S = 60.0
FAILURE_BRACKET_S = 0.01
# Bounds on the motions the margins' rates come from (see _Rates).


# --- opportunities ----------------------------------------------------------------


@dataclass(frozen=True)
class Opportunities:
    """Hold the opportunities column by column, sorted by satellite, then start.

    Times are seconds after ``start`` (the planning horizon's start); ``request``
    and ``satellite`` index ``problem.requests`` and ``problem.satellites``.
    ``best_s`` is, for an Earth target, the time of least off-nadir angle in the
    window (``best_off_nadir_deg`` that angle); for a sky target, the start (NaN
    angle). ``problems`` reports SGP4 failures (satellite indexing
    ``problem.satellites``).
    """

    start: datetime
    request: IntArray
    satellite: IntArray
    start_s: FloatArray
    end_s: FloatArray
    best_s: FloatArray
    best_off_nadir_deg: FloatArray
    problems: tuple[PropagationProblem, ...] = ()

    def __len__(self) -> int:
        return int(self.start_s.size)

    @property
    def duration_s(self) -> FloatArray:
        """Return each opportunity's length in seconds."""
        return np.asarray(self.end_s - self.start_s)

    def time(self, seconds: float) -> datetime:
        """Return the UTC datetime ``seconds`` after the horizon's start."""
        return self.start + timedelta(seconds=float(seconds))


def find_opportunities(problem: PlanningProblem, orbits: Sequence[Orbit]) -> Opportunities:
    """Find every opportunity of every satellite to observe every request it serves.

    ``orbits`` are matched to ``problem.satellites`` by catalog number
    (``str(orbit.norad_id) == imager.id``); a satellite without one is refused with
    a :class:`PlanningInputError` naming it. Windows shorter than the request's look
    (twice it for stereo) are left out.
    """
    matched = match_orbits(problem, orbits)
    origin = TimeOrigin.of(problem.horizon.start)
    horizon_s = origin.seconds(problem.horizon.end)
    found: list[_Found] = []
    problems: list[PropagationProblem] = []
    for s, (imager, orbit) in enumerate(zip(problem.satellites, matched, strict=True)):
        failure = _first_failure(orbit, origin, horizon_s)
        if failure is not None:
            t_fail, code = failure
            problems.append(PropagationProblem(s, origin.at(t_fail), code, error_message(code)))
        rates = MotionBounds.of(orbit)
        served = [
            (i, r)
            for i, r in enumerate(problem.requests)
            if problem.serves(imager, r) and _open(problem, r)
        ]
        earth = [(i, r) for i, r in served if isinstance(r, EarthTarget)]
        sky = [(i, r) for i, r in served if isinstance(r, SkyTarget)]
        seer = _Seer(problem, s, orbit, rates, origin)
        if earth:
            found.append(_earth_windows(seer, earth))
        if sky:
            found.append(_sky_windows(seer, sky))
    every = concat_fields(found, _NOTHING_FOUND)
    order = np.lexsort((every.request, every.start_s, every.satellite))
    return Opportunities(
        start=problem.horizon.start,
        request=every.request[order],
        satellite=every.satellite[order],
        start_s=every.start_s[order],
        end_s=every.end_s[order],
        best_s=every.best_s[order],
        best_off_nadir_deg=every.best_off_nadir_deg[order],
        problems=tuple(problems),
    )


class _Seer(NamedTuple):
    """One satellite of the problem, as the window searches see it."""

    problem: PlanningProblem
    satellite: int  # indexes problem.satellites
    orbit: Orbit
    rates: MotionBounds
    origin: TimeOrigin


@dataclass(frozen=True)
class _Found:
    satellite: IntArray
    request: IntArray
    start_s: FloatArray
    end_s: FloatArray
    best_s: FloatArray
    best_off_nadir_deg: FloatArray


_INTS, _FLOATS = np.zeros(0, dtype=np.int64), np.zeros(0)
_NOTHING_FOUND = _Found(_INTS, _INTS, _FLOATS, _FLOATS, _FLOATS, _FLOATS)


def match_orbits(problem: PlanningProblem, orbits: Sequence[Orbit]) -> list[Orbit]:
    """Return the orbit of each of the problem's satellites, refusing one that has none."""
    by_id = {str(o.norad_id): o for o in orbits}
    matched = []
    for i, imager in enumerate(problem.satellites):
        if imager.id not in by_id:
            raise PlanningInputError(
                f"no element sets for satellite {imager.id!r} (matched by catalog number)",
                location=f"satellites[{i}]",
            )
        matched.append(by_id[imager.id])
    return matched


def _open(problem: PlanningProblem, request: Request) -> bool:
    window = problem.window_of(request)
    return window.end > window.start


def _first_failure(orbit: Orbit, origin: TimeOrigin, horizon_s: float) -> tuple[float, int] | None:
    """Return when (s) SGP4 first fails over the horizon, and its code, or None."""
    t = np.append(np.arange(0.0, horizon_s, FAILURE_SCAN_S), horizon_s)
    err, _, _ = orbit.propagate(*origin.julian(t))
    bad = np.flatnonzero(err != 0)
    if bad.size == 0:
        return None
    k = int(bad[0])
    if k == 0:
        return 0.0, int(err[0])
    lo, hi, code = float(t[k - 1]), float(t[k]), int(err[k])
    while hi - lo > FAILURE_BRACKET_S:
        mid = 0.5 * (lo + hi)
        e = int(orbit.propagate(*origin.julian(np.array([mid])))[0][0])
        if e:
            hi, code = mid, e
        else:
            lo = mid
    return hi, code


def _earth_windows(seer: _Seer, earth: list[tuple[int, EarthTarget]]) -> _Found:
    """Find one satellite's windows on Earth targets, inside the passes that can hold them."""
    problem, satellite, orbit, rates, origin = seer
    index = np.array([i for i, _ in earth], dtype=np.int64)
    targets = [r for _, r in earth]
    lat = np.array([r.lat_deg for r in targets])
    lon = np.array([r.lon_deg for r in targets])
    alt = np.array([r.alt_m for r in targets])
    max_off = np.array([r.max_off_nadir_deg for r in targets])
    min_sun = np.array(
        [np.nan if r.min_sun_elevation_deg is None else r.min_sun_elevation_deg for r in targets]
    )
    keep = np.array([r.min_duration_s * (2.0 if r.mode is Mode.STEREO else 1.0) for r in targets])
    windows = [problem.window_of(r) for r in targets]
    w0 = np.array([origin.seconds(w.start) for w in windows])
    w1 = np.array([origin.seconds(w.end) for w in windows])
    site, up = ground_site(lat, lon, alt)
    radius = norm(site)

    # Cull: on a sphere, a satellite at radius r sees a target at radius R under
    # off-nadir angle eta when its (geocentric) elevation e has cos e = (r/R) sin eta.
    ratio = rates.r_max_km / radius * np.sin(np.radians(max_off))
    lowest = np.degrees(np.arccos(np.clip(ratio, -1.0, 1.0)))
    threshold = np.maximum(lowest - CULL_MARGIN_DEG, 0.0)
    stations = [
        Station(str(k), float(lat[k]), float(lon[k]), float(alt[k]), float(threshold[k]))
        for k in range(len(targets))
    ]
    first, last = min(w.start for w in windows), max(w.end for w in windows)
    passes = find_passes(orbit_records(orbit), stations, first, last)
    offset = origin.seconds(passes.start)
    target = passes.station
    lo = np.maximum(passes.aos_s + offset - PASS_PAD_S, w0[target])
    hi = np.minimum(passes.los_s + offset + PASS_PAD_S, w1[target])
    some = hi > lo
    target, lo, hi = target[some], lo[some], hi[some]

    # Rates (deg/s): the off-nadir angle turns with the nadir and the line of sight,
    # the elevation with the line of sight and the vertical, the Sun's elevation
    # with the vertical and the direction to the Sun.
    sight = np.degrees(rates.sight_rad_s(radius))
    off_rate = sight + np.degrees(rates.nadir_rad_s)
    elevation_rate = sight + np.degrees(EARTH_ROTATION_RAD_S)
    site_speed = EARTH_ROTATION_RAD_S * float(radius.max())
    sun_rate = np.degrees(EARTH_ROTATION_RAD_S + sun_turning_rad_s(site_speed, float(radius.max())))

    def evaluate(span: IntArray, t: FloatArray) -> tuple[BoolArray, FloatArray]:
        k = target[span]
        off, elevation, sun, _ = earth_look(Epochs.rows(orbit, origin, t), site[k], up[k])
        any_light = np.isnan(min_sun[k])
        with np.errstate(invalid="ignore"):
            ok = (off <= max_off[k]) & (elevation > 0.0) & (any_light | (sun >= min_sun[k]))
            g = np.minimum((max_off[k] - off) / off_rate[k], elevation / elevation_rate[k])
            g = np.minimum(g, np.where(any_light, np.inf, (sun - min_sun[k]) / sun_rate))
        return np.asarray(ok), np.asarray(g)

    span, start, end = margin_windows(
        lo, hi, keep[target], EARTH_STEP_S, evaluate, bracket_s=EDGE_BRACKET_S
    )
    k = target[span]
    long_enough = end - start >= keep[k]
    k, start, end = k[long_enough], start[long_enough], end[long_enough]
    best, best_off = _least_off_nadir(orbit, origin, lat[k], lon[k], alt[k], start, end)
    return _Found(np.full(k.size, satellite, dtype=np.int64), index[k], start, end, best, best_off)


def _least_off_nadir(
    orbit: Orbit,
    origin: TimeOrigin,
    lat: FloatArray,
    lon: FloatArray,
    alt: FloatArray,
    start: FloatArray,
    end: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Return the time of least off-nadir angle within each window, and that angle.

    The window is sampled, then the bracket around the least is narrowed by golden
    section to under a millisecond: the angle has one minimum per pass.
    """
    site, up = ground_site(lat, lon, alt)

    def off_nadir(rows: IntArray, t: FloatArray) -> FloatArray:
        angle = earth_look(Epochs.rows(orbit, origin, t), site[rows], up[rows])[0]
        return np.asarray(np.where(np.isnan(angle), np.inf, angle))

    return golden_minimum(off_nadir, start, end)


def _sky_windows(seer: _Seer, sky: list[tuple[int, SkyTarget]]) -> _Found:
    """Find one satellite's windows on sky targets over their whole windows."""
    problem, satellite, orbit, rates, origin = seer
    index = np.array([i for i, _ in sky], dtype=np.int64)
    targets = [r for _, r in sky]
    direction = sky_direction([r.ra_deg for r in targets], [r.dec_deg for r in targets])
    min_sun = np.array([r.min_sun_angle_deg for r in targets])
    min_limb = np.array([r.min_earth_limb_angle_deg for r in targets])
    eclipse = np.array([r.eclipse_only for r in targets])
    keep = np.array([r.duration_s for r in targets])
    windows = [problem.window_of(r) for r in targets]
    lo = np.array([origin.seconds(w.start) for w in windows])
    hi = np.array([origin.seconds(w.end) for w in windows])

    sun_rate = math.degrees(rates.sun_from_satellite_rad_s)
    limb_rate = math.degrees(rates.limb_rad_s)
    shadow_rate = rates.shadow_km_s
    step = min(max(SKY_SWEEP_DEG / limb_rate, SKY_STEP_RANGE_S[0]), SKY_STEP_RANGE_S[1])

    def evaluate(span: IntArray, t: FloatArray) -> tuple[BoolArray, FloatArray]:
        sun_angle, limb, sunlit, shadow = sky_look(Epochs.rows(orbit, origin, t), direction[span])
        dark = eclipse[span]
        with np.errstate(invalid="ignore"):
            ok = (sun_angle >= min_sun[span]) & (limb >= min_limb[span]) & (~dark | ~sunlit)
            g = np.minimum(
                (sun_angle - min_sun[span]) / sun_rate, (limb - min_limb[span]) / limb_rate
            )
            g = np.minimum(g, np.where(dark, -shadow / shadow_rate, np.inf))
        return np.asarray(ok), np.asarray(g)

    span, start, end = margin_windows(lo, hi, keep, step, evaluate, bracket_s=EDGE_BRACKET_S)
    long_enough = end - start >= keep[span]
    span, start, end = span[long_enough], start[long_enough], end[long_enough]
    return _Found(
        np.full(span.size, satellite, dtype=np.int64),
        index[span],
        start,
        end,
        start.copy(),
        np.full(span.size, np.nan),
    )
