"""Interpolate a tabulated trajectory (an OEM's states) like a propagator, errors as data.

An :class:`Ephemeris` holds segments of states in the pass engine's TEME
(:mod:`jointsat.orbits.refframes` turns a file's frame into it) and answers
``propagate(jd, fr)`` as :class:`jointsat.orbits.propagation.Satellite` does.
Positions are Lagrange polynomials through the ``degree + 1`` states around
each time (the file's INTERPOLATION_DEGREE), velocities the polynomials'
derivative, so that position and velocity agree as the pass engine's Newton
steps need. Velocities in the file are not interpolated (no Hermite: SGP4's
velocities differ from the derivative of its positions by up to 2 cm/s). A time
outside every segment is not extrapolated: its row is NaN with the code
:data:`OUTSIDE_COVERAGE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from jointsat.constants import (
    DAY_S,
    EARTH_ROTATION_RAD_S,
    LEO_MAX_ECCENTRICITY,
    LEO_MIN_MEAN_MOTION_REV_PER_DAY,
    WGS72_MU_KM3_S2,
)
from jointsat.orbits.vectors import FloatArray
from jointsat.timelib import from_split_julian

__all__ = ["OUTSIDE_COVERAGE", "Ephemeris", "EphemerisSegment", "lagrange"]

OUTSIDE_COVERAGE = 101
"""Error code of a time outside an ephemeris' coverage (SGP4's own codes are 1 to 6)."""

DEFAULT_DEGREE = 8
"""Lagrange degree when an OEM names none (CCSDS leaves it to the parties)."""

RATE_MARGIN = 1.2  # over the largest angular rate sampled at the states and between them
RADIUS_MARGIN = 0.01  # of the radius, beyond the largest and below the smallest sampled


def lagrange(
    nodes_s: FloatArray, values: FloatArray, t_s: FloatArray, degree: int
) -> tuple[FloatArray, FloatArray]:
    """Return the Lagrange interpolant of ``values`` ``(N, 3)`` and its derivative at ``t_s``.

    Each time uses the ``degree + 1`` nodes centred on it (fewer if the table
    is shorter), shifted inwards at the ends. ``nodes_s`` must increase; times
    outside them are extrapolated, so the caller keeps them out.
    """
    t = np.asarray(t_s, dtype=float)
    n = min(degree + 1, nodes_s.size)
    first = np.searchsorted(nodes_s, t, side="right") - (n + 1) // 2
    first = np.clip(first, 0, nodes_s.size - n)
    index = first[:, None] + np.arange(n)  # (T, n)
    x = nodes_s[index]
    scale = np.maximum(x[:, -1] - x[:, 0], 1e-300)[:, None]
    d = (t[:, None] - x) / scale  # (T, n), scaled for conditioning
    xs = x / scale
    basis = np.empty_like(d)
    slope = np.empty_like(d)
    for j in range(n):
        others = np.arange(n) != j
        denominator = np.prod(xs[:, j : j + 1] - xs[:, others], axis=1)
        e = d.copy()
        e[:, j] = 1.0
        before = np.cumprod(np.hstack([np.ones((t.size, 1)), e[:, :-1]]), axis=1)
        after = np.cumprod(np.hstack([np.ones((t.size, 1)), e[:, :0:-1]]), axis=1)[:, ::-1]
        without = before * after  # product of e over every column but k
        basis[:, j] = np.prod(e, axis=1) / denominator
        slope[:, j] = (without[:, others].sum(axis=1)) / denominator
    y = values[index]  # (T, n, 3)
    position = np.einsum("tn,tnk->tk", basis, y)
    velocity = np.einsum("tn,tnk->tk", slope, y) / scale
    return position, velocity


@dataclass(frozen=True)
class EphemerisSegment:
    """Hold one segment of an ephemeris: states in engine TEME at times after an origin.

    ``times_s`` are seconds after ``origin_jd`` (a UTC midnight, as a Julian
    date), increasing; ``start_s`` and ``stop_s`` bound the span it may be used
    over (an OEM's USEABLE_START/STOP_TIME, else its START/STOP_TIME).
    """

    times_s: FloatArray  # (N,)
    r_teme_km: FloatArray  # (N, 3)
    v_teme_km_s: FloatArray  # (N, 3), as the file gave them (for bounds only)
    start_s: float
    stop_s: float
    degree: int = DEFAULT_DEGREE

    def covers(self, t_s: FloatArray) -> NDArray[np.bool_]:
        """Return which times fall within the segment's usable span."""
        return np.asarray((t_s >= self.start_s) & (t_s <= self.stop_s))

    def states(self, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return the interpolated positions and velocities ``(T, 3)`` at times inside it."""
        return lagrange(self.times_s, self.r_teme_km, t_s, self.degree)


@dataclass(frozen=True)
class Ephemeris:
    """Stand for one satellite whose trajectory is a table of states (an OEM).

    It answers what the pass engine asks a satellite: ``propagate``, bounds on
    its radius and angular rate (from the trajectory itself, so that a cislunar
    orbit gets its own step and cull), and the age of its data. ``created_jd``
    is the OEM's CREATION_DATE as a Julian date (UTC). Where segments overlap,
    the later one is used.
    """

    norad_id: int
    name: str
    object_id: str
    origin_jd: float
    created_jd: float
    segments: tuple[EphemerisSegment, ...]
    frame: str = "TEME"

    def seconds(self, jd: FloatArray, fr: FloatArray) -> FloatArray:
        """Return split Julian dates (UTC) as seconds after the ephemeris' origin."""
        return np.asarray(((np.asarray(jd) - self.origin_jd) + np.asarray(fr)) * DAY_S)

    def segment_index(self, jd: FloatArray, fr: FloatArray) -> NDArray[np.int64]:
        """Return, for each time, the segment used (the last covering it), -1 outside all."""
        t = np.atleast_1d(self.seconds(jd, fr))
        which = np.full(t.shape, -1, dtype=np.int64)
        for k, segment in enumerate(self.segments):
            which[segment.covers(t)] = k
        return which

    def propagate(
        self, jd: FloatArray, fr: FloatArray
    ) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
        """Return codes ``(T,)`` and engine-TEME positions and velocities ``(T, 3)``.

        The code is 0 inside the coverage, :data:`OUTSIDE_COVERAGE` (with NaN
        states) outside it.
        """
        t = np.atleast_1d(self.seconds(jd, fr)).ravel()
        which = self.segment_index(jd, fr).ravel()
        r = np.full((t.size, 3), np.nan)
        v = np.full((t.size, 3), np.nan)
        for k in np.unique(which[which >= 0]):
            rows = which == k
            r[rows], v[rows] = self.segments[k].states(t[rows])
        err = np.where(which < 0, OUTSIDE_COVERAGE, 0).astype(np.uint8)
        return err, r, v

    def elements_age_days(self, jd: FloatArray, fr: FloatArray) -> FloatArray:
        """Return the days between each time and the OEM's creation, NaN outside the coverage."""
        days = np.abs((np.asarray(jd, dtype=float) - self.created_jd) + np.asarray(fr))
        inside = self.segment_index(jd, fr).reshape(np.shape(days)) >= 0
        return np.asarray(np.where(inside, days, np.nan))

    @property
    def low_earth_orbit(self) -> bool:
        """Say whether the trajectory ends in a low Earth orbit, by the element sets' rule.

        The osculating orbit of the last state: more than 11.25 revolutions a day and
        an eccentricity below 0.25 (Space-Track's LEO); an escape trajectory is not.
        """
        last = self.segments[-1]
        r, v = last.r_teme_km[-1], last.v_teme_km_s[-1]
        r_km, v2 = float(np.linalg.norm(r)), float(v @ v)
        energy = 0.5 * v2 - WGS72_MU_KM3_S2 / r_km
        if energy >= 0.0:
            return False
        a_km = -WGS72_MU_KM3_S2 / (2.0 * energy)
        rev_per_day = np.sqrt(WGS72_MU_KM3_S2 / a_km**3) * DAY_S / (2.0 * np.pi)
        e_vec = ((v2 - WGS72_MU_KM3_S2 / r_km) * r - float(r @ v) * v) / WGS72_MU_KM3_S2
        return bool(
            rev_per_day > LEO_MIN_MEAN_MOTION_REV_PER_DAY
            and np.linalg.norm(e_vec) < LEO_MAX_ECCENTRICITY
        )

    @cached_property
    def _samples(self) -> tuple[FloatArray, FloatArray]:
        """Return positions and velocities at the states and halfway between them."""
        rs, vs = [], []
        for segment in self.segments:
            mid = 0.5 * (segment.times_s[1:] + segment.times_s[:-1])
            r_mid, v_mid = segment.states(mid)
            rs += [segment.r_teme_km, r_mid]
            vs += [segment.v_teme_km_s, v_mid]
        return np.concatenate(rs), np.concatenate(vs)

    @property
    def max_radius_km(self) -> float:
        """Return a bound on the distance from the Earth's centre: the largest sampled, and more."""
        r, _ = self._samples
        return float((1.0 + RADIUS_MARGIN) * np.linalg.norm(r, axis=1).max())

    @property
    def min_radius_km(self) -> float:
        """Return a lower bound on the distance from the Earth's centre."""
        r, _ = self._samples
        return float((1.0 - RADIUS_MARGIN) * np.linalg.norm(r, axis=1).min())

    @property
    def max_speed_km_s(self) -> float:
        """Return a bound on the inertial speed: the largest sampled, and a margin."""
        _, v = self._samples
        return float(RATE_MARGIN * np.linalg.norm(v, axis=1).max())

    @property
    def max_angular_rate_rad_s(self) -> float:
        """Return a bound on the geocentric angular rate seen from the rotating Earth.

        The largest inertial rate |r x v| / r^2 sampled at the states and between
        them, with a margin, plus the Earth's rotation.
        """
        r, v = self._samples
        rate = np.linalg.norm(np.cross(r, v), axis=1) / np.einsum("ij,ij->i", r, r)
        return float(RATE_MARGIN * rate.max() + EARTH_ROTATION_RAD_S)

    @property
    def coverage_s(self) -> tuple[float, float]:
        """Return the first and last second (after the origin) that some segment covers."""
        return min(s.start_s for s in self.segments), max(s.stop_s for s in self.segments)

    @property
    def coverage(self) -> tuple[datetime, datetime]:
        """Return the first and last moment (UTC) that some segment covers."""
        first_s, last_s = self.coverage_s
        return (
            from_split_julian(self.origin_jd, first_s / DAY_S),
            from_split_julian(self.origin_jd, last_s / DAY_S),
        )

    @property
    def created(self) -> datetime:
        """Return the OEM's CREATION_DATE (UTC, to the microsecond)."""
        return from_split_julian(self.created_jd, 0.0)
