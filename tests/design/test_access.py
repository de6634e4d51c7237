"""Test the access engine against brute-force sampling (the independent reference).

The reference (:mod:`jointsat.design.reference`) propagates SGP4 at every sample, takes
the elevation from ``topocentric`` and the off-nadir angle from the vectors, and knows
nothing of the engine's caps, closest approaches, Hermite states or Newton steps. At a
step of ``s`` seconds its boundaries are off by at most ``s / 2``; the engine's by at most
its refinement tolerance.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from jointsat.constants import WGS72_MU_KM3_S2
from jointsat.design.access import AccessRule, GroundPoints, find_accesses
from jointsat.design.constellations import walker
from jointsat.design.reference import sampled_accesses
from jointsat.errors import DesignError
from jointsat.orbits.frames import gmst82_rad
from jointsat.orbits.propagation import build_orbits
from jointsat.timelib import split_julian

START = datetime(2026, 12, 1, tzinfo=UTC)
REFERENCE_STEP_S = 0.1
# The reference's half step, and the engine's refinement (well under 0.1 s, the brief).
boundary_tolerance_s = REFERENCE_STEP_S / 2 + 0.02


def points(count: int, seed: int) -> GroundPoints:
    """Return points spread evenly in area over the globe (seeded)."""
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))
    return GroundPoints.of(lat, rng.uniform(-180.0, 180.0, count))


def by_point(found: object) -> list[tuple[int, float, float]]:
    return sorted(
        zip(found.point.tolist(), found.start_s.tolist(), found.end_s.tolist(), strict=True)  # type: ignore[attr-defined]
    )


def assert_same_accesses(engine: list[object], reference: list[object]) -> int:
    """Check each satellite's accesses match one for one; return how many were compared."""
    compared = 0
    for mine, theirs in zip(engine, reference, strict=True):
        a, b = by_point(mine), by_point(theirs)
        assert len(a) == len(b), (len(a), len(b))
        for (pa, sa, ea), (pb, sb, eb) in zip(a, b, strict=True):
            assert pa == pb
            assert abs(sa - sb) <= boundary_tolerance_s, (pa, sa, sb)
            assert abs(ea - eb) <= boundary_tolerance_s, (pa, ea, eb)
        compared += len(a)
    return compared


@pytest.mark.parametrize(
    ("rule", "inclination_deg"),
    [
        (AccessRule(min_elevation_deg=10.0), 53.0),
        (AccessRule(min_elevation_deg=0.0), 97.6),
        (AccessRule(min_elevation_deg=None, half_angle_deg=35.0), 97.6),
        (AccessRule(min_elevation_deg=None, half_angle_deg=75.0), 53.0),  # past the limb
        (AccessRule(min_elevation_deg=5.0, half_angle_deg=30.0), 70.0),  # the cone binds
    ],
    ids=["elevation-10", "horizon", "half-angle-35", "half-angle-past-limb", "both"],
)
def test_accesses_match_fine_sampling(rule: AccessRule, inclination_deg: float) -> None:
    constellation = walker(4, 2, 1, 550.0, inclination_deg, epoch=START)
    orbits = build_orbits(constellation.elements)
    where = points(100, seed=7)
    end = START + timedelta(hours=2)
    engine = find_accesses(orbits, where, START, end, rule)
    reference = sampled_accesses(orbits, where, START, end, rule, REFERENCE_STEP_S)
    assert assert_same_accesses(engine, reference) > 15


def test_an_access_under_way_at_either_end_is_cut_there() -> None:
    constellation = walker(2, 1, 0, 700.0, 60.0, epoch=START)
    orbits = build_orbits(constellation.elements)
    where = points(200, seed=3)
    end = START + timedelta(minutes=50)
    rule = AccessRule(min_elevation_deg=5.0)
    engine = find_accesses(orbits, where, START, end, rule)
    reference = sampled_accesses(orbits, where, START, end, rule, REFERENCE_STEP_S)
    assert_same_accesses(engine, reference)
    starts = np.concatenate([a.start_s for a in engine])
    ends = np.concatenate([a.end_s for a in engine])
    assert (starts == 0.0).any()  # the satellites start above some points
    assert (ends == (end - START).total_seconds()).any()


def test_a_geostationary_satellite_covers_its_hemisphere_all_the_time() -> None:
    # Kepler's law for a sidereal day: the geostationary radius.
    sidereal_s = 86164.0905
    n_rev_day = 86400.0 / sidereal_s
    a_km = (WGS72_MU_KM3_S2 * (sidereal_s / (2 * np.pi)) ** 2) ** (1 / 3)
    assert 42160.0 < a_km < 42170.0
    base = walker(1, 1, 0, 35786.0, 0.0, epoch=START).elements[0]
    geo = dataclasses.replace(base, mean_motion_rev_per_day=n_rev_day)
    jd, fr = split_julian(START)
    _, r, _ = build_orbits([geo])[0].propagate(np.array([jd]), np.array([fr]))
    sub_lon = float(np.degrees(np.arctan2(r[0, 1], r[0, 0]) - gmst82_rad(jd, fr)))
    where = GroundPoints.of(
        np.array([0.0, 30.0, -50.0, 0.0]), sub_lon + np.array([-10.0, 20.0, 40.0, 120.0])
    )
    end = START + timedelta(days=2)
    rule = AccessRule(min_elevation_deg=10.0)
    (engine,) = find_accesses(build_orbits([geo]), where, START, end, rule)
    (reference,) = sampled_accesses(build_orbits([geo]), where, START, end, rule, 10.0)
    assert by_point(engine) == by_point(reference)
    assert sorted(engine.point.tolist()) == [0, 1, 2]  # 120 E is out of sight
    assert np.all(engine.start_s == 0.0)
    assert np.all(engine.end_s == (end - START).total_seconds())


def test_rules_refuse_what_cannot_be_measured() -> None:
    with pytest.raises(DesignError, match="minimum elevation or a sensor half-angle"):
        AccessRule(min_elevation_deg=None, half_angle_deg=None)
    with pytest.raises(DesignError, match="half-angle must be in"):
        AccessRule(half_angle_deg=95.0)
    with pytest.raises(DesignError, match="minimum elevation must be in"):
        AccessRule(min_elevation_deg=90.0)
    with pytest.raises(DesignError, match="end must be after"):
        find_accesses([], points(3, seed=1), START, START, AccessRule())
    assert (
        find_accesses([], points(3, seed=1), START, START + timedelta(hours=1), AccessRule()) == []
    )
