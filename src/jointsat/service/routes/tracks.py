"""Serve what the dashboard's map and polar plot draw: positions, ground tracks, look angles.

Every satellite is propagated by SGP4 with its stored element sets, the set
nearest in epoch at each moment (as pass prediction does). A row where SGP4
fails (a decayed satellite) carries null numbers and the error, never a 500.
The numerics are jointsat.orbits.tracks'; the rules of visibility are those of
/satellites and /stations (a satellite or station hidden from the caller: 404).
Each answer says how old the elements it used are (the oldest over a window) and
whether that is stale (docs/elements.md, "Freshness").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, TypeAdapter

from jointsat.constants import MEAN_EARTH_RADIUS_KM
from jointsat.errors import JointsatError
from jointsat.orbits import propagation
from jointsat.orbits.freshness import StaleRule, window_freshness
from jointsat.orbits.sun import is_sunlit, sun_position_km
from jointsat.orbits.tracks import (
    horizon_radius_km,
    look_angles,
    split_at_antimeridian,
    subsatellite_points,
)
from jointsat.service.cache import ViewingDep
from jointsat.service.deps import NowDep, SessionDep, StaleRuleDep, UserDep
from jointsat.service.lookup import (
    check_window,
    visible_satellite,
    visible_satellites,
    visible_station,
)
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import MAX_ID, AwareDatetime, PathId
from jointsat.store.convert import orbit_of
from jointsat.store.tables import Satellite, User
from jointsat.timelib import TimeOrigin, format_iso

# The prefix is /satellites's: app.py includes this router before satellites.router,
# or GET /satellites/positions would be taken for GET /satellites/{satellite_id}.
router = APIRouter(prefix="/satellites", tags=["satellites"])

MAX_TRACK_SPAN = timedelta(days=3)
MAX_TRACK_SAMPLES = 20_000
TRACK_BEFORE_NOW = timedelta(minutes=45)
TRACK_AFTER_NOW = timedelta(minutes=90)
MAX_LOOK_SPAN = timedelta(days=1)
MAX_LOOK_SAMPLES = 5_000  # a long pass every second, a day every 18 s (86,401 cost 5 s of CPU)

Start = Annotated[AwareDatetime | None, Query(description="Window start, ISO 8601")]
End = Annotated[AwareDatetime | None, Query(description="Window end, ISO 8601")]
AGE_DESCRIPTION = (
    "Age of the element set used: |time - its epoch| in days (the oldest over a window); "
    "of an ephemeris: the time since its creation; null where nothing predicts it"
)
STALE_DESCRIPTION = "Whether that age is past the satellite's threshold (7 days in LEO, 30 above)"


class Aged(BaseModel):
    """How old the elements behind an answer are."""

    elements_age_days: float | None = Field(description=AGE_DESCRIPTION)
    stale: bool = Field(description=STALE_DESCRIPTION)

    @classmethod
    def over(
        cls, orbit: propagation.Orbit, start: datetime, end: datetime, rule: StaleRule
    ) -> dict[str, Any]:
        """Return the fields for the oldest the orbit's elements get over [start, end]."""
        found = window_freshness(orbit, start, end, rule)
        age = _number(found.elements_age_days)
        return {"elements_age_days": None if age is None else round(age, 6), "stale": found.stale}


class Position(Aged):
    """Where a satellite is at one moment, and the ground it sees."""

    satellite_id: int
    norad_id: int
    name: str
    lat_deg: float | None = Field(description="Geodetic latitude of the sub-satellite point")
    lon_deg: float | None = Field(description="Longitude of the sub-satellite point, [-180, 180]")
    alt_km: float | None = Field(description="Height above the WGS-84 ellipsoid")
    footprint_radius_km: float | None = Field(
        description="Great-circle distance from the sub-satellite point to where the "
        f"satellite stands at min_elevation_deg (Earth of mean radius {MEAN_EARTH_RADIUS_KM} km)"
    )
    sunlit: bool | None
    error: str | None = Field(description="Why the numbers are null (SGP4 failed), else null")


LatLon = Annotated[list[float], Field(min_length=2, max_length=2)]
"""A point as [lat_deg, lon_deg] (Leaflet's order)."""


class Track(Aged):
    """A satellite's ground track, in segments that do not cross the antimeridian."""

    satellite_id: int
    norad_id: int
    name: str
    start: datetime
    end: datetime
    step_s: int
    segments: list[list[LatLon]] = Field(
        description="Lines of [lat_deg, lon_deg] points; each one after the first begins, "
        "and each one before the last ends, at the antimeridian (interpolated point)"
    )
    error: str | None = Field(
        description="Why samples are missing (SGP4 failed at some of them), else null"
    )


class LookSample(BaseModel):
    """The satellite as a station sees it at one moment."""

    time: datetime
    azimuth_deg: float | None = Field(description="From north through east, [0, 360)")
    elevation_deg: float | None = Field(description="Geometric, from the geodetic horizon")
    range_km: float | None


class Look(Aged):
    """A satellite's azimuth, elevation and range from a station over a window."""

    satellite_id: int
    station_id: int
    samples: list[LookSample]
    error: str | None = Field(description="Why some samples are null (SGP4 failed), else null")


def _orbit(
    session: SessionDep, user: User, satellite_id: int
) -> tuple[Satellite, propagation.Orbit]:
    """Return a satellite the caller sees and its engine orbit (404 if it has none)."""
    satellite = visible_satellite(session, user, satellite_id)
    orbit = orbit_of(satellite)
    if orbit is None:
        raise ProblemError(
            404, "Not found", f"satellite {satellite_id} has no element sets or ephemerides"
        )
    return satellite, orbit


def _grid(start: datetime, end: datetime, step_s: int) -> list[datetime]:
    """Return the sample times: start, start + step, ... and end (always the last one)."""
    span = (end - start).total_seconds()
    seconds = [k * step_s for k in range(math.ceil(span / step_s))] + [span]
    return [start + timedelta(seconds=s) for s in seconds]


def _propagate(
    orbit: propagation.Orbit, times: Sequence[datetime]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """Return TEME positions ``(T, 3)`` (NaN where SGP4 failed), jd, fr and the first error."""
    origin = TimeOrigin.of(times[0])
    jd, fr = origin.julian([origin.seconds(t) for t in times])
    try:
        codes, r, _ = propagation.propagate([orbit], jd, fr)
    except (JointsatError, ValueError) as exc:
        return np.full((len(times), 3), np.nan), jd, fr, f"cannot propagate: {exc}"
    r = r[0]
    failed = np.flatnonzero(codes[0])
    error = None
    if failed.size:
        first = int(failed[0])
        when = format_iso(times[first])
        error = f"SGP4 failed from {when}: {propagation.error_message(int(codes[0, first]))}"
    with np.errstate(invalid="ignore"):
        r[~np.isfinite(r).all(axis=-1)] = np.nan
    return r, jd, fr, error


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class _Flown:
    """The satellites a caller sees that have element sets, parsed once per store revision."""

    ids: tuple[int, ...]
    norad_ids: tuple[int, ...]
    names: tuple[str, ...]
    orbits: tuple[propagation.Orbit, ...]


def _flown(session: SessionDep, user: User) -> _Flown:
    flown = [(s, o) for s in visible_satellites(session, user) if (o := orbit_of(s)) is not None]
    return _Flown(
        tuple(s.id for s, _ in flown),
        tuple(s.norad_id for s, _ in flown),
        tuple(s.name for s, _ in flown),
        tuple(o for _, o in flown),
    )


@router.get("/positions", response_model=list[Position])
def positions(
    viewing: ViewingDep,
    now: NowDep,
    stale_rule: StaleRuleDep,
    at: Annotated[
        AwareDatetime | None, Query(description="The moment, ISO 8601 (default: now)")
    ] = None,
    min_elevation_deg: Annotated[
        float, Query(ge=0.0, le=90.0, description="Elevation at the footprint's edge")
    ] = 0.0,
) -> Response:
    """Return where every satellite the caller may see, with element sets, is at a moment.

    The satellites' orbits are parsed once per store revision and propagated together;
    an answer for a given ``at`` is kept until the store's next write.
    """
    flown = viewing.remembered("flown satellites", lambda: _flown(viewing.session, viewing.user))
    if at is None:  # now: a moment no other request asks for
        body = _POSITIONS.dump_json(_positions(flown, now, min_elevation_deg, stale_rule))
        return Response(content=body, media_type="application/json")
    return viewing.cached(
        "positions",
        list[Position],
        lambda: _positions(flown, at, min_elevation_deg, stale_rule),
        at,
        min_elevation_deg,
    )


_POSITIONS = TypeAdapter(list[Position])


def _positions(
    flown: _Flown, moment: datetime, min_elevation_deg: float, stale_rule: StaleRule
) -> list[Position]:
    """Return the satellites' positions at the moment, all propagated in one call."""
    origin = TimeOrigin.of(moment)
    jd, fr = origin.julian([origin.seconds(moment)])
    n = len(flown.orbits)
    errors: list[str | None] = [None] * n
    try:
        codes, r, _ = propagation.propagate(flown.orbits, jd, fr)
        r = r[:, 0, :]
        for i in np.flatnonzero(codes[:, 0]).tolist():
            message = propagation.error_message(int(codes[i, 0]))
            errors[i] = f"SGP4 failed from {format_iso(moment)}: {message}"
    except (JointsatError, ValueError):  # one satellite spoils the batch: each on its own
        rows = [_propagate(orbit, [moment]) for orbit in flown.orbits]
        r = np.concatenate([row[0] for row in rows]) if rows else np.empty((0, 3))
        errors = [row[3] for row in rows]
    with np.errstate(invalid="ignore"):
        r[~np.isfinite(r).all(axis=-1)] = np.nan
    jd_n, fr_n = np.repeat(jd, n), np.repeat(fr, n)
    lat, lon, alt = subsatellite_points(r, jd_n, fr_n)
    radius = horizon_radius_km(alt, min_elevation_deg)
    sunlit = is_sunlit(r, sun_position_km(jd_n, fr_n))
    answer = []
    for i in range(n):
        error = errors[i]
        values = [_number(v[i]) for v in (lat, lon, alt, radius)]
        if error is None and None in values:
            error = "the position is not a finite number"
        if error is not None:
            values = [None, None, None, None]
        answer.append(
            Position(
                satellite_id=flown.ids[i],
                norad_id=flown.norad_ids[i],
                name=flown.names[i],
                lat_deg=values[0],
                lon_deg=values[1],
                alt_km=values[2],
                footprint_radius_km=values[3],
                sunlit=None if error else bool(sunlit[i]),
                error=error,
                **Aged.over(flown.orbits[i], moment, moment, stale_rule),
            )
        )
    return answer


def _window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Fill a missing end of the track's window: one orbit-ish, 45 min back to 90 min on."""
    span = TRACK_BEFORE_NOW + TRACK_AFTER_NOW
    try:
        if start is None and end is None:
            return now - TRACK_BEFORE_NOW, now + TRACK_AFTER_NOW
        if end is None:
            assert start is not None
            return start, start + span
        return (end - span if start is None else start), end
    except OverflowError:
        raise ProblemError(422, "Invalid request", "the window runs out of the calendar") from None


def _check_window(
    start: datetime, end: datetime, step_s: int, max_span: timedelta, max_samples: int | None
) -> None:
    check_window(start, end, max_span, "day(s)")
    samples = math.ceil((end - start).total_seconds() / step_s) + 1
    if max_samples is not None and samples > max_samples:
        raise ProblemError(
            422,
            "Invalid request",
            f"{samples} samples asked; at most {max_samples}: raise step_s or shorten the window",
        )


@router.get("/{satellite_id}/track", response_model=Track)
def track(
    satellite_id: PathId,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    stale_rule: StaleRuleDep,
    start: Start = None,
    end: End = None,
    step_s: Annotated[int, Query(ge=1, le=3600, description="Seconds between samples")] = 60,
) -> Track:
    """Return the satellite's ground track, split at the antimeridian for a flat map.

    Without start and end: from 45 minutes before now to 90 minutes after (about
    an orbit and a half in low orbit); with one of them, 135 minutes from or to it.
    At most 3 days and 20,000 samples; the end is always the last sample.
    """
    start, end = _window(start, end, now)
    _check_window(start, end, step_s, MAX_TRACK_SPAN, MAX_TRACK_SAMPLES)
    satellite, orbit = _orbit(session, user, satellite_id)
    times = _grid(start, end, step_s)
    r, jd, fr, error = _propagate(orbit, times)
    lat, lon, _ = subsatellite_points(r, jd, fr)
    segments = split_at_antimeridian(lat, lon)
    return Track(
        satellite_id=satellite.id,
        norad_id=satellite.norad_id,
        name=satellite.name,
        start=start,
        end=end,
        step_s=step_s,
        segments=[s.tolist() for s in segments],
        error=error,
        **Aged.over(orbit, start, end, stale_rule),
    )


@router.get("/{satellite_id}/look", response_model=Look)
def look(
    satellite_id: PathId,
    session: SessionDep,
    user: UserDep,
    stale_rule: StaleRuleDep,
    station_id: Annotated[int, Query(ge=1, le=MAX_ID, description="The observing station")],
    start: Annotated[AwareDatetime, Query(description="Window start (a pass's AOS), ISO 8601")],
    end: Annotated[AwareDatetime, Query(description="Window end (a pass's LOS), ISO 8601")],
    step_s: Annotated[int, Query(ge=1, le=600, description="Seconds between samples")] = 10,
) -> Look:
    """Return azimuth, elevation and range from the station, for a pass's polar plot.

    At most one day and 5,000 samples; samples from start every step_s seconds, and at end.
    """
    _check_window(start, end, step_s, MAX_LOOK_SPAN, MAX_LOOK_SAMPLES)
    satellite, orbit = _orbit(session, user, satellite_id)
    station = visible_station(session, user, station_id)
    times = _grid(start, end, step_s)
    r, jd, fr, error = _propagate(orbit, times)
    az, el, rng = look_angles(r, jd, fr, station.lat_deg, station.lon_deg, station.alt_m)
    return Look(
        satellite_id=satellite.id,
        station_id=station.id,
        samples=[
            LookSample(
                time=t, azimuth_deg=_number(a), elevation_deg=_number(e), range_km=_number(d)
            )
            for t, a, e, d in zip(times, az.tolist(), el.tolist(), rng.tolist(), strict=True)
        ],
        error=error,
        **Aged.over(orbit, start, end, stale_rule),
    )
