"""Read every partner's agreement; change one (consortium admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from jointsat.analysis.registry import PIPELINES
from jointsat.service.cache import cached_json
from jointsat.service.concurrency import READ, WRITE, ConditionalDep, tagged
from jointsat.service.deps import AdminDep, SessionDep, UserDep
from jointsat.service.lookup import patched, shown
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import Integer, Number, PathId
from jointsat.store.consortium import agreement, agreements, change_agreement
from jointsat.store.tables import Agreement, Visibility

router = APIRouter(prefix="/agreements", tags=["agreements"])


def _pipeline_name(name: str) -> str:
    if name not in PIPELINES:
        raise ValueError(f"no analysis pipeline {name!r}; the pipelines are {', '.join(PIPELINES)}")
    return name


AnalysisName = Annotated[str, AfterValidator(_pipeline_name)]
"""A registered analysis pipeline's name (``jointsat.analysis.registry``)."""
NULLABLE = ("share", "public_release_days")  # null: the contribution share; never public


class AgreementUpdate(BaseModel):
    """Changes to an agreement; ``share`` null returns to the contribution share."""

    model_config = ConfigDict(extra="forbid")

    share: Number | None = Field(default=None, gt=0.0, le=1.0)
    priority_class: Integer | None = Field(default=None, ge=0, le=1000)
    embargo_days: Integer | None = Field(default=None, ge=0, le=36_500)
    public_release_days: Integer | None = Field(
        default=None,
        ge=0,
        le=36_500,
        description="Days after acquisition when its products become public (null: never)",
    )
    station_visibility: Visibility | None = None
    satellite_visibility: Visibility | None = None
    analyses: list[AnalysisName] | None = Field(
        default=None,
        max_length=len(PIPELINES),
        description="The analysis pipelines run on each of its products as it is archived"
        " ([]: none)",
    )


class AgreementPublic(BaseModel):
    """An agreement as the API shows it (terms are open to every member)."""

    partner_id: int
    share: float  # what the partner is entitled to: its set share, else its contribution
    share_is_contribution: bool
    priority_class: int
    embargo_days: int
    public_release_days: int | None
    station_visibility: Visibility
    satellite_visibility: Visibility
    analyses: list[str] = Field(description="The pipelines run on its products on ingest")


def public(row: Agreement) -> AgreementPublic:
    """Return the agreement as the API shows it (the command line shows it so too)."""
    return shown(
        AgreementPublic,
        row,
        share=row.partner.share,
        share_is_contribution=row.share is None,
        analyses=row.analyses or [],
    )


def _get(session: SessionDep, partner_id: int) -> Agreement:
    row = agreement(session, partner_id)
    if row is None:
        raise ProblemError(404, "Not found", f"no agreement for partner id {partner_id}")
    return row


@router.get("", response_model=list[AgreementPublic])
def list_agreements(request: Request, session: SessionDep, _: UserDep) -> Response:
    """List every partner's agreement."""

    def make() -> list[AgreementPublic]:
        return [public(a) for a in agreements(session)]

    return cached_json(request, session, ("agreements",), list[AgreementPublic], make)


@router.get("/{partner_id}", response_model=AgreementPublic, responses=READ)
def read_agreement(
    partner_id: PathId, session: SessionDep, _: UserDep, response: Response
) -> AgreementPublic:
    """Return a partner's agreement, its version as the ETag."""
    row = _get(session, partner_id)
    tagged(response, row)
    return public(row)


@router.patch("/{partner_id}", response_model=AgreementPublic, responses=WRITE)
def update_agreement(
    partner_id: PathId, body: AgreementUpdate, _: AdminDep, write: ConditionalDep
) -> AgreementPublic:
    """Change a partner's agreement (consortium admin); its products' release follows."""
    session = write.session
    row = _get(session, partner_id)
    changes = patched(body, NULLABLE)
    with write(row, f"no agreement for partner id {partner_id}"):
        change_agreement(session, row, changes)
        session.commit()
    write.tag(row)
    return public(row)
