"""The library schedules and plans through ``jointsat.api``, as the packages do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.scheduling.instances import random_problem

import jointsat
from jointsat import api
from jointsat.planning.candidates import candidates
from jointsat.planning.opportunities import find_opportunities
from jointsat.planning.planner import plan as plan_candidates
from jointsat.planning.problem import Agility, Imager
from jointsat.planning.requests import EarthTarget
from jointsat.scheduling.problem import Partner, Window
from jointsat.scheduling.solver import solve

ISS = """ISS (ZARYA)
1 25544U 98067A   24130.36689744  .00016024  00000+0  27777-3 0  9992
2 25544  51.6381 147.8590 0003466 150.4670 338.5502 15.51043222452521
"""
START = datetime(2024, 5, 10, tzinfo=UTC)


def _without_times(document: dict) -> dict:
    levels = [{k: v for k, v in lv.items() if k != "wall_s"} for lv in document["levels"]]
    return {**document, "levels": levels, "wall_s": None}


def test_schedule_shares_the_network_as_the_solver_does() -> None:
    problem = random_problem(3)
    settings = api.SolverSettings(time_limit_s=5, workers=1)
    found = api.schedule(problem, settings=settings)
    assert found.policy is api.Policy.FAIR
    assert _without_times(found.to_dict()) == _without_times(
        solve(problem, api.Policy.FAIR, settings).to_dict()
    )
    assert jointsat.schedule is api.schedule


def test_replan_is_the_solvers() -> None:
    problem = random_problem(4)
    settings = api.SolverSettings(time_limit_s=5, workers=1)
    first = api.schedule(problem, api.Policy.MAX_TOTAL, settings)
    again = api.replan(
        problem,
        [c.pass_id for c in first.contacts],
        now=problem.horizon.start,
        policy=api.Policy.MAX_TOTAL,
        settings=settings,
    )
    assert again.total_seconds == first.total_seconds


def test_plan_goes_from_orbits_to_a_plan() -> None:
    orbits = api.group_satellites(api.parse_elements(ISS).elements)
    problem = api.PlanningProblem(
        Window(START, START + timedelta(hours=12)),
        (Partner("esa", 0.6), Partner("cnes", 0.4)),
        (
            Imager(
                id="25544",
                memory_mbit=8_000.0,
                imaging_rate_mbps=200.0,
                downlink_rate_mbps=50.0,
                agility=Agility(max_rate_deg_s=1.5, max_accel_deg_s2=0.3, settle_s=5.0),
            ),
        ),
        tuple(
            EarthTarget(
                id=f"t{k}",
                partner=("esa", "cnes")[k % 2],
                lat_deg=-40.0 + 8.0 * k,
                lon_deg=-120.0 + 25.0 * k,
                gain=1 + k % 3,
                max_off_nadir_deg=40.0,
            )
            for k in range(10)
        ),
    )
    settings = api.PlannerSettings(time_limit_s=5.0, workers=1)
    found = api.plan(problem, orbits, settings=settings)
    assert found.objective is api.Objective.FAIR
    assert found.observations
    offered = candidates(problem, orbits, find_opportunities(problem, orbits))
    direct = plan_candidates(problem, offered, api.Objective.FAIR, settings)
    assert _without_times(found.to_dict()) == _without_times(direct.to_dict())
