"""``jointsat events``: on the store, and over HTTP against a server in this process.

The oracle for JSON is the API's own answer; deliveries are checked at a webhook
receiver on 127.0.0.1 that verifies each signature (tests/service/test_webhooks.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.service.test_webhooks import Receiver
from tests.support.consortium import Consortium, bearer
from tests.support.server import in_thread
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.operations.events import EventKind
from jointsat.service.app import create_app
from jointsat.settings import Settings
from jointsat.store.events import record_event
from jointsat.store.tables import Role, Visibility

CLEAN_ENV = {
    "JOINTSAT_URL": None,
    "JOINTSAT_TOKEN": None,
    "COLUMNS": "80",
    "JOINTSAT_WEBHOOK_PRIVATE_TARGETS": "1",  # the receiver is on 127.0.0.1
}
WAIT_S = 120.0  # the server's notifier looks every few seconds; a loaded machine is slower


class World(Consortium):
    def __init__(self, url: str) -> None:
        super().__init__(url, now=datetime.now(UTC))
        with self.session() as s:
            self.add_admin(s)
            esa = self.add_partner(s, "esa", 0.5, agreement={})
            nasa = self.add_partner(
                s, "nasa", 0.5, agreement={"station_visibility": Visibility.PRIVATE}
            )
            self.add_user(s, "esa-ops", Role.OPERATOR, esa)
            self.add_user(s, "nasa-ops", Role.OPERATOR, nasa)
            self.kiruna = self.add_station(s, "Kiruna", esa, 67.857, 20.964).id
            self.wallops = self.add_station(s, "Wallops", nasa, 37.927, -75.476).id
        self.server = ""

    def outage(self, station: int) -> int:
        with self.session() as s:
            event = record_event(
                s, EventKind.STATION_OUTAGE, at=self.now, station_id=station, payload={}
            )
            s.flush()
            return event.id

    def store(self, *args: str) -> Result:
        return CliRunner().invoke(app, [*args, "--database-url", self.url], env=CLEAN_ENV)

    def remote(self, who: str, *args: str) -> Result:
        return CliRunner().invoke(
            app, [*args, "--url", self.server, "--token", self.tokens[who]], env=CLEAN_ENV
        )

    def api(self, who: str, path: str) -> Any:
        answer = httpx.get(f"{self.server}/api/v1{path}", headers=bearer(self.tokens[who]))
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    made = World(store_url)
    yield made
    made.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if result.stdout.lstrip().startswith(("[", "{")) else None


def test_on_the_store_subscribe_deliver_and_read_the_log(world: World, receiver: Receiver) -> None:
    created = ok(
        world.store("events", "subscribe", receiver.url, "--user", "esa-ops", "--format", "json")
    )
    assert created["secret"].startswith("whsec_")
    receiver.secret = created["secret"]
    seen = world.outage(world.kiruna)
    world.outage(world.wallops)  # NASA's private station: not ESA's to hear of
    receiver.clock_s = time.time()
    done = ok(world.store("events", "deliver", "--format", "json"))
    assert (done["fanned_out"], done["delivered"], done["failed"]) == (1, 1, 0)
    assert receiver.accepted == {seen: 1}
    assert receiver.bad_signatures == 0
    log = ok(world.store("events", "deliveries", str(created["id"]), "--format", "json"))
    assert [(d["event_id"], d["status"]) for d in log] == [(seen, "delivered")]
    listed = ok(world.store("events", "list", "--kind", "station.outage", "--format", "json"))
    assert len(listed) == 2  # on the store: the admin's view
    newest = ok(world.store("events", "list", "--newest", "--limit", "1", "--format", "json"))
    assert newest == listed[-1:]
    table = world.store("events", "subscriptions")
    assert table.exit_code == 0
    assert receiver.url[:20] in table.stdout
    assert ok(world.store("events", "unsubscribe", str(created["id"]))) is None
    assert ok(world.store("events", "subscriptions", "--format", "json")) == []


def test_on_the_store_a_private_target_needs_the_setting(world: World, receiver: Receiver) -> None:
    default_env = {**CLEAN_ENV, "JOINTSAT_WEBHOOK_PRIVATE_TARGETS": None}
    for target in (receiver.url, "http://localhost:8080/hook", "json://10.0.0.7/x"):
        args = ["events", "subscribe", target, "--user", "esa-ops", "--database-url", world.url]
        if target.startswith("json"):
            args.append("--apprise")
        refused = CliRunner().invoke(app, args, env=default_env)
        assert refused.exit_code == 1, refused.output
        assert "private address" in refused.stderr
        assert "JOINTSAT_WEBHOOK_PRIVATE_TARGETS" in refused.stderr
    assert ok(world.store("events", "subscriptions", "--format", "json")) == []
    # Subscribed with the setting, then delivered without it: refused at send time.
    created = ok(
        world.store("events", "subscribe", receiver.url, "--user", "esa-ops", "--format", "json")
    )
    seen = world.outage(world.kiruna)
    deliver = ["events", "deliver", "--format", "json", "--database-url", world.url]
    done = ok(CliRunner().invoke(app, deliver, env=default_env))
    assert (done["fanned_out"], done["delivered"], done["failed"]) == (1, 0, 1)
    assert sum(receiver.tries.values()) == 0
    log = ok(world.store("events", "deliveries", str(created["id"]), "--format", "json"))
    assert [(d["event_id"], d["status"], d["error"]) for d in log] == [
        (seen, "failed", "target address is private")
    ]


def test_on_the_store_mistakes_are_one_line(world: World) -> None:
    needs_user = world.store("events", "subscribe", "https://x.example/hook")
    assert needs_user.exit_code == 1
    assert "--user" in needs_user.stderr
    bad_kind = world.store("events", "list", "--kind", "nope")
    assert bad_kind.exit_code == 2
    assert "unknown event kind" in bad_kind.output
    gone = world.store("events", "deliveries", "99")
    assert gone.exit_code == 1
    assert "no subscription with id 99" in gone.stderr


def test_over_http_the_users_rights_hold(world: World, receiver: Receiver, tmp_path: Path) -> None:
    settings = Settings(
        database_url=world.url, archive_root=tmp_path / "archive", webhook_private_targets=True
    )
    with in_thread(create_app(settings)) as base:
        world.server = base
        created = ok(
            world.remote("esa-ops", "events", "subscribe", receiver.url, "--format", "json")
        )
        receiver.secret = created["secret"]
        seen = world.outage(world.kiruna)
        hidden = world.outage(world.wallops)
        for who in ("esa-ops", "nasa-ops"):
            listed = ok(world.remote(who, "events", "list", "--format", "json"))
            assert listed == world.api(who, "/events")  # the API's answer, as is
        assert [e["id"] for e in world.api("esa-ops", "/events")] == [seen]
        assert {e["id"] for e in world.api("nasa-ops", "/events")} == {seen, hidden}
        for who, expected in (("esa-ops", [seen]), ("nasa-ops", [hidden])):
            newest = ok(
                world.remote(who, "events", "list", "--newest", "--limit", "1", "-f", "json")
            )
            assert [e["id"] for e in newest] == expected  # the last of the full list
        # the server's own notifier delivers it: wait for the log to say so
        receiver.clock_s = time.time()
        deadline = time.monotonic() + WAIT_S
        log: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            log = ok(
                world.remote(
                    "esa-ops", "events", "deliveries", str(created["id"]), "--format", "json"
                )
            )
            if log and log[0]["status"] == "delivered":
                break
            time.sleep(0.5)
        assert [(d["event_id"], d["status"]) for d in log] == [(seen, "delivered")]
        assert receiver.accepted == {seen: 1}
        assert receiver.bad_signatures == 0
        mine = ok(world.remote("nasa-ops", "events", "subscriptions", "--format", "json"))
        assert mine == []  # ESA's subscription is ESA's
        refused = world.remote("nasa-ops", "events", "unsubscribe", str(created["id"]))
        assert refused.exit_code == 1
        assert ok(world.remote("esa-ops", "events", "unsubscribe", str(created["id"]))) is None
