"""Schedule the consortium's pooled network from the store, and keep the schedules.

The problem is built from what the store holds: partners and their agreements'
shares and priority classes, satellites with their operators and daily demand,
stations with turnaround and unavailability windows, and the stored pass
prediction for the window. Ids in the problem: partner codes, satellite catalog
numbers, station names (qualified by the partner's code, ``name (CODE)``, where
stations of several partners share a name: names are unique only per partner),
stored pass ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from jointsat.constants import DAY_S
from jointsat.errors import RadioError, StoreError
from jointsat.operations.events import EventKind
from jointsat.orbits.freshness import DEFAULT_RULE, StaleRule
from jointsat.provenance import elements_freshness, pass_prediction, schedule_provenance
from jointsat.scheduling import problem as model
from jointsat.scheduling import solver
from jointsat.scheduling.network import VOLUME_UNIT_BYTES
from jointsat.scheduling.problem import ShareMeasure
from jointsat.scheduling.result import Policy, Schedule
from jointsat.store.contacts import carry_over, lost_contacts
from jointsat.store.convert import station_names
from jointsat.store.events import record_event
from jointsat.store.passes import StoredPass, freshness_of, window_passes
from jointsat.store.tables import (
    ContactRecord,
    GroundStation,
    Partner,
    Satellite,
    ScheduleRecord,
)

MAX_HORIZON_DAYS = 31


class StoreProblem:
    """A scheduling problem built from the store, and how to map it back to rows."""

    def __init__(
        self,
        session: Session,
        start: datetime,
        end: datetime,
        *,
        now: datetime,
        stale_rule: StaleRule = DEFAULT_RULE,
        executor: Executor | None = None,
        measure: ShareMeasure = ShareMeasure.SECONDS,
    ) -> None:
        if end <= start:
            raise StoreError("the schedule's end must be after its start")
        if (end - start).total_seconds() > MAX_HORIZON_DAYS * DAY_S:
            raise StoreError(f"a schedule may span at most {MAX_HORIZON_DAYS} days")
        partners = consortium(session, "the store has no partners to share the network among")
        satellites = [
            s
            for s in session.scalars(
                select(Satellite)
                .options(
                    selectinload(Satellite.operators),
                    selectinload(Satellite.element_sets),
                    selectinload(Satellite.ephemerides),
                )
                .order_by(Satellite.id)
            )
            if (s.element_sets or s.ephemerides) and s.operators
        ]
        stations = list(
            session.scalars(
                select(GroundStation)
                .options(selectinload(GroundStation.unavailable), selectinload(GroundStation.owner))
                .order_by(GroundStation.id)
            )
        )
        if not satellites or not stations:
            raise StoreError(
                "the store needs satellites with element sets (or ephemerides) and stations"
            )
        found = window_passes(
            session,
            start,
            end,
            now=now,
            satellite_ids=[s.id for s in satellites],
            stale_rule=stale_rule,
            executor=executor,
        )
        self.freshness = elements_freshness(
            freshness_of(satellites, start, end, stale_rule), stale_rule
        )
        assert found.prediction is not None  # the store has satellites and stations
        self.prediction, self.passes = found.prediction, found.passes
        self.element_set_ids = sorted(e.id for s in satellites for e in s.element_sets)
        self.satellites = {s.id: s for s in satellites}
        self.stations = {g.id: g for g in stations}
        days = (end - start).total_seconds() / DAY_S
        self.measure = measure
        volumes: list[float | None] = [None] * len(self.passes)
        if measure is ShareMeasure.DATA_VOLUME:
            from jointsat.store.radio import BudgetOptions, pass_volumes

            try:
                volumes = list(pass_volumes(self.passes, self.satellites, self.stations))
            except RadioError as exc:
                raise StoreError(str(exc)) from None
            self.budget = BudgetOptions()
        by_seconds = measure is ShareMeasure.SECONDS
        codes = {p.id: p.code for p in partners}
        names = station_names(stations)
        self.problem = model.Problem(
            horizon=model.Window(start, end),
            partners=shares_of(partners),
            satellites=tuple(
                model.Satellite(
                    id=str(s.norad_id),
                    operators={codes[o.partner_id]: o.fraction for o in s.operators},
                    demand_s=(
                        None
                        if s.daily_demand_s is None or not by_seconds
                        else s.daily_demand_s * days
                    ),
                )
                for s in satellites
            ),
            stations=tuple(
                model.Station(
                    id=names[g.id],
                    owner=codes[g.partner_id],
                    turnaround_s=g.turnaround_s,
                    unavailable=tuple(model.Window(u.start, u.end_at) for u in g.unavailable),
                )
                for g in stations
            ),
            passes=tuple(
                model.PassWindow(
                    id=str(p.id),
                    satellite=str(self.satellites[p.satellite_id].norad_id),
                    station=names[p.station_id],
                    start=p.found.aos,
                    end=p.found.los,
                    max_elevation_deg=p.found.max_elevation_deg,
                    volume_bytes=v,
                )
                for p, v in zip(self.passes, volumes, strict=True)
            ),
            options=model.Options(measure=measure),
        )

    def save(
        self,
        session: Session,
        schedule: Schedule,
        *,
        now: datetime,
        replaces: ScheduleRecord | None = None,
    ) -> ScheduleRecord:
        """Add the schedule and its contacts to the session and return its record.

        A schedule that ``replaces`` another is a re-plan made at ``now``.
        """
        by_id = {str(p.id): p for p in self.passes}
        record = ScheduleRecord(
            created_at=now,
            start=self.problem.horizon.start,
            end_at=self.problem.horizon.end,
            policy=schedule.policy.value,
            status=schedule.status.value,
            solver=schedule.solver,
            total_seconds=schedule.total_seconds,
            gap=schedule.gap,
            document={k: v for k, v in schedule.to_dict().items() if k != "contacts"},
            provenance=schedule_provenance(
                pass_prediction(self.prediction, self.element_set_ids, sorted(self.stations)),
                self.freshness,
                self._measure(),
                replanned_at=None if replaces is None else now,
            ),
            replaces_id=replaces.id if replaces else None,
        )
        record.contacts = [
            ContactRecord(
                satellite_id=by_id[c.pass_id].satellite_id,
                station_id=by_id[c.pass_id].station_id,
                start=c.start,
                end_at=c.end,
                max_elevation_deg=by_id[c.pass_id].found.max_elevation_deg,
            )
            for c in schedule.contacts
        ]
        session.add(record)
        session.flush()  # its id, for its event
        record_event(
            session,
            EventKind.SCHEDULE_CREATED,
            at=now,
            payload={
                "schedule_id": record.id,
                "replaces_id": record.replaces_id,
                "start": record.start.isoformat(),
                "end": record.end_at.isoformat(),
                "policy": record.policy,
                "status": record.status,
            },
        )
        return record

    def _measure(self) -> dict[str, Any]:
        """Return what the schedule's shares measure, and how volumes were found."""
        if self.measure is ShareMeasure.SECONDS:
            return {"measure": self.measure.value}
        return {
            "measure": self.measure.value,
            "link_budget": {
                "step_s": self.budget.step_s,
                "margin_db": self.budget.margin_db,
                "exceeded_percent": self.budget.exceeded_percent,
                "atmosphere": "ITU-R P.618 (itur)" if self.budget.atmosphere else None,
                "volume_unit_bytes": VOLUME_UNIT_BYTES,
            },
        }


def consortium(session: Session, none: str) -> list[Partner]:
    """Return the store's partners with their agreements, by id; refuse none with ``none``."""
    partners = list(
        session.scalars(
            select(Partner).options(selectinload(Partner.agreement)).order_by(Partner.id)
        )
    )
    if not partners:
        raise StoreError(none)
    return partners


def shares_of(partners: Sequence[Partner]) -> tuple[model.Partner, ...]:
    """Return the partners as a problem's: code, share of the whole, priority class."""
    total = sum(p.share for p in partners)
    return tuple(
        model.Partner(
            id=p.code,
            share=p.share / total,
            priority=p.agreement.priority_class if p.agreement else 0,
        )
        for p in partners
    )


def _same_pass(passes: Sequence[StoredPass], contact: ContactRecord) -> str | None:
    """Return the id of the pass (of the contact's satellite and station) that it used.

    New element sets since the contact was planned shift a pass by seconds; the
    pass that overlaps the contact most is the same pass.
    """
    best, most = None, 0.0
    for p in passes:
        overlap = (
            min(p.found.los, contact.end_at) - max(p.found.aos, contact.start)
        ).total_seconds()
        if overlap > most:
            best, most = str(p.id), overlap
    return best


Stage = Callable[[str], AbstractContextManager[object]]
"""Wraps each long step of a store computation, named (the CLI shows progress with it)."""


def no_stage(_: str) -> AbstractContextManager[object]:
    """Wrap a step in nothing: the default :data:`Stage`."""
    return nullcontext()


def schedule_network(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    policy: Policy = Policy.FAIR,
    settings: solver.SolverSettings | None = None,
    stale_rule: StaleRule = DEFAULT_RULE,
    stage: Stage = no_stage,
    executor: Executor | None = None,
    measure: ShareMeasure = ShareMeasure.SECONDS,
) -> tuple[ScheduleRecord, Schedule]:
    """Schedule the pooled network for the window and add the schedule to the session.

    One path for every caller (``jointsat schedule --week``, the service, the demo):
    return the record added and the schedule solved. Its provenance says how old the
    satellites' elements get over the window, stale past ``stale_rule``. ``stage``
    wraps its three steps: reading the store and its passes, solving, saving. Passes
    not yet predicted are predicted on ``executor`` when one is handed in, and the
    network's independent parts are solved on it; else everything runs here.
    ``measure``: what partners' shares are of (data volume: each pass valued by the
    bytes its downlink's budget brings down, :func:`jointsat.store.radio.pass_volumes`).
    """
    with stage("reading the store and predicting the passes"):
        found = StoreProblem(
            session,
            start,
            end,
            now=now,
            stale_rule=stale_rule,
            executor=executor,
            measure=measure,
        )
    with stage(f"sharing the network ({len(found.passes):,} passes)"):
        result = solver.solve(found.problem, policy, settings, executor=executor)
    with stage("saving the schedule"):
        return found.save(session, result, now=now), result


def store_problem(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    stale_rule: StaleRule = DEFAULT_RULE,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Return the problem ``schedule_network`` solves for the window, as a problem file.

    The passes predicted for it are added to the session, as for a schedule.
    """
    found = StoreProblem(session, start, end, now=now, stale_rule=stale_rule, executor=executor)
    return found.problem.to_dict()


def replannable(record: ScheduleRecord) -> bool:
    """Say whether a schedule is of one of the network's own policies, which a re-plan can
    solve again (not one imported from another agency)."""
    return record.policy in {p.value for p in Policy}


def replan_network(
    session: Session,
    previous: ScheduleRecord,
    *,
    now: datetime,
    settings: solver.SolverSettings | None = None,
    stale_rule: StaleRule = DEFAULT_RULE,
    executor: Executor | None = None,
) -> ScheduleRecord:
    """Re-plan a schedule from the store as it is now (its outages recorded), keeping the past.

    Contacts of the previous schedule that started before ``now`` are kept; the
    rest are re-solved for the same policy, changing the fewest contacts. Failed and
    cancelled contacts are not kept and their passes not used again; the new schedule
    carries them, and the lifecycle of the contacts it keeps (``store.contacts``). A
    schedule of no policy of ours (imported) is refused with a :class:`StoreError`.
    """
    if not replannable(previous):
        raise StoreError(f"a schedule of policy {previous.policy!r} is not re-planned here")
    found = StoreProblem(
        session,
        previous.start,
        previous.end_at,
        now=now,
        stale_rule=stale_rule,
        executor=executor,
        measure=ShareMeasure(previous.document.get("measure", ShareMeasure.SECONDS.value)),
    )
    by_pair: dict[tuple[int, int], list[StoredPass]] = {}
    for p in found.passes:
        by_pair.setdefault((p.satellite_id, p.station_id), []).append(p)
    lost = {c.id for c in lost_contacts(previous)}  # failed or cancelled: not to be used
    before: list[str] = []
    dropped: set[str] = set()
    for c in previous.contacts:
        found_id = _same_pass(by_pair.get((c.satellite_id, c.station_id), []), c)
        if found_id is not None and c.id in lost:
            dropped.add(found_id)
        elif found_id is not None:
            before.append(found_id)
    problem = replace(
        found.problem, passes=tuple(p for p in found.problem.passes if p.id not in dropped)
    )
    result = solver.replan(
        problem, before, now=now, policy=Policy(previous.policy), settings=settings
    )
    record = found.save(session, result, now=now, replaces=previous)
    carry_over(previous, record)
    return record


def schedules(session: Session) -> list[ScheduleRecord]:
    """Return every schedule, newest first."""
    return list(session.scalars(select(ScheduleRecord).order_by(ScheduleRecord.id.desc())))


def load_schedule(session: Session, schedule_id: int) -> ScheduleRecord | None:
    """Return the schedule with its contacts, their stations and satellites' operators."""
    contacts = selectinload(ScheduleRecord.contacts)
    query = (
        select(ScheduleRecord)
        .where(ScheduleRecord.id == schedule_id)
        .options(
            contacts.selectinload(ContactRecord.station),
            contacts.selectinload(ContactRecord.satellite).selectinload(Satellite.operators),
        )
    )
    return session.scalars(query).one_or_none()


def schedules_using_station(session: Session, station_id: int) -> list[int]:
    """Return the ids of the schedules with a contact at the station, in order."""
    query = (
        select(ContactRecord.schedule_id)
        .where(ContactRecord.station_id == station_id)
        .distinct()
        .order_by(ContactRecord.schedule_id)
    )
    return list(session.scalars(query))
