"""The dashboard in Debian's chromium against a live server with the demo consortium.

Each test signs in with a token and checks what a page draws against the JSON API
answered to the same token: stations and ground tracks on the map, the schedule's
contacts on the timeline, the fairness figures, a private station hidden from other
partners. The clock is the page's ``?at=`` (the demo's first scheduled day), never the
wall clock. Screenshots go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.web.conftest import Service

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page, expect
from tests.web.conftest import NINE_DIGITS

# pytest-base-url (under pytest-playwright) defines a session fixture pytest 9 warns about.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")
TIMEOUT_MS = 30_000


def open_dashboard(page: Page, service: Service, token: str, view: str = "map") -> None:
    """Open the page at the demo day's start, sign in with ``token`` and show ``view``."""
    at = (service.day_start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{service.base_url}/?at={at}&span=21600#{view}")
    page.fill("#token", token)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-signed-in", "true")
    ready(page, view)


def ready(page: Page, view: str) -> None:
    """Wait until ``view`` has loaded its data."""
    expect(page.locator(f"#page-{view}")).to_be_visible()
    expect(page.locator(f"#page-{view}")).to_have_attribute("data-ready", "true")


def show(page: Page, view: str) -> None:
    page.click(f"#tabs a[data-page={view}]")
    ready(page, view)


def shoot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def test_the_map_draws_the_callers_stations_and_ground_tracks(
    page: Page, service: Service, artifacts: Path
) -> None:
    token = service.viewers["esa"]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_dashboard(page, service, token, "map")
    stations = service.get("/api/v1/stations", token)
    satellites = service.get("/api/v1/satellites", token)
    expect(page.locator("#map path.station")).to_have_count(len(stations))
    expect(page.locator("#station-list tbody tr")).to_have_count(len(stations))
    expect(page.locator("#map path.land").first).to_be_attached()
    assert page.locator("#map path.track").count() > 0
    assert page.locator("#map path.track").count() >= len(satellites)
    expect(page.locator("#map path.satellite")).to_have_count(len(satellites))
    expect(page.locator("#map path.footprint")).to_have_count(len(satellites))
    # Stations are coloured by their owner, one colour per partner.
    fills = {}
    for station, path in zip(stations, page.locator("#map path.station").all(), strict=True):
        fills.setdefault(station["partner_id"], set()).add(path.get_attribute("fill"))
    assert all(len(colours) == 1 for colours in fills.values())
    assert len({next(iter(c)) for c in fills.values()}) == len(fills)
    # Satellites whose elements the API calls stale at this moment are marked, and named
    # in the notice (CHEOPS's nearest set is months from the demo's week).
    at = (service.day_start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    positions = service.get(f"/api/v1/satellites/positions?at={at}", token)
    stale = [p["name"] for p in positions if p["stale"]]
    assert "CHEOPS" in stale
    expect(page.locator("#map path.satellite.stale")).to_have_count(len(stale))
    expect(page.locator("#page-map")).to_have_attribute("data-stale", str(len(stale)))
    expect(page.locator("#notice")).to_contain_text("Stale elements")
    for name in stale[:5]:
        expect(page.locator("#notice")).to_contain_text(name)
    # Everything, the basemap and the libraries included, comes from the service itself.
    assert requested
    assert all(url.startswith((service.base_url + "/", "data:")) for url in requested), requested
    shoot(page, artifacts, "map")


def test_a_satellite_of_nine_digits_is_drawn_listed_and_chosen(
    page: Page, service: Service, artifacts: Path
) -> None:
    token = service.viewers["esa"]
    open_dashboard(page, service, token, "map")
    (twin,) = [s for s in service.get("/api/v1/satellites", token) if s["norad_id"] == NINE_DIGITS]
    expect(page.locator("#satellite-legend")).to_contain_text(f"TWIN ({NINE_DIGITS})")
    expect(page.locator("#map .satellite-label").filter(has_text="TWIN ·")).to_have_count(1)
    shoot(page, artifacts, "nine-digits-map")
    show(page, "passes")
    page.select_option("#filter-satellite", str(twin["id"]))
    rows = page.locator("#pass-table tbody tr")
    assert rows.count() > 0
    assert set(page.locator("#pass-table tbody tr td:nth-child(1)").all_text_contents()) == {"TWIN"}
    rows.first.click()
    expect(page.locator("#polar-title")).to_contain_text("TWIN over")
    expect(page.locator("#polar polyline.sky-track")).to_be_attached()
    show(page, "archive")
    choice = page.locator(f'#archive-satellite option[value="{NINE_DIGITS}"]')
    expect(choice).to_have_text(f"TWIN ({NINE_DIGITS})")


def test_the_timeline_shows_the_schedules_contacts(
    page: Page, service: Service, artifacts: Path
) -> None:
    token = service.admin
    open_dashboard(page, service, token, "map")
    # The whole scheduled day in view: every contact is drawn.
    at = service.day_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    page.goto(f"{service.base_url}/?at={at}&span=86400#timeline")
    ready(page, "timeline")
    schedule = service.get(f"/api/v1/schedules/{service.schedule_id}", token)
    stations = service.get("/api/v1/stations", token)
    contacts = schedule["contacts"]
    assert contacts
    expect(page.locator("#timeline .vis-item.contact")).to_have_count(len(contacts))
    expect(page.locator("#timeline")).to_have_attribute("data-contacts", str(len(contacts)))
    expect(page.locator("#timeline .vis-label")).to_have_count(len(stations))
    assert page.locator("#timeline .vis-item.pass").count() >= len(contacts) // 2
    windows = sum(len(s["unavailable"]) for s in stations)
    assert windows  # Kiruna's maintenance
    expect(page.locator("#timeline .vis-item.vis-background.unavailable")).to_have_count(windows)
    # A click on a contact shows its details.
    first = min(contacts, key=lambda c: c["start"])
    page.locator("#timeline .vis-item.contact").filter(has_text=first["satellite"]).first.click()
    details = page.locator("#contact-details")
    expect(details.locator("h2")).to_have_text("Contact")
    expect(details).to_contain_text("Max elevation")
    shoot(page, artifacts, "timeline")


def test_the_fairness_numbers_are_the_apis(page: Page, service: Service, artifacts: Path) -> None:
    token = service.viewers["cnes"]
    open_dashboard(page, service, token, "fairness")
    schedule = service.get(f"/api/v1/schedules/{service.schedule_id}", token)
    rows = page.locator("#fair-table tbody tr")
    expect(rows).to_have_count(len(schedule["partners"]))
    for code, share in schedule["partners"].items():
        row = page.locator(f'#fair-table tbody tr[data-partner="{code}"]')
        assert float(row.get_attribute("data-entitled") or "nan") == share["share_entitled"]
        assert float(row.get_attribute("data-received") or "nan") == share["share_received"]
        assert float(row.get_attribute("data-seconds") or "nan") == share["seconds"]
        expect(row.locator("td.entitled")).to_have_text(f"{share['share_entitled'] * 100:.2f} %")
        expect(row.locator("td.received")).to_have_text(f"{share['share_received'] * 100:.2f} %")
    status = page.locator('#fair-status dd[data-field="status"]')
    expect(status).to_have_text(schedule["status"])
    gap = page.locator('#fair-status dd[data-field="gap"]')
    assert float(gap.get_attribute("data-value") or "nan") == schedule["gap"]
    expect(gap).to_have_text(f"{schedule['gap'] * 100:.2f} %")
    fairness = page.locator('#fair-status dd[data-field="fairness-gap"]')
    assert float(fairness.get_attribute("data-value") or "nan") == schedule["fairness_gap"]
    expect(page.locator("#fair-chart rect.received")).to_have_count(len(schedule["partners"]))
    shoot(page, artifacts, "fairness")


@pytest.mark.parametrize("view", ["map", "timeline", "passes"])
def test_a_viewer_does_not_see_another_partners_private_stations(
    page: Page, service: Service, artifacts: Path, view: str
) -> None:
    private = sorted(name for name, owner in service.station_owner.items() if owner == "dlr")
    assert private  # DLR keeps its stations private in the demo
    seen_by_esa = {s["name"] for s in service.get("/api/v1/stations", service.viewers["esa"])}
    assert not seen_by_esa & set(private)
    span = "86400"
    at = service.day_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    for who, token in (("admin", service.admin), ("esa", service.viewers["esa"])):
        open_dashboard(page, service, token, "map")
        page.goto(f"{service.base_url}/?at={at}&span={span}#{view}")
        ready(page, view)
        text = page.content()
        for name in private:
            if who == "admin":
                assert name in text, f"the admin should see {name} on the {view} page"
            else:
                assert name not in text, f"esa's viewer sees DLR's private {name} on {view}"
        shoot(page, artifacts, f"private-{view}-{who}")
        page.click("#sign-out")
        expect(page.locator("#sign-in")).to_be_visible()


def test_the_passes_table_filters_sorts_and_plots_a_pass(
    page: Page, service: Service, artifacts: Path
) -> None:
    token = service.viewers["nasa"]
    open_dashboard(page, service, token, "passes")
    rows = page.locator("#pass-table tbody tr")
    total = rows.count()
    assert total > 0
    page.fill("#filter-elevation", "30")
    assert 0 < rows.count() < total
    for cell in page.locator("#pass-table tbody tr td:nth-child(6)").all_text_contents():
        assert float(cell.rstrip("°")) >= 30
    page.click('#pass-table th[data-key="max_elevation_deg"]')
    page.click('#pass-table th[data-key="max_elevation_deg"]')
    expect(page.locator('#pass-table th[data-key="max_elevation_deg"]')).to_have_attribute(
        "data-sort", "descending"
    )
    elevations = [
        float(c.rstrip("°"))
        for c in page.locator("#pass-table tbody tr td:nth-child(6)").all_text_contents()
    ]
    assert elevations == sorted(elevations, reverse=True)
    rows.first.click()
    expect(page.locator("#polar polyline.sky-track")).to_be_attached()
    expect(page.locator("#polar circle.aos")).to_be_attached()
    shoot(page, artifacts, "passes")


def test_the_archive_lists_and_downloads_within_the_callers_rights(
    page: Page, service: Service, artifacts: Path
) -> None:
    counts = {}
    for who in ("esa", "cnes"):
        token = service.viewers[who]
        open_dashboard(page, service, token, "archive")
        products = service.get("/api/v1/products", token)
        counts[who] = len(products)
        ids = page.locator("#archive-table tbody td.id").all_text_contents()
        assert ids == [p["id"] for p in products]
        with page.expect_download() as download:
            page.locator("#archive-table button.download").first.click()
        assert download.value.suggested_filename == products[0]["files"][0]["name"]
        shoot(page, artifacts, f"archive-{who}")
        page.click("#sign-out")
    # ESA's product of yesterday is under its embargo: CNES does not see it yet.
    assert counts == {"esa": 2, "cnes": 1}


def test_signing_in_with_a_bad_token_shows_an_error(
    page: Page, service: Service, artifacts: Path
) -> None:
    page.goto(service.base_url + "/")
    page.fill("#token", "jst_not-a-token")
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#sign-in-error")).to_have_text(re.compile("refused"))
    expect(page.locator("#tabs")).to_be_hidden()
    shoot(page, artifacts, "sign-in-refused")
