"""Re-export jointsat's public library API: ``from jointsat.api import find_passes``.

Predict passes (``find_passes``), share the pooled network among partners
(``schedule``, ``replan``) and plan their observations (``plan``), each fair by the
partners' shares (``jointsat.fairness``).
"""

from __future__ import annotations

from collections.abc import Sequence

from jointsat.errors import (
    ElementsError,
    InputError,
    JointsatError,
    StationsError,
    TimeWindowError,
    UnknownFormatError,
)
from jointsat.orbits.elements import Elements, ElementsFormat, ParsedElements, parse_elements
from jointsat.orbits.frames import (
    ecef_to_geodetic,
    geodetic_to_ecef,
    gmst82_rad,
    teme_to_ecef,
    topocentric,
)
from jointsat.orbits.passes import Pass, Passes, PropagationProblem, SatelliteId, find_passes
from jointsat.orbits.propagation import Satellite, group_satellites, propagate
from jointsat.orbits.stations import HorizonMask, Station, parse_stations
from jointsat.orbits.sun import is_sunlit, sun_elevation_deg, sun_position_km
from jointsat.planning.pipeline import plan_problem
from jointsat.planning.plan import Objective, Plan
from jointsat.planning.planner import PlannerSettings
from jointsat.planning.problem import PlanningProblem
from jointsat.scheduling import solver
from jointsat.scheduling.problem import Problem
from jointsat.scheduling.result import Policy, Schedule
from jointsat.scheduling.solver import SolverSettings, replan


def schedule(
    problem: Problem, policy: Policy = Policy.FAIR, settings: SolverSettings | None = None
) -> Schedule:
    """Share the pooled network's passes among the partners by policy, with proofs.

    ``fair`` (the default) is the weighted leximin of each partner's contact time per
    unit of share, then the total; the schedule says how close to optimal each level
    is (``Schedule.levels``, ``gap``). ``replan`` re-plans one after an outage.
    """
    return solver.solve(problem, policy, settings)


def plan(
    problem: PlanningProblem,
    orbits: Sequence[Satellite],
    objective: Objective = Objective.FAIR,
    settings: PlannerSettings | None = None,
) -> Plan:
    """Plan the partners' observations over the satellites' orbits, with proofs.

    ``orbits`` are matched to ``problem.satellites`` by catalog number. ``fair`` (the
    default) is the weighted leximin of each partner's gain per unit of share, then
    the total gain.
    """
    return plan_problem(problem, orbits, objective, settings).plan


__all__ = [
    "Elements",
    "ElementsError",
    "ElementsFormat",
    "HorizonMask",
    "InputError",
    "JointsatError",
    "Objective",
    "ParsedElements",
    "Pass",
    "Passes",
    "Plan",
    "PlannerSettings",
    "PlanningProblem",
    "Policy",
    "Problem",
    "PropagationProblem",
    "Satellite",
    "SatelliteId",
    "Schedule",
    "SolverSettings",
    "Station",
    "StationsError",
    "TimeWindowError",
    "UnknownFormatError",
    "ecef_to_geodetic",
    "find_passes",
    "geodetic_to_ecef",
    "gmst82_rad",
    "group_satellites",
    "is_sunlit",
    "parse_elements",
    "parse_stations",
    "plan",
    "propagate",
    "replan",
    "schedule",
    "sun_elevation_deg",
    "sun_position_km",
    "teme_to_ecef",
    "topocentric",
]
