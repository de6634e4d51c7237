"""Plan the pooled satellites' observations from the store, and keep the plans.

The planning problem is built from what the store holds: partners with their
agreements' shares and priority classes (as for the network schedule), satellites
that have a payload and element sets, every request whose window meets the planning
window, and as downlinks the contacts of a network schedule: the one named, else the
newest schedule that overlaps the window, else none (the provenance says which).
Ids in the problem: partner codes, satellite catalog numbers, request row ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from jointsat.constants import DAY_S
from jointsat.errors import PlanningInputError, StoreError
from jointsat.orbits.freshness import DEFAULT_RULE, StaleRule, window_freshness
from jointsat.orbits.propagation import Orbit
from jointsat.planning.pipeline import plan_problem, with_downlinks
from jointsat.planning.plan import Objective, Plan
from jointsat.planning.planner import PlannerSettings
from jointsat.planning.problem import Downlink, PlanningProblem
from jointsat.planning.requests import Request, request_to_dict
from jointsat.provenance import elements_freshness, plan_provenance
from jointsat.scheduling.problem import Window
from jointsat.store.convert import orbit_of
from jointsat.store.requests import OWN_FIELDS, imager_of, request_of
from jointsat.store.schedules import Stage, consortium, no_stage, shares_of
from jointsat.store.tables import (
    ElementSetRecord,
    ObservationRecord,
    ObservationRequest,
    PlanRecord,
    Satellite,
    ScheduleRecord,
)

MAX_PLAN_DAYS = 7


def relevant_sets(
    sets: Sequence[ElementSetRecord], start: datetime, end: datetime
) -> list[ElementSetRecord]:
    """Return the element sets that are the nearest in epoch to some moment of the window.

    Those are the sets with epochs inside it and the nearest one on each side: the
    propagator picks the set nearest in epoch, so the others never serve the window.
    """
    ordered = sorted(sets, key=lambda e: e.epoch)
    before = [e for e in ordered if e.epoch < start][-1:]
    after = [e for e in ordered if e.epoch > end][:1]
    return before + [e for e in ordered if start <= e.epoch <= end] + after


class StorePlanningProblem:
    """A planning problem built from the store, its orbits, and how to map it back to rows."""

    def __init__(
        self,
        session: Session,
        start: datetime,
        end: datetime,
        *,
        schedule_id: int | None = None,
        stale_rule: StaleRule = DEFAULT_RULE,
    ) -> None:
        if end <= start:
            raise PlanningInputError("the plan's end must be after its start", location="end")
        if (end - start).total_seconds() > MAX_PLAN_DAYS * DAY_S:
            raise PlanningInputError(
                f"a plan may span at most {MAX_PLAN_DAYS} days", location="end"
            )
        partners = consortium(session, "the store has no partners to plan for")
        satellites = [
            s
            for s in session.scalars(
                select(Satellite)
                .where(Satellite.memory_mbit.is_not(None))
                .options(selectinload(Satellite.element_sets), selectinload(Satellite.ephemerides))
                .order_by(Satellite.id)
            )
            if relevant_sets(s.element_sets, start, end) or s.ephemerides
        ]
        if not satellites:
            raise StoreError("no satellite in the store has both a payload and element sets")
        self.start, self.end = start, end
        self.satellites = {str(s.norad_id): s for s in satellites}
        self.partners = {p.code: p for p in partners}
        self.element_sets = {
            s.norad_id: relevant_sets(s.element_sets, start, end) for s in satellites
        }
        self.orbits: tuple[Orbit, ...] = tuple(
            o for s in satellites if (o := orbit_of(s, self.element_sets[s.norad_id])) is not None
        )
        self.freshness = elements_freshness(
            [window_freshness(o, start, end, stale_rule) for o in self.orbits], stale_rule
        )
        self.records: dict[str, ObservationRequest] = {}
        self.left_out: list[dict[str, Any]] = []
        requests = [self._request(r) for r in self._requests(session)]
        self.schedule = self._schedule(session, schedule_id)
        problem = PlanningProblem(
            horizon=Window(start, end),
            partners=shares_of(partners),
            satellites=tuple(i for s in satellites if (i := imager_of(s)) is not None),
            requests=tuple(r for r in requests if r is not None),
        )
        self.problem, _ = with_downlinks(problem, self._contacts())

    def _requests(self, session: Session) -> list[ObservationRequest]:
        return list(
            session.scalars(
                select(ObservationRequest)
                .where(
                    or_(
                        ObservationRequest.window_start.is_(None),
                        (ObservationRequest.window_start < self.end)
                        & (ObservationRequest.window_end > self.start),
                    )
                )
                .options(selectinload(ObservationRequest.partner))
                .order_by(ObservationRequest.id)
            )
        )

    def _request(self, record: ObservationRequest) -> Request | None:
        """Return the stored request, its restrictions kept to satellites that can plan."""
        request = request_of(record)
        if request.satellites:
            usable = tuple(s for s in request.satellites if s in self.satellites)
            if not usable:
                self.left_out.append(
                    {
                        "request": record.id,
                        "partner": record.partner.code,
                        "reason": "none of the satellites it names has a payload and element "
                        f"sets: {', '.join(request.satellites)}",
                    }
                )
                return None
            request = dataclasses.replace(request, satellites=usable)
        self.records[request.id] = record
        return request

    def _schedule(self, session: Session, schedule_id: int | None) -> ScheduleRecord | None:
        overlapping = (ScheduleRecord.start < self.end) & (ScheduleRecord.end_at > self.start)
        if schedule_id is None:
            return session.scalars(
                select(ScheduleRecord)
                .where(overlapping)
                .order_by(ScheduleRecord.created_at.desc(), ScheduleRecord.id.desc())
                .limit(1)
            ).one_or_none()
        found = session.get(ScheduleRecord, schedule_id)
        if found is None:
            raise PlanningInputError(f"no schedule with id {schedule_id}", location="schedule_id")
        if not (found.start < self.end and found.end_at > self.start):
            raise PlanningInputError(
                f"schedule {schedule_id} covers {found.start.isoformat()} to "
                f"{found.end_at.isoformat()}, which does not meet the plan's window",
                location="schedule_id",
            )
        return found

    def _contacts(self) -> list[Downlink]:
        """Return the schedule's contacts of the planned satellites, as downlinks."""
        if self.schedule is None:
            return []
        by_row = {s.id: key for key, s in self.satellites.items()}
        return [
            Downlink(by_row[c.satellite_id], c.start, c.end_at)
            for c in self.schedule.contacts
            if c.satellite_id in by_row
        ]

    def provenance(self) -> dict[str, Any]:
        """Return what the plan was made from: element sets, downlinks, requests, software."""
        return plan_provenance(self._sources())

    def _sources(self) -> dict[str, Any]:
        schedule = self.schedule
        return {
            "element_set_ids": sorted(e.id for sets in self.element_sets.values() for e in sets),
            "satellites": sorted(int(k) for k in self.satellites),
            **self.freshness,
            "schedule_id": schedule.id if schedule else None,
            "downlinks": (
                f"the contacts of schedule {schedule.id} "
                f"({len(self.problem.downlinks)} in the window)"
                if schedule
                else "none: no schedule of the network overlaps the window, "
                "so memory is never emptied"
            ),
            "request_ids": {
                code: sorted(int(r.id) for r in self.problem.requests if r.partner == code)
                for code in self.partners
            },
            "requests_left_out": self.left_out,
            "options": dataclasses.asdict(self.problem.options),
        }

    def save(
        self,
        session: Session,
        found: Plan,
        *,
        now: datetime,
        extra: Mapping[str, Any] | None = None,
    ) -> PlanRecord:
        """Add the plan and its observations to the session and return its record."""
        document = found.to_dict()
        requests = {r.id: r for r in self.problem.requests}
        record = PlanRecord(
            created_at=now,
            start=self.start,
            end_at=self.end,
            objective=found.objective.value,
            status=found.status.value,
            solver=found.solver,
            total_gain=found.total_gain,
            gap=found.gap,
            document={k: v for k, v in document.items() if k != "observations"},
            provenance=plan_provenance(self._sources(), settings=found.settings, **(extra or {})),
        )
        record.observations = [
            ObservationRecord(
                request_id=self.records[o.request].id,
                request_ref=o.request,
                partner_id=self.partners[o.partner].id,
                satellite_id=self.satellites[o.satellite].id,
                start=o.start,
                end_at=o.end,
                second_start=o.second_start,
                gain=o.gain,
                volume_mbit=o.volume_mbit,
                off_nadir_deg=o.off_nadir_deg,
                target={
                    k: v
                    for k, v in request_to_dict(requests[o.request]).items()
                    if k not in OWN_FIELDS
                },
            )
            for o in found.observations
        ]
        session.add(record)
        return record


def plan_observations(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    objective: Objective = Objective.FAIR,
    settings: PlannerSettings | None = None,
    schedule_id: int | None = None,
    stale_rule: StaleRule = DEFAULT_RULE,
    stage: Stage = no_stage,
) -> tuple[PlanRecord, Plan, StorePlanningProblem]:
    """Plan the pooled satellites' observations for the window and add the plan to the session.

    Its provenance says how old the satellites' elements get, stale past ``stale_rule``.
    ``stage`` wraps its steps: reading the store, planning, saving.
    """
    with stage("reading the store's satellites, requests and downlinks"):
        built = StorePlanningProblem(
            session, start, end, schedule_id=schedule_id, stale_rule=stale_rule
        )
    with stage(f"planning {len(built.problem.requests):,} requests"):
        planned = plan_problem(built.problem, built.orbits, objective, settings)
    found = planned.plan
    problems = [
        {
            "satellite": built.problem.satellites[p.satellite].id,
            "from": p.time.isoformat(),
            "code": p.code,
            "message": p.message,
        }
        for p in planned.opportunities.problems
    ]
    with stage("saving the plan"):
        record = built.save(session, found, now=now, extra={"propagation_problems": problems})
    return record, found, built


def plans(session: Session) -> list[PlanRecord]:
    """Return every plan, newest first."""
    return list(session.scalars(select(PlanRecord).order_by(PlanRecord.id.desc())))


def load_plan(session: Session, plan_id: int) -> PlanRecord | None:
    """Return the plan with its observations, their partners and satellites' operators."""
    observations = selectinload(PlanRecord.observations)
    query = (
        select(PlanRecord)
        .where(PlanRecord.id == plan_id)
        .options(
            observations.selectinload(ObservationRecord.partner),
            observations.selectinload(ObservationRecord.satellite).selectinload(
                Satellite.operators
            ),
        )
    )
    return session.scalars(query).one_or_none()
