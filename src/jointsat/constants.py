"""Physical and time constants, each defined once, with the model it belongs to.

SGP4 works in WGS-72 (its gravitational parameter and Earth radius are part of the
model, Vallado et al. 2006, "Revisiting Spacetrack Report #3"); station positions and
geodetic coordinates are WGS-84 (NIMA TR8350.2). The mean Earth radius is the IUGG
mean radius R1 used for spherical footprints (Wertz, SMAD 3rd ed., 5.2).
"""

from __future__ import annotations

DAY_S = 86_400.0
"""Seconds in a day (a UTC day without leap second)."""

MINUTES_PER_DAY = 1_440.0
"""Minutes in a day: SGP4 counts time since epoch in minutes."""

WGS72_MU_KM3_S2 = 398_600.8
"""SGP4's (WGS-72) gravitational parameter of the Earth, km^3/s^2."""

WGS72_RADIUS_KM = 6378.135
"""SGP4's (WGS-72) Earth radius, the reference radius of its zonal harmonics, km."""

WGS72_J2 = 0.001082616
"""SGP4's (WGS-72) second zonal harmonic of the Earth's gravity field."""

SPEED_OF_LIGHT_M_S = 299_792_458.0
"""The speed of light in vacuum, m/s (exact, by the SI definition of the metre)."""

WGS84_A_KM = 6378.137
"""WGS-84 equatorial radius (semi-major axis of the ellipsoid), km."""

WGS84_F = 1.0 / 298.257223563
"""WGS-84 flattening."""

TROPICAL_YEAR_DAYS = 365.2422
"""Days in a tropical year: the mean Sun goes once round the equator in this time."""

EARTH_ROTATION_RAD_S = 7.292115146706979e-5
"""The Earth's mean rotation rate relative to the stars (GMST rate), rad/s."""

MEAN_EARTH_RADIUS_KM = 6371.0
"""The IUGG mean Earth radius, for spherical approximations (footprints), km."""

LEO_MIN_MEAN_MOTION_REV_PER_DAY = 11.25
"""A low Earth orbit makes more than this many revolutions a day (a period under 128 min)."""

LEO_MAX_ECCENTRICITY = 0.25
"""A low Earth orbit is also nearly circular: eccentricity below this (Space-Track's LEO)."""

STALE_LEO_DAYS = 7.0
"""Elements of a low Earth orbit older than this (days from their epoch) are stale by default."""

STALE_ABOVE_LEO_DAYS = 30.0
"""Elements of any higher orbit older than this are stale by default."""
