"""Hardening: security headers, the OpenAPI's bearer scheme, 409 for a station with
history, problem documents for a failing or full store, and keep-alive after a 500.

The connection and full-disk tests run a real ``jointsat serve`` in a subprocess and
talk to it over one raw keep-alive connection, as a client library would.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from tests.support.consortium import NOW, Consortium
from tests.support.server import free_port
from tests.support.shared import SharedWorld

from jointsat.service.app import create_app
from jointsat.service.security import CONTENT_SECURITY_POLICY
from jointsat.settings import Settings
from jointsat.store.tables import ContactRecord, Role, ScheduleRecord

# --- security headers -----------------------------------------------------------------


class Served(Consortium):
    """A store with its admin, and the service over it."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        with self.session() as session:
            self.add_admin(session)
        self.client = self.serve()


@pytest.fixture(scope="module")
def served(module_stores: Callable[[], str]) -> Iterator[SharedWorld[Served]]:
    """One service per backend for the module's tests that only read (tests.support.shared)."""
    shared = SharedWorld(lambda: Served(module_stores()))
    yield shared
    shared.close()


@pytest.fixture
def client(served: SharedWorld[Served]) -> Iterator[TestClient]:
    with served.use() as world:
        yield world.client


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/docs",
        "/openapi.json",
        "/static/dashboard/app.js",
        "/static/swagger-ui/swagger-ui.css",
        "/api/v1/me",  # 401
        "/api/v1/nothing",  # 404
        "/stac",
    ],
)
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "style-src 'self';" in CONTENT_SECURITY_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"


class _Page(HTMLParser):
    """What a page loads, and whatever it has inline that a strict CSP would refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.inline += [f"{tag} {n}" for n, _ in attrs if n == "style" or n.startswith("on")]
        if tag == "style":
            self.inline.append("style element")
        if tag == "script":
            if named.get("src"):
                self.assets.append(str(named["src"]))
            else:
                self._in_script = True
        if tag == "link" and named.get("href"):
            self.assets.append(str(named["href"]))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("inline script")


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_the_pages_load_only_the_services_own_assets(client: TestClient, path: str) -> None:
    page = _Page()
    page.feed(client.get(path).text)
    assert page.inline == []
    assert page.assets
    for asset in page.assets:
        if asset == "data:,":  # the dashboard's empty favicon (img-src allows data:)
            continue
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset


# --- the OpenAPI's bearer scheme ------------------------------------------------------


def test_the_openapi_declares_the_bearer_scheme_on_every_operation(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (`jointsat token create` prints one).",
        },
        "calendarToken": {  # read from the feed's URL: calendar programs send no headers
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": "A calendar token of this feed "
            "(`jointsat contacts token --kind calendar`).",
        },
    }
    public = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            security = operation.get("security")
            if path == "/stac/conformance":
                continue  # a fixed document
            if path.endswith("/calendar.ics"):  # calendar programs send no headers
                assert security == [{"calendarToken": []}], (method, path)
                continue
            assert security in ([{"bearer": []}], [{"bearer": []}, {}]), (method, path)
            if security[-1] == {}:
                public.add(f"{method.upper()} {path}")
    # The public may read the archive's released products, and nothing else.
    assert "GET /api/v1/products" in public
    assert "POST /stac/search" in public
    assert all("/products" in p or " /stac" in p for p in public), public
    assert "GET /api/v1/me" not in public


# --- a station with history ------------------------------------------------------------


def test_deleting_a_station_with_contacts_in_a_schedule_is_a_409_naming_the_schedule(
    consortium: Consortium,
) -> None:
    with consortium.session() as session:
        consortium.add_admin(session)
        esa = consortium.add_partner(session, "esa", 1.0, agreement={})
        consortium.add_user(session, "esa-ops", Role.OPERATOR, esa)
        satellite = consortium.add_satellite(session, "SAT", 44874, {esa: 1.0})
        used = consortium.add_station(session, "Used", esa, 10.0, 10.0)
        spare = consortium.add_station(session, "Spare", esa, 20.0, 20.0)
        schedule = ScheduleRecord(
            created_at=NOW,
            start=NOW,
            end_at=NOW + timedelta(days=1),
            status="OPTIMAL",
            solver="test",
            gap=0.0,
            document={},
            provenance={},
            policy="fair",
            total_seconds=600.0,
        )
        schedule.contacts = [
            ContactRecord(
                start=NOW + timedelta(hours=1),
                end_at=NOW + timedelta(hours=1, minutes=10),
                satellite_id=satellite.id,
                station_id=used.id,
                max_elevation_deg=40.0,
            )
        ]
        session.add(schedule)
        session.flush()
        used_id, spare_id, schedule_id = used.id, spare.id, schedule.id
    client = consortium.serve()
    for who in ("esa-ops", "admin"):
        refused = client.delete(f"/api/v1/stations/{used_id}", headers=consortium.headers(who))
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["schedule_ids"] == [schedule_id]
        assert f"schedules {schedule_id};" in problem["detail"]
        assert "unavailability" in problem["detail"]
    # The station and the schedule's contact are still there; a station without history goes.
    kept = client.get(f"/api/v1/stations/{used_id}", headers=consortium.headers("admin"))
    assert kept.status_code == 200
    with consortium.session() as session:
        assert [c.station_id for c in session.get_one(ScheduleRecord, schedule_id).contacts] == [
            used_id
        ]
    gone = client.delete(f"/api/v1/stations/{spare_id}", headers=consortium.headers("esa-ops"))
    assert gone.status_code == 204, gone.text


# --- store failures as problem documents ----------------------------------------------


class _FailingError(Exception):
    pass


def _store_error(orig: BaseException) -> OperationalError:
    return OperationalError("INSERT INTO stations ...", {}, orig)


@pytest.fixture
def failing(tmp_path: Path, new_sqlite_store: Callable[[Path], str]) -> Iterator[Any]:
    """A client of an app with a test route that raises what the test puts in ``raise_``."""
    app = create_app(Settings(database_url=new_sqlite_store(tmp_path)))
    raised: list[BaseException] = []

    @app.get("/test-only/fail")
    def fail() -> None:
        raise raised[0]

    with TestClient(app) as client:
        client.raise_ = raised.append  # type: ignore[attr-defined]
        yield client


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (_store_error(sqlite3.OperationalError("database or disk is full")), 507),
        (_store_error(psycopg.errors.DiskFull("could not extend file")), 507),
        (_store_error(sqlite3.OperationalError("database is locked")), 503),
        (_store_error(psycopg.errors.AdminShutdown("terminating connection")), 503),
        (_store_error(sqlite3.OperationalError("no such table: x")), 500),
        (_FailingError("a bug"), 500),
    ],
)
def test_store_failures_and_bugs_are_problem_documents(
    failing: Any, error: Exception, status: int
) -> None:
    failing.raise_(error)
    answer = failing.get("/test-only/fail")
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    problem = answer.json()
    assert problem["status"] == status
    assert "a bug" not in problem["detail"]
    assert "INSERT" not in problem["detail"]
    assert ("retry-after" in answer.headers) == (status == 503)


# --- a real server: keep-alive after a 500, and a full store disk ---------------------


# GET /api/v1/partners/{id} fails with a bug: its lookup is replaced before serving.
FAILING_SERVER = textwrap.dedent(
    """
    import sys
    import jointsat.service.routes.partners as partners

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the partner lookup")

    partners._get = broken
    from jointsat.cli import app
    app(["serve", "--host", "127.0.0.1", "--port", sys.argv[1]])
    """
)


class Server:
    """A ``jointsat serve`` subprocess on a free loopback port."""

    def __init__(
        self,
        folder: Path,
        url: str,
        script: str | None = None,
        wrap: list[str] | None = None,
        **popen: Any,
    ) -> None:
        self.port = free_port()
        self.log = folder / "server.log"
        env = {
            **os.environ,
            "JOINTSAT_DATABASE_URL": url,
            "JOINTSAT_ARCHIVE_ROOT": str(folder / "archive"),
        }
        command = (
            [sys.executable, "-c", script, str(self.port)]
            if script
            else [sys.executable, "-m", "jointsat", "serve", "--port", str(self.port)]
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*(wrap or []), *command], env=env, stdout=out, stderr=subprocess.STDOUT, **popen
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"the server did not start: {self.output()}") from None
                time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def _exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    token: str,
    body: Any = None,
) -> tuple[int, dict[str, str], Any]:
    """Send one request on the connection and read the whole answer."""
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    return (
        response.status,
        {k.lower(): v for k, v in response.getheaders()},
        json.loads(raw) if raw else None,
    )


def _admin_store(folder: Path, url: str) -> tuple[str, int]:
    consortium = Consortium(url)
    with consortium.session() as session:
        admin = consortium.add_admin(session)
        esa = consortium.add_partner(session, "esa", 1.0, agreement={})
        station_id = consortium.add_station(session, "Kiruna", esa, 67.9, 21.1).id
    consortium.close()
    return admin, station_id


def test_a_500_keeps_the_keep_alive_connection_usable(
    tmp_path: Path, new_sqlite_store: Callable[[Path], str]
) -> None:
    url = new_sqlite_store(tmp_path)
    admin, _ = _admin_store(tmp_path, url)
    server = Server(tmp_path, url, FAILING_SERVER)
    try:
        connection = server.connection()
        for _ in range(3):
            status, headers, problem = _exchange(connection, "GET", "/api/v1/partners/1", admin)
            assert status == 500, problem
            assert headers["content-type"] == "application/problem+json"
            assert problem["title"] == "Internal server error"
            assert "a bug" not in problem["detail"]
            assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            # Either the server says it closes, or the same socket serves the next request.
            assert headers.get("connection", "").lower() != "close"
            sock = connection.sock
            assert sock is not None
            status, _, me = _exchange(connection, "GET", "/api/v1/me", admin)
            assert status == 200, me
            assert connection.sock is sock  # no reconnection: the connection stayed open
        connection.close()
        assert "a bug in the partner lookup" in server.output()  # the log tells what failed
    finally:
        server.stop()


def _fill(server: Server, admin: str, station_id: int) -> tuple[int, dict[str, str], Any]:
    """Add 2 KB unavailability windows on one keep-alive connection until one is refused.

    Then check that the same connection still serves, and that the refused write left
    nothing; return the refusal.
    """
    connection = server.connection()
    path = f"/api/v1/stations/{station_id}/unavailability"
    added = 0
    for i in range(2000):
        start = NOW + timedelta(days=i)
        window = {
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "kind": "maintenance",
            "reason": f"{i:06d}" + "x" * 1990,
        }
        status, headers, problem = _exchange(connection, "POST", path, admin, window)
        if status != 201:
            break
        added += 1
    else:
        pytest.fail(f"{added} windows fit in the store's small disk")
    assert headers["content-type"] == "application/problem+json", problem
    status_after, _, station = _exchange(connection, "GET", f"/api/v1/stations/{station_id}", admin)
    assert status_after == 200, station
    assert len(station["unavailable"]) == added
    connection.close()
    return status, headers, problem


def test_a_full_store_disk_is_a_507_problem_and_the_server_goes_on(
    tmp_path: Path, new_sqlite_store: Callable[[Path], str]
) -> None:
    """The store on a tmpfs of its size and 256 KiB more (a mount namespace of its own)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a small tmpfs")
    url = new_sqlite_store(tmp_path)
    admin, station_id = _admin_store(tmp_path, url)
    store = Path(url.removeprefix("sqlite:///"))
    disk = tmp_path / "disk"
    disk.mkdir()
    size = store.stat().st_size + 256 * 1024
    probe = subprocess.run(
        ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace: {probe.stderr.decode()}")
    script = textwrap.dedent(
        f"""
        import os, shutil, subprocess, sys
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size={size}", "tmpfs", {str(disk)!r}],
                       check=True)
        shutil.copy({str(store)!r}, {str(disk / "store.db")!r})
        from jointsat.cli import app
        app(["serve", "--host", "127.0.0.1", "--port", sys.argv[1]])
        """
    )
    server = Server(
        tmp_path,
        f"sqlite:///{disk / 'store.db'}",
        script,
        wrap=["unshare", "-rm"],
    )
    try:
        status, _, problem = _fill(server, admin, station_id)
        assert status == 507, problem
        assert problem["title"] == "Insufficient storage"
        assert "disk is full" in problem["detail"]
    finally:
        server.stop()


def test_a_store_that_cannot_write_is_a_503_problem_and_the_server_goes_on(
    tmp_path: Path, new_sqlite_store: Callable[[Path], str]
) -> None:
    """The server's files may not grow 256 KiB past the store's (RLIMIT_FSIZE: EFBIG).

    SQLite reports a write that fails with EFBIG (not ENOSPC) as a disk I/O error.
    """
    url = new_sqlite_store(tmp_path)
    admin, station_id = _admin_store(tmp_path, url)
    store = Path(url.removeprefix("sqlite:///"))
    limit = sum(p.stat().st_size for p in store.parent.glob(store.name + "*")) + 256 * 1024

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    server = Server(tmp_path, url, preexec_fn=small_disk)
    try:
        status, headers, problem = _fill(server, admin, station_id)
        assert status == 503, problem
        assert headers["retry-after"].isdigit()
        assert "could not write" in problem["detail"]
    finally:
        server.stop()
