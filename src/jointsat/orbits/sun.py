"""Compute the Sun's direction, a satellite's sunlit state and a station's sun elevation.

The series is the Astronomical Almanac's low-precision solar position, good to
about 0.01 degree between 1950 and 2050; it is far cheaper than an ephemeris
and needs no data file.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jointsat.constants import WGS84_A_KM
from jointsat.orbits.frames import (
    WGS84_B_KM,
    ecef_to_teme,
    enu_basis,
    geodetic_to_ecef,
    gmst82_rad,
)
from jointsat.orbits.vectors import FloatArray
from jointsat.timelib import JD_J2000

AU_KM = 149_597_870.7


def sun_position_km(jd: ArrayLike, fr: ArrayLike) -> FloatArray:
    """Return the geocentric Sun position (km) in the equator and equinox of date, ``(..., 3)``.

    The equinox of date is the TEME frame's, to within nutation (~0.005 deg).
    """
    n = (np.asarray(jd, dtype=float) - JD_J2000) + np.asarray(fr, dtype=float)
    mean_longitude = np.radians(280.460 + 0.9856474 * n)
    g = np.radians(357.528 + 0.9856003 * n)
    ecliptic_longitude = mean_longitude + np.radians(1.915 * np.sin(g) + 0.020 * np.sin(2 * g))
    obliquity = np.radians(23.439 - 4.0e-7 * n)
    distance_km = AU_KM * (1.00014 - 0.01671 * np.cos(g) - 0.00014 * np.cos(2 * g))
    cl = np.cos(ecliptic_longitude)
    sl = np.sin(ecliptic_longitude)
    direction = np.stack([cl, np.cos(obliquity) * sl, np.sin(obliquity) * sl], axis=-1)
    return np.asarray(distance_km[..., None] * direction)


def is_sunlit(r_teme_km: FloatArray, sun_teme_km: FloatArray) -> NDArray[np.bool_]:
    """Return whether the Sun's centre is above the Earth's limb as seen from each position.

    The Earth is the WGS-84 ellipsoid: the line from the satellite towards the
    Sun is tested against it in coordinates where it becomes a sphere (polar
    axis stretched). Arguments broadcast as ``(..., 3)`` arrays.
    """
    stretch = np.array([1.0, 1.0, WGS84_A_KM / WGS84_B_KM])
    p = r_teme_km * stretch
    d = (sun_teme_km - r_teme_km) * stretch
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    along = np.einsum("...j,...j->...", p, d)
    closest_sq = np.einsum("...j,...j->...", p, p) - along**2
    # Shadowed when the Earth lies ahead on the line (along < 0) and the line
    # passes closer to the centre than the (stretched) Earth's radius.
    return np.asarray(~((along < 0.0) & (closest_sq < WGS84_A_KM**2)))


def sun_elevation_deg(
    lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike, jd: ArrayLike, fr: ArrayLike
) -> FloatArray:
    """Return the Sun's geometric elevation (degrees) at geodetic points and times (broadcast)."""
    sun_teme = sun_position_km(jd, fr)
    gmst = gmst82_rad(jd, fr)
    station = geodetic_to_ecef(lat_deg, lon_deg, alt_m)
    up = enu_basis(lat_deg, lon_deg)[..., 2, :]
    up_teme = ecef_to_teme(up, gmst)
    station_teme = ecef_to_teme(station, gmst)
    rho = sun_teme - station_teme
    sin_el = np.einsum("...j,...j->...", rho, up_teme) / np.linalg.norm(rho, axis=-1)
    return np.asarray(np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0))))
