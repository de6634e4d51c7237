"""Find every pass of many satellites over many ground stations."""

from __future__ import annotations

import dataclasses
import multiprocessing
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jointsat.errors import InputError, TimeWindowError
from jointsat.orbits.elements import JD_UNIX_EPOCH, Elements
from jointsat.orbits.frames import (
    enu_basis,
    geodetic_to_ecef,
    gmst82_rad,
    teme_to_ecef,
)
from jointsat.orbits.propagation import (
    Satellite,
    error_message,
    group_satellites,
    propagate,
    propagate_rows,
)
from jointsat.orbits.stations import HorizonMask, Station
from jointsat.orbits.sun import is_sunlit, sun_position_km

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SatelliteId:
    """Name a satellite of a pass result: its catalog number and latest name."""

    norad_id: int
    name: str


@dataclass(frozen=True)
class PropagationProblem:
    """Report that SGP4 failed for a satellite from some time on (sgp4 error code).

    ``satellite`` indexes ``Passes.satellites``, like ``Passes.satellite``.
    """

    satellite: int
    time: datetime
    code: int
    message: str


@dataclass(frozen=True)
class Pass:
    """One pass of one satellite over one station, as a row."""

    satellite: SatelliteId
    station: Station
    aos: datetime
    tca: datetime
    los: datetime
    max_elevation_deg: float
    aos_azimuth_deg: float
    tca_azimuth_deg: float
    los_azimuth_deg: float
    sunlit: bool
    truncated: bool

    @property
    def duration_s(self) -> float:
        """Return the time between AOS and LOS in seconds."""
        return (self.los - self.aos).total_seconds()


@dataclass(frozen=True)
class Passes:
    """Hold passes column by column, sorted by AOS then satellite then station.

    Times are seconds after ``start``; ``satellite`` and ``station`` index
    ``satellites`` and ``stations``.
    """

    start: datetime
    end: datetime
    satellites: tuple[SatelliteId, ...]
    stations: tuple[Station, ...]
    satellite: IntArray
    station: IntArray
    aos_s: FloatArray
    tca_s: FloatArray
    los_s: FloatArray
    max_elevation_deg: FloatArray
    aos_azimuth_deg: FloatArray
    tca_azimuth_deg: FloatArray
    los_azimuth_deg: FloatArray
    sunlit: BoolArray
    truncated: BoolArray
    problems: tuple[PropagationProblem, ...] = ()

    def __len__(self) -> int:
        return int(self.aos_s.size)

    @property
    def duration_s(self) -> FloatArray:
        """Return each pass's duration from AOS to LOS in seconds."""
        return self.los_s - self.aos_s

    def time(self, seconds: float) -> datetime:
        """Return the UTC datetime ``seconds`` after the window's start."""
        return self.start + timedelta(seconds=float(seconds))

    def rows(self) -> list[Pass]:
        """Return the passes as a list of :class:`Pass` rows."""
        return [
            Pass(
                satellite=self.satellites[int(self.satellite[i])],
                station=self.stations[int(self.station[i])],
                aos=self.time(self.aos_s[i]),
                tca=self.time(self.tca_s[i]),
                los=self.time(self.los_s[i]),
                max_elevation_deg=float(self.max_elevation_deg[i]),
                aos_azimuth_deg=float(self.aos_azimuth_deg[i]),
                tca_azimuth_deg=float(self.tca_azimuth_deg[i]),
                los_azimuth_deg=float(self.los_azimuth_deg[i]),
                sunlit=bool(self.sunlit[i]),
                truncated=bool(self.truncated[i]),
            )
            for i in range(len(self))
        ]


def find_passes(
    elements: Sequence[Elements],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    *,
    min_elevation_deg: float = 0.0,
    workers: int = 1,
    progress: ProgressCallback | None = None,
) -> Passes:
    """Find every pass of every satellite over every station between start and end.

    Several element sets of one catalog number are one satellite: each time
    uses the set whose epoch is nearest. ``min_elevation_deg`` applies to
    stations whose own ``min_elevation_deg`` is None; a station's horizon mask,
    when set, applies on top of its minimum elevation. ``workers`` > 1 splits
    the satellites among that many processes (SGP4 holds the GIL, so threads
    would not help). ``progress(done, total)`` is called as work advances.

    AOS and LOS are the times the elevation crosses the station's threshold,
    TCA the time of greatest elevation. Passes cut by the window's edges are
    clipped to it and flagged ``truncated``.
    """
    start, end = _check_window(start, end)
    satellites = group_satellites(elements)
    sites = _Sites.build(stations, min_elevation_deg)
    if workers > 1 and len(satellites) > 1:
        return _in_processes(satellites, stations, start, end, min_elevation_deg, workers, progress)
    duration_s = (end - start).total_seconds()
    window = _Window(*split_julian(start), duration_s)

    plan = _plan_chunks(satellites, sites.count, duration_s)
    found: list[_Found] = []
    problems: list[PropagationProblem] = []
    for done, (step_s, members) in enumerate(plan, start=1):
        chunk = [satellites[i] for i in members]
        result, chunk_problems = _scan(chunk, np.asarray(members), step_s, window, sites)
        found.append(result)
        problems.extend(
            PropagationProblem(i, start + timedelta(seconds=t), code, error_message(code))
            for i, t, code in chunk_problems
        )
        if progress is not None:
            progress(done, len(plan))
    passes = _finish(_Found.concat(found), satellites, window, sites)
    return Passes(
        start=start,
        end=end,
        satellites=tuple(SatelliteId(s.norad_id, s.name) for s in satellites),
        stations=tuple(stations),
        problems=tuple(sorted(problems, key=lambda p: (p.satellite, p.time))),
        **passes,
    )


def _in_processes(
    satellites: Sequence[Satellite],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    min_elevation_deg: float,
    workers: int,
    progress: ProgressCallback | None,
) -> Passes:
    """Run find_passes on blocks of satellites in worker processes and merge the results.

    Propagators cannot be pickled: each worker gets element records and builds
    its own.
    """
    blocks = [list(b) for b in np.array_split(np.arange(len(satellites)), workers) if b.size]
    jobs = [
        (
            [e for i in block for e in satellites[i].element_sets],
            stations,
            start,
            end,
            min_elevation_deg,
        )
        for block in blocks
    ]
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    results: list[Passes | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=len(jobs), mp_context=context) as pool:
        futures = {pool.submit(_find_passes_job, job): n for n, job in enumerate(jobs)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(done, len(jobs))
    parts = [r for r in results if r is not None]
    offsets = np.cumsum([0] + [len(p.satellites) for p in parts])
    columns = {
        name: np.concatenate(
            [
                getattr(p, name) + (offsets[n] if name == "satellite" else 0)
                for n, p in enumerate(parts)
            ]
        )
        for name in _COLUMNS
    }
    order = np.lexsort((columns["station"], columns["satellite"], columns["aos_s"]))
    problems = [
        dataclasses.replace(q, satellite=q.satellite + int(offsets[n]))
        for n, p in enumerate(parts)
        for q in p.problems
    ]
    return Passes(
        start=start,
        end=end,
        satellites=tuple(s for p in parts for s in p.satellites),
        stations=tuple(stations),
        problems=tuple(sorted(problems, key=lambda q: (q.satellite, q.time))),
        **{name: values[order] for name, values in columns.items()},
    )


def _find_passes_job(
    job: tuple[list[Elements], Sequence[Station], datetime, datetime, float],
) -> Passes:
    elements, stations, start, end, min_elevation_deg = job
    return find_passes(elements, stations, start, end, min_elevation_deg=min_elevation_deg)


_COLUMNS = tuple(
    f.name
    for f in dataclasses.fields(Passes)
    if f.name not in ("start", "end", "satellites", "stations", "problems")
)  # the per-pass arrays


# --- the engine ---------------------------------------------------------------
#
# 1. Each satellite is propagated once on a grid whose step keeps the angle it
#    sweeps per step under SWEEP_PER_STEP_RAD, and rotated to Earth-fixed.
# 2. Cull: between two samples the satellite's geocentric direction moves by at
#    most (angular-rate bound x step), so an interval whose two end angles from
#    the station's vertical are both too far from the visibility cap cannot
#    hold any visible moment. This bound is what keeps grazing passes: it does
#    not trust the samples' elevations.
# 3. On the few candidate intervals left, the trajectory is a cubic Hermite
#    interpolant of the exact states at its ends; the elevation's extremum in
#    the interval is found by bracketing the root of its derivative, evaluated
#    exactly with SGP4, and the interpolant is corrected to pass through it.
# 4. Threshold crossings are bracketed on the monotone pieces between those
#    points, then polished with one Newton step on exact SGP4 states.
# Everything runs on arrays: no Python loop over passes or station pairs.

# Largest geocentric angle (rad) a satellite may sweep between two grid samples.
# The cull is rigorous for any step; this keeps the interpolant accurate (error
# about sweep^4 x radius / 384, under half a kilometre) and the elevation within
# one step free of more than one extremum.
SWEEP_PER_STEP_RAD = 0.6
STEP_LADDER_S = (
    15.0,
    20.0,
    30.0,
    45.0,
    60.0,
    90.0,
    120.0,
    180.0,
    240.0,
    300.0,
    360.0,
    480.0,
    600.0,
    720.0,
    900.0,
)
# Extra central angle allowed by the cull for the ellipsoid's departure from a
# sphere and the geodetic vertical's from the geocentric one (about 0.2 deg).
CULL_MARGIN_RAD = float(np.radians(0.5))
# Sine of elevation within which an extremum of the interpolant is checked
# against exact SGP4: about 3 degrees, well above the interpolant's error.
INTERPOLATION_MARGIN_SINE = 0.05
# Array elements (satellites x stations x samples) scanned in one chunk.
CHUNK_ELEMENTS = 500_000
ROOT_ITERATIONS = 20
# Root searches stop when an estimate moves less than this fraction of a step
# (40 ms at a LEO step). A crossing then gets a Newton step on exact states,
# which leaves it within about a millisecond; at an extremum 40 ms leaves the elevation
# off its peak by under a thousandth of a degree.
ROOT_TOLERANCE = 1e-4
# Newton steps on exact states polish a crossing until the estimated error is
# under NEWTON_ERROR_S; a step longer than NEWTON_TRUST_S, out of the bracket,
# or the iterations running out send it to bracketing on exact states.
NEWTON_ITERATIONS = 3
NEWTON_TRUST_S = 2.0
NEWTON_ERROR_S = 1e-3
EXACT_ROOT_TOLERANCE_S = 1e-4
DAY_S = 86400.0


@dataclass(frozen=True)
class _Window:
    jd0: float
    fr0: float
    duration_s: float

    def julian(self, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        return np.full(np.shape(t_s), self.jd0), self.fr0 + np.asarray(t_s) / DAY_S


@dataclass(frozen=True)
class _Sites:
    count: int
    ecef_km: FloatArray  # (M, 3)
    enu: FloatArray  # (M, 3, 3)
    up: FloatArray  # (M, 3) geodetic vertical
    unit: FloatArray  # (M, 3) geocentric direction
    radius_km: FloatArray  # (M,)
    threshold_deg: FloatArray  # (M,) lowest elevation that can count anywhere
    sin_threshold: FloatArray  # (M,)
    min_elevation_deg: FloatArray  # (M,) the station's own minimum, mask aside
    masks: tuple[HorizonMask | None, ...]

    def limit_deg(self, station: IntArray, azimuth_deg: FloatArray) -> FloatArray:
        """Return the elevation a satellite must reach at each (station, azimuth) row."""
        limit = self.min_elevation_deg[station].copy()
        for m, mask in enumerate(self.masks):
            if mask is not None:
                rows = station == m
                limit[rows] = np.maximum(limit[rows], mask.elevation_at(azimuth_deg[rows]))
        return limit

    @classmethod
    def build(cls, stations: Sequence[Station], default_min_deg: float) -> _Sites:
        if not -90.0 <= default_min_deg < 90.0:
            raise InputError(f"min_elevation_deg {default_min_deg} is outside [-90, 90)")
        lat = np.array([s.lat_deg for s in stations], dtype=float)
        lon = np.array([s.lon_deg for s in stations], dtype=float)
        alt = np.array([s.alt_m for s in stations], dtype=float)
        ecef = geodetic_to_ecef(lat, lon, alt).reshape(-1, 3)
        enu = enu_basis(lat, lon).reshape(-1, 3, 3)
        radius = np.linalg.norm(ecef, axis=-1)
        own = np.array(
            [
                default_min_deg if s.min_elevation_deg is None else s.min_elevation_deg
                for s in stations
            ],
            dtype=float,
        )
        masks = tuple(s.horizon_mask for s in stations)
        threshold = np.array(
            [
                low if mask is None else max(low, mask.min_elevation_deg)
                for low, mask in zip(own, masks, strict=True)
            ],
            dtype=float,
        )
        return cls(
            count=len(stations),
            ecef_km=ecef,
            enu=enu,
            up=enu[:, 2, :],
            unit=ecef / radius[:, None],
            radius_km=radius,
            threshold_deg=threshold,
            sin_threshold=np.sin(np.radians(threshold)),
            min_elevation_deg=own,
            masks=masks,
        )


def _check_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    for label, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise TimeWindowError(f"{label} {value.isoformat()} has no time zone; give UTC")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise TimeWindowError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    return start, end


def split_julian(moment: datetime) -> tuple[float, float]:
    """Return a UTC datetime as a split Julian date (jd at midnight, fraction of the day)."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    days = (midnight - datetime(1970, 1, 1, tzinfo=UTC)).days
    return JD_UNIX_EPOCH + days, (moment - midnight).total_seconds() / DAY_S


_split_julian = split_julian  # the name used before it was public


def _step_s(satellite: Satellite) -> float:
    limit = SWEEP_PER_STEP_RAD / satellite.max_angular_rate_rad_s
    fitting = [s for s in STEP_LADDER_S if s <= limit]
    return fitting[-1] if fitting else STEP_LADDER_S[0]


def _plan_chunks(
    satellites: Sequence[Satellite], n_stations: int, duration_s: float
) -> list[tuple[float, list[int]]]:
    by_step: dict[float, list[int]] = {}
    for i, s in enumerate(satellites):
        by_step.setdefault(_step_s(s), []).append(i)
    plan: list[tuple[float, list[int]]] = []
    for step_s, members in sorted(by_step.items()):
        samples = int(np.ceil(duration_s / step_s)) + 1
        per_chunk = max(1, CHUNK_ELEMENTS // max(1, samples * n_stations))
        plan.extend((step_s, members[i : i + per_chunk]) for i in range(0, len(members), per_chunk))
    return plan


@dataclass(frozen=True)
class _Found:
    """Threshold crossings and elevation maxima found by the scan, per pair."""

    # crossings: +1 rise, -1 set; c_polish is False for the synthetic ones at run edges
    c_sat: IntArray
    c_station: IntArray
    c_t: FloatArray
    c_sign: IntArray
    c_lo: FloatArray  # bracket of the crossing (for the Newton safeguard)
    c_hi: FloatArray
    c_peak: FloatArray  # the elevation extremum ending the bracket, NaN if none
    c_polish: BoolArray
    # candidate maxima: exact sine of elevation and position
    m_sat: IntArray
    m_station: IntArray
    m_t: FloatArray
    m_f: FloatArray
    m_r_ecef: FloatArray
    m_r_teme: FloatArray

    @classmethod
    def concat(cls, parts: Sequence[_Found]) -> _Found:
        if not parts:
            return cls(**{name: _EMPTY[name] for name in cls.__dataclass_fields__})
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )


_EMPTY: dict[str, NDArray[Any]] = {
    **{name: np.zeros(0, dtype=np.int64) for name in ("c_sat", "c_station", "c_sign")},
    **{name: np.zeros(0, dtype=np.int64) for name in ("m_sat", "m_station")},
    **{name: np.zeros(0) for name in ("c_t", "c_lo", "c_hi", "c_peak", "m_t", "m_f")},
    "c_polish": np.zeros(0, dtype=bool),
    "m_r_ecef": np.zeros((0, 3)),
    "m_r_teme": np.zeros((0, 3)),
}


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    """Return the dot products of two stacks of 3-vectors."""
    return np.asarray(a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2])


def _sine_elevation(
    rho: FloatArray, rho_dot: FloatArray, up: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return sin(elevation) and its time derivative from relative position and velocity."""
    dist = np.sqrt(_dot(rho, rho))
    height = _dot(rho, up)
    f = height / dist
    df = (_dot(rho_dot, up) - f * _dot(rho, rho_dot) / dist) / dist
    return f, df


_ALL = slice(None)


def _horner(coefficients: FloatArray, u: FloatArray) -> FloatArray:
    """Evaluate row i's polynomial (coefficients by rising power) at u[i]."""
    acc = coefficients[:, -1].copy()
    for k in range(coefficients.shape[1] - 2, -1, -1):
        acc *= u
        acc += coefficients[:, k]
    return acc


@dataclass(frozen=True)
class _Cubic:
    """Sine of elevation along a cubic Hermite trajectory, as polynomials in u in [0, 1].

    With the relative position rho(u) a cubic, its height above the station's
    horizon plane ``height(u)`` is a cubic and ``|rho(u)|^2`` a sextic, so
    sin(elevation) = height / sqrt(range^2) and the sign of its derivative,
    ``height' range^2 - height (range^2)' / 2``, a polynomial of degree 8.
    """

    height: FloatArray  # (C, 4)
    range_sq: FloatArray  # (C, 7)

    @classmethod
    def hermite(
        cls,
        rho0: FloatArray,
        v0: FloatArray,
        rho1: FloatArray,
        v1: FloatArray,
        step_s: float,
        up: FloatArray,
    ) -> _Cubic:
        d0, d1 = v0 * step_s, v1 * step_s
        a = (rho0, d0, 3.0 * (rho1 - rho0) - 2.0 * d0 - d1, 2.0 * (rho0 - rho1) + d0 + d1)
        height = np.stack([_dot(ak, up) for ak in a], axis=1)
        range_sq = np.zeros((rho0.shape[0], 7))
        for j in range(4):
            for k in range(j, 4):
                range_sq[:, j + k] += (1.0 if j == k else 2.0) * _dot(a[j], a[k])
        return cls(height, range_sq)

    def take(self, rows: IntArray) -> _Cubic:
        return _Cubic(self.height[rows], self.range_sq[rows])

    def slope(self) -> FloatArray:
        """Return the polynomials (C, 9) with the sign of d sin(elevation) / du."""
        d_height = self.height[:, 1:] * np.arange(1, 4)
        d_range_sq = self.range_sq[:, 1:] * np.arange(1, 7)
        slope = np.zeros((self.height.shape[0], 9))
        for j in range(3):
            slope[:, j : j + 7] += d_height[:, j : j + 1] * self.range_sq
        for j in range(4):
            slope[:, j : j + 6] -= 0.5 * self.height[:, j : j + 1] * d_range_sq
        return slope

    def sine(self, u: FloatArray, rows: IntArray | slice = _ALL) -> FloatArray:
        """Return sin(elevation) at u (of the given rows)."""
        height = _horner(self.height[rows], u)
        return np.asarray(height / np.sqrt(_horner(self.range_sq[rows], u)))


def _bracket_root(
    fun: Callable[[FloatArray, IntArray | slice], FloatArray],
    lo: FloatArray,
    hi: FloatArray,
    f_lo: FloatArray,
    f_hi: FloatArray,
    tolerance: float,
) -> FloatArray:
    """Return a root of fun in each [lo, hi] where f_lo and f_hi differ in sign.

    Regula falsi with the Illinois modification, vectorised: the estimate stays
    inside its bracket and converges superlinearly. ``fun(u, rows)`` evaluates
    the functions of the given rows.
    """
    lo, hi, f_lo, f_hi = lo.copy(), hi.copy(), f_lo.copy(), f_hi.copy()
    x = np.full(lo.shape, np.nan)  # no estimate yet: the first step always counts as a move
    kept_lo = np.zeros(lo.shape, dtype=bool)
    kept_hi = np.zeros(lo.shape, dtype=bool)
    active = np.arange(lo.size)  # each row stops on its own, whatever rows it shares a call with
    for _ in range(ROOT_ITERATIONS):
        if active.size == 0:
            break
        a_lo, a_hi, af_lo, af_hi = lo[active], hi[active], f_lo[active], f_hi[active]
        denom = af_hi - af_lo
        safe = denom != 0.0
        x_new = np.where(
            safe, (a_lo * af_hi - a_hi * af_lo) / np.where(safe, denom, 1.0), 0.5 * (a_lo + a_hi)
        )
        np.clip(x_new, a_lo, a_hi, out=x_new)
        fx = fun(x_new, _ALL if active.size == lo.size else active)
        moved = np.abs(x_new - x[active])
        x[active] = x_new
        left = (fx > 0.0) == (af_lo > 0.0)  # the root lies in [x, hi]
        # Illinois: halve the value kept at the stale end when it is kept twice.
        af_hi = np.where(left & kept_hi[active], 0.5 * af_hi, af_hi)
        af_lo = np.where(~left & kept_lo[active], 0.5 * af_lo, af_lo)
        lo[active] = np.where(left, x_new, a_lo)
        f_lo[active] = np.where(left, fx, af_lo)
        hi[active] = np.where(left, a_hi, x_new)
        f_hi[active] = np.where(left, af_hi, fx)
        kept_hi[active], kept_lo[active] = left, ~left
        active = active[~(moved <= tolerance)]
    return x


def _scan(
    chunk: Sequence[Satellite], members: IntArray, step_s: float, window: _Window, sites: _Sites
) -> tuple[_Found, list[tuple[int, float, int]]]:
    """Scan a chunk of satellites sharing one step: crossings and maxima per pair."""
    samples = int(np.ceil(window.duration_s / step_s)) + 1
    t_grid = step_s * np.arange(samples, dtype=float)
    jd, fr = window.julian(t_grid)
    err, r_teme, v_teme = propagate(chunk, jd, fr)
    problems = []
    for row in np.flatnonzero(err.any(axis=1)):
        k = int(np.argmax(err[row] != 0))
        problems.append((int(members[row]), float(t_grid[k]), int(err[row, k])))
    gmst = gmst82_rad(jd, fr)
    r_ecef, v_ecef = teme_to_ecef(r_teme, v_teme, gmst)

    # Cull by the central angle between the satellite and the station's vertical.
    radius = np.linalg.norm(r_ecef, axis=-1)  # (n, T)
    cos_angle = (r_ecef / radius[..., None]) @ sites.unit.T  # (n, T, M)
    r_max = np.array([s.max_radius_km for s in chunk])
    elev = np.radians(sites.threshold_deg)
    ratio = sites.radius_km[None, :] * np.cos(elev)[None, :] / r_max[:, None]
    cap = np.arccos(np.clip(ratio, -1.0, 1.0)) - elev[None, :] + CULL_MARGIN_RAD  # (n, M)
    sweep = np.array([s.max_angular_rate_rad_s for s in chunk]) * step_s
    # An interval can hold a visible moment only if its nearer end lies within
    # cap + sweep (a cheap test on cosines); the exact bound then uses both ends.
    reach = np.cos(np.minimum(cap + sweep[:, None], np.pi))[:, None, :]
    near = np.maximum(cos_angle[:, :-1], cos_angle[:, 1:]) >= reach  # (n, T-1, M)
    s_i, m_i, k_i = np.nonzero(near.transpose(0, 2, 1))  # ordered by pair, then time
    a0 = np.arccos(np.clip(cos_angle[s_i, k_i, m_i], -1.0, 1.0))
    a1 = np.arccos(np.clip(cos_angle[s_i, k_i + 1, m_i], -1.0, 1.0))
    keep = 0.5 * (a0 + a1 - sweep[s_i]) <= cap[s_i, m_i]
    s_i, m_i, k_i = s_i[keep], m_i[keep], k_i[keep]
    sat = members[s_i]

    # Exact values at both ends of each candidate interval.
    up = sites.up[m_i]
    rho0 = r_ecef[s_i, k_i] - sites.ecef_km[m_i]
    rho1 = r_ecef[s_i, k_i + 1] - sites.ecef_km[m_i]
    v0, v1 = v_ecef[s_i, k_i], v_ecef[s_i, k_i + 1]
    f0, df0 = _sine_elevation(rho0, v0, up)
    f1, df1 = _sine_elevation(rho1, v1, up)
    thresh = sites.sin_threshold[m_i]
    t0 = t_grid[k_i]
    n_c = s_i.size

    # Only intervals with an extremum inside or a crossing at their ends need
    # the interpolant: most candidates are near misses, monotone and below.
    has_ext = np.sign(df0) * np.sign(df1) < 0
    work = np.flatnonzero(has_ext | ((f0 - thresh) * (f1 - thresh) < 0))
    cubic = _Cubic.hermite(rho0[work], v0[work], rho1[work], v1[work], step_s, up[work])
    w_thresh = thresh[work]

    # The extremum inside an interval, located on the interpolant; where it
    # comes near the threshold it is evaluated exactly and the interpolant is
    # corrected (linearly in u on each side) to pass through the exact value.
    w_ext = np.flatnonzero(has_ext[work])
    part = cubic.take(w_ext)
    zeros, ones = np.zeros(w_ext.size), np.ones(w_ext.size)
    slope = part.slope()
    u_ext = _bracket_root(
        lambda u, rows: _horner(slope[rows], u),
        zeros,
        ones,
        slope[:, 0].copy(),
        slope.sum(axis=1),
        ROOT_TOLERANCE,
    )
    f_ext = part.sine(u_ext)
    is_max = df0[work[w_ext]] > 0
    checked = np.where(
        is_max,
        f_ext >= w_thresh[w_ext] - INTERPOLATION_MARGIN_SINE,
        f_ext <= w_thresh[w_ext] + INTERPOLATION_MARGIN_SINE,
    )
    exact = w_ext[checked]
    e_rows = work[exact]
    t_ext = t0[e_rows] + u_ext[checked] * step_s
    at_ext = _exact(chunk, window, sites, s_i[e_rows], m_i[e_rows], t_ext)
    f_exact = np.where(np.isfinite(at_ext.sine), at_ext.sine, -2.0)  # SGP4 failed: not visible

    n_w = work.size
    u_mid = np.full(n_w, np.nan)  # NaN: no extremum, one piece [0, 1]
    u_mid[w_ext] = u_ext
    f_mid = np.full(n_w, np.nan)
    f_mid[w_ext] = f_ext
    bias = np.zeros(n_w)
    bias[exact] = f_exact - f_ext[checked]
    f_mid += bias
    w_f0, w_f1 = f0[work], f1[work]
    split = np.isfinite(u_mid)

    # Monotone pieces [0, u_mid] and [u_mid, 1] (or [0, 1]) holding a crossing.
    piece_row = np.concatenate([np.arange(n_w), w_ext])
    piece_lo = np.concatenate([np.zeros(n_w), u_ext])
    piece_hi = np.concatenate([np.where(split, u_mid, 1.0), ones])
    piece_f_lo = np.concatenate([w_f0, f_mid[w_ext]]) - w_thresh[piece_row]
    piece_f_hi = np.concatenate([np.where(split, f_mid, w_f1), w_f1[w_ext]]) - w_thresh[piece_row]
    cross = np.flatnonzero(piece_f_lo * piece_f_hi < 0)
    c_row = piece_row[cross]
    c_cubic = cubic.take(c_row)
    c_mid, c_bias, c_thresh = u_mid[c_row], bias[c_row], w_thresh[c_row]
    c_lo, c_hi = piece_lo[cross], piece_hi[cross]
    c_peak = np.where(cross >= n_w, c_lo, np.where(np.isfinite(c_mid), c_hi, np.nan))

    def corrected(u: FloatArray, rows: IntArray | slice) -> FloatArray:
        mid, bias_r = c_mid[rows], c_bias[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(u <= mid, u / mid, (1.0 - u) / (1.0 - mid))
        return np.asarray(
            c_cubic.sine(u, rows) + np.where(bias_r != 0.0, bias_r * weight, 0.0) - c_thresh[rows]
        )

    u_cross = _bracket_root(
        corrected, c_lo, c_hi, piece_f_lo[cross], piece_f_hi[cross], ROOT_TOLERANCE
    )
    c_rows = work[c_row]

    # Runs of consecutive candidate intervals of one pair; a run that begins or
    # ends above the threshold (window edge, or SGP4 failing) gets a synthetic
    # crossing there.
    new_run = np.ones(n_c, dtype=bool)
    new_run[1:] = (s_i[1:] != s_i[:-1]) | (m_i[1:] != m_i[:-1]) | (k_i[1:] != k_i[:-1] + 1)
    end_run = np.ones(n_c, dtype=bool)
    end_run[:-1] = new_run[1:]
    opens = np.flatnonzero(new_run & (f0 >= thresh))
    closes = np.flatnonzero(end_run & (f1 >= thresh))
    peaks = np.flatnonzero((new_run | (df0 == 0.0)) & (f0 >= thresh))

    def cat(*parts: NDArray[Any]) -> NDArray[Any]:
        return np.concatenate(parts)

    found = _Found(
        c_sat=cat(sat[opens], sat[c_rows], sat[closes]),
        c_station=cat(m_i[opens], m_i[c_rows], m_i[closes]),
        c_t=cat(t0[opens], t0[c_rows] + u_cross * step_s, t0[closes] + step_s),
        c_sign=cat(
            np.ones(opens.size, dtype=np.int64),
            np.where(piece_f_hi[cross] > piece_f_lo[cross], 1, -1),
            -np.ones(closes.size, dtype=np.int64),
        ),
        c_lo=cat(t0[opens], t0[c_rows] + c_lo * step_s, t0[closes] + step_s),
        c_hi=cat(t0[opens], t0[c_rows] + c_hi * step_s, t0[closes] + step_s),
        c_peak=cat(
            np.full(opens.size, np.nan), t0[c_rows] + c_peak * step_s, np.full(closes.size, np.nan)
        ),
        c_polish=cat(
            np.zeros(opens.size, dtype=bool),
            np.ones(c_rows.size, dtype=bool),
            np.zeros(closes.size, dtype=bool),
        ),
        # Candidate maxima: the extrema evaluated exactly, and the samples where a
        # run opens or closes above the threshold (a pass cut by the window or by
        # SGP4 failing peaks there when no extremum lies inside) or where the
        # elevation is flat.
        m_sat=cat(sat[e_rows], sat[peaks], sat[closes]),
        m_station=cat(m_i[e_rows], m_i[peaks], m_i[closes]),
        m_t=cat(t_ext, t0[peaks], t0[closes] + step_s),
        m_f=cat(f_exact, f0[peaks], f1[closes]),
        m_r_ecef=cat(
            at_ext.r_ecef, r_ecef[s_i[peaks], k_i[peaks]], r_ecef[s_i[closes], k_i[closes] + 1]
        ),
        m_r_teme=cat(
            at_ext.r_teme, r_teme[s_i[peaks], k_i[peaks]], r_teme[s_i[closes], k_i[closes] + 1]
        ),
    )
    return found, problems


@dataclass(frozen=True)
class _Exact:
    """Exact SGP4 states of (satellite, station, time) rows, seen from the station."""

    r_teme: FloatArray
    r_ecef: FloatArray
    sine: FloatArray  # sin(elevation), NaN where SGP4 failed
    sine_rate: FloatArray  # its time derivative (1/s)
    azimuth_deg: FloatArray
    azimuth_rate_deg_s: FloatArray

    @property
    def elevation_deg(self) -> FloatArray:
        return np.asarray(np.degrees(np.arcsin(np.clip(self.sine, -1.0, 1.0))))


def _exact(
    satellites: Sequence[Satellite],
    window: _Window,
    sites: _Sites,
    sat: IntArray,
    station: IntArray,
    t_s: FloatArray,
) -> _Exact:
    jd, fr = window.julian(t_s)
    _, r, v = propagate_rows(satellites, sat, jd, fr)
    r_ecef, v_ecef = teme_to_ecef(r, v, gmst82_rad(jd, fr))
    rho = r_ecef - sites.ecef_km[station]
    f, df = _sine_elevation(rho, v_ecef, sites.up[station])
    enu = sites.enu[station]
    east, north = _dot(rho, enu[:, 0]), _dot(rho, enu[:, 1])
    east_rate, north_rate = _dot(v_ecef, enu[:, 0]), _dot(v_ecef, enu[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        az_rate = (north * east_rate - east * north_rate) / (east * east + north * north)
    return _Exact(r, r_ecef, f, df, _azimuth(rho, enu), np.degrees(az_rate))


def _exact_crossing(
    satellites: Sequence[Satellite],
    window: _Window,
    sites: _Sites,
    sat: IntArray,
    station: IntArray,
    lo: FloatArray,
    hi: FloatArray,
) -> FloatArray:
    """Return where the exact elevation crosses the threshold in each bracket [lo, hi] (s)."""
    threshold = sites.sin_threshold[station]
    f_lo = _exact(satellites, window, sites, sat, station, lo).sine - threshold
    f_hi = _exact(satellites, window, sites, sat, station, hi).sine - threshold

    def exact(t: FloatArray, rows: IntArray | slice) -> FloatArray:
        at = _exact(satellites, window, sites, sat[rows], station[rows], t)
        return np.asarray(at.sine - threshold[rows])

    span = np.maximum(hi - lo, 1e-9)
    u = _bracket_root(
        lambda u_, rows: exact(lo[rows] + u_ * span[rows], rows),
        np.zeros(lo.size),
        np.ones(lo.size),
        f_lo,
        f_hi,
        EXACT_ROOT_TOLERANCE_S / float(span.max(initial=1.0)),
    )
    return np.asarray(lo + u * span)


def _finish(
    found: _Found, satellites: Sequence[Satellite], window: _Window, sites: _Sites
) -> dict[str, Any]:
    """Pair rises with sets, pick each pass's maximum, polish and clip to the window."""
    n_st = max(sites.count, 1)
    pair = found.c_sat * n_st + found.c_station
    order = np.lexsort((-found.c_sign, found.c_t, pair))
    pair, sign = pair[order], found.c_sign[order]
    c_t, lo, hi = found.c_t[order], found.c_lo[order], found.c_hi[order]
    polish = found.c_polish[order]
    # Rises and sets alternate within a pair by construction; pair each rise
    # with the set that follows it.
    rise = np.flatnonzero(sign[:-1] > 0)
    rise = rise[(sign[rise + 1] < 0) & (pair[rise + 1] == pair[rise])]
    sett = rise + 1
    pass_pair = pair[rise]
    sat, station = pass_pair // n_st, pass_pair % n_st

    # Polish the real crossings by Newton steps on exact states: one is enough
    # unless its estimated error is large (next to a grazing peak the elevation
    # is far from linear in time); a crossing that will not settle is found
    # again by bracketing on exact states.
    ends = np.concatenate([rise, sett])
    ends = ends[polish[ends]]
    t_cross, az_cross = c_t.copy(), np.full(c_t.size, np.nan)
    peak = found.c_peak[order]
    pending, hard = ends, []
    for iteration in range(NEWTON_ITERATIONS):
        p_sat, p_station = pair[pending] // n_st, pair[pending] % n_st
        at = _exact(satellites, window, sites, p_sat, p_station, t_cross[pending])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -(at.sine - sites.sin_threshold[p_station]) / at.sine_rate
            # Newton's error is about step^2 f''/(2 f'); near a peak f''/f' is
            # about 1/(distance to the peak), which is at least the distance to
            # the bracket's nearer end when no peak ends the bracket. After one
            # step, the next step is the error of the last.
            t_p = t_cross[pending]
            to_peak = np.where(
                np.isnan(peak[pending]),
                np.minimum(t_p - lo[pending], hi[pending] - t_p),
                np.abs(t_p - peak[pending]),
            )
            error = step**2 / (2.0 * to_peak) if iteration == 0 else np.abs(step)
        t_new = t_cross[pending] + step
        sane = (
            (np.sign(at.sine_rate) == sign[pending])
            & (t_new > lo[pending])
            & (t_new < hi[pending])
            & (np.abs(step) <= NEWTON_TRUST_S)
        )
        hard.append(pending[~sane])
        moved = pending[sane]
        t_cross[moved] = t_new[sane]
        az_cross[moved] = np.mod(at.azimuth_deg + at.azimuth_rate_deg_s * step, 360.0)[sane]
        pending = pending[sane & ~(error <= NEWTON_ERROR_S)]
        if pending.size == 0:
            break
    hard_ends = np.concatenate([*hard, pending])
    if hard_ends.size:
        t_cross[hard_ends] = _exact_crossing(
            satellites,
            window,
            sites,
            pair[hard_ends] // n_st,
            pair[hard_ends] % n_st,
            lo[hard_ends],
            hi[hard_ends],
        )
        az_cross[hard_ends] = np.nan  # recomputed below
    aos, los = t_cross[rise], t_cross[sett]
    aos_az, los_az = az_cross[rise], az_cross[sett]

    # The maximum of each pass among the candidate maxima of its pair. Passes
    # of one pair never overlap, so each candidate belongs to at most one.
    m_pair = found.m_sat * n_st + found.m_station
    span = 2.0 * (max(float(found.m_t.max(initial=0.0)), float(c_t.max(initial=0.0))) + 1.0)
    m_key = m_pair * span + found.m_t
    owner = np.searchsorted(pass_pair * span + aos, m_key, side="right") - 1
    clamped = np.clip(owner, 0, max(rise.size - 1, 0))
    inside = (owner >= 0) & (rise.size > 0)
    if rise.size:
        inside &= m_key <= pass_pair[clamped] * span + los[clamped]
    cand = np.flatnonzero(inside)
    cand = cand[np.lexsort((-found.m_f[cand], owner[cand]))]
    holder, first = np.unique(owner[cand], return_index=True)
    best = cand[first]
    # Every pass holds an extremum or a run's end; should rounding ever leave one
    # without, its middle is evaluated instead.
    tca = 0.5 * (aos + los)
    tca[holder] = found.m_t[best]
    has_peak = np.zeros(rise.size, dtype=bool)
    has_peak[holder] = True
    lone = np.flatnonzero(~has_peak)
    at = _exact(satellites, window, sites, sat[lone], station[lone], tca[lone])
    f_max = np.empty(rise.size)
    r_ecef, r_teme = np.empty((rise.size, 3)), np.empty((rise.size, 3))
    f_max[holder], r_ecef[holder], r_teme[holder] = (
        found.m_f[best],
        found.m_r_ecef[best],
        found.m_r_teme[best],
    )
    f_max[lone], r_ecef[lone], r_teme[lone] = at.sine, at.r_ecef, at.r_teme

    # Clip to the window; recompute what the clipping or a synthetic end moved.
    end = window.duration_s
    truncated = ~polish[rise] | ~polish[sett] | (los > end)
    keep = aos < end
    sat, station, aos, los, tca, f_max = (a[keep] for a in (sat, station, aos, los, tca, f_max))
    r_ecef, r_teme, truncated = r_ecef[keep], r_teme[keep], truncated[keep]
    aos_az, los_az = aos_az[keep], los_az[keep]
    los_az[los > end] = np.nan
    los = np.minimum(los, end)
    late = np.flatnonzero(tca > los)  # the pass peaks after the window: it peaks at its end
    tca[late] = los[late]
    if late.size:
        at = _exact(satellites, window, sites, sat[late], station[late], tca[late])
        f_max[late], r_ecef[late], r_teme[late] = at.sine, at.r_ecef, at.r_teme
    for times, az in ((aos, aos_az), (los, los_az)):
        missing = np.flatnonzero(np.isnan(az))
        if missing.size:
            az[missing] = _exact(
                satellites, window, sites, sat[missing], station[missing], times[missing]
            ).azimuth_deg

    columns = {
        "satellite": sat.astype(np.int64),
        "station": station.astype(np.int64),
        "aos_s": aos,
        "tca_s": tca,
        "los_s": los,
        "max_elevation_deg": np.degrees(np.arcsin(np.clip(f_max, -1.0, 1.0))),
        "aos_azimuth_deg": aos_az,
        "tca_azimuth_deg": _azimuth(r_ecef - sites.ecef_km[station], sites.enu[station]),
        "los_azimuth_deg": los_az,
        "sunlit": is_sunlit(r_teme, sun_position_km(*window.julian(tca))),
        "truncated": truncated,
    }
    if any(mask is not None for mask in sites.masks):
        columns = _apply_masks(columns, satellites, window, sites)
    final = np.lexsort((columns["station"], columns["satellite"], columns["aos_s"]))
    return {name: values[final] for name, values in columns.items()}


# Sampling step (s) along a pass when a horizon mask may cut it; the crossings
# found between samples are then bisected on exact states to a millisecond.
MASK_SAMPLE_S = 1.0
MASK_BISECTIONS = 12


def _apply_masks(
    columns: dict[str, Any], satellites: Sequence[Satellite], window: _Window, sites: _Sites
) -> dict[str, Any]:
    """Cut the passes over masked stations to where the elevation clears the mask.

    A pass found above the mask's lowest point is sampled every MASK_SAMPLE_S
    seconds; each stretch above the mask becomes a pass of its own.
    """
    masked_station = np.array([mask is not None for mask in sites.masks])
    hit = np.flatnonzero(masked_station[columns["station"]])
    if hit.size == 0:
        return columns
    aos, los = columns["aos_s"][hit], columns["los_s"][hit]
    count = np.floor((los - aos) / MASK_SAMPLE_S).astype(np.int64) + 2
    owner, index = _ranges(np.zeros(hit.size, dtype=np.int64), count)
    t = np.minimum(aos[owner] + index * MASK_SAMPLE_S, los[owner])
    sat, station = columns["satellite"][hit][owner], columns["station"][hit][owner]

    def clearance(sat_: IntArray, station_: IntArray, t_: FloatArray) -> tuple[_Exact, FloatArray]:
        at = _exact(satellites, window, sites, sat_, station_, t_)
        return at, at.elevation_deg - sites.limit_deg(station_, at.azimuth_deg)

    at, g = clearance(sat, station, t)
    above = g >= 0.0
    same = owner[1:] == owner[:-1]
    ups = np.flatnonzero(same & ~above[:-1] & above[1:])
    downs = np.flatnonzero(same & above[:-1] & ~above[1:])

    def bisect(left: IntArray, rising: bool) -> FloatArray:
        lo_t, hi_t = t[left].copy(), t[left + 1].copy()
        for _ in range(MASK_BISECTIONS):
            mid = 0.5 * (lo_t + hi_t)
            _, gm = clearance(sat[left], station[left], mid)
            go_right = (gm < 0.0) if rising else (gm >= 0.0)
            lo_t, hi_t = np.where(go_right, mid, lo_t), np.where(go_right, hi_t, mid)
        return np.asarray(hi_t if rising else lo_t)

    # Stretches above the mask: they start at a pass's first sample or an up
    # crossing, and end at the next down crossing or the pass's last sample.
    first = np.r_[True, ~same]
    last = np.r_[~same, True]
    starts = np.concatenate([np.flatnonzero(first & above), ups + 1])
    start_t = np.concatenate([t[first & above], bisect(ups, rising=True)])
    stops = np.concatenate([np.flatnonzero(last & above), downs])
    stop_t = np.concatenate([t[last & above], bisect(downs, rising=False)])
    o1, o2 = np.argsort(starts, kind="stable"), np.argsort(stops, kind="stable")
    starts, start_t, stops, stop_t = starts[o1], start_t[o1], stops[o2], stop_t[o2]
    parent = hit[owner[starts]]

    # The peak of each stretch: the parent's TCA if inside, else the best sample.
    tca = columns["tca_s"][parent]
    inside = (tca >= start_t) & (tca <= stop_t)
    seg, rows = _ranges(starts, stops - starts + 1)  # the samples above, stretch by stretch
    order = np.lexsort((-at.sine[rows], seg))
    _, head = np.unique(seg[order], return_index=True)
    best_sample = rows[order[head]]
    tca = np.where(inside, tca, t[best_sample])
    new_sat, new_station = columns["satellite"][parent], columns["station"][parent]
    peak = _exact(satellites, window, sites, new_sat, new_station, tca)
    ends = _exact(
        satellites,
        window,
        sites,
        np.r_[new_sat, new_sat],
        np.r_[new_station, new_station],
        np.r_[start_t, stop_t],
    )
    n = starts.size
    cut_start = start_t > columns["aos_s"][parent]
    cut_stop = stop_t < columns["los_s"][parent]
    trunc = columns["truncated"][parent] & ~(cut_start & cut_stop)
    masked = {
        "satellite": new_sat,
        "station": new_station,
        "aos_s": start_t,
        "tca_s": tca,
        "los_s": stop_t,
        "max_elevation_deg": peak.elevation_deg,
        "aos_azimuth_deg": ends.azimuth_deg[:n],
        "tca_azimuth_deg": peak.azimuth_deg,
        "los_azimuth_deg": ends.azimuth_deg[n:],
        "sunlit": is_sunlit(peak.r_teme, sun_position_km(*window.julian(tca))),
        "truncated": trunc,
    }
    keep = np.setdiff1d(np.arange(columns["aos_s"].size), hit)
    return {k: np.concatenate([v[keep], masked[k]]) for k, v in columns.items()}


def _ranges(first: IntArray, count: IntArray) -> tuple[IntArray, IntArray]:
    """Expand ranges [first, first + count) into (range number, value) for every element."""
    owner = np.repeat(np.arange(count.size), count)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    return owner, first[owner] + offset


def _azimuth(rho: FloatArray, enu: FloatArray) -> FloatArray:
    east = _dot(rho, enu[..., 0, :])
    north = _dot(rho, enu[..., 1, :])
    return np.asarray(np.mod(np.degrees(np.arctan2(east, north)), 360.0))
