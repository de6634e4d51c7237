"""Find when each satellite can observe each request, and the ways to serve each one.

An *opportunity* is a maximal stretch of time over which one satellite may observe
one request: for an Earth target, the target is within the off-nadir limit, above
the horizon and (when asked) lit by the Sun; for a sky target, the direction is far
enough from the Sun and above the Earth's limb (and, when asked, the satellite is
in the Earth's shadow). *Candidates* are the observations the planner chooses
among: looks of the request's duration at fixed starts within the opportunities.

How no window is missed. Every condition is a margin (degrees, or kilometres for
the shadow) whose rate of change is bounded from the orbit's radii and speed
(``_Rates``); dividing each margin by its bound and taking the least gives ``g``,
in seconds, a lower bound on the time before the condition can change. ``g`` moves
at most one second per second, so where two samples ``h`` apart have the same sign
and ``|g0| + |g1| > h`` the condition holds (or fails) throughout; every other
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jointsat.errors import PlanningInputError
from jointsat.orbits.elements import JD_UNIX_EPOCH
from jointsat.orbits.frames import (
    EARTH_ROTATION_RAD_PER_S,
    WGS84_A_KM,
    WGS84_B_KM,
    ecef_to_teme,
    enu_basis,
    geodetic_to_ecef,
    gmst82_rad,
)
from jointsat.orbits.passes import PropagationProblem, find_passes
from jointsat.orbits.propagation import Satellite, error_message, propagate_rows
from jointsat.orbits.stations import Station
from jointsat.orbits.sun import AU_KM, is_sunlit, sun_position_km
from jointsat.planning.problem import PlanningProblem
from jointsat.planning.requests import EarthTarget, Mode, Request, SkyTarget

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

DAY_S = 86400.0
MU_KM3_S2 = 398600.8  # SGP4's (WGS-72) gravitational parameter

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
RADIUS_SLACK = 0.01  # of the semi-major axis, below perigee: SGP4's short-period terms, drag
RADIUS_SLACK_KM = 25.0
SPEED_SLACK = 1.01  # over vis-viva at the bounding radii: the J2 part of the energy
EARTH_ORBIT_SPEED_KM_S = 30.5  # the Earth's greatest speed about the Sun, 30.29 km/s, and margin
SUN_DISTANCE_MIN_KM = 0.983 * AU_KM
# Stereo: the second look's start is searched on this grid from the window's start.
STEREO_GRID_S = 1.0
# Second-look starts tried per first look in the first round (the block doubles each
# round), and the most pairs tried in one round.
STEREO_FIRST_BLOCK = 16
STEREO_CHUNK_PAIRS = 400_000


# --- geometry -------------------------------------------------------------------


@dataclass(frozen=True)
class EarthGeometry:
    """A satellite seen against ground targets, at many times (arrays broadcast together).

    ``error`` is sgp4's code (0 for success); the other fields are NaN where it is not 0.
    """

    off_nadir_deg: FloatArray  # at the satellite, between the Earth's centre and the target
    elevation_deg: FloatArray  # of the satellite seen from the target (geodetic vertical)
    sun_elevation_deg: FloatArray  # of the Sun at the target
    line_of_sight: FloatArray  # (..., 3) unit vectors, TEME, satellite to target
    error: NDArray[np.uint8]


@dataclass(frozen=True)
class SkyGeometry:
    """A satellite pointing at directions on the sky, at many times (arrays broadcast together).

    ``error`` is sgp4's code (0 for success); the angles are NaN and ``sunlit``
    meaningless where it is not 0.
    """

    sun_angle_deg: FloatArray  # between the direction and the Sun seen from the satellite
    limb_angle_deg: FloatArray  # above the Earth's limb (sphere of WGS-84's equatorial radius)
    sunlit: BoolArray  # the satellite itself, by orbits.sun.is_sunlit
    line_of_sight: FloatArray  # (..., 3) unit vectors of RA/Dec, taken in TEME
    error: NDArray[np.uint8]


def earth_geometry(
    orbit: Satellite,
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    alt_m: ArrayLike,
    jd: ArrayLike,
    fr: ArrayLike,
) -> EarthGeometry:
    """Return the off-nadir angle, elevation and sun elevation of targets at times.

    The targets (WGS-84 geodetic) and the UTC split Julian dates broadcast together;
    SGP4 runs once per time (the shape of ``jd`` and ``fr`` broadcast), so targets
    shaped ``(M, 1)`` against times shaped ``(T,)`` cost T propagations. The Sun's
    elevation is that of :func:`jointsat.orbits.sun.sun_elevation_deg`.
    """
    epochs = _Epochs.of(orbit, jd, fr)
    site, up = _site(lat_deg, lon_deg, alt_m)
    off_nadir, elevation, sun, los = _earth(epochs, site, up)
    error = np.broadcast_to(epochs.error, off_nadir.shape)
    return EarthGeometry(off_nadir, elevation, sun, los, error)


def sky_geometry(
    orbit: Satellite, ra_deg: ArrayLike, dec_deg: ArrayLike, jd: ArrayLike, fr: ArrayLike
) -> SkyGeometry:
    """Return the Sun angle, Earth-limb angle and sunlight of sky directions at times.

    Directions and UTC split Julian dates broadcast together; SGP4 runs once per time.
    """
    epochs = _Epochs.of(orbit, jd, fr)
    sun_angle, limb, sunlit, _ = _sky(epochs, _direction(ra_deg, dec_deg))
    shape = sun_angle.shape
    los = np.broadcast_to(_direction(ra_deg, dec_deg), (*shape, 3)).copy()
    return SkyGeometry(sun_angle, limb, sunlit, los, np.broadcast_to(epochs.error, shape))


@dataclass(frozen=True)
class _Epochs:
    """What depends on time alone: the satellite's TEME position, the Earth's angle, the Sun."""

    r: FloatArray  # (..., 3) km, NaN where SGP4 fails
    error: NDArray[np.uint8]
    gmst: FloatArray
    sun: FloatArray  # (..., 3) km, TEME

    @classmethod
    def of(cls, orbit: Satellite, jd: ArrayLike, fr: ArrayLike) -> _Epochs:
        """Propagate at every time (``jd`` and ``fr`` broadcast)."""
        jd_b, fr_b = np.broadcast_arrays(np.asarray(jd, dtype=float), np.asarray(fr, dtype=float))
        err, r, _ = orbit.propagate(jd_b.ravel(), fr_b.ravel())
        r = np.array(r, dtype=float)
        r[err != 0] = np.nan
        shape = jd_b.shape
        return cls(
            r.reshape((*shape, 3)),
            err.reshape(shape),
            gmst82_rad(jd_b, fr_b),
            sun_position_km(jd_b, fr_b),
        )

    @classmethod
    def rows(cls, orbit: Satellite, clock: _Clock, t: FloatArray) -> _Epochs:
        """Propagate at seconds after the clock's start, each distinct time once."""
        unique, inverse = np.unique(t, return_inverse=True)
        at = cls.of(orbit, *clock.julian(unique))
        return cls(at.r[inverse], at.error[inverse], at.gmst[inverse], at.sun[inverse])


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2])


def _norm(a: FloatArray) -> FloatArray:
    return np.sqrt(_dot(a, a))


def _unit(a: FloatArray) -> FloatArray:
    return np.asarray(a / _norm(a)[..., None])


def _angle_deg(u: FloatArray, w: FloatArray) -> FloatArray:
    """Return the angles between unit vectors, from their chord (exact near 0 degrees)."""
    chord = _norm(u - w)
    return np.asarray(np.degrees(2.0 * np.arcsin(np.minimum(0.5 * chord, 1.0))))


def _spin(v: FloatArray, gmst: FloatArray) -> FloatArray:
    """Rotate TEME vectors to the Earth-fixed frame (no velocity terms)."""
    c, s = np.cos(gmst), np.sin(gmst)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack(np.broadcast_arrays(c * x + s * y, c * y - s * x, z), axis=-1)


def _site(lat: ArrayLike, lon: ArrayLike, alt: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return targets' Earth-fixed positions (km) and geodetic verticals."""
    return geodetic_to_ecef(lat, lon, alt), enu_basis(lat, lon)[..., 2, :]


def _earth(
    epochs: _Epochs, site: FloatArray, up: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return off-nadir, elevation, sun elevation (degrees) and the TEME line of sight."""
    r = _spin(epochs.r, epochs.gmst)
    rho = site - r  # satellite to target
    sight = _unit(rho)
    off_nadir = _angle_deg(_unit(-r), sight)
    elevation = np.degrees(np.arcsin(np.clip(-_dot(sight, up), -1.0, 1.0)))
    to_sun = _unit(_spin(epochs.sun, epochs.gmst) - site)
    sun = np.degrees(np.arcsin(np.clip(_dot(to_sun, up), -1.0, 1.0)))
    sun = np.broadcast_to(sun, off_nadir.shape)
    return off_nadir, elevation, sun, ecef_to_teme(sight, epochs.gmst)


def _direction(ra_deg: ArrayLike, dec_deg: ArrayLike) -> FloatArray:
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _sky(
    epochs: _Epochs, direction: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray, FloatArray]:
    """Return Sun angle, limb angle (degrees), sunlit and the shadow margin (km)."""
    r, sun = epochs.r, epochs.sun
    sun_angle = _angle_deg(direction, _unit(sun - r))
    radius = _norm(r)
    with np.errstate(invalid="ignore"):
        disc = np.degrees(np.arcsin(np.clip(WGS84_A_KM / radius, -1.0, 1.0)))
    limb = _angle_deg(direction, _unit(-r)) - disc
    shape = sun_angle.shape
    sunlit = np.broadcast_to(is_sunlit(r, sun), shape)
    return sun_angle, limb, sunlit, np.broadcast_to(_shadow_margin_km(r, sun), shape)


def _shadow_margin_km(r: FloatArray, sun: FloatArray) -> FloatArray:
    """Return how far (km) the line from the satellite to the Sun clears the Earth.

    Negative in the Earth's shadow, with the sign of ``is_sunlit``: the distance
    from the Earth's centre to the half-line towards the Sun, less the equatorial
    radius, in the coordinates where the WGS-84 ellipsoid is a sphere.
    """
    stretch = np.array([1.0, 1.0, WGS84_A_KM / WGS84_B_KM])
    p = r * stretch
    d = (sun - r) * stretch
    d = d / _norm(d)[..., None]
    along = _dot(p, d)
    closest_sq = np.maximum(_dot(p, p) - along**2, 0.0)
    distance = np.where(along < 0.0, np.sqrt(closest_sq), _norm(p))
    return np.asarray(distance - WGS84_A_KM)


# --- rate bounds ------------------------------------------------------------------


@dataclass(frozen=True)
class _Rates:
    """Bounds on a satellite's motion over the horizon, from its element sets.

    The radius lies within [r_min, r_max]: perigee less RADIUS_SLACK of the
    semi-major axis and RADIUS_SLACK_KM (SGP4's short-period terms move a LEO's
    radius by about 10 km; drag lowers it by a few km a week), and
    ``Satellite.max_radius_km``. Speed is bounded by vis-viva with the osculating
    semi-major axis at most r_max, radial speed by e sqrt(mu/p) with e at most
    (r_max - r_min) / (r_max + r_min) and p at least r_min.
    """

    r_min_km: float
    r_max_km: float
    v_max_km_s: float
    radial_max_km_s: float

    @classmethod
    def of(cls, orbit: Satellite) -> _Rates:
        perigees = []
        for e in orbit.element_sets:
            n_rad_s = e.mean_motion_rev_per_day * 2.0 * math.pi / DAY_S
            a_km = (MU_KM3_S2 / n_rad_s**2) ** (1.0 / 3.0)
            perigees.append(a_km * (1.0 - e.eccentricity) - RADIUS_SLACK * a_km)
        r_min = max(min(perigees) - RADIUS_SLACK_KM, WGS84_A_KM + 50.0)
        r_max = max(orbit.max_radius_km, r_min)
        v_max = SPEED_SLACK * math.sqrt(MU_KM3_S2 * (2.0 / r_min - 1.0 / r_max))
        ecc = (r_max - r_min) / (r_max + r_min)
        return cls(r_min, r_max, v_max, SPEED_SLACK * ecc * math.sqrt(MU_KM3_S2 / r_min))

    @property
    def nadir_rad_s(self) -> float:
        """Bound the turning rate of the direction from the satellite to the Earth's centre."""
        return self.v_max_km_s / self.r_min_km

    def sight_rad_s(self, target_radius_km: FloatArray) -> FloatArray:
        """Bound the turning rate of the line of sight to ground targets (inertial)."""
        closest = np.maximum(self.r_min_km - target_radius_km, 1.0)
        return np.asarray((self.v_max_km_s + EARTH_ROTATION_RAD_PER_S * target_radius_km) / closest)

    @property
    def sun_from_satellite_rad_s(self) -> float:
        """Bound the turning rate of the Sun's direction seen from the satellite."""
        return _sun_turning_rad_s(self.v_max_km_s, self.r_max_km)

    @property
    def limb_rad_s(self) -> float:
        """Bound the rate of the angle between a fixed direction and the Earth's limb."""
        r = self.r_min_km
        radius_term = WGS84_A_KM * self.radial_max_km_s / (r * math.sqrt(r * r - WGS84_A_KM**2))
        return self.nadir_rad_s + radius_term

    @property
    def shadow_km_s(self) -> float:
        """Bound the rate of the shadow margin (km/s).

        The distance from the centre to a half-line moves no faster than the
        half-line's origin, plus its length to the closest point (at most the
        origin's distance) times its turning rate; both are stretched with the
        polar axis.
        """
        stretch = WGS84_A_KM / WGS84_B_KM
        turning = stretch * stretch * self.sun_from_satellite_rad_s
        return stretch * self.v_max_km_s + stretch * self.r_max_km * turning


def _sun_turning_rad_s(speed_km_s: float, distance_km: float) -> float:
    """Bound the turning rate of the Sun's direction seen from a point moving this fast.

    The geocentric Sun moves at the Earth's orbital speed; the observer, no
    further than ``distance_km`` from the Earth's centre, at ``speed_km_s``.
    """
    return (EARTH_ORBIT_SPEED_KM_S + speed_km_s) / (SUN_DISTANCE_MIN_KM - distance_km)


# --- windows where a margin is positive -------------------------------------------

# evaluate(span, t) -> (holds, g): whether the conditions hold at t, and g (seconds),
# a lower bound on the time before that can change (negative where they fail, NaN
# where SGP4 fails).
Evaluate = Callable[[IntArray, FloatArray], tuple[BoolArray, FloatArray]]


def _ranges(first: IntArray, count: IntArray) -> tuple[IntArray, IntArray]:
    """Expand ranges [first, first + count) into (range number, value) for every element."""
    owner = np.repeat(np.arange(count.size), count)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    return owner, first[owner] + offset


def _windows(
    lo: FloatArray, hi: FloatArray, keep_s: FloatArray, step_s: float, evaluate: Evaluate
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Return the maximal windows within each span [lo, hi] where the conditions hold.

    Spans are sampled at the ends and on the grid of multiples of ``step_s`` (shared
    between spans, so that rows at one time share one propagation), then intervals
    neither proven nor shorter than EDGE_BRACKET_S are bisected. Windows are
    ``(span, start, end)``, their ends inside. Every window at least the span's
    ``keep_s`` long is found; shorter ones may be (the caller drops them).
    """
    n = lo.size
    first = np.floor(lo / step_s).astype(np.int64) + 1
    last = np.ceil(hi / step_s).astype(np.int64) - 1
    owner, k = _ranges(first, np.maximum(last - first + 1, 0))
    span = np.concatenate([np.arange(n), owner, np.arange(n)])
    t = np.concatenate([lo, k * step_s, hi])
    order = np.lexsort((t, span))
    span, t = span[order], t[order]
    ok, g = evaluate(span, t)
    points_span, points_t, points_ok = [span], [t], [ok]

    same = span[1:] == span[:-1]
    left = np.flatnonzero(same)
    s_i, t0, t1 = span[left], t[left], t[left + 1]
    ok0, ok1, g0, g1 = ok[left], ok[left + 1], g[left], g[left + 1]
    while s_i.size:
        length = t1 - t0
        with np.errstate(invalid="ignore"):
            proven = (
                (ok0 == ok1) & (np.abs(g0) + np.abs(g1) > length) & (np.sign(g0) == np.sign(g1))
            )
        failing = np.isnan(g0) & np.isnan(g1)  # SGP4 fails at both ends: nothing to see
        useless = ~ok0 & ~ok1 & (length < keep_s[s_i])  # too short to hold a usable window
        todo = np.flatnonzero(~(proven | failing | useless) & (length > EDGE_BRACKET_S))
        if todo.size == 0:
            break
        s_i, t0, t1 = s_i[todo], t0[todo], t1[todo]
        ok0, ok1, g0, g1 = ok0[todo], ok1[todo], g0[todo], g1[todo]
        tm = 0.5 * (t0 + t1)
        okm, gm = evaluate(s_i, tm)
        points_span.append(s_i)
        points_t.append(tm)
        points_ok.append(okm)
        s_i = np.concatenate([s_i, s_i])
        t0, t1 = np.concatenate([t0, tm]), np.concatenate([tm, t1])
        ok0, ok1 = np.concatenate([ok0, okm]), np.concatenate([okm, ok1])
        g0, g1 = np.concatenate([g0, gm]), np.concatenate([gm, g1])

    span = np.concatenate(points_span)
    t = np.concatenate(points_t)
    ok = np.concatenate(points_ok)
    order = np.lexsort((t, span))
    span, t, ok = span[order], t[order], ok[order]
    new_span = np.r_[True, span[1:] != span[:-1]]
    end_span = np.r_[new_span[1:], True]
    prev_ok = np.r_[False, ok[:-1]] & ~new_span
    next_ok = np.r_[ok[1:], False] & ~end_span
    starts = np.flatnonzero(ok & ~prev_ok)
    ends = np.flatnonzero(ok & ~next_ok)
    return span[starts], t[starts], t[ends]


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


def find_opportunities(problem: PlanningProblem, orbits: Sequence[Satellite]) -> Opportunities:
    """Find every opportunity of every satellite to observe every request it serves.

    ``orbits`` are matched to ``problem.satellites`` by catalog number
    (``str(orbit.norad_id) == imager.id``); a satellite without one is refused with
    a :class:`PlanningInputError` naming it. Windows shorter than the request's look
    (twice it for stereo) are left out.
    """
    matched = _match(problem, orbits)
    clock = _Clock.of(problem.horizon.start)
    horizon_s = clock.seconds(problem.horizon.end)
    found: list[_Found] = []
    problems: list[PropagationProblem] = []
    for s, (imager, orbit) in enumerate(zip(problem.satellites, matched, strict=True)):
        failure = _first_failure(orbit, clock, horizon_s)
        if failure is not None:
            t_fail, code = failure
            problems.append(PropagationProblem(s, clock.time(t_fail), code, error_message(code)))
        rates = _Rates.of(orbit)
        served = [
            (i, r)
            for i, r in enumerate(problem.requests)
            if problem.serves(imager, r) and _open(problem, r)
        ]
        earth = [(i, r) for i, r in served if isinstance(r, EarthTarget)]
        sky = [(i, r) for i, r in served if isinstance(r, SkyTarget)]
        if earth:
            found.append(_earth_windows(problem, s, orbit, rates, clock, earth))
        if sky:
            found.append(_sky_windows(problem, s, orbit, rates, clock, sky))
    every = _Found.concat(found)
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


@dataclass(frozen=True)
class _Clock:
    """Turn seconds after the horizon's start into split Julian dates and datetimes."""

    start: datetime
    jd0: float
    fr0: float

    @classmethod
    def of(cls, start: datetime) -> _Clock:
        start = start.astimezone(UTC)
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        days = (midnight - datetime(1970, 1, 1, tzinfo=UTC)).days
        return cls(start, JD_UNIX_EPOCH + days, (start - midnight).total_seconds() / DAY_S)

    def julian(self, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        t = np.asarray(t_s, dtype=float)
        return np.full(t.shape, self.jd0), self.fr0 + t / DAY_S

    def seconds(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds()

    def time(self, t_s: float) -> datetime:
        return self.start + timedelta(seconds=float(t_s))


@dataclass(frozen=True)
class _Found:
    satellite: IntArray
    request: IntArray
    start_s: FloatArray
    end_s: FloatArray
    best_s: FloatArray
    best_off_nadir_deg: FloatArray

    @classmethod
    def concat(cls, parts: Sequence[_Found]) -> _Found:
        if not parts:
            ints, floats = np.zeros(0, dtype=np.int64), np.zeros(0)
            return cls(ints, ints, floats, floats, floats, floats)
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )


def _match(problem: PlanningProblem, orbits: Sequence[Satellite]) -> list[Satellite]:
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


def _first_failure(orbit: Satellite, clock: _Clock, horizon_s: float) -> tuple[float, int] | None:
    """Return when (s) SGP4 first fails over the horizon, and its code, or None."""
    t = np.append(np.arange(0.0, horizon_s, FAILURE_SCAN_S), horizon_s)
    err, _, _ = orbit.propagate(*clock.julian(t))
    bad = np.flatnonzero(err != 0)
    if bad.size == 0:
        return None
    k = int(bad[0])
    if k == 0:
        return 0.0, int(err[0])
    lo, hi, code = float(t[k - 1]), float(t[k]), int(err[k])
    while hi - lo > FAILURE_BRACKET_S:
        mid = 0.5 * (lo + hi)
        e = int(orbit.propagate(*clock.julian(np.array([mid])))[0][0])
        if e:
            hi, code = mid, e
        else:
            lo = mid
    return hi, code


def _earth_windows(
    problem: PlanningProblem,
    satellite: int,
    orbit: Satellite,
    rates: _Rates,
    clock: _Clock,
    earth: list[tuple[int, EarthTarget]],
) -> _Found:
    """Find one satellite's windows on Earth targets, inside the passes that can hold them."""
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
    w0 = np.array([clock.seconds(w.start) for w in windows])
    w1 = np.array([clock.seconds(w.end) for w in windows])
    site, up = _site(lat, lon, alt)
    radius = _norm(site)

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
    passes = find_passes(orbit.element_sets, stations, first, last)
    offset = clock.seconds(passes.start)
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
    elevation_rate = sight + np.degrees(EARTH_ROTATION_RAD_PER_S)
    site_speed = EARTH_ROTATION_RAD_PER_S * float(radius.max())
    sun_rate = np.degrees(
        EARTH_ROTATION_RAD_PER_S + _sun_turning_rad_s(site_speed, float(radius.max()))
    )

    def evaluate(span: IntArray, t: FloatArray) -> tuple[BoolArray, FloatArray]:
        k = target[span]
        off, elevation, sun, _ = _earth(_Epochs.rows(orbit, clock, t), site[k], up[k])
        any_light = np.isnan(min_sun[k])
        with np.errstate(invalid="ignore"):
            ok = (off <= max_off[k]) & (elevation > 0.0) & (any_light | (sun >= min_sun[k]))
            g = np.minimum((max_off[k] - off) / off_rate[k], elevation / elevation_rate[k])
            g = np.minimum(g, np.where(any_light, np.inf, (sun - min_sun[k]) / sun_rate))
        return np.asarray(ok), np.asarray(g)

    span, start, end = _windows(lo, hi, keep[target], EARTH_STEP_S, evaluate)
    k = target[span]
    long_enough = end - start >= keep[k]
    k, start, end = k[long_enough], start[long_enough], end[long_enough]
    best, best_off = _least_off_nadir(orbit, clock, lat[k], lon[k], alt[k], start, end)
    return _Found(np.full(k.size, satellite, dtype=np.int64), index[k], start, end, best, best_off)


# Least off-nadir angle: the window is sampled at GOLDEN_SAMPLES points, then the
# bracket around the least is narrowed by golden section to under a millisecond
# (the angle has one minimum per pass).
GOLDEN_SAMPLES = 9
GOLDEN_ITERATIONS = 32


def _least_off_nadir(
    orbit: Satellite,
    clock: _Clock,
    lat: FloatArray,
    lon: FloatArray,
    alt: FloatArray,
    start: FloatArray,
    end: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Return the time of least off-nadir angle within each window, and that angle."""
    if start.size == 0:
        return np.zeros(0), np.zeros(0)

    site, up = _site(lat, lon, alt)

    def off_nadir(rows: IntArray, t: FloatArray) -> FloatArray:
        angle = _earth(_Epochs.rows(orbit, clock, t), site[rows], up[rows])[0]
        return np.asarray(np.where(np.isnan(angle), np.inf, angle))

    n = start.size
    rows = np.arange(n)
    fraction = np.linspace(0.0, 1.0, GOLDEN_SAMPLES)
    grid = start[:, None] + (end - start)[:, None] * fraction[None, :]
    values = off_nadir(np.repeat(rows, GOLDEN_SAMPLES), grid.ravel()).reshape(grid.shape)
    k = np.argmin(values, axis=1)
    a = grid[rows, np.maximum(k - 1, 0)]
    b = grid[rows, np.minimum(k + 1, GOLDEN_SAMPLES - 1)]
    ratio = 0.5 * (math.sqrt(5.0) - 1.0)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = off_nadir(rows, c), off_nadir(rows, d)
    for _ in range(GOLDEN_ITERATIONS):
        left = fc < fd  # the least lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_new = np.where(left, b - ratio * (b - a), d)
        d_new = np.where(left, c, a + ratio * (b - a))
        fc_new = np.where(left, np.nan, fd)
        fd_new = np.where(left, fc, np.nan)
        c, d = c_new, d_new
        fresh_c = np.flatnonzero(left)
        fresh_d = np.flatnonzero(~left)
        fc_new[fresh_c] = off_nadir(fresh_c, c[fresh_c])
        fd_new[fresh_d] = off_nadir(fresh_d, d[fresh_d])
        fc, fd = fc_new, fd_new
    middle = 0.5 * (a + b)
    at_middle = off_nadir(rows, middle)
    sampled = values[rows, k]
    better = at_middle <= sampled
    return np.where(better, middle, grid[rows, k]), np.where(better, at_middle, sampled)


def _sky_windows(
    problem: PlanningProblem,
    satellite: int,
    orbit: Satellite,
    rates: _Rates,
    clock: _Clock,
    sky: list[tuple[int, SkyTarget]],
) -> _Found:
    """Find one satellite's windows on sky targets over their whole windows."""
    index = np.array([i for i, _ in sky], dtype=np.int64)
    targets = [r for _, r in sky]
    direction = _direction([r.ra_deg for r in targets], [r.dec_deg for r in targets])
    min_sun = np.array([r.min_sun_angle_deg for r in targets])
    min_limb = np.array([r.min_earth_limb_angle_deg for r in targets])
    eclipse = np.array([r.eclipse_only for r in targets])
    keep = np.array([r.duration_s for r in targets])
    windows = [problem.window_of(r) for r in targets]
    lo = np.array([clock.seconds(w.start) for w in windows])
    hi = np.array([clock.seconds(w.end) for w in windows])

    sun_rate = math.degrees(rates.sun_from_satellite_rad_s)
    limb_rate = math.degrees(rates.limb_rad_s)
    shadow_rate = rates.shadow_km_s
    step = min(max(SKY_SWEEP_DEG / limb_rate, SKY_STEP_RANGE_S[0]), SKY_STEP_RANGE_S[1])

    def evaluate(span: IntArray, t: FloatArray) -> tuple[BoolArray, FloatArray]:
        sun_angle, limb, sunlit, shadow = _sky(_Epochs.rows(orbit, clock, t), direction[span])
        dark = eclipse[span]
        with np.errstate(invalid="ignore"):
            ok = (sun_angle >= min_sun[span]) & (limb >= min_limb[span]) & (~dark | ~sunlit)
            g = np.minimum(
                (sun_angle - min_sun[span]) / sun_rate, (limb - min_limb[span]) / limb_rate
            )
            g = np.minimum(g, np.where(dark, -shadow / shadow_rate, np.inf))
        return np.asarray(ok), np.asarray(g)

    span, start, end = _windows(lo, hi, keep, step, evaluate)
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


# --- candidates -------------------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    """Hold the planner's candidates column by column: each one way to serve one request.

    The satellite is busy over ``[start_s, end_s]`` (seconds after the horizon's
    start), looking along ``pointing_start`` at its start and ``pointing_end`` at its
    end (TEME unit vectors, ``(K, 3)``). A stereo candidate's second look starts at
    ``second_start_s`` and ends with it; its first look lasts as long. ``off_nadir_deg``
    is the largest off-nadir angle over the look(s) (NaN for sky targets);
    ``volume_mbit`` the data written. Rows are sorted by satellite, then start.
    """

    request: IntArray
    satellite: IntArray
    opportunity: IntArray
    start_s: FloatArray
    end_s: FloatArray
    second_start_s: FloatArray
    pointing_start: FloatArray
    pointing_end: FloatArray
    off_nadir_deg: FloatArray
    volume_mbit: FloatArray

    def __len__(self) -> int:
        return int(self.start_s.size)

    def take(self, rows: IntArray) -> Candidates:
        """Return the candidates at the given rows, in that order."""
        return Candidates(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def candidates(
    problem: PlanningProblem, orbits: Sequence[Satellite], opportunities: Opportunities
) -> Candidates:
    """Return the observations the planner may choose among, within the opportunities.

    A look lasts the request's ``min_duration_s`` (``duration_s`` for the sky).
    Looks start at each window's start, every ``problem.options.start_step_s``
    after, and at its latest start; a long window gets a coarser step, so that it
    offers at most ``max_starts_per_window`` starts. A stereo pair takes each such first look and
    the earliest second look (on a 1-s grid from the window's start) that leaves
    time to slew from the first look's end to its own start and sees the target at
    least ``stereo_angle_deg`` apart at the two looks' midpoints; it is kept when
    the second look ends within the window. The largest off-nadir angle of a look
    is at one of its ends: within a pass the angle has a single minimum.
    """
    matched = _match(problem, orbits)
    sights = _Sights.of(problem, matched, _Clock.of(opportunities.start))
    requests = problem.requests
    o_request = opportunities.request
    look = np.array([_look_s(requests[int(i)]) for i in o_request], dtype=float)
    stereo = np.array([_is_stereo(requests[int(i)]) for i in o_request], dtype=np.bool_)
    a, b = opportunities.start_s, opportunities.end_s
    usable = b - a >= look * np.where(stereo, 2.0, 1.0)
    spare = np.maximum(b - look - a, 0.0)
    most = problem.options.max_starts_per_window
    step = np.maximum(problem.options.start_step_s, spare / max(most - 1, 1))
    on_grid = np.where(usable, np.ceil(spare / step - 1e-9), 0).astype(np.int64)
    owner, k = _ranges(np.zeros(a.size, dtype=np.int64), np.where(usable, on_grid + 1, 0))
    t1 = np.where(k < on_grid[owner], a[owner] + k * step[owner], b[owner] - look[owner])
    rate = np.array([s.imaging_rate_mbps for s in problem.satellites])

    mono = ~stereo[owner]
    o, t = owner[mono], t1[mono]
    sat, req, d = opportunities.satellite[o], o_request[o], look[o]
    los_start, off_start = sights.at(sat, req, t)
    end = np.minimum(t + d, b[o])  # the latest look ends with its window, to the last bit
    los_end, off_end = sights.at(sat, req, end)
    parts = [
        (
            o,
            t,
            end,
            np.full(o.size, np.nan),
            los_start,
            los_end,
            np.maximum(off_start, off_end),
            d * rate[sat],
        )
    ]
    parts.append(_stereo(problem, sights, opportunities, owner[~mono], t1[~mono], look, rate))
    o = np.concatenate([p[0] for p in parts])
    start = np.concatenate([p[1] for p in parts])
    satellite = opportunities.satellite[o]
    order = np.lexsort((o, start, satellite))
    columns = [np.concatenate([p[n] for p in parts])[order] for n in range(8)]
    return Candidates(
        request=o_request[columns[0]],
        satellite=satellite[order],
        opportunity=columns[0],
        start_s=columns[1],
        end_s=columns[2],
        second_start_s=columns[3],
        pointing_start=columns[4],
        pointing_end=columns[5],
        off_nadir_deg=columns[6],
        volume_mbit=columns[7],
    )


def _is_stereo(request: Request) -> bool:
    return isinstance(request, EarthTarget) and request.mode is Mode.STEREO


def _look_s(request: Request) -> float:
    return request.min_duration_s if isinstance(request, EarthTarget) else request.duration_s


@dataclass(frozen=True)
class _Sights:
    """Lines of sight and off-nadir angles of (satellite, request, time) rows."""

    orbits: Sequence[Satellite]
    clock: _Clock
    site: FloatArray  # (R, 3) Earth-fixed, NaN for sky requests
    up: FloatArray  # (R, 3)
    direction: FloatArray  # (R, 3) for sky requests, NaN for Earth ones
    sky: BoolArray

    @classmethod
    def of(cls, problem: PlanningProblem, orbits: Sequence[Satellite], clock: _Clock) -> _Sights:
        def field(name: str) -> FloatArray:
            return np.array([getattr(r, name, np.nan) for r in problem.requests], dtype=float)

        sky = np.array([isinstance(r, SkyTarget) for r in problem.requests], dtype=np.bool_)
        direction = _direction(field("ra_deg"), field("dec_deg")).reshape(-1, 3)
        site, up = _site(field("lat_deg"), field("lon_deg"), field("alt_m"))
        return cls(orbits, clock, site.reshape(-1, 3), up.reshape(-1, 3), direction, sky)

    def at(
        self, satellite: IntArray, request: IntArray, t: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        los = np.empty((t.size, 3))
        off = np.full(t.size, np.nan)
        sky = self.sky[request]
        los[sky] = self.direction[request[sky]]
        ground = np.flatnonzero(~sky)
        if ground.size:
            jd, fr = self.clock.julian(t[ground])
            err, r, _ = propagate_rows(self.orbits, satellite[ground], jd, fr)
            epochs = _Epochs(r, err, gmst82_rad(jd, fr), sun_position_km(jd, fr))
            k = request[ground]
            off[ground], _, _, los[ground] = _earth(epochs, self.site[k], self.up[k])
        return los, off


def _stereo(
    problem: PlanningProblem,
    sights: _Sights,
    opportunities: Opportunities,
    owner: IntArray,
    t1: FloatArray,
    look: FloatArray,
    rate: FloatArray,
) -> tuple[
    IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray
]:
    """Pair each first look of a stereo opportunity with its earliest valid second look."""
    a, b = opportunities.start_s, opportunities.end_s
    fits = t1 + 2.0 * look[owner] <= b[owner]
    owner, t1 = owner[fits], t1[fits]
    d = look[owner]
    sat, req = opportunities.satellite[owner], opportunities.request[owner]
    los_first_end, off_first_end = sights.at(sat, req, t1 + d)
    los_first_mid, _ = sights.at(sat, req, t1 + 0.5 * d)

    # The second look's starts a + j STEREO_GRID_S, with its lines of sight there and
    # at the look's middle, once per opportunity.
    used = np.unique(owner)
    n_grid = np.zeros(a.size, dtype=np.int64)
    n_grid[used] = np.floor((b[used] - look[used] - a[used]) / STEREO_GRID_S) + 1
    base = np.cumsum(n_grid) - n_grid
    g_owner, j = _ranges(np.zeros(a.size, dtype=np.int64), n_grid)
    g_t = a[g_owner] + j * STEREO_GRID_S
    g_sat, g_req = opportunities.satellite[g_owner], opportunities.request[g_owner]
    g_los, g_off = sights.at(g_sat, g_req, g_t)
    g_los_mid, _ = sights.at(g_sat, g_req, g_t + 0.5 * look[g_owner])

    requests = problem.requests
    angle = np.array(
        [getattr(requests[int(i)], "stereo_angle_deg", np.nan) for i in req], dtype=float
    )
    j_next = np.ceil((t1 + d - a[owner]) / STEREO_GRID_S - 1e-9).astype(np.int64)
    j_end = n_grid[owner]
    second = np.full(owner.size, -1, dtype=np.int64)  # index into the grid, -1: none
    active = np.flatnonzero(j_next < j_end)
    block = STEREO_FIRST_BLOCK
    while active.size:
        # Try the next `block` starts of each unpaired first look, in order.
        count = np.minimum(block, j_end[active] - j_next[active])
        p_row, p_j = _ranges(j_next[active], count)
        p_row = active[p_row]
        gi = base[owner[p_row]] + p_j
        slew_angle = _angle_deg(los_first_end[p_row], g_los[gi])
        needed = np.empty(p_row.size)
        for s in np.unique(sat[p_row]):
            mine = sat[p_row] == s
            needed[mine] = problem.satellites[int(s)].agility.slew_s(slew_angle[mine])
        good = (g_t[gi] >= t1[p_row] + d[p_row] + needed) & (
            _angle_deg(los_first_mid[p_row], g_los_mid[gi]) >= angle[p_row]
        )
        hit_row, first_hit = np.unique(p_row[good], return_index=True)
        second[hit_row] = gi[np.flatnonzero(good)[first_hit]]
        j_next[active] += count
        active = active[(second[active] < 0) & (j_next[active] < j_end[active])]
        block = max(STEREO_FIRST_BLOCK, min(2 * block, STEREO_CHUNK_PAIRS // max(active.size, 1)))

    paired = np.flatnonzero(second >= 0)
    owner, t1, d, sat, req = owner[paired], t1[paired], d[paired], sat[paired], req[paired]
    gi = second[paired]
    t2 = g_t[gi]
    los_start, off_start = sights.at(sat, req, t1)
    end = np.minimum(t2 + d, b[owner])
    los_end, off_end = sights.at(sat, req, end)
    off = np.maximum.reduce([off_start, off_first_end[paired], g_off[gi], off_end])
    return owner, t1, end, t2, los_start, los_end, off, 2.0 * d * rate[sat]
