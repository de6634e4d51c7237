"""Webhooks and apprise messages reach a real receiver on 127.0.0.1, signed, retried, once.

The receiver checks each signature with its own HMAC-SHA256 (the ``hmac`` module over
``<t>.<body>``, the header parsed here), and counts what it gets by event id. The
notifier's clock is driven by the test (``deliver_due``'s ``now``): no test waits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.support.consortium import NOW, Consortium

from jointsat.errors import StoreError
from jointsat.notify import private_address, send
from jointsat.operations.events import EventKind
from jointsat.operations.signing import MAX_ATTEMPTS
from jointsat.service.notifier import Round, deliver_due
from jointsat.settings import Settings
from jointsat.store.deliveries import claim, due
from jointsat.store.events import record_event
from jointsat.store.tables import Role, Visibility

TOLERANCE_S = 300  # the receiver's own replay window (s)


def deliver(*args: Any, **kwargs: Any) -> Round:
    """Run a notifier pass that may reach the receivers on 127.0.0.1 (allowed explicitly:
    the default refuses private targets, tests below)."""
    return deliver_due(*args, private_targets=True, **kwargs)


class Receiver:
    """An HTTP server on 127.0.0.1 that checks webhooks' signatures and counts them."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.clock_s = NOW.timestamp()  # the receiver's clock, moved with the test's
        self.fail_first = 0  # answer 500 to the first tries of each event
        self.tries: Counter[int] = Counter()
        self.accepted: Counter[int] = Counter()
        self.bad_signatures = 0
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.take(dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def signed(self, header: str, body: bytes) -> bool:
        fields: dict[str, list[str]] = {}
        for part in header.split(","):
            key, _, value = part.partition("=")
            fields.setdefault(key, []).append(value)
        t = int(fields["t"][0])
        mac = hmac.new(self.secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        fresh = abs(self.clock_s - t) <= TOLERANCE_S
        return fresh and any(hmac.compare_digest(mac, v) for v in fields.get("v1", []))

    def take(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            if self.secret:
                event_id = int(headers["X-Jointsat-Event-Id"])
                if not self.signed(headers.get("X-Jointsat-Signature", ""), body):
                    self.bad_signatures += 1
                    return 401
                assert json.loads(body)["id"] == event_id
            else:  # apprise's JSON
                event_id = len(self.bodies)
            self.tries[event_id] += 1
            if self.tries[event_id] <= self.fail_first:
                return 500
            self.accepted[event_id] += 1
            self.bodies.append(json.loads(body))
            return 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class World(Consortium):
    """Partners A (private stations) and B; A's station; a user of each."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        with self.session() as s:
            self.add_admin(s)
            a = self.add_partner(s, "a", 0.5, agreement={"station_visibility": Visibility.PRIVATE})
            b = self.add_partner(s, "b", 0.5, agreement={})
            self.add_user(s, "a-op", Role.OPERATOR, a)
            self.add_user(s, "b-op", Role.OPERATOR, b)
            self.station_a = self.add_station(s, "a-station", a, 10.0, 20.0).id
            self.station_b = self.add_station(s, "b-station", b, 11.0, 21.0).id
        self.client = self.serve(webhook_private_targets=True)  # the receivers: 127.0.0.1

    def subscribe(self, who: str, target: str, **more: Any) -> dict[str, Any]:
        answer = self.client.post(
            "/api/v1/subscriptions", json={"target": target, **more}, headers=self.headers(who)
        )
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    def outages(self, *stations: int) -> list[int]:
        ids = []
        with self.session() as s:
            for station in stations:
                event = record_event(
                    s, EventKind.STATION_OUTAGE, at=NOW, station_id=station, payload={"n": station}
                )
                s.flush()
                ids.append(event.id)
        return ids

    def log(self, who: str, subscription: int) -> list[dict[str, Any]]:
        answer = self.client.get(
            f"/api/v1/subscriptions/{subscription}/deliveries", headers=self.headers(who)
        )
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()
        return found


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    made = World(store_url)
    yield made
    made.close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.close()


def _receiver(receivers: list[Receiver], secret: str = "") -> Receiver:
    r = Receiver(secret)
    receivers.append(r)
    return r


def test_signed_webhooks_reach_each_subscriber_once_and_only_what_it_sees(
    world: World, receivers: list[Receiver]
) -> None:
    hooks = {}
    for who in ("a-op", "b-op"):
        hooks[who] = _receiver(receivers)
        created = world.subscribe(who, hooks[who].url)
        assert created["secret"].startswith("whsec_")
        hooks[who].secret = created["secret"]
        hooks[who].subscription = created["id"]  # type: ignore[attr-defined]
    private, public = world.outages(world.station_a, world.station_b)
    done = deliver(world.sessions, NOW, send)
    assert (done.fanned_out, done.delivered, done.retried, done.failed) == (3, 3, 0, 0)
    again = deliver(world.sessions, NOW + timedelta(hours=1), send)
    assert (again.fanned_out, again.delivered) == (0, 0)  # nothing twice
    assert hooks["a-op"].accepted == {private: 1, public: 1}
    assert hooks["b-op"].accepted == {public: 1}  # A's private station's outage never reaches B
    assert all(r.bad_signatures == 0 for r in receivers)
    body = next(b for b in hooks["b-op"].bodies if b["id"] == public)
    assert body["kind"] == "station.outage"
    assert body["station_id"] == world.station_b
    log = world.log("b-op", hooks["b-op"].subscription)  # type: ignore[attr-defined]
    assert [(d["event_id"], d["status"], d["response_status"], d["attempts"]) for d in log] == [
        (public, "delivered", 200, 1)
    ]


def test_a_receiver_that_fails_gets_retries_with_back_off_and_loses_nothing(
    world: World, receivers: list[Receiver]
) -> None:
    hook = _receiver(receivers)
    created = world.subscribe("a-op", hook.url)
    hook.secret = created["secret"]
    hook.fail_first = 3
    ids = world.outages(world.station_a, world.station_b, world.station_a)
    # tries at 0, then 10 s, 20 s, 40 s after each failure (operations.signing's schedule)
    expected_tries_at = [0.0, 10.0, 30.0, 70.0]
    now: datetime = NOW
    seen_tries_at = []
    for step_s in range(0, 80):
        now = NOW + timedelta(seconds=step_s)
        hook.clock_s = now.timestamp()
        before = sum(hook.tries.values())
        deliver(world.sessions, now, send)
        if sum(hook.tries.values()) > before:
            seen_tries_at.append(float(step_s))
    assert seen_tries_at == expected_tries_at
    assert hook.tries == {i: 4 for i in ids}
    assert hook.accepted == {i: 1 for i in ids}  # every event delivered exactly once
    assert hook.bad_signatures == 0
    log = world.log("a-op", created["id"])
    assert sorted(d["event_id"] for d in log) == ids
    assert {(d["status"], d["attempts"], d["response_status"]) for d in log} == {
        ("delivered", 4, 200)
    }


def test_a_receiver_that_never_answers_well_is_given_up_after_the_last_try(
    world: World, receivers: list[Receiver]
) -> None:
    hook = _receiver(receivers)
    created = world.subscribe("a-op", hook.url)
    hook.secret = created["secret"]
    hook.fail_first = 10**6
    [event] = world.outages(world.station_b)
    now = NOW
    for _ in range(MAX_ATTEMPTS + 3):
        hook.clock_s = now.timestamp()
        deliver(world.sessions, now, send)
        now += timedelta(hours=2)  # past any back-off
    assert hook.tries == {event: MAX_ATTEMPTS}
    [entry] = world.log("a-op", created["id"])
    assert (entry["status"], entry["attempts"], entry["response_status"]) == (
        "failed",
        MAX_ATTEMPTS,
        500,
    )
    assert entry["error"] == "answered HTTP 500"


def test_a_delivery_claimed_by_a_process_that_stopped_is_sent_after_its_lease(
    world: World, receivers: list[Receiver]
) -> None:
    hook = _receiver(receivers)
    hook.secret = world.subscribe("a-op", hook.url)["secret"]
    [event] = world.outages(world.station_a)
    deliver(
        world.sessions, NOW, lambda message, t: pytest.fail("no send yet"), stopping=lambda: True
    )
    with world.sessions() as s:  # a process claims it, then stops before sending
        [delivery] = due(s, NOW)
        assert claim(s, delivery, NOW) is not None
    deliver(world.sessions, NOW + timedelta(minutes=1), send)
    assert hook.tries == {}  # still claimed
    later = NOW + timedelta(minutes=5)
    hook.clock_s = later.timestamp()
    deliver(world.sessions, later, send)
    assert hook.accepted == {event: 1}


def test_a_stale_or_forged_signature_is_refused_by_the_receiver(
    world: World, receivers: list[Receiver]
) -> None:
    hook = _receiver(receivers)
    created = world.subscribe("a-op", hook.url)
    hook.secret = "whsec_not_the_one_given"
    world.outages(world.station_a)
    deliver(world.sessions, NOW, send)
    assert hook.bad_signatures == 1
    assert world.log("a-op", created["id"])[0]["response_status"] == 401
    hook.secret = created["secret"]
    hook.clock_s = (NOW + timedelta(seconds=10 + TOLERANCE_S + 1)).timestamp()  # a replay, late
    deliver(world.sessions, NOW + timedelta(seconds=10), send)
    assert hook.bad_signatures == 2
    assert hook.accepted == {}


def test_kinds_choose_what_a_subscriber_gets_and_a_ping_goes_to_one_alone(
    world: World, receivers: list[Receiver]
) -> None:
    only_schedules, everything = _receiver(receivers), _receiver(receivers)
    first = world.subscribe("a-op", only_schedules.url, kinds=["schedule.created"])
    second = world.subscribe("a-op", everything.url)
    only_schedules.secret, everything.secret = first["secret"], second["secret"]
    [outage] = world.outages(world.station_a)
    ping = world.client.post(
        f"/api/v1/subscriptions/{first['id']}/test", headers=world.headers("a-op")
    )
    assert ping.status_code == 202, ping.text
    assert world.client.app.state.notifier.wait_idle(60.0)  # the service's own notifier
    assert everything.accepted == {outage: 1}
    assert [b["kind"] for b in only_schedules.bodies] == ["ping"]
    assert world.log("a-op", first["id"])[0]["event_kind"] == "ping"
    listed = world.client.get("/api/v1/events", headers=world.headers("admin")).json()
    assert [e["id"] for e in listed] == [outage]  # a ping is not an event of the list


def test_apprise_posts_the_event_to_a_local_json_endpoint(
    world: World, receivers: list[Receiver]
) -> None:
    endpoint = _receiver(receivers)  # no secret: apprise's JSON is not signed
    url = endpoint.url.replace("http://", "json://")
    created = world.subscribe("b-op", url, kind="apprise")
    assert created["secret"] is None
    [outage] = world.outages(world.station_b)
    world.outages(world.station_a)  # hidden from B
    done = deliver(world.sessions, NOW, send)
    assert done.delivered == 1
    [message] = endpoint.bodies
    assert message["title"] == f"jointsat: station.outage (event {outage})"
    assert '"n": ' in message["message"]
    assert world.log("b-op", created["id"])[0]["status"] == "delivered"


def test_subscriptions_are_their_users_own(world: World, receivers: list[Receiver]) -> None:
    hook = _receiver(receivers)
    mine = world.subscribe("a-op", "https://partner-a.example/hook?token=x")
    assert mine["user_id"] != 0
    client, a, b = world.client, world.headers("a-op"), world.headers("b-op")
    path = f"/api/v1/subscriptions/{mine['id']}"
    assert client.get(path, headers=b).status_code == 404
    assert client.get(f"{path}/deliveries", headers=b).status_code == 404
    assert client.delete(path, headers=b).status_code == 404
    assert "secret" not in client.get(path, headers=a).json()
    assert [s["id"] for s in client.get("/api/v1/subscriptions", headers=b).json()] == []
    admin_sees = client.get("/api/v1/subscriptions", headers=world.headers("admin")).json()
    assert [s["id"] for s in admin_sees] == [mine["id"]]
    for body in (
        {"target": "ftp://x.example/"},
        {"target": hook.url, "kinds": ["nope"]},
        {"target": "nonsense://x", "kind": "apprise"},
        {"target": hook.url, "user_id": 1},
    ):
        answer = client.post("/api/v1/subscriptions", json=body, headers=b)
        assert answer.status_code in (403, 422), (body, answer.text)
    masked = world.subscribe("b-op", "mailto://me:hunter2@mail.example", kind="apprise")
    assert "hunter2" not in json.dumps(client.get("/api/v1/subscriptions", headers=b).json())
    assert masked["target"].startswith("mailto://me:***@")
    masked_path = f"/api/v1/subscriptions/{masked['id']}"
    assert client.delete(masked_path, headers=b).status_code == 204  # sends no e-mail here
    # disabled, it is sent nothing; enabled again, only what comes next
    assert client.patch(path, json={"enabled": False}, headers=a).json()["disabled_at"]
    world.outages(world.station_a)
    assert deliver(world.sessions, NOW, send).fanned_out == 0
    assert client.patch(path, json={"enabled": True}, headers=a).json()["disabled_at"] is None
    assert deliver(world.sessions, NOW, send).fanned_out == 0
    assert client.delete(path, headers=a).status_code == 204


def test_two_notifiers_at_once_send_each_event_once(
    world: World, receivers: list[Receiver]
) -> None:
    hook = _receiver(receivers)
    hook.secret = world.subscribe("a-op", hook.url)["secret"]
    ids = world.outages(*[world.station_a, world.station_b] * 10)
    rounds: list[Any] = []

    def notifier() -> None:
        rounds.append(deliver(world.sessions, NOW, send))

    threads = [threading.Thread(target=notifier) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deliver(world.sessions, NOW, send)  # whatever a clash left for the next pass
    assert hook.accepted == {i: 1 for i in ids}
    assert sum(r.delivered for r in rounds) <= len(ids)
    assert hook.bad_signatures == 0


# --- private targets (SSRF): refused unless the service allows them ------------------------

PRIVATE_HOSTS = ("127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "localhost")


@pytest.mark.parametrize("host", PRIVATE_HOSTS)
def test_by_default_a_private_target_is_refused_at_subscription(world: World, host: str) -> None:
    client = world.serve()  # the default settings: no private targets
    assert client.app.state.webhook_private_targets is False  # type: ignore[attr-defined]
    for kind, scheme in (("webhook", "http"), ("webhook", "https"), ("apprise", "json")):
        answer = client.post(
            "/api/v1/subscriptions",
            json={"target": f"{scheme}://{host}:8080/hook", "kind": kind},
            headers=world.headers("a-op"),
        )
        assert answer.status_code == 422, answer.text
        detail = answer.json()["detail"]
        assert "private address" in detail
        assert "JOINTSAT_WEBHOOK_PRIVATE_TARGETS" in detail
    # A name is not resolved when subscribing; a public address is taken.
    for target in ("https://hooks.example.org/x", "http://93.184.216.34/hook"):
        taken = client.post(
            "/api/v1/subscriptions", json={"target": target}, headers=world.headers("a-op")
        )
        assert taken.status_code == 201, taken.text
    # The setting allows them (the World's own service is made with it).
    assert world.subscribe("a-op", f"http://{host}:8080/hook")["id"] > 0


def test_by_default_a_private_target_fails_at_delivery(world: World) -> None:
    # Subscribed while allowed (the World's service); the default pass refuses them all.
    made = {
        host: world.subscribe("a-op", f"http://{host}:9/hook")["id"]
        for host in (*PRIVATE_HOSTS, "[::ffff:10.0.0.1]")
    }
    [outage] = world.outages(world.station_a)

    def must_not_send(message: Any, t: int) -> Any:
        pytest.fail(f"sent to {message.target}")

    done = deliver_due(world.sessions, NOW, must_not_send)
    assert (done.fanned_out, done.delivered, done.failed) == (len(made), 0, len(made))
    for host, ident in made.items():
        [entry] = world.log("a-op", ident)
        assert (entry["event_id"], entry["status"]) == (outage, "failed"), host
        assert entry["error"] == "target address is private", host
        assert entry["next_attempt_at"] is None  # given up: not tried again


def test_a_name_resolving_to_a_private_address_is_refused_at_send_time(
    world: World, receivers: list[Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = _receiver(receivers)
    port = hook.server.server_address[1]
    resolve = socket.getaddrinfo

    def hosts(host: str, *args: Any, **kwargs: Any) -> Any:  # a DNS of the test's own
        return resolve("127.0.0.1" if host == "hooks.example.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hosts)
    default = world.serve()
    created = default.post(
        "/api/v1/subscriptions",
        json={"target": f"http://hooks.example.test:{port}/hook"},
        headers=world.headers("b-op"),
    )
    assert created.status_code == 201, created.text  # a name: not resolved when subscribing
    hook.secret = created.json()["secret"]
    [first] = world.outages(world.station_b)
    done = deliver_due(world.sessions, NOW, send)  # the default: private targets refused
    assert (done.delivered, done.failed) == (0, 1)
    [entry] = world.log("b-op", created.json()["id"])
    assert (entry["event_id"], entry["error"]) == (first, "target address is private")
    assert sum(hook.tries.values()) == 0  # nothing reached the receiver
    # The same name, allowed: the receiver is reachable there, so the refusal was the rule.
    [second] = world.outages(world.station_b)
    assert deliver(world.sessions, NOW, send).delivered == 1
    assert hook.accepted == {second: 1}


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),  # shared (carrier-grade NAT)
        ("0.0.0.0", True),
        ("224.0.0.1", True),  # multicast
        ("::1", True),
        ("fe80::1%eth0", True),
        ("fc00::1", True),
        ("ff02::1", True),
        ("::ffff:127.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::6810:85e5", False),
    ],
)
def test_private_addresses_are_the_non_public_ones(address: str, private: bool) -> None:
    assert private_address(address) is private


def test_the_setting_is_read_from_the_environment() -> None:
    def read(value: str | None) -> bool:
        environ = {"JOINTSAT_DATABASE_URL": "sqlite://"}
        if value is not None:
            environ["JOINTSAT_WEBHOOK_PRIVATE_TARGETS"] = value
        return Settings.from_environment(environ).webhook_private_targets

    assert read(None) is False
    assert [read(v) for v in ("1", "true", "Yes", "on")] == [True] * 4
    assert [read(v) for v in ("0", "false", "no", "off", "")] == [False] * 5
    with pytest.raises(StoreError, match="JOINTSAT_WEBHOOK_PRIVATE_TARGETS"):
        read("maybe")
