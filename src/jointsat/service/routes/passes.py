"""Predict passes of the stored satellites over the stored stations, as the caller may see."""

from __future__ import annotations

import json
import typing
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, create_model

from jointsat.errors import PredictionRefusedError
from jointsat.orbits.freshness import StaleRule
from jointsat.orbits.passes import Pass
from jointsat.service.cache import ViewingDep
from jointsat.service.deps import NowDep, PassExecutorDep, SessionDep, StaleRuleDep, UserDep
from jointsat.service.exports import (
    CALENDAR_TYPE,
    CSV_TYPE,
    PARQUET_TYPE,
    csv_text,
    file_response,
    parquet_file,
    passes_calendar,
)
from jointsat.service.limits import PredictionBudget
from jointsat.service.lookup import (
    check_window,
    visible_satellites,
    visible_station,
    visible_stations,
)
from jointsat.service.problems import ProblemError, problem_response
from jointsat.service.schemas import MAX_ID, AwareDatetime
from jointsat.store.passes import Budget, window_passes
from jointsat.store.tables import Role, User

router = APIRouter(prefix="/passes", tags=["passes"])
MAX_WINDOW = timedelta(days=31)


class _PassOf(BaseModel):
    """Which satellite passes over which station."""

    satellite_id: int
    satellite: str
    norad_id: int
    station_id: int
    station: str


def _measured() -> dict[str, Any]:
    """Return the engine's Pass fields, its duration before whether it is sunlit."""
    hints = typing.get_type_hints(Pass)
    names = [n for n in hints if n not in ("satellite", "station")]
    names.insert(names.index("sunlit"), "duration_s")
    return {n: (hints.get(n, float), ...) for n in names}


PassPublic = create_model(
    "PassPublic", __base__=_PassOf, __doc__="One pass of a satellite over a station.", **_measured()
)
PASSES = list[PassPublic]  # type: ignore[valid-type]


@router.get(
    "",
    response_model=PASSES,
    responses={
        200: {
            "content": {"application/json": {}, CSV_TYPE: {}, PARQUET_TYPE: {}, CALENDAR_TYPE: {}}
        },
        429: {"description": "The caller's new pass predictions of the hour are spent"},
    },
)
def list_passes(
    viewing: ViewingDep,
    now: NowDep,
    stale_rule: StaleRuleDep,
    executor: PassExecutorDep,
    start: Annotated[AwareDatetime, Query(description="Window start, ISO 8601, UTC if no offset")],
    end: Annotated[AwareDatetime, Query(description="Window end, ISO 8601, UTC if no offset")],
    satellite_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    station_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    partner_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Passes of its satellites or over its stations"),
    ] = None,
    min_max_elevation_deg: Annotated[
        float | None,
        Query(ge=-90.0, le=90.0, description="Only passes whose maximum elevation reaches this"),
    ] = None,
    format: Annotated[
        Literal["json", "csv", "parquet", "ics"] | None,
        Query(
            description="csv: the same rows as a CSV file (or send Accept: text/csv);"
            " parquet: as a Parquet file (or Accept: application/vnd.apache.parquet);"
            " ics: one iCalendar event per pass"
        ),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Return every pass in the window that the caller may see, filtered as asked.

    Each pass says how old the elements used at its TCA are (``elements_age_days``)
    and whether that is past the satellite's threshold (``stale``).

    A window no stored prediction holds is predicted for the whole network: a user
    who is not an admin may have a few such predictions made an hour (docs/store.md,
    "Limits"), then 429 with ``Retry-After``.
    """
    check_window(start, end, MAX_WINDOW, "days")
    query = (start, end, satellite_id, station_id, partner_id)
    budget = _budget(viewing.request, viewing.user)
    try:
        answer = viewing.cached(
            "passes",
            PASSES,
            lambda: _passes(
                viewing.session,
                viewing.user,
                now,
                *query,
                budget=budget,
                stale_rule=stale_rule,
                executor=executor,
            ),
            *query,
        )
    except PredictionRefusedError as exc:
        limit = viewing.request.app.state.prediction_budget.per_hour
        refused = problem_response(
            429,
            "Too many requests",
            f"at most {limit} new pass predictions an hour: ask for a window already"
            " predicted, or again later",
            limit_per_hour=limit,
        )
        refused.headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
        return refused
    if format is None:
        format = _accepted(accept)
    if min_max_elevation_deg is None and format in (None, "json"):
        return answer
    rows = json.loads(bytes(answer.body))
    if min_max_elevation_deg is not None:
        rows = [r for r in rows if r["max_elevation_deg"] >= min_max_elevation_deg]
    stem = f"passes-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}"
    if format == "csv":
        return file_response(csv_text(list(PassPublic.model_fields), rows), CSV_TYPE, f"{stem}.csv")
    if format == "parquet":
        return file_response(parquet_file(PassPublic, rows), PARQUET_TYPE, f"{stem}.parquet")
    if format == "ics":
        calendar = passes_calendar(rows, f"jointsat passes {stem[7:]}", now)
        return file_response(calendar, CALENDAR_TYPE, f"{stem}.ics")
    return Response(content=json.dumps(rows), media_type="application/json")


def _accepted(accept: str | None) -> Literal["csv", "parquet"] | None:
    """Return the file type the Accept header asks for before JSON (a plain first match)."""
    for part in (accept or "").split(","):
        kind = part.split(";")[0].strip().lower()
        if kind == "text/csv":
            return "csv"
        if kind == PARQUET_TYPE:
            return "parquet"
        if kind in ("application/json", "*/*", "application/*"):
            return None
    return None


def _budget(request: Request, user: User) -> Budget | None:
    """Return the user's budget of new predictions (an admin has none: no limit)."""
    if user.role is Role.ADMIN:
        return None
    budget: PredictionBudget = request.app.state.prediction_budget
    return lambda: budget.spend(user.id)


def _passes(
    session: SessionDep,
    user: UserDep,
    now: datetime,
    start: datetime,
    end: datetime,
    satellite_id: int | None,
    station_id: int | None,
    partner_id: int | None,
    *,
    budget: Budget | None = None,
    stale_rule: StaleRule,
    executor: Executor | None = None,
) -> list[_PassOf]:
    satellites = {s.id: s for s in visible_satellites(session, user, satellite_id)}
    if satellite_id is not None and not satellites:
        raise ProblemError(404, "Not found", f"no satellite with id {satellite_id} and elements")
    if station_id is None:
        stations = {g.id: g for g in visible_stations(session, user)}
    else:
        stations = {station_id: visible_station(session, user, station_id)}
    if not satellites or not stations:
        return []
    found = window_passes(
        session,
        start,
        end,
        now=now,
        satellite_ids=satellites,
        station_ids=stations,
        budget=budget,
        stale_rule=stale_rule,
        executor=executor,
    )
    rows = []
    for p in found.passes:
        sat, station = satellites[p.satellite_id], stations[p.station_id]
        if partner_id is not None and not (
            station.partner_id == partner_id
            or any(o.partner_id == partner_id for o in sat.operators)
        ):
            continue
        of = (sat.id, sat.name, sat.norad_id, station.id, station.name)
        measured = {n: getattr(p.found, n) for n in _MEASURED}
        ids: dict[str, Any] = dict(zip(_PassOf.model_fields, of, strict=True))
        rows.append(PassPublic(**ids, **measured))
    return rows


_MEASURED = frozenset(_measured())
