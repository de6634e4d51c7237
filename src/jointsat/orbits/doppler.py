"""Tell the frequency to tune against time: a satellite's Doppler shift seen from a station.

Pure numerics on numpy arrays: no I/O and no clock. Times are seconds after an aware
``start``; the satellite is any :class:`jointsat.orbits.propagation.Orbit` (or one
element set) and the station a WGS-84 site.

The physics, classical and exact given the light time. A signal received at the
station at time ``t`` left the satellite at ``t_e = t - rho / c``, where the light-time
range ``rho = |R(t) - r(t_e)|`` is measured in an inertial frame (TEME here: its slow
precession is negligible over the milliseconds involved). The received phase is the
phase sent at ``t_e``, so the received frequency is ``f0 * dt_e/dt``, that is

    f_rx = f0 * (1 - rhodot / c),    rhodot = u . (v - V) / (1 + u . v / c)     (downlink)

with ``u`` the unit vector from the station at ``t`` to the satellite at ``t_e``, ``v``
the satellite's inertial velocity at ``t_e`` and ``V`` the station's (Earth rotation) at
``t``; ``rhodot`` is the derivative of the light-time range by the station's clock,
what :attr:`DopplerTable.range_rate_m_s` reports. Equivalently ``f_rx = f0 * (1 + u . V
/ c) / (1 + u . v / c)``: an observer moving and a source moving. For the uplink the
station sends at ``t``, the satellite receives at ``t_r = t + rho / c`` and

    f_tx = f0 * (1 + rhodot / c),    rhodot = u . (v - V) / (1 - u . v / c)     (uplink)

is what to transmit so that the satellite receives ``f0``. Both are exact for the
classical (Galilean) signal; the first-order ``f0 * (1 -+ rdot / c)`` with the
instantaneous range rate would err by ``(u . v / c) * (rdot / c)``, up to about 6e-10
(0.27 Hz at 437 MHz) in low Earth orbit, more than the 0.1 Hz aimed at, so it is not
used. The emission (or arrival) time is found by iterating ``rho / c`` twice: each step
shrinks its error by ``v / c``, to picoseconds.

Left out, and their size at 437 MHz for the ISS: the relativistic shifts (the
satellite's clock runs slow by ``v**2 / 2c**2`` and the signal gains ``dU / c**2``
falling to the ground: about -2.7e-10 together, -0.12 Hz, nearly constant over a pass
of a near-circular orbit, so absorbed by a satellite's calibration offset with its
oscillator's own ppm-order error); the ionosphere and troposphere (a changing
path delay: tenths of a hertz at most in a disturbed ionosphere at 437 MHz); polar
motion, taken as zero as in :mod:`jointsat.orbits.frames` (0.3 arcsec moves a site
about 10 m, like 0.02 s of UT1: about 0.1 m/s overhead; Skyfield leaves it out too).
UT1 - UTC is not negligible (about 5 m/s of range rate per second of it, 0.1 m/s for
the -0.02 s of May 2024): give it as ``ut1_utc_s``. The rate uses SGP4's velocity, as
Skyfield's range rate does; it differs from the derivative of SGP4's position by up
to about 2 cm/s (0.03 Hz) in low Earth orbit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike

from jointsat.constants import DAY_S, EARTH_ROTATION_RAD_S, SPEED_OF_LIGHT_M_S
from jointsat.errors import DopplerError
from jointsat.orbits.elements import Elements
from jointsat.orbits.frames import (
    ecef_to_teme,
    enu_basis,
    geodetic_to_ecef,
    gmst82_rad,
    teme_to_ecef,
    topocentric,
)
from jointsat.orbits.propagation import Orbit, Satellite
from jointsat.orbits.stations import Station
from jointsat.orbits.vectors import FloatArray
from jointsat.timelib import TimeOrigin

__all__ = ["LIGHT_TIME_ITERATIONS", "DopplerTable", "doppler_table", "range_rate_km_s"]

SPEED_OF_LIGHT_KM_S = SPEED_OF_LIGHT_M_S / 1000.0
LIGHT_TIME_ITERATIONS = 2
"""Refinements of the light time after the first guess ``|r(t) - R(t)| / c``."""

Site = Station | tuple[float, float, float]


def range_rate_km_s(
    r_teme_km: ArrayLike,
    v_teme_km_s: ArrayLike,
    jd: ArrayLike,
    fr: ArrayLike,
    lat_deg: float,
    lon_deg: float,
    alt_m: float,
    *,
    ut1_utc_s: float = 0.0,
) -> FloatArray:
    """Return the instantaneous (geometric) range rate, km/s, of a satellite from a station.

    ``r_teme_km`` and ``v_teme_km_s`` are ``(..., 3)`` TEME states (SGP4's), ``jd`` and
    ``fr`` the split Julian dates (UTC) broadcasting against their leading axes; the
    station is geodetic WGS-84. The state is turned Earth-fixed with the Earth's
    rotation in the velocity (``v - w x r``); the range rate, ``u . (v_sat - v_station)``,
    is the same in the rotating and the inertial frame. Positive when receding; NaN
    states give NaN. ``ut1_utc_s`` (UT1 - UTC, the IERS's DUT1) turns the Earth to its
    true angle: each 0.1 s of it moves the range rate by up to about 0.5 m/s.
    """
    r = np.asarray(r_teme_km, dtype=float)
    v = np.asarray(v_teme_km_s, dtype=float)
    r_ecef, v_ecef = teme_to_ecef(r, v, _gmst(jd, fr, ut1_utc_s))
    site = geodetic_to_ecef(lat_deg, lon_deg, alt_m)
    _, _, _, rate = topocentric(r_ecef, v_ecef, site, enu_basis(lat_deg, lon_deg))
    return np.asarray(rate)


@dataclass(frozen=True, eq=False)
class DopplerTable:
    """The frequency to tune at each time of a contact, for one link.

    ``time_s`` are seconds after ``start`` (aware UTC): for a downlink the times of
    reception at the station, for an uplink the times of transmission from it.
    ``range_km`` is the light-time range (the instantaneous one without light time),
    ``range_rate_m_s`` its derivative by the station's clock (positive when receding)
    and ``frequency_hz`` what the station tunes: the received frequency of a downlink
    sent at ``nominal_frequency_hz``, or the frequency to transmit for the satellite to
    receive ``nominal_frequency_hz``. NaN where the orbit cannot be propagated.
    """

    start: datetime
    time_s: FloatArray
    range_km: FloatArray
    range_rate_m_s: FloatArray
    frequency_hz: FloatArray
    nominal_frequency_hz: float
    uplink: bool
    light_time: bool

    @property
    def shift_hz(self) -> FloatArray:
        """Return the Doppler shift: the frequency to tune less the nominal frequency."""
        return np.asarray(self.frequency_hz - self.nominal_frequency_hz)


def doppler_table(
    orbit: Orbit | Elements,
    station: Site,
    start: datetime,
    times_s: ArrayLike,
    frequency_hz: float,
    *,
    uplink: bool = False,
    light_time: bool = True,
    ut1_utc_s: float = 0.0,
) -> DopplerTable:
    """Return the Doppler table of a link between a satellite and a station.

    ``station`` is a :class:`Station` or ``(lat_deg, lon_deg, alt_m)``; ``times_s`` are
    seconds after ``start`` (an aware datetime). A downlink gives the received
    frequency of a carrier sent at ``frequency_hz``, an ``uplink`` the frequency to send
    so that the satellite receives ``frequency_hz`` (formulas in the module's text).
    Without ``light_time`` the satellite's state at the table's own times is used with
    the first-order ``f0 * (1 -+ rdot / c)`` on the geometric range rate, Skyfield's
    ``frame_latlon_and_rates`` quantity: for comparison, not for tuning.
    ``ut1_utc_s`` is UT1 - UTC (DUT1, seconds, from the IERS's bulletins, within
    0.9 s): the station's place in the inertial frame depends on it, by about 5 m/s
    of range rate (7 Hz at 437 MHz) per second of it overhead.
    """
    f0 = float(frequency_hz)
    if not math.isfinite(f0) or f0 <= 0.0:
        raise DopplerError(f"frequency_hz {frequency_hz} is not a positive number of hertz")
    if not math.isfinite(ut1_utc_s) or abs(ut1_utc_s) > 1.0:
        raise DopplerError(f"ut1_utc_s {ut1_utc_s} is not UT1 - UTC (within 0.9 s)")
    if start.tzinfo is None or start.utcoffset() is None:
        raise DopplerError(f"start {start.isoformat()} has no time zone; give UTC")
    t = np.atleast_1d(np.asarray(times_s, dtype=float))
    if t.ndim != 1 or not np.isfinite(t).all():
        raise DopplerError("times_s must be a one-dimensional array of finite seconds")
    if isinstance(orbit, Elements):
        orbit = Satellite(orbit.norad_cat_id, orbit.object_name, (orbit,))
    lat, lon, alt = _site(station)
    origin = TimeOrigin.of(start)
    jd, fr = origin.julian(t)
    if light_time:
        rng, rate = _light_time(orbit, jd, fr, (lat, lon, alt), uplink, ut1_utc_s)
    else:
        r, v = _states(orbit, jd, fr)
        rate = range_rate_km_s(r, v, jd, fr, lat, lon, alt, ut1_utc_s=ut1_utc_s)
        rng = np.linalg.norm(r - _site_teme((lat, lon, alt), jd, fr, ut1_utc_s), axis=-1)
    sign = 1.0 if uplink else -1.0
    return DopplerTable(
        start=origin.start,
        time_s=t,
        range_km=np.asarray(rng),
        range_rate_m_s=np.asarray(rate * 1000.0),
        frequency_hz=np.asarray(f0 * (1.0 + sign * rate / SPEED_OF_LIGHT_KM_S)),
        nominal_frequency_hz=f0,
        uplink=uplink,
        light_time=light_time,
    )


def _site(station: Site) -> tuple[float, float, float]:
    if isinstance(station, Station):
        return station.lat_deg, station.lon_deg, station.alt_m
    lat, lon, alt = (float(x) for x in station)
    if not (-90.0 <= lat <= 90.0 and math.isfinite(lon) and math.isfinite(alt)):
        raise DopplerError(f"station ({lat}, {lon}, {alt}) is not a geodetic position")
    return lat, lon, alt


def _gmst(jd: ArrayLike, fr: ArrayLike, ut1_utc_s: float) -> FloatArray:
    """Return GMST at UT1 = UTC + ``ut1_utc_s``."""
    return gmst82_rad(jd, np.asarray(fr, dtype=float) + ut1_utc_s / DAY_S)


def _site_teme(
    site: tuple[float, float, float], jd: FloatArray, fr: FloatArray, ut1_utc_s: float
) -> FloatArray:
    """Return the station's TEME positions (km) at the times."""
    ecef = np.broadcast_to(geodetic_to_ecef(*site), (*np.shape(jd), 3))
    return ecef_to_teme(ecef, _gmst(jd, fr, ut1_utc_s))


def _states(orbit: Orbit, jd: FloatArray, fr: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return TEME states (NaN where propagation fails)."""
    err, r, v = orbit.propagate(jd, fr)
    bad = np.asarray(err) != 0
    r = np.array(r, dtype=float)
    v = np.array(v, dtype=float)
    r[bad] = np.nan
    v[bad] = np.nan
    return r, v


def _light_time(
    orbit: Orbit,
    jd: FloatArray,
    fr: FloatArray,
    site_llh: tuple[float, float, float],
    uplink: bool,
    ut1_utc_s: float,
) -> tuple[FloatArray, FloatArray]:
    """Return the light-time range (km) and its rate by the station's clock (km/s)."""
    site = _site_teme(site_llh, jd, fr, ut1_utc_s)
    site_v = EARTH_ROTATION_RAD_S * np.stack(
        [-site[..., 1], site[..., 0], np.zeros_like(site[..., 0])], axis=-1
    )
    toward = 1.0 if uplink else -1.0  # the satellite's time: after (uplink) or before
    r, v = _states(orbit, jd, fr)
    delay_s = np.linalg.norm(r - site, axis=-1) / SPEED_OF_LIGHT_KM_S
    for _ in range(LIGHT_TIME_ITERATIONS):
        r, v = _states(orbit, jd, fr + toward * delay_s / DAY_S)
        delay_s = np.linalg.norm(r - site, axis=-1) / SPEED_OF_LIGHT_KM_S
    rng = delay_s * SPEED_OF_LIGHT_KM_S
    u = (r - site) / rng[..., None]
    closing = np.einsum("...j,...j->...", u, v - site_v)
    along = np.einsum("...j,...j->...", u, v) / SPEED_OF_LIGHT_KM_S
    return rng, closing / (1.0 - toward * along)
