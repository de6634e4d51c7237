"""Plan the pooled satellites' observations, and read plans as each partner may see them.

The admin makes plans; every member reads them. How fair and how good a plan is
(status, bound, gap, levels, each partner's gains and shares) is public within the
consortium; of the observations, a partner sees its own in full and others' only as
busy slots on the satellites it may see (access.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from jointsat.errors import PlanningInputError
from jointsat.planning.plan import Objective
from jointsat.planning.planner import PlannerSettings
from jointsat.service.access import ObservationView, observation_view, sees_satellite
from jointsat.service.cache import ViewingDep
from jointsat.service.deps import AdminDep, NowDep, SessionDep, StaleRuleDep
from jointsat.service.lookup import found, seen_element_set_ids, seen_freshness, shown
from jointsat.service.problems import field_path, field_problem
from jointsat.service.schemas import PathId, RowId
from jointsat.service.solving import Level, SolvingWindow, TimeLimit, evidence, refused_as_conflict
from jointsat.store.consortium import satellite_visibilities, satellites_by_number
from jointsat.store.planning import MAX_PLAN_DAYS, load_plan, plan_observations, plans
from jointsat.store.tables import ObservationRecord, PlanRecord, Role, User

router = APIRouter(prefix="/plans", tags=["plans"])


class PlanCreate(SolvingWindow):
    """What to plan: a window, an objective, a time limit, the schedule giving downlinks."""

    MAX_DAYS = MAX_PLAN_DAYS
    WHAT = "a plan"

    objective: Objective = Objective.FAIR
    time_limit_s: TimeLimit
    schedule_id: RowId | None = Field(
        default=None,
        description="The network schedule whose contacts empty the satellites' memories "
        "(default: the newest schedule overlapping the window)",
    )


class PartnerGain(BaseModel):
    """What a partner gained under a plan, against its entitlement and what it requested."""

    gain: int
    normalized: float = Field(description="Gain per unit of share")
    share_received: float
    share_entitled: float
    reachable_gain: int = Field(description="Gain of its requests some satellite could observe")
    requested_gain: int


class MemoryUse(BaseModel):
    """A satellite's memory under the plan, megabits."""

    capacity_mbit: float
    peak_mbit: float
    left_mbit: float


class Unserved(BaseModel):
    """A request of the caller's partner left out of the plan, and why."""

    request: str
    reason: str


class ObservationPublic(BaseModel):
    """An observation shown in full: which request, what target, when, on which satellite."""

    request_id: int | None = Field(description="The request's id (null: since withdrawn)")
    request: str = Field(description="The request's id as planned")
    partner: str
    satellite_id: int | None = Field(description="Null where the caller may not see it")
    satellite: str | None
    norad_id: int | None
    start: datetime
    end: datetime
    second_start: datetime | None = Field(description="A stereo pair's second look")
    gain: int
    volume_mbit: float
    off_nadir_deg: float | None
    target: dict[str, Any] = Field(description="The request as it was planned")


class BusySlot(BaseModel):
    """Another partner's observation: a satellite busy over a span, nothing of its target."""

    partner: str
    satellite_id: int
    satellite: str
    norad_id: int
    start: datetime
    end: datetime


class PlanSummary(BaseModel):
    """A plan's headline: window, objective, status, total gain and gap."""

    id: int
    created_at: datetime
    start: datetime
    end: datetime
    objective: Objective
    status: str
    solver: str
    total_gain: int
    gap: float


class PlanPublic(PlanSummary):
    """A plan with its evidence and provenance, and the observations the caller may see."""

    bound: float
    bound_level: str
    fairness_gap: float
    levels: list[Level]
    partners: dict[str, PartnerGain]
    memory: dict[str, MemoryUse] = Field(description="Per catalog number the caller may see")
    unserved: list[Unserved] = Field(description="The caller's partner's (the admin: all)")
    settings: dict[str, Any]
    provenance: dict[str, Any]
    observations: list[ObservationPublic] = Field(
        description="In full: the caller's partner's own (the admin: all)"
    )
    busy: list[BusySlot] = Field(
        description="Other partners' observations on satellites the caller may see"
    )
    hidden_observations: int = Field(
        description="Other partners' observations on satellites the caller may not see"
    )


def _summary(record: PlanRecord) -> PlanSummary:
    return shown(PlanSummary, record, end=record.end_at, objective=Objective(record.objective))


def _full(o: ObservationRecord, *, satellite_shown: bool) -> ObservationPublic:
    return shown(
        ObservationPublic,
        o,
        request=o.request_ref,
        partner=o.partner.code,
        satellite_id=o.satellite_id if satellite_shown else None,
        satellite=o.satellite.name if satellite_shown else None,
        norad_id=o.satellite.norad_id if satellite_shown else None,
        end=o.end_at,
    )


def _public(session: SessionDep, user: User, record: PlanRecord) -> PlanPublic:
    visibility = satellite_visibilities(session)
    shown: list[ObservationPublic] = []
    busy: list[BusySlot] = []
    hidden = 0
    for o in record.observations:
        view = observation_view(user, o, visibility)
        if view is ObservationView.HIDDEN:
            hidden += 1
        elif view is ObservationView.BUSY:
            busy.append(
                BusySlot(
                    partner=o.partner.code,
                    satellite_id=o.satellite_id,
                    satellite=o.satellite.name,
                    norad_id=o.satellite.norad_id,
                    start=o.start,
                    end=o.end_at,
                )
            )
        else:
            shown.append(_full(o, satellite_shown=view is ObservationView.FULL))
    document = record.document
    provenance = dict(record.provenance)
    mine: set[str] | None = None  # the caller's partner's request ids; None: all (the admin)
    if user.role is not Role.ADMIN:
        code = user.partner.code if user.partner else ""
        own_ids = provenance["request_ids"].get(code, [])
        mine = {str(r) for r in own_ids}
        provenance["request_ids"] = {code: own_ids}
        provenance["requests_left_out"] = [
            r for r in provenance["requests_left_out"] if r["partner"] == code
        ]
    named = {
        *document["memory"],
        *(str(n) for n in provenance.get("satellites", [])),
        *provenance.get("stale_element_sets", {}),
    }
    planned = satellites_by_number(session, [int(k) for k in named])
    seen = {str(n) for n, s in planned.items() if sees_satellite(user, s, visibility)}
    provenance["satellites"] = [n for n in provenance["satellites"] if str(n) in seen]
    provenance["propagation_problems"] = [
        p for p in provenance.get("propagation_problems", []) if p["satellite"] in seen
    ]
    seen_freshness(session, user, provenance)
    if "element_set_ids" in provenance:
        provenance["element_set_ids"] = seen_element_set_ids(
            session, user, provenance["element_set_ids"]
        )
    return PlanPublic(
        **_summary(record).model_dump(),
        **evidence(document),
        partners={k: PartnerGain(**v) for k, v in document["partners"].items()},
        memory={k: MemoryUse(**v) for k, v in document["memory"].items() if k in seen},
        unserved=[
            Unserved(**u) for u in document["unserved"] if mine is None or u["request"] in mine
        ],
        settings=document["settings"],
        provenance=provenance,
        observations=shown,
        busy=busy,
        hidden_observations=hidden,
    )


def _load(session: SessionDep, plan_id: int) -> PlanRecord:
    return found(load_plan(session, plan_id), "plan", plan_id)


@router.post("", response_model=PlanPublic, status_code=201)
def create_plan(
    body: PlanCreate, session: SessionDep, admin: AdminDep, now: NowDep, stale_rule: StaleRuleDep
) -> PlanPublic:
    """Plan the pooled satellites' observations for a window and keep it (consortium admin)."""
    with refused_as_conflict("Cannot plan"):
        try:
            record, _, _ = plan_observations(
                session,
                body.start,
                body.end,
                now=now,
                objective=body.objective,
                settings=PlannerSettings(time_limit_s=body.time_limit_s),
                schedule_id=body.schedule_id,
                stale_rule=stale_rule,
            )
        except PlanningInputError as exc:
            if exc.location != "schedule_id":
                raise
            raise field_problem(["body", *field_path(exc.location)], exc.reason) from None
    session.commit()
    return _public(session, admin, _load(session, record.id))


@router.get("", response_model=list[PlanSummary])
def list_plans(viewing: ViewingDep) -> Response:
    """Return every plan's headline, newest first."""
    return viewing.cached(
        "plans", list[PlanSummary], lambda: [_summary(r) for r in plans(viewing.session)]
    )


@router.get("/{plan_id}", response_model=PlanPublic)
def get_plan(plan_id: PathId, viewing: ViewingDep) -> Response:
    """Return a plan: its figures for everyone, the observations as the caller may see them."""

    def make() -> PlanPublic:
        return _public(viewing.session, viewing.user, _load(viewing.session, plan_id))

    return viewing.cached("plan", PlanPublic, make, plan_id)
