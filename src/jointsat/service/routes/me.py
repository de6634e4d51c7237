"""Tell callers who their token belongs to."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from jointsat.service.deps import UserDep
from jointsat.store.tables import Role

router = APIRouter(prefix="/me", tags=["me"])


class MePublic(BaseModel):
    """The calling user."""

    id: int
    name: str
    role: Role
    partner_id: int | None


@router.get("", response_model=MePublic)
def read_me(user: UserDep) -> MePublic:
    """Return the user the bearer token belongs to."""
    return MePublic(id=user.id, name=user.name, role=user.role, partner_id=user.partner_id)
