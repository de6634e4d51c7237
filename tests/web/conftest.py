"""A live ``jointsat serve`` with the demo consortium, and Debian's chromium to drive it.

The store holds the demo consortium (``jointsat.demo.build``: five partners, 21
stations, DLR's private) and ESA's TWIN, a satellite of a nine-digit catalog number
(:data:`NINE_DIGITS`, whose elements exist only as OMM), with one fair schedule of
the demo week's first day (Kiruna down for maintenance for four hours of it), a viewer
token for each partner and one archived product. The server is a real uvicorn process
on a free loopback port. The browser is ``/usr/bin/chromium`` (Debian's), started by
Playwright headless; nothing is downloaded. Without either, the tests skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.support.server import free_port

if TYPE_CHECKING:
    from jointsat.orbits.elements import Elements

CHROMIUM = Path(os.environ.get("JOINTSAT_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
NOW = datetime(2024, 5, 9, 12, 0, tzinfo=UTC)
SCHEDULE_TIME_LIMIT_S = 5.0
NINE_DIGITS = 799_501_299  # TWIN: the ISS's OMM under this number, half an orbit behind


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the dashboard tests need Playwright for Python (pip install -e '.[test]')"
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        return (
            f"the dashboard tests need Debian's chromium at {CHROMIUM} "
            "(apt-get install chromium; .ci/run installs it)"
        )
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip this folder's tests, saying why, where no browser can be driven."""
    reason = _browser_missing()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Service:
    """The running server, its tokens and the demo's facts."""

    base_url: str
    admin: str
    viewers: dict[str, str]  # partner code -> a viewer's token
    schedule_id: int
    day_start: datetime
    station_owner: dict[str, str]
    log: Path
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    def get(self, path: str, token: str) -> Any:
        """Return the JSON answer of a GET (raising on an HTTP error)."""
        key = (path, token)
        if key not in self.cache:
            request = urllib.request.Request(
                self.base_url + path, headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                self.cache[key] = json.loads(response.read())
        return self.cache[key]


def _build_store(url: str) -> tuple[str, dict[str, str], int, datetime, dict[str, str]]:
    from sqlalchemy import select

    from jointsat.demo import build
    from jointsat.files import read_demo_elements, read_demo_stations
    from jointsat.scheduling.result import Policy
    from jointsat.scheduling.solver import SolverSettings
    from jointsat.service.tokens import issue_token
    from jointsat.store import migrate
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.schedules import schedule_network
    from jointsat.store.tables import (
        GroundStation,
        Role,
        Unavailability,
        UnavailabilityKind,
        User,
    )

    elements = read_demo_elements()
    anchor = max(elements.parsed[0].elements, key=lambda e: e.epoch)
    day_start = anchor.epoch.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    migrate.upgrade(url)
    engine = open_engine(url)
    try:
        with session_factory(engine)() as session:
            demo = build(session, elements, read_demo_stations(), now=NOW)
            _add_twin(session, elements.parsed[0].elements, demo.partners["esa"])
            viewers = {}
            for code, partner_id in demo.partners.items():
                user = User(
                    name=f"{code}-viewer", role=Role.VIEWER, partner_id=partner_id, created_at=NOW
                )
                session.add(user)
                # The real server's clock judges the tokens' expiry: issue them now.
                viewers[code] = issue_token(
                    session, user, now=datetime.now(UTC), label="dashboard tests"
                )
            admin_user = session.scalars(select(User).where(User.role == Role.ADMIN)).one()
            admin_token = issue_token(
                session, admin_user, now=datetime.now(UTC), label="dashboard tests"
            )
            kiruna = session.scalars(
                select(GroundStation).where(GroundStation.name.startswith("Kiruna"))
            ).one()
            kiruna.unavailable.append(
                Unavailability(
                    start=day_start + timedelta(hours=9),
                    end_at=day_start + timedelta(hours=13),
                    kind=UnavailabilityKind.MAINTENANCE,
                    reason="antenna service",
                )
            )
            session.commit()
            record, _ = schedule_network(
                session,
                day_start,
                day_start + timedelta(days=1),
                now=NOW,
                policy=Policy.FAIR,
                settings=SolverSettings(time_limit_s=SCHEDULE_TIME_LIMIT_S),
            )
            session.commit()
            schedule_id = record.id
    finally:
        engine.dispose()
    return admin_token, viewers, schedule_id, day_start, demo.station_owner


def _add_twin(session: Any, demo_elements: Sequence[Elements], esa: int) -> None:
    """Add TWIN, operated by ESA, from an OMM record under :data:`NINE_DIGITS`."""
    from jointsat.orbits.elements import parse_elements
    from jointsat.store.consortium import Arrival, add_element_sets, add_satellite

    iss = next(e for e in demo_elements if e.norad_cat_id == 25544)
    shifted = (iss.mean_anomaly_deg + 180.0) % 360.0
    renamed = {"OBJECT_NAME": "TWIN", "NORAD_CAT_ID": NINE_DIGITS, "MEAN_ANOMALY": shifted}
    omm = iss.to_omm() | renamed
    sets = parse_elements(json.dumps([omm]), source="twin.json", strict=True).elements
    twin = add_satellite(
        session, name="TWIN", norad_id=NINE_DIGITS, daily_demand_s=None, imager=None,
        operators={esa: 1.0},
    )  # fmt: skip
    add_element_sets(twin, sets, Arrival(source="twin.json", now=NOW))


def _ingest_product(base_url: str, token: str, acquired: datetime, name: str) -> None:
    """Archive a small CHEOPS product of ESA's over HTTP, as an operator would."""
    import httpx

    metadata = {
        "satellite": 44874,
        "instrument": "CHEOPS-CCD",
        "processing_level": "L1",
        "acquired_start": acquired.isoformat(),
        "acquired_end": (acquired + timedelta(minutes=10)).isoformat(),
        "sky": {"ra_deg": 83.8, "dec_deg": -5.4},
        "owners": ["esa"],
    }
    answer = httpx.post(
        f"{base_url}/api/v1/products",
        data={"metadata": json.dumps(metadata)},
        files=[("file", (name, f"SIMPLE  = T / {name}".encode().ljust(2880), "image/fits"))],
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    answer.raise_for_status()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Start ``jointsat serve`` on the demo consortium; stop it after the session."""
    if _browser_missing():
        pytest.skip(_browser_missing() or "")
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'store.db'}"
    admin, viewers, schedule_id, day_start, owners = _build_store(url)
    port = free_port()
    log = folder / "server.log"
    env = {
        **os.environ,
        "JOINTSAT_DATABASE_URL": url,
        "JOINTSAT_ARCHIVE_ROOT": str(folder / "archive"),
    }
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jointsat", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    found = Service(base_url, admin, viewers, schedule_id, day_start, owners, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                found.get("/api/v1/me", admin)
                break
            except (OSError, urllib.error.URLError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the server did not start: {log.read_text(errors='replace')[-3000:]}"
                    ) from None
                time.sleep(0.1)
        found.cache.clear()
        # One product of the demo day, long out of ESA's embargo, and one of yesterday
        # (by the server's clock), which only ESA and the admin may see yet.
        _ingest_product(base_url, admin, day_start + timedelta(hours=3), "frame-0001.fits")
        _ingest_product(base_url, admin, datetime.now(UTC) - timedelta(days=1), "frame-0002.fits")
        yield found
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


@dataclass(frozen=True)
class Empty:
    """A running server over a store that holds its admin only, and the admin's token."""

    base_url: str
    admin: str
    log: Path


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Empty]:
    """Serve a migrated store with its admin only (no partner, request or plan).

    For the pages' empty states; the tests only read it, so one serves the session.
    """
    from tests.support.server import served

    from jointsat.service.tokens import initialise
    from jointsat.store import migrate
    from jointsat.store.database import open_engine, session_factory

    if _browser_missing():
        pytest.skip(_browser_missing() or "")
    folder = tmp_path_factory.mktemp("empty")
    url = f"sqlite:///{folder / 'store.db'}"
    migrate.upgrade(url)
    engine = open_engine(url)
    try:
        with session_factory(engine).begin() as session:
            token = initialise(session, name="admin", now=datetime.now(UTC))
    finally:
        engine.dispose()
    with served(url, folder / "archive", folder / "server.log", ready="/api/v1/me") as server:
        yield Empty(server.base, token, server.log)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's chromium, headless, never a browser Playwright would download."""
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A desktop-sized window, so that every page's layout is the one operators get."""
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder screenshots go to (git-ignored); each run overwrites its pictures.

    It is not emptied: under pytest-xdist every worker has its own session, and one
    would delete the pictures another had just taken.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
