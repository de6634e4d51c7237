"""Let partners ask the pooled satellites to observe: Earth targets and sky targets.

A request is its partner's own: its users read it, its operators create, replace and
delete it, the admin does everything (access.py). Every field is checked by the
planner's own rules (``jointsat.planning.requests``); a bad one is a 422 naming it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from jointsat.errors import PlanningInputError
from jointsat.orbits.elements import MAX_CATALOG_NUMBER
from jointsat.planning.requests import EarthTarget, Mode, SkyTarget
from jointsat.planning.requests import Request as CoreRequest
from jointsat.service.access import sees_satellite
from jointsat.service.cache import ViewingDep
from jointsat.service.concurrency import CONDITIONAL, READ, WRITE, ConditionalDep, tagged
from jointsat.service.deps import NowDep, SessionDep, UserDep
from jointsat.service.lookup import deleted, may_change, visible_request, visible_requests
from jointsat.service.problems import field_path, field_problem
from jointsat.service.schemas import Integer, Number, PathId, RowId, RowKey, TimeWindow
from jointsat.store.consortium import by_id, satellite_visibilities, satellites_by_number
from jointsat.store.requests import check_request, fill_request
from jointsat.store.tables import ObservationRequest, Partner, Role, User

router = APIRouter(prefix="/requests", tags=["requests"])

CatalogNumber = Annotated[Integer, Field(ge=1, le=MAX_CATALOG_NUMBER)]


def _default(kind: type[Any], name: str) -> Any:
    """Return the core's default for a request field, so that the API never differs."""
    return next(f.default for f in dataclasses.fields(kind) if f.name == name)


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gain: Integer = Field(description="What serving it once is worth, 1 to 1,000,000")
    window: TimeWindow | None = Field(
        default=None, description="When it may be observed (null: whenever a plan covers)"
    )
    satellites: list[CatalogNumber] = Field(
        default_factory=list,
        description="Catalog numbers of the only satellites that may serve it (empty: any)",
    )


class EarthFields(_Fields):
    """A point on the Earth to image (docs/planning.md)."""

    kind: Literal["earth"]
    lat_deg: Number
    lon_deg: Number
    alt_m: Number = _default(EarthTarget, "alt_m")
    max_off_nadir_deg: Number = _default(EarthTarget, "max_off_nadir_deg")
    min_sun_elevation_deg: Number | None = Field(
        default=_default(EarthTarget, "min_sun_elevation_deg"),
        description="Least elevation of the Sun at the target (null: no light needed)",
    )
    mode: Mode = _default(EarthTarget, "mode")
    min_duration_s: Number = _default(EarthTarget, "min_duration_s")
    stereo_angle_deg: Number = _default(EarthTarget, "stereo_angle_deg")


class SkyFields(_Fields):
    """A direction on the sky to observe without a break (docs/planning.md)."""

    kind: Literal["sky"]
    ra_deg: Number
    dec_deg: Number
    duration_s: Number
    min_sun_angle_deg: Number = _default(SkyTarget, "min_sun_angle_deg")
    min_earth_limb_angle_deg: Number = _default(SkyTarget, "min_earth_limb_angle_deg")
    eclipse_only: StrictBool = _default(SkyTarget, "eclipse_only")


class _Owner(BaseModel):
    partner_id: RowId | None = Field(
        default=None,
        description="Whose request (default: the caller's partner; the admin must name it)",
    )


class EarthCreate(EarthFields, _Owner):
    """A new Earth target."""


class SkyCreate(SkyFields, _Owner):
    """A new sky target."""


RequestCreate = Annotated[EarthCreate | SkyCreate, Field(discriminator="kind")]
RequestFields = Annotated[EarthFields | SkyFields, Field(discriminator="kind")]


class _Stored(BaseModel):
    id: int
    partner_id: int
    partner: str = Field(description="The partner's code")
    created_at: datetime
    updated_at: datetime
    created_by: str | None = Field(description="The user who created it (null: gone)")


class EarthPublic(EarthFields, _Stored):
    """A stored Earth target."""


class SkyPublic(SkyFields, _Stored):
    """A stored sky target."""


RequestPublic = Annotated[EarthPublic | SkyPublic, Field(discriminator="kind")]


def public(record: ObservationRequest) -> EarthPublic | SkyPublic:
    """Return a stored request as the API shows it (``jointsat requests list`` too)."""
    document = dict(record.document)
    document["satellites"] = [int(s) for s in document.get("satellites", [])]
    stored: dict[str, Any] = {
        "id": record.id,
        "partner_id": record.partner_id,
        "partner": record.partner.code,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "created_by": record.creator.name if record.creator else None,
    }
    if document["kind"] == "sky":
        return SkyPublic.model_validate({**document, **stored})
    return EarthPublic.model_validate({**document, **stored})


def _checked(
    session: SessionDep, user: User, body: EarthFields | SkyFields, partner: Partner
) -> CoreRequest:
    """Return the core's request for the body, or answer 422 naming the bad field."""
    document = body.model_dump(mode="json", exclude={"partner_id"})
    document["satellites"] = [str(n) for n in body.satellites]
    try:
        request = check_request(document, partner=partner.code)
    except PlanningInputError as exc:
        raise field_problem(["body", *field_path(exc.location)], exc.reason) from None
    visibility = satellite_visibilities(session)
    stored = satellites_by_number(session, body.satellites)
    for k, number in enumerate(body.satellites):
        found = stored.get(number)
        if found is None or not sees_satellite(user, found, visibility):
            raise field_problem(
                ["body", "satellites", str(k)], f"no satellite with catalog number {number}"
            )
    return request


def _changeable(session: SessionDep, user: User, request_id: int) -> ObservationRequest:
    record = visible_request(session, user, request_id)
    may_change(user, [record.partner_id], "only the partner's operators or an admin may do this")
    return record


@router.get("", response_model=list[RequestPublic])
def list_requests(
    viewing: ViewingDep,
    partner_id: Annotated[RowKey | None, Query(description="Only this partner's")] = None,
) -> Response:
    """List the requests the caller may see: its partner's (the admin: everyone's)."""

    def make() -> list[EarthPublic | SkyPublic]:
        return [public(r) for r in visible_requests(viewing.session, viewing.user, partner_id)]

    return viewing.cached("requests", list[RequestPublic], make, partner_id)


@router.post("", response_model=RequestPublic, status_code=201)
def create_request(
    body: RequestCreate, session: SessionDep, user: UserDep, now: NowDep
) -> EarthPublic | SkyPublic:
    """Add a request for a partner (its operators; the admin, naming the partner)."""
    partner_id = body.partner_id
    if partner_id is None:
        if user.role is Role.ADMIN:
            raise field_problem(["body", "partner_id"], "the admin must name the partner")
        partner_id = user.partner_id
    partner = by_id(session, Partner, partner_id)
    if partner is None:
        raise field_problem(["body", "partner_id"], f"no partner with id {partner_id}")
    may_change(user, [partner.id], "only the partner's operators or an admin may add its requests")
    record = ObservationRequest(partner=partner)
    fill_request(record, _checked(session, user, body, partner), now=now, user=user)
    session.add(record)
    session.commit()
    return public(record)


@router.get("/{request_id}", response_model=RequestPublic, responses=READ)
def read_request(
    request_id: PathId, session: SessionDep, user: UserDep, response: Response
) -> EarthPublic | SkyPublic:
    """Return one request the caller may see, its version as the ETag."""
    record = visible_request(session, user, request_id)
    tagged(response, record)
    return public(record)


@router.put("/{request_id}", response_model=RequestPublic, responses=WRITE)
def replace_request(
    request_id: PathId, body: RequestFields, user: UserDep, now: NowDep, write: ConditionalDep
) -> EarthPublic | SkyPublic:
    """Replace a request's target and terms (its partner's operators, or the admin).

    Plans made before keep the request as it was when they were made.
    """
    session = write.session
    record = _changeable(session, user, request_id)
    with write(record, f"no request with id {request_id}"):
        fill_request(record, _checked(session, user, body, record.partner), now=now)
        session.commit()
    write.tag(record)
    return public(record)


@router.delete("/{request_id}", status_code=204, responses=CONDITIONAL)
def delete_request(request_id: PathId, user: UserDep, write: ConditionalDep) -> Response:
    """Withdraw a request (its partner's operators, or the admin); plans keep their record."""
    record = _changeable(write.session, user, request_id)
    with write(record, f"no request with id {request_id}"):
        answer = deleted(write.session, record)
    return answer
