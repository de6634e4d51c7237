"""The Archive page's analyses in chromium against a live server: runs beside products,
results under the table.

A copy of the shared demo store (conftest.py) is served, so that the products and runs
made here touch nothing the other tests count; ESA and CNES get an operator each. The
data are made through the API as partners would: CNES ingests a season of VENuS-like
L2A products (``jointsat.analysis.venus_like``) and asks for their NDVI series; CNES
ingests a product under its embargo and analyses it (ESA must see neither the run nor
what it made); ESA analyses its own fresh product with one of CNES's (ESA sees every
source, but the result opens only at ESA's embargo's end); CNES asks for NDVI over a
file that is no L2A product (the run fails); ESA ingests Kepler-6's light curve and asks
for a transit search. The page is checked against the API's answers to the same token
(values read back from ``data-`` attributes) and against Kepler-6b's published period,
under the service's Content Security Policy.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
import pytest
from tests.support.data import shared
from tests.support.server import served

if TYPE_CHECKING:
    from tests.web.conftest import Service

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page, expect
from tests.web.test_csp import violations, watch
from tests.web.test_dashboard import TIMEOUT_MS, ready, shoot

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")

CHEOPS, ISS = 44874, 25544
KIND = "jointsat:kind"
KEPLER6_PERIOD_D = 3.2347  # Dunham et al. 2010, ApJ 713, L136
PERIOD_TOLERANCE = 0.01  # relative: the search's period within 1 % of the published one
RUN_TIMEOUT_S = 300.0
NOT_RELEASED = "result not released to you yet"
LIGHT_CURVE = "lightcurves/kplr010874614-2009131105131_llc.fits"


@dataclass
class World:
    """The served copy: its URL, tokens by who ("admin", a partner's code for its viewer,
    "esa-operator", "cnes-operator"), and the products and runs made through the API."""

    base_url: str
    tokens: dict[str, str]
    products: dict[str, Any] = field(default_factory=dict)  # name -> product (as ingested)
    runs: dict[str, int] = field(default_factory=dict)  # name -> run id
    season: list[str] = field(default_factory=list)  # the season's product ids

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.request(
            method, f"{self.base_url}/api/v1/{path}", headers=headers, timeout=60, **kwargs
        )

    def get(self, path: str, who: str) -> Any:
        answer = self.call("GET", path, who)
        answer.raise_for_status()
        return answer.json()

    def ingest(self, who: str, path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
        """Archive a file with its metadata, as ``POST /api/v1/products`` takes them."""
        answer = self.call(
            "POST",
            "products",
            who,
            data={"metadata": json.dumps(metadata)},
            files=[("file", (path.name, path.read_bytes(), "application/octet-stream"))],
        )
        assert answer.status_code in (200, 201), answer.text
        product: dict[str, Any] = answer.json()
        return product

    def analyse(self, who: str, pipeline: str, products: list[str], **parameters: Any) -> int:
        body = {"pipeline": pipeline, "products": products, "parameters": parameters}
        answer = self.call("POST", "analyses", who, json=body)
        assert answer.status_code == 202, answer.text
        (queued,) = answer.json()
        return int(queued["id"])

    def settled(self, run_id: int, who: str = "admin") -> dict[str, Any]:
        """Wait until the run is done or failed; return it as ``who`` sees it."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            run: dict[str, Any] = self.get(f"analyses/{run_id}", who)
            if run["status"] in ("done", "failed"):
                return run
            assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
            time.sleep(0.2)


def _copy(service: Service, folder: Path) -> str:
    """Copy the shared store (the SQLite backup API: its server has it open) and archive."""
    source = service.log.parent
    with sqlite3.connect(source / "store.db") as old, sqlite3.connect(folder / "store.db") as new:
        old.backup(new)
    if (source / "archive").exists():
        shutil.copytree(source / "archive", folder / "archive")
    return f"sqlite:///{folder / 'store.db'}"


def _operators(url: str) -> dict[str, str]:
    """Add an operator to ESA and to CNES; return their tokens."""
    from sqlalchemy import select

    from jointsat.service.tokens import issue_token
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.tables import Partner, Role, User

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
                    session, user, now=datetime.now(UTC), label="analysis view tests"
                )
            session.commit()
    finally:
        engine.dispose()
    return tokens


def _optical(world: World, who: str, path: Path, acquired: datetime, owner: str) -> Any:
    from jointsat.demo_analysis import field_of_the_window

    return world.ingest(
        who,
        path,
        {
            "satellite": ISS,
            "instrument": "imager (VENuS-like L2A)",
            "processing_level": "L2A",
            "acquired_start": acquired.isoformat(),
            "acquired_end": (acquired + timedelta(seconds=10)).isoformat(),
            "footprint": field_of_the_window(),
            "owners": [owner],
            "properties": {KIND: "optical-l2a"},
        },
    )


def _products(folder: Path, seed: int, dates: int, cloudy: float) -> list[tuple[Path, datetime]]:
    from jointsat.analysis.venus_like import build_product, load_demo_tile, seeded_season

    folder.mkdir(parents=True)
    return [
        (
            build_product(
                folder,
                red=d.red,
                nir=d.nir,
                acquired=d.acquired,
                cloud_mask=d.clm,
                mg2_mask=d.mg2,
                edge_mask=d.edg,
                saturation_mask=d.sat,
            ),
            d.acquired,
        )
        for d in seeded_season(load_demo_tile(), dates, seed=seed, cloudy_fraction=cloudy)
    ]


@pytest.fixture(scope="module")
def world(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Serve a copy of the shared store, and make the products and runs through its API."""
    from jointsat.demo_analysis import field_of_the_window

    folder = tmp_path_factory.mktemp("analyses")
    url = _copy(service, folder)
    tokens = {"admin": service.admin, **service.viewers, **_operators(url)}
    aoi = field_of_the_window()
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with served(url, folder / "archive", folder / "server.log", ready="/api/v1/partners") as s:
        made = World(s.base, tokens)
        # CNES's season (2024: long out of its embargo), a third of it cloudy
        for path, acquired in _products(folder / "season", seed=3, dates=6, cloudy=0.5):
            made.season.append(_optical(made, "cnes-operator", path, acquired, "cnes")["id"])
        made.runs["season"] = made.analyse("cnes-operator", "ndvi", made.season, aoi=aoi)
        # CNES's fresh product, under its embargo: ESA sees it not, nor anything from it
        (fresh, _), *_ = _products(folder / "fresh", seed=11, dates=2, cloudy=0.0)
        made.products["embargoed"] = _optical(made, "cnes-operator", fresh, yesterday, "cnes")
        made.runs["embargoed"] = made.analyse(
            "cnes-operator", "ndvi", [made.products["embargoed"]["id"]], aoi=aoi
        )
        # ESA's fresh product with one of CNES's season: ESA sees both, not the result yet
        (own, _), *_ = _products(folder / "esa", seed=12, dates=2, cloudy=0.0)
        made.products["esa-fresh"] = _optical(made, "esa-operator", own, yesterday, "esa")
        made.runs["unreleased"] = made.analyse(
            "esa-operator", "ndvi", [made.products["esa-fresh"]["id"], made.season[0]], aoi=aoi
        )
        # No L2A product at all, though its metadata says so: the run fails
        junk = folder / "not-an-l2a.zip"
        junk.write_bytes(b"this is not a MUSCATE product\n")
        june = datetime(2024, 6, 1, tzinfo=UTC)
        made.products["junk"] = _optical(made, "cnes-operator", junk, june, "cnes")
        made.runs["failed"] = made.analyse(
            "cnes-operator", "ndvi", [made.products["junk"]["id"]], aoi=aoi
        )
        # ESA's light curve (Kepler-6 standing in for CHEOPS photometry), searched
        start = datetime(2024, 5, 10, tzinfo=UTC)
        made.products["curve"] = made.ingest(
            "esa-operator",
            shared(LIGHT_CURVE),
            {
                "satellite": CHEOPS,
                "instrument": "photometer (a Kepler light curve standing in)",
                "processing_level": "L1",
                "acquired_start": start.isoformat(),
                "acquired_end": (start + timedelta(days=9.7)).isoformat(),
                "sky": {"ra_deg": 286.9709, "dec_deg": 48.0876},
                "owners": ["esa"],
                "properties": {KIND: "light-curve"},
            },
        )
        made.runs["transits"] = made.analyse(
            "esa-operator", "transits", [made.products["curve"]["id"]]
        )
        for run_id in made.runs.values():
            made.settled(run_id)
        yield made


def sign_in(page: Page, world: World, who: str) -> dict[str, list[str]]:
    """Open the Archive page signed in as ``who``; return what the CSP watch records."""
    seen = watch(page, cast("Service", world))  # it reads the base URL only
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{world.base_url}/#archive")
    page.fill("#token", world.tokens[who])
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-signed-in", "true")
    ready(page, "archive")
    return seen


def open_results(page: Page, product_id: str) -> None:
    """Click the product's row; wait for its results."""
    page.locator(f'#archive-table tbody tr[data-product="{product_id}"] td.id').click()
    panel = page.locator("#archive-results")
    expect(panel).to_have_attribute("data-product", product_id)
    expect(panel).to_have_attribute("data-ready", "true")


def clean(page: Page, seen: dict[str, list[str]]) -> None:
    found = violations(page)
    assert found == [], "\n".join(found)
    assert [m for m in seen["console"] if "Content Security Policy" in m] == []
    assert seen["elsewhere"] == []


def test_the_ndvi_series_is_drawn_with_the_apis_values(
    page: Page, world: World, artifacts: Path
) -> None:
    seen = sign_in(page, world, "cnes")
    run = world.get(f"analyses/{world.runs['season']}", "cnes")
    assert run["status"] == "done", run["error"]
    derived = run["product_id"]
    product = world.get(f"products/{derived}", "cnes")
    assert product["derived_from"] == world.season
    # Each source's row: its run's badge and a link to what it made; the derived
    # product's row: the sources it was derived from.
    for source in world.season:
        cell = page.locator(f'#archive-table tr[data-product="{source}"] td.analyses')
        expect(cell.locator(f'.run-badge[data-run="{run["id"]}"]')).to_have_attribute(
            "data-status", "done"
        )
        link = cell.locator(f'button.product-link.derived[data-product="{derived}"]')
        expect(link).to_have_count(1)
    cell = page.locator(f'#archive-table tr[data-product="{derived}"] td.analyses')
    expect(cell).to_contain_text("derived from")
    links = cell.locator("button.product-link.source")
    assert links.evaluate_all("(all) => all.map((b) => b.dataset.product)") == world.season
    open_results(page, derived)
    expect(page.locator("#archive-results")).to_have_attribute("data-run", str(run["id"]))
    dates = run["summary"]["dates"]
    minimum = run["summary"]["settings"]["min_valid_fraction"]
    points = page.locator("#ndvi-chart circle.ndvi-point")
    expect(points).to_have_count(len(dates))
    drawn = points.evaluate_all(
        "(all) => all.map((c) => [c.dataset.date, c.dataset.mean, c.dataset.validFraction,"
        " c.classList.contains('hollow')])"
    )
    expected = sorted(dates, key=lambda d: d["date"])
    for (date, mean, valid, hollow), want in zip(drawn, expected, strict=True):
        assert date == want["date"]
        assert (float(mean) if mean else None) == want["ndvi_mean"]
        assert float(valid) == want["valid_fraction"]
        assert hollow == (want["valid_fraction"] < minimum)
    # the season has dates on both sides of the minimum, so both kinds of point are drawn
    assert {hollow for *_, hollow in drawn} == {True, False}
    smoothed = [d for d in dates if d["ndvi_smoothed"] is not None]
    line = page.locator("#ndvi-chart polyline.ndvi-smoothed")
    expect(line).to_have_attribute("data-points", str(len(smoothed)))
    assert len(line.get_attribute("points").split()) == len(smoothed)  # type: ignore[union-attr]
    expect(page.locator("#ndvi-table tbody tr")).to_have_count(len(dates))
    shoot(page, artifacts, "archive-ndvi")
    # A source's results show the run that read it, its result drawn the same
    open_results(page, world.season[1])
    expect(page.locator(f'#results-runs tr[data-run="{run["id"]}"]')).to_have_count(1)
    expect(page.locator("#ndvi-chart circle.ndvi-point")).to_have_count(len(dates))
    clean(page, seen)


def test_a_partner_that_cannot_see_a_source_sees_neither_the_run_nor_its_product(
    page: Page, world: World
) -> None:
    hidden = world.products["embargoed"]["id"]
    made = world.get(f"analyses/{world.runs['embargoed']}", "cnes")
    assert made["status"] == "done", made["error"]
    derived = made["product_id"]
    # the API: ESA sees neither (the positive control: CNES sees both)
    assert world.call("GET", f"analyses/{made['id']}", "esa").status_code == 404
    assert world.call("GET", f"products/{derived}", "esa").status_code == 404
    assert made["id"] not in {r["id"] for r in world.get("analyses", "esa")}
    seen = sign_in(page, world, "esa")
    listed = page.locator("#archive-table tbody tr").evaluate_all(
        "(all) => all.map((r) => r.dataset.product)"
    )
    assert listed == [p["id"] for p in world.get("products?limit=1000", "esa")]
    assert hidden not in listed
    assert derived not in listed
    expect(page.locator(f'[data-run="{made["id"]}"]')).to_have_count(0)
    text = page.locator("#page-archive").inner_text()
    assert derived[:10] not in text
    assert hidden[:10] not in text
    clean(page, seen)
    page.click("#sign-out")
    sign_in(page, world, "cnes")
    cell = page.locator(f'#archive-table tr[data-product="{hidden}"] td.analyses')
    expect(cell.locator(f'.run-badge[data-run="{made["id"]}"]')).to_have_count(1)
    expect(page.locator(f'#archive-table tr[data-product="{derived}"]')).to_have_count(1)


def test_a_done_run_whose_result_is_not_released_to_the_caller_says_so(
    page: Page, world: World, artifacts: Path
) -> None:
    run_id = world.runs["unreleased"]
    shown = world.get(f"analyses/{run_id}", "esa")
    made = world.get(f"analyses/{run_id}", "admin")
    assert made["status"] == "done", made["error"]
    assert (shown["status"], shown["product_id"], shown["summary"]) == ("done", None, None)
    seen = sign_in(page, world, "esa")
    source = world.products["esa-fresh"]["id"]
    row = page.locator(f'#archive-table tr[data-product="{source}"]')
    badge = row.locator(f'.run-badge[data-run="{run_id}"]')
    expect(badge).to_have_attribute("data-status", "done")
    open_results(page, source)
    row = page.locator(f'#results-runs tr[data-run="{run_id}"]')
    expect(row.locator("td.result")).to_have_text(NOT_RELEASED)
    expect(page.locator(f'[data-product="{made["product_id"]}"]')).to_have_count(0)
    assert made["product_id"][:10] not in page.locator("#page-archive").inner_text()
    shoot(page, artifacts, "archive-not-released")
    clean(page, seen)
    # the admin sees what it made
    page.click("#sign-out")
    sign_in(page, world, "admin")
    open_results(page, source)
    result = page.locator(f'#results-runs tr[data-run="{run_id}"] td.result')
    expect(result.locator(f'button[data-product="{made["product_id"]}"]')).to_have_count(1)


def test_a_failed_run_shows_its_error_and_its_partners_operators_retry_it(
    page: Page, world: World
) -> None:
    run_id = world.runs["failed"]
    failed = world.get(f"analyses/{run_id}", "cnes")
    assert failed["status"] == "failed"
    assert failed["error"]
    source = world.products["junk"]["id"]
    for who, retries in (("cnes", False), ("esa-operator", False), ("cnes-operator", True)):
        seen = sign_in(page, world, who)
        open_results(page, source)
        row = page.locator(f'#results-runs tr[data-run="{run_id}"]')
        expect(row.locator(".run-error")).to_have_text(failed["error"])
        expect(row.locator("button.retry")).to_have_count(1 if retries else 0)
        clean(page, seen)
        if not retries:
            page.click("#sign-out")
    page.locator(f'#results-runs tr[data-run="{run_id}"] button.retry').click()
    expect(page.locator("#notice")).to_contain_text(f"Run {run_id} is queued again")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (again := world.get(f"analyses/{run_id}", "cnes"))["attempts"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    again = world.settled(run_id, "cnes")
    assert (again["status"], again["attempts"]) == ("failed", 2)
    # the page reads the run again while it waits; it ends failed again, with two attempts
    row = page.locator(f'#results-runs tr[data-run="{run_id}"]')
    expect(row).to_have_attribute("data-status", "failed", timeout=RUN_TIMEOUT_S * 1000)
    expect(row.locator("td").nth(7)).to_have_text("2")


def test_the_transit_search_shows_its_candidates_and_its_plot(
    page: Page, world: World, artifacts: Path
) -> None:
    pytest.importorskip("jointsat.analysis.transits", reason="the transit search is not merged yet")
    run = world.get(f"analyses/{world.runs['transits']}", "esa")
    assert run["status"] == "done", run["error"]
    (curve,) = run["summary"]["curves"]
    candidates = curve["candidates"]
    best = candidates[0]["period_d"]
    assert abs(best - KEPLER6_PERIOD_D) / KEPLER6_PERIOD_D < PERIOD_TOLERANCE
    seen = sign_in(page, world, "esa")
    source = world.products["curve"]["id"]
    cell = page.locator(f'#archive-table tr[data-product="{source}"] td.analyses')
    expect(cell.locator(f'.run-badge[data-run="{run["id"]}"]')).to_have_attribute(
        "data-status", "done"
    )
    open_results(page, source)
    expect(page.locator("#archive-results")).to_have_attribute("data-run", str(run["id"]))
    rows = page.locator("table.transit-candidates tbody tr")
    expect(rows).to_have_count(len(candidates))
    periods = page.locator("table.transit-candidates td.period_d").evaluate_all(
        "(all) => all.map((td) => Number(td.dataset.value))"
    )
    assert periods == [c["period_d"] for c in candidates]
    expect(page.locator("table.transit-candidates td.depth_ppm").first).to_have_text(
        f"{candidates[0]['depth_ppm']:.0f}"
    )
    plot = page.locator("img.transit-plot")
    expect(plot).to_have_count(1)
    expect(plot).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.wait_for_function("() => document.querySelector('img.transit-plot').naturalWidth > 0")
    shoot(page, artifacts, "archive-transits")
    clean(page, seen)


def test_an_operator_runs_an_analysis_on_ticked_products_over_its_partners_area(
    page: Page, world: World
) -> None:
    seen = sign_in(page, world, "cnes")
    expect(page.locator("#archive-run")).to_be_hidden()  # viewers read analyses only
    expect(page.locator("#archive-table input.pick")).to_have_count(0)
    page.click("#sign-out")
    seen = sign_in(page, world, "cnes-operator")
    form = page.locator("#archive-run")
    expect(form).to_be_visible()
    pipelines = world.get("analyses/pipelines", "cnes-operator")
    options = page.locator("#run-pipeline option").evaluate_all("(all) => all.map((o) => o.value)")
    assert options == [p["name"] for p in pipelines]
    page.select_option("#run-pipeline", "ndvi")
    (france,) = [a for a in world.get("areas", "cnes-operator") if a["partner"] == "cnes"]
    # its own partner's area is offered first
    expect(page.locator("#run-area option").first).to_have_attribute("value", str(france["id"]))
    picked = world.season[2:4]
    for product_id in picked:
        page.check(f'#archive-table tr[data-product="{product_id}"] input.pick')
    expect(page.locator("#run-picked")).to_contain_text("on 2 ticked optical L2A products")
    before = {r["id"] for r in world.get("analyses", "admin")}
    page.click("#run-submit")
    expect(page.locator("#notice")).to_contain_text("Queued: run")
    (new,) = [r for r in world.get("analyses", "admin") if r["id"] not in before]
    assert (new["pipeline"], new["products"], new["partner"]) == ("ndvi", picked, "cnes")
    assert new["parameters"]["area_id"] == france["id"]
    done = world.settled(new["id"], "cnes-operator")
    assert done["status"] == "done", done["error"]
    # the page reads the runs again while one waits: the badges turn done
    for product_id in picked:
        badge = page.locator(
            f'#archive-table tr[data-product="{product_id}"] .run-badge[data-run="{new["id"]}"]'
        )
        expect(badge).to_have_attribute("data-status", "done", timeout=RUN_TIMEOUT_S * 1000)
    # and the table, read again, lists what it made, derived from the ticked products
    cell = page.locator(f'#archive-table tr[data-product="{done["product_id"]}"] td.analyses')
    links = cell.locator("button.product-link.source")
    expect(links).to_have_count(len(picked))
    assert links.evaluate_all("(all) => all.map((b) => b.dataset.product)") == picked
    clean(page, seen)
