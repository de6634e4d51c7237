"""Test frame conversions against Skyfield, sgp4 and geometric invariants.

Skyfield rotates TEME to the Earth-fixed ITRS through GCRS with the full
IAU precession-nutation and its own UT1 tables; we rotate by GMST 1982 with
UT1 taken equal to UTC. The two chains must then differ by nothing but a
rotation about the polar axis by (UT1 - UTC) times the Earth's rate, which
the comparisons below bound; with Skyfield told that UT1 = UTC they agree
to millimetres.
"""

from __future__ import annotations

import warnings
from datetime import date
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sgp4.propagation import gstime
from skyfield.api import EarthSatellite, Loader, wgs84
from skyfield.framelib import itrs
from skyfield.sgp4lib import TEME_to_ITRF, theta_GMST1982
from skyfield.toposlib import ITRSPosition
from skyfield.units import Distance
from tests.support.data import orbit_file

from jointsat.constants import EARTH_ROTATION_RAD_S
from jointsat.orbits.elements import Elements, parse_elements
from jointsat.orbits.frames import (
    ecef_to_geodetic,
    ecef_to_teme,
    enu_basis,
    geodetic_to_ecef,
    gmst82_rad,
    teme_to_ecef,
    topocentric,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # skyfield-data warns that its IERS file is old
    import skyfield_data

JD_1950 = 2433282.5
JD_2050 = 2469807.5
ARCSECOND = np.radians(1.0 / 3600.0)

one_micrometre = 1e-9  # km
one_millimetre = 1e-6  # km
one_centimetre = 1e-5  # km
one_centimetre_m = 1e-2
one_micrometre_per_second = 1e-9  # km/s
one_tenth_millimetre_per_second = 1e-7  # km/s
half_a_millimetre_per_second = 5e-7  # km/s
one_micrometre_m = 1e-6
one_millimetre_m = 1e-3
ten_nanoradians = 1e-8
one_picoradian = 1e-12
one_hundredth_arcsecond = 0.01 / 3600.0  # degrees
one_centimetre_on_the_ground_deg = 1e-7  # about 1.1 cm of latitude


def loader() -> Loader:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skyfield-data warns that its IERS file is old
        return Loader(skyfield_data.get_skyfield_data_path())


def skyfield_times(ts: Any, jd: np.ndarray, fr: np.ndarray) -> Any:
    """Return Skyfield times for UTC split Julian dates (midnight, fraction of day)."""
    (midnight,) = set(jd.tolist())
    day = date.fromordinal(int(midnight - 1721424.5))
    return ts.utc(day.year, day.month, day.day, 0, 0, fr * 86400.0)


def orbit_samples() -> list[tuple[Elements, np.ndarray, np.ndarray]]:
    """Return element sets from 2020 and 2024 with times over a day around each epoch."""
    elements = [
        *parse_elements(orbit_file("stations.tle").read_text()).elements[:8],
        *parse_elements(orbit_file("cheops.tle").read_text()).elements,
    ]
    return [
        (e, np.full(400, e.epoch_jd), e.epoch_fr + np.linspace(-0.5, 0.5, 400)) for e in elements
    ]


def direction(az_deg: np.ndarray, el_deg: np.ndarray) -> np.ndarray:
    az, el = np.radians(az_deg), np.radians(el_deg)
    return np.stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)], axis=-1)


# Sidereal time.


def test_gmst82_matches_sgp4_gstime() -> None:
    rng = np.random.default_rng(1982)
    jd = np.floor(rng.uniform(JD_1950, JD_2050, 2000)) + 0.5
    fr = rng.uniform(0.0, 1.0, 2000)
    ours = gmst82_rad(jd, fr)
    # gstime takes one float Julian date: its angle is good to ~3e-9 rad.
    theirs = np.array([gstime(a + b) for a, b in zip(jd, fr, strict=True)])
    difference = np.angle(np.exp(1j * (ours - theirs)))
    assert np.abs(difference).max() < ten_nanoradians
    assert ((ours >= 0.0) & (ours < 2.0 * np.pi)).all()


def test_gmst82_matches_skyfield_split_julian_date() -> None:
    rng = np.random.default_rng(1983)
    jd = np.floor(rng.uniform(JD_1950, JD_2050, 2000)) + 0.5
    fr = rng.uniform(0.0, 1.0, 2000)
    theta, _ = theta_GMST1982(jd, fr)
    difference = np.angle(np.exp(1j * (gmst82_rad(jd, fr) - theta)))
    assert np.abs(difference).max() < one_picoradian


# TEME to Earth-fixed.


def test_teme_to_ecef_matches_skyfield_teme_to_itrf() -> None:
    rng = np.random.default_rng(2006)
    jd = np.floor(rng.uniform(JD_1950, JD_2050, 1000)) + 0.5
    fr = rng.uniform(0.0, 1.0, 1000)
    r = rng.normal(size=(1000, 3)) * 7000.0
    v = rng.normal(size=(1000, 3)) * 5.0
    r_ecef, v_ecef = teme_to_ecef(r, v, gmst82_rad(jd, fr))
    r_sky, v_sky_per_day = TEME_to_ITRF(jd, r.T, v.T * 86400.0, fraction_ut1=fr)
    np.testing.assert_allclose(r_ecef, r_sky.T, rtol=0, atol=one_micrometre)
    # Skyfield turns at GMST 1982's own rate, we at the nominal 7.292115e-5 rad/s:
    # 7e-12 rad/s apart, 0.2 mm/s at 30000 km.
    np.testing.assert_allclose(
        v_ecef, v_sky_per_day.T / 86400.0, rtol=0, atol=half_a_millimetre_per_second
    )
    back = ecef_to_teme(r_ecef, gmst82_rad(jd, fr))
    np.testing.assert_allclose(back, r, rtol=0, atol=one_micrometre)


# Geodetic coordinates.

latitudes = st.floats(-90.0, 90.0)
longitudes = st.floats(-180.0, 180.0)
heights_m = st.floats(-1000.0, 40_000_000.0)


@given(latitudes, longitudes, heights_m)
@settings(max_examples=300, deadline=None)
def test_geodetic_round_trip(lat: float, lon: float, alt_m: float) -> None:
    xyz = geodetic_to_ecef(lat, lon, alt_m)
    lat2, lon2, alt2 = ecef_to_geodetic(xyz)
    assert np.linalg.norm(geodetic_to_ecef(lat2, lon2, alt2) - xyz) < one_micrometre
    assert abs(alt2 - alt_m) < one_micrometre_m
    assert abs(lat2 - lat) < 1e-10
    if abs(lat) < 89.9999:
        assert abs((lon2 - lon + 180.0) % 360.0 - 180.0) < 1e-10


def test_geodetic_to_ecef_matches_skyfield() -> None:
    rng = np.random.default_rng(84)
    lat = rng.uniform(-90.0, 90.0, 2000)
    lon = rng.uniform(-180.0, 360.0, 2000)
    alt = rng.uniform(-1000.0, 4e7, 2000)
    sky = wgs84.latlon(lat, lon, alt).itrs_xyz.km.T
    np.testing.assert_allclose(geodetic_to_ecef(lat, lon, alt), sky, rtol=0, atol=one_micrometre)


def test_ecef_to_geodetic_matches_skyfield() -> None:
    # Skyfield's latitude iterates three times from the geocentric one: good to
    # 2.5e-8 deg (3 mm) at worst, ours to 1e-13 deg.
    rng = np.random.default_rng(85)
    xyz = geodetic_to_ecef(
        rng.uniform(-89.9, 89.9, 3000), rng.uniform(-180, 180, 3000), rng.uniform(-1e3, 4e7, 3000)
    )
    t = loader().timescale().utc(2024, 5, 1)
    sky = wgs84.geographic_position_of(ITRSPosition(Distance(km=xyz.T)).at(t))
    lat, lon, alt = ecef_to_geodetic(xyz)
    np.testing.assert_allclose(
        lat, sky.latitude.degrees, rtol=0, atol=one_centimetre_on_the_ground_deg
    )
    dlon = (lon - sky.longitude.degrees + 180.0) % 360.0 - 180.0
    assert np.abs(dlon).max() < one_centimetre_on_the_ground_deg
    np.testing.assert_allclose(alt, sky.elevation.m, rtol=0, atol=one_millimetre_m)


def test_enu_basis_is_the_local_frame_of_geodetic_to_ecef() -> None:
    # Up is the direction in which height grows, north that of latitude and
    # east that of longitude, taken by finite differences of geodetic_to_ecef.
    rng = np.random.default_rng(3)
    lat = rng.uniform(-89.0, 89.0, 500)
    lon = rng.uniform(-180.0, 180.0, 500)
    alt = rng.uniform(-500.0, 5000.0, 500)
    basis = enu_basis(lat, lon)
    h = 1e-6
    for row, moved in (
        (0, geodetic_to_ecef(lat, lon + h, alt) - geodetic_to_ecef(lat, lon - h, alt)),
        (1, geodetic_to_ecef(lat + h, lon, alt) - geodetic_to_ecef(lat - h, lon, alt)),
        (2, geodetic_to_ecef(lat, lon, alt + 1.0) - geodetic_to_ecef(lat, lon, alt - 1.0)),
    ):
        unit = moved / np.linalg.norm(moved, axis=-1, keepdims=True)
        np.testing.assert_allclose(basis[:, row], unit, rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        basis @ np.swapaxes(basis, 1, 2), np.broadcast_to(np.eye(3), basis.shape), atol=1e-15
    )
    np.testing.assert_allclose(np.cross(basis[:, 0], basis[:, 1]), basis[:, 2], atol=1e-15)


# Satellites seen from stations.


def our_view(
    e: Elements, jd: np.ndarray, fr: np.ndarray, lat: float, lon: float, alt: float
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    err, r, v = e.satrec().sgp4_array(jd, fr)
    assert not err.any()
    r_ecef, v_ecef = teme_to_ecef(r, v, gmst82_rad(jd, fr))
    station = geodetic_to_ecef(lat, lon, alt)
    return r_ecef, v_ecef, topocentric(r_ecef, v_ecef, station, enu_basis(lat, lon))


def test_topocentric_matches_skyfield_when_ut1_is_utc() -> None:
    # From 2017 on TAI - UTC = 37 s, so a fixed Delta T of 69.184 s makes
    # Skyfield's UT1 equal UTC: only the two rotation chains are compared.
    ts = loader().timescale(delta_t=69.184)
    rng = np.random.default_rng(11)
    seen = 0
    for e, jd, fr in orbit_samples():
        t = skyfield_times(ts, jd, fr)
        assert np.abs(t.dut1).max() < 1e-9
        lat, lon, alt = rng.uniform(-90, 90), rng.uniform(-180, 180), rng.uniform(-100, 3000)
        site = wgs84.latlon(lat, lon, alt)
        satellite = EarthSatellite.from_satrec(e.satrec(), ts)
        r_ecef, v_ecef, (az, el, rng_km, rate) = our_view(e, jd, fr, lat, lon, alt)

        r_sky, v_sky = satellite.at(t).frame_xyz_and_velocity(itrs)
        np.testing.assert_allclose(r_ecef, r_sky.km.T, rtol=0, atol=one_centimetre)
        np.testing.assert_allclose(
            v_ecef, v_sky.km_per_s.T, rtol=0, atol=one_tenth_millimetre_per_second
        )
        below = wgs84.geographic_position_of(satellite.at(t))
        lat_sat, lon_sat, height_m = ecef_to_geodetic(r_ecef)
        np.testing.assert_allclose(
            lat_sat, below.latitude.degrees, rtol=0, atol=one_centimetre_on_the_ground_deg
        )
        dlon = (lon_sat - below.longitude.degrees + 180.0) % 360.0 - 180.0
        assert np.abs(dlon * np.cos(np.radians(lat_sat))).max() < one_centimetre_on_the_ground_deg
        np.testing.assert_allclose(height_m, below.elevation.m, rtol=0, atol=one_centimetre_m)

        topo = (satellite - site).at(t)
        alt_sky, az_sky, distance, _, _, rate_sky = topo.frame_latlon_and_rates(site)
        np.testing.assert_allclose(el, alt_sky.degrees, rtol=0, atol=one_hundredth_arcsecond)
        np.testing.assert_allclose(rng_km, distance.km, rtol=0, atol=one_centimetre)
        np.testing.assert_allclose(
            rate, rate_sky.km_per_s, rtol=0, atol=one_tenth_millimetre_per_second
        )
        not_overhead = el < 89.0  # azimuth is meaningless at the zenith
        daz = ((az - az_sky.degrees + 180.0) % 360.0 - 180.0)[not_overhead]
        daz_on_sky = daz * np.cos(np.radians(el[not_overhead]))
        assert np.abs(daz_on_sky).max() < one_hundredth_arcsecond
        seen += int(np.count_nonzero(el > 0.0))
    assert seen > 100


def test_topocentric_matches_skyfield_within_its_ut1_offset() -> None:
    # With Skyfield's own UT1, its Earth has turned by (UT1 - UTC) x rate more
    # or less than ours (15 arcseconds at most): the satellite's Earth-fixed
    # position moves by that angle times its distance from the axis, and the
    # range and the direction seen from the station by no more than that move.
    ts = loader().timescale()
    rng = np.random.default_rng(12)
    worst_ratio = 0.0
    for e, jd, fr in orbit_samples():
        t = skyfield_times(ts, jd, fr)
        turn = np.abs(t.dut1) * EARTH_ROTATION_RAD_S  # radians
        slack = 0.01 * ARCSECOND
        lat, lon, alt = rng.uniform(-90, 90), rng.uniform(-180, 180), rng.uniform(-100, 3000)
        site = wgs84.latlon(lat, lon, alt)
        satellite = EarthSatellite.from_satrec(e.satrec(), ts)
        r_ecef, _, (az, el, rng_km, _) = our_view(e, jd, fr, lat, lon, alt)

        r_sky = satellite.at(t).frame_xyz(itrs).km.T
        axis_distance = np.hypot(r_ecef[:, 0], r_ecef[:, 1])
        gap = np.linalg.norm(r_ecef - r_sky, axis=-1)
        assert (gap <= (turn + slack) * axis_distance).all()

        alt_sky, az_sky, distance = (satellite - site).at(t).altaz()
        cosine = np.sum(direction(az, el) * direction(az_sky.degrees, alt_sky.degrees), axis=-1)
        separation = np.arccos(np.clip(cosine, -1.0, 1.0))
        move_km = (turn + slack) * axis_distance
        assert (separation <= move_km / rng_km).all()
        assert (np.abs(rng_km - distance.km) <= move_km).all()
        worst_ratio = max(worst_ratio, float(np.max(gap / move_km)))
    assert worst_ratio > 0.1  # the offset is really there: the bound is not vacuous
