"""Check agreements (open to members, changed by the admin) and users with their tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from tests.support.consortium import Consortium, bearer

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(consortium: Consortium) -> tuple[TestClient, dict[str, str]]:
    with consortium.session() as session:
        token = consortium.add_admin(session)
    return consortium.serve(), bearer(token)


def test_users_tokens_and_agreements(client: tuple[TestClient, dict[str, str]]) -> None:
    c, admin = client
    partner = c.post(
        "/api/v1/partners",
        json={"code": "esa", "name": "ESA", "contribution_share": 0.6},
        headers=admin,
    ).json()
    agreement = c.get(f"/api/v1/agreements/{partner['id']}", headers=admin).json()
    assert agreement["share"] == pytest.approx(0.6)
    assert agreement["share_is_contribution"] is True

    user = c.post(
        "/api/v1/users",
        json={"name": "esa-view", "role": "viewer", "partner_id": partner["id"]},
        headers=admin,
    )
    assert user.status_code == 201
    user_id = user.json()["id"]
    issued = c.post(f"/api/v1/users/{user_id}/tokens", json={"label": "laptop"}, headers=admin)
    assert issued.status_code == 201
    viewer = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert c.get("/api/v1/me", headers=viewer).json()["name"] == "esa-view"

    # Members read agreements; only the admin changes them.
    assert c.get("/api/v1/agreements", headers=viewer).status_code == 200
    changed = c.patch(
        f"/api/v1/agreements/{partner['id']}",
        json={"share": 0.5, "embargo_days": 365, "station_visibility": "private"},
        headers=viewer,
    )
    assert changed.status_code == 403
    changed = c.patch(
        f"/api/v1/agreements/{partner['id']}",
        json={"share": 0.5, "embargo_days": 365, "station_visibility": "private"},
        headers=admin,
    )
    assert changed.json()["share"] == pytest.approx(0.5)
    assert changed.json()["share_is_contribution"] is False
    assert changed.json()["station_visibility"] == "private"
    back = c.patch(f"/api/v1/agreements/{partner['id']}", json={"share": None}, headers=admin)
    assert back.json()["share"] == pytest.approx(0.6)

    # Users see and revoke their own tokens only; revoking stops the token at once.
    tokens = c.get(f"/api/v1/users/{user_id}/tokens", headers=viewer).json()
    assert [t["label"] for t in tokens] == ["laptop"]
    assert "token" not in tokens[0]
    assert c.get("/api/v1/users/1/tokens", headers=viewer).status_code == 404
    assert c.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=viewer).status_code == 204
    assert c.get("/api/v1/me", headers=viewer).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "role": "admin", "partner_id": 1},
        {"name": "x", "role": "viewer"},
        {"name": "x", "role": "pilot", "partner_id": 1},
        {"name": "x", "role": "viewer", "partner_id": 999_999},
    ],
)
def test_bad_users_are_refused(
    client: tuple[TestClient, dict[str, str]], body: dict[str, object]
) -> None:
    c, admin = client
    c.post(
        "/api/v1/partners",
        json={"code": "p", "name": "P", "contribution_share": 1.0},
        headers=admin,
    )
    response = c.post("/api/v1/users", json=body, headers=admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
