"""Give route handlers a database session, the clock and the calling user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from datetime import datetime
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from jointsat.orbits.freshness import StaleRule
from jointsat.service.problems import ProblemError
from jointsat.service.tokens import LastUse, live_token
from jointsat.store.tables import ApiToken, Role, User


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield a session of the app's store, closed once the answer is sent.

    The session is made on the event loop (it opens no connection until first used)
    and closed on a thread of its own, outside the worker threads endpoints wait for:
    returning a connection to the pool never queues behind requests that need one.
    """
    sessions: sessionmaker[Session] = request.app.state.sessions
    session = sessions()
    try:
        yield session
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))


def get_now(request: Request) -> datetime:
    """Return the current time from the app's clock (injected in tests)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def get_stale_rule(request: Request) -> StaleRule:
    """Return when the service calls elements stale (settings, JOINTSAT_STALE_*_DAYS)."""
    rule: StaleRule = request.app.state.stale_rule
    return rule


def get_pass_executor(request: Request) -> Executor | None:
    """Return where pass predictions run: the Dask cluster's executor, None: here."""
    executor: Executor | None = request.app.state.pass_executor
    return executor


SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
StaleRuleDep = Annotated[StaleRule, Depends(get_stale_rule)]
PassExecutorDep = Annotated[Executor | None, Depends(get_pass_executor)]

BEARER_DESCRIPTION = "An API token (`jointsat token create` prints one)."
BEARER = HTTPBearer(scheme_name="bearer", description=BEARER_DESCRIPTION, auto_error=False)
OPTIONAL_BEARER = HTTPBearer(
    scheme_name="bearer-optional", description=BEARER_DESCRIPTION, auto_error=False
)
"""Declare the bearer scheme in the OpenAPI (so /docs can authorize); they check nothing.

Operations the public may call name ``bearer-optional``, which security.py states as
``[{"bearer": []}, {}]`` (a token, or none).
"""
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
OptionalBearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(OPTIONAL_BEARER)]


def optional_user(
    request: Request, session: SessionDep, declared: OptionalBearerDep
) -> User | None:
    """Return the caller's user, None without a token (the public); 401 for a bad token."""
    if "authorization" not in request.headers:
        return None
    return current_user(request, session, declared)


def current_user(request: Request, session: SessionDep, declared: BearerDep) -> User:
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
