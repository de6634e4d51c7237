"""Show the consortium admin the element sources' state and their last refresh."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jointsat.service.deps import AdminDep, SessionDep
from jointsat.store.sources import source_states

router = APIRouter(prefix="/elements", tags=["elements"])
BLOCKABLE = ("celestrak", "spacetrack")  # the sources' states (SupGP shares CelesTrak's)


class SourcePublic(BaseModel):
    """An element source: blocked or not, and its last refresh."""

    source: str
    blocked: bool
    blocked_at: datetime | None = Field(description="Null: not blocked")
    blocked_reason: str = Field(description="The answer that blocked it")
    refreshed_at: datetime | None = Field(description="Null: never refreshed")
    last_refresh: str = Field(description="What the last refresh did, in one line")


@router.get("/sources", response_model=list[SourcePublic])
def sources(session: SessionDep, _: AdminDep) -> list[SourcePublic]:
    """Return each element source's state (consortium admin only)."""
    known = {s.source: s for s in source_states(session)}
    shown = []
    for name in dict.fromkeys([*BLOCKABLE, *sorted(known)]):
        state = known.get(name)
        shown.append(
            SourcePublic(
                source=name,
                blocked=state is not None and state.blocked_at is not None,
                blocked_at=state.blocked_at if state else None,
                blocked_reason=state.blocked_reason if state else "",
                refreshed_at=state.refreshed_at if state else None,
                last_refresh=state.refresh_summary if state else "",
            )
        )
    return shown
