"""Inject limb-darkened transits into real photometry (tests and benchmarks/transits.py).

The model is written here, independent of the code under test and of TLS's templates:
a dark disk of radius ``rp_rs`` crosses a star of quadratic limb darkening
``I(mu) = 1 - u1 (1 - mu) - u2 (1 - mu)^2`` on a circular orbit. The blocked light is
integrated over the stellar disk in rings (for each ring, the arc the planet covers,
in closed form), the same quantity Mandel & Agol (2002) write with elliptic integrals;
each exposure is averaged over sub-samples, as a long cadence smears the transit.
``uniform_overlap`` (the area of two overlapping circles) checks the integration.

The noise to inject into is Kepler-6's quarter with Kepler-6b's own transits cut out,
by the published ephemeris (Dunham et al. 2010, ApJL 713, L136).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

KEPLER6B_T0_BJD = 2454954.48636  # BJD_TDB, Dunham et al. (2010)
KEPLER6B_PERIOD_D = 3.234723
KEPLER6B_DURATION_H = 3.5  # first to fourth contact, as the quarter's transits show
KEPLER_LONG_CADENCE_D = 0.0204305  # 29.42 min
KEPLER_U = (0.40, 0.26)  # quadratic limb darkening of a Sun-like star in Kepler's band

FloatArray = NDArray[np.float64]

_RINGS = 4000
_R = (np.arange(_RINGS) + 0.5) / _RINGS  # ring radii (midpoints), stellar radii


def _intensity(r: FloatArray, u1: float, u2: float) -> FloatArray:
    mu = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))
    return 1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2


def blocked_fraction(z: FloatArray, rp_rs: float, u1: float, u2: float) -> FloatArray:
    """Return the fraction of the star's light a disk of radius ``rp_rs`` at ``z`` blocks."""
    z = np.atleast_1d(np.asarray(z, dtype=float))
    out = np.zeros(z.shape)
    near = z < 1.0 + rp_rs
    if not near.any():
        return out
    r = _R[None, :]
    zz = z[near][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_half = (r * r + zz * zz - rp_rs * rp_rs) / (2.0 * r * zz)
    half = np.where(
        r <= rp_rs - zz, np.pi, np.arccos(np.clip(np.nan_to_num(cos_half, nan=1.0), -1.0, 1.0))
    )  # half the angle of the ring inside the planet's disk
    weight = _intensity(_R, u1, u2) * _R
    total = 2.0 * np.pi * weight.sum()
    out[near] = (2.0 * half * weight[None, :]).sum(axis=1) / total
    return out


def uniform_overlap(z: float, p: float) -> float:
    """Return the blocked fraction of a uniform disk (closed form, for checking)."""
    if z >= 1.0 + p:
        return 0.0
    if z <= 1.0 - p:
        return p * p
    k0 = np.arccos((p * p + z * z - 1.0) / (2.0 * p * z))
    k1 = np.arccos((1.0 - p * p + z * z) / (2.0 * z))
    root = np.sqrt(max(4.0 * z * z - (1.0 + z * z - p * p) ** 2, 0.0)) / 2.0
    return float((p * p * k0 + k1 - root) / np.pi)


@dataclass(frozen=True)
class Transit:
    """A circular-orbit transit: period, mid-transit time, depth, duration, impact parameter."""

    period_d: float
    t0_bjd: float
    depth_ppm: float  # the deficit at mid-transit (unsmeared)
    duration_h: float  # first to fourth contact
    impact: float = 0.3
    u: tuple[float, float] = KEPLER_U

    def rp_rs(self) -> float:
        """Return the planet-to-star radius ratio that gives the depth at mid-transit."""
        u1, u2 = self.u
        depth = self.depth_ppm * 1e-6

        def excess(p: float) -> float:
            return float(blocked_fraction(np.array([self.impact]), p, u1, u2)[0]) - depth

        return float(brentq(excess, 1e-4, 0.5, xtol=1e-9))

    def a_rs(self, rp_rs: float) -> float:
        """Return the scaled semi-major axis that gives the duration (first to fourth contact)."""
        s = np.sin(np.pi * self.duration_h / 24.0 / self.period_d)
        return float(np.sqrt(((1.0 + rp_rs) ** 2 - self.impact**2) / s**2 + self.impact**2))

    def flux(
        self, time_bjd: FloatArray, *, exposure_d: float = 0.0, supersample: int = 1
    ) -> FloatArray:
        """Return the relative flux (1 out of transit) at the times, averaged over each exposure."""
        u1, u2 = self.u
        p = self.rp_rs()
        a = self.a_rs(p)
        cos_i = self.impact / a
        offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
        t = np.asarray(time_bjd, dtype=float)[:, None] + exposure_d * offsets[None, :]
        phase = 2.0 * np.pi * (t - self.t0_bjd) / self.period_d
        z = a * np.sqrt(np.sin(phase) ** 2 + (cos_i * np.cos(phase)) ** 2)
        z = np.where(np.cos(phase) > 0.0, z, 10.0)  # behind the star: no transit
        blocked = blocked_fraction(z.ravel(), p, u1, u2).reshape(z.shape)
        return np.asarray(1.0 - blocked.mean(axis=1), dtype=float)


def kepler6b_mask(time_bjd: FloatArray, *, margin_h: float = 1.5) -> NDArray[np.bool_]:
    """Return True within Kepler-6b's transits (published ephemeris) and a margin around them."""
    half_d = (KEPLER6B_DURATION_H / 2.0 + margin_h) / 24.0
    phase = (time_bjd - KEPLER6B_T0_BJD + 0.5 * KEPLER6B_PERIOD_D) % KEPLER6B_PERIOD_D
    return np.asarray(np.abs(phase - 0.5 * KEPLER6B_PERIOD_D) < half_d)


def cheops_gaps(
    time_bjd: FloatArray, rng: np.random.Generator, *, orbit_min: float = 98.77
) -> NDArray[np.bool_]:
    """Return True where a point survives CHEOPS-like interruptions.

    Each 98.77-min orbit loses one contiguous stretch (Earth occultation, SAA) of 20-40 %
    of the orbit, drawn per orbit; the stretch's phase drifts slowly, as it does for a
    target observed over days.
    """
    orbit_d = orbit_min / 1440.0
    n_orbit = np.floor((time_bjd - time_bjd[0]) / orbit_d).astype(int)
    orbits = int(n_orbit.max()) + 1
    lost = rng.uniform(0.20, 0.40, orbits)
    start = (0.3 + 0.02 * np.arange(orbits) + rng.normal(0.0, 0.03, orbits)) % 1.0
    phase = ((time_bjd - time_bjd[0]) / orbit_d) % 1.0
    into = (phase - start[n_orbit]) % 1.0
    return np.asarray(into >= lost[n_orbit])
