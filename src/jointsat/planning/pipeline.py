"""The planning pipeline: opportunities, then candidates, then the plan.

One path for every caller (the CLI, the store, the benchmark): the contacts of the
network's schedule become the problem's downlinks (:func:`with_downlinks`), then
:func:`plan_problem` finds the opportunities, makes the candidates and plans.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jointsat.orbits.propagation import Orbit
from jointsat.planning.candidates import Candidates, candidates
from jointsat.planning.opportunities import Opportunities, find_opportunities
from jointsat.planning.plan import Objective, Plan
from jointsat.planning.planner import PlannerSettings, plan
from jointsat.planning.problem import Downlink, PlanningProblem


@dataclass(frozen=True)
class Planned:
    """A plan and what it was chosen from (``opportunities.problems``: SGP4 failures)."""

    plan: Plan
    opportunities: Opportunities
    candidates: Candidates


def with_downlinks(
    problem: PlanningProblem, contacts: Iterable[Downlink]
) -> tuple[PlanningProblem, tuple[Downlink, ...]]:
    """Return the problem with the contacts of its satellites added as downlinks.

    Contacts of other satellites, or outside the horizon, are left out; the others
    are clipped to the horizon. Also return the downlinks added. A
    :class:`PlanningInputError` says when the problem refuses them.
    """
    ours = {s.id for s in problem.satellites}
    horizon = problem.horizon
    added = tuple(
        dataclasses.replace(d, start=max(d.start, horizon.start), end=min(d.end, horizon.end))
        for d in contacts
        if d.satellite in ours and d.end > horizon.start and d.start < horizon.end
    )
    if not added:
        return problem, added
    return dataclasses.replace(problem, downlinks=problem.downlinks + added), added


def prepare(problem: PlanningProblem, orbits: Sequence[Orbit]) -> tuple[Opportunities, Candidates]:
    """Return the opportunities and the planner's candidates within them."""
    opportunities = find_opportunities(problem, orbits)
    return opportunities, candidates(problem, orbits, opportunities)


def plan_problem(
    problem: PlanningProblem,
    orbits: Sequence[Orbit],
    objective: Objective = Objective.FAIR,
    settings: PlannerSettings | None = None,
) -> Planned:
    """Plan the problem over the orbits: opportunities, candidates, then the planner.

    ``orbits`` are matched to the problem's satellites by catalog number; a
    satellite without one is refused (:class:`PlanningInputError`).
    """
    opportunities, made = prepare(problem, orbits)
    return Planned(
        plan(problem, made, objective, settings or PlannerSettings()), opportunities, made
    )
