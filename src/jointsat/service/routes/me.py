"""Tell callers who their token belongs to, and what that token may do until when."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from jointsat.service.deps import UserDep, caller_token
from jointsat.service.tokens import may_mint
from jointsat.store.tables import Role

router = APIRouter(prefix="/me", tags=["me"])


class CallerToken(BaseModel):
    """The token the request came with."""

    id: int
    expires_at: datetime
    mints: bool = Field(description="Whether it may create tokens")


class MePublic(BaseModel):
    """The calling user."""

    id: int
    name: str
    role: Role
    partner_id: int | None
    token: CallerToken


@router.get("", response_model=MePublic)
def read_me(user: UserDep, request: Request) -> MePublic:
    """Return the user the bearer token belongs to, and that token's expiry and rights."""
    row = caller_token(request)
    return MePublic(
        id=user.id,
        name=user.name,
        role=user.role,
        partner_id=user.partner_id,
        token=CallerToken(id=row.id, expires_at=row.expires_at, mints=may_mint(row)),
    )
