"""Find when the Sun is above a given elevation at many ground points (daylight windows).

The Sun's direction is the Astronomical Almanac's low-precision series
(:mod:`jointsat.orbits.sun`, 0.01 degree); its elevation at a point is the angle
between that direction and the point's geodetic horizon (the parallax, 8.8 arcseconds,
and refraction are left out). The elevation is sampled every
:data:`SAMPLE_STEP_S` seconds and each crossing of the threshold refined by regula
falsi to better than a second.
"""

from __future__ import annotations

import numpy as np

from jointsat.design.intervals import Intervals
from jointsat.orbits.frames import gmst82_rad
from jointsat.orbits.sun import sun_position_km
from jointsat.orbits.vectors import FloatArray, IntArray
from jointsat.timelib import TimeOrigin

SAMPLE_STEP_S = 600.0
"""Seconds between samples: the Sun's elevation turns at most 0.25 degree a minute."""

_REFINE_STEPS = 20
_TOLERANCE_S = 0.5


def _sun_ecef(origin: TimeOrigin, t_s: FloatArray) -> FloatArray:
    """Return the Sun's Earth-fixed unit direction at offsets ``t_s``, (3, n)."""
    jd, fr = origin.julian(t_s)
    sun = sun_position_km(jd, fr)
    theta = gmst82_rad(jd, fr)
    c, s = np.cos(theta), np.sin(theta)
    x = c * sun[..., 0] + s * sun[..., 1]
    y = -s * sun[..., 0] + c * sun[..., 1]
    z = sun[..., 2]
    n = np.sqrt(x * x + y * y + z * z)
    return np.stack([x / n, y / n, z / n])


def daylight(
    up: FloatArray, origin: TimeOrigin, duration_s: float, sun_elevation_deg: float
) -> Intervals:
    """Return, per point (group), the intervals when the Sun is at least this high.

    ``up`` holds the points' vertical unit vectors ``(N, 3)``, Earth-fixed.
    """
    threshold = np.sin(np.radians(sun_elevation_deg))
    samples = int(np.ceil(duration_s / SAMPLE_STEP_S)) + 1
    t = np.minimum(np.arange(samples) * SAMPLE_STEP_S, duration_s)
    sin_el = up @ _sun_ecef(origin, t) - threshold  # (N, samples)
    lit = sin_el >= 0.0
    # Crossings between samples k and k+1, and the state at the window's start and end.
    change_point, change_k = np.nonzero(lit[:, 1:] != lit[:, :-1])
    a = t[change_k]
    b = t[change_k + 1]
    fa = sin_el[change_point, change_k]
    fb = sin_el[change_point, change_k + 1]
    root = _refine(up[change_point], origin, threshold, a, fa, b, fb)
    rising = ~lit[change_point, change_k]
    # Each point's edges in time order: window start if lit, crossings, window end if lit.
    start_lit = np.flatnonzero(lit[:, 0])
    end_lit = np.flatnonzero(lit[:, -1])
    opens_point = np.concatenate([start_lit, change_point[rising]])
    opens_time = np.concatenate([np.zeros(start_lit.size), root[rising]])
    closes_point = np.concatenate([change_point[~rising], end_lit])
    closes_time = np.concatenate([root[~rising], np.full(end_lit.size, duration_s)])
    o = np.lexsort((opens_time, opens_point))
    c = np.lexsort((closes_time, closes_point))
    # Opens and closes alternate per point, so the k-th open pairs with the k-th close.
    return Intervals(opens_point[o].astype(np.int64), opens_time[o], closes_time[c])


def _refine(
    up: FloatArray,
    origin: TimeOrigin,
    threshold: float,
    a: FloatArray,
    fa: FloatArray,
    b: FloatArray,
    fb: FloatArray,
) -> FloatArray:
    """Return where the Sun's elevation crosses the threshold in ``[a, b]`` (Illinois)."""
    a, fa, b, fb = a.copy(), fa.copy(), b.copy(), fb.copy()
    active: IntArray = np.flatnonzero(b - a > _TOLERANCE_S)
    for _ in range(_REFINE_STEPS):
        if active.size == 0:
            break
        aa, fA, bb, fB = a[active], fa[active], b[active], fb[active]
        x = bb - fB * (bb - aa) / (fB - fA)
        fx = np.einsum("ij,ji->i", up[active], _sun_ecef(origin, x)) - threshold
        same = np.sign(fx) == np.sign(fB)
        a[active] = np.where(same, aa, bb)
        fa[active] = np.where(same, 0.5 * fA, fB)
        b[active], fb[active] = x, fx
        done = (np.abs(b[active] - a[active]) <= _TOLERANCE_S) | (fx == 0.0)
        active = active[~done]
    return b
