"""Check tokens' lives: expiry by the injected clock, who may mint, revoke-all,
disabled users, last use written at most once a minute, and the command line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.support.consortium import Consortium, bearer
from typer.testing import CliRunner

from jointsat.cli import app as cli_app
from jointsat.service.app import create_app
from jointsat.settings import Settings
from jointsat.store.tables import ApiToken, Role

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Clocked(Consortium):
    """A consortium served with a clock the test moves, an admin and an ESA operator."""

    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        self.at = NOW
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(session, "esa", 1.0)
            self.esa = esa.id
            self.add_user(session, "esa-ops", Role.OPERATOR, esa)
            self.add_user(session, "esa-ops-2", Role.OPERATOR, esa)
        settings = Settings(database_url=url, token_days=30, token_max_days=60)
        self.client = TestClient(create_app(settings, clock=lambda: self.at))
        self.admin = bearer(self.tokens["admin"])
        self.users = {u["name"]: u["id"] for u in self.ok("GET", "/api/v1/users", self.admin)}

    def ok(self, method: str, path: str, headers: dict[str, str], **kw: object) -> object:
        answer = self.client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def status(self, token: str) -> int:
        return self.client.get("/api/v1/me", headers=bearer(token)).status_code

    def mint(self, headers: dict[str, str], user: str, **body: object) -> tuple[int, dict]:  # type: ignore[type-arg]
        answer = self.client.post(
            f"/api/v1/users/{self.users[user]}/tokens", json=body, headers=headers
        )
        return answer.status_code, answer.json()


@pytest.fixture
def world(store_url: str) -> Iterator[Clocked]:
    made = Clocked(store_url)
    yield made
    made.client.close()
    made.close()


def test_a_token_expires_after_its_lifetime_by_the_service_clock(world: Clocked) -> None:
    status, default = world.mint(world.admin, "esa-ops")
    assert status == 201
    assert datetime.fromisoformat(default["expires_at"]) == NOW + timedelta(days=30)
    status, short = world.mint(world.admin, "esa-ops", expires_in_days=2)
    assert datetime.fromisoformat(short["expires_at"]) == NOW + timedelta(days=2)
    too_long = world.client.post(
        f"/api/v1/users/{world.users['esa-ops']}/tokens",
        json={"expires_in_days": 61},
        headers=world.admin,
    )
    assert too_long.status_code == 422
    assert "expires_in_days" in too_long.json()["detail"]
    world.at = NOW + timedelta(days=2) - timedelta(seconds=1)
    assert world.status(short["token"]) == 200
    world.at = NOW + timedelta(days=2)
    assert world.status(short["token"]) == 401
    assert world.status(default["token"]) == 200
    world.at = NOW + timedelta(days=30)
    assert world.status(default["token"]) == 401


def test_only_an_admin_or_a_minting_token_creates_tokens(world: Clocked) -> None:
    plain = bearer(world.tokens["esa-ops"])
    status, _ = world.mint(plain, "esa-ops")
    assert status == 403  # before the fix any token minted more for its user
    status, _ = world.mint(plain, "esa-ops", mints=True)
    assert status == 403
    status, minter = world.mint(world.admin, "esa-ops", mints=True, expires_in_days=10)
    assert status == 201
    assert minter["mints"] is True
    by_minter = bearer(minter["token"])
    assert world.mint(by_minter, "esa-ops-2")[0] == 403  # its own user only
    assert world.mint(by_minter, "esa-ops", mints=True)[0] == 403  # no chains of minters
    status, child = world.mint(by_minter, "esa-ops", expires_in_days=30)
    assert status == 201
    assert child["mints"] is False
    # A child never outlives the token that made it.
    assert datetime.fromisoformat(child["expires_at"]) == NOW + timedelta(days=10)
    assert world.status(child["token"]) == 200
    # Revoking the minting token revokes what it minted: they no longer survive it.
    assert (
        world.client.delete(f"/api/v1/tokens/{minter['id']}", headers=by_minter).status_code == 204
    )
    assert world.status(child["token"]) == 401
    assert world.status(minter["token"]) == 401
    me = world.client.get("/api/v1/me", headers=plain).json()
    assert me["token"]["mints"] is False
    admin_me = world.client.get("/api/v1/me", headers=world.admin).json()
    assert admin_me["token"]["mints"] is True


def test_revoke_all_refuses_every_token_of_the_user_at_once(world: Clocked) -> None:
    issued = [world.mint(world.admin, "esa-ops")[1]["token"] for _ in range(3)]
    other = world.tokens["esa-ops-2"]
    own = bearer(world.tokens["esa-ops"])
    path = f"/api/v1/users/{world.users['esa-ops']}/tokens"
    # Another partner's user may not revoke them (nor learn the user exists).
    assert world.client.delete(path, headers=bearer(other)).status_code == 404
    answer = world.client.delete(path, headers=own)
    assert answer.status_code == 200
    assert answer.json() == {"revoked": 4}
    for token in [*issued, world.tokens["esa-ops"]]:
        assert world.status(token) == 401
    assert world.status(other) == 200
    listed = world.ok("GET", path, world.admin)
    assert all(t["revoked_at"] is not None for t in listed)  # type: ignore[union-attr]
    assert world.client.delete(path, headers=world.admin).json() == {"revoked": 0}


def test_a_disabled_user_is_refused_at_once_and_enabled_again(world: Clocked) -> None:
    token = world.tokens["esa-ops"]
    path = f"/api/v1/users/{world.users['esa-ops']}"
    assert world.status(token) == 200
    assert (
        world.client.patch(path, json={"disabled": True}, headers=bearer(token)).status_code == 403
    )
    user = world.ok("PATCH", path, world.admin, json={"disabled": True})
    assert user["disabled_at"] is not None  # type: ignore[index]
    assert world.status(token) == 401
    assert world.mint(world.admin, "esa-ops")[0] == 409
    world.ok("PATCH", path, world.admin, json={"disabled": False})
    assert world.status(token) == 200
    # The last enabled admin cannot be disabled: the consortium would be locked out.
    admin_path = f"/api/v1/users/{world.users['admin']}"
    locked = world.client.patch(admin_path, json={"disabled": True}, headers=world.admin)
    assert locked.status_code == 409


def test_last_use_is_written_at_most_once_a_minute(world: Clocked) -> None:
    token = world.tokens["esa-ops"]

    def last_used() -> datetime | None:
        with world.session() as session:
            row = session.scalars(
                select(ApiToken).where(ApiToken.user_id == world.users["esa-ops"])
            ).one()
            return row.last_used_at

    assert last_used() is None
    assert world.status(token) == 200
    assert last_used() == NOW
    world.at = NOW + MINUTE - timedelta(seconds=1)
    assert world.status(token) == 200
    assert last_used() == NOW  # within the minute: no write
    world.at = NOW + MINUTE
    assert world.status(token) == 200
    assert last_used() == NOW + MINUTE
    listed = world.ok("GET", f"/api/v1/users/{world.users['esa-ops']}/tokens", world.admin)
    assert [datetime.fromisoformat(t["last_used_at"]) for t in listed] == [NOW + MINUTE]  # type: ignore[union-attr]


def test_the_command_line_mints_lists_revokes_all_and_disables(world: Clocked) -> None:
    runner = CliRunner()
    url = ["--database-url", world.url]
    made = runner.invoke(cli_app, ["token", "create", "--user", "esa-ops", "--days", "5", *url])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    world.at = datetime.now(UTC)  # the command line's tokens are made by the real clock
    assert world.status(token) == 200
    too_long = runner.invoke(
        cli_app, ["token", "create", "--user", "esa-ops", "--days", "400", *url]
    )
    assert too_long.exit_code == 1
    listed = runner.invoke(cli_app, ["token", "list", "--user", "esa-ops", "-f", "csv", *url])
    assert listed.exit_code == 0
    assert len(listed.stdout.strip().splitlines()) == 1 + 2  # the header, two tokens
    disabled = runner.invoke(cli_app, ["user", "disable", "esa-ops", *url])
    assert disabled.exit_code == 0, disabled.output
    assert world.status(token) == 401
    assert runner.invoke(cli_app, ["user", "enable", "esa-ops", *url]).exit_code == 0
    assert world.status(token) == 200
    revoked = runner.invoke(cli_app, ["token", "revoke-all", "--user", "esa-ops", *url])
    assert revoked.exit_code == 0
    assert "2 token(s)" in revoked.stdout
    assert world.status(token) == 401
