"""The Operations page in chromium, against the API it is drawn from.

A copy of the shared demo store (its fair schedule of the demo day), given a slow,
narrow-beamed rotator on every station, a G/T on every station and an S-band downlink
on every satellite but one, is served for this module alone (its contacts are moved
here). Checked: the contacts table is the API's contacts of the schedule in the
window; Confirm moves a contact (re-read through the API); a partner without rights
sees no Confirm and no hidden station's contact; the polar plot holds the pointing
plan's rows and marks those lagging over half the beamwidth; the Doppler line holds
the table's rows and the link budget its figures, or the API's 422 detail; the live
feed shows an event recorded after the page opened, and closes when the page is left.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
import pytest
from tests.support.server import served

if TYPE_CHECKING:
    from tests.web.conftest import Empty, Service

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page, expect
from tests.web.test_csp import violations, watch
from tests.web.test_dashboard import TIMEOUT_MS, ready, shoot, show

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")

WINDOW_START_H = 6.0  # the page's clock: the demo day's start + 6 h, a 6 h span
WINDOW_SPAN_S = 21600
ROTATOR = {  # slow axes and a narrow beam: high passes lag over half of it
    "azimuth_min_deg": 0.0,
    "azimuth_max_deg": 450.0,
    "elevation_min_deg": 0.0,
    "elevation_max_deg": 90.0,
    "azimuth_rate_deg_s": 0.6,
    "elevation_rate_deg_s": 0.6,
    "beamwidth_deg": 1.0,
}
DOWNLINK = {
    "name": "S-band TM",
    "direction": "downlink",
    "frequency_hz": 2_245_000_000.0,
    "eirp_dbw": 7.0,
    "data_rate_bps": 2_000_000.0,
    "required_eb_n0_db": 4.4,
}
G_OVER_T_DB_K = 18.0


@dataclass
class Ops:
    """The served copy: its URL, tokens by who, the schedule, the window, the linkless satellite."""

    base_url: str
    tokens: dict[str, str]
    schedule_id: int
    start: datetime
    station_owner: dict[str, str]
    linkless_satellite_id: int

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.request(
            method, f"{self.base_url}/api/v1/{path}", headers=headers, timeout=60, **kwargs
        )

    def get(self, path: str, who: str, **params: Any) -> Any:
        answer = self.call("GET", path, who, params=params)
        answer.raise_for_status()
        return answer.json()

    def contacts(self, who: str, start: datetime | None = None) -> list[dict[str, Any]]:
        """Return the contacts of the schedule ``who`` sees in the window from ``start``."""
        start = start or self.start
        end = start + timedelta(seconds=WINDOW_SPAN_S)
        found: list[dict[str, Any]] = self.get(
            "contacts",
            who,
            schedule_id=self.schedule_id,
            start=start.isoformat(),
            end=end.isoformat(),
        )
        return found


def _prepare(url: str) -> tuple[dict[str, str], int]:
    """Add an operator to ESA and to CNES, a rotator and G/T on every station and a
    downlink on every satellite but CHEOPS; return the operators' tokens and CHEOPS's id."""
    from sqlalchemy import select

    from jointsat.service.tokens import issue_token
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.tables import GroundStation, Partner, Role, Satellite, User

    engine = open_engine(url)
    tokens = {}
    try:
        with session_factory(engine)() as session:
            for code in ("esa", "cnes"):
                partner = session.scalars(select(Partner).where(Partner.code == code)).one()
                user = User(
                    name=f"{code}-operator",
                    role=Role.OPERATOR,
                    partner=partner,
                    created_at=datetime.now(UTC),
                )
                session.add(user)
                tokens[f"{code}-operator"] = issue_token(
                    session, user, now=datetime.now(UTC), label="operations view tests"
                )
            for station in session.scalars(select(GroundStation)):
                station.rotator = dict(ROTATOR)
                station.g_over_t_db_k = G_OVER_T_DB_K
            linkless = 0
            for satellite in session.scalars(select(Satellite)):
                if satellite.norad_id == 44874:  # CHEOPS: no link, the 422's case
                    linkless = satellite.id
                    satellite.links = None
                else:
                    satellite.links = [dict(DOWNLINK)]
            session.commit()
    finally:
        engine.dispose()
    return tokens, linkless


@pytest.fixture(scope="module")
def ops(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    """Serve a prepared copy of the shared store (the SQLite backup API: it is open)."""
    folder = tmp_path_factory.mktemp("operations")
    with (
        sqlite3.connect(service.log.parent / "store.db") as old,
        sqlite3.connect(folder / "store.db") as new,
    ):
        old.backup(new)
    url = f"sqlite:///{folder / 'store.db'}"
    operators, linkless = _prepare(url)
    tokens = {"admin": service.admin, **service.viewers, **operators}
    start = service.day_start + timedelta(hours=WINDOW_START_H)
    with served(url, folder / "archive", folder / "server.log", ready="/api/v1/partners") as s:
        yield Ops(s.base, tokens, service.schedule_id, start, service.station_owner, linkless)


def open_operations(
    page: Page, ops: Ops, who: str, start: datetime | None = None
) -> dict[str, list[str]]:
    """Open the Operations page at ``start`` (the window's) signed in as ``who``."""
    seen = watch(page, cast("Service", ops))  # it reads the base URL only
    page.set_default_timeout(TIMEOUT_MS)
    at = (start or ops.start).strftime("%Y-%m-%dT%H:%M:%SZ")
    page.goto(f"{ops.base_url}/?at={at}&span={WINDOW_SPAN_S}#operations")
    page.fill("#token", ops.tokens[who])
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-signed-in", "true")
    ready(page, "operations")
    return seen


def readable(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def rows_of(page: Page) -> list[list[str]]:
    cells = page.locator("#ops-contacts tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].slice(0, 7).map(c => c.textContent.trim()))"
    )
    return [list(row) for row in cells]


def select(page: Page, contact_id: int) -> None:
    page.click(f'#ops-contacts tr[data-contact="{contact_id}"] td.satellite')
    expect(page.locator("#ops-contact")).to_have_attribute("data-ready", "true")


def test_the_contacts_table_is_the_apis_contacts_of_the_schedule_in_the_window(
    page: Page, ops: Ops, artifacts: Path
) -> None:
    seen = open_operations(page, ops, "admin")
    contacts = ops.contacts("admin")
    assert contacts, "the window holds no contact: the test would check nothing"
    expected = [
        [
            str(c["id"]),
            c["satellite"],
            c["station"],
            readable(c["start"]),
            readable(c["end"]),
            f"{c['max_elevation_deg']:.1f}°",
            c["state"],
        ]
        for c in contacts
    ]
    expect(page.locator("#ops-contacts tbody tr")).to_have_count(len(contacts))
    assert rows_of(page) == expected
    # The tally: every partner for the admin, its counts the API's
    partners = ops.get("partners", "admin")
    expect(page.locator("#ops-tally tbody tr")).to_have_count(len(partners))
    for partner in partners:
        tally = ops.get(
            "contacts/tally", "admin", partner_id=partner["id"], schedule_id=ops.schedule_id
        )
        row = page.locator(f'#ops-tally tr[data-partner="{partner["id"]}"]')
        expect(row.locator("td.planned")).to_have_text(str(tally["planned_contacts"]))
        expect(row.locator("td.delivered")).to_have_text(str(tally["delivered_contacts"]))
        expect(row.locator("td.pending")).to_have_text(str(tally["pending_contacts"]))
    shoot(page, artifacts, "operations")
    assert violations(page) == []
    assert seen["elsewhere"] == []


def test_confirm_moves_a_contact_and_only_on_the_operators_own_stations(
    page: Page, ops: Ops
) -> None:
    open_operations(page, ops, "esa-operator")
    contacts = ops.contacts("esa-operator")
    own = [c for c in contacts if ops.station_owner[c["station"]] == "esa"]
    others = [c for c in contacts if ops.station_owner[c["station"]] != "esa"]
    assert others, "no other partner's station in the window: the rights go unchecked"
    for c in others:
        row = page.locator(f'#ops-contacts tr[data-contact="{c["id"]}"]')
        expect(row.locator("button.move")).to_have_count(0)
    target = next(c for c in own if c["state"] == "scheduled")
    row = page.locator(f'#ops-contacts tr[data-contact="{target["id"]}"]')
    expect(row.locator("button.confirm")).to_have_count(1)
    row.locator("button.confirm").click()
    row = page.locator(f'#ops-contacts tr[data-contact="{target["id"]}"]')
    expect(row).to_have_attribute("data-state", "confirmed", timeout=TIMEOUT_MS)
    expect(row.locator("td.state")).to_have_text("confirmed")
    expect(row.locator("button.confirm")).to_have_count(0)  # confirmed: only Cancel is left
    expect(row.locator("button.cancel")).to_have_count(1)
    assert ops.get(f"contacts/{target['id']}", "admin")["state"] == "confirmed"


def test_a_partner_without_rights_sees_no_move_and_no_hidden_stations_contact(
    page: Page, ops: Ops
) -> None:
    schedule = ops.get("contacts", "admin", schedule_id=ops.schedule_id)
    first = next(c for c in schedule if ops.station_owner[c["station"]] == "dlr")
    start = datetime.fromisoformat(first["start"]).replace(second=0, microsecond=0)
    hidden = [c for c in ops.contacts("admin", start) if ops.station_owner[c["station"]] == "dlr"]
    assert hidden  # DLR's private stations have contacts in this window
    open_operations(page, ops, "cnes", start)  # CNES's viewer
    theirs = ops.contacts("cnes", start)
    expect(page.locator("#ops-contacts tbody tr")).to_have_count(len(theirs))
    shown = {int(i) for i in page.locator("#ops-contacts tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.contact)")}  # fmt: skip
    assert shown == {c["id"] for c in theirs}
    assert not shown & {c["id"] for c in hidden}
    assert not any(ops.station_owner[c["station"]] == "dlr" for c in theirs)
    expect(page.locator("#ops-contacts button.move")).to_have_count(0)
    # CNES's tally only (a partner's users read their own)
    expect(page.locator("#ops-tally tbody tr")).to_have_count(1)


def test_the_polar_plot_is_the_pointing_plan_with_its_lag_marked(
    page: Page, ops: Ops, artifacts: Path
) -> None:
    open_operations(page, ops, "admin")
    contacts = ops.contacts("admin")
    highest = max(contacts, key=lambda c: c["max_elevation_deg"])
    select(page, highest["id"])
    plan = ops.get(f"contacts/{highest['id']}/pointing", "admin", format="json")
    rows = plan["passes"][0]["rows"]
    half_beam = ROTATOR["beamwidth_deg"] / 2
    # Flip-over rows (elevation past 90) point where (az + 180, 180 - el) does
    up = [r for r in rows if min(r["elevation_deg"], 180 - r["elevation_deg"]) >= 0]
    lagging = [r for r in up if r["lag_deg"] > half_beam]
    assert lagging, "no row lags over half the beam: the marks go unchecked"
    assert len(lagging) < len(up)
    track = page.locator("#ops-polar polyline.sky-track")
    expect(track).to_have_count(1)
    points = (track.get_attribute("points") or "").split()
    assert len(points) == len(up)
    expect(page.locator("#ops-polar circle.lag")).to_have_count(len(lagging))
    expect(page.locator("#ops-polar polygon.mask")).to_have_count(1)
    expect(page.locator("#ops-polar-note")).to_contain_text(f"{len(rows)} rows")
    shoot(page, artifacts, "operations-contact")


def test_the_doppler_line_and_link_budget_are_the_apis_or_its_422(page: Page, ops: Ops) -> None:
    open_operations(page, ops, "admin")
    contacts = ops.contacts("admin")
    linked = next(c for c in contacts if c["satellite_id"] != ops.linkless_satellite_id)
    select(page, linked["id"])
    doppler = ops.get(f"contacts/{linked['id']}/doppler", "admin", format="json", step_s=5)
    line = page.locator("#ops-doppler polyline.doppler-line")
    expect(line).to_have_count(1)
    assert len((line.get_attribute("points") or "").split()) == len(doppler["passes"][0]["rows"])
    expect(page.locator("#ops-doppler-note")).to_contain_text(DOWNLINK["name"])
    budget = ops.get(f"contacts/{linked['id']}/link-budget", "admin")
    facts = page.locator("#ops-budget")
    expect(facts).to_contain_text(f"min {budget['min_eb_n0_db']:.1f} dB")
    expect(facts).to_contain_text(f"max {budget['max_eb_n0_db']:.1f} dB")
    expect(facts).to_contain_text(f"{budget['closed_s']:.0f} s of")
    read = ops.get(f"contacts/{linked['id']}", "admin")
    expect(page.locator("#ops-products li.product")).to_have_count(len(read["product_ids"]))

    linkless = [c for c in contacts if c["satellite_id"] == ops.linkless_satellite_id]
    if not linkless:
        pytest.skip("no contact of the linkless satellite in the window")
    select(page, linkless[0]["id"])
    refused = ops.call("GET", f"contacts/{linkless[0]['id']}/doppler?format=json", "admin")
    assert refused.status_code == 422
    expect(page.locator("#ops-doppler polyline")).to_have_count(0)
    expect(page.locator("#ops-doppler-note")).to_contain_text(refused.json()["detail"])
    refused = ops.call("GET", f"contacts/{linkless[0]['id']}/link-budget", "admin")
    assert refused.status_code == 422
    expect(page.locator("#ops-budget .problem")).to_contain_text(refused.json()["detail"])


def test_the_live_feed_shows_an_event_recorded_after_the_page_opened(page: Page, ops: Ops) -> None:
    open_operations(page, ops, "esa")  # ESA's viewer: sees, does not move
    feed = page.locator("#ops-events")
    expect(feed).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    listed = [e["id"] for e in ops.get("events", "esa", limit=1000)]  # oldest first
    assert len(listed) < 1000, "more events than one page: the oracle below is incomplete"
    # The feed opens with the newest 50 the viewer may see: the full list's last 50.
    shown = feed.locator("li")
    expect(shown).to_have_count(min(len(listed), 50))
    assert [int(x) for x in shown.evaluate_all("(items) => items.map((i) => i.dataset.event)")] == (
        listed[::-1][:50]
    )
    before = set(listed)
    target = next(
        c
        for c in ops.contacts("esa")
        if c["state"] == "scheduled" and ops.station_owner[c["station"]] == "esa"
    )
    moved = ops.call("POST", f"contacts/{target['id']}/confirm", "esa-operator")
    assert moved.status_code == 200, moved.text
    after = [e for e in ops.get("events", "esa", limit=1000) if e["id"] not in before]
    (event,) = [e for e in after if e["payload"].get("contact_id") == target["id"]]
    item = feed.locator(f'li[data-event="{event["id"]}"]')
    expect(item).to_have_attribute("data-kind", "contact.state", timeout=TIMEOUT_MS)
    expect(item).to_contain_text(f"contact {target['id']}")
    expect(item).to_contain_text("scheduled → confirmed")
    assert feed.locator("li").first.get_attribute("data-event") == str(event["id"])
    # The table follows the feed: the row takes its new state without a reload
    row = page.locator(f'#ops-contacts tr[data-contact="{target["id"]}"]')
    expect(row).to_have_attribute("data-state", "confirmed")
    assert feed.locator("li").count() <= 50
    show(page, "map")
    expect(feed).to_have_attribute("data-state", "closed")


def test_the_timelines_contact_opens_on_the_operations_page(page: Page, ops: Ops) -> None:
    open_operations(page, ops, "admin")
    show(page, "timeline")
    item = page.locator("#timeline .vis-item.contact").first
    item.click()
    details = page.locator("#contact-details")
    satellite = details.locator("dd").first.inner_text()  # "NAME (NORAD)"
    details.locator("a.to-operations").click()
    ready(page, "operations")
    selected = page.locator("#ops-contacts tr.selected")
    expect(selected).to_have_count(1)
    contact_id = selected.get_attribute("data-contact")
    expect(page.locator("#ops-contact-title")).to_contain_text(f"Contact {contact_id}:")
    assert satellite.startswith(selected.locator("td.satellite").inner_text() + " (")
    expect(page.locator("#ops-contact")).to_have_attribute("data-ready", "true")


def test_an_empty_store_says_what_to_do_and_its_feed_is_live(
    page: Page, empty_store: Empty
) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{empty_store.base_url}/#operations")
    page.fill("#token", empty_store.admin)
    page.click("#sign-in-form button[type=submit]")
    ready(page, "operations")
    hint = page.locator("#page-operations > .empty-hint")
    expect(hint).to_contain_text("This store is empty")
    expect(page.locator("#ops-summary")).to_have_text("No schedule yet.")
    expect(page.locator("#ops-contacts tbody tr")).to_have_count(0)
    expect(page.locator("#ops-events")).to_have_attribute("data-state", "live")
