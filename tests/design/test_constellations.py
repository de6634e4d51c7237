"""Test designed constellations by propagating them with SGP4 and measuring their geometry.

The authorities: the Walker pattern's definition (Walker 1984), checked on the orbits
SGP4 makes of the element sets (planes and phases read from the position and velocity
vectors, not from the elements); published sun-synchronous inclinations (Wertz, Space
Mission Analysis and Design; Vallado, Fundamentals of Astrodynamics); the Sun's mean
motion (360 degrees a tropical year) measured on SGP4's node over 30 days; the local
mean solar time at the ascending node from ERFA's Greenwich mean sidereal time
(IAU 2006) and the definition of mean solar time (UT plus longitude / 15 degrees an
hour); the local apparent solar time there from Skyfield's Sun (JPL de421) and the
Astronomical Almanac's equation of time.
"""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import erfa
import numpy as np
import pytest
from sgp4.earth_gravity import wgs72
from skyfield.api import Loader

from jointsat.constants import WGS72_J2, WGS84_A_KM
from jointsat.design import constellations
from jointsat.design.constellations import (
    Constellation,
    combine,
    from_elements,
    is_constellation_spec,
    parse_constellation,
    sso_inclination_deg,
    sun_synchronous,
    walker,
)
from jointsat.errors import DesignError
from jointsat.orbits.elements import Elements, parse_elements

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # skyfield-data warns that its IERS file is old
    import skyfield_data

EPOCH = datetime(2024, 3, 1, 6, tzinfo=UTC)
TT_MINUS_UTC_S = 69.184  # 37 leap seconds + 32.184 s, from 2017 on

# SGP4 turns the mean elements into an osculating orbit (Hoots & Roehrich, Spacetrack
# Report 3). Its J3 long-period terms give a circular orbit an eccentricity vector of
# (0, -1/2 J3/J2 sin i Re/a), which moves the position along the orbit by
# J3/J2 sin i (Re/a) cos u rad (0.1 deg): expected_u_deg adds it. Its J2 short-period
# terms then move the osculating node off the mean by up to
# 3/4 J2 (Re/p)^2 |cos i| (0.024 deg at 550 km, 53 deg), the inclination by
# 3/4 J2 (Re/p)^2 |sin i cos i| (0.019 deg) and the argument of latitude by
# 1/8 J2 (Re/p)^2 |7 cos^2 i - 1| (0.010 deg). Twice the largest of them:
short_period_deg = 0.05
# The mean radius is Kepler's a for the Kozai mean motion; the J3 eccentricity (1e-3,
# 7.4 km at 780 km, 86 deg) and J2's short-period radius term (J2 Re^2/p, a few km)
# move the osculating radius about it: measured within 7.5 km.
sgp4_radius_km = 10.0
# The node's mean rate in SGP4 adds J2^2 and J4 terms to the J2 rate that
# sso_inclination_deg solves for (about 0.1 %); the short-period wobble of the node
# (0.024 deg) spread over 30 days is 0.0008 deg/day more.
node_rate_fraction = 0.005
one_minute_h = 1.0 / 60.0
# Published inclinations are given to 0.1 degree.
published_inclination_deg = 0.05


def orbit_geometry(e: Elements, minutes: float = 0.0) -> dict[str, float]:
    """Return the node, inclination, argument of latitude and radius SGP4 gives at a time."""
    sat = e.satrec()
    error, r, v = sat.sgp4(e.epoch_jd, e.epoch_fr + minutes / 1440.0)
    assert error == 0
    r, v = np.array(r), np.array(v)
    h = np.cross(r, v)
    h_unit = h / np.linalg.norm(h)
    raan = math.atan2(h[0], -h[1])
    node = np.array([math.cos(raan), math.sin(raan), 0.0])
    u = math.atan2(float(np.dot(r, np.cross(h_unit, node))), float(np.dot(r, node)))
    return {
        "raan_deg": math.degrees(raan) % 360.0,
        "inclination_deg": math.degrees(math.acos(h_unit[2])),
        "u_deg": math.degrees(u) % 360.0,
        "radius_km": float(np.linalg.norm(r)),
    }


def expected_u_deg(u_deg: float, inclination_deg: float, altitude_km: float) -> float:
    """Return the argument of latitude SGP4 puts a circular orbit at: u plus J3's term."""
    re_over_a = wgs72.radiusearthkm / (WGS84_A_KM + altitude_km)
    j3_term = wgs72.j3oj2 * math.sin(math.radians(inclination_deg)) * re_over_a
    return u_deg + math.degrees(j3_term * math.cos(math.radians(u_deg)))


def angle_apart(a: float, b: float) -> float:
    """Return the difference of two angles in degrees, in [-180, 180)."""
    return (a - b + 180.0) % 360.0 - 180.0


@pytest.mark.parametrize(
    ("star", "total", "planes", "phasing", "altitude_km", "inclination_deg", "raan0_deg"),
    [
        (False, 24, 6, 1, 550.0, 53.0, 0.0),
        (False, 30, 5, 3, 1200.0, 60.0, 17.5),
        (True, 24, 4, 1, 780.0, 86.4, 10.0),
    ],
)
def test_walker_pattern_is_what_sgp4_flies(
    star: bool,
    total: int,
    planes: int,
    phasing: int,
    altitude_km: float,
    inclination_deg: float,
    raan0_deg: float,
) -> None:
    c = walker(
        total, planes, phasing, altitude_km, inclination_deg, raan0_deg, epoch=EPOCH, star=star
    )
    per_plane = total // planes
    spread = 180.0 if star else 360.0
    assert c.satellites == total
    assert c.kind == ("walker-star" if star else "walker-delta")
    for p in range(planes):
        for s in range(per_plane):
            e = c.elements[p * per_plane + s]
            assert e.epoch == EPOCH
            got = orbit_geometry(e)
            want_raan = raan0_deg + p * spread / planes
            want_u = s * 360.0 / per_plane + p * phasing * 360.0 / total
            assert abs(angle_apart(got["raan_deg"], want_raan)) < short_period_deg
            assert abs(got["inclination_deg"] - inclination_deg) < short_period_deg
            want_u = expected_u_deg(want_u, inclination_deg, altitude_km)
            assert abs(angle_apart(got["u_deg"], want_u)) < short_period_deg
            assert got["radius_km"] == pytest.approx(WGS84_A_KM + altitude_km, abs=sgp4_radius_km)
            assert e.object_name.endswith(f" P{p + 1}S{s + 1}")


def test_short_period_tolerance_is_twice_sgp4s_largest_term() -> None:
    p_re = (WGS84_A_KM + 550.0) / 6378.135
    node_term = math.degrees(0.75 * WGS72_J2 / p_re**2 * math.cos(math.radians(53.0)))
    assert 2.0 * node_term == pytest.approx(short_period_deg, abs=0.005)


def test_walker_names_numbers_and_parameters() -> None:
    c = walker(24, 6, 1, 550.0, 53.0, epoch=EPOCH, first_norad_id=70001)
    assert c.name == "WALKER-24/6/1"
    assert c.elements[7].object_name == "WALKER-24/6/1 P2S4"
    assert [e.norad_cat_id for e in c.elements] == list(range(70001, 70025))
    assert len({e.object_id for e in c.elements}) == 24
    assert c.as_dict() == {
        "name": "WALKER-24/6/1",
        "kind": "walker-delta",
        "satellites": 24,
        "parameters": {
            "total": 24,
            "planes": 6,
            "phasing": 1,
            "altitude_km": 550.0,
            "inclination_deg": 53.0,
            "raan0_deg": 0.0,
            "epoch": "2024-03-01T06:00:00Z",
        },
    }
    hash(c)  # a constellation is a key
    star = walker(6, 3, 0, 780.0, 86.4, epoch=EPOCH, star=True, name="IRIDIUM-LIKE")
    assert star.name == "IRIDIUM-LIKE"
    assert star.elements[0].object_name == "IRIDIUM-LIKE P1S1"


def test_designed_elements_survive_tle_and_omm() -> None:
    c = walker(4, 2, 1, 550.0, 53.0, epoch=EPOCH)
    text = "\n".join(line for e in c.elements for line in (e.object_name, *e.to_tle()))
    again = parse_elements(text, strict=True).elements
    assert [e.norad_cat_id for e in again] == [e.norad_cat_id for e in c.elements]
    assert [e.object_id for e in again] == [e.object_id for e in c.elements]
    assert [Elements.from_omm(e.to_omm()) for e in c.elements] == list(c.elements)


def test_epoch_in_another_zone_is_the_same_instant() -> None:
    paris = EPOCH.astimezone(timezone(timedelta(hours=1)))
    assert walker(6, 3, 1, 550.0, 53.0, epoch=paris) == walker(6, 3, 1, 550.0, 53.0, epoch=EPOCH)


@pytest.mark.parametrize(
    ("altitude_km", "published_deg"),
    # Wertz (SMAD, 3rd ed.) and Vallado tabulate these circular sun-synchronous orbits.
    [(500.0, 97.4), (600.0, 97.8), (700.0, 98.2), (800.0, 98.6), (1000.0, 99.5)],
)
def test_sso_inclination_matches_published_tables(altitude_km: float, published_deg: float) -> None:
    assert sso_inclination_deg(altitude_km) == pytest.approx(
        published_deg, abs=published_inclination_deg
    )


@pytest.mark.parametrize("altitude_km", [500.0, 700.0, 1000.0])
def test_sso_node_follows_the_mean_sun_under_sgp4(altitude_km: float) -> None:
    e = sun_synchronous(altitude_km, 10.5, epoch=EPOCH).elements[0]
    days = 30.0
    start, end = orbit_geometry(e), orbit_geometry(e, days * 1440.0)
    rate_deg_per_day = angle_apart(end["raan_deg"], start["raan_deg"]) / days
    assert rate_deg_per_day == pytest.approx(360.0 / 365.2422, rel=node_rate_fraction)


def node_longitude_deg(e: Elements) -> float:
    """Return the ascending node's Earth-fixed longitude at the epoch (ERFA's GMST)."""
    raan = orbit_geometry(e)["raan_deg"]
    tt_fr = e.epoch_fr + TT_MINUS_UTC_S / 86400.0
    gmst = math.degrees(erfa.gmst06(e.epoch_jd, e.epoch_fr, e.epoch_jd, tt_fr))  # UT1 = UTC
    return angle_apart(raan, gmst)


@pytest.mark.parametrize("ltan", ["10:30", "22:30", "06:00", "13:45", "00:15"])
@pytest.mark.parametrize(
    "epoch", [EPOCH, datetime(2024, 11, 3, 17, 20, tzinfo=UTC), datetime(2031, 7, 1, tzinfo=UTC)]
)
def test_sso_node_is_at_its_local_mean_solar_time(ltan: str, epoch: datetime) -> None:
    c = parse_constellation(f"sso:700:{ltan}", epoch=epoch)
    hours, minutes = (int(x) for x in ltan.split(":"))
    ut_h = epoch.hour + epoch.minute / 60.0
    local_mean_time_h = (ut_h + node_longitude_deg(c.elements[0]) / 15.0) % 24.0
    off_h = (local_mean_time_h - (hours + minutes / 60.0) + 12.0) % 24.0 - 12.0
    assert abs(off_h) < one_minute_h


@pytest.fixture(scope="module")
def sky() -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load = Loader(skyfield_data.get_skyfield_data_path())
        return load.timescale(), load("de421.bsp")


@pytest.mark.parametrize(
    ("epoch", "equation_of_time_min"),
    # The Astronomical Almanac's equation of time (apparent minus mean solar time):
    # near its yearly extremes, where it changes by under 2 s a day.
    [(datetime(2024, 11, 3, 12, tzinfo=UTC), 16.4), (datetime(2024, 2, 11, 12, tzinfo=UTC), -14.2)],
)
def test_sso_node_local_apparent_time_is_ltan_plus_equation_of_time(
    sky: tuple[Any, Any], epoch: datetime, equation_of_time_min: float
) -> None:
    ts, ephemeris = sky
    e = sun_synchronous(700.0, 10.5, epoch=epoch).elements[0]
    t = ts.from_datetime(epoch)
    sun_ra, _, _ = ephemeris["earth"].at(t).observe(ephemeris["sun"]).apparent().radec("date")
    # TEME's x axis is the mean equinox: its right ascensions plus the equation of the
    # equinoxes are the true equinox's, as the Sun's of date.
    equation_of_equinoxes_deg = (t.gast - t.gmst) * 15.0
    raan_true_deg = orbit_geometry(e)["raan_deg"] + equation_of_equinoxes_deg
    hour_angle_h = angle_apart(raan_true_deg, sun_ra.hours * 15.0) / 15.0
    apparent_h = 12.0 + hour_angle_h
    assert apparent_h - 10.5 == pytest.approx(equation_of_time_min / 60.0, abs=one_minute_h)


def test_sso_count_spreads_satellites_in_one_plane() -> None:
    c = sun_synchronous(550.0, 22.5, epoch=EPOCH, count=4, first_norad_id=95001)
    assert c.name == "SSO-550-2230"
    assert c.kind == "sso"
    assert [e.object_name for e in c.elements] == [f"SSO-550-2230 S{k}" for k in (1, 2, 3, 4)]
    geometry = [orbit_geometry(e) for e in c.elements]
    inclination_deg = sso_inclination_deg(550.0)
    for k, g in enumerate(geometry):
        assert abs(angle_apart(g["raan_deg"], geometry[0]["raan_deg"])) < short_period_deg
        want_u = expected_u_deg(90.0 * k, inclination_deg, 550.0)
        assert abs(angle_apart(g["u_deg"], want_u)) < short_period_deg
    assert dict(c.parameters)["inclination_deg"] == pytest.approx(sso_inclination_deg(550.0))


def test_parse_walker_specs() -> None:
    c = parse_constellation("walker:24/6/1:550:53", epoch=EPOCH)
    assert c == walker(24, 6, 1, 550.0, 53.0, epoch=EPOCH)
    star = parse_constellation("Walker-Star:66/6/2:780:86.4:15", epoch=EPOCH)
    assert star == walker(66, 6, 2, 780.0, 86.4, 15.0, epoch=EPOCH, star=True)
    sso = parse_constellation("sso:700:10:30:2", epoch=EPOCH, first_norad_id=80001)
    assert sso == sun_synchronous(700.0, 10.5, epoch=EPOCH, count=2, first_norad_id=80001)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("walker:24/5/1:550:53", "T must be a multiple of P"),
        ("walker:24/6/6:550:53", "phasing F must be 0 to P-1 = 5"),
        ("walker:24/6:550:53", "as T/P/F"),
        ("walker:24/6/1:550", "expected walker:T/P/F:ALT_KM:INC_DEG[:RAAN_DEG]"),
        ("walker:24/6/1:high:53", "cannot read 'high' as the altitude"),
        ("walker:24/6/1:-5:53", "altitude must be above 0 km"),
        ("walker:24/6/1:550:190", "inclination must be in [0, 180]"),
        ("walker:0/0/0:550:53", "T >= 1 and P >= 1"),
        ("walker-star:24/6/1:550:nan", "must be finite"),
        ("sso:700:25:00", "not a time of day"),
        ("sso:700:10", "expected sso:ALT_KM:HH:MM[:COUNT]"),
        ("sso:700:10:3", "as a local time HH:MM"),
        ("sso:700:10:30:0", "count of 1 or more"),
        ("sso:700:10:30:two", "as a count"),
        ("sso:9000:10:30", "no circular orbit at 9000 km is sun-synchronous"),
        ("molniya:4", "is not one of"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(DesignError) as caught:
        parse_constellation(spec, epoch=EPOCH)
    assert says in str(caught.value)
    assert repr(spec) in str(caught.value)


def test_naive_epoch_is_refused() -> None:
    with pytest.raises(DesignError, match="no time zone"):
        walker(24, 6, 1, 550.0, 53.0, epoch=datetime(2024, 3, 1))  # noqa: DTZ001


def test_norad_ids_must_fit_the_catalogue() -> None:
    with pytest.raises(DesignError, match="catalogue numbers"):
        walker(24, 6, 1, 550.0, 53.0, epoch=EPOCH, first_norad_id=999_999_990)


@pytest.mark.parametrize(
    ("spec", "is_spec"),
    [
        ("walker:24/6/1:550:53", True),
        ("WALKER-STAR:bad", True),
        ("sso:", True),
        ("stations.tle", False),
        ("sso.json", False),
        ("C:\\orbits\\walker.tle", False),
        ("walker", False),
    ],
)
def test_is_constellation_spec(spec: str, is_spec: bool) -> None:
    assert is_constellation_spec(spec) is is_spec


def test_combine_renumbers_clashes_and_keeps_order() -> None:
    a = walker(4, 2, 1, 550.0, 53.0, epoch=EPOCH)
    b = sun_synchronous(700.0, 10.5, epoch=EPOCH, count=3)
    given = from_elements("given", (a.elements[0], a.elements[2]))
    combined = combine([a, b, given])
    assert [e.object_name for e in combined] == [
        e.object_name for c in (a, b, given) for e in c.elements
    ]
    ids = [e.norad_cat_id for e in combined]
    assert len(set(ids)) == len(ids)
    assert ids[:4] == [90001, 90002, 90003, 90004]
    assert ids[4:] == [90005, 90006, 90007, 90008, 90009]
    for before, after in zip((e for c in (a, b, given) for e in c.elements), combined, strict=True):
        assert after == before or after.norad_cat_id != before.norad_cat_id


def test_from_elements_needs_some() -> None:
    c = from_elements("mine", walker(2, 1, 0, 550.0, 53.0, epoch=EPOCH).elements)
    assert isinstance(c, Constellation)
    assert (c.kind, c.satellites, c.parameters) == ("elements", 2, ())
    with pytest.raises(DesignError, match="no element sets"):
        from_elements("empty", ())


def test_kinds_are_listed() -> None:
    made = {
        walker(2, 1, 0, 550.0, 53.0, epoch=EPOCH).kind,
        walker(2, 1, 0, 550.0, 53.0, epoch=EPOCH, star=True).kind,
        sun_synchronous(550.0, 10.0, epoch=EPOCH).kind,
        from_elements("x", walker(1, 1, 0, 550.0, 53.0, epoch=EPOCH).elements).kind,
    }
    assert made == set(constellations.CONSTELLATION_KINDS)
