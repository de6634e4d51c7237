"""What an operator keeps the dashboard open for, checked in chromium against the API.

Co-located satellites listed at their point; times in ISO 8601 UTC, 24 h, whatever the
browser's locale and zone (and station-local mean solar time on demand); the timeline's
notice when the view misses the schedule; the map's sub-solar point (against
``jointsat.orbits.sun``), night side, station footprints and next passes; the archive's
release dates and rule; truncated passes, azimuths and durations; the exports' files
against the JSON; and an empty store's pages saying what to do. Screenshots go to
test-artifacts/dashboard/.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from tests.web.conftest import Service

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from icalendar import Calendar
from playwright.sync_api import Browser, Page, expect
from tests.web.conftest import Empty
from tests.web.conftest import Service as ServiceType
from tests.web.test_dashboard import TIMEOUT_MS, open_dashboard, ready, shoot, show

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")
ISO_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
LOCALE_TIME = re.compile(r"\b(AM|PM)\b|\d{1,2}/\d{1,2}/\d{4}")


def clock(service: Service, hours: float = 6.0) -> datetime:
    return service.day_start + timedelta(hours=hours)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def readable(text: str) -> str:
    """Return an API time as the dashboard writes it: 2024-05-10 06:00:00."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def km_between(a: dict[str, Any], b: dict[str, Any]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a["lat_deg"], a["lon_deg"], b["lat_deg"], b["lon_deg"]))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@pytest.fixture
def elsewhere(browser: Browser) -> Iterator[Page]:
    """A page in a browser set to Los Angeles' zone and a US locale: times must not care."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, timezone_id="America/Los_Angeles", locale="en-US"
    )
    page = context.new_page()
    yield page
    context.close()


def test_co_located_satellites_share_a_label_and_are_listed_at_their_point(
    page: Page, service: Service, artifacts: Path
) -> None:
    open_dashboard(page, service, service.admin, "map")
    positions = service.get(
        f"/api/v1/satellites/positions?at={stamp(clock(service))}", service.admin
    )
    iss = next(p for p in positions if p["norad_id"] == 25544)
    # The ISS's visitors, docked: within a few kilometres of it.
    docked = [
        p for p in positions if p is not iss and p["lat_deg"] is not None and km_between(p, iss) < 5
    ]
    assert docked, "the demo should have vehicles docked to the ISS"
    label = page.locator("#map .satellite-label.cluster").filter(has_text="ISS (ZARYA)")
    expect(label).to_have_count(1)
    plus = int(re.search(r"\+(\d+)", label.inner_text()).group(1))  # type: ignore[union-attr]
    assert plus >= len(docked)
    # Each visitor has no label of its own: it would hide the station's.
    for p in docked:
        expect(page.locator("#map .satellite-label").filter(has_text=p["name"])).to_have_count(0)
    page.locator(f"#map path.sat-{iss['satellite_id']}").dispatch_event("click")
    listed = page.locator("#colocated li")
    expect(listed).to_have_count(plus + 1)
    for p in [iss, *docked]:
        expect(
            page.locator(f'#colocated li[data-satellite="{p["satellite_id"]}"]')
        ).to_contain_text(p["name"])
    popup = page.locator(".leaflet-popup .popup-colocated li")
    expect(popup).to_have_count(plus + 1)
    shoot(page, artifacts, "map-colocated")


def test_times_are_iso_utc_24_h_whatever_the_browsers_locale(
    elsewhere: Page, service: Service, artifacts: Path
) -> None:
    page = elsewhere
    assert page.evaluate("new Date(0).getTimezoneOffset()") != 0  # the browser is not in UTC
    at = stamp(service.day_start)
    open_dashboard(page, service, service.admin, "map")
    page.goto(f"{service.base_url}/?at={at}&span=21600#timeline")
    ready(page, "timeline")
    expect(page.locator("#at")).to_have_value(readable(at))
    minor = page.locator(
        "#timeline .vis-time-axis .vis-text.vis-minor:not(.vis-measure)"
    ).all_text_contents()
    assert minor
    assert all(re.fullmatch(r"\d{2}:\d{2}", t.strip()) for t in minor), minor
    # The axis starts at the schedule's midnight UTC, not the browser's.
    assert "00:00" in [t.strip() for t in minor]
    major = page.locator(
        "#timeline .vis-time-axis .vis-text.vis-major:not(.vis-measure)"
    ).all_text_contents()
    assert any(readable(at)[:10] in t and "UTC" in t for t in major), major
    contact = page.locator("#timeline .vis-item.contact span[title]").first
    title = contact.get_attribute("title") or ""
    assert ISO_SECONDS.search(title)
    assert title.count(" UTC") == 2
    assert not LOCALE_TIME.search(page.locator("body").inner_text())
    contact.click()
    details = page.locator("#contact-details").inner_text()
    assert ISO_SECONDS.search(details)
    assert not LOCALE_TIME.search(details)
    shoot(page, artifacts, "timeline-utc-elsewhere")
    # Station-local mean solar time, on demand, remembered in the tab.
    show(page, "passes")
    first = page.locator("#pass-table tbody tr").first
    utc_aos = first.locator("td").nth(2).inner_text().strip()
    station_name = first.locator("td").nth(1).inner_text().strip()
    page.check("#station-times")
    ready(page, "passes")
    expect(page.locator('#pass-table th[data-key="aos"]')).to_have_text("AOS (station LMT)")
    row = page.locator("#pass-table tbody tr").filter(has_text=station_name).first
    local = page.locator("#pass-table tbody tr").first.locator("td").nth(2).inner_text()
    (station,) = [
        s for s in service.get("/api/v1/stations", service.admin) if s["name"] == station_name
    ]
    lon = (station["lon_deg"] + 180.0) % 360.0 - 180.0
    offset = timedelta(seconds=round(lon * 240.0))
    moment = datetime.fromisoformat(utc_aos.replace(" ✂", "").strip()).replace(tzinfo=UTC)
    shifted = (moment + offset).strftime("%Y-%m-%d %H:%M:%S")
    assert local.startswith(f"{shifted} LMT (UTC"), (local, shifted)
    assert row.count() == 1
    assert page.evaluate("sessionStorage.getItem('jointsat.times')") == "station"
    page.reload()
    expect(page.locator("#station-times")).to_be_checked()
    page.uncheck("#station-times")


def test_the_timeline_says_when_the_view_misses_the_schedule(
    page: Page, service: Service, artifacts: Path
) -> None:
    token = service.viewers["esa"]
    open_dashboard(page, service, token, "map")
    schedule = service.get(f"/api/v1/schedules/{service.schedule_id}", token)
    before = stamp(service.day_start - timedelta(days=7))
    page.goto(f"{service.base_url}/?at={before}&span=21600#timeline")
    ready(page, "timeline")
    notice = page.locator("#timeline-coverage")
    expect(notice).to_be_visible()
    covers = f"{readable(schedule['start'])} .. {readable(schedule['end'])} UTC"
    expect(notice).to_contain_text(f"Schedule #{schedule['id']} covers {covers}")
    # The rows are drawn all the same, empty: the page is not blank.
    stations = service.get("/api/v1/stations", token)
    expect(page.locator("#timeline .vis-label")).to_have_count(len(stations))
    shoot(page, artifacts, "timeline-outside-schedule")
    notice.locator("button.jump").click()
    ready(page, "timeline")
    expect(notice).to_be_hidden()
    assert f"at={stamp(datetime.fromisoformat(schedule['start']))}" in page.url.replace("%3A", ":")
    assert page.locator("#timeline .vis-item.contact").count() > 0
    # Each row's label carries the station's whole name (cut with an ellipsis if long).
    names = [s["name"] for s in stations]
    titles = page.locator("#timeline .vis-label .row-label").evaluate_all(
        "nodes => nodes.map(n => n.title)"
    )
    assert [t.rsplit(" (", 1)[0] for t in titles] == names


def subsolar_from_python(moment: datetime) -> tuple[float, float]:
    from jointsat.orbits.frames import gmst82_rad
    from jointsat.orbits.sun import sun_position_km
    from jointsat.timelib import split_julian

    jd, fr = split_julian(moment)
    sun = sun_position_km(jd, fr)
    lat = math.degrees(math.asin(float(sun[2]) / float(np.linalg.norm(sun))))
    lon = math.degrees(math.atan2(float(sun[1]), float(sun[0])) - float(gmst82_rad(jd, fr)))
    return lat, (lon + 180.0) % 360.0 - 180.0


def test_the_map_shows_the_sun_the_stations_footprints_and_next_passes(
    page: Page, service: Service, artifacts: Path
) -> None:
    token = service.viewers["nasa"]
    open_dashboard(page, service, token, "map")
    moment = clock(service)
    lat, lon = subsolar_from_python(moment)
    drawn = page.locator("#map")
    expect(drawn).to_have_attribute("data-subsolar-at", stamp(moment))
    assert abs(float(drawn.get_attribute("data-subsolar-lat") or "nan") - lat) < 0.1
    dlon = float(drawn.get_attribute("data-subsolar-lon") or "nan") - lon
    assert abs((dlon + 180.0) % 360.0 - 180.0) < 0.1
    expect(page.locator("#map path.subsolar")).to_have_count(1)
    expect(page.locator("#map path.night")).to_have_count(1)
    expect(page.locator("#map path.terminator")).to_have_count(1)
    stations = service.get("/api/v1/stations", token)
    expect(page.locator("#map path.station-footprint")).to_have_count(len(stations))
    # The selected satellite's next pass over each station, as the passes API gives them.
    satellites = service.get("/api/v1/satellites", token)
    iss = next(s for s in satellites if s["norad_id"] == 25544)
    page.select_option("#map-satellite", str(iss["id"]))
    expect(page.locator("#next-passes")).to_have_attribute("data-ready", "true")
    end = stamp(moment + timedelta(days=1))
    passes = service.get(
        f"/api/v1/passes?start={stamp(moment)}&end={end}&satellite_id={iss['id']}", token
    )
    first: dict[int, dict[str, Any]] = {}
    for p in sorted(passes, key=lambda p: p["aos"]):
        first.setdefault(p["station_id"], p)
    rows = page.locator("#next-passes tbody tr")
    expect(rows).to_have_count(len(first))
    assert first
    for row, p in zip(rows.all(), sorted(first.values(), key=lambda p: p["aos"]), strict=True):
        assert row.get_attribute("data-station") == str(p["station_id"])
        assert readable(p["aos"])[11:] in row.inner_text()
    shoot(page, artifacts, "map-sun-footprints")


def test_the_archive_shows_release_dates_and_the_rule_that_opens_each_product(
    page: Page, service: Service, artifacts: Path
) -> None:
    seen = {}
    for who in ("esa", "cnes"):
        token = service.viewers[who]
        open_dashboard(page, service, token, "archive")
        products = service.get("/api/v1/products", token)
        rows = page.locator("#archive-table tbody tr")
        expect(rows).to_have_count(len(products))
        for row, product in zip(rows.all(), products, strict=True):
            expect(row.locator("td.members-from")).to_have_text(readable(product["members_from"]))
            public = product["public_from"]
            expect(row.locator("td.public-from")).to_have_text(
                readable(public) if public else "never"
            )
            expect(row.locator("td.visible-as")).to_have_attribute(
                "data-rule", product["visible_as"]
            )
        seen[who] = [p["visible_as"] for p in products]
        shoot(page, artifacts, f"archive-rules-{who}")
        # Dates are typed as ISO dates (UTC), not in the browser's locale.
        day = service.day_start.strftime("%Y-%m-%d")
        page.fill("#archive-from", day)
        page.fill("#archive-to", day)
        page.click("#archive-filters button[type=submit]")
        on_day = [p for p in products if p["acquired_start"].startswith(day)]
        expect(page.locator("#archive-table tbody tr")).to_have_count(len(on_day))
        expect(page.locator("#archive-count")).to_have_text(f"{len(on_day)} products")
        page.click("#sign-out")
    # ESA owns both products; CNES sees the old one as a member, the embargoed one not at all.
    assert seen == {"esa": ["owner", "owner"], "cnes": ["member"]}


def test_passes_mark_truncation_show_azimuths_and_export_what_is_shown(
    page: Page, service: Service, artifacts: Path
) -> None:
    token = service.viewers["esa"]
    open_dashboard(page, service, token, "passes")
    start, end = clock(service), clock(service) + timedelta(hours=6)
    passes = service.get(f"/api/v1/passes?start={stamp(start)}&end={stamp(end)}", token)
    truncated = [p for p in passes if p["truncated"]]
    assert truncated  # passes in progress at the window's start
    expect(page.locator('#pass-table tbody tr[data-truncated="true"]')).to_have_count(
        len(truncated)
    )
    expect(page.locator("#pass-table tbody tr.truncated .truncated-mark").first).to_be_visible()
    expect(page.locator("#polar-key li")).to_have_count(4)
    # Duration and azimuths, as the API gives them.
    cells = page.locator("#pass-table tbody tr").first.locator("td").all_text_contents()
    aos = cells[2].replace("✂", "").strip()
    (row,) = [
        p
        for p in passes
        if (p["satellite"], p["station"], readable(p["aos"])) == (cells[0], cells[1], aos)
    ]
    assert cells[6] == f"{row['duration_s'] / 60:.1f} min"
    assert cells[7] == f"{row['aos_azimuth_deg']:.1f}°"
    assert cells[8] == f"{row['los_azimuth_deg']:.1f}°"
    # Exports: the passes shown (filtered) and the schedule's contacts, with the token.
    page.fill("#filter-elevation", "30")
    shown = [p for p in passes if p["max_elevation_deg"] >= 30]
    expect(page.locator("#pass-table tbody tr")).to_have_count(len(shown))
    with page.expect_download() as got:
        page.click('button.export[data-export="passes.csv"]')
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(), newline="")))
    assert [(r["satellite"], r["station"], r["aos"]) for r in rows] == [
        (p["satellite"], p["station"], p["aos"]) for p in shown
    ]
    with page.expect_download() as got:
        page.click('button.export[data-export="passes.ics"]')
    events = list(Calendar.from_ical(Path(got.value.path()).read_bytes()).walk("VEVENT"))
    assert len(events) == len(shown)
    schedule = service.get(f"/api/v1/schedules/{service.schedule_id}", token)
    with page.expect_download() as got:
        page.click('button.export[data-export="contacts.ics"]')
    assert got.value.suggested_filename == f"schedule-{service.schedule_id}-contacts.ics"
    events = list(Calendar.from_ical(Path(got.value.path()).read_bytes()).walk("VEVENT"))
    assert sorted(e.decoded("dtstart") for e in events) == sorted(
        datetime.fromisoformat(c["start"]).replace(microsecond=0) for c in schedule["contacts"]
    )
    with page.expect_download() as got:
        page.click('button.export[data-export="contacts.csv"]')
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(), newline="")))
    assert sorted(r["start"] for r in rows) == sorted(c["start"] for c in schedule["contacts"])
    shoot(page, artifacts, "passes-exports")


# --- an empty store -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_service(empty_store: Empty) -> ServiceType:
    """``jointsat serve`` on a migrated store with its admin only: nothing else."""
    return ServiceType(
        empty_store.base_url, empty_store.admin, {}, 0, datetime.now(UTC), {}, empty_store.log
    )


@pytest.mark.parametrize("view", ["map", "timeline", "passes", "fairness"])
def test_an_empty_store_says_what_to_do(
    page: Page, empty_service: ServiceType, artifacts: Path, view: str
) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{empty_service.base_url}/#{view}")
    page.fill("#token", empty_service.admin)
    page.click("#sign-in-form button[type=submit]")
    ready(page, view)
    hint = page.locator(f"#page-{view} > .empty-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("This store is empty")
    expect(hint).to_contain_text("jointsat demo")
    expect(hint).to_contain_text("POST /api/v1/")
    shoot(page, artifacts, f"empty-{view}")


def test_the_operators_views_draw_under_the_csp(page: Page, service: Service) -> None:
    from tests.web.test_csp import violations, watch

    seen = watch(page, service)
    open_dashboard(page, service, service.admin, "map")
    iss = next(
        s for s in service.get("/api/v1/satellites", service.admin) if s["norad_id"] == 25544
    )
    page.locator(f"#map path.sat-{iss['id']}").dispatch_event("click")
    expect(page.locator(".leaflet-popup .popup-colocated li").first).to_be_attached()
    page.check("#station-times")
    for view in ("timeline", "passes", "archive", "map"):
        show(page, view)
    page.uncheck("#station-times")
    before = stamp(service.day_start - timedelta(days=7))
    page.goto(f"{service.base_url}/?at={before}&span=21600#timeline")
    ready(page, "timeline")
    expect(page.locator("#timeline-coverage")).to_be_visible()
    found = violations(page)
    assert found == [], "\n".join(sorted(set(found)))
    assert [m for m in seen["console"] if "Content Security Policy" in m] == []
    assert seen["elsewhere"] == []
