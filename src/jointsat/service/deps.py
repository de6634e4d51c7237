"""Give route handlers a database session, the clock and the calling user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from jointsat.service.problems import ProblemError
from jointsat.service.tokens import LastUse, live_token
from jointsat.store.tables import ApiToken, Role, User


def get_session(request: Request) -> Iterator[Session]:
    """Yield a session of the app's store, closed after the request."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


def get_now(request: Request) -> datetime:
    """Return the current time from the app's clock (injected in tests)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]


def optional_user(request: Request, session: SessionDep) -> User | None:
    """Return the caller's user, None without a token (the public); 401 for a bad token."""
    if "authorization" not in request.headers:
        return None
    return current_user(request, session)


def current_user(request: Request, session: SessionDep) -> User:
    """Return the user whose bearer token came with the request, or answer 401.

    The token must be known, not revoked, not expired, and its user enabled; its row
    is kept in ``request.state.token`` (``caller_token``), and its last use noted.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(
            401, "Unauthorized", "send an API token: 'Authorization: Bearer <token>'"
        )
    now = get_now(request)
    row = live_token(session, token.strip(), now)
    if row is None:
        raise ProblemError(
            401,
            "Unauthorized",
            "the API token is unknown, expired or revoked, or its user disabled",
        )
    state = request.app.state
    if getattr(state, "token_uses", None) is None:
        state.token_uses = LastUse()
    state.token_uses.note(session, row, now)
    request.state.token = row
    return row.user


def caller_token(request: Request) -> ApiToken:
    """Return the row of the token that authenticated the request (after ``current_user``)."""
    row: ApiToken = request.state.token
    return row


UserDep = Annotated[User, Depends(current_user)]
CallerDep = Annotated[User | None, Depends(optional_user)]
"""The calling user, or None for the public (no Authorization header)."""


def require_admin(user: UserDep) -> User:
    """Return the user if a consortium admin, else answer 403."""
    if user.role is not Role.ADMIN:
        raise ProblemError(403, "Forbidden", "only a consortium admin may do this")
    return user


AdminDep = Annotated[User, Depends(require_admin)]
