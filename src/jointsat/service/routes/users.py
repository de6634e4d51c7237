"""Manage users and their API tokens.

The consortium admin lists, creates, disables and enables users. Tokens: an admin's
token creates tokens for anyone; a token made with the right to mint creates tokens
for its own user (without that right, expiring no later than itself); no other token
creates any. Users list and revoke their own tokens, and may revoke all of them.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jointsat.errors import StoreError
from jointsat.service.deps import AdminDep, NowDep, SessionDep, UserDep, caller_token
from jointsat.service.lookup import commit_or_conflict, found, shown
from jointsat.service.problems import ProblemError, field_problem
from jointsat.service.schemas import Flag, Integer, PathId, RowId, Text
from jointsat.service.tokens import (
    TokenLifetime,
    issue_token,
    may_mint,
    revoke_all,
    revoke_row,
    set_disabled,
)
from jointsat.store.consortium import add_user, by_id, tokens, users
from jointsat.store.tables import ApiToken, Role, User

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
    disabled_at: datetime | None = Field(description="Null: enabled")


class UserUpdate(BaseModel):
    """A change to a user: disable it (its tokens are refused at once) or enable it."""

    model_config = ConfigDict(extra="forbid")

    disabled: Flag


class TokenCreate(BaseModel):
    """What a new token is for, how long it lives, and whether it may mint tokens."""

    model_config = ConfigDict(extra="forbid")

    label: Text = Field(default="", max_length=200)
    expires_in_days: Integer | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Its lifetime (default and maximum: the service's settings)",
    )
    mints: Flag = Field(
        default=False, description="Whether it may create tokens for its user (admin only)"
    )


class TokenIssued(BaseModel):
    """A new token: ``token`` is shown this once and never again."""

    id: int
    token: str
    label: str
    expires_at: datetime
    mints: bool


class TokenPublic(BaseModel):
    """A token's record (never the token itself)."""

    id: int
    user_id: int
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute")
    mints: bool
    minted_by_id: int | None


class TokensRevoked(BaseModel):
    """How many tokens a revoke-all revoked."""

    revoked: int


@router.get("/users", response_model=list[UserPublic])
def list_users(session: SessionDep, _: AdminDep) -> list[UserPublic]:
    """List every user (consortium admin)."""
    return [shown(UserPublic, u) for u in users(session)]


@router.post("/users", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, session: SessionDep, _: AdminDep, now: NowDep) -> UserPublic:
    """Add a user (consortium admin)."""
    try:
        user = add_user(
            session, name=body.name, role=body.role, partner_id=body.partner_id, now=now
        )
    except StoreError as exc:
        raise ProblemError(422, "Unprocessable input", str(exc)) from None
    commit_or_conflict(session, f"a user named {body.name!r} exists")
    return shown(UserPublic, user)


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(
    user_id: PathId, body: UserUpdate, session: SessionDep, _: AdminDep, now: NowDep
) -> UserPublic:
    """Disable a user, whose tokens are refused from now on, or enable it (consortium admin).

    Disabling the last enabled admin is refused (409).
    """
    user = found(by_id(session, User, user_id), "user", user_id)
    try:
        set_disabled(session, user, body.disabled, now=now)
    except StoreError as exc:
        raise ProblemError(409, "Conflict", str(exc)) from None
    session.commit()
    return shown(UserPublic, user)


@router.post("/users/{user_id}/tokens", response_model=TokenIssued, status_code=201)
def create_token(
    user_id: PathId,
    body: TokenCreate,
    request: Request,
    session: SessionDep,
    caller: UserDep,
    now: NowDep,
) -> TokenIssued:
    """Create a token for a user: an admin for anyone, a minting token for its own user.

    A token made by a non-admin's minting token cannot mint, expires no later than the
    token that made it, and is revoked with it.
    """
    minter = caller_token(request)
    admin = caller.role is Role.ADMIN
    if not may_mint(minter):
        raise ProblemError(
            403, "Forbidden", "this token may not create tokens (ask an admin for one that may)"
        )
    if not admin and caller.id != user_id:
        raise ProblemError(403, "Forbidden", "only an admin may create tokens for others")
    if body.mints and not admin:
        raise ProblemError(403, "Forbidden", "only an admin may create tokens that mint")
    user = found(by_id(session, User, user_id), "user", user_id)
    if user.disabled_at is not None:
        raise ProblemError(409, "Conflict", f"user {user.name!r} is disabled")
    lifetime: TokenLifetime = request.app.state.token_lifetime
    try:
        expires_at = lifetime.expiry(now, body.expires_in_days)
    except StoreError as exc:
        raise field_problem(["body", "expires_in_days"], str(exc)) from None
    if not admin:
        expires_at = min(expires_at, minter.expires_at)
    token = issue_token(
        session,
        user,
        now=now,
        label=body.label,
        expires_at=expires_at,
        mints=body.mints,
        minted_by=None if admin else minter,
    )
    session.commit()
    row = user.tokens[-1]
    return TokenIssued(
        id=row.id, token=token, label=row.label, expires_at=row.expires_at, mints=row.mints
    )


@router.get("/users/{user_id}/tokens", response_model=list[TokenPublic])
def list_tokens(user_id: PathId, session: SessionDep, caller: UserDep) -> list[TokenPublic]:
    """List a user's tokens (an admin for anyone, a user for itself)."""
    if caller.role is not Role.ADMIN and caller.id != user_id:
        raise ProblemError(404, "Not found", f"no user with id {user_id}")
    return [shown(TokenPublic, t) for t in tokens(session, user_id)]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: PathId, session: SessionDep, caller: UserDep, now: NowDep) -> Response:
    """Revoke a token (an admin any, a user its own), and those it minted; at once."""
    row = by_id(session, ApiToken, token_id)
    if row is None or (caller.role is not Role.ADMIN and row.user_id != caller.id):
        raise ProblemError(404, "Not found", f"no token with id {token_id}")
    revoke_row(session, row, now=now)
    session.commit()
    return Response(status_code=204)


@router.delete("/users/{user_id}/tokens", response_model=TokensRevoked)
def revoke_all_tokens(
    user_id: PathId, session: SessionDep, caller: UserDep, now: NowDep
) -> TokensRevoked:
    """Revoke every token of a user, the one calling included (an admin any, a user its own)."""
    if caller.role is not Role.ADMIN and caller.id != user_id:
        raise ProblemError(404, "Not found", f"no user with id {user_id}")
    user = found(by_id(session, User, user_id), "user", user_id)
    revoked = revoke_all(session, user, now=now)
    session.commit()
    return TokensRevoked(revoked=revoked)
