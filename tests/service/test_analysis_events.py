"""An analysis run's end is told to the partner that asked for it, and only to it.

The world is the analyses' (tests/service/test_analyses_api.py): CNES owns a VENUS
scene with no embargo; DLR is a member with no satellite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.service.test_analyses_api import FIELD, World


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    made = World(store_url, tmp_path / "archive", tmp_path / "products")
    yield made
    made.close()


def _told(world: World, who: str) -> list[dict[str, Any]]:
    answer = world.get(who, "/api/v1/events", kind="analysis.finished")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def test_a_finished_and_a_failed_run_are_told_to_their_partner_alone(world: World) -> None:
    source = world.optical_product(6)
    archived = world.get("cnes-viewer", "/api/v1/events", kind="product.archived").json()
    assert [e["product_id"] for e in archived] == [source["id"]]
    body = {"pipeline": "ndvi", "products": [source["id"]], "parameters": {"aoi": FIELD}}
    asked = world.client.post("/api/v1/analyses", json=body, headers=world.headers("cnes-operator"))
    assert asked.status_code == 202, asked.text
    run_id = asked.json()[0]["id"]
    world.finish()
    run = world.get("cnes-operator", f"/api/v1/analyses/{run_id}").json()
    assert run["status"] == "done"
    [done] = _told(world, "cnes-viewer")
    assert done["partner_id"] == world.ids["cnes"]
    assert done["payload"]["run_id"] == run_id
    assert (done["payload"]["status"], done["product_id"]) == ("done", run["product_id"])
    assert _told(world, "dlr-operator") == []  # another partner's run
    assert _told(world, "esa-operator") == []
    # a run whose source is unreadable fails, and that is told too (its error with it)
    blob = next(world.archive.glob(f"sha256/*/{source['files'][0]['sha256']}"))
    blob.rename(blob.with_suffix(".away"))
    again = world.client.post("/api/v1/analyses", json=body, headers=world.headers("cnes-operator"))
    assert again.status_code == 202, again.text
    world.finish()
    blob.with_suffix(".away").rename(blob)
    told = _told(world, "cnes-operator")
    assert [e["payload"]["status"] for e in told] == ["done", "failed"]
    assert told[1]["payload"]["run_id"] == again.json()[0]["id"]
    assert told[1]["payload"]["error"]
    assert str(world.archive) not in told[1]["payload"]["error"]  # no server path told
    assert told[1]["product_id"] is None
    assert _told(world, "dlr-operator") == []
