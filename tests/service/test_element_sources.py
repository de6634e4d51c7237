"""Check the service's scheduled refresh (in a real `jointsat serve` too) and the admin's view
of the element sources."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import httpx
from fastapi import FastAPI
from tests.sources.fake import serving
from tests.support.consortium import Consortium, bearer
from tests.support.data import orbit_file
from tests.support.server import served

from jointsat.orbits.elements import parse_elements
from jointsat.service.refresher import refresh_now
from jointsat.settings import CELESTRAK_URL_VARIABLE, REFRESH_HOURS_VARIABLE
from jointsat.store import migrate
from jointsat.store.consortium import satellites
from jointsat.store.tables import Role

ISS = 25544
LOG_WAIT_S = 60.0  # a loaded machine may be slow; the refreshes come every second or so
STATIONS_ISS = "\n".join(
    (files("jointsat.data") / "stations.tle").read_text(encoding="utf-8").splitlines()[:3]
)


def test_the_service_refreshes_its_satellites_and_shows_the_admin_how(
    consortium: Consortium,
) -> None:
    with consortium.session() as session:
        consortium.add_admin(session)
        partner = consortium.add_partner(session, "ESA", 0.5)
        consortium.add_user(session, "viewer", Role.VIEWER, partner)
        consortium.add_user(session, "operator", Role.OPERATOR, partner)
        consortium.add_satellite(session, "ISS", ISS, {partner: 1.0})
    with serving() as fake:
        client = consortium.serve(celestrak_url=fake.base, elements_refresh_hours=6.0)
        app = client.app
        assert isinstance(app, FastAPI)
        line = refresh_now(app)
        assert line.startswith("celestrak: 1 sets received, 1 new stored for 1 satellites")
        assert [s.query.get("CATNR") for s in fake.seen] == [str(ISS)]
        consortium.now += timedelta(minutes=30)  # the app's clock: within CelesTrak's 2 hours
        refresh_now(app)
        assert len(fake.seen) == 1
        fake.fault = 500
        consortium.now += timedelta(hours=3)
        failed = refresh_now(app)
        assert "refresh failed" in failed
        assert "500" in failed
    shown = client.get("/api/v1/elements/sources", headers=consortium.headers("admin"))
    assert shown.status_code == 200
    celestrak = shown.json()[0]
    assert celestrak["source"] == "celestrak"
    assert celestrak["blocked"] is True
    assert celestrak["last_refresh"] == failed
    # The sources' state is the admin's alone: every partner role is refused, the public too.
    for role in ("operator", "viewer"):
        answer = client.get("/api/v1/elements/sources", headers=consortium.headers(role))
        assert answer.status_code == 403
    assert client.get("/api/v1/elements/sources").status_code == 401
    with consortium.session() as session:
        (iss,) = satellites(session)
        assert [e.source_kind for e in iss.element_sets] == ["celestrak"]


def test_a_real_server_refreshes_on_its_schedule(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    made = Consortium(url, now=datetime.now(UTC))
    (old,) = parse_elements(orbit_file("tle-CATNR-25544.txt").read_text()).elements  # 2020
    with made.session() as session:
        token = made.add_admin(session)
        partner = made.add_partner(session, "ESA", 1.0)
        made.add_satellite(session, "ISS", ISS, {partner: 1.0}, [old])
    log = tmp_path / "server.log"
    period_h = 0.0003  # about a second: a few refreshes while the test waits
    settings = {CELESTRAK_URL_VARIABLE: "", REFRESH_HOURS_VARIABLE: str(period_h)}
    with serving() as fake:
        settings[CELESTRAK_URL_VARIABLE] = fake.base
        with served(url, tmp_path, log, environ=settings) as server:
            deadline = time.monotonic() + LOG_WAIT_S
            while _refresh_lines(log) < 2:  # the schedule came round again
                assert server.process.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.1)
            shown = httpx.get(
                f"{server.base}/api/v1/elements/sources", headers=bearer(token), timeout=10
            )
    # One query: the second refresh was answered from the store (CelesTrak's 2 hours).
    assert [s.query.get("CATNR") for s in fake.seen] == [str(ISS)]
    lines = [line for line in log.read_text().splitlines() if "elements refresh:" in line]
    assert "celestrak: 1 sets received, 1 new stored for 1 satellites" in lines[0], lines
    celestrak = {s["source"]: s for s in shown.json()}["celestrak"]
    assert celestrak["blocked"] is False
    assert celestrak["refreshed_at"] is not None
    assert celestrak["last_refresh"] in {line.split("elements refresh: ")[1] for line in lines}
    with made.session() as session:
        (iss,) = satellites(session)
        assert [(e.epoch, e.source_kind) for e in iss.element_sets] == [
            (old.epoch, "upload"),
            (parse_elements(STATIONS_ISS).elements[0].epoch, "celestrak"),
        ]
    made.close()


def _refresh_lines(log: Path) -> int:
    """Return how many refreshes the server's log reports."""
    return log.read_text(errors="replace").count("elements refresh:")


def test_the_service_refreshes_nothing_unless_told(consortium: Consortium) -> None:
    client = consortium.serve()
    assert not hasattr(client.app.state, "element_source")  # type: ignore[attr-defined]
