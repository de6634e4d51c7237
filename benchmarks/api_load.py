"""Load the REST service: 32 concurrent clients on loopback against the list endpoints and passes.

The store (SQLite by default) holds 1,000 real SatNOGS stations and 100 LEO satellites.
A uvicorn server runs in a child process; the clients run for a fixed time (30 s by
default) and the script prints p50/p99 latency and the error count per endpoint.
Targets (issue 3): no errors; p99 under 200 ms for list endpoints on SQLite; passes for
a day served from the cache under 200 ms.

    python -m benchmarks.api_load [--seconds 30] [--clients 32] [--workers N] [--database-url URL]

With Debian's ``wrk`` installed the clients are wrk's (compiled, so that they take
little of the CPU the server needs), one endpoint after another; without it, Python
clients (httpx) load all the endpoints at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

import httpx
import numpy as np

from benchmarks.common import leo_satellites
from benchmarks.passes_scaling import satnogs_stations
from jointsat.service.tokens import initialise
from jointsat.store import migrate
from jointsat.store.database import open_engine, session_factory
from jointsat.store.tables import (
    Agreement,
    ElementSetRecord,
    GroundStation,
    Partner,
    Satellite,
    SatelliteOperator,
)

TARGET_P99_S = 0.2
NOW = datetime(2024, 5, 10, tzinfo=UTC)


def fill(url: str) -> str:
    """Create the store with 5 partners, 1,000 stations, 100 satellites; return a token."""
    migrate.upgrade(url)
    engine = open_engine(url)
    with session_factory(engine).begin() as session:
        token = initialise(session, name="admin", now=datetime.now(UTC))  # the server's clock
        partners = [
            Partner(code=f"p{i}", name=f"Partner {i}", contribution_share=0.2) for i in range(5)
        ]
        session.add_all([Agreement(partner=p) for p in partners])
        for i, s in enumerate(satnogs_stations(1000)):
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
        for i, e in enumerate(leo_satellites(100)):
            satellite = Satellite(name=e.object_name, norad_id=e.norad_cat_id)
            satellite.operators = [SatelliteOperator(partner=partners[i % 5], fraction=1.0)]
            satellite.element_sets = [
                ElementSetRecord(epoch=e.epoch, omm=e.to_omm(), source="benchmark", received_at=NOW)
            ]
            session.add(satellite)
    engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def client(
    base: str,
    headers: dict[str, str],
    paths: list[str],
    stop: float,
    results: dict[str, list[float]],
    errors: dict[str, int],
    offset: int,
) -> None:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30.0) as http:
        k = offset
        while time.perf_counter() < stop:
            path = paths[k % len(paths)]
            k += 1
            t = time.perf_counter()
            try:
                response = await http.get(path)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            results[path].append(time.perf_counter() - t)
            if not ok:
                errors[path] += 1


DAY = "start=2024-05-10T00:00:00Z&end=2024-05-11T00:00:00Z"
PATHS = [
    "/api/v1/partners",
    "/api/v1/stations",
    "/api/v1/satellites",
    "/api/v1/agreements",
    f"/api/v1/passes?{DAY}&satellite_id=1",
]


async def run(base: str, token: str, clients: int, seconds: float) -> None:
    paths = PATHS
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120.0) as warm:
        first = time.perf_counter()
        await warm.get(paths[-1])  # compute once: the load measures the cache
        print(f"first passes request (computes and caches): {time.perf_counter() - first:.2f} s")
    results: dict[str, list[float]] = {p: [] for p in paths}
    errors = {p: 0 for p in paths}
    stop = time.perf_counter() + seconds
    await asyncio.gather(
        *(client(base, headers, paths, stop, results, errors, i) for i in range(clients))
    )
    print(f"{clients} clients for {seconds:g} s on loopback")
    print(f"{'endpoint':58s} {'requests':>8} {'errors':>6} {'p50_ms':>7} {'p99_ms':>7}  target")
    for path in paths:
        times = np.array(results[path])
        p50, p99 = np.percentile(times, [50, 99]) if times.size else (np.nan, np.nan)
        ok = "ok" if errors[path] == 0 and p99 <= TARGET_P99_S else "MISSES"
        print(
            f"{path:58s} {times.size:>8} {errors[path]:>6} {1e3 * p50:>7.1f} "
            f"{1e3 * p99:>7.1f}  {ok}"
        )


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if found is None:
        raise ValueError(f"wrk printed a latency this script cannot read: {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[unit]


def run_wrk(base: str, token: str, clients: int, seconds: float) -> None:
    """Load each endpoint in turn with wrk and print its p50/p99 and errors."""
    print(f"wrk: {clients} connections, {seconds:g} s per endpoint, on loopback")
    print(f"{'endpoint':58s} {'req/s':>8} {'errors':>6} {'p50_ms':>7} {'p99_ms':>7}  target")
    for path in PATHS:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                "2",
                "-c",
                str(clients),
                "-d",
                f"{seconds:g}s",
                "--latency",
                "-H",
                f"Authorization: Bearer {token}",
                base + path,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        try:
            p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
            p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            print(out)
            raise
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        errors = sum(
            int(n)
            for n in re.findall(
                r"(?:Non-2xx or 3xx responses|errors: \w+)"
                r"\D*(\d+)",
                out,
            )
        )
        ok = "ok" if errors == 0 and p99 <= 1e3 * TARGET_P99_S else "MISSES"
        print(f"{path:58s} {rate:>8.0f} {errors:>6} {p50:>7.1f} {p99:>7.1f}  {ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--database-url", help="an empty store (default: a temporary SQLite)")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/load.db"
        token = fill(url)
        port = free_port()
        env = {**os.environ, "JOINTSAT_DATABASE_URL": url}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jointsat",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    httpx.get(f"{base}/openapi.json", timeout=1.0)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            if shutil.which("wrk"):
                for path in PATHS:  # fill each worker's caches a few times over
                    for _ in range(4 * args.workers):
                        httpx.get(
                            base + path, headers={"Authorization": f"Bearer {token}"}, timeout=120.0
                        )
                run_wrk(base, token, args.clients, args.seconds)
            else:
                asyncio.run(run(base, token, args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
