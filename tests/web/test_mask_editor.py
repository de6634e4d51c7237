"""The Manage page's horizon-mask editor: points typed in any order are saved as a mask.

Oracle: the station as the API gives it back after the save (the mask by increasing
azimuth, as the service requires), and the editor's refusal of two points at one
azimuth before anything is sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page, expect
from tests.web.test_pages import World, _own_station, planned, section, settled, sign_in

__all__ = ["planned"]  # the pages' world, served for this module too


def _type_mask(page: Page, points: list[tuple[float, float]]) -> None:
    editor = page.locator("#station-editor")
    removals = editor.locator("#mask-table button")
    while removals.count():
        removals.first.click()
    for _ in points:
        editor.locator("button", has_text="Add a point").click()
    rows = editor.locator("#mask-table tbody tr")
    for row, (az, elev) in zip(rows.all(), points, strict=True):
        row.locator("input").nth(0).fill(str(az))
        row.locator("input").nth(1).fill(str(elev))


def test_mask_points_typed_out_of_order_are_saved_by_azimuth(
    page: Page, planned: World, artifacts: Path
) -> None:
    station = _own_station(planned, "esa-operator", "esa")
    before = planned.get(f"stations/{station['id']}", "esa-operator")["horizon_mask"]
    sign_in(page, planned, "esa-operator", "manage")
    section(page, "stations")
    page.click(f'#manage-station-table tbody tr[data-id="{station["id"]}"]')
    editor = page.locator("#station-editor")
    expect(editor).to_have_attribute("data-id", str(station["id"]))
    # Two points at one azimuth: refused in the page, nothing sent.
    _type_mask(page, [(270.0, 8.0), (10.0, 4.0), (270.0, 9.0)])
    editor.locator("button", has_text="Save mask").click()
    expect(page.locator("#manage-message")).to_contain_text("azimuth 270")
    assert planned.get(f"stations/{station['id']}", "esa-operator")["horizon_mask"] == before
    # Out of order: saved by increasing azimuth, and shown so once reloaded.
    typed = [(270.0, 8.0), (10.0, 4.0), (120.0, 15.5)]
    _type_mask(page, typed)
    expect(editor.locator("#mask-plot")).to_have_attribute("data-points", "3")
    editor.locator("button", has_text="Save mask").click()
    settled(page)
    expect(page.locator("#manage-message")).to_contain_text("saved")
    ordered = sorted(typed)
    saved = planned.get(f"stations/{station['id']}", "esa-operator")["horizon_mask"]
    assert saved == {
        "azimuth_deg": [p[0] for p in ordered],
        "elevation_deg": [p[1] for p in ordered],
    }
    azimuths = editor.locator("#mask-table tbody tr td:first-child input")
    expect(azimuths).to_have_count(3)
    assert [float(v) for v in azimuths.evaluate_all("(xs) => xs.map((x) => x.value)")] == [
        p[0] for p in ordered
    ]
