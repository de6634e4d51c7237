"""The Design page in chromium against the live server: a coverage map and a Pareto chart.

The demo consortium's store holds each partner's area of interest (DLR's private). The
studies are made through the API, as a partner would, and run by the server's
background runner: a Walker constellation over every partner's area (so that only DLR
and the admin see it), one over ESA's area alone (every member sees it), and a small
sweep. The page's markers, legend and chart are checked against the API's answers to
the same token, under the service's Content Security Policy.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.web.conftest import Service

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page, expect
from tests.web.test_csp import violations, watch
from tests.web.test_dashboard import open_dashboard, shoot

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")
STUDY = {"start": "2024-05-10T00:00:00Z", "days": 0.25, "grid_deg": 2.0}


@dataclass
class Studies:
    everyone: int  # over the partners' every area: DLR's is private
    europe: int  # over ESA's area alone: every member sees it
    sweep: int


def _post(service: Service, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        service.base_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {service.admin}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def _done(service: Service, study_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        service.cache.clear()
        study: dict[str, Any] = service.get(f"/api/v1/design/studies/{study_id}", service.admin)
        if study["status"] in ("done", "failed"):
            assert study["status"] == "done", study["error"]
            return study
        assert time.monotonic() < deadline, f"study {study_id} is still {study['status']}"
        time.sleep(0.2)


@pytest.fixture(scope="session")
def studies(service: Service) -> Studies:
    areas = service.get("/api/v1/areas", service.admin)
    europe = next(a["id"] for a in areas if a["partner"] == "esa")
    walker = {**STUDY, "constellations": ["walker:12/3/1:550:53"]}
    everyone = _post(
        service,
        "/api/v1/design/studies",
        {**walker, "name": "everyone's", "area_ids": [a["id"] for a in areas]},
    )["id"]
    alone = _post(
        service, "/api/v1/design/studies", {**walker, "name": "Europe", "area_ids": [europe]}
    )["id"]
    sweep = {
        "kind": "walker-delta",
        "totals": [2, 4, 6],
        "planes": [1, 2],
        "altitudes_km": [550],
        "inclinations_deg": [53],
        "figure": "coverage_fraction",
    }
    swept = _post(
        service,
        "/api/v1/design/studies",
        {**STUDY, "grid_deg": 4.0, "name": "sweep", "area_ids": [europe], "sweep": sweep},
    )["id"]
    for study_id in (everyone, alone, swept):
        _done(service, study_id)
    service.cache.clear()
    return Studies(everyone, alone, swept)


def _choose(page: Page, study_id: int) -> None:
    page.select_option("#design-study", str(study_id))


def test_the_coverage_map_has_a_marker_per_point_and_a_legend_of_the_figure(
    page: Page, service: Service, studies: Studies, artifacts: Path
) -> None:
    seen = watch(page, service)
    token = service.viewers["dlr"]
    open_dashboard(page, service, token, "design")
    _choose(page, studies.everyone)
    study = service.get(f"/api/v1/design/studies/{studies.everyone}", token)
    points = service.get(f"/api/v1/design/studies/{studies.everyone}/points", token)
    assert study["points"] == points["points"] > 100
    markers = page.locator("#design-map path.design-point")
    expect(page.locator("#design-map")).to_have_attribute("data-markers", str(study["points"]))
    expect(markers).to_have_count(study["points"])
    legend = page.locator("#design-legend")
    expect(legend).to_have_attribute("data-figure", "max_gap_s")
    expect(legend).to_contain_text("max_gap_s")
    expect(legend).to_contain_text("max revisit")
    # The colours follow the figure: the longest revisit is the ramp's last colour.
    gaps = points["columns"]["max_gap_s"]
    worst = gaps.index(max(g for g in gaps if g is not None))
    assert markers.nth(worst).get_attribute("fill") == "#fde725"
    shoot(page, artifacts, "design-coverage")
    # Another figure: the legend names it; the markers stay one per point.
    page.select_option("#design-figure", "coverage_fraction")
    expect(legend).to_have_attribute("data-figure", "coverage_fraction")
    expect(legend).to_contain_text("coverage_fraction")
    expect(markers).to_have_count(study["points"])
    # One partner's area: only its points.
    dlr = service.get(f"/api/v1/design/studies/{studies.everyone}/points?partner=dlr", token)
    page.select_option("#design-partner", "dlr")
    expect(page.locator("#design-map")).to_have_attribute("data-markers", str(dlr["points"]))
    expect(markers).to_have_count(dlr["points"])
    assert 0 < dlr["points"] < study["points"]
    # The table per partner shows the summary's figures.
    rows = page.locator("#design-partners tbody tr")
    expect(rows).to_have_count(len(study["summary"]["partners"]))
    assert violations(page) == []
    assert seen["elsewhere"] == []


def test_a_study_over_an_area_the_caller_may_not_see_is_not_shown(
    page: Page, service: Service, studies: Studies
) -> None:
    token = service.viewers["esa"]
    listed = {s["id"] for s in service.get("/api/v1/design/studies", token)}
    assert studies.europe in listed
    assert studies.everyone not in listed
    open_dashboard(page, service, token, "design")
    options = page.locator("#design-study option")
    values = {int(v) for v in options.evaluate_all("(all) => all.map((o) => o.value)")}
    assert values == listed
    expect(page.locator("#design-studies tbody tr")).to_have_count(len(listed))
    assert "Germany" not in page.locator("#page-design").inner_text()  # DLR's private area
    _choose(page, studies.europe)
    europe = service.get(f"/api/v1/design/studies/{studies.europe}", token)
    expect(page.locator("#design-map path.design-point")).to_have_count(europe["points"])


def test_a_sweep_draws_its_designs_and_the_pareto_front(
    page: Page, service: Service, studies: Studies, artifacts: Path
) -> None:
    seen = watch(page, service)
    open_dashboard(page, service, service.admin, "design")
    _choose(page, studies.sweep)
    sweep = service.get(f"/api/v1/design/studies/{studies.sweep}", service.admin)["summary"]
    designs = sweep["designs"]
    front = [d for d in designs if d["pareto"]]
    chart = page.locator("#design-pareto")
    expect(chart).to_be_visible()
    expect(chart.locator("circle.design-dot")).to_have_count(len(designs))
    expect(chart.locator("circle.design-dot.pareto")).to_have_count(len(front))
    expect(chart.locator("polyline.front")).to_have_count(1 if len(front) > 1 else 0)
    expect(page.locator("#design-designs tbody tr")).to_have_count(len(designs))
    expect(page.locator("#design-map")).to_be_hidden()
    titles = chart.locator("circle.design-dot.pareto title").all_text_contents()
    assert sorted(t.split(": ", 1)[0] for t in titles) == sorted(d["design"] for d in front)
    shoot(page, artifacts, "design-sweep")
    assert violations(page) == []
    assert seen["elsewhere"] == []
