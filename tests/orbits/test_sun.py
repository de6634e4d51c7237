"""Test the Sun's position, its elevation at stations and satellite sunlight against de421.

Skyfield with the JPL ephemeris de421 is the authority. Our Sun is the
Astronomical Almanac's low-precision series, stated good to 0.01 degree
from 1950 to 2050 in the mean equator and equinox of date; the satellite
frame TEME differs from that by nutation (under 0.005 degree).
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import date
from typing import Any

import numpy as np
import pytest
from skyfield.api import EarthSatellite, Loader, wgs84
from skyfield.framelib import mean_equator_and_equinox_of_date
from skyfield.sgp4lib import TEME
from tests.support.data import orbit_file

from jointsat.constants import EARTH_ROTATION_RAD_S, WGS84_A_KM
from jointsat.orbits.elements import Elements, parse_elements
from jointsat.orbits.frames import WGS84_B_KM
from jointsat.orbits.sun import is_sunlit, sun_elevation_deg, sun_position_km

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # skyfield-data warns that its IERS file is old
    import skyfield_data

JD_1950 = 2433282.5
JD_2050 = 2469807.5
JD_1972 = 2441317.5
JD_2025 = 2460676.5

# Measured on 20000 random dates of 1950-2050: the series overshoots its
# stated 0.01 deg a little, to 0.0102 deg in the mean equator and equinox of
# date and 0.0103 deg in TEME (both in 2037-2049; 0.0101 and 0.0099 before
# 2030); its distance is good to 8.4e-5 of itself.
eleven_thousandths_degree = 0.011
twelve_thousandths_degree = 0.012
one_ten_thousandth = 1e-4
# Skyfield's Earth is a sphere of 6378.1366 km, ours the WGS-84 ellipsoid
# (polar radius 6356.752 km): between the two, near the poles, they may
# disagree; our Sun also moves the edge by up to 0.012 deg x distance (9 km
# at GEO). Positions this close to either edge of the shadow are left out.
shadow_boundary_margin_km = 50.0


@pytest.fixture(scope="module")
def sky() -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load = Loader(skyfield_data.get_skyfield_data_path())
        return load.timescale(), load("de421.bsp")


def random_times(
    rng: np.random.Generator, n: int, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    jd = np.floor(rng.uniform(low, high, n)) + 0.5
    return jd, rng.uniform(0.0, 1.0, n)


def skyfield_times(ts: Any, jd: np.ndarray, fr: np.ndarray) -> Any:
    """Return Skyfield times for UTC split Julian dates (midnight, fraction of day)."""
    days = [date.fromordinal(int(j - 1721424.5)) for j in jd]
    return ts.utc(
        [d.year for d in days], [d.month for d in days], [d.day for d in days], 0, 0, fr * 86400.0
    )


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(np.sum(unit(a) * unit(b), axis=-1), -1.0, 1.0)))


def test_sun_direction_matches_de421_in_the_mean_equator_of_date(sky) -> None:
    ts, eph = sky
    jd, fr = random_times(np.random.default_rng(1950), 3000, JD_1950, JD_2050)
    apparent = eph["earth"].at(skyfield_times(ts, jd, fr)).observe(eph["sun"]).apparent()
    ours = sun_position_km(jd, fr)
    theirs = apparent.frame_xyz(mean_equator_and_equinox_of_date).km.T
    assert angle_deg(ours, theirs).max() < eleven_thousandths_degree
    distance = np.linalg.norm(ours, axis=-1)
    assert np.abs(distance / apparent.distance().km - 1.0).max() < one_ten_thousandth


def test_sun_direction_matches_de421_in_teme(sky) -> None:
    ts, eph = sky
    jd, fr = random_times(np.random.default_rng(1951), 3000, JD_1950, JD_2050)
    apparent = eph["earth"].at(skyfield_times(ts, jd, fr)).observe(eph["sun"]).apparent()
    theirs = apparent.frame_xyz(TEME).km.T
    assert angle_deg(sun_position_km(jd, fr), theirs).max() < twelve_thousandths_degree


def test_sun_position_broadcasts() -> None:
    jd, fr = np.full((2, 3), 2451545.0), np.linspace(0.0, 0.5, 6).reshape(2, 3)
    sun = sun_position_km(jd, fr)
    assert sun.shape == (2, 3, 3)
    np.testing.assert_array_equal(sun[1, 2], sun_position_km(jd[1, 2], fr[1, 2]))


def test_sun_elevation_matches_skyfield_altaz(sky) -> None:
    # Skyfield turns the Earth by its own UT1, we by UTC: the Sun's elevation
    # may differ by (UT1 - UTC) x the Earth's rate on top of the series' error.
    ts, eph = sky
    rng = np.random.default_rng(1972)
    jd, fr = random_times(rng, 2000, JD_1972, JD_2025)
    lat = np.concatenate([[90.0, -90.0, 89.99, -78.0, 0.0], rng.uniform(-90.0, 90.0, 1995)])
    lon = rng.uniform(-180.0, 180.0, 2000)
    alt = rng.uniform(-400.0, 5000.0, 2000)
    t = skyfield_times(ts, jd, fr)
    sites = wgs84.latlon(lat, lon, alt)
    elevation, _, _ = (eph["earth"] + sites).at(t).observe(eph["sun"]).apparent().altaz()
    turn_deg = np.degrees(np.abs(t.dut1) * EARTH_ROTATION_RAD_S)
    ours = sun_elevation_deg(lat, lon, alt, jd, fr)
    assert (np.abs(ours - elevation.degrees) <= twelve_thousandths_degree + turn_deg).all()


def satellite_samples() -> list[Elements]:
    """Return LEO element sets and MEO, GEO and Molniya-like variants of them."""
    leo = parse_elements(orbit_file("stations.tle").read_text()).elements[:12]
    rng = np.random.default_rng(42)
    shapes = [(2.0, 0.01), (1.0027, 0.0002), (2.006, 0.72), (5.0, 0.3), (4.2, 0.1)]
    others = [
        dataclasses.replace(
            leo[k],
            mean_motion_rev_per_day=n,
            eccentricity=e,
            inclination_deg=float(rng.uniform(0.0, 100.0)),
            raan_deg=float(rng.uniform(0.0, 360.0)),
            bstar=0.0,
            mean_motion_dot=0.0,
            mean_motion_ddot=0.0,
        )
        for k, (n, e) in enumerate(shapes)
    ]
    return [*leo, *others]


def test_is_sunlit_matches_skyfield_away_from_the_shadow_edge(sky) -> None:
    ts, eph = sky
    rng = np.random.default_rng(7)
    compared = sunlit_count = 0
    for e in satellite_samples():
        n = 300
        jd = np.full(n, e.epoch_jd)
        fr = e.epoch_fr + np.sort(rng.uniform(-3.0, 3.0, n))
        err, r_teme, _ = e.satrec().sgp4_array(jd, fr)
        assert not err.any()
        t = skyfield_times(ts, jd, fr)
        position = EarthSatellite.from_satrec(e.satrec(), ts).at(t)
        theirs = position.is_sunlit(eph)
        ours = is_sunlit(r_teme, sun_position_km(jd, fr))

        # Where the line from the satellite to the Sun passes the Earth's centre.
        p = position.xyz.km.T
        sun = (eph["sun"] - eph["earth"]).at(t).xyz.km.T
        d = unit(sun - p)
        along = np.sum(p * d, axis=-1)
        closest = np.linalg.norm(p - along[:, None] * d, axis=-1)
        uncertain = (along < 0.0) & (
            np.abs(closest - 0.5 * (WGS84_A_KM + WGS84_B_KM))
            < 0.5 * (WGS84_A_KM - WGS84_B_KM) + shadow_boundary_margin_km
        )
        clear = ~uncertain
        np.testing.assert_array_equal(ours[clear], theirs[clear])
        compared += int(clear.sum())
        sunlit_count += int(theirs[clear].sum())
    assert compared > 4000
    assert 0.1 * compared < compared - sunlit_count < 0.6 * compared  # shadow is exercised


def test_is_sunlit_uses_the_ellipsoid() -> None:
    # Over the pole, on the night side, 6365 km from the Earth's axis of the
    # shadow: inside a sphere of the equatorial radius, outside the ellipsoid's
    # polar radius 6356.75 km. The Sun along +x, far away.
    sun = np.array([1.5e8, 0.0, 0.0])
    over_pole = np.array([-10000.0, 0.0, 6365.0])
    over_equator = np.array([-10000.0, 6365.0, 0.0])
    assert is_sunlit(over_pole, sun)
    assert not is_sunlit(over_equator, sun)
    assert is_sunlit(np.array([10000.0, 0.0, 0.0]), sun)
    assert not is_sunlit(np.array([-10000.0, 0.0, 0.0]), sun)
