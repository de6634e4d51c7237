"""Mission design: partners' areas of interest, and coverage studies run over them.

An area belongs to a partner: its operators (and the admin) add it from GeoJSON and
delete it; ``private`` areas are seen by that partner's users and the admin only,
``consortium`` ones by every member. A design study is stored, then run in the
background (``service/studies.py``); it is seen only by a caller who sees every area
it used (``jointsat.archive.rights``), and then with its provenance. A hidden area or
study is a 404, like a missing one. The service runs studies within
``store.design.API_LIMITS`` (docs/store.md, "Design studies").
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jointsat.design.areas import read_geojson
from jointsat.design.merit import FIGURES
from jointsat.design.sweep import STATISTICS
from jointsat.design_output import coverage_csv
from jointsat.errors import DesignError
from jointsat.jsonfile import storable_json, storable_text
from jointsat.service.deps import NowDep, SessionDep, UserDep
from jointsat.service.exports import CSV_TYPE, PARQUET_TYPE, file_response
from jointsat.service.lookup import (
    commit_or_conflict,
    deleted,
    found,
    may_change,
    visible_area,
    visible_areas,
    visible_studies,
    visible_study,
)
from jointsat.service.problems import ProblemError, field_problem
from jointsat.service.schemas import AwareDatetime, Integer, Number, PathId, RowId, RowKey, Text
from jointsat.store.consortium import by_id
from jointsat.store.design import (
    API_LIMITS,
    StudyInputs,
    SweepInputs,
    add_area,
    add_study,
    area_names,
    json_ready,
    points_columns,
    prepare,
    studies_using,
)
from jointsat.store.tables import (
    AreaRecord,
    AreaVisibility,
    DesignStudyRecord,
    Partner,
    Role,
    StudyStatus,
)

router = APIRouter(tags=["design"])

Name = Annotated[Text, Field(min_length=1, max_length=200)]


# --- areas ---------------------------------------------------------------------------


class GeoJson(BaseModel):
    """A GeoJSON (RFC 7946) Feature, FeatureCollection, Polygon or MultiPolygon."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature", "FeatureCollection", "Polygon", "MultiPolygon"]


class AreaPublic(BaseModel):
    """An area of interest: whose, its name, who sees it, and what kind of shape."""

    id: int
    partner_id: int
    partner: str = Field(description="The owning partner's code")
    name: str
    visibility: AreaVisibility
    kind: str = Field(description="polygon, band or globe")
    created_at: datetime


class AreaFeature(BaseModel):
    """An area as a GeoJSON Feature: its id, and its name, partner and visibility as properties."""

    type: Literal["Feature"] = "Feature"
    id: int
    properties: dict[str, Any]
    geometry: dict[str, Any]


def _area(record: AreaRecord) -> AreaPublic:
    return AreaPublic(
        id=record.id,
        partner_id=record.partner_id,
        partner=record.partner.code,
        name=record.name,
        visibility=record.visibility,
        kind=str(record.feature["properties"].get("kind", "polygon")),
        created_at=record.created_at,
    )


@router.post(
    "/partners/{partner_id}/areas",
    response_model=list[AreaPublic],
    status_code=201,
)
def create_areas(
    partner_id: PathId,
    body: Annotated[GeoJson, Body(description="A Feature, FeatureCollection or bare geometry")],
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    visibility: Annotated[
        AreaVisibility, Query(description="private: its partner only; consortium: every member")
    ] = AreaVisibility.PRIVATE,
    name: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00]*$",
            description="The name of a Feature without a name property (several: NAME-i)",
        ),
    ] = None,
) -> list[AreaPublic]:
    """Add a partner's areas of interest from GeoJSON (its operators, or the admin).

    A FeatureCollection gives one area per Feature, named by its ``name`` property.
    All or nothing: a malformed geometry is a 422 naming it, a name the partner uses
    already a 409, and then nothing is stored.
    """
    partner = found(by_id(session, Partner, partner_id), "partner", partner_id)
    may_change(user, [partner.id], "only the partner's operators or an admin may add its areas")
    document = body.model_dump(mode="json")
    try:
        storable_json(document)
        if name is not None:
            storable_text(name)
    except ValueError as error:
        raise field_problem(["body"], str(error)) from None
    parsed = read_geojson(json.dumps(document), name=name, source="body")
    taken = area_names(session, partner.id)
    for area in parsed:
        if len(area.name) > 200:
            raise field_problem(["body"], f"area name {area.name[:40]!r}... is over 200 characters")
        if area.name in taken:
            raise ProblemError(409, "Conflict", f"partner {partner.code} has an area {area.name!r}")
    records = [add_area(session, partner, a, visibility, now=now, user=user) for a in parsed]
    commit_or_conflict(session, f"partner {partner.code} has an area of that name")
    return [_area(r) for r in records]


@router.get("/areas", response_model=list[AreaPublic])
def list_areas(
    session: SessionDep,
    user: UserDep,
    partner_id: Annotated[RowKey | None, Query(description="Only this partner's")] = None,
) -> list[AreaPublic]:
    """List the areas of interest the caller may see."""
    return [
        _area(a)
        for a in visible_areas(session, user)
        if partner_id is None or a.partner_id == partner_id
    ]


@router.get("/areas/{area_id}", response_model=AreaFeature)
def read_area(area_id: PathId, session: SessionDep, user: UserDep) -> AreaFeature:
    """Return an area the caller may see as a GeoJSON Feature."""
    record = visible_area(session, user, area_id)
    properties = {
        **record.feature["properties"],
        "partner_id": record.partner_id,
        "visibility": record.visibility.value,
    }
    return AreaFeature(id=record.id, properties=properties, geometry=record.feature["geometry"])


@router.delete("/areas/{area_id}", status_code=204)
def delete_area(area_id: PathId, session: SessionDep, user: UserDep) -> Response:
    """Delete an area (its partner's operators, or the admin); 409 while a study used it,
    or an analysis run (its results stay under the area's rule)."""
    record = visible_area(session, user, area_id)
    may_change(user, [record.partner_id], "only the partner's operators or an admin may do this")
    if studies_using(session, record.id):
        raise ProblemError(
            409, "Conflict", f"area {area_id} was used by a design study: delete the study first"
        )
    return deleted(session, record, f"area {area_id} was used by a design study or an analysis run")


# --- studies -------------------------------------------------------------------------

Hours = Annotated[str, Field(pattern=r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$")]
Totals = Annotated[
    list[Annotated[Integer, Field(ge=1, le=API_LIMITS.max_satellites)]],
    Field(min_length=1, max_length=20),
]
Counts = Annotated[
    list[Annotated[Integer, Field(ge=0, le=API_LIMITS.max_satellites)]],
    Field(min_length=1, max_length=20),
]
Values = Annotated[list[Number], Field(max_length=20)]


class SweepCreate(BaseModel):
    """A grid of designs to compare (``jointsat design sweep``): Walker or sun-synchronous."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["walker-delta", "walker-star", "sso"]
    totals: Totals
    altitudes_km: Annotated[list[Number], Field(min_length=1, max_length=20)]
    planes: Counts = Field(default_factory=lambda: [1])
    phasings: Counts = Field(default_factory=lambda: [0])
    inclinations_deg: Values = Field(default_factory=list, description="Walker kinds")
    ltans: Annotated[list[Hours], Field(max_length=20)] = Field(
        default_factory=list, description="sso: local times of the ascending node, HH:MM"
    )
    figure: str = Field(
        default="max_gap_s",
        description="The figure of merit judged (its worst partner's)",
        json_schema_extra={"enum": list(FIGURES)},
    )
    statistic: str = Field(
        default="mean",
        description="How a partner's points are summarised",
        json_schema_extra={"enum": list(STATISTICS)},
    )

    @model_validator(mode="after")
    def _known(self) -> Self:
        if self.figure not in FIGURES:
            raise ValueError(f"figure must be one of {', '.join(FIGURES)}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}")
        return self

    def inputs(self) -> SweepInputs:
        hours = tuple(int(t.split(":")[0]) + int(t.split(":")[1]) / 60.0 for t in self.ltans)
        return SweepInputs(
            kind=self.kind,
            totals=tuple(self.totals),
            altitudes_km=tuple(self.altitudes_km),
            planes=tuple(self.planes),
            phasings=tuple(self.phasings),
            inclinations_deg=tuple(self.inclinations_deg),
            ltans_hours=hours,
            figure=self.figure,
            statistic=self.statistic,
        )


class StudyCreate(BaseModel):
    """A design study to run: constellations (or a sweep) over areas, a window and a rule."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Name
    constellations: Annotated[
        list[Annotated[Text, Field(max_length=200)]], Field(max_length=20)
    ] = Field(
        default_factory=list,
        description="walker:T/P/F:ALT_KM:INC_DEG[:RAAN_DEG], walker-star:..., "
        "sso:ALT_KM:HH:MM[:COUNT]",
    )
    area_ids: Annotated[list[RowId], Field(min_length=1, max_length=API_LIMITS.max_areas)]
    start: AwareDatetime
    end: AwareDatetime | None = Field(default=None, description="Or days")
    days: Number | None = Field(default=None, gt=0, le=API_LIMITS.max_days, description="Or end")
    min_elevation_deg: Number | None = Field(
        default=None,
        description="Least elevation seen from the point (default 10 without a half-angle)",
    )
    half_angle_deg: Number | None = Field(default=None, description="Sensor half-angle from nadir")
    daylight_deg: Number | None = Field(default=None, description="Only while the Sun is this high")
    grid_deg: Number = Field(default=1.0, ge=API_LIMITS.min_grid_deg, le=20.0)
    sweep: SweepCreate | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if (self.end is None) == (self.days is None):
            raise ValueError("give either end or days")
        end = self.end if self.end is not None else self.start + timedelta(days=self.days or 0)
        if end <= self.start:
            raise ValueError("end must be after start")
        if end - self.start > timedelta(days=API_LIMITS.max_days):
            raise ValueError(f"a study's window may span at most {API_LIMITS.max_days:g} days")
        return self

    def inputs(self) -> StudyInputs:
        end = self.end if self.end is not None else self.start + timedelta(days=self.days or 0)
        elevation = self.min_elevation_deg
        if elevation is None and self.half_angle_deg is None:
            elevation = 10.0
        return StudyInputs(
            area_ids=tuple(self.area_ids),
            start=self.start,
            end=end,
            constellations=tuple(self.constellations),
            min_elevation_deg=elevation,
            half_angle_deg=self.half_angle_deg,
            daylight_deg=self.daylight_deg,
            grid_deg=self.grid_deg,
            sweep=None if self.sweep is None else self.sweep.inputs(),
        )


class StudyArea(BaseModel):
    """An area a study used, as the study names it."""

    id: int
    name: str
    partner: str


class StudySummary(BaseModel):
    """A study's headline: what, whose, where it stands."""

    id: int
    name: str
    kind: Literal["coverage", "sweep"]
    status: StudyStatus
    partner_id: int | None = Field(description="The partner that asked (null: the admin)")
    partner: str | None
    areas: list[StudyArea]
    points: int | None = Field(description="Rows of the per-point table (a coverage study, done)")
    error: str | None = Field(description="Why it failed")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StudyPublic(StudySummary):
    """A study with its inputs, its summary (figures per area and partner) and provenance."""

    inputs: dict[str, Any]
    summary: dict[str, Any] | None
    provenance: dict[str, Any] | None


class StudyPoints(BaseModel):
    """A coverage study's per-point table as columns (one list per column, rows aligned)."""

    study_id: int
    points: int
    columns: dict[str, list[Any]]


def _summary(record: DesignStudyRecord) -> StudySummary:
    labels = {}
    for entry in (record.summary or {}).get("areas", []):
        if "id" in entry:
            labels[entry["id"]] = entry["name"]
    return StudySummary(
        id=record.id,
        name=record.name,
        kind=record.kind.value,
        status=record.status,
        partner_id=record.partner_id,
        partner=None if record.partner is None else record.partner.code,
        areas=[
            StudyArea(
                id=link.area_id,
                name=labels.get(link.area_id, link.area.name),
                partner=link.area.partner.code,
            )
            for link in record.area_links
        ],
        points=record.points,
        error=record.error,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


def _public(record: DesignStudyRecord) -> StudyPublic:
    return StudyPublic(
        **_summary(record).model_dump(),
        inputs=record.inputs,
        summary=record.summary,
        provenance=record.provenance,
    )


@router.post(
    "/design/studies",
    response_model=StudySummary,
    status_code=202,
    responses={202: {"description": "Stored and queued: GET its Location for its status"}},
)
def create_study(
    body: StudyCreate,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    request: Request,
    response: Response,
) -> StudySummary:
    """Store a design study and run it in the background (operators and the admin).

    Its areas must be ones the caller sees (an unknown or hidden one is a 422); the
    inputs are checked before anything is stored. Poll ``GET
    /api/v1/design/studies/{id}`` until its status is ``done`` or ``failed``.
    """
    if user.role is Role.VIEWER:
        raise ProblemError(403, "Forbidden", "viewers read studies; operators and admins run them")
    records = []
    for k, area_id in enumerate(body.area_ids):
        try:
            records.append(visible_area(session, user, area_id))
        except ProblemError:
            raise field_problem(
                ["body", "area_ids", str(k)], f"no area with id {area_id}"
            ) from None
    inputs = body.inputs()
    try:
        prepare(inputs, records, API_LIMITS)
    except DesignError as error:
        raise ProblemError(422, "Unprocessable input", error.reason) from None
    record = add_study(
        session, body.name, inputs, records, now=now, partner_id=user.partner_id, user=user
    )
    session.commit()
    response.headers["Location"] = f"/api/v1/design/studies/{record.id}"
    request.app.state.design_runner.nudge()  # service/studies.py runs it
    return _summary(record)


@router.get("/design/studies", response_model=list[StudySummary])
def list_studies(session: SessionDep, user: UserDep) -> list[StudySummary]:
    """List the design studies the caller may see (it sees every area of each)."""
    return [_summary(s) for s in visible_studies(session, user)]


@router.get("/design/studies/{study_id}", response_model=StudyPublic)
def read_study(study_id: PathId, session: SessionDep, user: UserDep) -> StudyPublic:
    """Return a study the caller may see: status, inputs, summary and provenance."""
    return _public(visible_study(session, user, study_id))


@router.delete("/design/studies/{study_id}", status_code=204)
def delete_study(study_id: PathId, session: SessionDep, user: UserDep) -> Response:
    """Delete a study (its partner's operators; the admin any): its areas may then go."""
    record = visible_study(session, user, study_id)
    owners = [] if record.partner_id is None else [record.partner_id]
    may_change(user, owners, "only the study's partner's operators or an admin may do this")
    return deleted(session, record)


@router.get(
    "/design/studies/{study_id}/points",
    response_model=StudyPoints,
    responses={
        200: {"content": {"application/json": {}, CSV_TYPE: {}, PARQUET_TYPE: {}}},
    },
)
def study_points(
    study_id: PathId,
    session: SessionDep,
    user: UserDep,
    format: Annotated[
        Literal["json", "csv", "parquet"],
        Query(description="json: columns (for a map); csv or parquet: the table as a file"),
    ] = "json",
    partner: Annotated[
        str | None,
        Query(
            max_length=32,
            pattern=r"^[^\x00]*$",
            description="Only this partner's points (its code)",
        ),
    ] = None,
) -> Any:
    """Return a done coverage study's per-point table: one row per (area, point).

    Columns: ``area, partner, cell, lat_deg, lon_deg, area_km2`` and the figures of
    merit (docs/design.md); an undefined figure is null (JSON, Parquet) or empty (CSV).
    """
    record = visible_study(session, user, study_id, with_points=True)
    if record.status is not StudyStatus.DONE:
        raise ProblemError(409, "Conflict", f"design study {study_id} is {record.status.value}")
    if record.points_parquet is None:
        raise ProblemError(
            409, "Conflict", f"design study {study_id} is a sweep: its designs are in its summary"
        )
    stem = f"design-study-{study_id}" + ("" if partner is None else f"-{partner}")
    if format == "parquet" and partner is None:
        return file_response(record.points_parquet, PARQUET_TYPE, f"{stem}.parquet")
    columns = points_columns(record.points_parquet, partner)
    if format == "csv":
        return file_response(coverage_csv(columns), CSV_TYPE, f"{stem}.csv")
    if format == "parquet":
        from jointsat.design_output import coverage_parquet_bytes

        return file_response(coverage_parquet_bytes(columns), PARQUET_TYPE, f"{stem}.parquet")
    return StudyPoints(
        study_id=study_id,
        points=len(columns["cell"]),
        columns={k: json_ready(v.tolist()) for k, v in columns.items()},
    )
