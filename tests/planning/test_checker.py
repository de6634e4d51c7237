"""Plan a real day end to end and check the plan; the checker refuses broken plans.

Real element sets (the ISS and China's station, CelesTrak via Skyfield's documents)
and targets scattered around real agency sites. The checker evaluates the geometry
afresh with SGP4, not from the opportunities, so it is a check of the whole chain.
"""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from tests.support.data import orbit_file, shared

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.propagation import group_satellites
from jointsat.planning.candidates import candidates
from jointsat.planning.checker import check_plan
from jointsat.planning.opportunities import find_opportunities
from jointsat.planning.plan import Objective, Plan
from jointsat.planning.planner import PlannerSettings, greedy, plan
from jointsat.planning.problem import Agility, Downlink, Imager, PlanningProblem
from jointsat.planning.requests import EarthTarget, Mode, SkyTarget
from jointsat.scheduling.problem import Partner, Window

START = datetime(2024, 5, 10, tzinfo=UTC)
ISS, CSS = 25544, 48274
quick = PlannerSettings(time_limit_s=20.0)


@pytest.fixture(scope="module")
def day() -> tuple[PlanningProblem, list, object]:
    elements = parse_elements(orbit_file("stations.tle").read_text()).elements
    orbits = [s for s in group_satellites(elements) if s.norad_id in (ISS, CSS)]
    sites = list(
        csv.DictReader(shared("stations/ndosl_selected_agency_sites.csv").open(newline=""))
    )
    rng = np.random.default_rng(7)
    partners = (Partner("esa", 0.5), Partner("cnes", 0.3), Partner("dlr", 0.2))
    requests: list[EarthTarget | SkyTarget] = [
        EarthTarget(
            id=f"e{k}",
            partner=partners[k % 3].id,
            lat_deg=float(sites[k % len(sites)]["latitude_deg"]) + float(rng.uniform(-4, 4)),
            lon_deg=float(sites[k % len(sites)]["longitude_deg"]) + float(rng.uniform(-4, 4)),
            gain=int(rng.integers(1, 10)),
            max_off_nadir_deg=35.0,
            min_sun_elevation_deg=5.0 if k % 2 else None,
            mode=Mode.STEREO if k % 5 == 0 else Mode.MONO,
        )
        for k in range(60)
    ]
    requests += [
        SkyTarget(
            id=f"s{k}",
            partner=partners[k % 3].id,
            ra_deg=float(rng.uniform(0, 360)),
            dec_deg=float(rng.uniform(-50, 50)),
            gain=int(rng.integers(1, 10)),
            duration_s=20.0,
            eclipse_only=k % 2 == 0,
        )
        for k in range(6)
    ]
    satellites = tuple(
        Imager(
            id=str(o.norad_id),
            memory_mbit=8_000.0,
            imaging_rate_mbps=200.0,
            downlink_rate_mbps=50.0,
            agility=Agility(max_rate_deg_s=1.5, max_accel_deg_s2=0.3, settle_s=5.0),
        )
        for o in orbits
    )
    downlinks = tuple(
        Downlink(s.id, START + timedelta(seconds=t), START + timedelta(seconds=t + 480))
        for s in satellites
        for t in np.arange(2_000.0, 86_000.0, 9_000.0)
    )
    problem = PlanningProblem(
        Window(START, START + timedelta(days=1)), partners, satellites, tuple(requests), downlinks
    )
    found = candidates(problem, orbits, find_opportunities(problem, orbits))
    return problem, orbits, found


@pytest.mark.parametrize("objective", list(Objective))
def test_a_real_day_plans_within_every_rule(day, objective: Objective) -> None:
    problem, orbits, found = day
    result = plan(problem, found, objective, quick)
    assert check_plan(problem, orbits, result) == []
    assert result.observations
    kinds = {r.id[0] for r in problem.requests if r.id in {o.request for o in result.observations}}
    assert kinds == {"e", "s"}  # Earth and sky targets both served
    assert any(o.second_start is not None for o in result.observations)  # a stereo pair
    assert max(m.peak_mbit for m in result.memory.values()) > 4_000  # the memory matters
    baseline = greedy(problem, found, objective)
    assert check_plan(problem, orbits, baseline) == []
    assert [lv.value for lv in result.levels] >= [lv.value for lv in baseline.levels]
    assert result.total_gain <= result.levels[-1].bound + 1e-9


def _broken(result: Plan, **change) -> Plan:
    first = dataclasses.replace(result.observations[0], **change)
    return dataclasses.replace(result, observations=(first, *result.observations[1:]))


def test_the_checker_refuses_broken_plans(day) -> None:
    problem, orbits, found = day
    result = plan(problem, found, Objective.MAX_GAIN, quick)
    first = result.observations[0]
    hour = timedelta(hours=1)
    cases = {
        "outside": _broken(result, start=first.start + hour, end=first.end + hour),
        "short": _broken(result, end=first.start + timedelta(seconds=1)),
        "twice": dataclasses.replace(result, observations=(first, *result.observations)),
        "unknown": _broken(result, request="nobody"),
        "gain": _broken(result, gain=first.gain + 1),
    }
    for name, broken in cases.items():
        assert check_plan(problem, orbits, broken), name
    # Two observations of one satellite with no time to slew between them.
    same = [o for o in result.observations if o.satellite == first.satellite]
    a, b = same[0], same[1]
    squeezed = dataclasses.replace(b, start=a.end, end=a.end + (b.end - b.start))
    rest = tuple(o for o in result.observations if o is not b)
    problems = check_plan(
        problem, orbits, dataclasses.replace(result, observations=(*rest, squeezed))
    )
    assert any("slew" in p or "off-nadir" in p or "window" in p for p in problems)
    # A memory too small for the plan.
    tight = dataclasses.replace(
        problem,
        satellites=tuple(dataclasses.replace(s, memory_mbit=2_100.0) for s in problem.satellites),
    )
    assert any("memory reaches" in p for p in check_plan(tight, orbits, result))
