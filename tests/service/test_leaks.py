"""Check that refusals tell nothing a caller may not see, and that logs keep no token.

- a station's name is unique per partner: naming a station like another partner's
  private one is no conflict (a 409 would tell that it exists);
- re-ingesting the bytes of a product the caller may not see yet is refused without
  naming the product or anything of it;
- ``/stac/conformance`` refuses a bad or revoked token like the rest of the catalogue;
- the access log of a real ``jointsat serve`` never holds a token sent in a query.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.consortium import Consortium, bearer
from tests.support.server import served

from jointsat.service.logs import redact_target
from jointsat.store import migrate
from jointsat.store.convert import station_names
from jointsat.store.tables import GroundStation, Partner, Role, Visibility

ACQUIRED = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
ACQUIRED_END = ACQUIRED + timedelta(minutes=10)
EMBARGO_DAYS = 30
JOINT = 44874


class World(Consortium):
    """ESA (private stations, a 30-day embargo) and CNES jointly operate one satellite."""

    def __init__(self, url: str, archive: Path) -> None:
        super().__init__(url, now=ACQUIRED_END)
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(
                session,
                "esa",
                0.5,
                agreement={
                    "embargo_days": EMBARGO_DAYS,
                    "station_visibility": Visibility.PRIVATE,
                },
            )
            cnes = self.add_partner(session, "cnes", 0.5, agreement={})
            self.esa, self.cnes = esa.id, cnes.id
            self.add_station(session, "Kourou", esa, 5.25, -52.8)
            self.add_satellite(session, "joint-sat", JOINT, {esa: 0.5, cnes: 0.5})
            for partner in (esa, cnes):
                self.add_user(session, f"{partner.code}-operator", Role.OPERATOR, partner)
        self.client = self.serve(archive_root=archive, clock=lambda: self.now)

    def ingest(self, who: str, data: bytes, **metadata: Any) -> httpx.Response:
        document = {
            "satellite": JOINT,
            "instrument": "CCD",
            "processing_level": "L1",
            "acquired_start": ACQUIRED.isoformat(),
            "acquired_end": ACQUIRED_END.isoformat(),
            **metadata,
        }
        return self.client.post(
            "/api/v1/products",
            data={"metadata": json.dumps(document)},
            files=[("file", ("science.fits", data, "application/fits"))],
            headers=self.headers(who),
        )


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    made = World(store_url, tmp_path / "archive")
    yield made
    made.close()


def test_a_station_name_taken_by_another_partner_is_no_conflict(world: World) -> None:
    cnes = world.headers("cnes-operator")
    body = {"partner_id": world.cnes, "name": "Kourou", "lat_deg": 5.2, "lon_deg": -52.7}
    assert world.client.get("/api/v1/stations", headers=cnes).json() == []  # ESA's is private
    made = world.client.post("/api/v1/stations", json=body, headers=cnes)
    assert made.status_code == 201, made.text  # was 409: "clashes with an existing station"
    again = world.client.post("/api/v1/stations", json=body, headers=cnes)
    assert again.status_code == 409  # its own partner's name is still taken
    assert "Kourou" in again.json()["detail"]
    renamed = world.client.post(
        "/api/v1/stations", json={**body, "name": "Other"}, headers=cnes
    ).json()
    clash = world.client.patch(
        f"/api/v1/stations/{renamed['id']}", json={"name": "Kourou"}, headers=cnes
    )
    assert clash.status_code == 409
    admin = world.headers("admin")
    names = sorted(s["name"] for s in world.client.get("/api/v1/stations", headers=admin).json())
    assert names == ["Kourou", "Kourou", "Other"]


def test_re_ingesting_a_product_the_caller_may_not_see_names_nothing(world: World) -> None:
    data = b"SIMPLE  = T" + os.urandom(4000)
    made = world.ingest("esa-operator", data, owners=["esa"])
    assert made.status_code == 201, made.text
    product = made.json()
    secrets = (product["id"], "CCD", ACQUIRED.isoformat()[:16], "esa")
    # CNES operates the satellite, so it may ingest; the product is ESA's, embargoed.
    for metadata in ({"owners": ["esa"]}, {}, {"instrument": "other"}):
        refused = world.ingest("cnes-operator", data, **metadata)
        assert refused.status_code == 409, (metadata, refused.text)
        detail = refused.text
        assert not any(s in detail for s in secrets), detail
    # Once the embargo has passed CNES may see it: the same ingest finds the same product.
    world.now = ACQUIRED_END + timedelta(days=EMBARGO_DAYS)
    found = world.ingest("cnes-operator", data, owners=["esa"])
    assert found.status_code == 200
    assert found.json()["id"] == product["id"]
    differs = world.ingest("cnes-operator", data, instrument="other", owners=["esa"])
    assert differs.status_code == 409
    assert product["id"] in differs.json()["detail"]  # it may see it now: named


def test_conformance_refuses_bad_and_revoked_tokens_like_the_rest_of_stac(world: World) -> None:
    c = world.client
    assert c.get("/stac/conformance").status_code == 200  # the public
    token = world.tokens["cnes-operator"]
    assert c.get("/stac/conformance", headers=bearer(token)).status_code == 200
    for headers in (bearer("jst_not-a-token"), {"Authorization": "Basic abc"}):
        for path in ("/stac", "/stac/conformance", "/stac/collections"):
            assert c.get(path, headers=headers).status_code == 401, (path, headers)
    me = c.get("/api/v1/me", headers=bearer(token)).json()
    assert c.delete(f"/api/v1/tokens/{me['token']['id']}", headers=bearer(token)).status_code == 204
    assert c.get("/stac/conformance", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/api/v1/me?access_token=jst_abc-DEF_1", "/api/v1/me?access_token=REDACTED"),
        ("/x?a=1&TOKEN=s3cret&b=2", "/x?a=1&TOKEN=REDACTED&b=2"),
        ("/x?api%5Fkey=s3cret", "/x?api%5Fkey=REDACTED"),
        ("/x?q=jst_abc123", "/x?q=REDACTED"),
        ("/x?q=jst%5Fabc123", "/x?q=REDACTED"),
        ("/stac/search?limit=5", "/stac/search?limit=5"),
    ],
)
def test_secrets_in_request_targets_are_redacted(target: str, logged: str) -> None:
    assert redact_target(target) == logged


def test_the_access_log_of_a_real_server_never_holds_a_query_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    made = Consortium(url, now=datetime.now(UTC))
    with made.session() as session:
        token = made.add_admin(session)
    made.close()
    log = tmp_path / "server.log"
    with served(url, tmp_path, log) as server:
        with httpx.Client(base_url=server.base, timeout=10) as client:
            for path in (
                f"/api/v1/me?access_token={token}",
                f"/stac/search?limit=1&token={token}",
                f"/api/v1/products?access_token={token.replace('_', '%5F')}",
            ):
                client.get(path, headers=bearer(token))
                client.get(path)  # without the header too: refused, still logged
        server.process.send_signal(signal.SIGINT)
        server.process.wait(timeout=20)
    text = log.read_text(errors="replace")
    assert "GET /api/v1/me?access_token=REDACTED" in text, text  # the requests were logged
    assert "/stac/search?limit=1&token=REDACTED" in text, text
    secret = token.removeprefix("jst_")
    assert secret not in text
    assert secret.replace("_", "%5F") not in text


def test_a_name_several_partners_use_is_qualified_by_their_codes_only_there() -> None:
    esa, cnes = Partner(code="esa"), Partner(code="cnes")
    rows = [
        GroundStation(id=1, name="Kourou", owner=esa),
        GroundStation(id=2, name="Kourou", owner=cnes),
        GroundStation(id=3, name="Kiruna", owner=esa),
    ]
    assert station_names(rows) == {1: "Kourou (esa)", 2: "Kourou (cnes)", 3: "Kiruna"}
