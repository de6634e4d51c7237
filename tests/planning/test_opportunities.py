"""Test opportunities and candidates against Skyfield, dense sampling and their own rules.

Skyfield (with de421, and told that UT1 = UTC as our frames assume) is the
authority for the geometry: off-nadir angle, elevation and sun elevation of the
ISS over NASA's agency sites, and the Sun and Earth-limb angles of the ISS and
CHEOPS pointing at the sky. Windows are checked against that geometry sampled every second over
a day (none missed, none invented) and at their edges, where the conditions must
change within a hundredth of a second. Candidates are checked against the rules
that define them.
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from skyfield.api import EarthSatellite, Loader, wgs84
from skyfield.framelib import itrs
from skyfield.sgp4lib import TEME
from tests.support.data import agency_stations, orbit_file

from jointsat.constants import WGS84_A_KM
from jointsat.errors import PlanningInputError
from jointsat.orbits.elements import Elements, parse_elements
from jointsat.orbits.frames import WGS84_B_KM
from jointsat.orbits.looks import earth_geometry, sky_geometry
from jointsat.orbits.propagation import Satellite, group_satellites
from jointsat.orbits.sun import sun_elevation_deg, sun_position_km
from jointsat.planning import opportunities
from jointsat.planning.candidates import Candidates, candidates
from jointsat.planning.opportunities import Opportunities, find_opportunities
from jointsat.planning.problem import Agility, Imager, PlanningOptions, PlanningProblem
from jointsat.planning.requests import EarthTarget, Kind, Mode, Request, SkyTarget
from jointsat.scheduling.problem import Partner, Window

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # skyfield-data warns that its IERS file is old
    import skyfield_data

JD_UNIX_EPOCH = 2440587.5
DAY_S = 86400.0
ISS_START = datetime(2024, 5, 10, tzinfo=UTC)  # a day after the epochs of stations.tle
CHEOPS_START = datetime(2024, 9, 17, tzinfo=UTC)  # a day after CHEOPS's latest epoch

# Against Skyfield with UT1 = UTC the two chains from TEME to the Earth agree to
# millimetres (test_frames.py). Measured on the 22 agency sites over a day: off-
# nadir angle and elevation to 1.3e-11 deg, lines of sight to 3e-13, the limb
# angle to 4e-12 deg. The Sun is our low-precision series (stated good to 0.01 deg,
# 0.012 in TEME, see test_sun.py): measured 0.0033 deg in sun elevation against
# de421's apparent position, 0.0055 deg in Sun angle against its geometric one.
one_millionth_degree = 1e-6
one_nanoradian = 1e-9
twelve_thousandths_degree = 0.012
# Window edges: within a hundredth of a second of where a condition changes.
one_hundredth_second = 0.01
# Brute force samples every second: a window lies within a second of its samples
# (and its edges, put inside, within a hundredth of a second of the samples inside).
one_second = 1.0
one_microsecond = 1e-6  # datetimes' resolution
one_nanosecond = 1e-9  # sums of times, rounding apart
# The same quantity computed two ways with the same arithmetic.
rounding = 1e-12
one_billionth_degree = 1e-9
one_ten_millionth_degree = 1e-7  # a minimum found by golden section, against samples
shadow_boundary_margin_km = 50.0  # see test_sun.py


# --- inputs ---------------------------------------------------------------------


def elements_of(name: str) -> tuple[Elements, ...]:
    return parse_elements(orbit_file(name).read_text()).elements


ISS = elements_of("stations.tle")[0]
CSS = elements_of("stations.tle")[1]
CHEOPS = elements_of("cheops.tle")[-1]


def orbit_of(*elements: Elements) -> list[Satellite]:
    return list(group_satellites(elements))


def julian(start: datetime, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return split Julian dates (UTC) of seconds after ``start``."""
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    days = (midnight - datetime(1970, 1, 1, tzinfo=UTC)).days
    into = (start - midnight).total_seconds()
    return np.full(np.shape(t_s), JD_UNIX_EPOCH + days), (into + np.asarray(t_s)) / DAY_S


def imager(norad_id: int, **fields: Any) -> Imager:
    return Imager(
        str(norad_id), memory_mbit=1e6, imaging_rate_mbps=120.0, downlink_rate_mbps=300.0, **fields
    )


def problem_of(
    requests: list[Request],
    imagers: list[Imager],
    start: datetime,
    hours: float = 24.0,
    step_s: float = 10.0,
) -> PlanningProblem:
    return PlanningProblem(
        horizon=Window(start, start + timedelta(hours=hours)),
        partners=(Partner("esa", 0.5), Partner("jaxa", 0.5)),
        satellites=tuple(imagers),
        requests=tuple(requests),
        options=PlanningOptions(start_step_s=step_s),
    )


def site_requests() -> list[EarthTarget]:
    """Return requests over NASA's agency sites, with a spread of constraints."""
    found = []
    for k, site in enumerate(agency_stations(22)):
        found.append(
            EarthTarget(
                id=f"site-{site.name}",
                partner=("esa", "jaxa")[k % 2],
                lat_deg=site.lat_deg,
                lon_deg=site.lon_deg,
                alt_m=site.alt_m,
                gain=1,
                max_off_nadir_deg=(45.0, 30.0, 60.0, 20.0)[k % 4],
                min_sun_elevation_deg=(None, 10.0, -6.0)[k % 3],
                mode=Mode.STEREO if k % 5 == 0 else Mode.MONO,
                min_duration_s=(10.0, 30.0, 5.0)[k % 3],
                stereo_angle_deg=(15.0, 20.0)[k % 2],
            )
        )
    return found


def sky_requests() -> list[SkyTarget]:
    """Return sky requests placed for the ISS on ISS_START, with a spread of constraints.

    Around the anti-Sun direction (observable on the night side, where the ISS
    enters the Earth's shadow), the pole of the ISS's orbit opposite the Sun (the
    Earth's limb 20 degrees away all orbit long) and elsewhere.
    """
    sun = sun_position_km(*julian(ISS_START, np.array(0.0)))
    anti_ra = float(np.degrees(np.arctan2(-sun[1], -sun[0])) % 360.0)
    anti_dec = float(np.degrees(np.arcsin(-sun[2] / np.linalg.norm(sun))))
    pole_ra, pole_dec = (ISS.raan_deg + 90.0) % 360.0, ISS.inclination_deg - 90.0
    # (ra, dec, duration, min Sun angle, min limb angle, eclipse only)
    table = [
        (anti_ra, anti_dec, 120.0, 90.0, 10.0, True),
        (anti_ra + 25.0, anti_dec - 20.0, 240.0, 120.0, -10.0, True),
        (pole_ra, pole_dec, 600.0, 90.0, 15.0, False),
        (pole_ra, pole_dec, 3000.0, 90.0, 19.0, False),
        (anti_ra - 40.0, anti_dec + 30.0, 300.0, 60.0, 20.0, False),
        (anti_ra + 60.0, anti_dec + 50.0, 900.0, 90.0, 5.0, False),
        (anti_ra, anti_dec, 60.0, 150.0, 35.0, False),
        (anti_ra + 180.0, -anti_dec, 60.0, 30.0, 0.0, False),  # the Sun too near: never
    ]
    return [
        SkyTarget(
            id=f"star-{k}",
            partner=("esa", "jaxa")[k % 2],
            ra_deg=ra % 360.0,
            dec_deg=dec,
            gain=1,
            duration_s=duration,
            min_sun_angle_deg=sun_angle,
            min_earth_limb_angle_deg=limb,
            eclipse_only=dark,
        )
        for k, (ra, dec, duration, sun_angle, limb, dark) in enumerate(table)
    ]


@pytest.fixture(scope="module")
def loader() -> Loader:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Loader(skyfield_data.get_skyfield_data_path())


@pytest.fixture(scope="module")
def ephemeris(loader: Loader) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loader("de421.bsp")


def skyfield_times(ts: Any, start: datetime, t_s: np.ndarray) -> Any:
    day = date(start.year, start.month, start.day)
    into = (start - datetime(day.year, day.month, day.day, tzinfo=UTC)).total_seconds()
    return ts.utc(day.year, day.month, day.day, 0, 0, into + t_s)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.degrees(np.arctan2(cross, np.sum(a * b, axis=-1)))


# --- the geometry against Skyfield ------------------------------------------------


def test_earth_geometry_matches_skyfield(loader: Loader, ephemeris: Any) -> None:
    ts = loader.timescale(delta_t=69.184)  # UT1 = UTC, as our frames take it
    satellite = EarthSatellite.from_satrec(ISS.satrec(), ts)
    (orbit,) = orbit_of(ISS)
    t_s = np.arange(0.0, DAY_S, 97.0)
    t = skyfield_times(ts, ISS_START, t_s)
    jd, fr = julian(ISS_START, t_s)
    assert np.abs(t.dut1).max() < one_nanosecond
    sat_itrs = satellite.at(t).frame_xyz(itrs).km.T
    sat_teme = satellite.at(t).frame_xyz(TEME).km.T
    seen = 0
    for station in agency_stations(8):
        site = wgs84.latlon(station.lat_deg, station.lon_deg, station.alt_m)
        ours = earth_geometry(orbit, station.lat_deg, station.lon_deg, station.alt_m, jd, fr)
        assert not ours.error.any()
        rho = site.itrs_xyz.km - sat_itrs  # satellite to target, Earth-fixed
        np.testing.assert_allclose(
            ours.off_nadir_deg, angle_deg(-sat_itrs, rho), atol=one_millionth_degree
        )
        elevation, _, _ = (satellite - site).at(t).altaz()
        np.testing.assert_allclose(ours.elevation_deg, elevation.degrees, atol=one_millionth_degree)
        site_teme = site.at(t).frame_xyz(TEME).km.T
        np.testing.assert_allclose(
            ours.line_of_sight, unit(site_teme - sat_teme), atol=one_nanoradian
        )
        sun_alt, _, _ = (
            (ephemeris["earth"] + site).at(t).observe(ephemeris["sun"]).apparent().altaz()
        )
        np.testing.assert_allclose(
            ours.sun_elevation_deg, sun_alt.degrees, atol=twelve_thousandths_degree
        )
        np.testing.assert_allclose(
            ours.sun_elevation_deg,
            sun_elevation_deg(
                *np.broadcast_arrays(station.lat_deg, station.lon_deg, station.alt_m, jd), fr
            ),
            atol=one_billionth_degree,
        )
        seen += int(np.count_nonzero(ours.elevation_deg > 0.0))
    assert seen > 20


def test_earth_geometry_broadcasts_targets_against_times() -> None:
    (orbit,) = orbit_of(ISS)
    jd, fr = julian(ISS_START, np.arange(0.0, 600.0, 60.0))
    lat = np.array([10.0, -35.0, 52.0])[:, None]
    lon = np.array([20.0, 149.0, -3.0])[:, None]
    grid = earth_geometry(orbit, lat, lon, 0.0, jd, fr)
    assert grid.off_nadir_deg.shape == (3, 10)
    assert grid.line_of_sight.shape == (3, 10, 3)
    for m in range(3):
        one = earth_geometry(orbit, lat[m, 0], lon[m, 0], 0.0, jd, fr)
        np.testing.assert_allclose(grid.off_nadir_deg[m], one.off_nadir_deg, atol=rounding)
        np.testing.assert_allclose(grid.sun_elevation_deg[m], one.sun_elevation_deg, atol=rounding)


@pytest.mark.parametrize("name", ["ISS", "CHEOPS"])
def test_sky_geometry_matches_skyfield(name: str, loader: Loader, ephemeris: Any) -> None:
    ts = loader.timescale(delta_t=69.184)
    elements, start = (ISS, ISS_START) if name == "ISS" else (CHEOPS, CHEOPS_START)
    satellite = EarthSatellite.from_satrec(elements.satrec(), ts)
    (orbit,) = orbit_of(elements)
    t_s = np.arange(0.0, DAY_S, 61.0)
    t = skyfield_times(ts, start, t_s)
    jd, fr = julian(start, t_s)
    position = satellite.at(t)
    sat = position.frame_xyz(TEME).km.T
    sun = (ephemeris["sun"] - ephemeris["earth"]).at(t).frame_xyz(TEME).km.T
    sunlit = position.is_sunlit(ephemeris)
    rng = np.random.default_rng(5)
    for ra, dec in zip(
        rng.uniform(0, 360, 6), np.degrees(np.arcsin(rng.uniform(-1, 1, 6))), strict=True
    ):
        ours = sky_geometry(orbit, ra, dec, jd, fr)
        u = np.array(
            [
                np.cos(np.radians(dec)) * np.cos(np.radians(ra)),
                np.cos(np.radians(dec)) * np.sin(np.radians(ra)),
                np.sin(np.radians(dec)),
            ]
        )
        np.testing.assert_allclose(ours.line_of_sight, np.broadcast_to(u, sat.shape), atol=rounding)
        np.testing.assert_allclose(
            ours.sun_angle_deg, angle_deg(u, sun - sat), atol=twelve_thousandths_degree
        )
        limb = angle_deg(u, -sat) - np.degrees(np.arcsin(WGS84_A_KM / np.linalg.norm(sat, axis=-1)))
        np.testing.assert_allclose(ours.limb_angle_deg, limb, atol=one_millionth_degree)
        # Sunlight, away from the shadow's edge (Skyfield's Earth is a sphere).
        d = unit(sun - sat)
        along = np.sum(sat * d, axis=-1)
        closest = np.linalg.norm(sat - along[:, None] * d, axis=-1)
        edge = (along < 0) & (
            np.abs(closest - 0.5 * (WGS84_A_KM + WGS84_B_KM))
            < 0.5 * (WGS84_A_KM - WGS84_B_KM) + shadow_boundary_margin_km
        )
        np.testing.assert_array_equal(ours.sunlit[~edge], sunlit[~edge])
        if name == "ISS":  # CHEOPS rides the terminator, in sunlight all September
            assert 0 < np.count_nonzero(~ours.sunlit) < 0.5 * t_s.size


# --- windows against dense sampling -------------------------------------------------


def earth_holds(
    orbit: Satellite, request: EarthTarget, start: datetime, t_s: np.ndarray
) -> np.ndarray:
    """Return whether the request's conditions hold at the times, from the public geometry."""
    g = earth_geometry(orbit, request.lat_deg, request.lon_deg, request.alt_m, *julian(start, t_s))
    ok = (g.off_nadir_deg <= request.max_off_nadir_deg) & (g.elevation_deg > 0.0)
    if request.min_sun_elevation_deg is not None:
        ok &= g.sun_elevation_deg >= request.min_sun_elevation_deg
    return np.asarray(ok)


def geometry_at(orbit: Satellite, request: EarthTarget, start: datetime, t_s: np.ndarray) -> Any:
    return earth_geometry(
        orbit, request.lat_deg, request.lon_deg, request.alt_m, *julian(start, t_s)
    )


def sky_holds(orbit: Satellite, request: SkyTarget, start: datetime, t_s: np.ndarray) -> np.ndarray:
    g = sky_geometry(orbit, request.ra_deg, request.dec_deg, *julian(start, t_s))
    ok = (g.sun_angle_deg >= request.min_sun_angle_deg) & (
        g.limb_angle_deg >= request.min_earth_limb_angle_deg
    )
    if request.eclipse_only:
        ok &= ~g.sunlit
    return np.asarray(ok)


def holds(orbit: Satellite, request: Request, start: datetime, t_s: np.ndarray) -> np.ndarray:
    if isinstance(request, EarthTarget):
        return earth_holds(orbit, request, start, t_s)
    return sky_holds(orbit, request, start, t_s)


def holds_all(
    orbit: Satellite, requests: tuple[Request, ...], start: datetime, t_s: np.ndarray
) -> np.ndarray:
    """Return whether each request's conditions hold at each time, ``(R, T)``."""
    ok = np.zeros((len(requests), t_s.size), dtype=bool)
    for first in range(0, len(requests), 12):
        rows = list(range(first, min(first + 12, len(requests))))
        ok[rows] = holds_block(orbit, tuple(requests[i] for i in rows), start, t_s)
    return ok


def holds_block(
    orbit: Satellite, requests: tuple[Request, ...], start: datetime, t_s: np.ndarray
) -> np.ndarray:
    jd, fr = julian(start, t_s)
    ok = np.zeros((len(requests), t_s.size), dtype=bool)
    earth = [i for i, r in enumerate(requests) if isinstance(r, EarthTarget)]
    sky = [i for i, r in enumerate(requests) if isinstance(r, SkyTarget)]

    def column(rows: list[int], name: str, missing: float = np.nan) -> np.ndarray:
        values = [getattr(requests[i], name) for i in rows]
        return np.array([missing if v is None else v for v in values], dtype=float)[:, None]

    if earth:
        g = earth_geometry(
            orbit,
            column(earth, "lat_deg"),
            column(earth, "lon_deg"),
            column(earth, "alt_m"),
            jd,
            fr,
        )
        sun = column(earth, "min_sun_elevation_deg", -90.0)
        ok[earth] = (
            (g.off_nadir_deg <= column(earth, "max_off_nadir_deg"))
            & (g.elevation_deg > 0.0)
            & (g.sun_elevation_deg >= sun)
        )
    if sky:
        h = sky_geometry(orbit, column(sky, "ra_deg"), column(sky, "dec_deg"), jd, fr)
        dark = column(sky, "eclipse_only").astype(bool)
        ok[sky] = (
            (h.sun_angle_deg >= column(sky, "min_sun_angle_deg"))
            & (h.limb_angle_deg >= column(sky, "min_earth_limb_angle_deg"))
            & (~dark | ~h.sunlit)
        )
    return ok


def runs(ok: np.ndarray, t_s: np.ndarray) -> list[tuple[float, float]]:
    """Return the first and last sample time of each run of samples where ok holds."""
    edges = np.diff(np.r_[0, ok.astype(np.int8), 0])
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(float(t_s[a]), float(t_s[b])) for a, b in zip(first, last, strict=True)]


def look_s(request: Request) -> float:
    if isinstance(request, EarthTarget):
        return request.min_duration_s * (2.0 if request.mode is Mode.STEREO else 1.0)
    return request.duration_s


def assert_matches_brute_force(
    problem: PlanningProblem, orbits: list[Satellite], found: Opportunities
) -> int:
    """Check every window against samples every second; return how many were compared."""
    horizon_s = (problem.horizon.end - problem.horizon.start).total_seconds()
    t_s = np.arange(0.0, horizon_s + 0.5, one_second)
    compared = 0
    for s, orbit in enumerate(orbits):
        every = holds_all(orbit, problem.requests, problem.horizon.start, t_s)
        for i, request in enumerate(problem.requests):
            if not problem.serves(problem.satellites[s], request):
                continue
            mine = np.flatnonzero((found.satellite == s) & (found.request == i))
            windows = list(zip(found.start_s[mine], found.end_s[mine], strict=True))
            d = look_s(request)
            for a, b in runs(every[i], t_s):
                # The window holds [a, b] and lies within (a - 1 s, b + 1 s).
                match = [
                    (x, y)
                    for x, y in windows
                    if a - one_second < x <= a + one_hundredth_second
                    and b - one_hundredth_second <= y < b + one_second
                ]
                if b - a >= d:
                    assert len(match) == 1, (s, request.id, a, b, windows)
                elif b - a + 2 * one_second < d:
                    assert not match, (s, request.id, a, b)
                compared += len(match)
            # And nothing is found that the samples do not show.
            for x, y in windows:
                assert every[i, (t_s >= x) & (t_s <= y)].all()
                assert y - x >= d
    assert compared == len(found)
    return compared


@pytest.fixture(scope="module")
def earth_case() -> tuple[PlanningProblem, list[Satellite], Opportunities]:
    orbits = orbit_of(ISS, CSS)
    requests: list[Request] = list(site_requests())
    problem = problem_of(requests, [imager(ISS.norad_cat_id), imager(CSS.norad_cat_id)], ISS_START)
    return problem, orbits, find_opportunities(problem, orbits)


@pytest.fixture(scope="module")
def sky_case() -> tuple[PlanningProblem, list[Satellite], Opportunities]:
    orbits = orbit_of(ISS)
    requests: list[Request] = list(sky_requests())
    problem = problem_of(requests, [imager(ISS.norad_cat_id)], ISS_START, step_s=60.0)
    return problem, orbits, find_opportunities(problem, orbits)


def test_no_earth_window_missed_or_invented_against_sampling_every_second(earth_case) -> None:
    problem, orbits, found = earth_case
    compared = assert_matches_brute_force(problem, orbits, found)
    assert compared > 30
    assert len({int(i) for i in found.request}) > 10


def test_no_sky_window_missed_or_invented_against_sampling_every_second(sky_case) -> None:
    problem, orbits, found = sky_case
    compared = assert_matches_brute_force(problem, orbits, found)
    assert compared > 30


@pytest.mark.parametrize("case", ["earth_case", "sky_case"])
def test_window_edges_are_where_a_condition_changes(case: str, request: Any) -> None:
    problem, orbits, found = request.getfixturevalue(case)
    start = problem.horizon.start
    horizon_s = (problem.horizon.end - start).total_seconds()
    checked = 0
    for k in range(len(found)):
        orbit = orbits[int(found.satellite[k])]
        r = problem.requests[int(found.request[k])]
        a, b = float(found.start_s[k]), float(found.end_s[k])
        assert holds(orbit, r, start, np.array([a, b])).all()
        if a > 0.0:
            assert not holds(orbit, r, start, np.array([a - one_hundredth_second])).any()
            checked += 1
        if b < horizon_s:
            assert not holds(orbit, r, start, np.array([b + one_hundredth_second])).any()
            checked += 1
    assert checked > 40


def test_windows_do_not_depend_on_the_first_sampling_step(
    earth_case, sky_case, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sampled only at each culled pass's ends and every 50 minutes over the sky,
    # the windows must come out the same: the rate bounds, not the samples, find them.
    monkeypatch.setattr(opportunities, "EARTH_STEP_S", 600.0)
    monkeypatch.setattr(opportunities, "SKY_STEP_RANGE_S", (3000.0, 3000.0))
    for problem, orbits, found in (earth_case, sky_case):
        coarse = find_opportunities(problem, orbits)
        np.testing.assert_array_equal(coarse.request, found.request)
        np.testing.assert_array_equal(coarse.satellite, found.satellite)
        np.testing.assert_allclose(coarse.start_s, found.start_s, atol=one_hundredth_second)
        np.testing.assert_allclose(coarse.end_s, found.end_s, atol=one_hundredth_second)


def test_opportunities_are_sorted_and_earth_best_is_the_least_off_nadir(earth_case) -> None:
    problem, orbits, found = earth_case
    order = np.lexsort((found.start_s, found.satellite))
    np.testing.assert_array_equal(order, np.arange(len(found)))
    assert found.start == problem.horizon.start
    for k in range(len(found)):
        r = problem.requests[int(found.request[k])]
        assert isinstance(r, EarthTarget)
        a, b, best = found.start_s[k], found.end_s[k], found.best_s[k]
        assert a <= best <= b
        t_s = np.linspace(a, b, 2001)
        g = earth_geometry(
            orbits[int(found.satellite[k])],
            r.lat_deg,
            r.lon_deg,
            r.alt_m,
            *julian(problem.horizon.start, t_s),
        )
        assert found.best_off_nadir_deg[k] <= g.off_nadir_deg.min() + one_ten_millionth_degree
        at_best = earth_geometry(
            orbits[int(found.satellite[k])],
            r.lat_deg,
            r.lon_deg,
            r.alt_m,
            *julian(problem.horizon.start, np.array([best])),
        )
        np.testing.assert_allclose(
            at_best.off_nadir_deg, found.best_off_nadir_deg[k], atol=one_billionth_degree
        )


def test_sky_best_is_the_start(sky_case) -> None:
    _, _, found = sky_case
    np.testing.assert_array_equal(found.best_s, found.start_s)
    assert np.isnan(found.best_off_nadir_deg).all()


def test_request_windows_and_satellite_choices_are_kept() -> None:
    orbits = orbit_of(ISS, CSS)
    sites = site_requests()
    imagers = [imager(ISS.norad_cat_id), imager(CSS.norad_cat_id, observes=frozenset({Kind.EARTH}))]
    free = find_opportunities(problem_of([sites[2]], imagers, ISS_START), orbits)
    longest = int(np.argmax(free.end_s - free.start_s))
    cut_s = 0.5 * (free.start_s[longest] + free.end_s[longest])  # cuts one window in two
    window = Window(ISS_START + timedelta(seconds=cut_s), ISS_START + timedelta(hours=20))
    limited = [
        dataclasses.replace(sites[0], id="iss-only", satellites=(str(ISS.norad_cat_id),)),
        dataclasses.replace(sites[2], id="windowed", window=window),
        dataclasses.replace(
            sites[6],
            id="outside",
            window=Window(ISS_START - timedelta(days=2), ISS_START - timedelta(days=1)),
        ),
        *sky_requests()[:2],
    ]
    found = find_opportunities(problem_of(limited, imagers, ISS_START), orbits)
    assert (found.satellite[found.request == 0] == 0).all()
    windowed = found.request == 1
    end_s = (window.end - ISS_START).total_seconds()
    assert (found.start_s[windowed] >= cut_s).all()
    assert (found.end_s[windowed] <= end_s).all()
    # The same windows, clipped to the request's (the one cut starts exactly at its start).
    assert found.start_s[windowed].min() == pytest.approx(cut_s, abs=one_microsecond)
    start, end = np.maximum(free.start_s, cut_s), np.minimum(free.end_s, end_s)
    kept = end - start >= look_s(sites[2])
    np.testing.assert_array_equal(found.satellite[windowed], free.satellite[kept])
    np.testing.assert_allclose(found.start_s[windowed], start[kept], atol=one_hundredth_second)
    np.testing.assert_allclose(found.end_s[windowed], end[kept], atol=one_hundredth_second)
    assert not (found.request == 2).any()
    sky = found.request >= 3
    assert sky.any()
    assert (found.satellite[sky] == 0).all()


def test_a_satellite_without_an_orbit_is_refused() -> None:
    orbits = orbit_of(ISS)
    problem = problem_of(site_requests()[:2], [imager(ISS.norad_cat_id), imager(99999)], ISS_START)
    with pytest.raises(PlanningInputError, match="99999") as raised:
        find_opportunities(problem, orbits)
    assert raised.value.location == "satellites[1]"
    with pytest.raises(PlanningInputError, match="99999"):
        candidates(
            problem,
            orbits,
            Opportunities(ISS_START, *(np.zeros(0, dtype=np.int64),) * 2, *(np.zeros(0),) * 4),
        )
    # A request naming an unknown satellite is refused when the problem is built.
    with pytest.raises(PlanningInputError) as unknown:
        problem_of(
            [dataclasses.replace(site_requests()[0], satellites=("12345",))],
            [imager(ISS.norad_cat_id)],
            ISS_START,
        )
    assert unknown.value.location == "requests[0].satellites[0]"


def test_a_decaying_satellite_is_a_problem_not_an_error() -> None:
    decaying = dataclasses.replace(ISS, norad_cat_id=99_990, object_name="DECAYING", bstar=0.3)
    requests: list[Request] = [*site_requests()[:8], *sky_requests()[:2]]
    both = problem_of(requests, [imager(ISS.norad_cat_id), imager(99_990)], ISS_START)
    alone = problem_of(requests, [imager(ISS.norad_cat_id)], ISS_START)
    mixed = find_opportunities(both, orbit_of(ISS, decaying))
    healthy = find_opportunities(alone, orbit_of(ISS))

    t_s = np.arange(0.0, DAY_S, 1.0)
    codes, _, _ = decaying.satrec().sgp4_array(*julian(ISS_START, t_s))
    assert codes[0] == 0
    assert codes.any()
    first = float(t_s[np.argmax(codes != 0)])
    (problem,) = mixed.problems
    assert problem.satellite == 1
    failed_at = (problem.time - ISS_START).total_seconds()
    assert first - one_second <= failed_at <= first + one_hundredth_second
    code_then, _, _ = decaying.satrec().sgp4_array(*julian(ISS_START, np.array([failed_at])))
    assert problem.code == code_then[0] != 0
    assert not healthy.problems

    ours = mixed.satellite == 0
    for column in ("request", "start_s", "end_s", "best_s"):
        np.testing.assert_array_equal(getattr(mixed, column)[ours], getattr(healthy, column))
    assert (mixed.end_s[~ours] <= failed_at).all()
    assert len(candidates(both, orbit_of(ISS, decaying), mixed)) > 0


# --- candidates ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def earth_candidates(earth_case) -> Candidates:
    problem, orbits, found = earth_case
    return candidates(problem, orbits, found)


def grid(a: float, b: float, look_s: float, options: PlanningOptions) -> np.ndarray:
    """Return the starts a window offers: every step, and the latest; at most the cap."""
    step = max(options.start_step_s, (b - look_s - a) / (options.max_starts_per_window - 1))
    found = np.unique(np.r_[np.arange(a, b - look_s - one_microsecond, step), b - look_s])
    assert found.size <= options.max_starts_per_window
    return found


def test_mono_candidates_start_on_the_grid_inside_their_windows(
    earth_case, earth_candidates
) -> None:
    problem, _orbits, found = earth_case
    c = earth_candidates
    mono = np.isnan(c.second_start_s)
    assert mono.any()
    for k in range(len(found)):
        r = problem.requests[int(found.request[k])]
        assert isinstance(r, EarthTarget)
        rows = np.flatnonzero(c.opportunity == k)
        a, b, d = found.start_s[k], found.end_s[k], r.min_duration_s
        assert (c.request[rows] == found.request[k]).all()
        assert (c.satellite[rows] == found.satellite[k]).all()
        assert (c.start_s[rows] >= a).all()
        assert (c.end_s[rows] <= b).all()
        if r.mode is Mode.MONO:
            expected = grid(a, b, d, problem.options)
            np.testing.assert_allclose(np.sort(c.start_s[rows]), expected, atol=one_nanosecond)
            np.testing.assert_allclose(c.end_s[rows] - c.start_s[rows], d, atol=one_nanosecond)
            np.testing.assert_allclose(c.volume_mbit[rows], d * 120.0)
    order = np.lexsort((c.start_s, c.satellite))
    np.testing.assert_array_equal(c.start_s[order], c.start_s)
    np.testing.assert_array_equal(c.satellite[order], c.satellite)


def test_candidates_point_along_the_line_of_sight_and_bound_the_off_nadir(
    earth_case, earth_candidates
) -> None:
    problem, orbits, _ = earth_case
    c = earth_candidates
    rng = np.random.default_rng(3)
    for k in rng.choice(len(c), size=60, replace=False):
        r = problem.requests[int(c.request[k])]
        assert isinstance(r, EarthTarget)
        orbit = orbits[int(c.satellite[k])]
        start = problem.horizon.start
        ends = geometry_at(orbit, r, start, np.array([c.start_s[k], c.end_s[k]]))
        np.testing.assert_allclose(ends.line_of_sight[0], c.pointing_start[k], atol=rounding)
        np.testing.assert_allclose(ends.line_of_sight[1], c.pointing_end[k], atol=rounding)
        if np.isnan(c.second_start_s[k]):
            looks = [np.linspace(c.start_s[k], c.end_s[k], 201)]
        else:
            d = c.end_s[k] - c.second_start_s[k]
            looks = [
                np.linspace(c.start_s[k], c.start_s[k] + d, 201),
                np.linspace(c.second_start_s[k], c.end_s[k], 201),
            ]
        dense = np.concatenate([geometry_at(orbit, r, start, t).off_nadir_deg for t in looks])
        assert dense.max() <= c.off_nadir_deg[k] + one_billionth_degree
        assert dense.max() >= c.off_nadir_deg[k] - one_billionth_degree
        assert c.off_nadir_deg[k] <= r.max_off_nadir_deg


def stereo_holds(
    orbit: Satellite,
    request: EarthTarget,
    agility: Agility,
    start: datetime,
    first: float,
    second: float,
) -> bool:
    """Return whether looks starting at first and second may be a stereo pair."""
    d = request.min_duration_s
    times = np.array([first + d, second, first + d / 2, second + d / 2])
    los = geometry_at(orbit, request, start, times).line_of_sight
    slew = float(agility.slew_s(angle_deg(los[0], los[1])))
    apart = angle_deg(los[2], los[3])
    return bool(second >= first + d + slew and apart >= request.stereo_angle_deg)


def test_stereo_pairs_leave_time_to_slew_and_see_far_enough_apart(
    earth_case, earth_candidates
) -> None:
    problem, orbits, found = earth_case
    c = earth_candidates
    stereo = np.flatnonzero(np.isfinite(c.second_start_s))
    assert stereo.size > 10
    for k in stereo:
        r = problem.requests[int(c.request[k])]
        assert isinstance(r, EarthTarget)
        assert r.mode is Mode.STEREO
        orbit = orbits[int(c.satellite[k])]
        agility = problem.satellites[int(c.satellite[k])].agility
        t1, t2, d = c.start_s[k], c.second_start_s[k], r.min_duration_s
        o = int(c.opportunity[k])
        assert found.start_s[o] <= t1
        assert t2 + d <= found.end_s[o] + one_nanosecond
        assert c.end_s[k] <= found.end_s[o]
        np.testing.assert_allclose(c.end_s[k], t2 + d, atol=one_nanosecond)
        np.testing.assert_allclose(c.volume_mbit[k], 2 * d * 120.0)
        steps = t2 - found.start_s[o]  # on the 1-s grid from the window's start
        assert abs(steps - round(steps)) < one_microsecond

        start = problem.horizon.start
        assert stereo_holds(orbit, r, agility, start, t1, t2)
        if t2 - 1.0 >= t1 + d:  # the earliest on the 1-s grid
            assert not stereo_holds(orbit, r, agility, start, t1, t2 - 1.0)


def test_sky_candidates_look_for_their_duration_inside_their_windows(sky_case) -> None:
    problem, orbits, found = sky_case
    c = candidates(problem, orbits, found)
    assert len(c) > len(found)
    for k in range(len(found)):
        r = problem.requests[int(found.request[k])]
        assert isinstance(r, SkyTarget)
        rows = np.flatnonzero(c.opportunity == k)
        a, b = found.start_s[k], found.end_s[k]
        expected = grid(a, b, r.duration_s, problem.options)
        np.testing.assert_allclose(np.sort(c.start_s[rows]), expected, atol=one_nanosecond)
        np.testing.assert_allclose(
            c.end_s[rows] - c.start_s[rows], r.duration_s, atol=one_nanosecond
        )
    assert np.isnan(c.off_nadir_deg).all()
    assert np.isnan(c.second_start_s).all()
    np.testing.assert_allclose(np.linalg.norm(c.pointing_start, axis=1), 1.0)
    np.testing.assert_array_equal(c.pointing_start, c.pointing_end)
    # The target stays observable throughout each look (checked every 10 s).
    for k in np.random.default_rng(8).choice(len(c), size=40, replace=False):
        r = problem.requests[int(c.request[k])]
        t_s = np.linspace(c.start_s[k], c.end_s[k], 1 + int(r.duration_s // 10))
        assert sky_holds(orbits[0], r, problem.horizon.start, t_s).all()


def test_no_candidates_from_no_opportunities() -> None:
    orbits = orbit_of(ISS)
    problem = problem_of(site_requests()[:1], [imager(ISS.norad_cat_id)], ISS_START)
    empty = Opportunities(ISS_START, *(np.zeros(0, dtype=np.int64),) * 2, *(np.zeros(0),) * 4)
    c = candidates(problem, orbits, empty)
    assert len(c) == 0
    assert c.pointing_start.shape == (0, 3)


@pytest.mark.slow
def test_random_targets_and_an_eccentric_orbit_against_sampling_every_second() -> None:
    # Targets scattered around the agency sites with random constraints, the ISS, the
    # Chinese station and a debris on an eccentric orbit (e = 0.097), over a day that
    # starts at an odd time.
    fregat = next(e for e in elements_of("stations.tle") if e.norad_cat_id == 49271)
    orbits = orbit_of(ISS, CSS, fregat)
    start = datetime(2024, 5, 10, 5, 17, 23, 250_000, tzinfo=UTC)
    rng = np.random.default_rng(77)
    requests: list[Request] = []
    for k, site in enumerate(agency_stations(22) * 3):
        requests.append(
            EarthTarget(
                id=f"target-{k}",
                partner="esa",
                lat_deg=float(np.clip(site.lat_deg + rng.uniform(-5, 5), -90, 90)),
                lon_deg=float(site.lon_deg + rng.uniform(-5, 5)),
                alt_m=float(rng.uniform(0.0, 3000.0)),
                gain=1,
                max_off_nadir_deg=float(rng.uniform(10.0, 70.0)),
                min_sun_elevation_deg=None if k % 3 else float(rng.uniform(-10.0, 40.0)),
                mode=Mode.STEREO if k % 4 == 0 else Mode.MONO,
                min_duration_s=float(rng.uniform(2.0, 60.0)),
                stereo_angle_deg=float(rng.uniform(5.0, 30.0)),
            )
        )
    for k in range(15):
        requests.append(
            SkyTarget(
                id=f"sky-{k}",
                partner="jaxa",
                ra_deg=float(rng.uniform(0.0, 360.0)),
                dec_deg=float(np.degrees(np.arcsin(rng.uniform(-1.0, 1.0)))),
                gain=1,
                duration_s=float(rng.uniform(30.0, 1500.0)),
                min_sun_angle_deg=float(rng.uniform(0.0, 150.0)),
                min_earth_limb_angle_deg=float(rng.uniform(-20.0, 40.0)),
                eclipse_only=k % 3 == 0,
            )
        )
    problem = problem_of(requests, [imager(e.norad_cat_id) for e in (ISS, CSS, fregat)], start)
    found = find_opportunities(problem, orbits)
    assert assert_matches_brute_force(problem, orbits, found) > 200
    assert (found.satellite == 2).sum() > 20

    c = candidates(problem, orbits, found)
    o = c.opportunity
    assert (c.start_s >= found.start_s[o]).all()
    assert (c.end_s <= found.end_s[o]).all()
    for k in np.flatnonzero(np.isfinite(c.second_start_s))[::7]:
        r = problem.requests[int(c.request[k])]
        assert isinstance(r, EarthTarget)
        orbit, agility = (
            orbits[int(c.satellite[k])],
            problem.satellites[int(c.satellite[k])].agility,
        )
        assert stereo_holds(orbit, r, agility, start, c.start_s[k], c.second_start_s[k])
