"""Read and manage ground stations, within each partner's agreement."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jointsat.errors import PointingError, StationsError
from jointsat.orbits.pointing import Rotator
from jointsat.orbits.stations import HorizonMask
from jointsat.service.cache import ViewingDep
from jointsat.service.concurrency import CONDITIONAL, READ, WRITE, ConditionalDep, tagged
from jointsat.service.deps import NowDep, SessionDep, UserDep
from jointsat.service.lookup import (
    commit_or_conflict,
    deleted,
    may_change,
    patched,
    shown,
    visible_station,
    visible_stations,
)
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import Number, PathId, RowId, Text, TimeWindow
from jointsat.store.consortium import add_station, by_id, record_unavailability, station_kept
from jointsat.store.tables import GroundStation, Partner, UnavailabilityKind, User

router = APIRouter(prefix="/stations", tags=["stations"])

MAX_BANDS = 100
Band = Annotated[Text, Field(min_length=1, max_length=100)]
"""A frequency band a station works in ('S', 'X', 'Ka'...)."""


class Mask(BaseModel):
    """A horizon mask: the lowest usable elevation at each azimuth, piecewise linear."""

    model_config = ConfigDict(extra="forbid")

    azimuth_deg: list[Number]
    elevation_deg: list[Number]

    @model_validator(mode="after")
    def _valid(self) -> Mask:
        try:
            HorizonMask(tuple(self.azimuth_deg), tuple(self.elevation_deg))
        except StationsError as exc:
            raise ValueError(str(exc)) from None
        return self


DEFAULT_ROTATOR = Rotator()


class RotatorFields(BaseModel):
    """The station's az-el rotator: its axes' stops and top speeds, the antenna's beamwidth."""

    model_config = ConfigDict(extra="forbid")

    azimuth_min_deg: Number = DEFAULT_ROTATOR.azimuth_min_deg
    azimuth_max_deg: Number = DEFAULT_ROTATOR.azimuth_max_deg
    elevation_min_deg: Number = DEFAULT_ROTATOR.elevation_min_deg
    elevation_max_deg: Number = DEFAULT_ROTATOR.elevation_max_deg
    azimuth_rate_deg_s: Number = DEFAULT_ROTATOR.azimuth_rate_deg_s
    elevation_rate_deg_s: Number = DEFAULT_ROTATOR.elevation_rate_deg_s
    beamwidth_deg: Number = DEFAULT_ROTATOR.beamwidth_deg

    @model_validator(mode="after")
    def _valid(self) -> RotatorFields:
        try:
            Rotator(**self.model_dump())
        except PointingError as exc:
            raise ValueError(str(exc)) from None
        return self


GOverT = Annotated[
    Number | None,
    Field(
        default=None,
        ge=-60.0,
        le=80.0,
        description="The receiving chain's figure of merit G/T, dB/K (null: unknown)",
    ),
]


class StationFields(BaseModel):
    """What describes a station."""

    model_config = ConfigDict(extra="forbid")

    lat_deg: Number = Field(ge=-90.0, le=90.0)
    lon_deg: Number = Field(ge=-180.0, le=360.0)
    alt_m: Number = Field(default=0.0, ge=-12_000.0, le=100_000.0)
    min_elevation_deg: Number = Field(default=0.0, ge=-90.0, lt=90.0)
    horizon_mask: Mask | None = None
    turnaround_s: Number = Field(default=0.0, ge=0.0)
    bands: list[Band] = Field(default_factory=list, max_length=MAX_BANDS)
    rotator: RotatorFields | None = Field(
        default=None, description="Its rotator model (null: the default one)"
    )
    g_over_t_db_k: GOverT = None


class StationCreate(StationFields):
    """A new station of a partner."""

    name: Text = Field(min_length=1, max_length=200)
    partner_id: RowId


class StationUpdate(BaseModel):
    """Changes to a station; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    lat_deg: Number | None = Field(default=None, ge=-90.0, le=90.0)
    lon_deg: Number | None = Field(default=None, ge=-180.0, le=360.0)
    alt_m: Number | None = Field(default=None, ge=-12_000.0, le=100_000.0)
    min_elevation_deg: Number | None = Field(default=None, ge=-90.0, lt=90.0)
    horizon_mask: Mask | None = None
    turnaround_s: Number | None = Field(default=None, ge=0.0)
    bands: list[Band] | None = Field(default=None, max_length=MAX_BANDS)
    rotator: RotatorFields | None = None
    g_over_t_db_k: GOverT = None


class UnavailabilityCreate(TimeWindow):
    """A window in which the station cannot be used."""

    kind: UnavailabilityKind
    reason: Text = Field(default="", max_length=2000)


class UnavailabilityPublic(BaseModel):
    """An unavailability window as the API shows it."""

    id: int
    start: datetime
    end: datetime
    kind: UnavailabilityKind
    reason: str


class StationPublic(StationCreate):
    """A station as the API shows it."""

    id: int
    unavailable: list[UnavailabilityPublic]


def public(station: GroundStation) -> StationPublic:
    """Return the station as the API shows it (the command line shows it so too)."""
    return shown(
        StationPublic,
        station,
        horizon_mask=Mask(**station.horizon_mask) if station.horizon_mask else None,
        bands=list(station.bands),
        rotator=RotatorFields(**station.rotator) if station.rotator else None,
        unavailable=[shown(UnavailabilityPublic, w, end=w.end_at) for w in station.unavailable],
    )


def _changeable(session: SessionDep, user: User, station_id: int) -> GroundStation:
    station = visible_station(session, user, station_id)
    may_change(user, [station.partner_id], "only the owner's operators or an admin may do this")
    return station


@router.get("", response_model=list[StationPublic])
def list_stations(viewing: ViewingDep) -> Response:
    """List the stations the caller may see."""
    return viewing.cached(
        "stations",
        list[StationPublic],
        lambda: [public(s) for s in visible_stations(viewing.session, viewing.user)],
    )


@router.get("/{station_id}", response_model=StationPublic, responses=READ)
def read_station(
    station_id: PathId, session: SessionDep, user: UserDep, response: Response
) -> StationPublic:
    """Return one station the caller may see, its version as the ETag."""
    station = visible_station(session, user, station_id)
    tagged(response, station)
    return public(station)


@router.post("", response_model=StationPublic, status_code=201)
def create_station(body: StationCreate, session: SessionDep, user: UserDep) -> StationPublic:
    """Add a station to a partner (that partner's operators, or an admin)."""
    if by_id(session, Partner, body.partner_id) is None:
        raise ProblemError(422, "Unprocessable input", f"no partner with id {body.partner_id}")
    may_change(user, [body.partner_id], "only the partner's operators or an admin may add")
    station = add_station(session, body.model_dump())
    commit_or_conflict(session, f"the partner has a station named {body.name!r} already")
    session.refresh(station)
    return public(station)


@router.patch("/{station_id}", response_model=StationPublic, responses=WRITE)
def update_station(
    station_id: PathId, body: StationUpdate, user: UserDep, write: ConditionalDep
) -> StationPublic:
    """Change a station (its partner's operators, or an admin)."""
    station = _changeable(write.session, user, station_id)
    changes = patched(body, nullable={"horizon_mask", "rotator", "g_over_t_db_k"})
    with write(station, f"no station with id {station_id}"):
        for field, value in changes.items():
            setattr(station, field, value)
        clash = f"the partner has a station named {body.name!r} already"
        commit_or_conflict(write.session, clash)
    write.tag(station)
    return public(station)


@router.delete("/{station_id}", status_code=204, responses=CONDITIONAL)
def delete_station(station_id: PathId, user: UserDep, write: ConditionalDep) -> Response:
    """Remove a station that no schedule has a contact at (its partner's operators, or an admin).

    A station with history keeps it: deleting it would take the schedules' contacts with
    it, so the answer is a 409 naming the schedules (record an unavailability instead).
    """
    session = write.session
    station = _changeable(session, user, station_id)
    refusal, used = station_kept(session, station_id)
    if used:
        raise ProblemError(409, "Conflict", refusal, schedule_ids=used)
    with write(station, f"no station with id {station_id}"):
        answer = deleted(session, station, refusal)  # a schedule saved meanwhile: 409 too
    return answer


@router.post(
    "/{station_id}/unavailability",
    response_model=StationPublic,
    status_code=201,
    responses=CONDITIONAL,
)
def add_unavailability(
    station_id: PathId,
    body: UnavailabilityCreate,
    user: UserDep,
    write: ConditionalDep,
    now: NowDep,
) -> StationPublic:
    """Record a maintenance or outage window (its partner's operators, or an admin).

    The station's version (its ETag) moves on.
    """
    station = _changeable(write.session, user, station_id)
    with write(station, f"no station with id {station_id}"):
        record_unavailability(station, body.start, body.end, body.kind, body.reason, now=now)
        write.session.commit()
    return public(station)
