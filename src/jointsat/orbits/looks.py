"""How a satellite sees ground targets and sky directions: off-nadir, elevation, Sun, limb.

Positions and lines of sight are TEME; ground targets are WGS-84 geodetic. SGP4
failing is data (``error`` codes, NaN angles), never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jointsat.constants import WGS84_A_KM
from jointsat.orbits import frames
from jointsat.orbits.propagation import Orbit
from jointsat.orbits.sun import is_sunlit, sun_position_km
from jointsat.orbits.vectors import BoolArray, FloatArray, angle_deg, dot, norm, unit
from jointsat.timelib import TimeOrigin


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
    orbit: Orbit,
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
    epochs = Epochs.of(orbit, jd, fr)
    site, up = ground_site(lat_deg, lon_deg, alt_m)
    off_nadir, elevation, sun, los = earth_look(epochs, site, up)
    error = np.broadcast_to(epochs.error, off_nadir.shape)
    return EarthGeometry(off_nadir, elevation, sun, los, error)


def sky_geometry(
    orbit: Orbit, ra_deg: ArrayLike, dec_deg: ArrayLike, jd: ArrayLike, fr: ArrayLike
) -> SkyGeometry:
    """Return the Sun angle, Earth-limb angle and sunlight of sky directions at times.

    Directions and UTC split Julian dates broadcast together; SGP4 runs once per time.
    """
    epochs = Epochs.of(orbit, jd, fr)
    sun_angle, limb, sunlit, _ = sky_look(epochs, sky_direction(ra_deg, dec_deg))
    shape = sun_angle.shape
    los = np.broadcast_to(sky_direction(ra_deg, dec_deg), (*shape, 3)).copy()
    return SkyGeometry(sun_angle, limb, sunlit, los, np.broadcast_to(epochs.error, shape))


@dataclass(frozen=True)
class Epochs:
    """What depends on time alone: the satellite's TEME position, the Earth's angle, the Sun."""

    r: FloatArray  # (..., 3) km, NaN where SGP4 fails
    error: NDArray[np.uint8]
    gmst: FloatArray
    sun: FloatArray  # (..., 3) km, TEME

    @classmethod
    def of(cls, orbit: Orbit, jd: ArrayLike, fr: ArrayLike) -> Epochs:
        """Propagate at every time (``jd`` and ``fr`` broadcast)."""
        jd_b, fr_b = np.broadcast_arrays(np.asarray(jd, dtype=float), np.asarray(fr, dtype=float))
        err, r, _ = orbit.propagate(jd_b.ravel(), fr_b.ravel())
        r = np.array(r, dtype=float)
        r[err != 0] = np.nan
        shape = jd_b.shape
        return cls(
            r.reshape((*shape, 3)),
            err.reshape(shape),
            frames.gmst82_rad(jd_b, fr_b),
            sun_position_km(jd_b, fr_b),
        )

    @classmethod
    def rows(cls, orbit: Orbit, origin: TimeOrigin, t: FloatArray) -> Epochs:
        """Propagate at seconds after the origin, each distinct time once."""
        unique, inverse = np.unique(t, return_inverse=True)
        at = cls.of(orbit, *origin.julian(unique))
        return cls(at.r[inverse], at.error[inverse], at.gmst[inverse], at.sun[inverse])


def _spin(v: FloatArray, gmst: FloatArray) -> FloatArray:
    """Rotate TEME vectors to the Earth-fixed frame (no velocity terms)."""
    c, s = np.cos(gmst), np.sin(gmst)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack(np.broadcast_arrays(c * x + s * y, c * y - s * x, z), axis=-1)


def ground_site(lat: ArrayLike, lon: ArrayLike, alt: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return targets' Earth-fixed positions (km) and geodetic verticals."""
    return frames.geodetic_to_ecef(lat, lon, alt), frames.enu_basis(lat, lon)[..., 2, :]


def earth_look(
    epochs: Epochs, site: FloatArray, up: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return off-nadir, elevation, sun elevation (degrees) and the TEME line of sight."""
    r = _spin(epochs.r, epochs.gmst)
    rho = site - r  # satellite to target
    sight = unit(rho)
    off_nadir = angle_deg(unit(-r), sight)
    elevation = np.degrees(np.arcsin(np.clip(-dot(sight, up), -1.0, 1.0)))
    to_sun = unit(_spin(epochs.sun, epochs.gmst) - site)
    sun = np.degrees(np.arcsin(np.clip(dot(to_sun, up), -1.0, 1.0)))
    sun = np.broadcast_to(sun, off_nadir.shape)
    return off_nadir, elevation, sun, frames.ecef_to_teme(sight, epochs.gmst)


def sky_direction(ra_deg: ArrayLike, dec_deg: ArrayLike) -> FloatArray:
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def sky_look(
    epochs: Epochs, direction: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray, FloatArray]:
    """Return Sun angle, limb angle (degrees), sunlit and the shadow margin (km)."""
    r, sun = epochs.r, epochs.sun
    sun_angle = angle_deg(direction, unit(sun - r))
    radius = norm(r)
    with np.errstate(invalid="ignore"):
        disc = np.degrees(np.arcsin(np.clip(WGS84_A_KM / radius, -1.0, 1.0)))
    limb = angle_deg(direction, unit(-r)) - disc
    shape = sun_angle.shape
    sunlit = np.broadcast_to(is_sunlit(r, sun), shape)
    return sun_angle, limb, sunlit, np.broadcast_to(_shadow_margin_km(r, sun), shape)


def _shadow_margin_km(r: FloatArray, sun: FloatArray) -> FloatArray:
    """Return how far (km) the line from the satellite to the Sun clears the Earth.

    Negative in the Earth's shadow, with the sign of ``is_sunlit``: the distance
    from the Earth's centre to the half-line towards the Sun, less the equatorial
    radius, in the coordinates where the WGS-84 ellipsoid is a sphere.
    """
    stretch = np.array([1.0, 1.0, WGS84_A_KM / frames.WGS84_B_KM])
    p = r * stretch
    d = (sun - r) * stretch
    d = d / norm(d)[..., None]
    along = dot(p, d)
    closest_sq = np.maximum(dot(p, p) - along**2, 0.0)
    distance = np.where(along < 0.0, np.sqrt(closest_sq), norm(p))
    return np.asarray(distance - WGS84_A_KM)
