"""Load the REST service: each kind of read endpoint in turn, non-admin callers, 10-200 clients.

The store holds 5 partners (a viewer each), 300 real SatNOGS stations, 100 LEO
satellites and 60 archived products (64 KB files). A ``jointsat serve`` runs in a child
process (``--workers`` 1 and 2 by default); for each number of concurrent clients
(``--clients``, default 10, 50, 100 and 200) and each endpoint kind in turn (passes of a
day, positions, STAC search, the products list, file downloads) the clients load that
one kind for ``--seconds``, each request the next of every combination of the kind's
paths and callers (the partners' viewers; the public too for what it may read).

The clients are ``wrk`` connections (one wrk thread, a Lua script that rotates paths and
tokens and tells a shed ``503`` with ``Retry-After`` from any other status) when ``wrk``
is on the PATH, else (or with ``--python``) httpx clients in this process, which take
much of the CPU a small machine's server needs: the table says which. After a shed, the
next request waits 50 ms. Requests wrk still has in flight when a burst ends are not
counted (wrk's way); the httpx clients wait for theirs.

Before the measured bursts each kind gets one unmeasured burst of 10 clients for 2 s,
so that every worker process has answered every query once (the very first request of
each kind, which may predict the network's passes, is timed and printed apart).

Per burst the script prints requests, served req/s, p50/p99 latency, the share shed and
errors, and how long ``/api/v1/me`` takes right after; at the end of each server, how
long SIGTERM takes to stop it; at the end, how long the whole matrix took.

    python -m benchmarks.api_load [--seconds 5] [--clients 10,50,100,200] [--workers 1,2]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--no-sqlite] [--python]

``--postgres`` names a server on which the script creates (and then drops) its own
database. The script exits 1, listing why, when any request errors (a status other
than 200 and a shed 503 with ``Retry-After``, a socket error, 30 s without an answer),
when a burst serves nothing, when p99 passes 1 s at 50 clients or fewer, when
``/api/v1/me`` takes over a second after a burst, or when SIGTERM does not stop the
server within 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.common import leo_satellites
from benchmarks.passes_scaling import satnogs_stations
from jointsat.archive.blobs import BlobStore
from jointsat.archive.metadata import metadata_from_dict
from jointsat.service.tokens import initialise, issue_token
from jointsat.store import migrate
from jointsat.store.database import normalise_url, open_engine, session_factory
from jointsat.store.products import StoredFile, record_product
from jointsat.store.tables import (
    Agreement,
    ElementSetRecord,
    GroundStation,
    Partner,
    Role,
    Satellite,
    SatelliteOperator,
    User,
)

NOW = datetime(2024, 5, 10, tzinfo=UTC)
PRODUCTS = 60
STATIONS = 300
FILE_BYTES = 64 * 1024
REQUEST_TIMEOUT_S = 30.0  # a request still unanswered after this counts as hung (an error)
ME_AFTER_BURST_S = 1.0
SIGTERM_S = 10.0
TARGET_P99_S = 1.0  # at 50 clients, for every endpoint
SHED_BACKOFF_S = 0.05  # a shed client waits this long before its next request


@dataclass
class Store:
    """The filled store: its URL, archive, partner viewers' tokens and what to fetch."""

    url: str
    archive: Path
    viewers: list[str]
    downloads: list[str] = field(default_factory=list)


def fill(url: str, archive: Path) -> Store:
    """Create the store: partners, viewers, stations, satellites and products."""
    migrate.upgrade(url)
    engine = open_engine(url)
    blobs = BlobStore(archive)
    store = Store(url, archive, [])
    try:
        with session_factory(engine).begin() as session:
            initialise(session, name="admin", now=datetime.now(UTC))  # the server judges expiry
            partners = [
                Partner(code=f"p{i}", name=f"Partner {i}", contribution_share=0.2) for i in range(5)
            ]
            session.add_all([Agreement(partner=p, public_release_days=365) for p in partners])
            for i, s in enumerate(satnogs_stations(STATIONS)):
                session.add(
                    GroundStation(
                        name=s.name,
                        owner=partners[i % 5],
                        lat_deg=s.lat_deg,
                        lon_deg=s.lon_deg,
                        alt_m=s.alt_m,
                        min_elevation_deg=10.0,
                    )
                )
            satellites = leo_satellites(100)
            for i, e in enumerate(satellites):
                satellite = Satellite(name=e.object_name, norad_id=e.norad_cat_id)
                satellite.operators = [SatelliteOperator(partner=partners[i % 5], fraction=1.0)]
                satellite.element_sets = [
                    ElementSetRecord(
                        epoch=e.epoch, omm=e.to_omm(), source="benchmark", received_at=NOW
                    )
                ]
                session.add(satellite)
            for i, partner in enumerate(partners):
                user = User(name=f"viewer{i}", role=Role.VIEWER, partner=partner, created_at=NOW)
                session.add(user)
                store.viewers.append(
                    issue_token(session, user, now=datetime.now(UTC), label="load")
                )
        with session_factory(engine)() as session, tempfile.TemporaryDirectory() as folder:
            for i in range(PRODUCTS):
                source = Path(folder) / f"scene-{i:03d}.bin"
                source.write_bytes(os.urandom(FILE_BYTES))
                meta = {
                    "satellite": satellites[i % 10].norad_cat_id,
                    "instrument": "LOAD-CCD",
                    "processing_level": "L1",
                    "acquired_start": f"2024-05-{1 + i % 9:02d}T10:00:00Z",
                    "acquired_end": f"2024-05-{1 + i % 9:02d}T10:05:00Z",
                    "properties": {"load:index": i},
                }
                product, _ = record_product(
                    session,
                    metadata_from_dict(meta),
                    [StoredFile(source.name, blobs.put_file(source))],
                    now=NOW,
                )
                store.downloads.append(f"/api/v1/products/{product.id}/files/{source.name}")
    finally:
        engine.dispose()
    return store


DAY = "start=2024-05-10T00:00:00Z&end=2024-05-11T00:00:00Z"
ENDPOINTS: dict[str, list[str]] = {
    "passes": [f"/api/v1/passes?{DAY}&satellite_id={i}" for i in (1, 2, 3, 4, 5)],
    "positions": ["/api/v1/satellites/positions"],
    "stac search": [
        "/stac/search?limit=10",
        "/stac/search?limit=10&datetime=2024-05-01T00:00:00Z/..",
    ],
    "products list": ["/api/v1/products?limit=50", "/api/v1/products?limit=1"],
    "downloads": [],  # filled with the store's files
}


@dataclass
class Result:
    """What one endpoint kind got during one burst (times in seconds)."""

    requests: int = 0
    served: int = 0
    shed: int = 0
    p50: float = float("nan")
    p99: float = float("nan")
    errors: dict[str, int] = field(default_factory=dict)


def callers(store: Store, kind: str) -> list[tuple[str, str | None]]:
    """Return the (path, token) requests a burst on ``kind`` cycles through.

    Every combination of the kind's paths and callers: the five partners' viewers, and
    the public (no token) for what it may read.
    """
    paths = ENDPOINTS[kind]
    tokens: list[str | None] = list(store.viewers)
    if kind in PUBLIC_KINDS:
        tokens[-1] = None
    return [
        (paths[i % len(paths)], tokens[(i // len(paths)) % len(tokens)])
        for i in range(len(paths) * len(tokens))
    ]


PUBLIC_KINDS = ("stac search", "products list", "downloads")
WARM_CLIENTS, WARM_S = 10, 2.0  # an unmeasured burst per kind before the measured ones


def judge(response: httpx.Response) -> str:
    """Return 'served', 'shed' or the error a response is."""
    if response.status_code == 200:
        return "served"
    if response.status_code == 503 and response.headers.get("retry-after"):
        return "shed"
    return f"HTTP {response.status_code}"


async def client(
    base: str,
    plan: list[tuple[str, str | None]],
    stop: float,
    offset: int,
    times: list[float],
    counts: defaultdict[str, int],
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S) as http:
        k = offset
        while time.perf_counter() < stop:
            path, token = plan[k % len(plan)]
            k += 1
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            t = time.perf_counter()
            try:
                outcome = judge(await http.get(path, headers=headers))
            except httpx.TimeoutException:
                outcome = "timeout"
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            times.append(time.perf_counter() - t)
            counts[outcome] += 1
            if outcome == "shed":
                await asyncio.sleep(SHED_BACKOFF_S)


async def burst_python(base: str, store: Store, kind: str, clients: int, seconds: float) -> Result:
    """Load one endpoint kind with ``clients`` httpx clients (in this process) for ``seconds``."""
    plan = callers(store, kind)
    times: list[float] = []
    counts: defaultdict[str, int] = defaultdict(int)
    stop = time.perf_counter() + seconds
    await asyncio.gather(*(client(base, plan, stop, 7 * i, times, counts) for i in range(clients)))
    p50, p99 = np.percentile(times, [50, 99]) if times else (float("nan"), float("nan"))
    return Result(
        requests=len(times),
        served=counts.pop("served", 0),
        shed=counts.pop("shed", 0),
        p50=float(p50),
        p99=float(p99),
        errors=dict(counts),
    )


# wrk's script: each request is the next (path, token) of the plan; response() tells a
# shed (503 with Retry-After) from any other status; the next request after a shed
# waits SHED_BACKOFF_S; done() prints one line the benchmark reads.
WRK_SCRIPT = """
local plan = {%(plan)s}
local counter = 0
local backoffs = 0
statuses = {}
local threads = {}
local requests_ = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for i, item in ipairs(plan) do
    local headers = {}
    if item[2] ~= "" then headers["Authorization"] = "Bearer " .. item[2] end
    requests_[i] = wrk.format("GET", item[1], headers)
  end
end

function request()
  counter = counter + 1
  return requests_[(counter %% #requests_) + 1]
end

function delay()
  if backoffs > 0 then
    backoffs = backoffs - 1
    return %(backoff_ms)d
  end
  return 0
end

function response(status, headers, body)
  local key = tostring(status)
  if status == 503 then
    for name, _ in pairs(headers) do
      if string.lower(name) == "retry-after" then key = "shed" end
    end
    if key == "shed" then backoffs = backoffs + 1 end
  end
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses")) do counts[key] = (counts[key] or 0) + n end
  end
  local parts = {}
  for key, n in pairs(counts) do table.insert(parts, key .. "=" .. n) end
  io.write(string.format("JOINTSAT requests=%%d p50_us=%%d p99_us=%%d statuses=%%s\\n",
    summary.requests, latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))
end
"""


def lua_string(value: str) -> str:
    if not value.isascii() or any(c in value for c in '\\"\n'):
        raise ValueError(f"not a plain string for wrk's script: {value!r}")
    return f'"{value}"'


def burst_wrk(
    wrk: str, base: str, store: Store, kind: str, clients: int, seconds: float, folder: Path
) -> Result:
    """Load one endpoint kind with ``clients`` wrk connections (one thread) for ``seconds``."""
    plan = ", ".join(
        f"{{{lua_string(path)}, {lua_string(token or '')}}}" for path, token in callers(store, kind)
    )
    script = folder / "load.lua"
    script.write_text(WRK_SCRIPT % {"plan": plan, "backoff_ms": round(1e3 * SHED_BACKOFF_S)})
    command = [
        wrk,
        "--threads",
        "1",
        "--connections",
        str(clients),
        "--duration",
        f"{seconds:g}s",
        "--timeout",
        f"{REQUEST_TIMEOUT_S:g}s",
        "--script",
        str(script),
        base,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    return parse_wrk(done.stdout, done.stderr, done.returncode)


def parse_wrk(stdout: str, stderr: str, returncode: int) -> Result:
    """Read wrk's summary and the script's line; anything unexpected is an error."""
    result = Result()
    errors: dict[str, int] = {}
    line = re.search(r"^JOINTSAT (.*)$", stdout, re.MULTILINE)
    if returncode != 0 or line is None:
        errors[f"wrk failed (exit {returncode}): {(stderr or stdout).strip()[-300:]}"] = 1
        result.errors = errors
        return result
    fields = dict(item.split("=", 1) for item in line.group(1).split())
    result.requests = int(fields["requests"])
    if result.requests:
        result.p50 = int(fields["p50_us"]) / 1e6
        result.p99 = int(fields["p99_us"]) / 1e6
    statuses = {
        key: int(n)
        for key, n in (item.split("=") for item in fields["statuses"].split(",") if item)
    }
    result.served = statuses.pop("200", 0)
    result.shed = statuses.pop("shed", 0)
    errors.update({f"HTTP {key}": n for key, n in statuses.items()})
    # wrk's own counts: sockets that failed or timed out, and statuses of 400 and over
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout
    )
    if sockets:
        for name, n in zip(("connect", "read", "write", "timeout"), sockets.groups(), strict=True):
            if int(n):
                errors[f"socket {name}"] = int(n)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
    expected = result.shed + sum(n for key, n in statuses.items() if int(key) >= 400)
    if non_2xx and int(non_2xx.group(1)) != expected:
        errors[f"wrk counted {non_2xx.group(1)} non-2xx, the script {expected}"] = 1
    result.errors = errors
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(store: Store, workers: int, log: Path) -> Iterator[tuple[str, list[float]]]:
    """Run ``jointsat serve``; yield its base URL and a list that gets SIGTERM's duration."""
    port = free_port()
    env = {
        **os.environ,
        "JOINTSAT_DATABASE_URL": store.url,
        "JOINTSAT_ARCHIVE_ROOT": str(store.archive),
    }
    command = [sys.executable, "-m", "jointsat", "serve", "--port", str(port)]
    with log.open("ab") as out:
        server = subprocess.Popen(
            [*command, "--workers", str(workers)], env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    stopped: list[float] = []
    try:
        deadline = time.time() + 60
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=2.0).raise_for_status()
                break
            except httpx.HTTPError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit(f"FAIL: the server did not start (see {log})") from None
                time.sleep(0.2)
        yield base, stopped
    finally:
        start = time.perf_counter()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=SIGTERM_S)
            stopped.append(time.perf_counter() - start)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            stopped.append(float("inf"))


def warm(base: str, store: Store) -> dict[str, float]:
    """Ask each endpoint once per viewer (filling each worker's caches); return first costs."""
    first: dict[str, float] = {}
    with httpx.Client(base_url=base, timeout=120.0) as http:
        for round_ in range(4):
            for token in [*store.viewers, None]:
                headers = {} if token is None else {"Authorization": f"Bearer {token}"}
                for kind, paths in ENDPOINTS.items():
                    for path in paths[:5]:
                        t = time.perf_counter()
                        response = http.get(path, headers=headers)
                        if response.status_code not in (200, 401):
                            raise SystemExit(
                                f"FAIL: warming {path} answered {response.status_code}: "
                                f"{response.text[:300]}"
                            )
                        if round_ == 0:
                            first[kind] = max(first.get(kind, 0.0), time.perf_counter() - t)
    return first


def me_after(base: str, token: str) -> tuple[float, str]:
    """Return how long /api/v1/me takes right after a burst, and its outcome ('200' if fine).

    wrk leaves the requests it still had in flight to the server, which may still be
    working through them.
    """
    t = time.perf_counter()
    try:
        response = httpx.get(
            f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )
        outcome = str(response.status_code)
    except httpx.HTTPError as error:
        outcome = type(error).__name__
    return time.perf_counter() - t, outcome


@dataclass
class Row:
    backend: str
    workers: int
    clients: int
    endpoint: str
    seconds: float
    result: Result
    me_s: float
    me_outcome: str


def report(rows: list[Row], stops: dict[tuple[str, int], float], generator: str) -> list[str]:
    """Print the table; return the failures."""
    failures = []
    print(f"\nload generator: {generator}")
    print(
        f"{'backend':10s} {'wk':>2} {'clients':>7} {'endpoint':14s} {'requests':>8} "
        f"{'req/s':>7} {'p50_ms':>8} {'p99_ms':>8} {'shed%':>6} {'errors':>6} {'/me_ms':>7}"
    )
    for row in rows:
        r = row.result
        errors = sum(r.errors.values())
        print(
            f"{row.backend:10s} {row.workers:>2} {row.clients:>7} {row.endpoint:14s} "
            f"{r.requests:>8} {r.served / row.seconds:>7.0f} {1e3 * r.p50:>8.1f} "
            f"{1e3 * r.p99:>8.1f} {100 * r.shed / max(r.requests, 1):>6.1f} {errors:>6} "
            f"{1e3 * row.me_s:>7.1f}{'' if row.me_outcome == '200' else ' ' + row.me_outcome}"
        )
        where = f"{row.backend}, {row.workers} worker(s), {row.clients} clients, {row.endpoint}"
        if errors:
            failures.append(f"{where}: errors {r.errors}")
        if r.served == 0:
            failures.append(f"{where}: nothing served")
        if row.clients <= 50 and not r.p99 <= TARGET_P99_S:
            failures.append(f"{where}: p99 {r.p99:.2f} s over {TARGET_P99_S:g} s")
        if row.me_outcome != "200":
            failures.append(f"{where}: /api/v1/me answered {row.me_outcome} after the burst")
        elif row.me_s > ME_AFTER_BURST_S:
            failures.append(f"{where}: /api/v1/me took {row.me_s:.2f} s after the burst")
    for (backend, workers), stop_s in stops.items():
        print(f"SIGTERM stopped {backend} with {workers} worker(s) in {stop_s:.2f} s")
        if stop_s > SIGTERM_S:
            failures.append(f"{backend}, {workers} worker(s): SIGTERM did not stop the server")
    return failures


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """Create a database of its own on the server; yield its URL; drop it after."""
    name = f"jointsat_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(normalise_url(server_url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(
    backend: str,
    url: str,
    folder: Path,
    args: argparse.Namespace,
    wrk: str | None,
    rows: list[Row],
) -> dict[tuple[str, int], float]:
    store = fill(url, folder / f"archive-{backend}")
    ENDPOINTS["downloads"] = store.downloads[:20]
    stops = {}
    for workers in args.workers:
        with serving(store, workers, folder / "server.log") as (base, stopped):
            first = warm(base, store)
            print(
                f"{backend}, {workers} worker(s): first request per endpoint (computes): "
                + ", ".join(f"{k} {1e3 * v:.0f} ms" for k, v in first.items()),
                flush=True,
            )
            for kind in ENDPOINTS:  # steady state: every worker has seen every query once
                if wrk:
                    burst_wrk(wrk, base, store, kind, WARM_CLIENTS, WARM_S, folder)
                else:
                    asyncio.run(burst_python(base, store, kind, WARM_CLIENTS, WARM_S))
            for clients in args.clients:
                for kind in ENDPOINTS:
                    if wrk:
                        result = burst_wrk(wrk, base, store, kind, clients, args.seconds, folder)
                    else:
                        result = asyncio.run(burst_python(base, store, kind, clients, args.seconds))
                    me_s, me_outcome = me_after(base, store.viewers[0])
                    rows.append(
                        Row(backend, workers, clients, kind, args.seconds, result, me_s, me_outcome)
                    )
                print(f"  {clients} clients done", flush=True)
        stops[(backend, workers)] = stopped[0]
    return stops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per endpoint and count")
    parser.add_argument(
        "--clients", type=lambda s: [int(n) for n in s.split(",")], default=[10, 50, 100, 200]
    )
    parser.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",")], default=[1, 2])
    parser.add_argument("--postgres", help="a PostgreSQL server URL: also load a store there")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    parser.add_argument(
        "--python",
        action="store_true",
        help="load with Python's httpx clients even if wrk is found",
    )
    args = parser.parse_args()
    wrk = None if args.python else shutil.which("wrk")
    generator = (
        f"wrk ({wrk}: one thread, a connection per client)"
        if wrk
        else "PYTHON httpx clients in the benchmark's own process (they take CPU from the server)"
    )
    print(f"load generator: {generator}", flush=True)
    began = time.perf_counter()
    rows: list[Row] = []
    stops: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if not args.no_sqlite:
            stops |= run_backend("sqlite", f"sqlite:///{folder}/load.db", folder, args, wrk, rows)
        if args.postgres:
            with postgres_database(args.postgres) as url:
                stops |= run_backend("postgresql", url, folder, args, wrk, rows)
        failures = report(rows, stops, generator)
        if failures:
            log = folder / "server.log"
            if log.exists():
                kept = Path(tempfile.gettempdir()) / f"api_load-{os.getpid()}.log"
                shutil.copyfile(log, kept)
                print(f"server log kept at {kept}")
    print(f"the matrix took {time.perf_counter() - began:.0f} s")
    if not rows:
        failures.append("nothing was run")
    if failures:
        print("\nFAIL:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        raise SystemExit(1)
    print("\nok: every request answered (served or shed with Retry-After), none errored")


if __name__ == "__main__":
    main()
