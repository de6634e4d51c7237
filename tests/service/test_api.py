"""Exercise the REST service with httpx against the app, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from tests.support.consortium import TOKENS_LIVE, Consortium, bearer

from jointsat.service.tokens import revoke
from jointsat.store.database import session_factory
from jointsat.store.tables import ApiToken, Role

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


class Members(Consortium):
    """A migrated store with an admin, two partners, and an operator of the first."""

    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        with self.session() as session:
            self.admin_token = self.add_admin(session)
            esa = self.add_partner(session, "esa", 0.6, name="European Space Agency")
            cnes = self.add_partner(session, "cnes", 0.4, name="CNES")
            self.esa_id, self.cnes_id = esa.id, cnes.id
            self.operator_token = self.add_user(session, "esa-ops", Role.OPERATOR, esa)
        self.client = self.serve()

    def get(self, path: str, token: str | None) -> httpx.Response:
        return self.client.get(path, headers=bearer(token))

    def send(self, method: str, path: str, token: str | None, json: Any = None) -> httpx.Response:
        return self.client.request(method, path, headers=bearer(token), json=json)


@pytest.fixture
def consortium(store_url: str) -> Iterator[Members]:
    c = Members(store_url)
    yield c
    c.close()


def test_me_tells_who_the_token_belongs_to(consortium: Members) -> None:
    me = consortium.get("/api/v1/me", consortium.operator_token)
    assert me.status_code == 200
    assert me.json() == {
        "id": me.json()["id"],
        "name": "esa-ops",
        "role": "operator",
        "partner_id": consortium.esa_id,
        "token": {
            "id": me.json()["token"]["id"],
            "expires_at": (consortium.now + TOKENS_LIVE).isoformat().replace("+00:00", "Z"),
            "mints": False,
        },
    }


@pytest.mark.parametrize("token", [None, "jst_not-a-token", "Basic abc"])
def test_requests_without_a_live_token_are_refused(consortium: Members, token: str | None) -> None:
    response = consortium.get("/api/v1/partners", token)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


def test_a_revoked_token_stops_working(consortium: Members) -> None:
    assert consortium.get("/api/v1/me", consortium.operator_token).status_code == 200
    with session_factory(consortium.engine).begin() as session:
        for row in session.scalars(select(ApiToken)):
            if row.user.name == "esa-ops":
                revoke(session, row.id, now=NOW)
    assert consortium.get("/api/v1/me", consortium.operator_token).status_code == 401


def test_tokens_are_stored_only_as_hashes(consortium: Members) -> None:
    with consortium.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT token_hash FROM api_tokens"))]
    assert consortium.admin_token not in stored
    assert all(len(h) == 64 for h in stored)


def test_admin_manages_partners_and_others_read(consortium: Members) -> None:
    admin, operator = consortium.admin_token, consortium.operator_token
    created = consortium.send(
        "POST",
        "/api/v1/partners",
        admin,
        json={"code": "asi", "name": "Agenzia Spaziale Italiana", "contribution_share": 0.1},
    )
    assert created.status_code == 201
    new_id = created.json()["id"]
    listed = consortium.get("/api/v1/partners", operator).json()
    assert [p["code"] for p in listed] == ["esa", "cnes", "asi"]
    patched = consortium.send(
        "PATCH", f"/api/v1/partners/{new_id}", admin, json={"contribution_share": 0.15}
    )
    assert patched.json()["contribution_share"] == pytest.approx(0.15)
    forbidden = consortium.send(
        "POST",
        "/api/v1/partners",
        operator,
        json={"code": "x", "name": "X", "contribution_share": 0.1},
    )
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == PROBLEM
    assert consortium.send("DELETE", f"/api/v1/partners/{new_id}", admin).status_code == 204
    assert consortium.get(f"/api/v1/partners/{new_id}", admin).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/v1/partners/999999", None, 404),
        (
            "POST",
            "/api/v1/partners",
            {"code": "esa", "name": "Dup", "contribution_share": 0.1},
            409,
        ),
        ("POST", "/api/v1/partners", {"code": "ok", "name": "Bad", "contribution_share": 1.5}, 422),
        (
            "POST",
            "/api/v1/partners",
            {"code": "Bad Code!", "name": "B", "contribution_share": 0.1},
            422,
        ),
        (
            "POST",
            "/api/v1/partners",
            {"code": "ok", "name": "N", "extra": 1, "contribution_share": 0.1},
            422,
        ),
        ("PATCH", "/api/v1/partners/1", {"name": None}, 422),
        ("GET", "/api/v1/partners/not-a-number", None, 422),
    ],
)
def test_bad_requests_get_problem_documents(
    consortium: Members, method: str, path: str, body: object, status: int
) -> None:
    response = consortium.send(method, path, consortium.admin_token, json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert problem["detail"]


def test_openapi_and_interactive_docs_are_served_with_no_cdn(consortium: Members) -> None:
    spec = consortium.get("/openapi.json", None)
    assert spec.status_code == 200
    assert "/api/v1/partners" in spec.json()["paths"]
    page = consortium.get("/docs", None)
    assert page.status_code == 200
    assert "https://" not in page.text  # nothing is fetched from elsewhere
    assert "http://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert f"/static/swagger-ui/{asset}" in page.text
        served = consortium.get(f"/static/swagger-ui/{asset}", None)
        assert served.status_code == 200
        assert len(served.content) > 500


def test_cached_lists_follow_every_write(consortium: Members) -> None:
    admin = consortium.admin_token
    first = consortium.get("/api/v1/partners", admin).json()
    assert consortium.get("/api/v1/partners", admin).json() == first  # served again
    consortium.send(
        "PATCH", f"/api/v1/partners/{consortium.cnes_id}", admin, json={"name": "CNES (FR)"}
    )
    names = [p["name"] for p in consortium.get("/api/v1/partners", admin).json()]
    assert "CNES (FR)" in names
    consortium.send(
        "POST",
        "/api/v1/partners",
        admin,
        json={"code": "dlr", "name": "DLR", "contribution_share": 0.1},
    )
    codes = [p["code"] for p in consortium.get("/api/v1/partners", admin).json()]
    assert codes == ["esa", "cnes", "dlr"]
