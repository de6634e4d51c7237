"""Load the REST service: every kind of read endpoint, non-admin callers, 10 to 200 clients.

The store holds 5 partners (a viewer each), 300 real SatNOGS stations, 100 LEO
satellites and 60 archived products (64 KB files). A ``jointsat serve`` runs in a child
process (``--workers`` 1 and 2 by default); for each number of concurrent clients
(``--clients``, default 10, 50, 100 and 200) Python clients (httpx, one connection each,
each a partner's viewer or the public) load all the endpoint kinds at once for
``--seconds``: passes of a day, positions, STAC search, the products list and file
downloads. Per endpoint the script prints requests, req/s, p50/p99 latency, the share
shed (``503`` with ``Retry-After``) and errors; after each burst it times ``/api/v1/me``
and, at the end of each server, how long SIGTERM takes to stop it.

    python -m benchmarks.api_load [--seconds 5] [--clients 10,50,100,200] [--workers 1,2]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--no-sqlite]

``--postgres`` names a server on which the script creates (and then drops) its own
database. The script exits non-zero, saying why, when any request errors (a 5xx other
than a shed 503, a 503 without ``Retry-After``, any other unexpected status, a transport
error or a timeout), when an endpoint is never served, when ``/api/v1/me`` takes over a
second after a burst, or when SIGTERM does not stop the server within 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
class Tally:
    """What one endpoint kind got during a run."""

    times: list[float] = field(default_factory=list)
    served: int = 0
    shed: int = 0
    errors: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))


def judge(response: httpx.Response) -> str:
    """Return 'served', 'shed' or the error a response is."""
    if response.status_code == 200:
        return "served"
    if response.status_code == 503 and response.headers.get("retry-after"):
        return "shed"
    return f"HTTP {response.status_code}"


async def client(
    base: str,
    token: str | None,
    plan: list[tuple[str, str]],
    stop: float,
    tallies: dict[str, Tally],
    offset: int,
) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=REQUEST_TIMEOUT_S) as http:
        k = offset
        while time.perf_counter() < stop:
            kind, path = plan[k % len(plan)]
            k += 1
            t = time.perf_counter()
            try:
                outcome = judge(await http.get(path))
            except httpx.TimeoutException:
                outcome = "timeout"
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            tally = tallies[kind]
            tally.times.append(time.perf_counter() - t)
            if outcome == "served":
                tally.served += 1
            elif outcome == "shed":
                tally.shed += 1
                await asyncio.sleep(0.05)  # a shed client backs off a little
            else:
                tally.errors[outcome] += 1


def plan_for(public: bool) -> list[tuple[str, str]]:
    """Return the requests a client cycles through (the public: what it may read)."""
    kinds = ["products list", "stac search", "downloads"] if public else list(ENDPOINTS)
    plan = []
    for i in range(12):
        for kind in kinds:
            paths = ENDPOINTS[kind]
            plan.append((kind, paths[i % len(paths)]))
    return plan


async def burst(base: str, store: Store, clients: int, seconds: float) -> dict[str, Tally]:
    """Load every endpoint kind with ``clients`` clients for ``seconds``."""
    tallies = {kind: Tally() for kind in ENDPOINTS}
    stop = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            # every fifth client is the public; the others a partner's viewer
            client(
                base,
                None if i % 5 == 4 else store.viewers[i % len(store.viewers)],
                plan_for(i % 5 == 4),
                stop,
                tallies,
                i,
            )
            for i in range(clients)
        )
    )
    return tallies


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


def me_after(base: str, token: str) -> float:
    """Return how long /api/v1/me takes right after a burst."""
    t = time.perf_counter()
    response = httpx.get(
        f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30.0
    )
    response.raise_for_status()
    return time.perf_counter() - t


@dataclass
class Row:
    backend: str
    workers: int
    clients: int
    seconds: float
    tallies: dict[str, Tally]
    me_s: float


def report(rows: list[Row], stops: dict[tuple[str, int], float]) -> list[str]:
    """Print the table; return the failures."""
    failures = []
    print(
        f"\n{'backend':10s} {'wk':>2} {'clients':>7} {'endpoint':14s} {'requests':>8} "
        f"{'req/s':>7} {'p50_ms':>7} {'p99_ms':>8} {'shed%':>6} {'errors':>6}"
    )
    for row in rows:
        total_served = 0
        for kind, tally in row.tallies.items():
            n = len(tally.times)
            p50, p99 = np.percentile(tally.times, [50, 99]) if n else (np.nan, np.nan)
            errors = sum(tally.errors.values())
            total_served += tally.served
            print(
                f"{row.backend:10s} {row.workers:>2} {row.clients:>7} {kind:14s} {n:>8} "
                f"{tally.served / row.seconds:>7.0f} {1e3 * p50:>7.1f} {1e3 * p99:>8.1f} "
                f"{100 * tally.shed / max(n, 1):>6.1f} {errors:>6}"
            )
            where = f"{row.backend}, {row.workers} worker(s), {row.clients} clients, {kind}"
            if errors:
                failures.append(f"{where}: {dict(tally.errors)}")
            if tally.served == 0:
                failures.append(f"{where}: nothing served")
            if row.clients <= 50 and p99 > TARGET_P99_S:
                failures.append(f"{where}: p99 {p99:.2f} s over {TARGET_P99_S:g} s")
        print(f"{'':10s} {'':>2} {'':>7} {'/me after':14s} {1e3 * row.me_s:>34.1f} ms")
        if row.me_s > ME_AFTER_BURST_S:
            failures.append(
                f"{row.backend}, {row.workers} worker(s), {row.clients} clients: "
                f"/api/v1/me took {row.me_s:.2f} s after the burst"
            )
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
    backend: str, url: str, folder: Path, args: argparse.Namespace, rows: list[Row]
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
            for clients in args.clients:
                tallies = asyncio.run(burst(base, store, clients, args.seconds))
                rows.append(
                    Row(
                        backend,
                        workers,
                        clients,
                        args.seconds,
                        tallies,
                        me_after(base, store.viewers[0]),
                    )
                )
                print(f"  {clients} clients done", flush=True)
        stops[(backend, workers)] = stopped[0]
    return stops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per client count")
    parser.add_argument(
        "--clients", type=lambda s: [int(n) for n in s.split(",")], default=[10, 50, 100, 200]
    )
    parser.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",")], default=[1, 2])
    parser.add_argument("--postgres", help="a PostgreSQL server URL: also load a store there")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    args = parser.parse_args()
    rows: list[Row] = []
    stops: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if not args.no_sqlite:
            stops |= run_backend("sqlite", f"sqlite:///{folder}/load.db", folder, args, rows)
        if args.postgres:
            with postgres_database(args.postgres) as url:
                stops |= run_backend("postgresql", url, folder, args, rows)
        failures = report(rows, stops)
        if failures:
            log = folder / "server.log"
            if log.exists():
                kept = Path(tempfile.gettempdir()) / f"api_load-{os.getpid()}.log"
                shutil.copyfile(log, kept)
                print(f"server log kept at {kept}")
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
