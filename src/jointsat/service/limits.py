"""Bound what one request may cost before the application reads a byte of its body.

An ASGI middleware, in front of every route (docs/store.md, "Limits"):

- A body larger than its limit is refused with 413 and a problem document: from its
  ``Content-Length`` before anything is read, and while it streams (a chunked body
  is counted as it arrives, so at most the limit and one chunk are ever held).
  The limit is ``Settings.max_product_bytes`` for a product upload (``POST
  /api/v1/products``), ``ELEMENTS_BODY_BYTES`` for an element-set upload, and
  ``Settings.max_body_bytes`` for every other body.
- A body sent to change something (POST, PUT, PATCH, DELETE) must come with a live
  API token (or a station token, for its reports), checked before the body is read:
  without one the answer is 401 and the body is never read. The public's only body
  is a STAC search (``POST /stac/search``), small by the limit above.

Refusals that leave a body unread close the connection (``Connection: close``), so
that the rest of the body is never taken.

It also keeps the per-user budget of new pass predictions (``PredictionBudget``)
and the count of the public's refused reads (``store.products.RefusalTally``),
written to the audit log when the service stops.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from threading import Lock

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jointsat.service.middleware import HttpMiddleware, WatchedSend
from jointsat.service.problems import problem_response
from jointsat.service.tokens import live_access_token, user_for_token
from jointsat.settings import Settings
from jointsat.store.products import RefusalTally
from jointsat.store.tables import AccessKind

PRODUCT_UPLOAD = ("POST", "/api/v1/products")
ELEMENTS_BODY_BYTES = 11 << 20  # the route's own limit (10 MiB of text) and a form's overhead
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_BODIES = frozenset({("POST", "/stac/search")})  # bodies the public may send


class BodyTooLarge(HTTPException):
    """A body that grew past its limit while it arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")
        self.limit = limit


def too_large(limit: int) -> JSONResponse:
    """Return the 413 problem of a body over ``limit`` bytes; the connection is closed."""
    response = problem_response(
        413,
        "Content too large",
        f"the request body is larger than the limit of {limit} bytes",
        limit_bytes=limit,
    )
    response.headers["Connection"] = "close"
    return response


def body_limit(settings: Settings, method: str, path: str) -> int:
    """Return the largest body, in bytes, a request to ``path`` may send."""
    if (method, path.rstrip("/")) == PRODUCT_UPLOAD:
        return settings.max_product_bytes
    if method == "POST" and path.startswith("/api/v1/satellites/") and path.endswith("/elements"):
        return ELEMENTS_BODY_BYTES
    return settings.max_body_bytes


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class RequestLimits(HttpMiddleware):
    """The ASGI middleware of the module's docstring."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, authenticate: Callable[[str], bool]
    ) -> None:
        super().__init__(app)
        self.settings = settings
        self.authenticate = authenticate

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        length_text = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if length_text is None and not chunked:
            await self.app(scope, receive, send)  # no body
            return
        method, path = scope["method"], scope["path"]
        limit = body_limit(self.settings, method, path)
        if length_text is not None:
            try:
                length = int(length_text)
            except ValueError:
                await _close_with(problem_response(400, "Bad request", "bad Content-Length"))(
                    scope, receive, send
                )
                return
            if length > limit:
                await too_large(limit)(scope, receive, send)
                return
            if length == 0:
                await self.app(scope, receive, send)
                return
        if method in CHANGING and (method, path.rstrip("/")) not in PUBLIC_BODIES:
            token = _bearer(headers)
            if token is None or not await run_in_threadpool(self.authenticate, token):
                detail = (
                    "send an API token: 'Authorization: Bearer <token>'"
                    if token is None
                    else "the API token is unknown or revoked"
                )
                await _close_with(problem_response(401, "Unauthorized", detail))(
                    scope, receive, send
                )
                return
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        watched = WatchedSend(send)

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counting_receive, watched)
        except BodyTooLarge:
            if watched.started:
                raise
            await too_large(limit)(scope, receive, send)


def _close_with(response: JSONResponse) -> JSONResponse:
    response.headers["Connection"] = "close"
    return response


class PredictionBudget:
    """Count the new pass predictions each user triggered in the last hour (this process)."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_hour = per_hour
        self._clock = clock
        self._spent: defaultdict[Hashable, deque[float]] = defaultdict(deque)
        self._lock = Lock()

    def spend(self, who: Hashable) -> float | None:
        """Spend one of ``who``'s predictions; None if it may, else seconds until it may."""
        now = self._clock()
        with self._lock:
            spent = self._spent[who]
            while spent and spent[0] <= now - 3600.0:
                spent.popleft()
            if len(spent) >= self.per_hour:
                return spent[0] + 3600.0 - now
            spent.append(now)
            return None


def install(app: FastAPI, settings: Settings) -> None:
    """Put the limits in front of the app's routes, and its prediction budget in its state."""

    def authenticate(token: str) -> bool:
        sessions: sessionmaker[Session] = app.state.sessions
        with sessions() as session:
            now = app.state.clock()
            live = user_for_token(session, token, now) is not None or (
                live_access_token(session, token, AccessKind.STATION, now) is not None
            )  # a station token sends its reports
            session.commit()  # keep what the lookup may record of the token's use
            return live

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return too_large(exc.limit)

    def flush_refusals() -> None:
        sessions: sessionmaker[Session] = app.state.sessions
        with sessions() as session:
            tally.flush(session)

    tally = RefusalTally()
    app.state.refusal_tally = tally
    app.router.on_shutdown.append(flush_refusals)
    app.state.limits = settings
    app.state.prediction_budget = PredictionBudget(settings.new_pass_predictions_per_hour)
    app.add_middleware(RequestLimits, settings=settings, authenticate=authenticate)
