"""Check the design endpoints: areas per partner, studies run in the background, their rights.

Two partners (ESA, DLR), each with an operator and a viewer. ESA has a private area
and a consortium one, DLR a private one. A study is seen only by who sees every area
it used; the per-point table is compared with the engine run directly on the same
areas, and its CSV and Parquet with its JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from tests.service.design_world import SMALL, START, box, finish
from tests.support.consortium import Consortium

from jointsat.design.areas import read_geojson
from jointsat.design.constellations import parse_constellation
from jointsat.design.merit import FIGURES
from jointsat.design.study import CoverageStudy, run_coverage
from jointsat.store import design as store_design
from jointsat.store.tables import Role

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
ESA_PRIVATE = box("esa-secret-coast", 0.0, 40.0, 6.0, 46.0)
ESA_OPEN = box("alps", 6.0, 44.0, 12.0, 48.0)
DLR_PRIVATE = box("north-sea", 4.0, 52.0, 10.0, 56.0)


class World(Consortium):
    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(session, "esa", 0.6, agreement={})
            dlr = self.add_partner(session, "dlr", 0.4, agreement={})
            for partner in (esa, dlr):
                for role in (Role.OPERATOR, Role.VIEWER):
                    self.add_user(session, f"{partner.code}-{role.value}", role, partner)
            self.partner = {"esa": esa.id, "dlr": dlr.id}
        self.client = self.serve()
        self.area = {
            "esa-private": self.add_area("esa", ESA_PRIVATE, "private"),
            "esa-open": self.add_area("esa", ESA_OPEN, "consortium"),
            "dlr-private": self.add_area("dlr", DLR_PRIVATE, "private"),
        }

    def add_area(self, code: str, feature: dict[str, Any], visibility: str) -> int:
        answer = self.client.post(
            f"/api/v1/partners/{self.partner[code]}/areas",
            params={"visibility": visibility},
            json=feature,
            headers=self.headers(f"{code}-operator"),
        )
        assert answer.status_code == 201, answer.text
        return int(answer.json()[0]["id"])

    def study(self, who: str, areas: list[str], **more: Any) -> int:
        body = {"name": f"study of {who}", **SMALL, "area_ids": [self.area[a] for a in areas]}
        answer = self.client.post(
            "/api/v1/design/studies", json={**body, **more}, headers=self.headers(who)
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "queued"
        assert answer.headers["Location"] == f"/api/v1/design/studies/{answer.json()['id']}"
        return int(answer.json()["id"])

    def get(self, path: str, who: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers(who))


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    made = World(store_url)
    yield made
    made.close()


def names(answer: Any) -> set[str]:
    return {row["name"] for row in answer.json()}


def test_an_area_is_seen_by_its_partner_the_admin_and_if_consortium_every_member(
    world: World,
) -> None:
    everything = {"esa-secret-coast", "alps", "north-sea"}
    seen = {
        "admin": everything,
        "esa-operator": {"esa-secret-coast", "alps"},
        "esa-viewer": {"esa-secret-coast", "alps"},
        "dlr-operator": {"alps", "north-sea"},
        "dlr-viewer": {"alps", "north-sea"},
    }
    for who, wanted in seen.items():
        assert names(world.get("/api/v1/areas", who)) == wanted, who
        for key, area_id in world.area.items():
            read = world.get(f"/api/v1/areas/{area_id}", who)
            feature = ESA_PRIVATE if key == "esa-private" else None
            if read.json().get("properties", {}).get("name") in wanted:
                assert read.status_code == 200
            else:
                assert read.status_code == 404, (who, key)
                assert read.json()["detail"] == f"no area with id {area_id}"
            del feature
    # The Feature comes back as sent, with its partner and visibility.
    feature = world.get(f"/api/v1/areas/{world.area['esa-private']}", "esa-viewer").json()
    assert feature["geometry"] == ESA_PRIVATE["geometry"]
    assert feature["properties"]["partner"] == "esa"
    assert feature["properties"]["visibility"] == "private"
    assert (
        world.get("/api/v1/areas", "admin", partner_id=world.partner["dlr"]).json()[0]["name"]
        == "north-sea"
    )


def test_only_the_partners_operators_and_the_admin_add_and_delete_its_areas(
    world: World,
) -> None:
    esa = world.partner["esa"]
    post = world.client.post
    add = box("extra", 1.0, 1.0, 2.0, 2.0)
    assert (
        post(
            f"/api/v1/partners/{esa}/areas", json=add, headers=world.headers("dlr-operator")
        ).status_code
        == 403
    )
    assert (
        post(
            f"/api/v1/partners/{esa}/areas", json=add, headers=world.headers("esa-viewer")
        ).status_code
        == 403
    )
    made = post(
        f"/api/v1/partners/{esa}/areas",
        json=add,
        params={"visibility": "consortium"},
        headers=world.headers("admin"),
    )
    assert made.status_code == 201
    # A FeatureCollection is all or nothing: a name taken is a 409 and nothing is stored.
    clash = {"type": "FeatureCollection", "features": [box("fresh", 0, 0, 1, 1), ESA_OPEN]}
    refused = post(
        f"/api/v1/partners/{esa}/areas", json=clash, headers=world.headers("esa-operator")
    )
    assert refused.status_code == 409
    assert "fresh" not in names(world.get("/api/v1/areas", "admin"))
    # Another partner may use the same name (names are unique per partner).
    same = post(
        f"/api/v1/partners/{world.partner['dlr']}/areas",
        json=ESA_OPEN,
        headers=world.headers("dlr-operator"),
    )
    assert same.status_code == 201
    # A malformed geometry is a 422 naming the place.
    bad = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
    }
    refused = post(f"/api/v1/partners/{esa}/areas", json=bad, headers=world.headers("esa-operator"))
    assert refused.status_code == 422
    assert "coordinates" in refused.json()["detail"]
    delete = world.client.delete
    extra = next(
        a["id"] for a in world.get("/api/v1/areas", "admin").json() if a["name"] == "extra"
    )
    assert delete(f"/api/v1/areas/{extra}", headers=world.headers("esa-viewer")).status_code == 403
    assert (
        delete(f"/api/v1/areas/{extra}", headers=world.headers("dlr-operator")).status_code == 403
    )
    hidden = world.area["esa-private"]
    assert (
        delete(f"/api/v1/areas/{hidden}", headers=world.headers("dlr-operator")).status_code == 404
    )
    assert (
        delete(f"/api/v1/areas/{extra}", headers=world.headers("esa-operator")).status_code == 204
    )
    assert world.get(f"/api/v1/areas/{extra}", "admin").status_code == 404


def test_a_study_is_seen_only_by_who_sees_every_area_it_used(world: World) -> None:
    mixed = world.study("esa-operator", ["esa-private", "esa-open"])
    shared = world.study("dlr-operator", ["esa-open", "dlr-private"])
    open_only = world.study("admin", ["esa-open"])
    finish(world.client)
    seen = {
        "admin": {mixed, shared, open_only},
        "esa-operator": {mixed, open_only},
        "esa-viewer": {mixed, open_only},
        "dlr-operator": {shared, open_only},
        "dlr-viewer": {shared, open_only},
    }
    for who, wanted in seen.items():
        listed = world.get("/api/v1/design/studies", who).json()
        assert {s["id"] for s in listed} == wanted, who
        for study_id in (mixed, shared, open_only):
            for path in ("", "/points", "/points?format=csv"):
                answer = world.client.get(
                    f"/api/v1/design/studies/{study_id}{path}", headers=world.headers(who)
                )
                if study_id in wanted:
                    assert answer.status_code == 200, (who, study_id, path, answer.text)
                else:
                    assert answer.status_code == 404, (who, study_id, path)
                    assert answer.json()["detail"] == f"no design study with id {study_id}"
        # Nothing a caller is answered names an area it may not see.
        texts = [
            world.get(path, who).text
            for path in (
                "/api/v1/areas",
                "/api/v1/design/studies",
                *tuple(f"/api/v1/design/studies/{i}" for i in wanted),
                *tuple(f"/api/v1/design/studies/{i}/points" for i in wanted),
            )
        ]
        visible_areas = names(world.get("/api/v1/areas", who))
        for hidden in {"esa-secret-coast", "north-sea"} - visible_areas:
            assert not any(hidden in text for text in texts), (who, hidden)
    # A visible study comes with its provenance and its summary per area and partner.
    read = world.get(f"/api/v1/design/studies/{shared}", "dlr-viewer").json()
    assert read["status"] == "done"
    assert read["error"] is None
    assert read["provenance"]["jointsat"]
    assert read["provenance"]["elements"]
    assert read["summary"]["grid"]["kind"] == "H3"
    assert {a["name"] for a in read["summary"]["areas"]} == {"alps", "north-sea"}
    assert {p["partner"] for p in read["summary"]["partners"]} == {"esa", "dlr"}
    assert [a["id"] for a in read["areas"]] == [world.area["esa-open"], world.area["dlr-private"]]


def _engine_table(features: list[dict[str, Any]], partners: list[str]) -> dict[str, np.ndarray]:
    """Run the engine directly on the same areas and inputs as ``SMALL``."""
    start = datetime(2024, 5, 10, tzinfo=UTC)
    areas = tuple(
        read_geojson(json.dumps({**f, "properties": {**f["properties"], "partner": p}}))[0]
        for f, p in zip(features, partners, strict=True)
    )
    study = CoverageStudy(
        (parse_constellation(SMALL["constellations"][0], epoch=start),),
        areas,
        start,
        start + timedelta(days=0.25),
        grid_deg=2.0,
    )
    return run_coverage(study).table()


def test_the_per_point_table_is_the_engines_in_every_format(world: World) -> None:
    study_id = world.study("dlr-operator", ["esa-open", "dlr-private"])
    finish(world.client)
    path = f"/api/v1/design/studies/{study_id}/points"
    table = world.get(path, "dlr-viewer").json()
    columns = table["columns"]
    assert list(columns) == ["area", "partner", "cell", "lat_deg", "lon_deg", "area_km2", *FIGURES]
    engine = _engine_table([ESA_OPEN, DLR_PRIVATE], ["esa", "dlr"])
    assert table["points"] == len(engine["cell"]) > 0
    assert (
        world.get(f"/api/v1/design/studies/{study_id}", "dlr-viewer").json()["points"]
        == table["points"]
    )
    for name, values in engine.items():
        got = [math.nan if v is None else v for v in columns[name]]
        if values.dtype == object:
            assert got == values.tolist(), name
        else:
            np.testing.assert_allclose(
                np.asarray(got, dtype=float), values.astype(float), rtol=0, atol=0, err_msg=name
            )
    # CSV: the same rows (figures with fixed decimals; an undefined one empty).
    answer = world.get(path, "dlr-viewer", format="csv")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["cell"] for r in rows] == columns["cell"]
    for row, lat, gap in zip(rows, columns["lat_deg"], columns["max_gap_s"], strict=True):
        assert abs(float(row["lat_deg"]) - lat) <= 5e-7  # 6 decimals
        assert (row["max_gap_s"] == "") == (gap is None)
        if gap is not None:
            assert abs(float(row["max_gap_s"]) - gap) <= 5e-4  # 3 decimals
    # Parquet: the same columns and values, nulls where JSON has them.
    answer = world.get(path, "dlr-viewer", format="parquet")
    parquet = pq.read_table(io.BytesIO(answer.content)).to_pydict()
    assert parquet == columns
    # One partner's points only.
    dlr = world.get(path, "dlr-viewer", partner="dlr").json()["columns"]
    assert set(dlr["partner"]) == {"dlr"}
    assert dlr["cell"] == [
        c for c, p in zip(columns["cell"], columns["partner"], strict=True) if p == "dlr"
    ]
    only = pq.read_table(
        io.BytesIO(world.get(path, "dlr-viewer", format="parquet", partner="dlr").content)
    )
    assert only.to_pydict() == dlr


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"constellations": ["walker:24/5/1:550:53"]}, "walker"),  # 5 planes do not divide 24
        ({"constellations": ["molniya:1"]}, "is not one of"),
        ({"constellations": []}, "at least one constellation"),
        ({"days": 32}, "31"),
        ({"days": None, "end": START}, "end must be after start"),
        ({"end": "2024-05-11T00:00:00Z"}, "either end or days"),
        ({"days": None}, "either end or days"),
        ({"grid_deg": 0.4}, "0.5"),
        ({"min_elevation_deg": 95}, "minimum elevation"),
        ({"constellations": ["walker:200/10/1:550:53"]}, "at most 100 satellites"),
        ({"area_ids": [999]}, "no area with id 999"),
        ({"area_ids": "hidden"}, "no area with id"),
        ({"area_ids": []}, "area_ids"),
        ({"grid_deg": 20}, "holds no grid point"),  # the alps between 781 km cells
        (
            {"area_ids": "globe", "constellations": ["walker:24/6/1:550:53"], "days": 10},
            "too large for the service: 288,122 grid points x 24 satellites x 10 days",
        ),
    ],
)
def test_inputs_are_checked_before_anything_is_stored(
    world: World, change: dict[str, Any], detail: str
) -> None:
    if change.get("area_ids") == "hidden":  # DLR's private area, to ESA: as if absent
        change = {"area_ids": [world.area["dlr-private"]]}
    if change.get("area_ids") == "globe":
        everywhere = box("everywhere", -180.0, -90.0, 180.0, 90.0)
        change = {
            **change,
            "area_ids": [world.add_area("esa", everywhere, "private")],
            "grid_deg": 0.5,
        }
    body = {"name": "bad", **SMALL, "area_ids": [world.area["esa-open"]], **change}
    answer = world.client.post(
        "/api/v1/design/studies", json=body, headers=world.headers("esa-operator")
    )
    assert answer.status_code == 422, answer.text
    assert detail in answer.json()["detail"]
    assert world.get("/api/v1/design/studies", "admin").json() == []


def test_viewers_read_studies_but_do_not_run_them(world: World) -> None:
    body = {"name": "viewer's", **SMALL, "area_ids": [world.area["esa-open"]]}
    answer = world.client.post(
        "/api/v1/design/studies", json=body, headers=world.headers("esa-viewer")
    )
    assert answer.status_code == 403
    assert world.get("/api/v1/design/studies", "admin").json() == []


def test_a_failed_study_keeps_its_reason(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(store_design, "run_coverage", failing)
    study_id = world.study("esa-operator", ["esa-open"])
    finish(world.client)
    read = world.get(f"/api/v1/design/studies/{study_id}", "esa-viewer").json()
    assert read["status"] == "failed"
    assert read["error"] == "RuntimeError: the engine broke"
    assert read["inputs"]["area_ids"] == [world.area["esa-open"]]  # kept: it can be run again
    assert read["summary"] is None
    points = world.get(f"/api/v1/design/studies/{study_id}/points", "esa-viewer")
    assert points.status_code == 409
    assert "failed" in points.json()["detail"]


def test_an_area_a_study_used_stays_until_the_study_is_deleted(world: World) -> None:
    study_id = world.study("esa-operator", ["esa-private"])
    finish(world.client)
    area = world.area["esa-private"]
    delete = world.client.delete
    refused = delete(f"/api/v1/areas/{area}", headers=world.headers("esa-operator"))
    assert refused.status_code == 409
    assert (
        delete(
            f"/api/v1/design/studies/{study_id}", headers=world.headers("esa-viewer")
        ).status_code
        == 403
    )
    assert (
        delete(
            f"/api/v1/design/studies/{study_id}", headers=world.headers("dlr-operator")
        ).status_code
        == 404
    )
    assert (
        delete(
            f"/api/v1/design/studies/{study_id}", headers=world.headers("esa-operator")
        ).status_code
        == 204
    )
    assert delete(f"/api/v1/areas/{area}", headers=world.headers("esa-operator")).status_code == 204


def test_a_sweep_stores_each_design_and_the_pareto_front(world: World) -> None:
    sweep = {
        "kind": "walker-delta",
        "totals": [1, 2, 4],
        "planes": [1, 2],
        "phasings": [0],
        "altitudes_km": [550],
        "inclinations_deg": [53],
        "figure": "coverage_fraction",
        "statistic": "mean",
    }
    body = {**SMALL, "constellations": []}
    answer = world.client.post(
        "/api/v1/design/studies",
        json={**body, "name": "sweep", "area_ids": [world.area["esa-open"]], "sweep": sweep},
        headers=world.headers("esa-operator"),
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["kind"] == "sweep"
    finish(world.client)
    read = world.get(f"/api/v1/design/studies/{answer.json()['id']}", "dlr-viewer").json()
    assert read["status"] == "done", read["error"]
    designs = read["summary"]["designs"]
    # T/P/F with P dividing T: 1/1/0, 2/1/0, 2/2/0, 4/1/0, 4/2/0.
    assert [d["design"] for d in designs] == [
        "walker:1/1/0:550:53",
        "walker:2/1/0:550:53",
        "walker:2/2/0:550:53",
        "walker:4/1/0:550:53",
        "walker:4/2/0:550:53",
    ]
    # The front: no design off it is beaten by none on it (fewer satellites, more coverage).
    front = [d for d in designs if d["pareto"]]
    assert front
    assert [designs.index(d) for d in front] == read["summary"]["pareto"]
    for d in designs:
        beaten = any(
            f["satellites"] <= d["satellites"]
            and f["objective"] >= d["objective"]
            and (f["satellites"], f["objective"]) != (d["satellites"], d["objective"])
            for f in designs
        )
        assert d["pareto"] == (not beaten), d
    assert (
        world.get(f"/api/v1/design/studies/{answer.json()['id']}/points", "admin").status_code
        == 409
    )
