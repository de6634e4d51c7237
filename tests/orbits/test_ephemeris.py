"""Test OEM ephemerides: reading, frames, Lagrange interpolation, coverage and passes.

The oracles are independent of the code under test: polynomials that Lagrange
must reproduce, SGP4 itself (an OEM sampled from it must give its positions
back), Skyfield's TEME-to-GCRS rotation, a Keplerian orbit written in closed
form, and elevations sampled by brute force.
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from jointsat.errors import ElementsError
from jointsat.files import read_demo_elements, read_demo_stations, read_elements
from jointsat.orbits.elements import ElementsFormat, detect_format, parse_elements
from jointsat.orbits.ephemeris import OUTSIDE_COVERAGE, lagrange
from jointsat.orbits.frames import enu_basis, geodetic_to_ecef, gmst82_rad, teme_to_ecef
from jointsat.orbits.oem import OemSamples, format_oem, read_oem
from jointsat.orbits.pass_scan import _step_s
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import (
    Covered,
    Satellite,
    build_orbits,
    group_satellites,
    orbit_records,
)
from jointsat.orbits.refframes import Frame, from_teme, to_teme
from jointsat.orbits.stations import Station
from jointsat.timelib import TimeOrigin

DATA = Path(__file__).parent / "data" / "oem"
START = datetime(2024, 5, 9, tzinfo=UTC)


def _iss() -> Satellite:
    elements = [e for e in read_demo_elements().elements if e.norad_cat_id == 25544]
    return group_satellites(elements)[0]


def _sampled_oem(
    satellite: Satellite, frame: Frame, days: float = 1.2, step_s: float = 60.0
) -> str:
    origin = TimeOrigin.of(START)
    jd, fr = origin.julian(np.arange(0.0, days * 86400.0 + 1.0, 60.0))
    _, r, v = satellite.propagate(jd, fr)
    samples = OemSamples(satellite.name, "1998-067A", jd, fr, r, v)
    return format_oem(samples, created=START - timedelta(hours=6), frame=frame)


def test_lagrange_reproduces_polynomials_of_its_degree_and_their_derivative() -> None:
    rng = np.random.default_rng(1)
    nodes = np.cumsum(rng.uniform(30.0, 90.0, 40))
    coefficients = rng.normal(size=(6, 3))  # degree 5, per axis
    poly = [np.polynomial.Polynomial(coefficients[:, k]) for k in range(3)]
    values = np.stack([p(nodes / 1000.0) for p in poly], axis=1)
    t = rng.uniform(nodes[0], nodes[-1], 200)
    t[:3] = nodes[[0, 7, -1]]  # exactly at nodes too
    position, velocity = lagrange(nodes, values, t, degree=5)
    expected = np.stack([p(t / 1000.0) for p in poly], axis=1)
    slope = np.stack([p.deriv()(t / 1000.0) / 1000.0 for p in poly], axis=1)
    np.testing.assert_allclose(position, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(velocity, slope, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("frame", list(Frame))
def test_an_oem_sampled_every_minute_from_sgp4_gives_its_positions_within_a_millimetre(
    frame: Frame,
) -> None:
    iss = _iss()
    ephemeris = read_oem(_sampled_oem(iss, frame))
    origin = TimeOrigin.of(START)
    t = np.arange(17.0, 86400.0, 41.3)  # between the samples
    jd, fr = origin.julian(t)
    err, r, v = ephemeris.propagate(jd, fr)
    _, r_sgp4, v_sgp4 = iss.propagate(jd, fr)
    assert not err.any()
    assert np.linalg.norm(r - r_sgp4, axis=1).max() < 1e-6  # km: a millimetre
    # The velocity is the positions' derivative: SGP4's own velocity differs by ~2 cm/s.
    assert np.linalg.norm(v - v_sgp4, axis=1).max() < 5e-5


def test_passes_from_the_oem_match_the_passes_from_the_elements_within_10_ms() -> None:
    iss = _iss()
    ephemeris = read_oem(_sampled_oem(iss, Frame.EME2000))
    stations = read_demo_stations()
    window = (START + timedelta(hours=1), START + timedelta(days=1, hours=1))
    ours = find_passes([ephemeris], stations, *window)
    theirs = find_passes(iss.element_sets, stations, *window)
    assert len(ours) == len(theirs) > 20
    np.testing.assert_array_equal(ours.station, theirs.station)
    assert np.abs(ours.aos_s - theirs.aos_s).max() < 0.01
    assert np.abs(ours.los_s - theirs.los_s).max() < 0.01
    assert not ours.problems


def test_kvn_and_xml_read_alike_with_segments_coverage_and_covariance() -> None:
    kvn_text = (DATA / "two_segments.oem").read_text()
    xml_text = (DATA / "two_segments.xml").read_text()
    assert detect_format(kvn_text) is ElementsFormat.OEM_KVN
    assert detect_format(xml_text) is ElementsFormat.OEM_XML
    files = read_elements([DATA / "two_segments.oem", DATA / "two_segments.xml"])
    kvn, xml = files.ephemerides
    assert not files.elements
    origin = TimeOrigin.of(START)
    t = np.array([10.0, 30.0, 95.0, 240.0, 300.0, 600.0, 630.0, 720.0, 721.0])
    jd, fr = origin.julian(t)
    for ephemeris in (kvn, xml):
        assert (ephemeris.name, ephemeris.object_id, ephemeris.norad_id) == (
            "EXAMPLE-1",
            "2024-999A",
            0,
        )
        err, r, v = ephemeris.propagate(jd, fr)
        inside = np.array([False, True, True, True, False, True, True, True, False])
        np.testing.assert_array_equal(err == 0, inside)
        assert set(err[~inside]) == {OUTSIDE_COVERAGE}
        assert np.isnan(r[~inside]).all()
        assert np.isnan(v[~inside]).all()
        # The states lie on straight lines at 7.5 km/s: the interpolant is exact.
        np.testing.assert_allclose(r[1:4, 1], 7.5 * t[1:4], atol=1e-9)
        np.testing.assert_allclose(r[5:8, 0], -7.5 * (t[5:8] - 600.0), atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(v[inside], axis=1), 7.5, atol=1e-9)
        age = ephemeris.elements_age_days(jd, fr)
        np.testing.assert_allclose(age[inside], 0.25 + t[inside] / 86400.0)
        assert np.isnan(age[~inside]).all()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("CENTER_NAME = EARTH", "CENTER_NAME = MOON"), "CENTER_NAME 'MOON' is not EARTH"),
        (("REF_FRAME = TEME", "REF_FRAME = RTN"), "REF_FRAME 'RTN' is not one of"),
        (("TIME_SYSTEM = UTC", "TIME_SYSTEM = TDB"), "TIME_SYSTEM 'TDB' is not one of"),
        (("2024-05-09T00:01:00.000 7000", "2024-05-09T00:00:00.000 7000"), "do not increase"),
    ],
)
def test_an_oem_jointsat_cannot_use_is_refused_naming_segment_and_reason(
    change: tuple[str, str], reason: str
) -> None:
    text = (DATA / "two_segments.oem").read_text().replace(*change)
    with pytest.raises(ElementsError, match=reason) as caught:
        parse_elements(text, source="bad.oem")
    assert str(caught.value).startswith("bad.oem segment 1: ")


def test_garbage_labelled_oem_is_refused_in_one_line() -> None:
    with pytest.raises(ElementsError, match=r"^x\.oem: not a readable OEM: "):
        read_oem("CCSDS_OEM_VERS = 2.0\nMETA_START\n", source="x.oem")


def test_frames_round_trip_within_a_millimetre() -> None:
    rng = np.random.default_rng(7)
    r = rng.normal(size=(50, 3)) * 20000.0
    v = rng.normal(size=(50, 3)) * 3.0
    jd = np.full(50, 2460439.5)
    fr = rng.uniform(0.0, 3.0, 50)
    for frame in Frame:
        r_teme, v_teme = to_teme(frame, jd, fr, r, v)
        back_r, back_v = from_teme(frame, jd, fr, r_teme, v_teme)
        np.testing.assert_allclose(back_r, r, atol=1e-6)
        np.testing.assert_allclose(back_v, v, atol=1e-9)


def test_gcrf_to_engine_teme_agrees_with_skyfields_teme() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from skyfield.api import load
        from skyfield.sgp4lib import TEME
    ts = load.timescale(builtin=True)
    moments = [START + timedelta(hours=h) for h in (0.0, 7.5, 300.0)]
    r_teme = np.array([[7000.0, 100.0, -300.0], [-4000.0, 5000.0, 2000.0], [0.0, 0.0, 42164.0]])
    r_gcrs = np.array(
        [TEME.rotation_at(ts.from_datetime(m)).T @ r for m, r in zip(moments, r_teme, strict=True)]
    )
    origin = TimeOrigin.of(START)
    jd, fr = origin.julian([(m - START).total_seconds() for m in moments])
    ours, _ = to_teme(Frame.GCRF, jd, fr, r_gcrs, np.zeros_like(r_gcrs))
    # The engine's TEME is the true TEME up to GMST82 against the IAU 2006 model: mas.
    angle = np.linalg.norm(ours - r_teme, axis=1) / np.linalg.norm(r_teme, axis=1)
    assert angle.max() < 5e-8  # radians: 10 mas


def _kepler_oem(radius_km: float, days: float, step_s: float) -> str:
    """Return an OEM (GCRF) of a circular orbit of this radius, inclined 20 degrees."""
    mu = 398600.4418
    n = np.sqrt(mu / radius_km**3)
    inclination = np.radians(20.0)
    p = np.array([1.0, 0.0, 0.0])
    q = np.array([0.0, np.cos(inclination), np.sin(inclination)])
    t = np.arange(0.0, days * 86400.0 + 1.0, step_s)
    c, s = np.cos(n * t)[:, None], np.sin(n * t)[:, None]
    r_gcrf = radius_km * (c * p + s * q)
    v_gcrf = radius_km * n * (-s * p + c * q)
    origin = TimeOrigin.of(START)
    jd, fr = origin.julian(t)
    r_teme, v_teme = to_teme(Frame.GCRF, jd, fr, r_gcrf, v_gcrf)
    samples = OemSamples("CISLUNAR", "2024-998A", jd, fr, r_teme, v_teme)
    return format_oem(samples, created=START, frame=Frame.GCRF)


def test_a_cislunar_trajectorys_passes_match_brute_force_elevations() -> None:
    ephemeris = read_oem(_kepler_oem(380_000.0, days=3.0, step_s=600.0))
    assert ephemeris.max_radius_km > 380_000.0
    assert _step_s(ephemeris) == 900.0  # derived from the trajectory, not a LEO's step
    stations = (
        Station("Kiruna", 67.857, 20.964, 402.0),
        Station("Malargue", -35.776, -69.398, 1550.0),
        Station("Perth", -31.802, 115.885, 22.0),
    )
    window = (START + timedelta(hours=2), START + timedelta(days=2, hours=2))
    found = find_passes([ephemeris], stations, *window, min_elevation_deg=5.0)
    # Brute force: the elevation every 10 s, from the interpolated states.
    origin = TimeOrigin.of(window[0])
    t = np.arange(0.0, 2 * 86400.0 + 1.0, 10.0)
    jd, fr = origin.julian(t)
    _, r, v = ephemeris.propagate(jd, fr)
    r_ecef, _ = teme_to_ecef(r, v, gmst82_rad(jd, fr))
    for m, station in enumerate(stations):
        site = geodetic_to_ecef(station.lat_deg, station.lon_deg, station.alt_m)
        up = enu_basis(station.lat_deg, station.lon_deg)[2]
        rho = r_ecef - site
        elevation = np.degrees(np.arcsin(rho @ up / np.linalg.norm(rho, axis=1)))
        above = elevation >= 5.0
        rises = t[1:][above[1:] & ~above[:-1]]
        sets = t[1:][~above[1:] & above[:-1]]
        mine = found.station == m
        ours_aos = found.aos_s[mine & (found.aos_s > 0.0)]  # not cut by the window
        ours_los = found.los_s[mine & (found.los_s < t[-1])]
        assert rises.size >= 1
        assert sets.size >= 1
        assert np.abs(np.sort(ours_aos)[:, None] - rises[None, :]).min(axis=1).max() <= 10.0
        assert np.abs(np.sort(ours_los)[:, None] - sets[None, :]).min(axis=1).max() <= 10.0
        assert ours_aos.size == rises.size
        assert ours_los.size == sets.size


def test_a_covered_orbit_uses_the_ephemeris_inside_its_coverage_and_the_elements_outside() -> None:
    iss = _iss()
    shifted = dataclasses.replace(
        iss.element_sets[-1], mean_anomaly_deg=(iss.element_sets[-1].mean_anomaly_deg + 10.0) % 360
    )
    ephemeris = read_oem(_sampled_oem(group_satellites([shifted])[0], Frame.TEME, days=0.5))
    both = Covered(42, "X", (ephemeris,), iss)
    alone = Covered(42, "X", (ephemeris,))
    origin = TimeOrigin.of(START)
    jd, fr = origin.julian(np.array([-600.0, 3600.0, 0.4 * 86400.0, 0.6 * 86400.0]))
    inside = np.array([False, True, True, False])
    codes, r, _ = both.propagate(jd, fr)
    assert not codes.any()
    np.testing.assert_array_equal(r[inside], ephemeris.propagate(jd, fr)[1][inside])
    np.testing.assert_array_equal(r[~inside], iss.propagate(jd, fr)[1][~inside])
    codes, r, _ = alone.propagate(jd, fr)
    assert (codes == np.where(inside, 0, OUTSIDE_COVERAGE)).all()
    assert np.isnan(r[~inside]).all()
    ages = both.elements_age_days(jd, fr)
    np.testing.assert_array_equal(ages[inside], ephemeris.elements_age_days(jd, fr)[inside])
    np.testing.assert_array_equal(ages[~inside], iss.elements_age_days(jd, fr)[~inside])
    assert np.isnan(alone.elements_age_days(jd, fr)[~inside]).all()
    assert both.max_radius_km == max(iss.max_radius_km, ephemeris.max_radius_km)
    assert both.min_radius_km == min(iss.min_radius_km, ephemeris.min_radius_km)
    assert both.max_angular_rate_rad_s == max(
        iss.max_angular_rate_rad_s, ephemeris.max_angular_rate_rad_s
    )
    assert both.low_earth_orbit
    assert alone.low_earth_orbit
    (sent,) = build_orbits(orbit_records(both))  # sent whole to another process
    assert sent is both
