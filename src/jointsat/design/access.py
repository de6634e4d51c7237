"""Find when satellites cover ground points: every access interval, to a tenth of a second.

A point is *covered* by a satellite while the satellite is above the point's minimum
elevation (:attr:`AccessRule.min_elevation_deg`) or, for an imager, while the point
lies within the sensor's half-angle from the satellite's nadir
(:attr:`AccessRule.half_angle_deg`, the largest off-nadir look angle). Each satellite
gives, for each point, the intervals during which it covers the point.

The method is the pass engine's, turned round (docs/design.md, "Method and accuracy"):

1. SGP4 states at nodes ``h`` seconds apart over the window (Earth-fixed). Between
   nodes a cubic Hermite interpolation of position and velocity is used (0.4 m at
   ``h`` = 60 s for a low orbit, far below what moves an access by 0.1 s).
2. The window is cut into coarse steps of ``m`` nodes. In each, only the points of a
   cap round the ground track can have their closest approach there within the
   footprint (a bound computed from the step's own nodes). The points come from an
   index of latitude bands sorted by longitude, so a cap costs a few searches, not a
   test of every point.
3. A pass's closest approach falls in the node step where the point goes from ahead of
   the satellite to behind it (the sign of the along-track direction's dot product with
   the point). The distance across the track there decides: well inside the footprint
   the point is covered, well outside it is not, near the edge the exact *coverage
   margin* ``q`` decides (the sine of the elevation less that of the minimum, or the
   cosine of the off-nadir angle less that of the half-angle).
4. The access's start and end are estimated from the spherical footprint and refined
   on ``q`` by a Newton step and a chord step (a further Newton step where needed);
   where that is not sure (a grazing pass, the window's ends) nodes are walked to the
   first where ``q`` is negative and the crossing refined by regula falsi (Illinois),
   to better than :data:`CROSSING_TOLERANCE_S`.
5. Points covered at the window's start or end are walked from there, so that an access
   under way at either end is found whatever its closest approach.

Satellites whose SGP4 fails at some node (decayed) cover nothing from that node on;
:class:`SatelliteAccesses` counts those nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jointsat.constants import WGS84_A_KM
from jointsat.design.intervals import Intervals, merge, sort
from jointsat.errors import DesignError
from jointsat.orbits.frames import WGS84_B_KM, enu_basis, geodetic_to_ecef, gmst82_rad, teme_to_ecef
from jointsat.orbits.propagation import Orbit
from jointsat.orbits.vectors import FloatArray, IntArray, dot
from jointsat.timelib import TimeOrigin

NODE_STEP_S = 60.0
"""Seconds between SGP4 nodes; Hermite interpolation between them."""

CROSSING_TOLERANCE_S = 0.01
"""Refinement stops when a crossing is bracketed this closely (seconds)."""

CAP_MARGIN_DEG = 0.5
"""Added to every footprint cap: geodetic against geocentric vertical (0.19 deg) and more."""

_MAX_REFINE = 30

CHUNK_ROWS = 65_536
"""Rows evaluated at once: about twice as fast as a million, whose temporaries leave the cache."""


@dataclass(frozen=True)
class AccessRule:
    """Say when a satellite covers a point.

    ``min_elevation_deg``: the satellite is at least this high above the point's
    horizon (geometric, no refraction). ``half_angle_deg``: the point is within this
    angle of the satellite's nadir (towards the Earth's centre): a nadir-pointing
    sensor's half-angle or the largest off-nadir look. Both may be given; the point must
    then satisfy both, and the margin followed is the one that binds (the smaller
    footprint at the satellite's mean altitude). ``daylight_deg``: only while the Sun's
    geometric elevation at the point is at least this (None: day and night).
    """

    min_elevation_deg: float | None = 10.0
    half_angle_deg: float | None = None
    daylight_deg: float | None = None

    def __post_init__(self) -> None:
        if self.min_elevation_deg is None and self.half_angle_deg is None:
            raise DesignError("give a minimum elevation or a sensor half-angle (or both)")
        if self.min_elevation_deg is not None and not (
            -5.0 <= self.min_elevation_deg < 90.0 and math.isfinite(self.min_elevation_deg)
        ):
            raise DesignError(
                f"the minimum elevation must be in [-5, 90) degrees, not {self.min_elevation_deg}"
            )
        if self.half_angle_deg is not None and not (0.0 < self.half_angle_deg < 90.0):
            raise DesignError(
                f"the sensor half-angle must be in (0, 90) degrees, not {self.half_angle_deg}"
            )
        if self.daylight_deg is not None and not (-90.0 <= self.daylight_deg <= 90.0):
            raise DesignError(
                f"the daylight threshold must be a Sun elevation in [-90, 90] degrees, "
                f"not {self.daylight_deg}"
            )

    def uses_half_angle(self, radius_km: float) -> bool:
        """Say whether the half-angle binds (rather than the elevation) at this radius.

        Without a minimum elevation the horizon (0 degrees) still applies: a cone wider
        than the Earth's limb is bounded by it.
        """
        if self.half_angle_deg is None:
            return False
        elevation = 0.0 if self.min_elevation_deg is None else self.min_elevation_deg
        return bool(
            footprint_deg(self.half_angle_deg, 0.0, radius_km, WGS84_A_KM)
            < footprint_deg(None, elevation, radius_km, WGS84_A_KM)
        )


def footprint_deg(
    half_angle_deg: float | None, elevation_deg: float, radius_km: ArrayLike, earth_km: ArrayLike
) -> FloatArray:
    """Return the Earth central angle from the sub-satellite point to the footprint's edge.

    For satellites at ``radius_km`` from the centre of a sphere of radius ``earth_km``:
    the edge of a nadir cone of ``half_angle_deg`` (the horizon where the cone reaches
    past the limb), or else where the satellite stands ``elevation_deg`` high.
    """
    radius = np.asarray(radius_km, dtype=float)
    earth = np.asarray(earth_km, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if half_angle_deg is not None:
            eta = math.radians(half_angle_deg)
            s = radius * math.sin(eta) / earth
            limb = np.arccos(np.minimum(earth / radius, 1.0))
            lam = np.where(s >= 1.0, limb, np.arcsin(np.minimum(s, 1.0)) - eta)
        else:
            e = math.radians(elevation_deg)
            lam = np.arccos(np.minimum(earth * math.cos(e) / radius, 1.0)) - e
    return np.asarray(np.degrees(lam))


@dataclass(frozen=True, eq=False)
class GroundPoints:
    """Hold the points studied: geodetic latitude and longitude (degrees, WGS-84, on the
    ellipsoid), their Earth-fixed positions (km) and local vertical (unit vectors)."""

    lat_deg: FloatArray
    lon_deg: FloatArray
    position_km: FloatArray
    up: FloatArray

    @classmethod
    def of(cls, lat_deg: FloatArray, lon_deg: FloatArray) -> GroundPoints:
        lat = np.asarray(lat_deg, dtype=float)
        lon = np.asarray(lon_deg, dtype=float)
        if lat.shape != lon.shape or lat.ndim != 1:
            raise DesignError("latitudes and longitudes must be two columns of one length")
        if not (np.all(np.abs(lat) <= 90.0) and np.all(np.isfinite(lon))):
            raise DesignError("latitudes must be within [-90, 90] degrees, longitudes finite")
        position = geodetic_to_ecef(lat, lon, np.zeros_like(lat))
        up = np.ascontiguousarray(enu_basis(lat, lon)[..., 2, :])
        return cls(lat, lon, position, up)

    def __len__(self) -> int:
        return int(self.lat_deg.size)


@dataclass(frozen=True, eq=False)
class SatelliteAccesses:
    """One satellite's accesses: ``point`` indices and intervals (seconds from the start).

    ``failed_nodes`` counts the nodes at which SGP4 failed (the satellite covers nothing
    there); ``candidates`` and ``passes`` count the work done (point-steps looked at,
    maxima found).
    """

    point: IntArray
    start_s: FloatArray
    end_s: FloatArray
    failed_nodes: int
    candidates: int
    passes: int


class _BandIndex:
    """Points sorted into latitude bands, by longitude within each, for cap queries."""

    def __init__(self, points: GroundPoints) -> None:
        n = max(len(points), 1)
        spacing_deg = math.degrees(math.sqrt(4.0 * math.pi / n))
        self.band_deg = min(max(spacing_deg, 0.25), 10.0)
        self.bands = math.ceil(180.0 / self.band_deg)
        band = np.clip(
            ((points.lat_deg + 90.0) // self.band_deg).astype(np.int64), 0, self.bands - 1
        )
        lon = np.mod(points.lon_deg + 180.0, 360.0)  # [0, 360)
        self.order = np.lexsort((lon, band))
        self.key = band[self.order] * 1000.0 + lon[self.order]
        self.band_start = np.searchsorted(self.key, np.arange(self.bands) * 1000.0)
        self.band_stop = np.searchsorted(self.key, np.arange(self.bands) * 1000.0 + 360.0)

    def query(
        self, lat_deg: FloatArray, lon_deg: FloatArray, radius_deg: FloatArray
    ) -> tuple[IntArray, IntArray]:
        """Return (cap number, point index) for every point within each cap's bound.

        A superset: per band, the longitudes the cap spans at any latitude of the band.
        """
        k = lat_deg.size
        lat_lo = lat_deg - radius_deg
        lat_hi = lat_deg + radius_deg
        b_lo = np.clip(((lat_lo + 90.0) // self.band_deg).astype(np.int64), 0, self.bands - 1)
        b_hi = np.clip(((lat_hi + 90.0) // self.band_deg).astype(np.int64), 0, self.bands - 1)
        count = b_hi - b_lo + 1
        cap = np.repeat(np.arange(k), count)
        band = b_lo[cap] + (np.arange(cap.size) - np.repeat(np.cumsum(count) - count, count))
        phi_a = np.radians(band * self.band_deg - 90.0)
        phi_b = np.radians(np.minimum((band + 1) * self.band_deg - 90.0, 90.0))
        phic = np.radians(lat_deg[cap])
        psi = np.radians(radius_deg[cap])
        half = np.maximum(_half_width(phi_a, phic, psi), _half_width(phi_b, phic, psi))
        # The widest latitude of a cap, where a meridian touches it:
        # sin(phi) = sin(phic) / cos(psi).
        with np.errstate(invalid="ignore", divide="ignore"):
            tangent = np.arcsin(np.clip(np.sin(phic) / np.cos(psi), -1.0, 1.0))
        inside = (tangent > phi_a) & (tangent < phi_b)
        half = np.where(inside, np.maximum(half, _half_width(tangent, phic, psi)), half)
        centre = np.mod(lon_deg[cap] + 180.0, 360.0)
        lo = centre - half
        hi = centre + half
        whole = half >= 180.0
        lo = np.where(whole, 0.0, lo)
        hi = np.where(whole, 360.0, hi)
        # Split the ranges that wrap past 0 or 360 degrees into two.
        parts_cap = [cap]
        parts_lo = [np.maximum(lo, 0.0)]
        parts_hi = [np.minimum(hi, 360.0)]
        parts_band = [band]
        under = lo < 0.0
        parts_cap.append(cap[under])
        parts_lo.append(lo[under] + 360.0)
        parts_hi.append(np.full(int(under.sum()), 360.0))
        parts_band.append(band[under])
        over = hi > 360.0
        parts_cap.append(cap[over])
        parts_lo.append(np.zeros(int(over.sum())))
        parts_hi.append(hi[over] - 360.0)
        parts_band.append(band[over])
        cap_all = np.concatenate(parts_cap)
        band_all = np.concatenate(parts_band).astype(float) * 1000.0
        first = np.searchsorted(self.key, band_all + np.concatenate(parts_lo), side="left")
        stop = np.searchsorted(self.key, band_all + np.concatenate(parts_hi), side="right")
        n = np.maximum(stop - first, 0)
        owner = np.repeat(np.arange(cap_all.size), n)
        at = first[owner] + (np.arange(owner.size) - np.repeat(np.cumsum(n) - n, n))
        return cap_all[owner], self.order[at]


def _half_width(phi: FloatArray, phic: FloatArray, psi: FloatArray) -> FloatArray:
    """Return the cap's half-width in longitude (degrees) at latitude ``phi`` (0 if outside)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (np.cos(psi) - np.sin(phi) * np.sin(phic)) / (np.cos(phi) * np.cos(phic))
    width = np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))
    width = np.where(c > 1.0, 0.0, width)
    return np.asarray(np.where(np.isfinite(c), width, 180.0))


class _Track:
    """One satellite's Earth-fixed states at the nodes, and the margin's evaluation.

    Vectors are kept as rows of components (3, n): each component is then contiguous.
    """

    def __init__(
        self,
        r: FloatArray,
        v: FloatArray,
        h: float,
        points: GroundPoints,
        half_angle: bool,
        threshold: float,
    ) -> None:
        self.h = h
        self.points = points
        self.half_angle = half_angle
        self.threshold = threshold
        self.last = r.shape[0] - 1
        self.r = np.ascontiguousarray(r.T)
        self.v = np.ascontiguousarray(v.T)
        self.p = np.ascontiguousarray(points.position_km.T)
        self.u = np.ascontiguousarray(points.up.T)
        self.point_radius = np.sqrt(dot(points.position_km, points.position_km))
        self.unit = self.p / self.point_radius
        r0, r1 = self.r[:, :-1], self.r[:, 1:]
        hv0, hv1 = h * self.v[:, :-1], h * self.v[:, 1:]
        self.poly = np.concatenate(
            [r0, hv0, 3.0 * (r1 - r0) - 2.0 * hv0 - hv1, 2.0 * (r0 - r1) + hv0 + hv1]
        )  # (12, nodes): the cubic's coefficients, constant term first

    def margin(
        self, r: FloatArray, v: FloatArray | None, p: FloatArray, u: FloatArray
    ) -> tuple[FloatArray, FloatArray | None]:
        """Return the coverage margin q and its rate dq/dt (1/s) for states (3, n) seen from
        points at ``p`` with verticals ``u`` (3, n); without velocities, q alone."""
        rho = r - p
        rng2 = _dot3(rho, rho)
        rng = np.sqrt(rng2)
        if self.half_angle:
            rad = np.sqrt(_dot3(r, r))
            a = _dot3(r, rho)
            b = rad * rng
            if v is None:
                return a / b - self.threshold, None
            rho_v = _dot3(rho, v)
            r_v = _dot3(r, v)
            da = rho_v + r_v
            db = r_v / rad * rng + rad * rho_v / rng
            return a / b - self.threshold, (da * b - a * db) / (b * b)
        a = _dot3(rho, u)
        if v is None:
            return a / rng - self.threshold, None
        rho_v = _dot3(rho, v)
        return a / rng - self.threshold, (_dot3(v, u) - a * rho_v / rng2) / rng

    def at_nodes(self, node: IntArray, point: IntArray) -> tuple[FloatArray, FloatArray]:
        """Return the margin and its rate at the nodes for the points."""

        def evaluate(a: int, b: int) -> tuple[FloatArray, FloatArray | None]:
            n, k = node[a:b], point[a:b]
            return self.margin(self.r[:, n], self.v[:, n], self.p[:, k], self.u[:, k])

        q, rate = self._chunked(evaluate, node.size, rate=True)
        assert rate is not None
        return q, rate

    def _chunked(
        self,
        evaluate: Callable[[int, int], tuple[FloatArray, FloatArray | None]],
        n: int,
        *,
        rate: bool,
    ) -> tuple[FloatArray, FloatArray | None]:
        """Evaluate in chunks of :data:`CHUNK_ROWS` rows: their temporaries stay in cache."""
        if n <= CHUNK_ROWS:
            return evaluate(0, n)
        q = np.empty(n)
        dq = np.empty(n) if rate else None
        for a in range(0, n, CHUNK_ROWS):
            b = min(a + CHUNK_ROWS, n)
            q[a:b], part = evaluate(a, b)
            if dq is not None:
                dq[a:b] = part
        return q, dq

    def hermite(self, node: IntArray, tau: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return interpolated states (3, n) at fraction ``tau`` of the step after ``node``.

        The cubic Hermite polynomial of the step's end states, kept as coefficients.
        """
        c = self.poly[:, node]
        c1, c2, c3 = c[3:6], c[6:9], c[9:12]
        r = c[0:3] + tau * (c1 + tau * (c2 + tau * c3))
        v = (c1 + tau * (2.0 * c2 + 3.0 * tau * c3)) * (1.0 / self.h)
        return r, v

    def position(self, node: IntArray, tau: FloatArray) -> FloatArray:
        """Return interpolated positions (3, n) alone."""
        c = self.poly[:, node]
        return np.asarray(c[0:3] + tau * (c[3:6] + tau * (c[6:9] + tau * c[9:12])))

    def between(
        self, node: IntArray, tau: FloatArray, point: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        """Return the margin and its rate between nodes for the points."""
        return self.seen_from(node, tau, self.p[:, point], self.u[:, point])

    def seen_from(
        self, node: IntArray, tau: FloatArray, p: FloatArray, u: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Return the margin and its rate between nodes, seen from points given as vectors."""

        def evaluate(a: int, b: int) -> tuple[FloatArray, FloatArray | None]:
            r, v = self.hermite(node[a:b], tau[a:b])
            return self.margin(r, v, p[:, a:b], u[:, a:b])

        q, rate = self._chunked(evaluate, node.size, rate=True)
        assert rate is not None
        return q, rate

    def margin_from(
        self, node: IntArray, tau: FloatArray, p: FloatArray, u: FloatArray
    ) -> FloatArray:
        """Return the margin alone between nodes, seen from points given as vectors."""

        def evaluate(a: int, b: int) -> tuple[FloatArray, FloatArray | None]:
            return self.margin(self.position(node[a:b], tau[a:b]), None, p[:, a:b], u[:, a:b])

        return self._chunked(evaluate, node.size, rate=False)[0]


def _dot3(a: FloatArray, b: FloatArray) -> FloatArray:
    """Return the dot products of vectors kept as rows of components (3, n)."""
    return np.asarray(a[0] * b[0] + a[1] * b[1] + a[2] * b[2])


def _illinois(
    f_at: object,
    a: FloatArray,
    fa: FloatArray,
    b: FloatArray,
    fb: FloatArray,
    tolerance: float,
) -> FloatArray:
    """Return a root of ``f_at(rows, x)`` in ``[a, b]`` per row (signs of fa and fb differ).

    The Illinois variant of regula falsi; rows stop once their bracket is narrower than
    ``tolerance`` (in the units of x).
    """
    call = f_at  # (rows, x) -> f
    a, fa, b, fb = a.copy(), fa.copy(), b.copy(), fb.copy()
    active = np.flatnonzero(np.abs(b - a) > tolerance)
    for _ in range(_MAX_REFINE):
        if active.size == 0:
            break
        aa, fA, bb, fB = a[active], fa[active], b[active], fb[active]
        denom = fB - fA
        x = np.where(
            denom != 0.0, bb - fB * (bb - aa) / np.where(denom != 0.0, denom, 1.0), 0.5 * (aa + bb)
        )
        x = np.clip(x, np.minimum(aa, bb), np.maximum(aa, bb))
        fx = call(active, x)  # type: ignore[operator]
        same = np.sign(fx) == np.sign(fB)
        # Where x falls on b's side, b moves and a's value is halved (Illinois);
        # else a takes b's place and b moves.
        new_a = np.where(same, aa, bb)
        new_fa = np.where(same, 0.5 * fA, fB)
        a[active], fa[active], b[active], fb[active] = new_a, new_fa, x, fx
        done = (np.abs(b[active] - a[active]) <= tolerance) | (fx == 0.0)
        active = active[~done]
    return b


def satellite_accesses(
    orbit: Orbit,
    points: GroundPoints,
    start: datetime,
    end: datetime,
    rule: AccessRule,
    *,
    index: _BandIndex | None = None,
    node_step_s: float = NODE_STEP_S,
) -> SatelliteAccesses:
    """Return the intervals during which one satellite covers each point, within the window."""
    origin = TimeOrigin.of(start)
    duration = origin.seconds(end)
    if duration <= 0:
        raise DesignError("the study's end must be after its start")
    nodes = max(math.ceil(duration / node_step_s), 1)
    h = duration / nodes
    t = np.arange(nodes + 1) * h
    t[-1] = duration
    jd, fr = origin.julian(t)
    err, r_teme, v_teme = _propagate(orbit, jd, fr)
    r, v = teme_to_ecef(r_teme, v_teme, gmst82_rad(jd, fr))
    failed = int(np.count_nonzero(err))
    radius = np.sqrt(dot(r, r))
    good = np.isfinite(radius)
    none = SatelliteAccesses(np.empty(0, np.int64), np.empty(0), np.empty(0), failed, 0, 0)
    if not good.any():
        return none
    elevation_deg = 0.0 if rule.min_elevation_deg is None else rule.min_elevation_deg
    half_angle = rule.uses_half_angle(float(np.mean(radius[good])))
    if half_angle:
        threshold = math.cos(math.radians(float(rule.half_angle_deg)))  # type: ignore[arg-type]
    else:
        threshold = math.sin(math.radians(elevation_deg))
    track = _Track(r, v, h, points, half_angle, threshold)
    index = index or _BandIndex(points)
    geometry = _Geometry(r, v, radius, h)
    half_angle_deg = rule.half_angle_deg if half_angle else None
    # The smallest geocentric radius of a point on the ellipsoid widens the footprint.
    lam = footprint_deg(half_angle_deg, elevation_deg, radius, WGS84_B_KM)

    at_start, at_end = _edge_accesses(track, geometry, index, lam, good, duration)
    peaks = _peak_accesses(track, geometry, index, lam, half_angle_deg, elevation_deg, duration)
    found = [at_start, peaks, at_end]  # in time order for each point
    intervals = Intervals(
        np.concatenate([f[0] for f in found]).astype(np.int64),
        np.concatenate([f[1] for f in found]),
        np.concatenate([f[2] for f in found]),
    )
    candidates, passes = geometry.candidates, geometry.passes
    longest = float(np.max(intervals.end_s - intervals.start_s, initial=0.0))
    if longest > geometry.single_peak_s:
        # An access this long may hold several maxima of the geocentric angle (a high
        # orbit): each found it, so merge them into one.
        intervals = merge(sort(intervals))
    else:  # by point, each point's in time order: a radix sort for up to 32,767 points
        small = np.int16 if len(points) <= np.iinfo(np.int16).max else np.int64
        intervals = intervals.take(np.argsort(intervals.group.astype(small), kind="stable"))
    keep = intervals.end_s > intervals.start_s
    return SatelliteAccesses(
        intervals.group[keep],
        intervals.start_s[keep],
        intervals.end_s[keep],
        failed,
        candidates,
        passes,
    )


class _Geometry:
    """The ground track at the nodes: sub-satellite directions, along and across the track."""

    def __init__(self, r: FloatArray, v: FloatArray, radius: FloatArray, h: float) -> None:
        self.h = h
        self.radius = radius
        sub = r / radius[:, None]
        ground = v - dot(v, sub)[:, None] * sub  # velocity across the sky, less the radial part
        speed = np.sqrt(dot(ground, ground))
        self.sub = sub
        self.along = ground / speed[:, None]
        self.across = np.cross(sub, self.along)
        self.rate_rad_s = speed / radius
        self.along_t = np.ascontiguousarray(self.along.T)
        self.across_t = np.ascontiguousarray(self.across.T)
        turn = np.arccos(np.clip(dot(sub[1:], sub[:-1]), -1.0, 1.0))
        turn = turn[np.isfinite(turn)]
        self.turn_deg = float(np.degrees(turn.max())) if turn.size else 0.0
        # Two maxima of the geocentric angle seen from one point are about half a turn
        # of the track apart; an access shorter than that holds one.
        fastest = float(np.nanmax(self.rate_rad_s)) if np.isfinite(self.rate_rad_s).any() else 0.0
        self.single_peak_s = 0.45 * math.pi / max(fastest, 1e-9)
        self.candidates = 0
        self.passes = 0


PEAK_MARGIN_DEG = 0.5
"""A point further than this beyond the spherical footprint at its closest approach is
not covered (the ellipsoid and the geodetic vertical move the edge by less than 0.2)."""


def _peak_accesses(
    track: _Track,
    geometry: _Geometry,
    index: _BandIndex,
    lam: FloatArray,
    half_angle_deg: float | None,
    elevation_deg: float,
    duration: float,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Return the accesses around each closest approach inside the window."""
    nodes = track.last
    h = track.h
    lam_max = float(np.nanmax(lam)) + PEAK_MARGIN_DEG
    m = _nodes_per_step(lam_max, geometry.turn_deg)
    coarse = max(math.ceil(nodes / m), 1)
    first_node = np.minimum(np.arange(coarse) * m, nodes)
    last_node = np.minimum(first_node + m, nodes)
    node_of = np.minimum(first_node[:, None] + np.arange(m + 1)[None, :], last_node[:, None])
    sub = np.nan_to_num(geometry.sub)
    centre = sub[first_node] + sub[last_node] + sub[(first_node + last_node) // 2]
    centre /= np.maximum(np.sqrt(dot(centre, centre)), 1e-12)[:, None]
    # The cap holding every point whose closest approach falls in the step, within the
    # footprint (c.p >= cos(lam) cos(rho) - sin(lam) max|c.n|, see docs/design.md).
    along = np.arccos(np.clip(np.einsum("kj,knj->kn", centre, sub[node_of]), -1.0, 1.0)).max(axis=1)
    rho = along + 0.5 * math.radians(geometry.turn_deg)
    off = np.abs(np.einsum("kj,knj->kn", centre, np.nan_to_num(geometry.across)[node_of])).max(
        axis=1
    )
    lam_rad = math.radians(lam_max)
    cos_reach = math.cos(lam_rad) * np.cos(np.minimum(rho, math.pi)) - math.sin(lam_rad) * off
    reach_deg = np.degrees(np.arccos(np.clip(cos_reach, -1.0, 1.0))) + CAP_MARGIN_DEG
    lat_c = np.degrees(np.arcsin(np.clip(centre[:, 2], -1.0, 1.0)))
    lon_c = np.degrees(np.arctan2(centre[:, 1], centre[:, 0]))
    step, point = index.query(lat_c, lon_c, reach_deg)
    geometry.candidates += int(step.size)

    # The closest approach (of the geocentric angle) lies in the step where the point
    # passes from ahead of the satellite to behind it: along . p > 0, then <= 0.
    unit_p = track.unit
    along_t = geometry.along_t
    pu = unit_p[:, point]
    g_lo = _dot3(pu, along_t[:, first_node[step]])
    g_hi = _dot3(pu, along_t[:, last_node[step]])
    peak = np.flatnonzero((g_lo > 0.0) & (g_hi <= 0.0))
    step, point, pu, g_lo, g_hi = step[peak], point[peak], pu[:, peak], g_lo[peak], g_hi[peak]
    lo = first_node[step].copy()
    hi = last_node[step].copy()
    # The node step holding the crossing: first guessed by interpolating over the coarse
    # step (the along-track angle moves almost evenly), then bisected where the guess fails.
    guess = lo + np.minimum(
        np.floor(g_lo / (g_lo - g_hi) * (hi - lo)).astype(np.int64), np.maximum(hi - lo - 1, 0)
    )
    g_a = _dot3(pu, along_t[:, guess])
    g_b = _dot3(pu, along_t[:, guess + 1])
    hit = (g_a > 0.0) & (g_b <= 0.0)
    lo[hit], g_lo[hit] = guess[hit], g_a[hit]
    hi[hit], g_hi[hit] = guess[hit] + 1, g_b[hit]
    while True:
        wide = np.flatnonzero(hi - lo > 1)
        if wide.size == 0:
            break
        mid = (lo[wide] + hi[wide]) // 2
        g = _dot3(pu[:, wide], along_t[:, mid])
        up = g > 0.0
        lo[wide[up]], g_lo[wide[up]] = mid[up], g[up]
        hi[wide[~up]], g_hi[wide[~up]] = mid[~up], g[~up]
    tau = np.clip(g_lo / (g_lo - g_hi), 0.0, 1.0)

    # Across the track at the closest approach: too far from it, no access.
    across = geometry.across_t
    w = (1.0 - tau) * across[:, lo] + tau * across[:, lo + 1]
    sin_x = _dot3(pu, w) / np.sqrt(_dot3(w, w))
    cross_deg = np.degrees(np.arcsin(np.clip(np.abs(sin_x), 0.0, 1.0)))
    radius_c = (1.0 - tau) * geometry.radius[lo] + tau * geometry.radius[lo + 1]
    lam_p = footprint_deg(half_angle_deg, elevation_deg, radius_c, track.point_radius[point])
    near = cross_deg <= lam_p + PEAK_MARGIN_DEG
    lo, tau, point = lo[near], tau[near], point[near]
    lam_p, radius_c, cross_deg = lam_p[near], radius_c[near], cross_deg[near]
    rate = (1.0 - tau) * geometry.rate_rad_s[lo] + tau * geometry.rate_rad_s[lo + 1]
    # Near the footprint's edge the exact margin decides; well inside, the point is seen.
    # There the closest approach's central angle is read from the exact margin, so that
    # the sphere's estimate of the pass's half-length starts from the true peak.
    psi_c = np.radians(cross_deg)
    edge = np.flatnonzero(cross_deg >= lam_p - PEAK_MARGIN_DEG)
    q_c, _ = track.between(lo[edge], tau[edge], point[edge])
    psi_c[edge] = _central_angle(
        q_c + track.threshold, track.half_angle, radius_c[edge], track.point_radius[point[edge]]
    )
    covered = np.ones(lo.size, dtype=bool)
    covered[edge] = q_c >= 0.0
    geometry.passes += int(covered.sum())
    lo, tau, point, psi_c = lo[covered], tau[covered], point[covered], psi_c[covered]
    lam_p, rate = lam_p[covered], rate[covered]
    t_c = (lo + tau) * h

    # The crossings, from the spherical footprint's estimate, by Newton's method.
    with np.errstate(invalid="ignore"):
        cos_d = np.cos(np.radians(lam_p)) / np.cos(psi_c)
    half_s = np.arccos(np.clip(cos_d, -1.0, 1.0)) / np.maximum(rate, 1e-12)
    p, u = track.p[:, point], track.u[:, point]
    t_a, ok_a = _newton(track, p, u, t_c - half_s, t_c, rising=True)
    t_l, ok_l = _newton(track, p, u, t_c + half_s, t_c, rising=False)
    ok = ok_a & ok_l & (half_s > 2.0) & (t_a > 0.0) & (t_l < duration)
    # Where Newton's method is not sure (a grazing pass, the window's ends): walk.
    redo = np.flatnonzero(~ok)
    if redo.size:
        t_a[redo] = _walk(track, lo[redo], tau[redo], point[redo], backward=True)
        t_l[redo] = _walk(track, lo[redo], tau[redo], point[redo], backward=False)
    # Those reaching the window's ends are found from the ends (_edge_accesses).
    inside = (t_a > 0.0) & (t_l < duration)
    return point[inside], t_a[inside], t_l[inside]


def _central_angle(
    value: FloatArray, half_angle: bool, radius_km: FloatArray, earth_km: FloatArray
) -> FloatArray:
    """Return the central angle (rad) at which a sphere gives this elevation sine or
    off-nadir cosine, for satellites at ``radius_km`` over points at ``earth_km``."""
    with np.errstate(invalid="ignore"):
        if half_angle:
            eta = np.arccos(np.clip(value, -1.0, 1.0))
            return np.asarray(np.arcsin(np.minimum(radius_km * np.sin(eta) / earth_km, 1.0)) - eta)
        el = np.arcsin(np.clip(value, -1.0, 1.0))
        return np.asarray(np.arccos(np.minimum(earth_km * np.cos(el) / radius_km, 1.0)) - el)


NEWTON_TOLERANCE_S = 0.1
"""The chord step must be this small (s): what is left after it is a few milliseconds."""


def _newton(
    track: _Track,
    p: FloatArray,
    u: FloatArray,
    guess_s: FloatArray,
    peak_s: FloatArray,
    *,
    rising: bool,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Return crossings of the margin found from ``guess_s``, and whether each is sure.

    A Newton step, then a chord step with the first step's slope (its convergence factor
    is the slope's relative change over the first step's length, about 1 %). Sure means:
    the chord step was under :data:`NEWTON_TOLERANCE_S`, the crossing lies on the right
    side of the peak, and the margin rises there (AOS) or falls (LOS).
    """
    h = track.h
    end = track.last * h
    t = np.clip(guess_s, 0.0, end)
    node = np.clip(np.floor(t / h).astype(np.int64), 0, track.last - 1)
    q, rate = track.seen_from(node, t / h - node, p, u)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.nan_to_num(-q / rate, nan=0.0, posinf=0.0, neginf=0.0)
    t = np.clip(t + step, 0.0, end)
    node = np.clip(np.floor(t / h).astype(np.int64), 0, track.last - 1)
    q = track.margin_from(node, t / h - node, p, u)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = -q / rate
    t = np.clip(t + np.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0), 0.0, end)
    # Rows not yet sure get one more Newton step.
    again = np.flatnonzero(~(np.abs(step) < NEWTON_TOLERANCE_S))
    if again.size:
        t_again = t[again]
        node = np.clip(np.floor(t_again / h).astype(np.int64), 0, track.last - 1)
        q, rate_again = track.seen_from(node, t_again / h - node, p[:, again], u[:, again])
        with np.errstate(divide="ignore", invalid="ignore"):
            step_again = -q / rate_again
        t[again] = np.clip(
            t_again + np.nan_to_num(step_again, nan=0.0, posinf=0.0, neginf=0.0), 0.0, end
        )
        step[again], rate[again] = step_again, rate_again
    side = (t < peak_s) if rising else (t > peak_s)
    slope = (rate > 0.0) if rising else (rate < 0.0)
    sure = (np.abs(step) < NEWTON_TOLERANCE_S) & side & slope & np.isfinite(t)
    return t, sure


def _edge_accesses(
    track: _Track,
    geometry: _Geometry,
    index: _BandIndex,
    lam: FloatArray,
    good: NDArray[np.bool_],
    duration: float,
) -> tuple[tuple[IntArray, FloatArray, FloatArray], tuple[IntArray, FloatArray, FloatArray]]:
    """Return the accesses under way at the window's start, then those at its end."""
    nodes = track.last
    none = (np.empty(0, np.int64), np.empty(0), np.empty(0))
    out = [none, none]
    for k, (node, backward) in enumerate(((0, False), (nodes, True))):
        if not good[node]:
            continue
        sub = geometry.sub[node]
        _, near = index.query(
            np.array([np.degrees(np.arcsin(np.clip(sub[2], -1.0, 1.0)))]),
            np.array([np.degrees(np.arctan2(sub[1], sub[0]))]),
            np.array([lam[node] + CAP_MARGIN_DEG]),
        )
        q, _ = track.at_nodes(np.full(near.size, node), near)
        near = near[q >= 0.0]
        at = np.full(near.size, min(node, nodes - 1))
        tau = np.full(near.size, 0.0 if node == 0 else 1.0)
        other = _walk(track, at, tau, near, backward=backward)
        if backward:  # those also under way at the start are found from the start
            keep = other > 0.0
            out[k] = (near[keep], other[keep], np.full(int(keep.sum()), duration))
        else:
            out[k] = (near, np.zeros(near.size), other)
    return out[0], out[1]


def _walk(
    track: _Track, node: IntArray, tau: FloatArray, point: IntArray, *, backward: bool
) -> FloatArray:
    """Return the time (s) where the margin falls below zero, walking from a covered moment.

    Starts at fraction ``tau`` of the node step after ``node``; walks node by node until the
    margin is negative (or the window ends), then refines all the crossings at once.
    """
    h = track.h
    n = node.size
    time = np.empty(n)
    # Each row's bracket: the node step, the outer end (margin < 0) and the inner end.
    bracket_node = np.zeros(n, dtype=np.int64)
    outer_q = np.full(n, np.nan)
    inner_tau = np.zeros(n)
    crossing = np.zeros(n, dtype=bool)
    # The first node on the walking side, and the covered moment next to it.
    at = node + (0 if backward else 1)
    inner_node = node.copy()
    inner_at = tau.copy()
    pending = np.arange(n)
    while pending.size:
        q, _ = track.at_nodes(at[pending], point[pending])
        crossed = ~(q >= 0.0)  # NaN (SGP4 failed) counts as not covered
        edge = (at[pending] <= 0) if backward else (at[pending] >= track.last)
        rows = pending[~crossed & edge]
        time[rows] = at[rows] * h
        cross = pending[crossed]
        step_node = at[cross] if backward else at[cross] - 1
        bracket_node[cross] = step_node
        outer_q[cross] = q[crossed]
        inner_tau[cross] = np.where(
            inner_node[cross] == step_node, inner_at[cross], 1.0 if backward else 0.0
        )
        crossing[cross] = True
        # The node reached is covered: it becomes the inner end of the next step.
        walk_on = pending[~(crossed | edge)]
        inner_node[walk_on] = at[walk_on] - (0 if backward else 1)
        inner_at[walk_on] = 0.0 if backward else 1.0
        at[walk_on] += -1 if backward else 1
        pending = walk_on
    cross = np.flatnonzero(crossing)
    if cross.size:
        s, p, inner = bracket_node[cross], point[cross], inner_tau[cross]
        q_in, _ = track.between(s, inner, p)
        outer = np.zeros(cross.size) if backward else np.ones(cross.size)
        root = _illinois(
            lambda rows, x: track.between(s[rows], x, p[rows])[0],
            outer,
            outer_q[cross],
            inner,
            q_in,
            CROSSING_TOLERANCE_S / h,
        )
        # Where SGP4 failed at the outer node, the access ends at the last covered moment.
        root = np.where(np.isnan(outer_q[cross]), inner, root)
        time[cross] = (s + root) * h
    return time


def _nodes_per_step(footprint_deg: float, turn_deg: float) -> int:
    """Return the nodes per coarse step that keep the caps' total area least.

    A cap's radius is the footprint plus half the track's length in the step; its area
    per unit time is least when half the track equals the footprint.
    """
    if turn_deg <= 0.0:
        return 30
    return int(np.clip(round(2.0 * footprint_deg / turn_deg), 1, 30))


def _propagate(
    orbit: Orbit, jd: FloatArray, fr: FloatArray
) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
    err, r, v = orbit.propagate(jd, fr)
    bad = err != 0
    r = np.array(r, dtype=float)
    v = np.array(v, dtype=float)
    r[bad] = np.nan
    v[bad] = np.nan
    return err, r, v


def find_accesses(
    orbits: Sequence[Orbit],
    points: GroundPoints,
    start: datetime,
    end: datetime,
    rule: AccessRule,
    *,
    node_step_s: float = NODE_STEP_S,
) -> list[SatelliteAccesses]:
    """Return every satellite's accesses to every point over ``[start, end]``."""
    if end <= start:
        raise DesignError("the study's end must be after its start")
    index = _BandIndex(points)
    return [
        satellite_accesses(orbit, points, start, end, rule, index=index, node_step_s=node_step_s)
        for orbit in orbits
    ]
