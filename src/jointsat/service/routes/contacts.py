"""The contact lifecycle over HTTP: contacts, their moves and reports, tallies, tokens, feeds.

- ``/contacts``: list and read the contacts the caller may see; the station's owner's
  operators (and the admin) confirm and cancel them; the station reports their start,
  end and bytes, or their failure (``POST /contacts/{id}/report``, with a station
  token or an operator's API token). A failure re-plans the schedule from now.
- ``/contacts/tally``: a partner's planned contacts against those delivered.
- ``/access-tokens``: scoped tokens, for a station's reports or a calendar feed.
- ``/stations/{id}/calendar.ics`` and ``/partners/{id}/calendar.ics``: the feeds, read
  with a calendar token in the URL (calendar programs send no headers).

A station token reads its station's contacts and reports on them, and nothing else
(every other route answers it 401); a calendar token reads its feed alone. A contact,
station or partner the caller may not see, and a token that is unknown, revoked or for
another feed, are answered 404 alike. The lifecycle's rules: ``operations.lifecycle``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import APIKeyQuery
from pydantic import BaseModel, ConfigDict, Field

from jointsat.errors import ContactReportError, ContactStateError, JointsatError, StoreError
from jointsat.operations.lifecycle import MAX_REASON_CHARS, Actor, Move, Report
from jointsat.scheduling.solver import SolverSettings
from jointsat.service.access import changes, sees_satellite, sees_station
from jointsat.service.contacts import ContactPublic
from jointsat.service.deps import (
    BearerDep,
    NowDep,
    PassExecutorDep,
    SessionDep,
    StaleRuleDep,
    UserDep,
    current_user,
    get_now,
)
from jointsat.service.exports import CALENDAR_TYPE, contacts_feed, file_response
from jointsat.service.lookup import found, shown, visible_station
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import MAX_ID, AwareDatetime, PathId, RowId, Text
from jointsat.service.solving import TimeLimit
from jointsat.service.tokens import (
    access_refusal,
    access_token_row,
    access_tokens,
    issue_access_token,
    live_access_token,
    manages,
    revoke_access_token,
)
from jointsat.store.consortium import by_id, satellite_visibilities, station_visibilities
from jointsat.store.contacts import (
    ContactQuery,
    current_schedule_ids,
    feed_contacts,
    find_contacts,
    linked_products,
    load_contact,
    move_contact,
    newest_version,
    tally,
)
from jointsat.store.products import caller_of, partner_codes
from jointsat.store.schedules import load_schedule, replan_network
from jointsat.store.tables import (
    AccessKind,
    AccessToken,
    ContactRecord,
    ContactState,
    Partner,
    Role,
    ScheduleRecord,
    User,
)

router = APIRouter(prefix="/contacts", tags=["contacts"])
tokens_router = APIRouter(prefix="/access-tokens", tags=["contacts"])
feeds_router = APIRouter(tags=["contacts"])

FEED_PAST_DAYS = 7
"""A feed holds the current schedules' contacts that ended at most this many days ago."""
MAX_LISTED = 10_000


# --- who calls: a user's API token, or a station token --------------------------------


@dataclass(frozen=True)
class ContactCaller:
    """Who calls: ``user`` (a station token acts as its maker), and the token's station."""

    user: User
    station_id: int | None = None  # None: a user's API token

    @property
    def actor(self) -> Actor:
        """The lifecycle's actor: a station token is the station, else an operator."""
        return Actor.OPERATOR if self.station_id is None else Actor.STATION


def station_or_user(request: Request, session: SessionDep, declared: BearerDep) -> ContactCaller:
    """Return the caller of a bearer token: a live station token, else a user's API token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        row = live_access_token(session, token.strip(), AccessKind.STATION, get_now(request))
        if row is not None:
            session.commit()  # its last use
            return ContactCaller(row.user, row.station_id)
    return ContactCaller(current_user(request, session, declared))


ContactCallerDep = Annotated[ContactCaller, Depends(station_or_user)]


# --- the answers ----------------------------------------------------------------------


class ContactOut(ContactPublic):
    """A contact with its schedule and its lifecycle: state, why, the station's reports."""

    schedule_id: int
    current: bool = Field(description="Whether its schedule is current (no re-plan replaces it)")
    state_reason: str | None
    state_changed_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    bytes_received: int | None


class ContactShown(ContactOut):
    """A contact, and the products archived from it that the caller may see."""

    product_ids: list[str]


class ContactMoved(BaseModel):
    """A contact after a move; a failure's re-plan, or why there was none."""

    contact: ContactOut
    replanned_schedule_id: int | None = Field(
        default=None, description="The schedule a failure's re-plan made (it replaces the old)"
    )
    replan_problem: str | None = Field(
        default=None, description="Why a failure's re-plan was refused (the failure is kept)"
    )


class Cancellation(BaseModel):
    """Why a contact is cancelled (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(default="", max_length=MAX_REASON_CHARS)


class StationReport(BaseModel):
    """What a station reports of a contact: its start, its end (and bytes), or its failure."""

    model_config = ConfigDict(extra="forbid")

    event: Literal["start", "end", "failed"]
    at: AwareDatetime | None = Field(default=None, description="When it happened (default: now)")
    bytes_received: int | None = Field(default=None, ge=0, le=2**63 - 1, strict=True)
    reason: Text | None = Field(default=None, max_length=MAX_REASON_CHARS)
    time_limit_s: TimeLimit = Field(
        description="A failure's re-plan: seconds the solver may search"
    )


REPORTED = {"start": Move.START, "end": Move.END, "failed": Move.FAIL}


class TallyOut(BaseModel):
    """A partner's planned contacts against those delivered (``store.contacts.Tally``)."""

    partner_id: int
    schedule_ids: list[int]
    planned_contacts: int
    planned_s: float
    delivered_contacts: int
    delivered_s: float
    delivered_bytes: float
    failed_contacts: int
    failed_s: float
    cancelled_contacts: int
    pending_contacts: int


def _out(record: ContactRecord, current: set[int]) -> ContactOut:
    return shown(
        ContactOut,
        record,
        satellite=record.satellite.name,
        norad_id=record.satellite.norad_id,
        station=record.station.name,
        end=record.end_at,
        current=record.schedule_id in current,
    )


def _seen(
    session: SessionDep, caller: ContactCaller, contacts: list[ContactRecord]
) -> list[ContactRecord]:
    """Return those of the contacts the caller sees (a station token: its station's only)."""
    stations = station_visibilities(session)
    satellites = satellite_visibilities(session)
    return [
        c
        for c in contacts
        if (caller.station_id is None or c.station_id == caller.station_id)
        and sees_station(caller.user, c.station, stations)
        and sees_satellite(caller.user, c.satellite, satellites)
    ]


def _contact(session: SessionDep, caller: ContactCaller, contact_id: int) -> ContactRecord:
    """Return the contact if the caller sees it, else answer 404."""
    record = load_contact(session, contact_id)
    seen = record is not None and _seen(session, caller, [record])
    return found(record if seen else None, "contact", contact_id)


# --- contacts -------------------------------------------------------------------------


@router.get("", response_model=list[ContactOut])
def list_contacts(
    session: SessionDep,
    caller: ContactCallerDep,
    schedule_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this schedule's")
    ] = None,
    station_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only over this station")
    ] = None,
    satellite_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only of this satellite")
    ] = None,
    state: Annotated[ContactState | None, Query(description="Only in this state")] = None,
    start: Annotated[AwareDatetime | None, Query(description="Only ending after this")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Only starting before this")] = None,
    current: Annotated[
        bool | None,
        Query(description="Only of current schedules (default: yes, unless a schedule is named)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 1000,
) -> list[ContactOut]:
    """List the contacts the caller sees, by start (a station token: its station's)."""
    if station_id is not None:
        if caller.station_id is not None and station_id != caller.station_id:
            raise ProblemError(404, "Not found", f"no station with id {station_id}")
        visible_station(session, caller.user, station_id)
    query = ContactQuery(
        schedule_id=schedule_id,
        station_id=station_id if station_id is not None else caller.station_id,
        satellite_id=satellite_id,
        state=state,
        ends_after=start,
        starts_before=end,
        current=schedule_id is None if current is None else current,
    )
    seen = _seen(session, caller, find_contacts(session, query))[:limit]
    now_current = set(current_schedule_ids(session))
    return [_out(c, now_current) for c in seen]


@router.get("/tally", response_model=TallyOut)
def partner_tally(
    session: SessionDep,
    user: UserDep,
    partner_id: Annotated[int, Query(ge=1, le=MAX_ID, description="The partner")],
    schedule_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Over this schedule (default: every current one)"),
    ] = None,
) -> TallyOut:
    """Return a partner's planned contacts against those delivered (its users, the admin).

    Of the contacts of the satellites it operates: planned (all but the cancelled),
    delivered (completed: seconds the station reported, bytes), failed, cancelled and
    still pending; seconds and bytes are its share (its operating fraction).
    """
    partner = by_id(session, Partner, partner_id)
    if partner is None or (user.role is not Role.ADMIN and user.partner_id != partner_id):
        raise ProblemError(404, "Not found", f"no partner with id {partner_id}")
    if schedule_id is None:
        ids = current_schedule_ids(session)
    else:
        ids = [found(by_id(session, ScheduleRecord, schedule_id), "schedule", schedule_id).id]
    result = tally(session, partner_id, ids)
    return TallyOut(**asdict(result))


@router.get("/{contact_id}", response_model=ContactShown)
def get_contact(
    contact_id: PathId, session: SessionDep, caller: ContactCallerDep, now: NowDep
) -> ContactShown:
    """Return a contact with its lifecycle and the ids of the products archived from it."""
    record = _contact(session, caller, contact_id)
    products = linked_products(session, record, caller_of(caller.user), now)
    out = _out(record, set(current_schedule_ids(session)))
    return ContactShown(**out.model_dump(), product_ids=products)


def _acting(session: SessionDep, caller: ContactCaller, contact_id: int) -> ContactRecord:
    """Return the newest version of the contact the caller may move; 404, 403 or 409."""
    record = _contact(session, caller, contact_id)
    if not changes(caller.user, [record.station.partner_id]):
        raise ProblemError(
            403, "Forbidden", "only the station's operators (or an admin) may move its contacts"
        )
    newest = newest_version(session, record)
    if newest is None:
        raise ProblemError(
            409, "Conflict", f"contact {contact_id} is no longer scheduled: a re-plan dropped it"
        )
    return newest


def _move(
    session: SessionDep,
    caller: ContactCaller,
    contact_id: int,
    move: Move,
    report: Report,
    now: datetime,
) -> ContactRecord:
    """Move the contact (its newest version) and commit; 404, 403, 409 or 422 as it may be."""
    record = _acting(session, caller, contact_id)
    try:
        move_contact(session, record, move, caller.actor, report, now=now)
    except ContactStateError as exc:
        session.rollback()
        raise ProblemError(409, "Conflict", str(exc)) from None
    except ContactReportError as exc:
        session.rollback()
        raise ProblemError(422, "Invalid report", str(exc)) from None
    session.commit()
    return record


@router.post("/{contact_id}/confirm", response_model=ContactMoved)
def confirm_contact(
    contact_id: PathId, session: SessionDep, user: UserDep, now: NowDep
) -> ContactMoved:
    """Confirm a scheduled contact (the station's owner's operators, the admin)."""
    record = _move(session, ContactCaller(user), contact_id, Move.CONFIRM, Report(), now)
    return ContactMoved(contact=_out(record, set(current_schedule_ids(session))))


@router.post("/{contact_id}/cancel", response_model=ContactMoved)
def cancel_contact(
    contact_id: PathId,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    body: Cancellation | None = None,
) -> ContactMoved:
    """Cancel a scheduled or confirmed contact (the station's owner's operators, the admin).

    Later re-plans leave its pass unused; the schedule is not re-planned by this.
    """
    reason = None if body is None else body.reason
    record = _move(
        session, ContactCaller(user), contact_id, Move.CANCEL, Report(reason=reason), now
    )
    return ContactMoved(contact=_out(record, set(current_schedule_ids(session))))


@router.post("/{contact_id}/report", response_model=ContactMoved)
def report_contact(
    contact_id: PathId,
    body: StationReport,
    session: SessionDep,
    caller: ContactCallerDep,
    now: NowDep,
    stale_rule: StaleRuleDep,
    executor: PassExecutorDep,
) -> ContactMoved:
    """Report a contact's start, end (and bytes received) or failure: its station's token,
    or an API token of the station's owner's operators (or the admin).

    A failure re-plans the contact's schedule from now, as an outage does (the fewest
    changes; contacts started before now kept): the new schedule replaces the old and
    leaves the failed pass unused. Should the re-plan be refused, the failure is kept
    and ``replan_problem`` says why.
    """
    report = Report(at=body.at, bytes_received=body.bytes_received, reason=body.reason)
    record = _move(session, caller, contact_id, REPORTED[body.event], report, now)
    current = set(current_schedule_ids(session))
    if record.state is not ContactState.FAILED:
        return ContactMoved(contact=_out(record, current))
    previous = load_schedule(session, record.schedule_id)
    assert previous is not None  # the contact's own
    try:
        replanned = replan_network(
            session,
            previous,
            now=now,
            settings=SolverSettings(time_limit_s=body.time_limit_s),
            stale_rule=stale_rule,
            executor=executor,
        )
        session.commit()
    except JointsatError as exc:
        session.rollback()
        return ContactMoved(contact=_out(record, current), replan_problem=str(exc))
    return ContactMoved(
        contact=_out(record, set(current_schedule_ids(session))),
        replanned_schedule_id=replanned.id,
    )


# --- scoped tokens ----------------------------------------------------------------------


class AccessTokenCreate(BaseModel):
    """A scoped token to make: a station's (``station_id``), or a calendar feed's (a
    ``station_id`` or a ``partner_id``)."""

    model_config = ConfigDict(extra="forbid")

    kind: AccessKind
    station_id: RowId | None = None
    partner_id: RowId | None = None
    label: Text = Field(default="", max_length=200)


class AccessTokenPublic(BaseModel):
    """A scoped token's record (never the token itself)."""

    id: int
    kind: AccessKind
    user_id: int
    station_id: int | None
    partner_id: int | None
    label: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute")


class AccessTokenIssued(AccessTokenPublic):
    """A new scoped token: ``token`` is shown this once and never again."""

    token: str
    feed: str | None = Field(description="A calendar token's feed (its path, the token appended)")


def feed_path(row: AccessToken) -> str | None:
    """Return the path of a calendar token's feed (None: a station token)."""
    if row.kind is not AccessKind.CALENDAR:
        return None
    if row.station_id is not None:
        return f"/api/v1/stations/{row.station_id}/calendar.ics"
    return f"/api/v1/partners/{row.partner_id}/calendar.ics"


@tokens_router.post("", response_model=AccessTokenIssued, status_code=201)
def create_access_token(
    body: AccessTokenCreate, session: SessionDep, user: UserDep, now: NowDep
) -> AccessTokenIssued:
    """Make a scoped token that acts as the caller (and sees no more than it).

    A station token (``kind: station``, a ``station_id``): the station's owner's
    operators, the admin. A calendar token of a partner: its users, the admin; of a
    station: who sees the station.
    """
    if (body.station_id is None) == (body.partner_id is None) or (
        body.kind is AccessKind.STATION and body.station_id is None
    ):
        raise ProblemError(
            422,
            "Invalid request",
            "a station token names a station_id; a calendar token a station_id or a partner_id",
        )
    if body.station_id is not None:
        station = visible_station(session, user, body.station_id)  # 404 when hidden
        if body.kind is AccessKind.STATION and not changes(user, [station.partner_id]):
            raise ProblemError(
                403, "Forbidden", "only the station's operators or an admin may make its token"
            )
    elif body.partner_id is not None:
        found(by_id(session, Partner, body.partner_id), "partner", body.partner_id)
        if user.role is not Role.ADMIN and user.partner_id != body.partner_id:
            raise ProblemError(
                403, "Forbidden", "only the partner's users or an admin may read its calendar"
            )
    try:
        token = issue_access_token(
            session,
            user,
            body.kind,
            now=now,
            station_id=body.station_id,
            partner_id=body.partner_id,
            label=body.label,
        )
    except StoreError as exc:
        raise ProblemError(403, "Forbidden", str(exc)) from None
    session.commit()
    row = access_token_row(session, token)
    assert row is not None  # just made
    return AccessTokenIssued(
        **shown(AccessTokenPublic, row).model_dump(), token=token, feed=feed_path(row)
    )


@tokens_router.get("", response_model=list[AccessTokenPublic])
def list_access_tokens(session: SessionDep, user: UserDep) -> list[AccessTokenPublic]:
    """List the scoped tokens the caller manages: its own, its partner's stations' and
    calendar's (operators), every one (the admin)."""
    return [shown(AccessTokenPublic, r) for r in access_tokens(session, user)]


@tokens_router.delete("/{token_id}", status_code=204)
def revoke_scoped_token(
    token_id: PathId, session: SessionDep, user: UserDep, now: NowDep
) -> Response:
    """Revoke a scoped token the caller manages, at once."""
    row = by_id(session, AccessToken, token_id)
    if row is None or not manages(session, user, row):
        raise ProblemError(404, "Not found", f"no access token with id {token_id}")
    revoke_access_token(row, now=now)
    session.commit()
    return Response(status_code=204)


# --- calendar feeds ----------------------------------------------------------------------


CALENDAR_TOKEN = APIKeyQuery(
    name="token",
    scheme_name="calendarToken",
    description="A calendar token of this feed (`jointsat contacts token --kind calendar`).",
    auto_error=False,
)


def _feed_token(token: Annotated[str | None, Depends(CALENDAR_TOKEN)]) -> str:
    """Return the feed's token from the URL; no token (or an absurd one) is no feed: 404."""
    if not token or len(token) > 200:
        raise ProblemError(404, "Not found", "no calendar feed for this token")
    return token


FeedToken = Annotated[str, Depends(_feed_token)]
FEED_ANSWERS: dict[int | str, dict[str, object]] = {
    200: {"description": "The calendar", "content": {CALENDAR_TYPE: {}}},
    404: {"description": "No such feed, or the token is not this feed's (or is revoked)"},
}


def _schedule_json(record: ScheduleRecord) -> dict[str, object]:
    """Return what a calendar event tells of its contact's schedule."""
    return {
        "id": record.id,
        "policy": record.policy,
        "created_at": record.created_at.isoformat(),
        "start": record.start.isoformat(),
        "end": record.end_at.isoformat(),
    }


def _feed(
    session: SessionDep,
    token: str,
    now: datetime,
    *,
    station_id: int | None = None,
    partner_id: int | None = None,
) -> Response:
    """Answer a feed: the contacts its token's user sees, of the current schedules."""
    row = live_access_token(session, token, AccessKind.CALENDAR, now)
    what, ident = ("station", station_id) if station_id is not None else ("partner", partner_id)
    if (
        row is None
        or (row.station_id, row.partner_id) != (station_id, partner_id)
        or access_refusal(
            session, row.user, AccessKind.CALENDAR, station_id=station_id, partner_id=partner_id
        )
        is not None
    ):
        raise ProblemError(404, "Not found", f"no {what} calendar {ident} for this token")
    session.commit()  # its last use
    contacts = _seen(
        session,
        ContactCaller(row.user),
        feed_contacts(
            session,
            since=now - timedelta(days=FEED_PAST_DAYS),
            station_id=station_id,
            partner_id=partner_id,
        ),
    )
    codes = partner_codes(session)
    operators = {
        c.satellite_id: ", ".join(
            codes.get(o.partner_id, str(o.partner_id))
            for o in sorted(c.satellite.operators, key=lambda o: -o.fraction)
        )
        for c in contacts
    }
    current = set(current_schedule_ids(session))
    entries = [
        (
            _schedule_json(c.schedule),
            _out(c, current).model_dump(mode="json"),
        )
        for c in contacts
    ]
    body = contacts_feed(entries, operators, name=f"jointsat contacts, {what} {ident}")
    return file_response(body, CALENDAR_TYPE, f"{what}-{ident}-contacts.ics")


@feeds_router.get(
    "/stations/{station_id}/calendar.ics", response_class=Response, responses=FEED_ANSWERS
)
def station_calendar(
    station_id: PathId, token: FeedToken, session: SessionDep, now: NowDep
) -> Response:
    """Return the station's contacts as iCalendar, for a calendar program to subscribe to.

    The contacts of the current schedules over the station that ended at most
    ``FEED_PAST_DAYS`` (7) days ago, as the token's user sees them; each event's UID
    stays with its pass across re-plans, and its STATUS follows the contact's state
    (failed and cancelled: CANCELLED).
    """
    return _feed(session, token, now, station_id=station_id)


@feeds_router.get(
    "/partners/{partner_id}/calendar.ics", response_class=Response, responses=FEED_ANSWERS
)
def partner_calendar(
    partner_id: PathId, token: FeedToken, session: SessionDep, now: NowDep
) -> Response:
    """Return the partner's contacts as iCalendar: over its stations or of its satellites.

    As the station feed, for the contacts over the partner's stations or of the
    satellites it operates.
    """
    return _feed(session, token, now, partner_id=partner_id)
