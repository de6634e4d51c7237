"""Test the pointing plan on 100 real passes above 80 degrees, and its rotator model.

The passes are the bundled space-station element sets over NASA's agency stations,
found by the pass engine and sampled every second through ``tracks.look_angles``.
What is checked against something independent: the commanded axes never move faster
than the rotator can (so they never unwind: no 360-degree wrap within a pass) and
stay within its stops; the reported lag equals the angle between the commanded and
the target's directions recomputed here by the haversine formula (the flip undone by
hand); where the target's own rates are within the rotator's the antenna stays
within half a beamwidth.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from tests.support.data import agency_stations, orbit_file

from jointsat.errors import InputError, PointingError
from jointsat.orbits.elements import parse_elements
from jointsat.orbits.passes import find_passes
from jointsat.orbits.pointing import PointingMode, PointingPlan, Rotator, plan_pass
from jointsat.orbits.propagation import Satellite
from jointsat.orbits.tracks import look_angles

START = datetime(2024, 5, 10, tzinfo=UTC)  # a day after the epochs of stations.tle
JD_START = 2460440.5  # START as a Julian date
PASSES = 100
# Rounding of the rate-limited steps, and of the angle between near-equal directions.
one_billionth_degree = 1e-9
one_millionth_degree = 1e-6

ELEVATION_ONLY = Rotator(0.0, 450.0, 0.0, 90.0)  # the classic 0..450 az, 0..90 el
WIDE = Rotator(-180.0, 540.0, 0.0, 90.0)
FLIP = Rotator(0.0, 360.0, 0.0, 180.0)
YAESU = Rotator(0.0, 450.0, 0.0, 180.0)  # 0..450 az, 0..180 el, as the G-5500
MOUNTS = {"0..450/0..90": ELEVATION_ONLY, "-180..540": WIDE, "flip": FLIP, "0..450/0..180": YAESU}

Track = tuple[np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def high_passes() -> list[Track]:
    """Return 100 passes above 80 degrees, one per station and ten minutes (no twins)."""
    elements = parse_elements(orbit_file("stations.tle").read_text()).elements
    by_id = {e.norad_cat_id: e for e in elements}
    passes = find_passes(elements, agency_stations(22), START, START + timedelta(days=3))
    seen: set[tuple[int, int]] = set()
    tracks: list[Track] = []
    for i in np.flatnonzero(passes.max_elevation_deg > 80.0):
        key = (int(passes.station[i]), int(passes.tca_s[i] // 600))
        if key in seen:
            continue  # a co-orbiting object (a cargo ship docked at the ISS) over the same station
        seen.add(key)
        e = by_id[passes.satellites[passes.satellite[i]].norad_id]
        site = passes.stations[passes.station[i]]
        t = np.append(np.arange(passes.aos_s[i], passes.los_s[i], 1.0), passes.los_s[i])
        jd, fr = np.full(t.size, JD_START), t / 86400.0
        err, r, _ = Satellite(e.norad_cat_id, e.object_name, (e,)).propagate(jd, fr)
        assert not err.any()
        az, el, _ = look_angles(r, jd, fr, site.lat_deg, site.lon_deg, site.alt_m)
        tracks.append((t - t[0], az, el))
        if len(tracks) == PASSES:
            break
    assert len(tracks) == PASSES
    return tracks


@pytest.fixture(scope="module")
def plans(high_passes: list[Track]) -> dict[str, list[PointingPlan]]:
    return {
        name: [plan_pass(t, az, el, rotator) for t, az, el in high_passes]
        for name, rotator in MOUNTS.items()
    }


def haversine_deg(az1: np.ndarray, el1: np.ndarray, az2: np.ndarray, el2: np.ndarray) -> np.ndarray:
    """Return the angle between two directions, elevations past 90 first flipped back."""
    over = el1 > 90.0
    az1, el1 = np.where(over, az1 + 180.0, az1), np.where(over, 180.0 - el1, el1)
    p1, p2, dl = np.radians(el1), np.radians(el2), np.radians(az2 - az1)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.degrees(2.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def rates_allow(t: np.ndarray, az: np.ndarray, el: np.ndarray, rotator: Rotator) -> bool:
    """Say whether the target's own azimuth and elevation rates are within the rotator's."""
    az_rate = np.abs(np.diff(np.unwrap(az, period=360.0))) / np.diff(t)
    el_rate = np.abs(np.diff(el)) / np.diff(t)
    return bool(
        az_rate.max() <= rotator.azimuth_rate_deg_s
        and el_rate.max() <= rotator.elevation_rate_deg_s
    )


@pytest.mark.parametrize("mount", MOUNTS)
def test_no_pass_unwinds(plans: dict[str, list[PointingPlan]], mount: str) -> None:
    rotator = MOUNTS[mount]
    for plan in plans[mount]:
        dt = np.diff(plan.time_s)
        assert rotator.azimuth_min_deg <= plan.azimuth_deg.min()
        assert plan.azimuth_deg.max() <= rotator.azimuth_max_deg
        assert rotator.elevation_min_deg <= plan.elevation_deg.min()
        assert plan.elevation_deg.max() <= rotator.elevation_max_deg
        step_az = np.abs(np.diff(plan.azimuth_deg))
        step_el = np.abs(np.diff(plan.elevation_deg))
        assert (step_az <= rotator.azimuth_rate_deg_s * dt + one_billionth_degree).all()
        assert (step_el <= rotator.elevation_rate_deg_s * dt + one_billionth_degree).all()
        assert plan.flipped == (plan.elevation_deg.max() > 90.0)


@pytest.mark.parametrize("mount", MOUNTS)
def test_lag_is_the_angle_to_the_target(plans: dict[str, list[PointingPlan]], mount: str) -> None:
    half_beam = MOUNTS[mount].beamwidth_deg / 2.0
    for plan in plans[mount]:
        lag = haversine_deg(
            plan.azimuth_deg, plan.elevation_deg, plan.target_azimuth_deg, plan.target_elevation_deg
        )
        np.testing.assert_allclose(plan.lag_deg, lag, rtol=0.0, atol=one_millionth_degree)
        assert plan.max_lag_deg == plan.lag_deg.max()
        assert (plan.lag_over_half_beam_s > 0.0) == (plan.max_lag_deg > half_beam)
        assert plan.lag_over_half_beam_s <= plan.time_s[-1]


@pytest.mark.parametrize("mount", ["-180..540", "flip", "0..450/0..180"])
def test_on_target_where_the_rates_allow(
    high_passes: list[Track], plans: dict[str, list[PointingPlan]], mount: str
) -> None:
    rotator = MOUNTS[mount]
    allowed = [
        plan
        for (t, az, el), plan in zip(high_passes, plans[mount], strict=True)
        if rates_allow(t, az, el, rotator)
    ]
    assert len(allowed) >= 10  # the passes below about 80.5 degrees
    assert max(plan.max_lag_deg for plan in allowed) < rotator.beamwidth_deg / 2.0


def zenith_pass(high_passes: list[Track]) -> Track:
    """Return the highest pass in low Earth orbit (under 15 minutes long)."""
    return max((p for p in high_passes if p[0][-1] < 900.0), key=lambda track: track[2].max())


def test_a_flip_mount_tracks_a_zenith_pass_over_the_top(high_passes: list[Track]) -> None:
    t, az, el = zenith_pass(high_passes)
    assert el.max() > 89.5
    plain = plan_pass(t, az, el, WIDE)
    over = plan_pass(t, az, el, FLIP)
    assert over.mode is PointingMode.OVER_THE_TOP
    assert over.max_lag_deg < FLIP.beamwidth_deg / 2.0 < plain.max_lag_deg
    # The plain plan swings its azimuth by about 180 degrees around TCA; over the top
    # it needs only the turn of the pass's plane (tens of degrees at most).
    travel_plain = np.abs(np.diff(plain.azimuth_deg)).sum()
    travel_over = np.abs(np.diff(over.azimuth_deg)).sum()
    assert travel_over < travel_plain - 90.0


def test_an_azimuth_only_mount_reports_its_lag_on_a_zenith_pass(high_passes: list[Track]) -> None:
    t, az, el = zenith_pass(high_passes)
    slow = Rotator(0.0, 450.0, 0.0, 90.0, azimuth_rate_deg_s=2.0)
    plan = plan_pass(t, az, el, slow)
    assert plan.mode is PointingMode.PLAIN
    assert plan.max_lag_deg > slow.beamwidth_deg / 2.0
    assert plan.lag_over_half_beam_s > 0.0
    # Away from the zenith, well before TCA, the slow axis is still on the target.
    assert plan.lag_deg[0] < one_millionth_degree


def test_the_wrap_is_chosen_before_aos() -> None:
    # A pass from azimuth 300 through north to 100: on 0..450 it must start at 300
    # and run to 460 -- beyond the stop -- or at -60: it cannot without a flip; the
    # -180..540 mount takes it as -60..100 or 300..460, the one nearer its park.
    t = np.arange(0.0, 161.0)
    az = np.mod(300.0 + t, 360.0)
    el = 40.0 * np.sin(np.pi * t / 160.0)
    wide = plan_pass(t, az, el, WIDE, park_az_deg=0.0)
    assert wide.azimuth_deg[0] == pytest.approx(-60.0)
    assert wide.max_lag_deg < one_millionth_degree
    # From the park at 0 / 90: 60 degrees of azimuth and 90 of elevation, both at 6 deg/s.
    assert wide.preposition_s == pytest.approx(90.0 / WIDE.elevation_rate_deg_s)
    far = plan_pass(t, az, el, WIDE, park_az_deg=400.0)
    assert far.azimuth_deg[0] == pytest.approx(300.0)
    flip = plan_pass(t, az, el, YAESU)
    assert flip.mode is PointingMode.FLIPPED
    assert flip.max_lag_deg < one_millionth_degree
    stuck = plan_pass(t, az, el, ELEVATION_ONLY)  # rests on a stop for 10 s, and says so
    assert stuck.max_lag_deg > ELEVATION_ONLY.beamwidth_deg / 2.0
    assert 5.0 < stuck.lag_over_half_beam_s < 15.0


@pytest.mark.parametrize(
    "fields",
    [
        {"azimuth_min_deg": 0.0, "azimuth_max_deg": 350.0},
        {"elevation_min_deg": 10.0, "elevation_max_deg": 5.0},
        {"elevation_max_deg": 181.0},
        {"elevation_min_deg": -91.0},
        {"azimuth_rate_deg_s": 0.0},
        {"elevation_rate_deg_s": -1.0},
        {"beamwidth_deg": 0.0},
        {"beamwidth_deg": float("nan")},
        {"azimuth_max_deg": float("inf")},
        {"azimuth_rate_deg_s": "6"},
    ],
)
def test_a_bad_rotator_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(PointingError) as caught:
        Rotator(**fields)  # type: ignore[arg-type]
    assert isinstance(caught.value, InputError)


@pytest.mark.parametrize(
    ("times", "az", "el", "park"),
    [
        ([0.0, 1.0], [10.0, 11.0, 12.0], [5.0, 6.0], (0.0, 90.0)),
        ([0.0, 0.0], [10.0, 11.0], [5.0, 6.0], (0.0, 90.0)),
        ([0.0, 1.0], [10.0, 11.0], [5.0, 91.0], (0.0, 90.0)),
        ([0.0, 1.0], [10.0, float("nan")], [5.0, 6.0], (0.0, 90.0)),
        ([], [], [], (0.0, 90.0)),
        ([0.0, 1.0], [10.0, 11.0], [5.0, 6.0], (500.0, 90.0)),
        ([0.0, 1.0], [10.0, 11.0], [5.0, 6.0], (0.0, 120.0)),
    ],
)
def test_a_bad_track_is_refused(
    times: list[float], az: list[float], el: list[float], park: tuple[float, float]
) -> None:
    with pytest.raises(PointingError):
        plan_pass(times, az, el, Rotator(), park_az_deg=park[0], park_el_deg=park[1])
