"""Make API tokens and keep only their hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jointsat.store.tables import ApiToken, User

TOKEN_PREFIX = "jst_"


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, now: datetime, label: str = "") -> str:
    """Create a token for the user and return it: the only time it is seen in clear."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=hash_token(token), label=label, created_at=now))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """Return the user a live (not revoked) token belongs to, or None."""
    return session.scalars(
        select(User)
        .join(ApiToken)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).one_or_none()


def initialise(session: Session, *, name: str, now: datetime) -> str:
    """Create the first consortium admin and return its token; refuse if one exists."""
    from jointsat.errors import StoreError
    from jointsat.store.tables import Role

    if session.scalars(select(User).where(User.role == Role.ADMIN)).first() is not None:
        raise StoreError("the store already has a consortium admin; create tokens instead")
    admin = User(name=name, role=Role.ADMIN, partner_id=None, created_at=now)
    session.add(admin)
    return issue_token(session, admin, now=now, label="created by jointsat admin init")


def revoke(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    """Revoke a token by its id (revoking twice keeps the first time)."""
    from jointsat.errors import StoreError

    row = session.get(ApiToken, token_id)
    if row is None:
        raise StoreError(f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row
