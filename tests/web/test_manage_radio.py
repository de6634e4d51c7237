"""The Manage page's radio records: a station's rotator and G/T, a satellite's links.

Oracle: the station or satellite as the API gives it back after the save (the values
typed, in the API's units: MHz typed, Hz stored), the API's own 422 detail shown for a
bad entry with the record unchanged, and a viewer of the owner without a write control.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Locator, Page, expect
from tests.web.test_dashboard import shoot
from tests.web.test_pages import (
    CHANGED_ELSEWHERE,
    World,
    _own_station,
    planned,
    section,
    settled,
    sign_in,
)

__all__ = ["planned"]  # the pages' world, served for this module too

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")

ROTATOR = {
    "azimuth_min_deg": -90.0,
    "azimuth_max_deg": 450.0,
    "elevation_min_deg": 0.0,
    "elevation_max_deg": 180.0,
    "azimuth_rate_deg_s": 5.0,
    "elevation_rate_deg_s": 3.0,
    "beamwidth_deg": 1.5,
}
DEFAULT_ROTATOR = {  # orbits.pointing.Rotator's defaults, as the API reads a null back
    "azimuth_min_deg": 0.0,
    "azimuth_max_deg": 450.0,
    "elevation_min_deg": 0.0,
    "elevation_max_deg": 90.0,
    "azimuth_rate_deg_s": 6.0,
    "elevation_rate_deg_s": 6.0,
    "beamwidth_deg": 2.0,
}
LINK_DEFAULTS = {"offset_hz": 0.0, "transponder": None, "polarization_loss_db": 0.0}  # radio.Link's


def _open_station(page: Page, world: World, who: str) -> tuple[dict[str, Any], Locator]:
    station = _own_station(world, "admin", "esa")
    sign_in(page, world, who, "manage")
    section(page, "stations")
    page.click(f'#manage-station-table tbody tr[data-id="{station["id"]}"]')
    editor = page.locator("#station-editor")
    expect(editor).to_have_attribute("data-id", str(station["id"]))
    return station, editor.locator("#radio-editor")


def _satellite(world: World, name: str) -> dict[str, Any]:
    return next(s for s in world.get("satellites", "admin") if s["name"] == name)


def _open_satellite(
    page: Page, world: World, who: str, name: str
) -> tuple[dict[str, Any], Locator]:
    satellite = _satellite(world, name)
    sign_in(page, world, who, "manage")
    section(page, "satellites")
    page.click(f'#manage-satellite-table tbody tr[data-id="{satellite["id"]}"]')
    editor = page.locator("#link-editor")
    expect(editor).to_have_attribute("data-id", str(satellite["id"]))
    return satellite, editor


def test_a_stations_rotator_and_g_over_t_are_saved(
    page: Page, planned: World, artifacts: Path
) -> None:
    station, radio = _open_station(page, planned, "esa-operator")
    path = f"stations/{station['id']}"
    before = planned.get(path, "esa-operator")
    assert before["rotator"] is not None  # the demo's -180..540 rotator
    # A rotator spanning 300 degrees of azimuth: the API's 422 detail, nothing changed.
    radio.locator("input[name=azimuth_min_deg]").fill("0")
    radio.locator("input[name=azimuth_max_deg]").fill("300")
    radio.locator("button", has_text="Save antenna").click()
    settled(page)
    message = page.locator("#manage-message")
    expect(message).to_have_class("error")
    expect(message).to_contain_text("it must span at least 360")
    after = planned.get(path, "esa-operator")
    assert (after["rotator"], after["g_over_t_db_k"]) == (
        before["rotator"],
        before["g_over_t_db_k"],
    )
    # A flip-over mount and a G/T: saved, read back the same, shown so once reloaded.
    for name, value in ROTATOR.items():
        radio.locator(f"input[name={name}]").fill(f"{value:g}")
    radio.locator("input[name=g_over_t_db_k]").fill("21.5")
    radio.locator("button", has_text="Save antenna").click()
    settled(page)
    expect(message).to_contain_text("saved")
    expect(message).to_have_class("ok")
    saved = planned.get(path, "esa-operator")
    assert saved["rotator"] == ROTATOR
    assert saved["g_over_t_db_k"] == 21.5
    assert saved["horizon_mask"] == before["horizon_mask"]  # the rest as it was
    for name, value in ROTATOR.items():
        expect(radio.locator(f"input[name={name}]")).to_have_value(f"{value:g}")
    shoot(page, artifacts, "manage-station-antenna")
    # The default model and an unknown G/T: both null in the API.
    radio.locator("input[name=rotator_default]").check()
    expect(radio.locator("input[name=azimuth_min_deg]")).to_have_value("0")
    radio.locator("input[name=g_over_t_db_k]").fill("")
    radio.locator("button", has_text="Save antenna").click()
    settled(page)
    expect(message).to_contain_text("saved")
    cleared = planned.get(path, "esa-operator")
    assert (cleared["rotator"], cleared["g_over_t_db_k"]) == (None, None)
    expect(radio.locator("input[name=rotator_default]")).to_be_checked()
    for name, value in DEFAULT_ROTATOR.items():
        expect(radio.locator(f"input[name={name}]")).to_have_value(f"{value:g}")


def _fill_row(row: Locator, values: dict[str, str]) -> None:
    for name, value in values.items():
        if name == "direction":
            row.locator("select[name=direction]").select_option(value)
        elif name == "transponder":
            row.locator("details summary").click()
            row.locator("textarea[name=transponder]").fill(value)
        else:
            row.locator(f"input[name={name}]").fill(value)


def test_a_link_added_to_a_satellite_is_saved(page: Page, planned: World, artifacts: Path) -> None:
    satellite, editor = _open_satellite(page, planned, "esa-operator", "CHEOPS")
    path = f"satellites/{satellite['id']}"
    before = planned.get(path, "esa-operator")["links"]
    assert [link["name"] for link in before] == ["S-band TM"]  # the demo's downlink
    rows = editor.locator("#link-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("input[name=frequency_hz]")).to_have_value("2245")
    message = page.locator("#manage-message")
    # An uplink below its transponder's passband: the API's 422 detail, nothing changed.
    editor.locator("button", has_text="Add a link").click()
    expect(rows).to_have_count(2)
    transponder = (
        '{"uplink_low_hz": 145.9e6, "uplink_high_hz": 146.0e6,'
        ' "downlink_low_hz": 435.8e6, "downlink_high_hz": 435.9e6, "inverted": true}'
    )
    _fill_row(
        rows.nth(1),
        {
            "name": "TC",
            "direction": "uplink",
            "frequency_hz": "145.8",
            "offset_hz": "-1200",
            "eirp_dbw": "10.5",
            "data_rate_bps": "9600",
            "required_eb_n0_db": "9.6",
            "transponder": transponder,
        },
    )
    editor.locator("button", has_text="Save links").click()
    settled(page)
    expect(message).to_have_class("error")
    expect(message).to_contain_text("link 'TC'")
    expect(message).to_contain_text("outside its transponder's uplink passband")
    assert planned.get(path, "esa-operator")["links"] == before
    # In the passband: saved, read back with the frequency in Hz, the old link untouched.
    rows.nth(1).locator("input[name=frequency_hz]").fill("145.95")
    editor.locator("button", has_text="Save links").click()
    settled(page)
    expect(message).to_have_class("ok")
    expect(message).to_contain_text("saved")
    links = planned.get(path, "esa-operator")["links"]
    kept = {**LINK_DEFAULTS, **before[0]}  # as the API stores a link: every field in full
    assert links[0] == kept
    assert links[1] == {
        "name": "TC",
        "direction": "uplink",
        "frequency_hz": 145_950_000.0,
        "offset_hz": -1200.0,
        "transponder": {
            "uplink_low_hz": 145_900_000.0,
            "uplink_high_hz": 146_000_000.0,
            "downlink_low_hz": 435_800_000.0,
            "downlink_high_hz": 435_900_000.0,
            "inverted": True,
        },
        "eirp_dbw": 10.5,
        "data_rate_bps": 9600.0,
        "required_eb_n0_db": 9.6,
        "polarization_loss_db": 0.0,
    }
    expect(rows).to_have_count(2)
    expect(
        page.locator(f'#manage-satellite-table tbody tr[data-id="{satellite["id"]}"]')
    ).to_contain_text("TC ↑ 145.95 MHz")
    shoot(page, artifacts, "manage-satellite-links")
    # Removed in the page: gone from the API too.
    rows.nth(1).locator("button").click()
    editor.locator("button", has_text="Save links").click()
    settled(page)
    expect(message).to_contain_text("saved")
    assert planned.get(path, "esa-operator")["links"] == [kept]


def test_a_viewer_sees_the_radio_records_without_edit_controls(
    page: Page, planned: World, artifacts: Path
) -> None:
    station, radio = _open_station(page, planned, "esa")
    shown = planned.get(f"stations/{station['id']}", "esa")
    rotator = shown["rotator"] or DEFAULT_ROTATOR
    for name, value in rotator.items():
        field = radio.locator(f"input[name={name}]")
        expect(field).to_have_value(f"{value:g}")
        expect(field).not_to_be_editable()
    expect(radio.locator("input[name=g_over_t_db_k]")).not_to_be_editable()
    expect(radio.locator("input[name=rotator_default]")).to_be_disabled()
    write_controls = page.locator(
        "#page-manage button.write:visible, #page-manage form.editor:visible"
    )
    expect(write_controls).to_have_count(0)
    section(page, "satellites")
    satellite = _satellite(planned, "CHEOPS")
    page.click(f'#manage-satellite-table tbody tr[data-id="{satellite["id"]}"]')
    editor = page.locator("#link-editor")
    expect(editor).to_have_attribute("data-id", str(satellite["id"]))
    links = planned.get(f"satellites/{satellite['id']}", "esa")["links"]
    rows = editor.locator("#link-table tbody tr")
    expect(rows).to_have_count(len(links))
    for row, link in zip(rows.all(), links, strict=True):
        expect(row.locator("input[name=name]")).to_have_value(link["name"])
        expect(row.locator("input[name=name]")).not_to_be_editable()
        expect(row.locator("select[name=direction]")).to_be_disabled()
        expect(row.locator("input[name=frequency_hz]")).not_to_be_editable()
    expect(editor.locator("#link-hint")).to_contain_text("Read-only")
    expect(write_controls).to_have_count(0)
    shoot(page, artifacts, "manage-viewer-links")


def test_an_antenna_changed_elsewhere_meanwhile_is_refused_with_412_and_reloaded(
    page: Page, planned: World
) -> None:
    station, radio = _open_station(page, planned, "admin")
    path = f"stations/{station['id']}"
    # Someone else sets the G/T after the station was opened (read with its ETag).
    read = planned.call("GET", path, "admin")
    elsewhere = planned.call(
        "PATCH",
        path,
        "admin",
        json={"g_over_t_db_k": 12.25},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert elsewhere.status_code == 200
    radio.locator("input[name=g_over_t_db_k]").fill("30")
    radio.locator("input[name=beamwidth_deg]").fill("0.5")
    radio.locator("button", has_text="Save antenna").click()
    settled(page)
    message = page.locator("#manage-message")
    expect(message).to_contain_text(CHANGED_ELSEWHERE)
    expect(message).to_have_class("error")
    # Nothing of the stale box was written; the box shows the stored version.
    stored = planned.get(path, "admin")
    assert stored["g_over_t_db_k"] == 12.25
    assert stored["rotator"] == read.json()["rotator"]
    expect(radio.locator("input[name=g_over_t_db_k]")).to_have_value("12.25")
    # Saved again from the reloaded box, it goes through.
    radio.locator("input[name=g_over_t_db_k]").fill("30")
    radio.locator("button", has_text="Save antenna").click()
    settled(page)
    expect(message).to_contain_text("saved")
    assert planned.get(path, "admin")["g_over_t_db_k"] == 30.0
