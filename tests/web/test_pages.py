"""The dashboard's Requests, Plans and Manage pages in Debian's chromium, against live servers.

Two more servers beside the shared one (conftest.py): ``planned`` serves a copy of the
shared demo store with a fair plan of the demo day (its downlinks: the shared schedule's
contacts) and an operator of ESA, so that the management tests change nothing the other
tests read; ``empty`` (conftest.py's ``empty_store``) serves a store with its admin
only, for the empty states. Each test checks the page against the API's answer to the
same token, and each change made through the page by reading it back through the API.
Screenshots go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tests.support.server import served

if TYPE_CHECKING:
    from tests.web.conftest import Service

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page, expect
from tests.web.conftest import NOW, Empty
from tests.web.test_csp import RECORD_VIOLATIONS, violations
from tests.web.test_dashboard import TIMEOUT_MS, ready, shoot

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")
PLAN_TIME_LIMIT_S = 5.0
CHANGED_ELSEWHERE = "changed by someone else since you opened it"


@dataclass
class World:
    """A server, its tokens (by who: "admin", a partner's code, "esa-operator"), its day."""

    base_url: str
    tokens: dict[str, str]
    day_start: datetime
    ids: dict[str, int]

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        """Return the API's answer to ``who``'s request (never cached)."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        return httpx.request(
            method, f"{self.base_url}/api/v1/{path}", headers=headers, timeout=60, **kwargs
        )

    def get(self, path: str, who: str) -> Any:
        """Return the JSON of a GET that must succeed."""
        answer = self.call("GET", path, who)
        answer.raise_for_status()
        return answer.json()


def _copy(source: Path, target: Path) -> None:
    """Copy a SQLite store that a server has open, consistently (the backup API)."""
    with sqlite3.connect(source) as old, sqlite3.connect(target) as new:
        old.backup(new)


def _plan_and_operator(url: str, day_start: datetime, schedule_id: int) -> tuple[str, int, int]:
    """Plan the demo day fairly, add an ESA operator; return its token, its id, the plan's."""
    from sqlalchemy import select

    from jointsat.planning.planner import PlannerSettings
    from jointsat.service.tokens import issue_token
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.planning import plan_observations
    from jointsat.store.tables import Partner, Role, User

    engine = open_engine(url)
    try:
        with session_factory(engine)() as session:
            record, _, _ = plan_observations(
                session,
                day_start,
                day_start + timedelta(days=1),
                now=NOW,
                settings=PlannerSettings(time_limit_s=PLAN_TIME_LIMIT_S),
                schedule_id=schedule_id,
            )
            esa = session.scalars(select(Partner).where(Partner.code == "esa")).one()
            user = User(name="esa-operator", role=Role.OPERATOR, partner=esa, created_at=NOW)
            session.add(user)
            token = issue_token(session, user, now=datetime.now(UTC), label="pages tests")
            session.commit()
            return token, user.id, record.id
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def planned(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Serve a copy of the shared store with a plan of the demo day and an ESA operator."""
    folder = tmp_path_factory.mktemp("pages")
    _copy(service.log.parent / "store.db", folder / "store.db")
    url = f"sqlite:///{folder / 'store.db'}"
    token, operator_id, plan_id = _plan_and_operator(url, service.day_start, service.schedule_id)
    tokens = {"admin": service.admin, **service.viewers, "esa-operator": token}
    ids = {"plan": plan_id, "esa-operator": operator_id}
    with served(url, folder / "archive", folder / "server.log", ready="/api/v1/partners") as s:
        yield World(s.base, tokens, service.day_start, ids)


@pytest.fixture(scope="module")
def empty(empty_store: Empty) -> World:
    """Serve a store that holds its admin only: no partner, request or plan."""
    return World(empty_store.base_url, {"admin": empty_store.admin}, NOW, {})


def sign_in(page: Page, world: World, who: str, view: str) -> None:
    """Open the dashboard on ``world`` at its day, sign in as ``who`` and show ``view``."""
    at = (world.day_start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{world.base_url}/?at={at}&span=21600#{view}")
    page.fill("#token", world.tokens[who])
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-signed-in", "true")
    ready(page, view)


def section(page: Page, name: str) -> None:
    """Show a section of the Manage page and wait for its data."""
    page.click(f"#manage-tabs button[data-section={name}]")
    expect(page.locator("#page-manage")).to_have_attribute("data-section", name)
    expect(page.locator("#page-manage")).to_have_attribute("data-ready", "true")


def settled(page: Page) -> None:
    expect(page.locator("#page-manage")).to_have_attribute("data-ready", "true")


# --- requests -----------------------------------------------------------------------------


def test_the_admin_sees_every_partners_requests(
    page: Page, planned: World, artifacts: Path
) -> None:
    requests = planned.get("requests", "admin")
    assert {r["partner"] for r in requests} >= {"esa", "nasa"}  # the demo's partners ask
    sign_in(page, planned, "admin", "requests")
    ids = page.locator("#request-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )
    assert ids == [str(r["id"]) for r in requests]
    summary = page.locator("#request-summary tbody tr")
    codes = sorted({r["partner"] for r in requests})
    expect(summary).to_have_count(len(codes))
    for code in codes:
        mine = [r for r in requests if r["partner"] == code]
        row = page.locator(f'#request-summary tbody tr[data-partner="{code}"]')
        expect(row).to_have_attribute("data-count", str(len(mine)))
        expect(row).to_have_attribute("data-gain", str(sum(r["gain"] for r in mine)))
    expect(page.locator("#requests-empty")).to_be_hidden()
    shoot(page, artifacts, "requests")
    # Choosing a partner shows the API's answer for that partner.
    esa = planned.get("requests?partner_id=" + str(requests[0]["partner_id"]), "admin")
    page.select_option("#request-partner", str(requests[0]["partner_id"]))
    expect(page.locator("#request-table tbody tr")).to_have_count(len(esa))


@pytest.mark.parametrize("code", ["esa", "cnes"])
def test_a_partners_viewer_sees_only_its_own_requests(
    page: Page, planned: World, artifacts: Path, code: str
) -> None:
    own = planned.get("requests", code)
    everyone = planned.get("requests", "admin")
    assert own
    assert {r["partner"] for r in own} == {code}
    others = {str(r["id"]) for r in everyone if r["partner"] != code}
    assert others
    sign_in(page, planned, code, "requests")
    ids = page.locator("#request-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )
    assert ids == [str(r["id"]) for r in own]
    assert not set(ids) & others
    partners = page.locator("#request-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.partner)"
    )
    assert set(partners) == {code}
    expect(page.locator("#request-summary tbody tr")).to_have_count(1)
    shoot(page, artifacts, f"requests-{code}")


# --- plans ----------------------------------------------------------------------------------


def _downlinks(world: World, plan: dict[str, Any], who: str) -> int:
    """Count the schedule's contacts in the plan's window on the plan's satellites seen."""
    schedule = world.get(f"schedules/{plan['provenance']['schedule_id']}", who)
    numbers = {int(n) for n in plan["provenance"]["satellites"]}
    return sum(
        1
        for c in schedule["contacts"]
        if c["norad_id"] in numbers and c["start"] < plan["end"] and c["end"] > plan["start"]
    )


def test_the_plan_is_drawn_per_satellite_with_served_against_requested(
    page: Page, planned: World, artifacts: Path
) -> None:
    plan = planned.get(f"plans/{planned.ids['plan']}", "admin")
    assert plan["observations"]
    assert not plan["busy"]
    sign_in(page, planned, "admin", "plans")
    expect(page.locator("#page-plans")).to_have_attribute("data-plan", str(plan["id"]))
    timeline = page.locator("#plan-timeline")
    expect(timeline).to_have_attribute("data-observations", str(len(plan["observations"])))
    expect(timeline.locator(".vis-item.observation")).to_have_count(len(plan["observations"]))
    expect(timeline).to_have_attribute("data-downlinks", str(_downlinks(planned, plan, "admin")))
    assert timeline.locator(".vis-item.downlink").count() > 0
    expect(timeline.locator(".vis-label")).to_have_count(len(plan["provenance"]["satellites"]))
    for code, gain in plan["partners"].items():
        row = page.locator(f'#plan-gains tbody tr[data-partner="{code}"]')
        expect(row).to_have_attribute("data-requested", str(gain["requested_gain"]))
        expect(row).to_have_attribute("data-served", str(gain["gain"]))
        expect(row).to_have_attribute("data-reachable", str(gain["reachable_gain"]))
        assert float(row.get_attribute("data-received") or "nan") == gain["share_received"]
        expect(row.locator("td.served")).to_have_text(str(gain["gain"]))
    # The served gains add up to the plan's total (an invariant of the API's answer).
    assert sum(g["gain"] for g in plan["partners"].values()) == plan["total_gain"]
    expect(page.locator('#plan-facts dd[data-field="total-gain"]')).to_have_text(
        str(plan["total_gain"])
    )
    expect(page.locator("#plan-observations tbody tr")).to_have_count(len(plan["observations"]))
    first = min(plan["observations"], key=lambda o: o["start"])
    timeline.locator(".vis-item.observation").filter(has_text=first["request"]).first.click()
    expect(page.locator("#plan-details h2")).to_have_text("Observation")
    shoot(page, artifacts, "plans")


def test_a_partner_sees_its_observations_in_full_and_others_as_busy(
    page: Page, planned: World, artifacts: Path
) -> None:
    plan = planned.get(f"plans/{planned.ids['plan']}", "esa")
    assert {o["partner"] for o in plan["observations"]} <= {"esa"}
    assert plan["busy"]  # other partners observe on satellites ESA may see
    sign_in(page, planned, "esa", "plans")
    timeline = page.locator("#plan-timeline")
    expect(timeline.locator(".vis-item.observation")).to_have_count(len(plan["observations"]))
    expect(timeline.locator(".vis-item.busy")).to_have_count(len(plan["busy"]))
    # The table lists the same: its own requests in full, the others' without their requests.
    table = page.locator("#plan-observations tbody tr")
    expect(table).to_have_count(len(plan["observations"]) + len(plan["busy"]))
    cells = table.evaluate_all(
        "rows => rows.map(r => [r.dataset.kind, r.cells[3].textContent, r.cells[4].textContent])"
    )
    assert sorted(c[2] for c in cells if c[0] == "observation") == sorted(
        o["request"] for o in plan["observations"]
    )
    busy = [c for c in cells if c[0] == "busy"]
    assert sorted(c[1] for c in busy) == sorted(b["partner"] for b in plan["busy"])
    assert all(not any(ch.isdigit() for ch in c[2]) for c in busy)
    page.locator('#plan-observations tbody tr[data-kind="busy"]').first.click()
    expect(page.locator("#plan-details h2")).to_contain_text("Busy")
    expect(page.locator("#plan-details")).not_to_contain_text("Request")
    expect(timeline.locator(".vis-item.busy.vis-selected")).to_have_count(1)
    shoot(page, artifacts, "plans-esa")


def test_empty_pages_say_what_to_do(page: Page, empty: World, artifacts: Path) -> None:
    assert empty.get("requests", "admin") == []
    assert empty.get("plans", "admin") == []
    sign_in(page, empty, "admin", "requests")
    expect(page.locator("#requests-empty")).to_contain_text("jointsat requests import")
    expect(page.locator("#requests-empty")).to_contain_text("POST /api/v1/requests")
    shoot(page, artifacts, "requests-empty")
    page.click("#tabs a[data-page=plans]")
    ready(page, "plans")
    expect(page.locator("#plans-empty")).to_contain_text("jointsat plan --from-store")
    expect(page.locator("#plan-body")).to_be_hidden()
    shoot(page, artifacts, "plans-empty")


# --- manage --------------------------------------------------------------------------------


def test_the_admin_adds_a_partner(page: Page, planned: World, artifacts: Path) -> None:
    sign_in(page, planned, "admin", "manage")
    expect(page.locator("#partner-table tbody tr")).to_have_count(
        len(planned.get("partners", "admin"))
    )
    page.fill("#partner-add input[name=code]", "kari")
    page.fill("#partner-add input[name=name]", "Korea Aerospace Research Institute")
    page.fill("#partner-add input[name=contribution_share]", "0.05")
    page.click("#partner-add button[type=submit]")
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text("Partner kari added")
    (added,) = [p for p in planned.get("partners", "admin") if p["code"] == "kari"]
    assert added["name"] == "Korea Aerospace Research Institute"
    assert added["contribution_share"] == 0.05
    row = page.locator('#partner-table tbody tr[data-code="kari"]')
    expect(row).to_have_count(1)
    # Its agreement, edited in the page, reads back through the API, changed as typed only.
    before = planned.get(f"agreements/{added['id']}", "admin")
    row.locator("button", has_text="Edit").click()
    form = page.locator("#partner-edit")
    expect(form).to_have_attribute("data-id", str(added["id"]))
    form.locator("input[name=embargo_days]").fill("90")
    form.locator("select[name=station_visibility]").select_option("private")
    form.locator("button[name=save-agreement]").click()
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text("Agreement of kari saved")
    after = planned.get(f"agreements/{added['id']}", "admin")
    assert after == {**before, "embargo_days": 90, "station_visibility": "private"}
    shoot(page, artifacts, "manage-partners")


def test_a_concurrent_edit_is_refused_with_412_and_reloaded(
    page: Page, planned: World, artifacts: Path
) -> None:
    (nasa,) = [p for p in planned.get("partners", "admin") if p["code"] == "nasa"]
    sign_in(page, planned, "admin", "manage")
    page.click(f'#partner-table tbody tr[data-id="{nasa["id"]}"] button')
    form = page.locator("#partner-edit")
    expect(form).to_be_visible()
    # Someone else renames NASA after the form was opened (read with its ETag).
    read = planned.call("GET", f"partners/{nasa['id']}", "admin")
    renamed = planned.call(
        "PATCH",
        f"partners/{nasa['id']}",
        "admin",
        json={"name": "NASA (renamed elsewhere)"},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert renamed.status_code == 200
    form.locator("input[name=name]").fill("NASA (renamed here)")
    form.locator("button[name=save-partner]").click()
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text(CHANGED_ELSEWHERE)
    expect(page.locator("#manage-message")).to_have_class("error")
    # Nothing of the stale form was written; the form shows the new version.
    assert planned.get(f"partners/{nasa['id']}", "admin")["name"] == "NASA (renamed elsewhere)"
    expect(form.locator("input[name=name]")).to_have_value("NASA (renamed elsewhere)")
    shoot(page, artifacts, "manage-412")
    # Saved again from the reloaded form, it goes through.
    form.locator("input[name=name]").fill("NASA (renamed here)")
    form.locator("button[name=save-partner]").click()
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text("saved")
    assert planned.get(f"partners/{nasa['id']}", "admin")["name"] == "NASA (renamed here)"


def _own_station(world: World, who: str, code: str) -> dict[str, Any]:
    partners = {p["code"]: p["id"] for p in world.get("partners", "admin")}
    return next(s for s in world.get("stations", who) if s["partner_id"] == partners[code])


@pytest.mark.parametrize("who", ["admin", "esa-operator"])
def test_a_stations_mask_and_unavailability_are_saved(
    page: Page, planned: World, artifacts: Path, who: str
) -> None:
    station = _own_station(planned, who, "esa")
    sign_in(page, planned, who, "manage")
    section(page, "stations")
    page.click(f'#manage-station-table tbody tr[data-id="{station["id"]}"]')
    editor = page.locator("#station-editor")
    expect(editor).to_have_attribute("data-id", str(station["id"]))
    removals = editor.locator("#mask-table button")
    while removals.count():
        removals.first.click()
    mask = [(0.0, 5.0), (90.0, 12.5), (200.0, 3.0), (300.0, 20.0)]
    for _ in mask:
        editor.locator("button", has_text="Add a point").click()
    rows = editor.locator("#mask-table tbody tr")
    for row, (az, elev) in zip(rows.all(), mask, strict=True):
        row.locator("input").nth(0).fill(str(az))
        row.locator("input").nth(1).fill(str(elev))
    expect(editor.locator("#mask-plot")).to_have_attribute("data-points", str(len(mask)))
    expect(editor.locator("#mask-plot path.mask")).to_have_count(1)
    editor.locator("button", has_text="Save mask").click()
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text("saved")
    saved = planned.get(f"stations/{station['id']}", who)["horizon_mask"]
    assert saved == {"azimuth_deg": [m[0] for m in mask], "elevation_deg": [m[1] for m in mask]}
    # An unavailability window, in UTC as typed.
    start = planned.day_start + timedelta(days=2, hours=3)
    add = editor.locator("#unavailability-add")
    add.locator("input[name=start]").fill(start.strftime("%Y-%m-%dT%H:%M"))
    add.locator("input[name=end]").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    add.locator("select[name=kind]").select_option("outage")
    add.locator("input[name=reason]").fill(f"feed repair by {who}")
    add.locator("button[type=submit]").click()
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text("Unavailability")
    windows = planned.get(f"stations/{station['id']}", who)["unavailable"]
    (window,) = [w for w in windows if w["reason"] == f"feed repair by {who}"]
    assert window["kind"] == "outage"
    assert datetime.fromisoformat(window["start"].replace("Z", "+00:00")) == start
    expect(page.locator("#unavailability-table")).to_contain_text(f"feed repair by {who}")
    shoot(page, artifacts, f"manage-stations-{who}")


def test_the_satellites_show_their_element_sets_ages(
    page: Page, planned: World, artifacts: Path
) -> None:
    satellites = planned.get("satellites", "admin")
    at = (planned.day_start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    positions = {
        p["satellite_id"]: p for p in planned.get(f"satellites/positions?at={at}", "admin")
    }
    sign_in(page, planned, "admin", "manage")
    section(page, "satellites")
    rows = page.locator("#manage-satellite-table tbody tr")
    expect(rows).to_have_count(len(satellites))
    for satellite in satellites:
        row = page.locator(f'#manage-satellite-table tbody tr[data-id="{satellite["id"]}"]')
        expect(row).to_have_attribute("data-stale", json.dumps(positions[satellite["id"]]["stale"]))
    assert any(p["stale"] for p in positions.values())  # CHEOPS's, as on the map
    cheops = next(s for s in satellites if s["name"] == "CHEOPS")
    page.click(f'#manage-satellite-table tbody tr[data-id="{cheops["id"]}"]')
    history = planned.get(f"satellites/{cheops['id']}/elements", "admin")
    expect(page.locator("#element-table tbody tr")).to_have_count(len(history))
    # An OMM a day newer than its newest set, uploaded in the page, joins the history.
    omm = dict(history[0]["omm"])
    epoch = datetime.fromisoformat(history[0]["epoch"].replace("Z", "+00:00")) + timedelta(days=1)
    omm["EPOCH"] = epoch.strftime("%Y-%m-%dT%H:%M:%S.%f")
    page.fill("#element-upload textarea", json.dumps([omm]))
    page.click("#element-upload button[type=submit]")
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text("1 new element set stored")
    after = planned.get(f"satellites/{cheops['id']}/elements", "admin")
    assert len(after) == len(history) + 1
    assert datetime.fromisoformat(after[0]["epoch"].replace("Z", "+00:00")) == epoch
    expect(page.locator("#element-table tbody tr")).to_have_count(len(after))
    shoot(page, artifacts, "manage-satellites")


def test_a_token_is_created_shown_once_and_revoked_by_id(
    page: Page, planned: World, artifacts: Path
) -> None:
    (user,) = [u for u in planned.get("users", "admin") if u["name"] == "cnes-viewer"]
    sign_in(page, planned, "admin", "manage")
    section(page, "tokens")
    page.click(f'#user-table tbody tr[data-id="{user["id"]}"] button:has-text("Tokens")')
    settled(page)
    expect(page.locator("#token-table")).to_have_attribute("data-user", str(user["id"]))
    page.fill("#token-create input[name=label]", "made in the dashboard")
    page.click("#token-create button[type=submit]")
    settled(page)
    issued = page.locator("#token-issued")
    expect(issued).to_be_visible()
    token = issued.locator("code.token").inner_text()
    token_id = issued.get_attribute("data-id")
    listed = planned.get(f"users/{user['id']}/tokens", "admin")
    assert [t["label"] for t in listed if str(t["id"]) == token_id] == ["made in the dashboard"]
    planned.tokens["made"] = token
    assert planned.get("me", "made")["name"] == "cnes-viewer"
    shoot(page, artifacts, "manage-tokens")
    page.fill("#token-revoke input[name=id]", str(token_id))
    page.click("#token-revoke button[type=submit]")
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text(f"Token #{token_id} revoked")
    expect(page.locator(f'#token-table tbody tr[data-id="{token_id}"]')).to_have_attribute(
        "data-state", "revoked"
    )
    assert planned.call("GET", "me", "made").status_code == 401


@pytest.mark.parametrize("section_name", ["partners", "stations", "satellites", "tokens"])
def test_a_viewer_sees_no_write_controls_and_the_api_refuses_anyway(
    page: Page, planned: World, artifacts: Path, section_name: str
) -> None:
    station = _own_station(planned, "esa", "esa")
    sign_in(page, planned, "esa", "manage")
    section(page, section_name)
    if section_name == "stations":
        page.click(f'#manage-station-table tbody tr[data-id="{station["id"]}"]')
        expect(page.locator("#station-editor")).to_have_attribute("data-id", str(station["id"]))
        for field in page.locator("#mask-table input").all():
            expect(field).not_to_be_editable()
    visible = page.locator(
        "#page-manage button.write:visible, #page-manage form.editor:visible, "
        "#page-manage .admin-only:visible"
    )
    expect(visible).to_have_count(0)
    expect(page.locator("#manage-role")).to_contain_text("read-only")
    shoot(page, artifacts, f"manage-viewer-{section_name}")
    refused = {
        "partners": planned.call(
            "POST", "partners", "esa", json={"code": "x", "name": "X", "contribution_share": 0.1}
        ),
        "stations": planned.call(
            "PATCH", f"stations/{station['id']}", "esa", json={"horizon_mask": None}
        ),
        "satellites": planned.call("GET", "users", "esa"),
        "tokens": planned.call(
            "POST", f"users/{planned.ids['esa-operator']}/tokens", "esa", json={}
        ),
    }[section_name]
    assert refused.status_code in (403, 404)
    if section_name == "stations":
        # Sent anyway through the page's own client, the API's 403 reads as a clear message.
        message = page.evaluate(
            """async (id) => {
                const core = await import("/static/dashboard/core.js");
                try { await core.apiWrite("PATCH", `stations/${id}`, { horizon_mask: null }); }
                catch (error) { return core.writeProblem(error); }
                return "written";
            }""",
            station["id"],
        )
        assert message.startswith("Not allowed for your role: only the owner's operators")


def test_the_new_pages_draw_under_the_csp(page: Page, planned: World) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith((planned.base_url + "/", "data:")) else elsewhere.append(r.url)
        ),
    )
    sign_in(page, planned, "admin", "requests")
    for view in ("plans", "manage"):
        page.click(f"#tabs a[data-page={view}]")
        ready(page, view)
    expect(page.locator("#plan-timeline .vis-item.observation").first).to_be_attached()
    for name in ("stations", "satellites", "tokens", "partners"):
        section(page, name)
    page.locator("#manage-station-table tbody tr").first.wait_for(state="attached")
    section(page, "stations")
    page.locator("#manage-station-table tbody tr").first.click()
    expect(page.locator("#mask-plot")).to_be_attached()
    found = violations(page)
    assert found == [], "\n".join(sorted(set(found)))
    assert elsewhere == []
