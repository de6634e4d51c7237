"""Bound how fast a satellite's view can change, from its element sets.

Window searches divide each margin (degrees, or km for the shadow) by a bound on its
rate to know how long it cannot change sign; these are the bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jointsat.constants import EARTH_ROTATION_RAD_S, WGS72_MU_KM3_S2, WGS84_A_KM
from jointsat.orbits.frames import WGS84_B_KM
from jointsat.orbits.propagation import RADIUS_SLACK, RADIUS_SLACK_KM, Orbit
from jointsat.orbits.sun import AU_KM
from jointsat.orbits.vectors import FloatArray

__all__ = ["RADIUS_SLACK", "RADIUS_SLACK_KM", "MotionBounds", "sun_turning_rad_s"]
SPEED_SLACK = 1.01  # over vis-viva at the bounding radii: the J2 part of the energy
EARTH_ORBIT_SPEED_KM_S = 30.5  # the Earth's greatest speed about the Sun, 30.29 km/s, and margin
SUN_DISTANCE_MIN_KM = 0.983 * AU_KM


@dataclass(frozen=True)
class MotionBounds:
    """Bounds on a satellite's motion over the horizon, from its orbit.

    The radius lies within [r_min, r_max]: ``Orbit.min_radius_km`` (for element
    sets, perigee less RADIUS_SLACK of the semi-major axis and RADIUS_SLACK_KM)
    and ``Orbit.max_radius_km``; an ephemeris bounds them from its trajectory.
    Speed is bounded by vis-viva with the osculating semi-major axis at most
    r_max, radial speed by e sqrt(mu/p) with e at most
    (r_max - r_min) / (r_max + r_min) and p at least r_min.
    """

    r_min_km: float
    r_max_km: float
    v_max_km_s: float
    radial_max_km_s: float

    @classmethod
    def of(cls, orbit: Orbit) -> MotionBounds:
        r_min = max(orbit.min_radius_km, WGS84_A_KM + 50.0)
        r_max = max(orbit.max_radius_km, r_min)
        v_max = SPEED_SLACK * math.sqrt(WGS72_MU_KM3_S2 * (2.0 / r_min - 1.0 / r_max))
        ecc = (r_max - r_min) / (r_max + r_min)
        return cls(r_min, r_max, v_max, SPEED_SLACK * ecc * math.sqrt(WGS72_MU_KM3_S2 / r_min))

    @property
    def nadir_rad_s(self) -> float:
        """Bound the turning rate of the direction from the satellite to the Earth's centre."""
        return self.v_max_km_s / self.r_min_km

    def sight_rad_s(self, target_radius_km: FloatArray) -> FloatArray:
        """Bound the turning rate of the line of sight to ground targets (inertial)."""
        closest = np.maximum(self.r_min_km - target_radius_km, 1.0)
        return np.asarray((self.v_max_km_s + EARTH_ROTATION_RAD_S * target_radius_km) / closest)

    @property
    def sun_from_satellite_rad_s(self) -> float:
        """Bound the turning rate of the Sun's direction seen from the satellite."""
        return sun_turning_rad_s(self.v_max_km_s, self.r_max_km)

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


def sun_turning_rad_s(speed_km_s: float, distance_km: float) -> float:
    """Bound the turning rate of the Sun's direction seen from a point moving this fast.

    The geocentric Sun moves at the Earth's orbital speed; the observer, no
    further than ``distance_km`` from the Earth's centre, at ``speed_km_s``.
    """
    return (EARTH_ORBIT_SPEED_KM_S + speed_km_s) / (SUN_DISTANCE_MIN_KM - distance_km)
