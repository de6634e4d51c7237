"""Schedule the pooled network, read schedules, and re-plan when a station fails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from jointsat.scheduling.problem import ShareMeasure
from jointsat.scheduling.result import Policy
from jointsat.scheduling.solver import SolverSettings
from jointsat.service.access import sees_satellite, sees_station
from jointsat.service.cache import ViewingDep
from jointsat.service.contacts import ContactPublic
from jointsat.service.deps import (
    AdminDep,
    NowDep,
    PassExecutorDep,
    SessionDep,
    StaleRuleDep,
    UserDep,
)
from jointsat.service.exports import (
    CALENDAR_TYPE,
    CSV_TYPE,
    contacts_calendar,
    csv_text,
    file_response,
)
from jointsat.service.lookup import (
    check_window,
    found,
    may_change,
    seen_element_set_ids,
    seen_freshness,
    seen_station_ids,
    shown,
    visible_station,
)
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import MAX_ID, AwareDatetime, PathId, RowId, Text, TimeWindow
from jointsat.service.solving import Level, SolvingWindow, TimeLimit, evidence, refused_as_conflict
from jointsat.store.consortium import (
    by_id,
    record_unavailability,
    satellite_visibilities,
    station_visibilities,
)
from jointsat.store.products import partner_codes
from jointsat.store.schedules import (
    MAX_HORIZON_DAYS,
    load_schedule,
    replan_network,
    replannable,
    schedule_network,
    schedules,
    store_problem,
)
from jointsat.store.tables import (
    ContactRecord,
    Partner,
    ScheduleRecord,
    UnavailabilityKind,
    User,
)

router = APIRouter(prefix="/schedules", tags=["schedules"])


class ScheduleCreate(SolvingWindow):
    """What to schedule: a window of the pooled network, a policy, a time limit."""

    MAX_DAYS = MAX_HORIZON_DAYS
    WHAT = "a schedule"

    policy: Policy = Policy.FAIR
    measure: ShareMeasure = Field(
        default=ShareMeasure.SECONDS,
        description="What shares are of: contact seconds, or the data each contact's "
        "downlink brings down (its link budget: satellites' links, stations' G/T)",
    )
    time_limit_s: TimeLimit


class OutageReport(TimeWindow):
    """A station outage to record, after which the schedule is re-planned."""

    station_id: RowId
    reason: Text = Field(default="", max_length=2000)
    time_limit_s: TimeLimit


class PartnerShare(BaseModel):
    """What a partner received under a schedule, against its entitlement."""

    seconds: float
    normalized: float
    share_received: float
    share_entitled: float
    demand_s: float
    volume_bytes: float | None = Field(
        default=None, description="With the data-volume measure: the bytes it received"
    )


class ScheduleSummary(BaseModel):
    """A schedule's headline: window, policy, status, total and gap."""

    id: int
    created_at: datetime
    start: datetime
    end: datetime
    policy: Policy | Literal["imported"]  # imported: another agency's (routes/exchange.py)
    status: str
    solver: str
    total_seconds: float
    gap: float
    replaces_id: int | None


class SchedulePublic(ScheduleSummary):
    """A schedule with its evidence, provenance and the contacts the caller may see."""

    bound: float
    bound_level: str
    fairness_gap: float
    levels: list[Level]
    partners: dict[str, PartnerShare]
    measure: ShareMeasure = Field(description="What the partners' shares are of")
    total_volume_bytes: float | None = None
    settings: dict[str, Any]
    provenance: dict[str, Any]
    contacts: list[ContactPublic]
    hidden_contacts: int = Field(
        description="Contacts on stations or satellites the caller's partner may not see"
    )


def _summary(record: ScheduleRecord) -> ScheduleSummary:
    return shown(ScheduleSummary, record, end=record.end_at)


def _seen_contacts(session: SessionDep, user: User, record: ScheduleRecord) -> list[ContactRecord]:
    """Return the schedule's contacts on stations and satellites the caller may see."""
    stations = station_visibilities(session)
    satellites = satellite_visibilities(session)
    return [
        c
        for c in record.contacts
        if sees_station(user, c.station, stations) and sees_satellite(user, c.satellite, satellites)
    ]


def _contact(c: ContactRecord) -> ContactPublic:
    return shown(
        ContactPublic,
        c,
        satellite=c.satellite.name,
        norad_id=c.satellite.norad_id,
        station=c.station.name,
        end=c.end_at,
    )


def _public(session: SessionDep, user: User, record: ScheduleRecord) -> SchedulePublic:
    seen = _seen_contacts(session, user, record)
    document = record.document
    provenance = dict(record.provenance)  # like the contacts: only what the caller sees
    if "station_ids" in provenance:
        provenance["station_ids"] = seen_station_ids(session, user, provenance["station_ids"])
    if "element_set_ids" in provenance:
        provenance["element_set_ids"] = seen_element_set_ids(
            session, user, provenance["element_set_ids"]
        )
    seen_freshness(session, user, provenance)
    return SchedulePublic(
        **_summary(record).model_dump(),
        **evidence(document),
        partners={k: PartnerShare(**v) for k, v in document["partners"].items()},
        measure=ShareMeasure(document.get("measure", ShareMeasure.SECONDS.value)),
        total_volume_bytes=document.get("total_volume_bytes"),
        settings=document["settings"],
        provenance=provenance,
        contacts=[_contact(c) for c in seen],
        hidden_contacts=len(record.contacts) - len(seen),
    )


def _load(session: SessionDep, schedule_id: int) -> ScheduleRecord:
    return found(load_schedule(session, schedule_id), "schedule", schedule_id)


@router.post("", response_model=SchedulePublic, status_code=201)
def create_schedule(
    body: ScheduleCreate,
    session: SessionDep,
    admin: AdminDep,
    now: NowDep,
    stale_rule: StaleRuleDep,
    executor: PassExecutorDep,
) -> SchedulePublic:
    """Schedule the pooled network for a window by policy and keep it (consortium admin)."""
    with refused_as_conflict("Cannot schedule"):
        record, _ = schedule_network(
            session,
            body.start,
            body.end,
            now=now,
            policy=body.policy,
            settings=SolverSettings(time_limit_s=body.time_limit_s),
            stale_rule=stale_rule,
            executor=executor,
            measure=body.measure,
        )
    session.commit()
    return _public(session, admin, _load(session, record.id))


@router.get("/problem", response_model=dict[str, Any])
def export_problem(
    start: Annotated[AwareDatetime, Query(description="Window start, ISO 8601 with zone")],
    end: Annotated[AwareDatetime, Query(description="Window end, ISO 8601 with zone")],
    session: SessionDep,
    _: AdminDep,
    now: NowDep,
    stale_rule: StaleRuleDep,
    executor: PassExecutorDep,
) -> dict[str, Any]:
    """Return the problem a schedule of the window solves, as a problem file (admin).

    The problem ``POST /schedules`` (and ``jointsat schedule --week``) builds from the
    store: partners' shares and priority classes, satellites, stations and their
    unavailability, the stored passes (predicted now if need be). It is what
    ``jointsat schedule --problem`` and ``jointsat replan`` read (docs/scheduling.md).
    It names every station and satellite: the consortium admin's alone.
    """
    check_window(start, end, timedelta(days=MAX_HORIZON_DAYS), "days")
    with refused_as_conflict("Cannot build the problem"):
        document = store_problem(
            session, start, end, now=now, stale_rule=stale_rule, executor=executor
        )
    session.commit()  # the passes predicted for it are kept
    return document


@router.get("", response_model=list[ScheduleSummary])
def list_schedules(viewing: ViewingDep) -> Response:
    """Return every schedule's headline, newest first."""
    return viewing.cached(
        "schedules",
        list[ScheduleSummary],
        lambda: [_summary(r) for r in schedules(viewing.session)],
    )


@router.get("/{schedule_id}", response_model=SchedulePublic)
def get_schedule(schedule_id: PathId, viewing: ViewingDep) -> Response:
    """Return a schedule with the contacts the caller's agreement lets it see."""

    def make() -> SchedulePublic:
        return _public(viewing.session, viewing.user, _load(viewing.session, schedule_id))

    return viewing.cached("schedule", SchedulePublic, make, schedule_id)


StationFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only the contacts over this station")
]
PartnerFilter = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_ID,
        description="Only the contacts over this partner's stations or of satellites it operates",
    ),
]
CONTACT_FILES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file", "content": {CSV_TYPE: {}, CALENDAR_TYPE: {}}},
    404: {"description": "No such schedule, or a station hidden from the caller"},
}


@dataclass(frozen=True)
class ContactExport:
    """A contacts export: the schedule, the contacts the caller may see as filtered, a file stem."""

    schedule: ScheduleSummary
    contacts: list[ContactRecord]
    stem: str


def _export(
    schedule_id: PathId,
    session: SessionDep,
    user: UserDep,
    station_id: StationFilter = None,
    partner_id: PartnerFilter = None,
) -> ContactExport:
    """Return what a contacts export (CSV, iCalendar) of the schedule holds for the caller."""
    record = _load(session, schedule_id)
    stem = f"schedule-{schedule_id}-contacts"
    if station_id is not None:
        visible_station(session, user, station_id)  # 404 for a station hidden from the caller
        stem += f"-station-{station_id}"
    if partner_id is not None:
        found(by_id(session, Partner, partner_id), "partner", partner_id)
        stem += f"-partner-{partner_id}"
    contacts = [
        c
        for c in _seen_contacts(session, user, record)
        if (station_id is None or c.station_id == station_id)
        and (
            partner_id is None
            or c.station.partner_id == partner_id
            or any(o.partner_id == partner_id for o in c.satellite.operators)
        )
    ]
    contacts.sort(key=lambda c: (c.start, c.station_id, c.satellite_id))
    return ContactExport(_summary(record), contacts, stem)


ExportDep = Annotated[ContactExport, Depends(_export)]


@router.get("/{schedule_id}/contacts.csv", response_class=Response, responses=CONTACT_FILES)
def export_contacts_csv(export: ExportDep) -> Response:
    """Return the schedule's contacts the caller may see as CSV (the JSON's fields)."""
    rows = [_contact(c).model_dump(mode="json") for c in export.contacts]
    text = csv_text(list(ContactPublic.model_fields), rows)
    return file_response(text, CSV_TYPE, f"{export.stem}.csv")


@router.get("/{schedule_id}/contacts.ics", response_class=Response, responses=CONTACT_FILES)
def export_contacts_ics(export: ExportDep, session: SessionDep) -> Response:
    """Return the schedule's contacts the caller may see as iCalendar, one event each.

    Each event: UID stable per contact (satellite, station, start), DTSTART and DTEND
    in UTC, SUMMARY "SATELLITE over STATION for OPERATORS", LOCATION the station,
    DESCRIPTION the maximum elevation, duration and schedule.
    """
    contacts = export.contacts
    codes = partner_codes(session)
    operators = {
        c.satellite_id: ", ".join(
            codes.get(o.partner_id, str(o.partner_id))
            for o in sorted(c.satellite.operators, key=lambda o: -o.fraction)
        )
        for c in contacts
    }
    body = contacts_calendar(
        export.schedule.model_dump(mode="json"),
        [_contact(c).model_dump(mode="json") for c in contacts],
        operators,
        name=f"jointsat schedule #{export.schedule.id} contacts",
    )
    return file_response(body, CALENDAR_TYPE, f"{export.stem}.ics")


@router.post("/{schedule_id}/replan", response_model=SchedulePublic, status_code=201)
def replan_schedule(
    schedule_id: PathId,
    body: OutageReport,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    stale_rule: StaleRuleDep,
    executor: PassExecutorDep,
) -> SchedulePublic:
    """Record a station outage and re-plan the schedule from now (its owner's operators, admin).

    Contacts that started before now are kept; the rest are re-solved for the same
    policy, changing the fewest contacts. The new schedule replaces the old one.
    """
    previous = _load(session, schedule_id)
    if not replannable(previous):
        raise ProblemError(409, "Conflict", "an imported schedule is not re-planned here")
    station = visible_station(session, user, body.station_id)
    may_change(
        user, [station.partner_id], "only the station's operators or an admin may report its outage"
    )
    record_unavailability(
        station,
        body.start,
        body.end,
        UnavailabilityKind.OUTAGE,
        body.reason or f"outage reported at {now.isoformat()}",
        now=now,
    )
    session.commit()  # the outage is a fact, whatever the re-plan gives
    with refused_as_conflict("Cannot re-plan"):
        record = replan_network(
            session,
            previous,
            now=now,
            settings=SolverSettings(time_limit_s=body.time_limit_s),
            stale_rule=stale_rule,
            executor=executor,
        )
    session.commit()
    return _public(session, user, _load(session, record.id))
