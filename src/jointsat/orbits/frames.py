"""Turn TEME states into Earth-fixed, geodetic and topocentric coordinates.

Times are split Julian dates ``(jd, fr)`` in UTC; UT1 is taken equal to UTC
(within 0.9 s, a few metres at the equator) and polar motion is ignored, as
no Earth-orientation data are downloaded. Distances are kilometres.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from jointsat.constants import DAY_S, EARTH_ROTATION_RAD_S, WGS84_A_KM, WGS84_F
from jointsat.orbits.vectors import FloatArray
from jointsat.timelib import JD_J2000

WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)
_TAU = 2.0 * np.pi


def gmst82_rad(jd: ArrayLike, fr: ArrayLike) -> FloatArray:
    """Return Greenwich mean sidereal time (IAU 1982, radians) at UT1 = UTC.

    The whole days and the day fraction are kept apart so that the rotation
    angle keeps its precision far from J2000.
    """
    jd = np.asarray(jd, dtype=float)
    fr = np.asarray(fr, dtype=float)
    days_whole = jd - JD_J2000
    t = (days_whole + fr) / 36525.0
    seconds = (
        67310.54841
        + DAY_S * (np.mod(days_whole, 1.0) + fr)
        + (8640184.812866 + (0.093104 - 6.2e-6 * t) * t) * t
    )
    return np.asarray(np.mod(seconds, DAY_S) * (_TAU / DAY_S))


def teme_to_ecef(
    r_teme_km: FloatArray, v_teme_km_s: FloatArray, gmst_rad: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Rotate TEME position and velocity to the Earth-fixed frame (pseudo Earth-fixed).

    ``gmst_rad`` broadcasts against the leading axes of the ``(..., 3)`` vectors.
    The velocity is relative to the rotating Earth.
    """
    c = np.cos(gmst_rad)
    s = np.sin(gmst_rad)
    x, y, z = r_teme_km[..., 0], r_teme_km[..., 1], r_teme_km[..., 2]
    vx, vy, vz = v_teme_km_s[..., 0], v_teme_km_s[..., 1], v_teme_km_s[..., 2]
    xe = c * x + s * y
    ye = -s * x + c * y
    w = EARTH_ROTATION_RAD_S
    r = np.stack([xe, ye, z], axis=-1)
    v = np.stack([c * vx + s * vy + w * ye, -s * vx + c * vy - w * xe, vz], axis=-1)
    return r, v


def ecef_to_teme(vector_ecef: FloatArray, gmst_rad: FloatArray) -> FloatArray:
    """Rotate an Earth-fixed direction or position back to TEME (no velocity terms)."""
    c = np.cos(gmst_rad)
    s = np.sin(gmst_rad)
    x, y, z = vector_ecef[..., 0], vector_ecef[..., 1], vector_ecef[..., 2]
    return np.stack([c * x - s * y, s * x + c * y, z], axis=-1)


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike) -> FloatArray:
    """Return the Earth-fixed position (km) of WGS-84 geodetic coordinates."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    h = np.asarray(alt_m, dtype=float) / 1000.0
    sin_lat = np.sin(lat)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
    xy = (n + h) * np.cos(lat)
    return np.stack(
        [xy * np.cos(lon), xy * np.sin(lon), (n * (1.0 - WGS84_E2) + h) * sin_lat], axis=-1
    )


def ecef_to_geodetic(r_ecef_km: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return WGS-84 latitude (deg), longitude (deg) and height (m) of Earth-fixed points.

    Uses Bowring's method with two refinements: better than a millimetre for
    satellites and stations alike.
    """
    x, y, z = r_ecef_km[..., 0], r_ecef_km[..., 1], r_ecef_km[..., 2]
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    ep2 = WGS84_E2 / (1.0 - WGS84_E2)
    beta = np.arctan2(z, (1.0 - WGS84_F) * p)
    for _ in range(3):
        lat = np.arctan2(
            z + ep2 * WGS84_B_KM * np.sin(beta) ** 3, p - WGS84_E2 * WGS84_A_KM * np.cos(beta) ** 3
        )
        beta = np.arctan2((1.0 - WGS84_F) * np.sin(lat), np.cos(lat))
    sin_lat = np.sin(lat)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
    h = p * np.cos(lat) + (z + WGS84_E2 * n * sin_lat) * sin_lat - n
    return np.degrees(lat), np.degrees(lon), h * 1000.0


def enu_basis(lat_deg: ArrayLike, lon_deg: ArrayLike) -> FloatArray:
    """Return the east, north and up unit vectors (rows, Earth-fixed) at geodetic points."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    east = np.stack([-so, co, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return np.stack([east, north, up], axis=-2)


def topocentric(
    r_ecef_km: FloatArray,
    v_ecef_km_s: FloatArray,
    station_ecef_km: FloatArray,
    station_enu: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return azimuth (deg), elevation (deg), range (km) and range rate (km/s).

    All arguments broadcast: satellite states ``(..., 3)``, station positions
    ``(..., 3)`` and bases ``(..., 3, 3)`` from :func:`enu_basis`. Azimuth is
    measured from north through east in [0, 360); range rate is positive when
    the satellite recedes.
    """
    rho = r_ecef_km - station_ecef_km
    e = np.einsum("...j,...j->...", rho, station_enu[..., 0, :])
    n = np.einsum("...j,...j->...", rho, station_enu[..., 1, :])
    u = np.einsum("...j,...j->...", rho, station_enu[..., 2, :])
    rng = np.sqrt(e * e + n * n + u * u)
    az = np.mod(np.degrees(np.arctan2(e, n)), 360.0)
    el = np.degrees(np.arcsin(np.clip(u / rng, -1.0, 1.0)))
    rate = np.einsum("...j,...j->...", rho, v_ecef_km_s) / rng
    return az, el, rng, rate
