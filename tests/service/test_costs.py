"""Check that the caches of the computing reads never serve a stale answer (issue 14).

Positions, the products list and STAC search keep their answers (and the parsed
orbits) until the store's next write; what a caller sees of the products also
changes when an embargo ends or a product becomes public, with no write: such an
answer must change at that moment. Behaviour only; their costs are measured by
``benchmarks/api_costs.py`` (docs/store.md, "Load").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from tests.support.consortium import Consortium, element_set

from jointsat.orbits.elements import parse_elements
from jointsat.store.tables import Role, Satellite

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
TLE = parse_elements((files("jointsat.data") / "stations.tle").read_text()).elements
ISS, CSS = TLE[0], TLE[1]
ACQUIRED_END = NOW - timedelta(days=1)
EMBARGO_DAYS, PUBLIC_DAYS = 30, 365
MEMBERS_FROM = ACQUIRED_END + timedelta(days=EMBARGO_DAYS)
PUBLIC_FROM = ACQUIRED_END + timedelta(days=PUBLIC_DAYS)


class World(Consortium):
    """ESA (embargo 30 days, public after a year) flies the ISS; CNES sees it after."""

    def __init__(self, url: str, archive: Path) -> None:
        super().__init__(url, now=NOW)
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(
                session,
                "esa",
                0.5,
                agreement={"embargo_days": EMBARGO_DAYS, "public_release_days": PUBLIC_DAYS},
            )
            cnes = self.add_partner(session, "cnes", 0.5)
            self.iss_id = self.add_satellite(session, "ISS", ISS.norad_cat_id, {esa: 1.0}, [ISS]).id
            self.add_user(session, "esa-operator", Role.OPERATOR, esa)
            self.add_user(session, "cnes-viewer", Role.VIEWER, cnes)
        self.client = self.serve(archive_root=archive)

    def ingest(self, name: str) -> str:
        document = {
            "satellite": ISS.norad_cat_id,
            "instrument": "CCD",
            "processing_level": "L1",
            "acquired_start": (ACQUIRED_END - timedelta(minutes=5)).isoformat(),
            "acquired_end": ACQUIRED_END.isoformat(),
        }
        made = self.client.post(
            "/api/v1/products",
            data={"metadata": json.dumps(document)},
            files=[("file", (name, name.encode(), "application/fits"))],
            headers=self.headers("esa-operator"),
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def get(self, path: str, who: str | None) -> Any:
        answer = self.client.get(path, headers={} if who is None else self.headers(who))
        assert answer.status_code == 200, answer.text
        return answer.json()

    def listed(self, who: str | None) -> set[str]:
        return {p["id"] for p in self.get("/api/v1/products", who)}

    def searched(self, who: str | None) -> set[str]:
        got = {f["id"] for f in self.get("/stac/search", who)["features"]}
        posted = self.client.post(
            "/stac/search", json={}, headers={} if who is None else self.headers(who)
        )
        assert posted.status_code == 200, posted.text
        assert {f["id"] for f in posted.json()["features"]} == got
        return got


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    made = World(store_url, tmp_path / "archive")
    yield made
    made.close()


def test_a_new_product_appears_at_once_in_the_list_and_the_search(world: World) -> None:
    first = world.ingest("a.fits")
    for _ in range(2):  # the second answer comes from the cache
        assert world.listed("esa-operator") == world.searched("esa-operator") == {first}
    second = world.ingest("b.fits")
    assert world.listed("esa-operator") == world.searched("esa-operator") == {first, second}


def test_an_embargo_ending_shows_the_product_with_no_write(world: World) -> None:
    product = world.ingest("a.fits")
    for _ in range(2):
        assert world.listed("cnes-viewer") == world.searched("cnes-viewer") == set()
        assert world.listed(None) == world.searched(None) == set()
    world.now = MEMBERS_FROM - timedelta(seconds=1)
    assert world.listed("cnes-viewer") == world.searched("cnes-viewer") == set()
    world.now = MEMBERS_FROM
    assert world.listed("cnes-viewer") == world.searched("cnes-viewer") == {product}
    assert world.listed(None) == world.searched(None) == set()
    world.now = PUBLIC_FROM
    assert world.listed(None) == world.searched(None) == {product}
    assert world.listed("esa-operator") == {product}


def positions(world: World, query: str = "?at=2024-05-10T12:00:00Z") -> dict[int, Any]:
    answer = world.get(f"/api/v1/satellites/positions{query}", "cnes-viewer")
    return {p["satellite_id"]: p for p in answer}


def test_positions_follow_new_element_sets_and_satellites(world: World) -> None:
    before = positions(world)
    assert positions(world) == before  # the cached answer is the same
    assert list(before) == [world.iss_id]
    moved = dataclasses.replace(
        ISS, epoch_jd=ISS.epoch_jd + 1.0, mean_anomaly_deg=(ISS.mean_anomaly_deg + 90.0) % 360
    )
    with world.session() as session:
        satellite = session.get(Satellite, world.iss_id)
        assert satellite is not None
        satellite.element_sets.append(element_set(moved, now=NOW))
    after = positions(world)
    assert after[world.iss_id]["lat_deg"] != before[world.iss_id]["lat_deg"]
    with world.session() as session:
        css = world.add_satellite(session, "CSS", CSS.norad_cat_id, {1: 1.0}, [CSS])
        css_id = css.id
    assert set(positions(world)) == {world.iss_id, css_id}
    assert set(positions(world, "")) == {world.iss_id, css_id}  # now, uncached


def test_positions_at_other_moments_are_other_answers(world: World) -> None:
    noon = positions(world)[world.iss_id]
    later = positions(world, "?at=2024-05-10T12:01:00Z")[world.iss_id]
    assert later["lat_deg"] != noon["lat_deg"]
    world.now = datetime(2024, 5, 10, 12, 1, tzinfo=UTC)
    assert positions(world, "")[world.iss_id] == later
    assert (
        positions(world, "?at=2024-05-10T12:00:00Z&min_elevation_deg=10")[world.iss_id][
            "footprint_radius_km"
        ]
        < noon["footprint_radius_km"]
    )
