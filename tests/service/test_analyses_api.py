"""Analysis runs through the API: on ingest and by request, under the derived-product rule.

The expected answers are written from the issue's rules, not from the service's code:
a derived product is seen only by a caller who sees every source, its embargo and
public release are the latest of its sources'; a run is seen by who sees every product
it reads; a failed run loses nothing and can be retried. The science is checked
against authorities elsewhere (tests/analysis); here Kepler-6's published period
(3.2347 d) and the seeded season's NDVI only show that the right product was read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.support.consortium import Consortium
from tests.support.data import shared

from jointsat.analysis.registry import KIND_PROPERTY
from jointsat.analysis.venus_like import build_date, load_demo_tile, seeded_season
from jointsat.demo_analysis import field_of_the_window
from jointsat.store.tables import Role

ACQUIRED = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
NOW = ACQUIRED + timedelta(hours=1)
EMBARGO_DAYS = 30
CHEOPS, VENUS = 44874, 42901
KEPLER6_PERIOD_D = 3.2347  # Dunham et al. 2010
FIELD = field_of_the_window()


class World(Consortium):
    """ESA (embargo 30 days, public after a year) operates CHEOPS and VENUS with CNES
    (no embargo, never public); DLR is a member with no satellite. ESA's agreement runs
    the transit search on its products at ingest."""

    def __init__(self, url: str, archive: Path, products: Path) -> None:
        super().__init__(url, now=NOW)
        self.clock = NOW
        with self.session() as session:
            self.add_admin(session)
            partners = {}
            for code, embargo, public in (
                ("esa", EMBARGO_DAYS, 365),
                ("cnes", 0, None),
                ("dlr", 0, None),
            ):
                terms = {"embargo_days": embargo, "public_release_days": public}
                partners[code] = self.add_partner(session, code, 0.3, agreement=terms)
                for role in (Role.OPERATOR, Role.VIEWER):
                    self.add_user(session, f"{code}-{role.value}", role, partners[code])
            partners["esa"].agreement.analyses = ["transits"]
            self.add_satellite(session, "cheops", CHEOPS, {partners["esa"]: 1.0})
            self.add_satellite(
                session, "venus", VENUS, {partners["cnes"]: 0.5, partners["esa"]: 0.5}
            )
            self.ids = {code: p.id for code, p in partners.items()}
        self.archive = archive
        self.client = self.serve(archive_root=archive, clock=lambda: self.clock)
        season = seeded_season(load_demo_tile(), 8, seed=3, cloudy_fraction=0.25)
        self.optical = [build_date(products, d) for d in season]

    def ingest(self, who: str, path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
        document = {
            "instrument": "test",
            "processing_level": "L1",
            "acquired_start": ACQUIRED.isoformat(),
            "acquired_end": (ACQUIRED + timedelta(minutes=10)).isoformat(),
            **metadata,
        }
        answer = self.client.post(
            "/api/v1/products",
            data={"metadata": json.dumps(document)},
            files=[("file", (path.name, path.read_bytes(), "application/octet-stream"))],
            headers=self.headers(who),
        )
        assert answer.status_code in (200, 201), answer.text
        product: dict[str, Any] = answer.json()
        return product

    def light_curve(self, who: str = "esa-operator", **metadata: Any) -> dict[str, Any]:
        fields = {
            "satellite": CHEOPS,
            "sky": {"ra_deg": 286.9709, "dec_deg": 48.0876},
            "properties": {KIND_PROPERTY: "light-curve"},
            **metadata,
        }
        return self.ingest(who, shared("lightcurves/kplr010874614-2009131105131_llc.fits"), fields)

    def optical_product(self, index: int, who: str = "cnes-operator", **metadata: Any) -> Any:
        fields = {
            "satellite": VENUS,
            "owners": ["cnes"],
            "footprint": FIELD,
            "properties": {KIND_PROPERTY: "optical-l2a"},
            **metadata,
        }
        return self.ingest(who, self.optical[index], fields)

    def finish(self) -> None:
        runner = self.client.app.state.analysis_runner  # type: ignore[attr-defined]
        assert runner.wait_idle(300.0)

    def get(self, who: str | None, path: str, **params: Any) -> Any:
        headers = {} if who is None else self.headers(who)
        return self.client.get(path, headers=headers, params=params)


@pytest.fixture(scope="module")
def world(module_stores: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("analyses")
    made = World(module_stores(), folder / "archive", folder / "products")
    yield made
    made.close()


def test_an_agreement_runs_the_transit_search_at_ingest_under_the_sources_terms(
    world: World,
) -> None:
    source = world.light_curve()
    world.finish()
    runs = world.get("esa-operator", "/api/v1/analyses", product=source["id"]).json()
    assert len(runs) == 1
    run = runs[0]
    assert (run["pipeline"], run["trigger"], run["status"]) == ("transits", "ingest", "done")
    assert run["products"] == [source["id"]]
    best = run["summary"]["curves"][0]["candidates"][0]
    assert abs(best["period_d"] - KEPLER6_PERIOD_D) / KEPLER6_PERIOD_D < 0.01
    derived = world.get("esa-operator", f"/api/v1/products/{run['product_id']}").json()
    assert derived["derived_from"] == [source["id"]]
    assert derived["owners"] == ["esa"]
    assert derived["properties"][KIND_PROPERTY] == "transit-search"
    assert (derived["members_from"], derived["public_from"]) == (
        source["members_from"],
        source["public_from"],
    )
    assert derived["sky"] == source["sky"]
    provenance = derived["properties"]["jointsat:provenance"]
    assert provenance["pipeline"] == "transits"
    assert provenance["sources"][0]["files"][0]["sha256"] == source["files"][0]["sha256"]
    assert "transitleastsquares" in provenance["libraries"]
    names = sorted(f["name"] for f in derived["files"])
    assert names[-1] == "transits.json"
    assert any(n.endswith(".png") for n in names)
    # another member, under ESA's embargo, sees neither the run nor its product
    assert world.get("dlr-operator", "/api/v1/analyses").json() == []
    assert world.get("dlr-operator", f"/api/v1/analyses/{run['id']}").status_code == 404
    assert world.get("dlr-operator", f"/api/v1/products/{run['product_id']}").status_code == 404
    asked = world.client.post(
        "/api/v1/analyses",
        json={"pipeline": "transits", "products": [source["id"]]},
        headers=world.headers("dlr-operator"),
    )
    assert asked.status_code == 422
    assert "no product" in asked.text
    # the STAC item links the derived product to its source
    item = world.get("esa-operator", "/stac/search", ids=run["product_id"]).json()
    (links,) = [
        [link["href"] for link in feature["links"] if link["rel"] == "derived_from"]
        for feature in item["features"]
    ]
    assert links[0].endswith(f"/items/{source['id']}")


def test_an_ndvi_series_over_several_products_is_one_derived_product(world: World) -> None:
    sources = [world.optical_product(i) for i in range(4)]
    asked = world.client.post(
        "/api/v1/analyses",
        json={
            "pipeline": "ndvi",
            "products": [s["id"] for s in sources],
            "parameters": {"aoi": FIELD, "smoother": "savgol"},
        },
        headers=world.headers("cnes-operator"),
    )
    assert asked.status_code == 202, asked.text
    (queued,) = asked.json()
    assert (queued["status"], queued["trigger"], queued["partner"]) == ("queued", "request", "cnes")
    world.finish()
    run = world.get("cnes-operator", f"/api/v1/analyses/{queued['id']}").json()
    assert run["status"] == "done", run["error"]
    dates = run["summary"]["dates"]
    assert len(dates) == 4
    assert [d["date"][:10] for d in dates] == sorted(d["date"][:10] for d in dates)
    derived = world.get("cnes-operator", f"/api/v1/products/{run['product_id']}").json()
    assert derived["derived_from"] == [s["id"] for s in sources]
    assert derived["footprint"] == FIELD  # the area as given (not as densified to read it)
    tiffs = [f for f in derived["files"] if f["name"].endswith(".tif")]
    assert len(tiffs) == 4
    (table,) = [f for f in derived["files"] if f["name"] == "ndvi.csv"]
    body = world.client.get(table["href"], headers=world.headers("cnes-operator")).text
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["valid_fraction"] for r in rows] == [f"{d['valid_fraction']:.6g}" for d in dates]
    # CNES has no embargo and never releases: every member sees it at once, never the public
    assert world.get("dlr-viewer", f"/api/v1/products/{run['product_id']}").status_code == 200
    assert world.get(None, f"/api/v1/products/{run['product_id']}").status_code == 404


def test_a_product_derived_from_two_owners_opens_at_the_latest_release(world: World) -> None:
    mine = world.optical_product(4)
    theirs = world.optical_product(5, who="admin", owners=["esa"])
    # CNES does not see ESA's product under embargo, so it cannot ask for a run over it
    refused = world.client.post(
        "/api/v1/analyses",
        json={
            "pipeline": "ndvi",
            "products": [mine["id"], theirs["id"]],
            "parameters": {"aoi": FIELD},
        },
        headers=world.headers("cnes-operator"),
    )
    assert refused.status_code == 422
    assert f"no product {theirs['id']}" in refused.text
    asked = world.client.post(
        "/api/v1/analyses",
        json={
            "pipeline": "ndvi",
            "products": [mine["id"], theirs["id"]],
            "parameters": {"aoi": FIELD},
        },
        headers=world.headers("admin"),
    )
    assert asked.status_code == 202, asked.text
    run_id = asked.json()[0]["id"]
    world.finish()
    made = world.get("admin", f"/api/v1/analyses/{run_id}").json()
    assert made["status"] == "done", made["error"]
    derived = world.get("admin", f"/api/v1/products/{made['product_id']}").json()
    assert derived["owners"] == []  # nobody owns both sources
    assert derived["members_from"] == theirs["members_from"]  # ESA's embargo, the latest
    assert derived["public_from"] is None  # CNES never releases
    # CNES does not see ESA's source yet: neither the run nor the product
    assert world.get("cnes-operator", f"/api/v1/analyses/{run_id}").status_code == 404
    assert world.get("cnes-operator", f"/api/v1/products/{made['product_id']}").status_code == 404
    # ESA sees both sources (CNES's at once), but not yet what was derived from CNES's too
    seen = world.get("esa-operator", f"/api/v1/analyses/{run_id}").json()
    assert (seen["product_id"], seen["summary"]) == (None, None)
    # nor does naming the hidden product find the run that made it
    assert world.get("esa-operator", "/api/v1/analyses", product=made["product_id"]).json() == []
    assert len(world.get("admin", "/api/v1/analyses", product=made["product_id"]).json()) == 1
    assert world.get("esa-operator", f"/api/v1/products/{made['product_id']}").status_code == 404
    world.clock = NOW + timedelta(days=EMBARGO_DAYS + 1)
    try:
        for who in ("esa-operator", "cnes-operator", "dlr-viewer"):
            shown = world.get(who, f"/api/v1/analyses/{run_id}").json()
            assert shown["product_id"] == made["product_id"], who
            answer = world.get(who, f"/api/v1/products/{made['product_id']}")
            assert answer.json()["visible_as"] == "member", who
        assert world.get(None, f"/api/v1/products/{made['product_id']}").status_code == 404
    finally:
        world.clock = NOW


def test_a_failed_run_loses_nothing_and_is_retried(world: World) -> None:
    source = world.optical_product(6)
    blob = next(world.archive.glob(f"sha256/*/{source['files'][0]['sha256']}"))
    kept = blob.read_bytes()
    blob.rename(blob.with_suffix(".away"))
    asked = world.client.post(
        "/api/v1/analyses",
        json={"pipeline": "ndvi", "products": [source["id"]], "parameters": {"aoi": FIELD}},
        headers=world.headers("cnes-operator"),
    )
    run_id = asked.json()[0]["id"]
    world.finish()
    failed = world.get("cnes-operator", f"/api/v1/analyses/{run_id}").json()
    assert failed["status"] == "failed"
    assert failed["error"]
    assert str(world.archive) not in failed["error"]  # no server path is told
    assert failed["attempts"] == 1
    assert world.get("cnes-operator", f"/api/v1/products/{source['id']}").status_code == 200
    retry = f"/api/v1/analyses/{run_id}/retry"
    assert world.client.post(retry, headers=world.headers("dlr-operator")).status_code == 403
    assert world.client.post(retry, headers=world.headers("cnes-viewer")).status_code == 403
    blob.with_suffix(".away").rename(blob)
    assert blob.read_bytes() == kept
    again = world.client.post(retry, headers=world.headers("cnes-operator"))
    assert again.status_code == 202
    world.finish()
    done = world.get("cnes-operator", f"/api/v1/analyses/{run_id}").json()
    assert (done["status"], done["attempts"], done["error"]) == ("done", 2, None)
    assert world.client.post(retry, headers=world.headers("cnes-operator")).status_code == 409


@pytest.mark.parametrize(
    ("who", "body", "status", "says"),
    [
        ("cnes-viewer", {"pipeline": "ndvi", "products": ["x"]}, 403, "viewers"),
        ("cnes-operator", {"pipeline": "nope", "products": ["x"]}, 422, "no analysis pipeline"),
        ("cnes-operator", {"pipeline": "ndvi", "products": ["x"], "parameters": {"aoi": FIELD}},
         422, "no product"),
        ("cnes-operator", {"pipeline": "ndvi", "products": []}, 422, ""),
        ("cnes-operator", {"pipeline": "transits", "products": ["x"], "parameters": {"depth": 1}},
         422, "takes no parameter depth"),
        ("cnes-operator", {"pipeline": "ndvi", "products": ["x"]}, 422, "needs an area"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_before_anything_is_stored(
    world: World, who: str, body: dict[str, Any], status: int, says: str
) -> None:
    before = len(world.get("admin", "/api/v1/analyses").json())
    answer = world.client.post("/api/v1/analyses", json=body, headers=world.headers(who))
    assert answer.status_code == status, answer.text
    assert says in answer.text
    assert len(world.get("admin", "/api/v1/analyses").json()) == before


def test_a_product_of_the_wrong_kind_and_a_hidden_area_are_refused(world: World) -> None:
    source = world.optical_product(3)
    wrong = world.client.post(
        "/api/v1/analyses",
        json={"pipeline": "transits", "products": [source["id"]]},
        headers=world.headers("cnes-operator"),
    )
    assert wrong.status_code == 422
    assert "reads light-curve products" in wrong.text
    hidden = world.client.post(
        "/api/v1/analyses",
        json={"pipeline": "ndvi", "products": [source["id"]], "parameters": {"area_id": 9999}},
        headers=world.headers("cnes-operator"),
    )
    assert hidden.status_code == 422
    assert "no area 9999" in hidden.text
    pipelines = world.get("dlr-viewer", "/api/v1/analyses/pipelines").json()
    assert {p["name"]: p["reads"] for p in pipelines} == {
        "transits": "light-curve",
        "ndvi": "optical-l2a",
    }


def _area(world: World, name: str, visibility: str) -> int:
    from jointsat.store.tables import AreaRecord, AreaVisibility

    with world.session() as session:
        area = AreaRecord(
            partner_id=world.ids["cnes"],
            name=name,
            visibility=AreaVisibility(visibility),
            feature={"type": "Feature", "properties": {}, "geometry": FIELD},
            created_at=NOW,
        )
        session.add(area)
        session.commit()
        return area.id


def test_a_result_over_a_private_area_is_its_owners_alone(world: World) -> None:
    # ESA's product (public after a year) over CNES's areas, asked for by the admin
    source = world.optical_product(7, who="admin", owners=["esa"])
    made = {}
    for visibility in ("private", "consortium"):
        area_id = _area(world, f"field {visibility}", visibility)
        asked = world.client.post(
            "/api/v1/analyses",
            json={
                "pipeline": "ndvi",
                "products": [source["id"]],
                "parameters": {"area_id": area_id},
            },
            headers=world.headers("admin"),
        )
        assert asked.status_code == 202, asked.text
        made[visibility] = asked.json()[0]["id"]
        # an area a run used cannot go (its result stays under the area's rule)
        gone = world.client.delete(f"/api/v1/areas/{area_id}", headers=world.headers("admin"))
        assert gone.status_code == 409
    world.finish()
    private = world.get("admin", f"/api/v1/analyses/{made['private']}").json()
    shared_run = world.get("admin", f"/api/v1/analyses/{made['consortium']}").json()
    assert private["status"] == shared_run["status"] == "done"
    world.clock = NOW + timedelta(days=EMBARGO_DAYS + 1)  # ESA's embargo over
    try:
        for who in ("dlr-viewer", "esa-operator"):  # neither owns the private area
            assert world.get(who, f"/api/v1/analyses/{made['private']}").status_code == 404
            hidden = world.get(who, f"/api/v1/products/{private['product_id']}")
            assert hidden.status_code == 404
            seen = world.get(who, f"/api/v1/products/{shared_run['product_id']}")
            assert seen.status_code == 200
        assert world.get("dlr-viewer", f"/api/v1/analyses/{made['consortium']}").status_code == 200
    finally:
        world.clock = NOW
    world.clock = NOW + timedelta(days=366)  # ESA's product public: its results over areas not
    try:
        assert world.get(None, f"/api/v1/products/{source['id']}").status_code == 200
        assert world.get(None, f"/api/v1/products/{shared_run['product_id']}").status_code == 404
        assert world.get(None, f"/api/v1/products/{private['product_id']}").status_code == 404
    finally:
        world.clock = NOW


def test_bad_parameter_values_are_refused_before_anything_is_stored(world: World) -> None:
    source = world.optical_product(2)
    curve = world.light_curve()
    world.finish()
    before = len(world.get("admin", "/api/v1/analyses").json())
    for pipeline, parameters, says in (
        ("ndvi", {"area_id": "1"}, "area_id is a stored area's id"),
        ("ndvi", {"area_id": {"a": 1}}, "area_id is a stored area's id"),
        ("ndvi", {"aoi": FIELD, "smoother": "spline"}, "smoother is one of"),
        ("ndvi", {"aoi": FIELD, "min_valid_fraction": 2}, "min_valid_fraction"),
        ("ndvi", {"aoi": {"type": "Point", "coordinates": [0, 0]}}, "aoi"),
    ):
        answer = world.client.post(
            "/api/v1/analyses",
            json={"pipeline": pipeline, "products": [source["id"]], "parameters": parameters},
            headers=world.headers("cnes-operator"),
        )
        assert answer.status_code == 422, (parameters, answer.text)
        assert says in answer.text or "area" in answer.text, (parameters, answer.text)
    answer = world.client.post(
        "/api/v1/analyses",
        json={"pipeline": "transits", "products": [curve["id"]], "parameters": {"method": "nope"}},
        headers=world.headers("esa-operator"),
    )
    assert answer.status_code == 422
    assert "method is one of" in answer.text
    assert len(world.get("admin", "/api/v1/analyses").json()) == before
