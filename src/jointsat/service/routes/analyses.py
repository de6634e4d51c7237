"""Analysis runs: the archive's products turned into results, under the same rights.

A run reads archived products and makes a derived product (docs/analysis.md). Any
partner's operator (and the admin) may ask for runs over products the caller sees;
the service runs them in the background (``service/analyses.py``). A run is seen by a
caller who sees every product it reads, and a hidden run or product is a 404 or a
422 like a missing one; what a run made (its summary and derived product) is shown
only to a caller who may see the derived product itself (``archive.rights``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from jointsat.analysis.registry import PIPELINES
from jointsat.archive.analyses import request_runs, retry
from jointsat.archive.rights import Caller
from jointsat.errors import AnalysisInputError, ArchiveInputError
from jointsat.service.deps import NowDep, SessionDep, UserDep
from jointsat.service.lookup import found, may_change
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import PathId, Text
from jointsat.store.analyses import run, sees_run, visible_runs
from jointsat.store.products import caller_of, partner_codes, visible
from jointsat.store.tables import AnalysisRun, Role, StudyStatus

router = APIRouter(prefix="/analyses", tags=["analyses"])

MAX_PRODUCTS = 500
"""The most products one request may name."""


class PipelinePublic(BaseModel):
    """A registered pipeline: what it reads and makes, the parameters it takes."""

    name: str
    version: str
    title: str
    reads: str
    makes: str
    sources: str = Field(description="each: a run per product; all: one run over them all")
    parameters: list[str]
    needs_area: bool


class AnalysisCreate(BaseModel):
    """Runs to queue: a pipeline over products, with its parameters."""

    model_config = ConfigDict(extra="forbid")

    pipeline: Text
    products: list[Text] = Field(min_length=1, max_length=MAX_PRODUCTS)
    parameters: dict[str, Any] = Field(default_factory=dict)


class AnalysisPublic(BaseModel):
    """An analysis run as the API shows it."""

    id: int
    pipeline: str
    version: str
    parameters: dict[str, Any]
    trigger: str = Field(description="request: asked for; ingest: an agreement asked for it")
    status: StudyStatus
    partner: str | None
    products: list[str] = Field(description="the products the run reads")
    product_id: str | None = Field(description="the derived product it made (when seen)")
    summary: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _public(record: AnalysisRun, codes: dict[int, str], shows_result: bool) -> AnalysisPublic:
    return AnalysisPublic(
        id=record.id,
        pipeline=record.pipeline,
        version=record.version,
        parameters=record.parameters,
        trigger=record.trigger,
        status=record.status,
        partner=None if record.partner_id is None else codes.get(record.partner_id),
        products=record.source_ids,
        product_id=record.product_id if shows_result else None,
        summary=record.summary if shows_result else None,
        error=record.error,
        attempts=record.attempts,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


def _shown(
    session: SessionDep, record: AnalysisRun, caller: Caller, now: datetime, codes: dict[int, str]
) -> AnalysisPublic:
    made = record.product_id
    shows = made is not None and visible(session, caller, now, made) is not None
    return _public(record, codes, shows)


@router.get("/pipelines", response_model=list[PipelinePublic])
def list_pipelines(_: UserDep) -> list[PipelinePublic]:
    """List the registered pipelines."""
    return [PipelinePublic(**p.as_dict()) for p in PIPELINES.values()]


@router.post(
    "",
    response_model=list[AnalysisPublic],
    status_code=202,
    responses={202: {"description": "Queued: GET /analyses/{id} for each run's status"}},
)
def create_analyses(
    body: AnalysisCreate, session: SessionDep, user: UserDep, now: NowDep, request: Request
) -> list[AnalysisPublic]:
    """Queue runs of a pipeline over products the caller sees (operators and the admin).

    A pipeline that reads each product alone (transits) gets a run per product; one
    that reads a series (ndvi) one run over them all. An unknown or hidden product or
    area, a product of the wrong kind or a parameter the pipeline does not take is a
    422, before anything is stored.
    """
    if user.role is Role.VIEWER:
        raise ProblemError(403, "Forbidden", "viewers read analyses; operators and admins run them")
    caller = caller_of(user)
    try:
        runs = request_runs(
            session,
            body.pipeline,
            body.products,
            body.parameters,
            caller=caller,
            partner_id=user.partner_id,
            user_id=user.id,
            now=now,
        )
    except (AnalysisInputError, ArchiveInputError) as error:
        raise ProblemError(422, "Unprocessable input", str(error)) from None
    request.app.state.analysis_runner.nudge()  # service/analyses.py runs them
    codes = partner_codes(session)
    return [_public(r, codes, False) for r in runs]


@router.get("", response_model=list[AnalysisPublic])
def list_analyses(
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    status: Annotated[StudyStatus | None, Query(description="Only runs in this state")] = None,
    pipeline: Annotated[
        str | None, Query(max_length=50, description="Only this pipeline's")
    ] = None,
    product: Annotated[
        str | None, Query(max_length=64, description="Only runs that read or made this product")
    ] = None,
) -> list[AnalysisPublic]:
    """List the runs the caller sees (it sees every product each reads), newest first."""
    caller = caller_of(user)
    codes = partner_codes(session)
    runs = visible_runs(session, caller, now, status=status, pipeline=pipeline, product=product)
    return [_shown(session, r, caller, now, codes) for r in runs]


def _visible_run(session: SessionDep, caller: Caller, now: datetime, run_id: int) -> AnalysisRun:
    record = run(session, run_id)
    if record is not None and not sees_run(session, caller, record, now):
        record = None
    return found(record, "analysis run", run_id)


@router.get("/{run_id}", response_model=AnalysisPublic)
def read_analysis(
    run_id: PathId, session: SessionDep, user: UserDep, now: NowDep
) -> AnalysisPublic:
    """Return a run the caller sees: its status, and what it made when the caller may see it."""
    caller = caller_of(user)
    record = _visible_run(session, caller, now, run_id)
    return _shown(session, record, caller, now, partner_codes(session))


@router.post("/{run_id}/retry", response_model=AnalysisPublic, status_code=202)
def retry_analysis(
    run_id: PathId, session: SessionDep, user: UserDep, now: NowDep, request: Request
) -> AnalysisPublic:
    """Queue a failed run again (the operators of the partner that asked for it; the admin)."""
    caller = caller_of(user)
    record = _visible_run(session, caller, now, run_id)
    owners = [] if record.partner_id is None else [record.partner_id]
    may_change(user, owners, "only the run's partner's operators or an admin may retry it")
    if record.status is not StudyStatus.FAILED:
        raise ProblemError(409, "Conflict", f"analysis run {run_id} is {record.status.value}")
    retry(session, run_id)
    request.app.state.analysis_runner.nudge()
    return _shown(session, record, caller, now, partner_codes(session))
