"""Read and (as consortium admin) manage the consortium's partners."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from jointsat.service.cache import cached_json
from jointsat.service.concurrency import CONDITIONAL, READ, WRITE, ConditionalDep, tagged
from jointsat.service.deps import AdminDep, SessionDep, UserDep
from jointsat.service.lookup import commit_or_conflict, deleted, found, patched
from jointsat.service.schemas import Number, PathId, Text
from jointsat.store.consortium import add_partner, by_id, change_partner, partners
from jointsat.store.tables import Partner

router = APIRouter(prefix="/partners", tags=["partners"])


class PartnerCreate(BaseModel):
    """A new partner; its agreement starts from the defaults."""

    model_config = ConfigDict(extra="forbid")

    code: StrictStr = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: Text = Field(min_length=1, max_length=200)
    contribution_share: Number = Field(gt=0.0, le=1.0)


class PartnerUpdate(BaseModel):
    """Changes to a partner; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    contribution_share: Number | None = Field(default=None, gt=0.0, le=1.0)


class PartnerPublic(BaseModel):
    """A partner as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    contribution_share: float


def _get(session: SessionDep, partner_id: int) -> Partner:
    return found(by_id(session, Partner, partner_id), "partner", partner_id)


@router.get("", response_model=list[PartnerPublic])
def list_partners(request: Request, session: SessionDep, _: UserDep) -> Response:
    """List every partner of the consortium (membership is known to all members)."""
    return cached_json(
        request, session, ("partners",), list[PartnerPublic], lambda: partners(session)
    )


@router.get("/{partner_id}", response_model=PartnerPublic, responses=READ)
def read_partner(
    partner_id: PathId, session: SessionDep, _: UserDep, response: Response
) -> Partner:
    """Return one partner, its version as the ETag."""
    partner = _get(session, partner_id)
    tagged(response, partner)
    return partner


@router.post("", response_model=PartnerPublic, status_code=201)
def create_partner(body: PartnerCreate, session: SessionDep, _: AdminDep) -> Partner:
    """Add a partner, with a default agreement (consortium admin)."""
    partner = add_partner(session, **body.model_dump())
    commit_or_conflict(
        session, f"code {body.code!r} or name {body.name!r} clashes with an existing partner"
    )
    return partner


@router.patch("/{partner_id}", response_model=PartnerPublic, responses=WRITE)
def update_partner(
    partner_id: PathId, body: PartnerUpdate, _: AdminDep, write: ConditionalDep
) -> Partner:
    """Change a partner's name or contribution share (consortium admin)."""
    partner = _get(write.session, partner_id)
    changes = patched(body)
    with write(partner, f"no partner with id {partner_id}"):
        change_partner(partner, changes)  # the agreement shows the share: its ETag too
        commit_or_conflict(write.session, f"name {body.name!r} clashes with an existing partner")
    write.tag(partner)
    return partner


@router.delete("/{partner_id}", status_code=204, responses=CONDITIONAL)
def delete_partner(partner_id: PathId, _: AdminDep, write: ConditionalDep) -> Response:
    """Remove a partner that owns no station or satellite share (consortium admin)."""
    partner = _get(write.session, partner_id)
    with write(partner, f"no partner with id {partner_id}"):
        answer = deleted(
            write.session,
            partner,
            f"partner {partner_id} still owns stations, satellite shares, "
            "observation requests, planned observations, areas of interest or design studies",
        )
    return answer
