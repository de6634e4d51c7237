"""Propagate many satellites at many times with SGP4, errors as data.

Several element sets of one catalog number form one satellite. At each time
the set whose epoch is nearest is used; exactly halfway between two epochs,
the newer set wins. Positions and velocities are TEME, km and km/s. A time
at which SGP4 fails (decayed satellite, eccentricity out of range) yields NaN
and the sgp4 error code for that row instead of an exception.

The pass engine asks any :class:`Orbit` for the same things: a satellite of
element sets here, or an :class:`jointsat.orbits.ephemeris.Ephemeris` (an OEM's
table of states, NaN and :data:`jointsat.orbits.ephemeris.OUTSIDE_COVERAGE`
outside it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sgp4.api import SGP4_ERRORS, SatrecArray

from jointsat.constants import (
    DAY_S,
    EARTH_ROTATION_RAD_S,
    LEO_MAX_ECCENTRICITY,
    LEO_MIN_MEAN_MOTION_REV_PER_DAY,
    MINUTES_PER_DAY,
    WGS72_MU_KM3_S2,
)
from jointsat.orbits.elements import JD_1949_12_31, Elements
from jointsat.orbits.ephemeris import OUTSIDE_COVERAGE, Ephemeris
from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray

RADIUS_SLACK = 0.01  # of the semi-major axis, below perigee: SGP4's short-period terms, drag
RADIUS_SLACK_KM = 25.0


class Orbit(Protocol):
    """What the pass engine asks of a satellite, whatever its trajectory comes from."""

    @property
    def norad_id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def max_angular_rate_rad_s(self) -> float:
        """Bound the geocentric angular rate seen from the rotating Earth."""
        ...

    @property
    def max_radius_km(self) -> float:
        """Bound the distance from the Earth's centre from above."""
        ...

    @property
    def min_radius_km(self) -> float:
        """Bound the distance from the Earth's centre from below."""
        ...

    def propagate(
        self, jd: FloatArray, fr: FloatArray
    ) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
        """Return error codes ``(T,)``, TEME positions and velocities ``(T, 3)``."""
        ...

    @property
    def low_earth_orbit(self) -> bool:
        """Say whether it is in a low Earth orbit (whose elements go stale sooner)."""
        ...

    def elements_age_days(self, jd: FloatArray, fr: FloatArray) -> FloatArray:
        """Return the age (days) of what each time's prediction comes from (NaN: none)."""
        ...


@dataclass(frozen=True)
class Satellite:
    """Hold one satellite's element sets, sorted by epoch."""

    norad_id: int
    name: str
    element_sets: tuple[Elements, ...]

    @cached_property
    def _satrecs(self) -> tuple[object, ...]:
        return tuple(e.satrec() for e in self.element_sets)

    @cached_property
    def _epoch_days(self) -> FloatArray:
        return np.array([e.epoch_days_since_1949 for e in self.element_sets])

    @property
    def max_angular_rate_rad_s(self) -> float:
        """Return a bound on the satellite's geocentric angular rate seen from the rotating Earth.

        Kepler's law at perigee for the fastest of its element sets, with a
        margin for perturbations, plus the Earth's rotation.
        """
        rates = []
        for e in self.element_sets:
            n_rad_s = e.mean_motion_rev_per_day * 2.0 * math.pi / DAY_S
            ecc = min(e.eccentricity, 0.999)
            rates.append(n_rad_s * (1.0 + ecc) ** 2 / (1.0 - ecc * ecc) ** 1.5)
        return float(1.05 * max(rates) + EARTH_ROTATION_RAD_S)

    @property
    def max_radius_km(self) -> float:
        """Return a bound on the satellite's distance from the Earth's centre (apogee, margin)."""
        radii = []
        for e in self.element_sets:
            n_rad_min = e.mean_motion_rev_per_day * 2.0 * math.pi / MINUTES_PER_DAY
            a_km = (WGS72_MU_KM3_S2 / (n_rad_min / 60.0) ** 2) ** (1.0 / 3.0)
            radii.append(a_km * (1.0 + e.eccentricity))
        return float(1.02 * max(radii) + 50.0)

    @property
    def min_radius_km(self) -> float:
        """Return a bound below the distance from the Earth's centre.

        Perigee less RADIUS_SLACK of the semi-major axis and RADIUS_SLACK_KM
        (SGP4's short-period terms move a LEO's radius by about 10 km; drag
        lowers it by a few km a week).
        """
        perigees = []
        for e in self.element_sets:
            n_rad_s = e.mean_motion_rev_per_day * 2.0 * math.pi / DAY_S
            a_km = (WGS72_MU_KM3_S2 / n_rad_s**2) ** (1.0 / 3.0)
            perigees.append(a_km * (1.0 - e.eccentricity) - RADIUS_SLACK * a_km)
        return float(min(perigees) - RADIUS_SLACK_KM)

    def set_index(self, jd: FloatArray, fr: FloatArray) -> IntArray:
        """Return, for each time, the index of the element set nearest in epoch."""
        if len(self.element_sets) == 1:
            return np.zeros(np.shape(jd), dtype=np.int64)
        days = (np.asarray(jd) - JD_1949_12_31) + np.asarray(fr)
        epochs = self._epoch_days
        midpoints = 0.5 * (epochs[1:] + epochs[:-1])
        return np.searchsorted(midpoints, days, side="right").astype(np.int64)

    def elements_age_days(self, jd: FloatArray, fr: FloatArray) -> FloatArray:
        """Return, for each time (split Julian date, UTC), the age of the elements used then.

        The age is |time - epoch| in days of the set :meth:`set_index` chooses (the
        nearest in epoch): how far the propagator extrapolates, before or after.
        """
        days = (np.asarray(jd, dtype=float) - JD_1949_12_31) + np.asarray(fr, dtype=float)
        return np.asarray(np.abs(days - self._epoch_days[self.set_index(jd, fr)]))

    @property
    def low_earth_orbit(self) -> bool:
        """Say whether the newest element set is a low Earth orbit.

        More than 11.25 revolutions a day (a period under 128 minutes) and an
        eccentricity below 0.25, as Space-Track classes orbits as LEO.
        """
        newest = self.element_sets[-1]
        return (
            newest.mean_motion_rev_per_day > LEO_MIN_MEAN_MOTION_REV_PER_DAY
            and newest.eccentricity < LEO_MAX_ECCENTRICITY
        )

    def propagate(
        self, jd: FloatArray, fr: FloatArray
    ) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
        """Return error codes ``(T,)``, positions and velocities ``(T, 3)`` at the times."""
        jd = np.ascontiguousarray(jd, dtype=float)
        fr = np.ascontiguousarray(fr, dtype=float)
        if len(self.element_sets) == 1:
            e, r, v = self._satrecs[0].sgp4_array(jd, fr)  # type: ignore[attr-defined]
            return e.astype(np.uint8), r, v
        which = self.set_index(jd, fr)
        err = np.zeros(jd.shape, dtype=np.uint8)
        r = np.empty((*jd.shape, 3))
        v = np.empty((*jd.shape, 3))
        for k in np.unique(which):
            rows = which == k
            ek, rk, vk = self._satrecs[k].sgp4_array(jd[rows], fr[rows])
            err[rows], r[rows], v[rows] = ek, rk, vk
        return err, r, v


@dataclass(frozen=True)
class Covered:
    """Stand for a satellite known by ephemerides where they cover it, else by element sets.

    An ephemeris (a partner's OEM) is the preferred source: a time inside one's
    coverage uses it (the last one covering it, where several do), any other time
    the element sets (nearest epoch). Without element sets a time outside every
    coverage is :data:`jointsat.orbits.ephemeris.OUTSIDE_COVERAGE`, NaN. The
    catalog number and name are the satellite's, whatever the files call it.
    """

    norad_id: int
    name: str
    ephemerides: tuple[Ephemeris, ...]
    elements: Satellite | None = None

    @property
    def _parts(self) -> tuple[Orbit, ...]:
        return (*self.ephemerides, *(() if self.elements is None else (self.elements,)))

    def source_index(self, jd: FloatArray, fr: FloatArray) -> IntArray:
        """Return, for each time, the ephemeris used (the last covering it), -1: the elements."""
        which = np.full(np.size(jd), -1, dtype=np.int64)
        for k, ephemeris in enumerate(self.ephemerides):
            which[ephemeris.segment_index(jd, fr).ravel() >= 0] = k
        return which

    def _split(self, jd: FloatArray, fr: FloatArray) -> Iterator[tuple[BoolArray, Orbit]]:
        """Yield the rows of the times (flat) each part predicts, and the part."""
        which = self.source_index(jd, fr)
        for k in np.unique(which):
            part = self.elements if k < 0 else self.ephemerides[int(k)]
            if part is not None:
                yield which == k, part

    def propagate(
        self, jd: FloatArray, fr: FloatArray
    ) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
        """Return codes ``(T,)``, TEME positions and velocities ``(T, 3)``, each from its part."""
        jd = np.atleast_1d(np.asarray(jd, dtype=float)).ravel()
        fr = np.atleast_1d(np.asarray(fr, dtype=float)).ravel()
        err = np.full(jd.size, OUTSIDE_COVERAGE, dtype=np.uint8)
        r = np.full((jd.size, 3), np.nan)
        v = np.full((jd.size, 3), np.nan)
        for rows, part in self._split(jd, fr):
            err[rows], r[rows], v[rows] = part.propagate(jd[rows], fr[rows])
        return err, r, v

    def elements_age_days(self, jd: FloatArray, fr: FloatArray) -> FloatArray:
        """Return the age of what each time's prediction comes from (NaN: nothing covers it)."""
        shape = np.shape(np.asarray(jd) + np.asarray(fr))
        jd_flat = np.broadcast_to(np.asarray(jd, dtype=float), shape).ravel()
        fr_flat = np.broadcast_to(np.asarray(fr, dtype=float), shape).ravel()
        age = np.full(jd_flat.size, np.nan)
        for rows, part in self._split(jd_flat, fr_flat):
            age[rows] = part.elements_age_days(jd_flat[rows], fr_flat[rows])
        return age.reshape(shape)

    @property
    def low_earth_orbit(self) -> bool:
        """Say whether the element sets (else the last ephemeris) describe a low Earth orbit."""
        newest = self.ephemerides[-1] if self.elements is None else self.elements
        return newest.low_earth_orbit

    @property
    def max_angular_rate_rad_s(self) -> float:
        """Return the largest of its parts' bounds on the angular rate."""
        return max(p.max_angular_rate_rad_s for p in self._parts)

    @property
    def max_radius_km(self) -> float:
        """Return the largest of its parts' bounds on the radius."""
        return max(p.max_radius_km for p in self._parts)

    @property
    def min_radius_km(self) -> float:
        """Return the smallest of its parts' lower bounds on the radius."""
        return min(p.min_radius_km for p in self._parts)


OrbitRecord = Elements | Ephemeris | Covered
"""What an orbit is built from: element sets (grouped by catalog number), an ephemeris, or a
satellite of both (:class:`Covered`)."""


def group_satellites(elements: Iterable[Elements]) -> tuple[Satellite, ...]:
    """Group element sets by catalog number into satellites, in order of first appearance.

    A satellite takes the name of its newest set; duplicate sets (same epoch)
    keep the last one read.
    """
    by_id: dict[int, dict[float, Elements]] = {}
    for e in elements:
        by_id.setdefault(e.norad_cat_id, {})[e.epoch_days_since_1949] = e
    satellites = []
    for norad_id, sets in by_id.items():
        ordered = tuple(sets[k] for k in sorted(sets))
        satellites.append(Satellite(norad_id, ordered[-1].object_name, ordered))
    return tuple(satellites)


def build_orbits(records: Iterable[OrbitRecord]) -> tuple[Orbit, ...]:
    """Return the orbits of element sets (grouped into satellites), then the other records."""
    records = list(records)
    satellites = group_satellites(r for r in records if isinstance(r, Elements))
    return (*satellites, *(r for r in records if not isinstance(r, Elements)))


def orbit_records(orbit: Orbit) -> tuple[OrbitRecord, ...]:
    """Return what an orbit was built from (:func:`build_orbits` undone), to send elsewhere."""
    if isinstance(orbit, Satellite):
        return orbit.element_sets
    if isinstance(orbit, Ephemeris | Covered):
        return (orbit,)
    raise TypeError(f"cannot send {type(orbit).__name__} to another process")


def _single_set(orbit: Orbit) -> bool:
    return isinstance(orbit, Satellite) and len(orbit.element_sets) == 1


def propagate(
    satellites: Sequence[Orbit], jd: FloatArray, fr: FloatArray
) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
    """Propagate every satellite at every time.

    Return error codes ``(N, T)`` (0 for success, else sgp4's code) and TEME
    positions and velocities ``(N, T, 3)``, NaN where the code is not 0.
    Satellites with a single element set go through sgp4's SatrecArray in one
    call; the others are propagated by their own ``propagate``.
    """
    jd = np.ascontiguousarray(jd, dtype=float)
    fr = np.ascontiguousarray(fr, dtype=float)
    n, t = len(satellites), jd.size
    err = np.zeros((n, t), dtype=np.uint8)
    r = np.empty((n, t, 3))
    v = np.empty((n, t, 3))
    single = [i for i, s in enumerate(satellites) if _single_set(s)]
    if single:
        array = SatrecArray([satellites[i]._satrecs[0] for i in single])  # type: ignore[attr-defined]
        e1, r1, v1 = array.sgp4(jd, fr)
        err[single], r[single], v[single] = e1, r1, v1
    for i, s in enumerate(satellites):
        if not _single_set(s):
            err[i], r[i], v[i] = s.propagate(jd, fr)
    bad = err != 0
    r[bad] = np.nan
    v[bad] = np.nan
    return err, r, v


def propagate_rows(
    satellites: Sequence[Orbit], satellite: IntArray, jd: FloatArray, fr: FloatArray
) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
    """Propagate satellite ``satellite[i]`` at time ``(jd[i], fr[i])`` for each row i.

    Return error codes ``(K,)`` and TEME positions and velocities ``(K, 3)``.
    """
    k = satellite.size
    err = np.zeros(k, dtype=np.uint8)
    r = np.empty((k, 3))
    v = np.empty((k, 3))
    if k and bool((satellite[1:] >= satellite[:-1]).all()):  # rows grouped already: slices
        edges = [0, *(np.flatnonzero(np.diff(satellite)) + 1).tolist(), k]
        for a, b in itertools.pairwise(edges):
            e, rr, vv = satellites[int(satellite[a])].propagate(jd[a:b], fr[a:b])
            err[a:b], r[a:b], v[a:b] = e, rr, vv
        r[err != 0] = np.nan
        v[err != 0] = np.nan
        return err, r, v
    order = np.argsort(satellite, kind="stable")
    sorted_sat = satellite[order]
    bounds = np.flatnonzero(np.diff(sorted_sat)) + 1
    for rows in np.split(order, bounds):
        if rows.size:
            e, rr, vv = satellites[int(satellite[rows[0]])].propagate(jd[rows], fr[rows])
            err[rows], r[rows], v[rows] = e, rr, vv
    bad = err != 0
    r[bad] = np.nan
    v[bad] = np.nan
    return err, r, v


def error_message(code: int) -> str:
    """Return sgp4's description of an error code (or the ephemeris' own)."""
    if code == OUTSIDE_COVERAGE:
        return "the time is outside the ephemeris' coverage (no extrapolation)"
    return str(SGP4_ERRORS.get(code, f"sgp4 error {code}"))
