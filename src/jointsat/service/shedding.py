"""Admit a bounded number of requests at once; shed the rest with 503 and Retry-After.

Each server process serves at most ``ADMITTED`` requests at a time. A request that
finds them all busy waits in a queue for up to ``QUEUE_WAIT_S`` (first come, first
served), or is answered at once when ``QUEUE_LENGTH`` requests wait already; either
way it is refused with a ``503`` problem document carrying ``Retry-After``, never left
hanging. A bodiless request (GET, HEAD) whose client goes away while it waits leaves
the queue at once: the server does no work for a client that is gone, and the next
client (after a burst, say) does not wait behind it. The limit is what the rest is
sized to: the worker threads sync endpoints run on (``THREADS``, more than every
admitted request can use at once) and the database's connection pool
(``pool_options``: one that cannot run out on SQLite; on PostgreSQL twice the admitted
requests, with a short ``POOL_TIMEOUT_S`` whose expiry is a 503 too).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jointsat.service.middleware import HttpMiddleware
from jointsat.service.problems import problem_response

ADMITTED = 16
"""Requests a server process serves at once."""
QUEUE_WAIT_S = 2.0
"""How long a request waits for a free place before it is shed."""
QUEUE_LENGTH = 8 * ADMITTED
"""Requests that may wait at once; the next one is shed without waiting."""
RETRY_AFTER_S = 1
"""What a shed request is told to wait before trying again."""
THREADS = 2 * ADMITTED + 8
"""Worker threads for sync endpoints and dependencies (Starlette's default is 40)."""
POOL_TIMEOUT_S = 2.0
"""How long a request waits for a PostgreSQL connection before it is shed."""
EXIT_STUCK_AFTER_S = 2.0
"""After a server's shutdown, how long its process may wait for worker threads."""


def pool_options(url: str) -> dict[str, Any]:
    """Return the connection pool's options for the service's engine at ``url``.

    An admitted request holds at most two connections (its session, and a download's
    audit record). On a SQLite file the pool grows as needed (a connection is a file
    handle, and SQLite serialises writers itself), so no request ever waits for one.
    On PostgreSQL, whose server caps connections, it keeps ``ADMITTED`` open and may
    open as many more; a request that still finds none within ``POOL_TIMEOUT_S`` is
    shed with a 503 rather than waiting (SQLAlchemy's default is 30 s, then a 500).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed):
            return {}  # one shared in-memory database: SQLAlchemy's own pool
        return {"poolclass": QueuePool, "pool_size": ADMITTED, "max_overflow": -1}
    return {"pool_size": ADMITTED, "max_overflow": ADMITTED, "pool_timeout": POOL_TIMEOUT_S}


def shed_response(detail: str) -> JSONResponse:
    """Return the 503 problem document a shed request gets, with its Retry-After."""
    response = problem_response(503, "Service unavailable", detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


class Admission(HttpMiddleware):
    """ASGI middleware: at most ``limit`` requests at once, a short queue, then 503."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int = ADMITTED,
        wait_s: float = QUEUE_WAIT_S,
        queue: int = QUEUE_LENGTH,
    ) -> None:
        super().__init__(app)
        self.limit, self.wait_s, self.queue = limit, wait_s, queue
        self._places: anyio.Semaphore | None = None  # made in the server's event loop
        self._waiting = 0

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._places is None:
            self._places = anyio.Semaphore(self.limit)
        places = self._places
        try:
            places.acquire_nowait()
            admitted = True
        except anyio.WouldBlock:
            admitted = False
            if self._waiting < self.queue:
                self._waiting += 1
                try:
                    if scope["method"] in BODILESS:
                        admitted, heard = await self._wait_unless_gone(places, receive)
                        if heard and heard[-1]["type"] == "http.disconnect":
                            return  # the client left while waiting: nobody to answer
                        receive = _replaying(heard, receive)
                    else:
                        with anyio.move_on_after(self.wait_s):
                            await places.acquire()
                            admitted = True
                finally:
                    self._waiting -= 1
        if not admitted:
            busy = f"the server is busy ({self.limit} requests at once); try again shortly"
            await shed_response(busy)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            places.release()

    async def _wait_unless_gone(
        self, places: anyio.Semaphore, receive: Receive
    ) -> tuple[bool, list[Message]]:
        """Wait for a place, listening to the client meanwhile; return what it said.

        Admitted: a place is held. A disconnect ends the wait (no place held). Only for
        bodiless requests: what the client sends while waiting is one empty
        ``http.request`` message, kept to be replayed to the app, or its disconnect.
        """
        heard: list[Message] = []
        admitted = False
        async with anyio.create_task_group() as group:

            async def listen() -> None:
                while True:
                    heard.append(await receive())
                    if heard[-1]["type"] == "http.disconnect":
                        group.cancel_scope.cancel()
                        return

            async def acquire() -> None:
                nonlocal admitted
                with anyio.move_on_after(self.wait_s):
                    await places.acquire()
                    admitted = True
                group.cancel_scope.cancel()

            group.start_soon(listen)
            group.start_soon(acquire)
        if admitted and heard and heard[-1]["type"] == "http.disconnect":
            places.release()  # gone at the very moment a place came free
            admitted = False
        return admitted, heard


BODILESS = frozenset({"GET", "HEAD"})
"""Methods whose requests carry no body: listening to their client while they wait is free."""


def _replaying(heard: list[Message], receive: Receive) -> Receive:
    """Return a ``receive`` that gives the messages already heard, then the client's."""
    pending = list(heard)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _threads_lifespan(
    previous: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
) -> Callable[[FastAPI], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(math.ceil(limiter.total_tokens), THREADS)
        async with previous(app) as state:
            yield state
        app.state.engine.dispose()  # close pooled connections on shutdown
        if getattr(app.state, "exit_when_stuck", False):
            # Python joins worker threads at exit: one still computing the answer to a
            # request the server has given up on would keep the process alive.
            timer = threading.Timer(EXIT_STUCK_AFTER_S, os._exit, args=(0,))
            timer.daemon = True
            timer.start()

    return lifespan


def exit_when_stuck(app: FastAPI) -> FastAPI:
    """Make the server's process end soon after its shutdown, busy worker threads or not.

    For ``jointsat serve`` only: a process that shuts the app down and carries on
    (a test's client) must not be ended.
    """
    app.state.exit_when_stuck = True
    return app


def install(app: FastAPI) -> None:
    """Admit requests through ``Admission``; a pool timeout is a 503; size the threads."""
    app.add_middleware(Admission)

    @app.exception_handler(PoolTimeoutError)
    async def _pool_timeout(_: Request, exc: PoolTimeoutError) -> JSONResponse:
        return shed_response("no database connection came free in time; try again shortly")

    app.router.lifespan_context = _threads_lifespan(app.router.lifespan_context)
