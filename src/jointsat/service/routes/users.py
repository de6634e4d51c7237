"""Manage users and their API tokens (consortium admin; users may handle their own tokens)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jointsat.service.deps import AdminDep, NowDep, SessionDep, UserDep
from jointsat.service.lookup import commit_or_conflict, found, shown
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import PathId, RowId, Text
from jointsat.service.tokens import issue_token
from jointsat.store.consortium import by_id, tokens, users
from jointsat.store.tables import ApiToken, Partner, Role, User

router = APIRouter(tags=["users"])


class UserCreate(BaseModel):
    """A new user: admins belong to no partner, the others to one."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    role: Role
    partner_id: RowId | None = None

    @model_validator(mode="after")
    def _partner(self) -> UserCreate:
        if (self.role is Role.ADMIN) != (self.partner_id is None):
            raise ValueError("an admin has no partner_id; operators and viewers need one")
        return self


class UserPublic(BaseModel):
    """A user as the API shows it."""

    id: int
    name: str
    role: Role
    partner_id: int | None
    created_at: datetime


class TokenCreate(BaseModel):
    """What a new token is for."""

    model_config = ConfigDict(extra="forbid")

    label: Text = Field(default="", max_length=200)


class TokenIssued(BaseModel):
    """A new token: ``token`` is shown this once and never again."""

    id: int
    token: str
    label: str


class TokenPublic(BaseModel):
    """A token's record (never the token itself)."""

    id: int
    user_id: int
    label: str
    created_at: datetime
    revoked_at: datetime | None


@router.get("/users", response_model=list[UserPublic])
def list_users(session: SessionDep, _: AdminDep) -> list[UserPublic]:
    """List every user (consortium admin)."""
    return [shown(UserPublic, u) for u in users(session)]


@router.post("/users", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, session: SessionDep, _: AdminDep, now: NowDep) -> UserPublic:
    """Add a user (consortium admin)."""
    if body.partner_id is not None and by_id(session, Partner, body.partner_id) is None:
        raise ProblemError(422, "Unprocessable input", f"no partner with id {body.partner_id}")
    user = User(name=body.name, role=body.role, partner_id=body.partner_id, created_at=now)
    session.add(user)
    commit_or_conflict(session, f"a user named {body.name!r} exists")
    return shown(UserPublic, user)


@router.post("/users/{user_id}/tokens", response_model=TokenIssued, status_code=201)
def create_token(
    user_id: PathId, body: TokenCreate, session: SessionDep, caller: UserDep, now: NowDep
) -> TokenIssued:
    """Create a token for a user (an admin for anyone, a user for itself)."""
    if caller.role is not Role.ADMIN and caller.id != user_id:
        raise ProblemError(403, "Forbidden", "only an admin may create tokens for others")
    user = found(by_id(session, User, user_id), "user", user_id)
    token = issue_token(session, user, now=now, label=body.label)
    session.commit()
    row = user.tokens[-1]
    return TokenIssued(id=row.id, token=token, label=row.label)


@router.get("/users/{user_id}/tokens", response_model=list[TokenPublic])
def list_tokens(user_id: PathId, session: SessionDep, caller: UserDep) -> list[TokenPublic]:
    """List a user's tokens (an admin for anyone, a user for itself)."""
    if caller.role is not Role.ADMIN and caller.id != user_id:
        raise ProblemError(404, "Not found", f"no user with id {user_id}")
    return [shown(TokenPublic, t) for t in tokens(session, user_id)]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: PathId, session: SessionDep, caller: UserDep, now: NowDep) -> Response:
    """Revoke a token (an admin any, a user its own); it stops working at once."""
    row = by_id(session, ApiToken, token_id)
    if row is None or (caller.role is not Role.ADMIN and row.user_id != caller.id):
        raise ProblemError(404, "Not found", f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    session.commit()
    return Response(status_code=204)
