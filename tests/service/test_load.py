"""The service under a burst: every request answered (200, or 503 with Retry-After), never hung.

A real ``jointsat serve`` on a free loopback port, over a small consortium of each
backend, gets 200 concurrent clients at once; then ``/api/v1/me`` must answer, and
SIGTERM must stop the server within seconds. The bounds are generous sanity bounds,
not timings: before the admission limit, such a burst stalled the server for 30 s and
ended in 500s (``QueuePool limit of size 5 overflow 10 reached``). The admission
middleware itself is checked in-process, where a slow endpoint makes shedding certain.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.types import Message, Receive, Scope, Send
from tests.support.consortium import Consortium
from tests.support.server import served

from jointsat.service import shedding
from jointsat.service.problems import PROBLEM_JSON
from jointsat.store.tables import Role

CLIENTS = 200
ANSWER_BOUND_S = 20.0  # a request unanswered after this is hung
STOP_BOUND_S = 8.0


@pytest.fixture
def server(consortium: Consortium, tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """Yield a live server's base URL, a viewer's token and its process."""
    with consortium.session() as session:
        consortium.add_admin(session)
        partner = consortium.add_partner(session, "esa", 1.0, agreement={})
        token = consortium.add_user(session, "viewer", Role.VIEWER, partner)
    consortium.engine.dispose()
    log = tmp_path / "server.log"
    with served(consortium.url, tmp_path / "archive", log, ready="/api/v1/products?limit=1") as up:
        yield up.base, token, up.process


async def _burst(base: str, path: str, headers: dict[str, str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=ANSWER_BOUND_S) as http:
        return list(
            await asyncio.gather(*(http.get(path, headers=headers) for _ in range(CLIENTS)))
        )


def _check_answered(responses: list[httpx.Response]) -> None:
    statuses = sorted({r.status_code for r in responses})
    assert set(statuses) <= {200, 503}, statuses
    for shed in (r for r in responses if r.status_code == 503):
        assert shed.headers["retry-after"].isdigit()
        assert shed.headers["content-type"] == PROBLEM_JSON
        assert shed.json()["status"] == 503
    assert any(r.status_code == 200 for r in responses)


def test_a_burst_is_answered_then_me_then_sigterm_stops_it(
    server: tuple[str, str, subprocess.Popen],
) -> None:
    base, token, process = server
    viewer = {"Authorization": f"Bearer {token}"}
    # anonymous readers, then a partner's (each request authenticates: a database read)
    _check_answered(asyncio.run(_burst(base, "/api/v1/products?limit=1", {})))
    _check_answered(asyncio.run(_burst(base, "/api/v1/stations", viewer)))
    start = time.monotonic()
    me = httpx.get(f"{base}/api/v1/me", headers=viewer, timeout=ANSWER_BOUND_S)
    assert me.status_code == 200
    assert me.json()["name"] == "viewer"
    assert time.monotonic() - start < 5.0
    start = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=STOP_BOUND_S)
    assert time.monotonic() - start < STOP_BOUND_S


def _slow_app(limit: int, wait_s: float, queue: int) -> FastAPI:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await anyio.sleep(0.5)
        return {"done": True}

    app.add_middleware(shedding.Admission, limit=limit, wait_s=wait_s, queue=queue)
    return app


async def _statuses(app: FastAPI, n: int) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        responses = await asyncio.gather(*(http.get("/slow") for _ in range(n)))
    for r in responses:
        if r.status_code == 503:
            assert r.headers["retry-after"] == str(shedding.RETRY_AFTER_S)
            assert r.json()["title"] == "Service unavailable"
    return sorted(r.status_code for r in responses)


def test_admission_sheds_what_waits_too_long() -> None:
    # two places, waiting 0.1 s: two served, the rest shed well before the first ends
    assert asyncio.run(_statuses(_slow_app(2, 0.1, 100), 6)) == [200, 200, 503, 503, 503, 503]


def test_admission_lets_the_queue_wait_its_turn() -> None:
    # one place, time enough to wait: all served one after another
    assert asyncio.run(_statuses(_slow_app(1, 5.0, 100), 3)) == [200, 200, 200]


def test_admission_sheds_at_once_past_the_queue_length() -> None:
    # one place, one waiting: the third is shed without waiting its 5 s
    start = time.monotonic()
    assert asyncio.run(_statuses(_slow_app(1, 5.0, 1), 3)) == [200, 200, 503]
    assert time.monotonic() - start < 3.0


def test_a_pool_timeout_is_a_503_not_a_500(consortium: Consortium) -> None:
    client = consortium.serve()
    app = client.app
    assert isinstance(app, FastAPI)

    @app.get("/pool-timeout-probe")
    def probe() -> None:
        raise PoolTimeoutError("QueuePool limit of size 16 overflow 16 reached")

    response = client.get("/pool-timeout-probe")
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(shedding.RETRY_AFTER_S)


def test_the_pool_is_sized_to_the_admitted_requests() -> None:
    sqlite = shedding.pool_options("sqlite:////tmp/store.db")
    assert sqlite["max_overflow"] == -1  # a SQLite file: the pool cannot run out
    assert shedding.pool_options("sqlite://") == {}  # in memory: SQLAlchemy's own
    postgres = shedding.pool_options("postgresql://u@h/db")
    assert postgres["pool_size"] + postgres["max_overflow"] >= 2 * shedding.ADMITTED
    assert postgres["pool_timeout"] <= shedding.QUEUE_WAIT_S
    assert shedding.THREADS > shedding.ADMITTED  # an admitted request never waits for a thread


def test_a_client_gone_while_waiting_leaves_the_queue_and_costs_nothing() -> None:
    # one place, held by a slow request; a second client leaves while it waits: the app
    # never runs for it, its place in the queue is free at once, and the next is served
    calls: list[str] = []
    release = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        if scope["path"] == "/hold":
            await release.wait()
        assert (await receive())["type"] == "http.request"  # replayed to the app
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    admission = shedding.Admission(app, limit=1, wait_s=5.0, queue=4)

    def request(path: str) -> Scope:
        return {"type": "http", "method": "GET", "path": path, "headers": []}

    async def client(path: str, leave_after_s: float | None) -> list[Message]:
        sent: list[Message] = []
        messages: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> Message:
            if messages:
                return messages.pop(0)
            if leave_after_s is None:
                await anyio.sleep_forever()
            await anyio.sleep(leave_after_s)
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        await admission(request(path), receive, send)
        return sent

    async def scenario() -> tuple[list[Message], float, list[Message]]:
        async with anyio.create_task_group() as group:
            group.start_soon(client, "/hold", None)
            await anyio.sleep(0.05)
            start = time.monotonic()
            gone = await client("/gone", 0.1)  # waits, then its client leaves
            left_after = time.monotonic() - start
            assert admission._waiting == 0
            release.set()
            served = await client("/next", None)
        return gone, left_after, served

    gone, left_after, served = anyio.run(scenario)
    assert gone == []  # nothing sent to a client that is gone
    assert left_after < 1.0  # it left the queue when it went, not after the 5 s wait
    assert calls == ["/hold", "/next"]  # the app never ran for it
    assert served[0]["status"] == 200
