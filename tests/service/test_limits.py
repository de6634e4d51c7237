"""Check what bounds a request's cost: body sizes, a token before a body, cost limits.

Bodies over their limit are 413 from ``Content-Length`` and while they stream; a
body sent to change something without a live token is 401 before a byte of it is
read (checked against a real server, whose answer comes while the body is unsent);
a product has at most so many files, look angles so many samples, a user so many
new pass predictions an hour; the public's refused reads are counted in the audit
log, not written one durable row each.
"""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.support.consortium import Consortium
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.service.app import create_app
from jointsat.settings import Settings
from jointsat.store.database import session_factory
from jointsat.store.products import REFUSALS_PER_WINDOW
from jointsat.store.tables import AuditEntry, Role

NOW = datetime(2024, 5, 10, 12, 0, 30, tzinfo=UTC)
START = datetime(2024, 5, 10, tzinfo=UTC)
SATELLITE = 25544  # the ISS, of the elements below
PROBLEM = "application/problem+json"
LIMITS = {"max_body_bytes": 4096, "max_product_bytes": 64 << 10, "max_product_files": 3}


class World(Consortium):
    """An admin, ESA with an operator and a viewer, the ISS (ESA's here), a station."""

    def __init__(self, url: str, archive: Path, **limits: int) -> None:
        super().__init__(url, now=NOW)
        elements = parse_elements(orbit_file("stations.tle").read_text()).elements[:1]
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(session, "esa", 1.0, agreement={})
            self.add_satellite(session, "iss", SATELLITE, {esa: 1.0}, elements)
            self.add_station(session, "Kiruna", esa, 67.857, 20.964, min_elevation_deg=10.0)
            self.add_user(session, "esa-operator", Role.OPERATOR, esa)
            self.add_user(session, "esa-viewer", Role.VIEWER, esa)
        self.settings = Settings(database_url=url, archive_root=archive, **{**LIMITS, **limits})
        self.archive = archive
        self.client = TestClient(create_app(self.settings, clock=lambda: self.now))
        self._clients.append(self.client)

    def ingest(self, files: dict[str, bytes]) -> Any:
        document = {
            "satellite": SATELLITE,
            "instrument": "camera",
            "processing_level": "L1",
            "acquired_start": "2024-05-10T10:00:00Z",
            "acquired_end": "2024-05-10T10:05:00Z",
        }
        return self.client.post(
            "/api/v1/products",
            data={"metadata": json.dumps(document)},
            files=[("file", (name, body, "application/fits")) for name, body in files.items()],
            headers=self.headers("esa-operator"),
        )

    def audit_rows(self) -> list[AuditEntry]:
        with session_factory(self.engine)() as session:
            return list(session.scalars(select(AuditEntry)))


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    made = World(store_url, tmp_path / "archive")
    yield made
    made.close()


def _station(size: int = 10) -> dict[str, Any]:
    return {"name": "x" * size, "lat_deg": 1.0, "lon_deg": 2.0, "partner_id": 1}


# --- bodies over their limit --------------------------------------------------------


def test_a_body_over_its_content_length_limit_is_413_naming_it(world: World) -> None:
    body = json.dumps(_station(5000)).encode()
    answer = world.client.post(
        "/api/v1/stations",
        content=body,
        headers={**world.headers("admin"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["limit_bytes"] == 4096
    assert "4096 bytes" in answer.json()["detail"]


def test_a_streamed_body_is_cut_off_at_its_limit_413(world: World) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked
        for _ in range(100):
            sent.append(1)
            yield b" " * 1024

    answer = world.client.post(
        "/api/v1/stations",
        content=chunks(),
        headers={**world.headers("admin"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["limit_bytes"] == 4096
    public = world.client.post(
        "/stac/search", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert public.status_code == 413  # the public's body too


def test_a_body_under_its_limit_is_served(world: World) -> None:
    small = world.client.post("/stac/search", json={"limit": 1})
    assert small.status_code == 200


def test_a_product_upload_has_its_own_larger_limit(world: World) -> None:
    assert world.ingest({"a.fits": b"x" * 10_000}).status_code == 201  # > 4096: its own limit
    over = world.ingest({"b.fits": b"x" * (70 << 10)})
    assert over.status_code == 413
    assert over.json()["limit_bytes"] == 64 << 10


def test_a_product_has_at_most_so_many_files(world: World) -> None:
    assert world.ingest({f"{i}.fits": b"%d" % i for i in range(3)}).status_code == 201
    over = world.ingest({f"{i}.fits": b"%d" % i for i in range(10, 14)})
    assert over.status_code == 413
    assert over.json()["limit_files"] == 3
    assert "at most 3 files" in over.json()["detail"]
    # Nothing of the refused upload stays: only the first product's three blobs.
    assert sum(1 for p in (world.archive / "sha256").glob("*/*") if p.is_file()) == 3


@pytest.mark.parametrize("token", [None, "jst_not-a-token"])
def test_a_body_without_a_live_token_is_401_and_never_read(world: World, token: str | None) -> None:
    read: list[int] = []

    def chunks() -> Iterator[bytes]:
        read.append(1)
        yield b"{}"

    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    answer = world.client.post("/api/v1/stations", content=chunks(), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["connection"] == "close"


# --- costs --------------------------------------------------------------------------


def test_new_pass_predictions_are_budgeted_for_users_not_the_admin(
    store_url: str, tmp_path: Path
) -> None:
    world = World(store_url, tmp_path / "archive", new_pass_predictions_per_hour=2)
    try:

        def passes(who: str, day: int) -> Any:
            start = START + timedelta(days=day)
            window = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
            return world.client.get("/api/v1/passes", params=window, headers=world.headers(who))

        assert [passes("esa-viewer", d).status_code for d in (0, 1)] == [200, 200]
        refused = passes("esa-viewer", 2)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == PROBLEM
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        assert refused.json()["limit_per_hour"] == 2
        assert passes("esa-viewer", 0).status_code == 200  # predicted already: free
        assert passes("esa-operator", 2).status_code == 200  # another user's budget
        assert all(passes("admin", d).status_code == 200 for d in (3, 4, 5))
    finally:
        world.close()


# --- the audit log of refusals ------------------------------------------------------


def test_a_thousand_anonymous_refusals_are_a_few_rows_that_keep_the_count(world: World) -> None:
    for i in range(1000):
        product = "nothing" if i % 2 else f"missing-{i % 50}"
        assert world.client.get(f"/api/v1/products/{product}").status_code == 404
    world.client.get("/stac/collections/cheops/items/nothing")  # STAC reads count alike
    log = world.client.get(
        "/api/v1/audit", params={"limit": 10_000}, headers=world.headers("admin")
    ).json()
    anonymous = [e for e in log if e["user_name"] is None]
    assert sum(e["count"] for e in anonymous) == 1001
    assert len(anonymous) <= REFUSALS_PER_WINDOW + 2
    assert {e["client"] for e in anonymous} == {"testclient"}
    assert {e["outcome"] for e in anonymous} == {"refused"}
    nothing = sum(e["count"] for e in anonymous if e["product_id"] == "nothing")
    assert nothing == 501
    assert len(world.audit_rows()) == len(anonymous)


def test_the_public_s_counts_are_written_when_the_minute_is_over(world: World) -> None:
    for _ in range(5):
        world.client.get("/api/v1/products/nothing")
    assert [e.count for e in world.audit_rows()] == [1]  # the first, at once
    world.now = NOW + timedelta(minutes=1)
    world.client.get("/api/v1/products/nothing")  # the next minute's first
    assert sorted(e.count for e in world.audit_rows()) == [1, 1, 4]


def test_a_member_s_refusals_are_each_a_row(world: World) -> None:
    for _ in range(3):
        world.client.get("/api/v1/products/nothing", headers=world.headers("esa-viewer"))
    rows = world.audit_rows()
    assert [(e.count, e.user_name, e.client) for e in rows] == [(1, "esa-viewer", None)] * 3


# --- settings -----------------------------------------------------------------------


def test_limits_come_from_the_environment() -> None:
    settings = Settings.from_environment(
        {"JOINTSAT_MAX_BODY_BYTES": "2048", "JOINTSAT_MAX_PRODUCT_FILES": "7"},
        database_url="sqlite://",
    )
    assert (settings.max_body_bytes, settings.max_product_files) == (2048, 7)
    assert settings.max_product_bytes == Settings("sqlite://").max_product_bytes
    with pytest.raises(ValueError, match="JOINTSAT_MAX_BODY_BYTES"):
        Settings.from_environment({"JOINTSAT_MAX_BODY_BYTES": "lots"}, database_url="sqlite://")


# --- against a real server: refused before the body is read -------------------------


@pytest.fixture
def server(tmp_path: Path, new_sqlite_store: Any) -> Iterator[tuple[int, World, Any]]:
    """Serve a world with uvicorn on a free port of 127.0.0.1, in a thread."""
    world = World(new_sqlite_store(tmp_path), tmp_path / "archive", max_body_bytes=1 << 20)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        create_app(world.settings, clock=lambda: world.now),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started

    def stop() -> None:
        running.should_exit = True
        thread.join(10)

    yield port, world, stop
    stop()
    world.close()


def _answer_to_headers(port: int, head: str, timeout_s: float = 5.0) -> bytes:
    """Send only a request's head (its body never comes) and return the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as connection:
        connection.sendall(head.encode())
        answer = b""
        while chunk := connection.recv(65536):  # ends when the server closes the connection
            answer += chunk
        return answer


def test_an_oversized_anonymous_body_is_refused_before_a_byte_is_read(
    server: tuple[int, World, Any],
) -> None:
    port, _, _ = server
    for _ in range(6):  # six 100 MB bodies announced, none sent: a read would block
        answer = _answer_to_headers(
            port,
            "POST /api/v1/stations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000000\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"connection: close" in answer.lower()


def test_a_body_without_a_token_is_401_before_a_byte_is_read(
    server: tuple[int, World, Any],
) -> None:
    port, _, _ = server
    for token in ("", "Authorization: Bearer jst_nope\r\n"):
        answer = _answer_to_headers(
            port,
            "PATCH /api/v1/stations/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"{token}Content-Length: 1000\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_memory_does_not_grow_with_streamed_oversized_bodies(
    server: tuple[int, World, Any],
) -> None:
    """Chunked bodies of 20 MiB to the public search: each cut off at 1 MiB, none held."""
    port, _, _ = server
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, this process (the server)
    chunk = b"%x\r\n%s\r\n" % (1 << 16, b" " * (1 << 16))
    for _ in range(6):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(
                b"POST /stac/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            sent = 0
            try:
                while sent < 20 << 20:
                    connection.sendall(chunk)
                    sent += 1 << 16
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = connection.recv(65536)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert sent < 20 << 20  # the server stopped taking the body
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 20


def test_rows_counted_by_the_server_are_kept_when_it_stops(
    server: tuple[int, World, Any],
) -> None:
    port, world, stop = server
    for _ in range(3):
        answer = _answer_to_headers(
            port, "GET /api/v1/products/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 404")
    assert [e.count for e in world.audit_rows()] == [1]  # the first; two counted in memory
    stop()
    assert sorted(e.count for e in world.audit_rows()) == [1, 2]
    assert {e.client for e in world.audit_rows()} == {"127.0.0.1"}
