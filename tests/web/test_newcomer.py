"""A newcomer's path, as README tells it: ``make demo``, ``jointsat serve --demo``, sign in.

The test runs the real commands from the project root in a fresh data folder
(``XDG_DATA_HOME``): ``make demo`` fills the demo's store and prints the admin token and
the archive's rules at work today; ``jointsat serve --demo`` serves that store; the
management CLI, over HTTP with the admin's token, gives two partners' viewers their
tokens. Chromium then signs in as the admin and walks every page of the dashboard,
each showing what the API answers that token (screenshots in test-artifacts/newcomer/),
and signs in as the viewers: the product under embargo is hidden from the partner it
must be hidden from and shown to its owner, whatever today's date.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.support.server import free_port

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page, expect
from tests.web.test_dashboard import TIMEOUT_MS, ready

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")

ROOT = Path(__file__).resolve().parents[2]
JOINTSAT = ROOT / ".venv" / "bin" / "jointsat"
SHOTS = ROOT / "test-artifacts" / "newcomer"
RULE_LINE = re.compile(
    r"^\s*(embargoed|members|public)\s+([0-9a-f]{32})\s+(\S+)\s+(\S+)\s+(.+?)\s*$", re.M
)


@dataclass
class Demo:
    """The served demo: its address, the admin's token and the rules' example products."""

    base_url: str
    admin: str
    at: str  # the demo week's moment the demo names for the dashboard (``?at=``)
    rules: dict[str, tuple[str, str]]  # rule -> (product id, who sees it now)
    serve_log: Path

    def get(self, path: str, token: str | None) -> Any:
        """Return the JSON answer of a GET with ``token`` (None: the public)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.base_url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def cli(self, *args: str) -> str:
        """Run a jointsat command against the server as the admin; return its stdout."""
        done = subprocess.run(
            [str(JOINTSAT), *args, "--url", self.base_url, "--token", self.admin],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def _environment(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOINTSAT_", "MAKE"))}
    env.update(XDG_DATA_HOME=str(data), COLUMNS="100")
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not JOINTSAT.is_file() or shutil.which("make") is None:
        pytest.skip(
            "the newcomer's path runs `make demo` in the project's .venv (make test makes it)"
        )
    data = tmp_path_factory.mktemp("newcomer")
    env = _environment(data)
    made = subprocess.run(
        ["make", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    printed = made.stdout
    admin = re.search(r"Bearer (jst_[\w-]+)", printed)
    at = re.search(r"\?at=(\S+?Z)", printed)
    assert admin, printed[-3000:]
    assert at, printed[-3000:]
    rules = {m[1]: (m[2], m[5]) for m in RULE_LINE.finditer(printed)}
    assert set(rules) == {"embargoed", "members", "public"}, printed[-3000:]
    assert "jointsat serve --demo" in printed

    port = free_port()
    log = data / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(JOINTSAT), "serve", "--demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Demo(f"http://127.0.0.1:{port}", admin[1], at[1], rules, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                served.get("/api/v1/me", served.admin)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        yield served
    finally:
        server.terminate()
        server.wait(timeout=30)


def _serve_says_what_it_serves(demo: Demo) -> None:
    said = demo.serve_log.read_text()
    assert "jointsat-demo.db" in said
    assert "jointsat-demo.archive" in said
    assert demo.base_url in said


def _sign_in(page: Page, demo: Demo, token: str, view: str) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{demo.base_url}/?at={demo.at}&span=21600#{view}")
    page.fill("#token", token)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-signed-in", "true")
    ready(page, view)


def _show(page: Page, view: str, shot: str) -> None:
    page.click(f"#tabs a[data-page={view}]")
    ready(page, view)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)


def _every_page_shows_the_demo_to_its_admin(page: Page, demo: Demo) -> None:
    token = demo.admin
    _sign_in(page, demo, token, "map")
    _show(page, "map", "01-map")
    satellites = demo.get("/api/v1/satellites", token)
    expect(page.locator("#map path.satellite")).to_have_count(len(satellites))
    expect(page.locator("#station-list tbody tr")).to_have_count(
        len(demo.get("/api/v1/stations", token))
    )

    _show(page, "timeline", "02-timeline")
    assert page.locator("#timeline .vis-item").count() > 0

    _show(page, "passes", "03-passes")
    assert page.locator("#pass-table tbody tr").count() > 0

    _show(page, "fairness", "04-fairness")
    partners = demo.get("/api/v1/partners", token)
    expect(page.locator("#fair-table tbody tr")).to_have_count(len(partners))

    _show(page, "archive", "05-archive")
    products = demo.get("/api/v1/products", token)
    assert products
    ids = page.locator("#archive-table tbody td.id").all_text_contents()
    assert ids == [p["id"] for p in products]

    _show(page, "requests", "06-requests")
    requests = demo.get("/api/v1/requests", token)
    assert requests
    expect(page.locator("#request-table tbody tr")).to_have_count(len(requests))

    _show(page, "plans", "07-plans")
    plans = demo.get("/api/v1/plans", token)
    plan = demo.get(f"/api/v1/plans/{plans[0]['id']}", token)
    assert plan["observations"]
    expect(page.locator("#plan-observations tbody tr")).to_have_count(len(plan["observations"]))

    _show(page, "manage", "08-manage-partners")
    expect(page.locator("#partner-table tbody tr")).to_have_count(len(partners))
    for number, (name, table) in enumerate(
        [
            ("stations", "#manage-station-table"),
            ("satellites", "#manage-satellite-table"),
            ("tokens", "#user-table"),
        ],
        start=9,
    ):
        page.click(f"#manage-tabs button[data-section={name}]")
        expect(page.locator("#page-manage")).to_have_attribute("data-section", name)
        expect(page.locator("#page-manage")).to_have_attribute("data-ready", "true")
        assert page.locator(f"{table} tbody tr").count() > 0
        page.screenshot(path=str(SHOTS / f"{number:02d}-manage-{name}.png"), full_page=True)
    page.click("#sign-out")


def _viewer(demo: Demo, partner: str) -> str:
    """Give ``partner`` a viewer through the management CLI (over HTTP); return its token."""
    name = f"{partner}-newcomer"
    demo.cli("user", "add", name, "--role", "viewer", "--partner", partner)
    token = demo.cli("token", "create", "--user", name, "--label", "newcomer").strip()
    assert re.fullmatch(r"jst_[\w-]+", token), token
    return token


def _the_embargoed_product_is_hidden_from_the_partners_it_must_be_hidden_from(
    page: Page, demo: Demo
) -> None:
    embargoed, seen_by = demo.rules["embargoed"]
    owner = seen_by.removesuffix(" only").strip()
    members_only = demo.rules["members"][0]
    public = demo.rules["public"][0]
    other = next(p["code"] for p in demo.get("/api/v1/partners", demo.admin) if p["code"] != owner)
    shown: dict[str, list[str]] = {}
    for partner in (other, owner):
        _sign_in(page, demo, _viewer(demo, partner), "archive")
        shown[partner] = page.locator("#archive-table tbody td.id").all_text_contents()
        page.screenshot(path=str(SHOTS / f"20-archive-{partner}.png"), full_page=True)
        page.click("#sign-out")
    assert embargoed not in shown[other]
    assert embargoed in shown[owner]
    assert members_only in shown[other]
    # The public (no token) sees the public product, not the members-only one.
    public_ids = {p["id"] for p in demo.get("/api/v1/products", None)}
    assert public in public_ids
    assert members_only not in public_ids
    assert embargoed not in public_ids


def test_the_newcomers_path(page: Page, demo: Demo) -> None:
    """One walk, in README's order (one test: `make demo` runs once, on one worker)."""
    _serve_says_what_it_serves(demo)
    _every_page_shows_the_demo_to_its_admin(page, demo)
    _the_embargoed_product_is_hidden_from_the_partners_it_must_be_hidden_from(page, demo)
