"""Compute what a map and a polar plot draw: sub-satellite points, ground tracks, footprints.

Pure numerics on numpy arrays: no I/O and no clock. Times are split Julian dates
``(jd, fr)`` in UTC and positions TEME kilometres, as :mod:`jointsat.orbits.frames`
takes them; NaN positions (a failed SGP4 row) give NaN results.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from jointsat.constants import MEAN_EARTH_RADIUS_KM
from jointsat.orbits.frames import (
    ecef_to_geodetic,
    enu_basis,
    geodetic_to_ecef,
    gmst82_rad,
    teme_to_ecef,
    topocentric,
)
from jointsat.orbits.vectors import FloatArray


def subsatellite_points(
    r_teme_km: FloatArray, jd: ArrayLike, fr: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return WGS-84 geodetic latitude (deg), longitude (deg, [-180, 180]) and height (km).

    ``r_teme_km`` is ``(..., 3)``; ``jd`` and ``fr`` broadcast against its leading
    axes. The point is the foot of the normal to the ellipsoid through the satellite.
    """
    r = np.asarray(r_teme_km, dtype=float)
    r_ecef, _ = teme_to_ecef(r, np.zeros_like(r), gmst82_rad(jd, fr))
    lat, lon, alt_m = ecef_to_geodetic(r_ecef)
    return np.asarray(lat), np.asarray(lon), np.asarray(alt_m) / 1000.0


def look_angles(
    r_teme_km: FloatArray,
    jd: ArrayLike,
    fr: ArrayLike,
    lat_deg: float,
    lon_deg: float,
    alt_m: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return azimuth (deg, from north through east, [0, 360)), elevation (deg), range (km).

    Seen from a station on the WGS-84 ellipsoid; elevation is geometric, from the
    geodetic horizon, as in pass prediction.
    """
    r = np.asarray(r_teme_km, dtype=float)
    r_ecef, v_ecef = teme_to_ecef(r, np.zeros_like(r), gmst82_rad(jd, fr))
    site = geodetic_to_ecef(lat_deg, lon_deg, alt_m)
    az, el, rng, _ = topocentric(r_ecef, v_ecef, site, enu_basis(lat_deg, lon_deg))
    return az, el, rng


def horizon_radius_km(alt_km: ArrayLike, min_elevation_deg: ArrayLike = 0.0) -> FloatArray:
    """Return the footprint's radius: the ground distance to where the satellite is at the mask.

    On a sphere of radius R = 6371.0 km, a satellite at height h is seen at
    elevation e from the points at central angle

        lambda = arccos(R cos(e) / (R + h)) - e

    from its sub-satellite point (the triangle Earth centre, ground point,
    satellite: Wertz, *Space Mission Analysis and Design*, 3rd ed., section
    5.2); the radius is the great-circle distance R * lambda. Heights at or below
    the ground give 0; NaN gives NaN.
    """
    h = np.asarray(alt_km, dtype=float)
    e = np.radians(np.asarray(min_elevation_deg, dtype=float))
    with np.errstate(invalid="ignore"):
        cosine = np.clip(MEAN_EARTH_RADIUS_KM * np.cos(e) / (MEAN_EARTH_RADIUS_KM + h), -1.0, 1.0)
        central = np.maximum(np.arccos(cosine) - e, 0.0)
        central = np.where(h <= 0.0, 0.0, central)  # NaN compares False: stays NaN
    return np.asarray(MEAN_EARTH_RADIUS_KM * central)


def split_at_antimeridian(
    lat_deg: ArrayLike, lon_deg: ArrayLike, *, add_crossings: bool = True
) -> list[FloatArray]:
    """Split a ground track into segments that a flat map can draw as lines.

    A new segment begins wherever consecutive longitudes jump by more than 180
    degrees, and wherever a sample is NaN (dropped: a failed propagation). Each
    segment is a ``(k, 2)`` array of ``[lat, lon]`` rows (Leaflet's order). With
    ``add_crossings``, the point where the track meets the antimeridian, its
    latitude interpolated linearly in the unwrapped longitude, ends the segment
    before a jump at +-180 and starts the one after it at -+180, so the lines
    reach the map's edge; every segment but the first then starts, and every
    one but the last ends, with such a point.
    """
    lat = np.asarray(lat_deg, dtype=float).ravel()
    lon = np.asarray(lon_deg, dtype=float).ravel()
    if lat.shape != lon.shape:
        raise ValueError(f"latitudes {lat.shape} and longitudes {lon.shape} differ in shape")
    segments: list[FloatArray] = []
    good = np.isfinite(lat) & np.isfinite(lon)
    # Runs of finite samples, each split again at its jumps.
    edges = np.flatnonzero(np.diff(np.concatenate([[False], good, [False]]).astype(np.int8)))
    for first, stop in zip(edges[::2], edges[1::2], strict=True):
        la, lo = lat[first:stop], lon[first:stop]
        jumps = np.flatnonzero(np.abs(np.diff(lo)) > 180.0) + 1
        pieces = np.split(np.column_stack([la, lo]), jumps)
        if add_crossings:
            for k, j in enumerate(jumps):
                lat0, lon0, lat1, lon1 = la[j - 1], lo[j - 1], la[j], lo[j]
                edge = 180.0 if lon0 > lon1 else -180.0  # eastwards over +180, or westwards
                unwrapped = lon1 + 2.0 * edge
                fraction = (edge - lon0) / (unwrapped - lon0)
                crossing = lat0 + fraction * (lat1 - lat0)
                pieces[k] = np.vstack([pieces[k], [crossing, edge]])
                pieces[k + 1] = np.vstack([[crossing, -edge], pieces[k + 1]])
        segments.extend(pieces)
    return segments
