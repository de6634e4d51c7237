"""Test the map's numerics: sub-satellite points and look angles against Skyfield, the
antimeridian split by its invariants, footprint radii against the hand formula.

Skyfield 1.55 is the authority for positions: its timescale with builtin data
(Delta T and UT1 - UTC shipped with Skyfield, nothing downloaded) turns the Earth by
UT1 and goes from TEME through GCRS to ITRS with the full precession-nutation; we
turn by GMST 1982 at UT1 = UTC. With Skyfield's UT1 - UTC the two differ by the Earth's
rotation during that second's fraction (about 10 m on the ground in May 2024); told
that UT1 = UTC, by millimetres.
"""

from __future__ import annotations

import itertools
import warnings
from datetime import date
from importlib.resources import files
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skyfield.api import EarthSatellite, Loader, load, wgs84

from jointsat.constants import MEAN_EARTH_RADIUS_KM
from jointsat.orbits.elements import parse_elements
from jointsat.orbits.propagation import Satellite, propagate
from jointsat.orbits.tracks import (
    horizon_radius_km,
    look_angles,
    split_at_antimeridian,
    subsatellite_points,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # skyfield-data warns that its IERS file is old
    import skyfield_data

one_millimetre_km = 1e-6
one_centimetre_km = 1e-5
one_metre_km = 1e-3
fifty_metres_km = 0.05
one_km = 1.0
one_millionth_degree = 1e-6
one_hundredth_degree = 1e-2
ISS = parse_elements((files("jointsat.data") / "stations.tle").read_text()).elements[0]
KIRUNA = (67.857, 20.964, 402.0)
STATIONS = [KIRUNA, (-35.776, -69.398, 1550.0), (37.927, -75.476, 10.0), (28.5, 170.0, 0.0)]


def iss_day(samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return times over the day around the ISS's epoch and its TEME positions then."""
    jd = np.full(samples, ISS.epoch_jd)
    fr = ISS.epoch_fr + np.linspace(-0.5, 0.5, samples)
    err, r, _ = propagate([Satellite(ISS.norad_cat_id, ISS.object_name, (ISS,))], jd, fr)
    assert not err.any()
    return jd, fr, r[0]


def skyfield(ut1: str, jd: np.ndarray, fr: np.ndarray) -> tuple[Any, Any]:
    """Return Skyfield's ISS and its times, with its own UT1 or with UT1 = UTC."""
    if ut1 == "iers":
        ts = load.timescale(builtin=True)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # From 2017 on, TT - UTC = 69.184 s: this Delta T makes UT1 = UTC.
            ts = Loader(skyfield_data.get_skyfield_data_path()).timescale(delta_t=69.184)
    day = date.fromordinal(int(jd[0] - 1721424.5))
    t = ts.utc(day.year, day.month, day.day, 0, 0, fr * 86400.0)
    return EarthSatellite.from_satrec(ISS.satrec(), ts), t


def ground_distance_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    a1, o1, a2, o2 = (np.radians(np.asarray(x, dtype=float)) for x in (lat1, lon1, lat2, lon2))
    # Haversine: well conditioned at the small distances compared here.
    h = np.sin((a2 - a1) / 2) ** 2 + np.cos(a1) * np.cos(a2) * np.sin((o2 - o1) / 2) ** 2
    return np.asarray(2.0 * MEAN_EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


# Sub-satellite points and look angles, against Skyfield.


@pytest.mark.parametrize(
    ("ut1", "ground_km", "height_km"),
    [("iers", fifty_metres_km, one_metre_km), ("utc", one_centimetre_km, one_millimetre_km)],
)
def test_subsatellite_points_match_skyfield(ut1: str, ground_km: float, height_km: float) -> None:
    jd, fr, r = iss_day(1441)
    lat, lon, alt_km = subsatellite_points(r, jd, fr)
    satellite, t = skyfield(ut1, jd, fr)
    theirs = wgs84.geographic_position_of(satellite.at(t))
    off = ground_distance_km(lat, lon, theirs.latitude.degrees, theirs.longitude.degrees)
    assert off.max() < ground_km  # measured: 10 m (iers); 2 mm (utc: Skyfield's latitude)
    np.testing.assert_allclose(alt_km, theirs.elevation.km, rtol=0, atol=height_km)
    assert ((lon >= -180.0) & (lon <= 180.0)).all()
    assert np.abs(lat).max() == pytest.approx(51.6, abs=0.5)  # the ISS's inclination
    assert 400.0 < alt_km.min() < alt_km.max() < 440.0


@pytest.mark.parametrize(
    ("ut1", "angle_deg", "range_km"),
    [("iers", one_hundredth_degree, fifty_metres_km), ("utc", one_millionth_degree, one_metre_km)],
)
def test_look_angles_match_skyfield(ut1: str, angle_deg: float, range_km: float) -> None:
    jd, fr, r = iss_day(8641)  # every 10 s
    satellite, t = skyfield(ut1, jd, fr)
    seen = 0
    for site in STATIONS:
        az, el, rng = look_angles(r, jd, fr, *site)
        alt_, az_, distance = (satellite - wgs84.latlon(*site)).at(t).altaz()
        up = (el > 0.0) & (el < 85.0)  # azimuth is ill-conditioned near the zenith
        seen += int(up.sum())
        # Measured (iers), worst of the four stations: elevation 0.0011 degree,
        # azimuth 0.0076 degree below 85 degrees (the 10 m of UT1 - UTC seen from
        # a few hundred km), range 8.8 m.
        np.testing.assert_allclose(el, alt_.degrees, rtol=0, atol=angle_deg)
        d_az = (az[up] - az_.degrees[up] + 180.0) % 360.0 - 180.0
        assert np.abs(d_az).max() < angle_deg
        np.testing.assert_allclose(rng, distance.km, rtol=0, atol=range_km)
        assert ((az >= 0.0) & (az < 360.0)).all()
    assert seen > 100  # several passes were compared


def test_nan_positions_give_nan() -> None:
    r = np.array([[np.nan, np.nan, np.nan], [7000.0, 0.0, 0.0]])
    jd, fr = np.full(2, 2460440.5), np.array([0.1, 0.2])
    lat, lon, alt = subsatellite_points(r, jd, fr)
    assert np.isnan([lat[0], lon[0], alt[0]]).all()
    assert np.isfinite([lat[1], lon[1], alt[1]]).all()
    az, el, rng = look_angles(r, jd, fr, *KIRUNA)
    assert np.isnan([az[0], el[0], rng[0]]).all()


# The antimeridian split, by its invariants.


def check_split(lat: np.ndarray, lon: np.ndarray, segments: list[np.ndarray]) -> None:
    """Check the invariants of a split with crossings added."""
    for s in segments:
        assert s.shape[1] == 2
        assert len(s) >= 1
        assert (np.abs(np.diff(s[:, 1])) <= 180.0).all()  # no jump inside a segment
    finite = np.isfinite(lat) & np.isfinite(lon)
    # Crossing points are the last of each segment but the last, the first of each
    # but the first, when the boundary is a jump (not a NaN gap).
    originals = []
    for k, s in enumerate(segments):
        keep = s
        if k > 0 and abs(s[0, 1]) == 180.0 and _jump_before(segments, k):
            keep = keep[1:]
        if k < len(segments) - 1 and abs(s[-1, 1]) == 180.0 and _jump_before(segments, k + 1):
            keep = keep[:-1]
        originals.append(keep)
    np.testing.assert_array_equal(np.concatenate(originals), np.column_stack([lat, lon])[finite])
    for before, after in itertools.pairwise(segments):
        if _jump(before, after):
            # The crossing is one point, drawn at both edges of the map.
            assert before[-1, 0] == after[0, 0]
            assert before[-1, 1] == -after[0, 1]
            lats = (before[-2, 0], after[1, 0])
            assert min(lats) <= before[-1, 0] <= max(lats)


def _jump(before: np.ndarray, after: np.ndarray) -> bool:
    return bool(
        len(before) >= 2
        and len(after) >= 2
        and abs(before[-1, 1]) == 180.0
        and after[0, 1] == -before[-1, 1]
        and before[-1, 0] == after[0, 0]
    )


def _jump_before(segments: list[np.ndarray], k: int) -> bool:
    return _jump(segments[k - 1], segments[k])


def test_split_by_hand() -> None:
    lat = np.array([0.0, 1.0, 2.0, 3.0, np.nan, 4.0, 5.0])
    lon = np.array([170.0, 179.0, -179.0, -170.0, 0.0, -179.0, 179.0])
    segments = split_at_antimeridian(lat, lon)
    expected = [
        [[0.0, 170.0], [1.0, 179.0], [1.5, 180.0]],  # eastwards over +180, half-way at lat 1.5
        [[1.5, -180.0], [2.0, -179.0], [3.0, -170.0]],
        [[4.0, -179.0], [4.5, -180.0]],  # after the NaN gap: a new line; westwards now
        [[4.5, 180.0], [5.0, 179.0]],
    ]
    assert [s.tolist() for s in segments] == expected
    plain = split_at_antimeridian(lat, lon, add_crossings=False)
    assert [s.tolist() for s in plain] == [
        [[0.0, 170.0], [1.0, 179.0]],
        [[2.0, -179.0], [3.0, -170.0]],
        [[4.0, -179.0]],
        [[5.0, 179.0]],
    ]
    check_split(lat, lon, segments)
    assert split_at_antimeridian([], []) == []
    assert split_at_antimeridian([np.nan], [np.nan]) == []


def test_split_iss_track() -> None:
    jd, fr, r = iss_day(1441)  # a day at 60 s
    lat, lon, _ = subsatellite_points(r, jd, fr)
    segments = split_at_antimeridian(lat, lon)
    # About 15.5 revolutions a day: one antimeridian crossing each.
    assert 15 <= len(segments) - 1 <= 17
    check_split(lat, lon, segments)
    for before in segments[:-1]:
        assert before[-1, 1] == 180.0  # prograde orbit: always eastwards
        # Crossing latitude within what a minute of flight moves (< 4 degrees).
        assert abs(before[-1, 0] - before[-2, 0]) < 4.0


@given(
    st.lists(
        st.tuples(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0) | st.just(float("nan"))),
        max_size=60,
    )
)
@settings(max_examples=300, deadline=None)
def test_split_invariants_on_any_samples(points: list[tuple[float, float]]) -> None:
    lat = np.array([p[0] for p in points], dtype=float)
    lon = np.array([p[1] for p in points], dtype=float)
    segments = split_at_antimeridian(lat, lon)
    for s in segments:
        assert (np.abs(np.diff(s[:, 1])) <= 180.0).all()
        assert np.isfinite(s).all()
    plain = split_at_antimeridian(lat, lon, add_crossings=False)
    finite = np.isfinite(lon)
    joined = np.concatenate(plain) if plain else np.empty((0, 2))
    np.testing.assert_array_equal(joined, np.column_stack([lat, lon])[finite])
    # Adding crossings adds exactly two points per jump and no segment.
    assert len(segments) == len(plain)
    jumps = len(plain) - (
        np.count_nonzero(np.diff(np.concatenate([[0], finite.astype(int), [0]])) == 1)
    )
    assert sum(len(s) for s in segments) == int(finite.sum()) + 2 * jumps


# Footprint radius.


def test_horizon_radius_against_the_hand_formula() -> None:
    # Wertz, Space Mission Analysis and Design (3rd ed., section 5.2): the Earth's
    # angular radius rho from the satellite, sin(rho) = R / (R + h); the nadir angle
    # eta of a point seen at elevation e, sin(eta) = sin(rho) cos(e); the Earth
    # central angle lambda = 90 deg - e - eta, and the distance R lambda.
    R = 6371.0
    for h in (200.0, 420.0, 800.0, 20_200.0, 35_786.0):
        for e in (0.0, 5.0, 10.0, 30.0, 60.0, 89.0):
            sin_eta = R / (R + h) * np.cos(np.radians(e))
            central = np.radians(90.0 - e) - np.arcsin(sin_eta)
            assert horizon_radius_km(h, e) == pytest.approx(R * central, abs=one_metre_km)
    # The ISS at 420 km sees 2,252 km around it at 0 degrees, 1,389.6 km above 10.
    assert horizon_radius_km(420.0) == pytest.approx(2252.39, abs=one_km / 100)
    assert horizon_radius_km(420.0, 10.0) == pytest.approx(1389.58, abs=one_km / 100)
    # A geostationary satellite sees to 81.3 degrees of arc: 9,041 km.
    assert horizon_radius_km(35_786.0) == pytest.approx(9041.0, abs=one_km)
    assert horizon_radius_km(420.0, 90.0) == pytest.approx(0.0, abs=one_millimetre_km)
    out = horizon_radius_km(np.array([0.0, -10.0, np.nan]))
    assert out[:2].tolist() == [0.0, 0.0]
    assert np.isnan(out[2])


@given(st.floats(100.0, 40_000.0), st.floats(0.0, 89.9))
@settings(max_examples=200, deadline=None)
def test_satellite_stands_at_the_mask_at_the_footprint_edge(h: float, e: float) -> None:
    # Geometry, not formula: a ground point at the radius's great-circle distance
    # sees the satellite at elevation e (on the sphere).
    lam = horizon_radius_km(h, e) / MEAN_EARTH_RADIUS_KM
    ground = MEAN_EARTH_RADIUS_KM * np.array([np.sin(lam), 0.0, np.cos(lam)])
    satellite = np.array([0.0, 0.0, MEAN_EARTH_RADIUS_KM + h])
    line = satellite - ground
    sin_el = line @ ground / (np.linalg.norm(line) * MEAN_EARTH_RADIUS_KM)
    assert np.degrees(np.arcsin(sin_el)) == pytest.approx(e, abs=one_millionth_degree)
