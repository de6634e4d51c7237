"""The pass engine's scan: sample, cull, and find each pass's crossings and peaks.

1. Each satellite is propagated once on a grid whose step keeps the angle it
   sweeps per step under SWEEP_PER_STEP_RAD, and rotated to Earth-fixed.
2. Cull: between two samples the satellite's geocentric direction moves by at
   most (angular-rate bound x step), so an interval whose two end angles from
   the station's vertical are both too far from the visibility cap cannot
   hold any visible moment. This bound is what keeps grazing passes: it does
   not trust the samples' elevations.
3. On the few candidate intervals left, the trajectory is a cubic Hermite
   interpolant of the exact states at its ends; the elevation's extremum in
   the interval is found by bracketing the root of its derivative, evaluated
   exactly with SGP4, and the interpolant is corrected to pass through it.
4. Threshold crossings are bracketed on the monotone pieces between those
   points, then polished (:mod:`jointsat.orbits.pass_finish`) with Newton
   steps on exact SGP4 states.
Everything runs on arrays: no Python loop over passes or station pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jointsat.constants import WGS84_A_KM
from jointsat.errors import InputError
from jointsat.orbits.frames import enu_basis, geodetic_to_ecef, gmst82_rad, teme_to_ecef
from jointsat.orbits.propagation import Orbit, propagate, propagate_rows
from jointsat.orbits.search import ALL, bracket_root
from jointsat.orbits.station_index import CellLists, StationCells
from jointsat.orbits.stations import HorizonMask, Station
from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray, dot, ranges
from jointsat.timelib import TimeOrigin

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
# Root searches stop when an estimate moves less than this fraction of a step
# (40 ms at a LEO step). A crossing then gets a Newton step on exact states,
# which leaves it within about a millisecond; at an extremum 40 ms leaves the elevation
# off its peak by under a thousandth of a degree.
ROOT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Window:
    """The time span searched: its origin and its length in seconds."""

    origin: TimeOrigin
    duration_s: float

    def julian(self, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return seconds after the start as split Julian dates."""
        return self.origin.julian(t_s)


@dataclass(frozen=True)
class Sites:
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
    cells: StationCells  # the stations' spatial index, for the cull

    def limit_deg(self, station: IntArray, azimuth_deg: FloatArray) -> FloatArray:
        """Return the elevation a satellite must reach at each (station, azimuth) row."""
        limit = self.min_elevation_deg[station].copy()
        for m, mask in enumerate(self.masks):
            if mask is not None:
                rows = station == m
                limit[rows] = np.maximum(limit[rows], mask.elevation_at(azimuth_deg[rows]))
        return limit

    @classmethod
    def build(cls, stations: Sequence[Station], default_min_deg: float) -> Sites:
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
            cells=StationCells(ecef / radius[:, None]),
        )


def _step_s(satellite: Orbit) -> float:
    limit = SWEEP_PER_STEP_RAD / satellite.max_angular_rate_rad_s
    fitting = [s for s in STEP_LADDER_S if s <= limit]
    return fitting[-1] if fitting else STEP_LADDER_S[0]


def plan_chunks(
    satellites: Sequence[Orbit], n_stations: int, duration_s: float
) -> list[tuple[float, list[int]]]:
    """Group satellites sharing a grid step into chunks of bounded work and memory.

    A chunk holds about :data:`CHUNK_ELEMENTS` candidate (satellite, station, sample)
    triples, counting for each satellite the share of stations its samples can come
    near (:func:`_near_share`): the triples the cull keeps, whose arrays are what a
    chunk holds in memory. The cull bounds its own memory (``_blocks``).
    """
    by_step: dict[float, list[int]] = {}
    for i, s in enumerate(satellites):
        by_step.setdefault(_step_s(s), []).append(i)
    plan: list[tuple[float, list[int]]] = []
    for step_s, members in sorted(by_step.items()):
        samples = int(np.ceil(duration_s / step_s)) + 1
        chunk: list[int] = []
        load = 0.0
        for i in members:
            weight = samples * max(1.0, n_stations * _near_share(satellites[i], step_s))
            if chunk and load + weight > CHUNK_ELEMENTS:
                plan.append((step_s, chunk))
                chunk, load = [], 0.0
            chunk.append(i)
            load += weight
        if chunk:
            plan.append((step_s, chunk))
    return plan


def _near_share(satellite: Orbit, step_s: float) -> float:
    """Return the share of the sphere within the cull's first radius of a satellite.

    The radius is the cap at a zero-degree threshold on the equatorial radius (the
    widest), plus the margin and half a step's sweep: the cull's first test.
    """
    cap = math.acos(min(1.0, WGS84_A_KM / satellite.max_radius_km)) + CULL_MARGIN_RAD
    radius = min(math.pi, cap + 0.5 * satellite.max_angular_rate_rad_s * step_s)
    return (1.0 - math.cos(radius)) / 2.0


@dataclass(frozen=True)
class Found:
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


_EMPTY: dict[str, NDArray[Any]] = {
    **{name: np.zeros(0, dtype=np.int64) for name in ("c_sat", "c_station", "c_sign")},
    **{name: np.zeros(0, dtype=np.int64) for name in ("m_sat", "m_station")},
    **{name: np.zeros(0) for name in ("c_t", "c_lo", "c_hi", "c_peak", "m_t", "m_f")},
    "c_polish": np.zeros(0, dtype=bool),
    "m_r_ecef": np.zeros((0, 3)),
    "m_r_teme": np.zeros((0, 3)),
}
NOTHING_FOUND = Found(**_EMPTY)
"""What a scan finds in no chunk: the empty parts that ``concat_fields`` joins to."""


def sine_elevation(
    rho: FloatArray, rho_dot: FloatArray, up: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return sin(elevation) and its time derivative from relative position and velocity."""
    dist = np.sqrt(dot(rho, rho))
    height = dot(rho, up)
    f = height / dist
    df = (dot(rho_dot, up) - f * dot(rho, rho_dot) / dist) / dist
    return f, df


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
        height = np.stack([dot(ak, up) for ak in a], axis=1)
        range_sq = np.zeros((rho0.shape[0], 7))
        for j in range(4):
            for k in range(j, 4):
                range_sq[:, j + k] += (1.0 if j == k else 2.0) * dot(a[j], a[k])
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

    def sine(self, u: FloatArray, rows: IntArray | slice = ALL) -> FloatArray:
        """Return sin(elevation) at u (of the given rows)."""
        height = _horner(self.height[rows], u)
        return np.asarray(height / np.sqrt(_horner(self.range_sq[rows], u)))


# The cull looks up stations in a spatial index when that forms fewer than
# 1 / INDEX_COST of the dense (satellite, sample, station) triples: an indexed
# candidate costs about that many dense ones.
INDEX_COST = 6.0
INDEX_MIN_STATIONS = 64  # below, the dense cull is always cheaper
CULL_SLACK_RAD = 1e-9  # rounding in the coarse tests, which only need to keep a superset


def cull(
    direction: FloatArray, cap: FloatArray, sweep: FloatArray, sites: Sites
) -> tuple[IntArray, IntArray, IntArray]:
    """Return the (satellite, station, interval) that may hold a visible moment.

    ``direction`` (n, T, 3) holds unit geocentric directions (Earth-fixed, NaN
    where SGP4 failed), ``cap`` (n, M) the visibility caps' radii, ``sweep`` (n,)
    the most a satellite turns in a step. Interval k, between samples k and k+1
    at angles a0 and a1 from the station, is kept when 0.5 (a0 + a1 - sweep) <=
    cap: a visible moment t needs a0 <= cap + rate (t - t0) and a1 <= cap + rate
    (t1 - t). Such an interval has an end within cap + sweep / 2, which is what
    the coarse tests look for: densely over every triple, or among the stations
    a spatial index lists near each sample. Both keep the same rows (the exact
    test is the same arithmetic), ordered by satellite, station, then interval.
    """
    n, samples = direction.shape[:2]
    if sites.count < INDEX_MIN_STATIONS:
        return _cull_dense(direction, cap, sweep, sites)
    reach = cap.max(axis=1, initial=0.0) + 0.5 * sweep + CULL_SLACK_RAD
    lists = [sites.cells.lists(float(r)) for r in reach]
    cells = sites.cells.cell_of(direction)
    indexed = np.array([lst.count[c].sum() for lst, c in zip(lists, cells, strict=True)])
    dense_size = samples * sites.count
    if INDEX_COST * float(indexed.sum()) >= float(n * dense_size):
        return _cull_dense(direction, cap, sweep, sites)
    parts = []
    for block in _blocks(indexed):
        parts.append(_cull_indexed(direction, cap, sweep, sites, block, lists, cells))
    s_i, m_i, k_i = (np.concatenate(a) for a in zip(*parts, strict=True))
    order = np.argsort((s_i * sites.count + m_i) * samples + k_i)
    return s_i[order], m_i[order], k_i[order]


def _blocks(sizes: IntArray) -> list[IntArray]:
    """Split rows into consecutive blocks of at most CHUNK_ELEMENTS in total (or one row)."""
    blocks, first, total = [], 0, 0
    for i, size in enumerate(sizes.tolist()):
        if total and total + size > CHUNK_ELEMENTS:
            blocks.append(np.arange(first, i))
            first, total = i, 0
        total += size
    blocks.append(np.arange(first, sizes.size))
    return [b for b in blocks if b.size]


def _cosines(direction: FloatArray, unit: FloatArray) -> FloatArray:
    """Return the cosines of the angles between unit vectors, element by element."""
    return dot(direction, unit)


def _kept(c0: FloatArray, c1: FloatArray, sweep: FloatArray, cap: FloatArray) -> BoolArray:
    """Say whether a0 + a1 <= 2 cap + sweep, from the cosines of a0 and a1 (in [0, pi]).

    Where the bound passes pi every interval is kept; below, the sum a0 + a1 must
    stay under pi (c0 + c1 >= 0), where cos(a0 + a1) falls as it grows.
    """
    bound = 2.0 * cap + sweep
    c0, c1 = np.clip(c0, -1.0, 1.0), np.clip(c1, -1.0, 1.0)
    cos_sum = c0 * c1 - np.sqrt((1.0 - c0 * c0) * (1.0 - c1 * c1))
    within = (c0 + c1 >= 0.0) & (cos_sum >= np.cos(np.minimum(bound, np.pi)))
    return np.asarray(within | (bound > np.pi))


def _cull_dense(
    direction: FloatArray, cap: FloatArray, sweep: FloatArray, sites: Sites
) -> tuple[IntArray, IntArray, IntArray]:
    n, samples = direction.shape[:2]
    per_satellite = np.full(n, samples * sites.count, dtype=np.int64)
    coarse = np.cos(np.minimum(cap + 0.5 * sweep[:, None] + CULL_SLACK_RAD, np.pi))  # (n, M)
    parts = []
    for block in _blocks(per_satellite):
        cos_angle = _cosines(direction[block][:, :, None, :], sites.unit[None, None, :, :])
        near = np.maximum(cos_angle[:, :-1], cos_angle[:, 1:]) >= coarse[block][:, None, :]
        b_i, m_i, k_i = np.nonzero(near.transpose(0, 2, 1))  # ordered by pair, then time
        s_i = block[b_i]
        keep = _kept(
            cos_angle[b_i, k_i, m_i], cos_angle[b_i, k_i + 1, m_i], sweep[s_i], cap[s_i, m_i]
        )
        parts.append((s_i[keep], m_i[keep], k_i[keep]))
    s_i, m_i, k_i = (np.concatenate(a) for a in zip(*parts, strict=True))
    return s_i, m_i, k_i


def _cull_indexed(
    direction: FloatArray,
    cap: FloatArray,
    sweep: FloatArray,
    sites: Sites,
    block: IntArray,
    lists: list[CellLists],
    cells: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    samples = direction.shape[1]
    start = np.stack([lists[s].start[cells[s]] for s in block])  # (b, T)
    count = np.stack([lists[s].count[cells[s]] for s in block])
    cos_reach = np.array([np.cos(min(lists[s].radius_rad, np.pi)) for s in block])
    distinct = {id(lists[s]): lists[s] for s in block}  # satellites of one reach share lists
    station_of = np.concatenate([lst.station for lst in distinct.values()])
    sizes = [lst.station.size for lst in distinct.values()]
    at = dict(zip(distinct, np.cumsum([0, *sizes])[:-1], strict=True))
    offset = np.array([at[id(lists[s])] for s in block], dtype=np.int64)
    point, row = ranges((start + offset[:, None]).ravel(), count.ravel())
    b_i, k_i = point // samples, point % samples
    m_i = station_of[row]
    s_i = block[b_i]
    cos_k = _cosines(direction[s_i, k_i], sites.unit[m_i])
    # Hits: samples within the reach (rounded up) of the station. Each interval
    # with an end among them is formed once: from its first end if that is a
    # hit, else from its second.
    hit = cos_k >= cos_reach[b_i]
    s_i, m_i, k_i, b_i, cos_k = s_i[hit], m_i[hit], k_i[hit], b_i[hit], cos_k[hit]
    station = sites.unit[m_i]
    cos_next = _cosines(direction[s_i, np.minimum(k_i + 1, samples - 1)], station)
    cos_prev = _cosines(direction[s_i, np.maximum(k_i - 1, 0)], station)
    ahead = k_i < samples - 1
    behind = (k_i > 0) & ~(cos_prev >= cos_reach[b_i])
    s_i = np.concatenate([s_i[ahead], s_i[behind]])
    m_i = np.concatenate([m_i[ahead], m_i[behind]])
    k_i = np.concatenate([k_i[ahead], k_i[behind] - 1])
    c0 = np.concatenate([cos_k[ahead], cos_prev[behind]])
    c1 = np.concatenate([cos_next[ahead], cos_k[behind]])
    keep = _kept(c0, c1, sweep[s_i], cap[s_i, m_i])
    return s_i[keep], m_i[keep], k_i[keep]


def scan(
    chunk: Sequence[Orbit], members: IntArray, step_s: float, window: Window, sites: Sites
) -> tuple[Found, list[tuple[int, float, int]]]:
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
    radius = np.sqrt(dot(r_ecef, r_ecef))  # (n, T)
    direction = r_ecef / radius[..., None]
    r_max = np.array([s.max_radius_km for s in chunk])
    elev = np.radians(sites.threshold_deg)
    ratio = sites.radius_km[None, :] * np.cos(elev)[None, :] / r_max[:, None]
    cap = np.arccos(np.clip(ratio, -1.0, 1.0)) - elev[None, :] + CULL_MARGIN_RAD  # (n, M)
    sweep = np.array([s.max_angular_rate_rad_s for s in chunk]) * step_s
    s_i, m_i, k_i = cull(direction, cap, sweep, sites)
    sat = members[s_i]

    # Exact values at both ends of each candidate interval.
    up = sites.up[m_i]
    rho0 = r_ecef[s_i, k_i] - sites.ecef_km[m_i]
    rho1 = r_ecef[s_i, k_i + 1] - sites.ecef_km[m_i]
    v0, v1 = v_ecef[s_i, k_i], v_ecef[s_i, k_i + 1]
    f0, df0 = sine_elevation(rho0, v0, up)
    f1, df1 = sine_elevation(rho1, v1, up)
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
    u_ext = bracket_root(
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
    at_ext = exact_states(chunk, window, sites, s_i[e_rows], m_i[e_rows], t_ext)
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

    u_cross = bracket_root(
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

    found = Found(
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
class Exact:
    """Exact SGP4 states of (satellite, station, time) rows, seen from the station.

    Azimuths are worked out when first asked for.
    """

    r_teme: FloatArray
    r_ecef: FloatArray
    sine: FloatArray  # sin(elevation), NaN where SGP4 failed
    sine_rate: FloatArray  # its time derivative (1/s)
    rho: FloatArray  # position relative to the station, Earth-fixed
    v_ecef: FloatArray
    station: IntArray
    sites: Sites

    @property
    def elevation_deg(self) -> FloatArray:
        return np.asarray(np.degrees(np.arcsin(np.clip(self.sine, -1.0, 1.0))))

    @cached_property
    def _east_north(self) -> tuple[FloatArray, FloatArray]:
        enu = self.sites.enu
        return dot(self.rho, enu[self.station, 0]), dot(self.rho, enu[self.station, 1])

    @cached_property
    def azimuth_deg(self) -> FloatArray:
        east, north = self._east_north
        return np.asarray(np.mod(np.degrees(np.arctan2(east, north)), 360.0))

    @property
    def azimuth_rate_deg_s(self) -> FloatArray:
        enu = self.sites.enu
        east, north = self._east_north
        east_rate = dot(self.v_ecef, enu[self.station, 0])
        north_rate = dot(self.v_ecef, enu[self.station, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            az_rate = (north * east_rate - east * north_rate) / (east * east + north * north)
        return np.asarray(np.degrees(az_rate))


def exact_states(
    satellites: Sequence[Orbit],
    window: Window,
    sites: Sites,
    sat: IntArray,
    station: IntArray,
    t_s: FloatArray,
) -> Exact:
    jd, fr = window.julian(t_s)
    _, r, v = propagate_rows(satellites, sat, jd, fr)
    r_ecef, v_ecef = teme_to_ecef(r, v, gmst82_rad(jd, fr))
    rho = r_ecef - sites.ecef_km[station]
    f, df = sine_elevation(rho, v_ecef, sites.up[station])
    return Exact(r, r_ecef, f, df, rho, v_ecef, station, sites)


def azimuth_deg(rho: FloatArray, enu: FloatArray) -> FloatArray:
    """Return the azimuths (degrees from north, east positive) of relative positions."""
    east = dot(rho, enu[..., 0, :])
    north = dot(rho, enu[..., 1, :])
    return np.asarray(np.mod(np.degrees(np.arctan2(east, north)), 360.0))
