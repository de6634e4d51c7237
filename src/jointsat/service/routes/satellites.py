"""Read and manage satellites, their operators and their element-set history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jointsat.constants import DAY_S
from jointsat.errors import ElementsError, PlanningInputError, RadioError
from jointsat.operations.radio import links_json, parse_links
from jointsat.orbits.elements import MAX_CATALOG_NUMBER
from jointsat.planning.problem import Agility, Imager
from jointsat.planning.requests import Kind
from jointsat.service.cache import ViewingDep
from jointsat.service.concurrency import READ, WRITE, ConditionalDep, tagged
from jointsat.service.deps import AdminDep, NowDep, SessionDep, UserDep
from jointsat.service.lookup import (
    commit_or_conflict,
    may_change,
    shown,
    visible_satellite,
    visible_satellites,
)
from jointsat.service.problems import ProblemError, field_problem
from jointsat.service.schemas import Integer, Number, PathId, RowKey, Text
from jointsat.settings import SOURCE_KINDS
from jointsat.store.consortium import (
    Arrival,
    add_satellite,
    by_id,
    element_set_history,
    store_upload,
)
from jointsat.store.requests import imager_of, set_payload
from jointsat.store.tables import Partner, Satellite

router = APIRouter(prefix="/satellites", tags=["satellites"])
FRACTION_TOLERANCE = 1e-9
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SOURCE = 500  # ElementSetRecord.source


DEFAULT_AGILITY = Agility()


class AgilityFields(BaseModel):
    """How fast the satellite turns: rest-to-rest slews, then settling."""

    model_config = ConfigDict(extra="forbid")

    max_rate_deg_s: Number = DEFAULT_AGILITY.max_rate_deg_s
    max_accel_deg_s2: Number = DEFAULT_AGILITY.max_accel_deg_s2
    settle_s: Number = DEFAULT_AGILITY.settle_s


class Payload(BaseModel):
    """A satellite's observing payload, for planning (as in a planning problem's satellites)."""

    model_config = ConfigDict(extra="forbid")

    observes: list[Kind] = Field(
        default_factory=lambda: [Kind.EARTH, Kind.SKY], description="'earth', 'sky' or both"
    )
    memory_mbit: Number = Field(description="On-board memory, megabits")
    imaging_rate_mbps: Number = Field(description="Data written per second of observation")
    downlink_rate_mbps: Number = Field(description="Data sent per second of downlink contact")
    agility: AgilityFields = Field(default_factory=AgilityFields)


def payload_imager(norad_id: int, payload: Payload | None) -> Imager | None:
    """Check a payload with the planner's own rules, answering 422 naming a bad field.

    The command line checks payloads with it too.
    """
    if payload is None:
        return None
    try:
        return Imager(
            id=str(norad_id),
            memory_mbit=payload.memory_mbit,
            imaging_rate_mbps=payload.imaging_rate_mbps,
            downlink_rate_mbps=payload.downlink_rate_mbps,
            agility=Agility(**payload.agility.model_dump()),
            observes=frozenset(payload.observes),
        )
    except PlanningInputError as exc:
        nested = exc.location in AgilityFields.model_fields
        where = f"agility.{exc.location}" if nested else exc.location
        raise field_problem(("body", "payload", *where.split(".")), exc.reason) from None


def _payload(satellite: Satellite) -> Payload | None:
    imager = imager_of(satellite)
    if imager is None:
        return None
    agility = shown(AgilityFields, imager.agility)
    return shown(Payload, imager, observes=sorted(imager.observes), agility=agility)


LinksField = Annotated[
    list[dict[str, Any]] | None,
    Field(
        max_length=100,
        description="Its radio links (docs/api.md, 'Radio links'): name, direction, "
        "frequency_hz, offset_hz, transponder, eirp_dbw, data_rate_bps, required_eb_n0_db",
    ),
]


def checked_links(links: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Return the links as stored (each field in full), answering 422 naming a bad one.

    The command line checks links with it too.
    """
    if links is None:
        return None
    try:
        return links_json(parse_links(links, "links"))
    except RadioError as exc:
        raise field_problem(("body", "links"), exc.reason) from None


DailyDemand = Annotated[
    Number | None,
    Field(ge=0.0, le=DAY_S, description="Contact seconds per day useful to it (null: all)"),
]


class SatelliteCreate(BaseModel):
    """A new satellite and the partners that operate it (fractions summing to 1)."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    norad_id: Integer = Field(ge=1, le=MAX_CATALOG_NUMBER)
    operators: dict[RowKey, Number] = Field(min_length=1)
    daily_demand_s: DailyDemand = None
    payload: Payload | None = Field(
        default=None, description="Its observing payload, for planning (null: it does not observe)"
    )
    links: LinksField = None

    @model_validator(mode="after")
    def _fractions(self) -> SatelliteCreate:
        if any(not 0.0 < f <= 1.0 for f in self.operators.values()):
            raise ValueError("each operator's fraction must lie in (0, 1]")
        if abs(sum(self.operators.values()) - 1.0) > FRACTION_TOLERANCE:
            raise ValueError(f"operator fractions sum to {sum(self.operators.values())}, not 1")
        return self


class SatelliteUpdate(BaseModel):
    """Changes to a satellite's use; fields left out stay as they are, null clears them."""

    model_config = ConfigDict(extra="forbid")

    daily_demand_s: DailyDemand = None
    payload: Payload | None = None
    links: LinksField = None


class SatellitePublic(BaseModel):
    """A satellite as the API shows it."""

    id: int
    name: str
    norad_id: int
    operators: dict[int, float]
    element_sets: int
    latest_epoch: datetime | None
    ephemerides: int = Field(description="Uploaded ephemerides (OEM)")
    daily_demand_s: float | None
    payload: Payload | None
    links: list[dict[str, Any]] = Field(
        default_factory=list, description="Its radio links (empty: none stored)"
    )


class ElementSetPublic(BaseModel):
    """One element set of a satellite's history, with its provenance."""

    id: int
    epoch: datetime
    source_kind: str = Field(
        description=f"Where it came from: one of {', '.join(SOURCE_KINDS)} (docs/elements.md)"
    )
    source: str = Field(description="The file uploaded, or the query that fetched it")
    received_at: datetime = Field(description="When it was uploaded or fetched")
    chosen: bool = Field(
        description="Whether predictions use it: of the sets of one epoch, the preferred "
        "source kind's when it arrived"
    )
    age_days: float = Field(
        description="Days from its epoch to the request's time (negative: an epoch ahead)"
    )
    omm: dict[str, Any]
    raw: str | None = Field(
        description="The record as received (null unless raw=true, or for sets stored "
        "before records were kept)"
    )


class EphemerisPublic(BaseModel):
    """An uploaded ephemeris (OEM): what it covers, in which frame, where it came from."""

    id: int
    source: str
    received_at: datetime
    created_at: datetime = Field(description="The OEM's CREATION_DATE")
    coverage_start: datetime
    coverage_end: datetime
    frame: str = Field(description="Its REF_FRAME (several joined by '/')")


class UploadResult(BaseModel):
    """What an element upload stored (an OEM: one ephemeris, described)."""

    stored: int
    already_known: int
    satellite: SatellitePublic
    ephemeris: EphemerisPublic | None = Field(
        default=None, description="The ephemeris an OEM upload stored or found, else null"
    )


def public(satellite: Satellite) -> SatellitePublic:
    """Return the satellite as the API shows it (the command line shows it so too)."""
    epochs = [e.epoch for e in satellite.element_sets]
    return shown(
        SatellitePublic,
        satellite,
        operators={o.partner_id: o.fraction for o in satellite.operators},
        element_sets=len(epochs),
        ephemerides=len(satellite.ephemerides),
        latest_epoch=max(epochs) if epochs else None,
        payload=_payload(satellite),
        links=list(satellite.links or []),
    )


@router.get("", response_model=list[SatellitePublic])
def list_satellites(viewing: ViewingDep) -> Response:
    """List the satellites the caller may see."""

    def make() -> list[SatellitePublic]:
        seen = visible_satellites(viewing.session, viewing.user, flown=False)
        return [public(s) for s in seen]

    return viewing.cached("satellites", list[SatellitePublic], make)


@router.get("/{satellite_id:int}", response_model=SatellitePublic, responses=READ)
def read_satellite(
    satellite_id: PathId, session: SessionDep, user: UserDep, response: Response
) -> SatellitePublic:
    """Return one satellite the caller may see, its version as the ETag."""
    satellite = visible_satellite(session, user, satellite_id)
    tagged(response, satellite)
    return public(satellite)


@router.post("", response_model=SatellitePublic, status_code=201)
def create_satellite(body: SatelliteCreate, session: SessionDep, _: AdminDep) -> SatellitePublic:
    """Add a satellite with its operators (consortium admin: operators set fair shares)."""
    unknown = [p for p in body.operators if by_id(session, Partner, p) is None]
    if unknown:
        raise ProblemError(422, "Unprocessable input", f"no partner with id {unknown[0]}")
    links = checked_links(body.links)
    satellite = add_satellite(
        session,
        name=body.name,
        norad_id=body.norad_id,
        daily_demand_s=body.daily_demand_s,
        imager=payload_imager(body.norad_id, body.payload),
        operators=body.operators,
    )
    satellite.links = links
    commit_or_conflict(session, f"a satellite with catalog number {body.norad_id} exists")
    return public(satellite)


@router.patch("/{satellite_id:int}", response_model=SatellitePublic, responses=WRITE)
def update_satellite(
    satellite_id: PathId, body: SatelliteUpdate, user: UserDep, write: ConditionalDep
) -> SatellitePublic:
    """Set the satellite's payload, daily contact demand or radio links (its operators'
    operators, admin)."""
    satellite = visible_satellite(write.session, user, satellite_id)
    owners = [o.partner_id for o in satellite.operators]
    may_change(user, owners, "only the operators' operators or an admin may change it")
    given = body.model_fields_set
    imager = payload_imager(satellite.norad_id, body.payload) if "payload" in given else None
    links = checked_links(body.links)
    with write(satellite, f"no satellite with id {satellite_id}"):
        if "payload" in given:
            set_payload(satellite, imager)
        if "daily_demand_s" in given:
            satellite.daily_demand_s = body.daily_demand_s
        if "links" in given:
            satellite.links = links
        write.session.commit()
    write.tag(satellite)
    return public(satellite)


@router.get("/{satellite_id:int}/elements", response_model=list[ElementSetPublic])
def element_history(
    satellite_id: PathId,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    raw: Annotated[bool, Query(description="Include each record as received")] = False,
) -> list[ElementSetPublic]:
    """Return every element set stored for the satellite, whatever its source, newest first.

    Newest epoch first; at one epoch the set predictions use (``chosen``) first, then
    the others, the latest arrived first. Each says where and when it came from and its
    age now; ``raw=true`` adds the record as received.
    """
    satellite = visible_satellite(session, user, satellite_id)
    return [
        shown(
            ElementSetPublic,
            e,
            age_days=(now - e.epoch).total_seconds() / DAY_S,
            raw=e.raw if raw else None,
        )
        for e in element_set_history(session, satellite.id, raw=raw)
    ]


@router.post(
    "/{satellite_id:int}/elements",
    response_model=UploadResult,
    status_code=201,
    responses={200: {"model": UploadResult, "description": "Every set was already known"}},
    openapi_extra={
        "requestBody": {
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
            "required": True,
        }
    },
)
async def upload_elements(
    satellite_id: PathId,
    request: Request,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    response: Response,
) -> UploadResult:
    """Store element sets (TLE, 3LE, OMM JSON/CSV/XML/KVN) or an OEM, sent as text or a file.

    All or nothing: a malformed record, or one of another catalog number, rejects
    the whole upload with 422 naming its line or record. Sets already known (same
    epoch) are counted, not stored twice: an upload that stores nothing new answers
    200 (201 when it stores a set), also when the same sets arrive at the same time.
    An OEM (KVN or XML) is stored whole as an ephemeris of this satellite, whatever
    its OBJECT_ID; predictions use it inside its coverage, the element sets outside.
    The answer describes it (coverage, frame); the same text again answers 200.
    """
    satellite = visible_satellite(session, user, satellite_id)
    owners = [o.partner_id for o in satellite.operators]
    may_change(user, owners, "only the operators' operators or an admin may upload")
    text, source = await _upload_text(request)
    arrival = Arrival(source, now, order=request.app.state.source_order)
    try:
        upload = store_upload(session, satellite, text, arrival)
    except ElementsError as exc:
        raise ProblemError(422, "Unprocessable element sets", str(exc)) from None
    if upload is None:
        raise ProblemError(404, "Not found", f"no satellite with id {satellite_id}")
    if upload.stored == 0:
        response.status_code = 200
    return UploadResult(
        stored=upload.stored,
        already_known=upload.already_known,
        satellite=public(satellite),
        ephemeris=None
        if upload.ephemeris is None
        else shown(EphemerisPublic, upload.ephemeris.record),
    )


async def _upload_text(request: Request) -> tuple[str, str]:
    """Return the uploaded text and a name for it (the file name, or 'upload')."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ProblemError(422, "Invalid request", "send the element file as form field 'file'")
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        source = upload.filename or "upload"
        if len(source) > MAX_SOURCE or "\x00" in source:
            raise field_problem(
                ["body", "file"], f"the file name must be text of at most {MAX_SOURCE} characters"
            )
    else:
        data = await request.body()
        source = "upload"
    if len(data) > MAX_UPLOAD_BYTES:
        raise ProblemError(
            413, "Too large", f"element uploads are limited to {MAX_UPLOAD_BYTES} bytes"
        )
    try:
        return data.decode("utf-8-sig"), source
    except UnicodeDecodeError as exc:
        raise ProblemError(
            422, "Unprocessable element sets", f"{source}: not UTF-8 text (byte {exc.start})"
        ) from None
