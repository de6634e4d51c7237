"""Check /api/v1/plans: a plan of the pooled satellites, and what each partner sees of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from tests.service.planning_world import PAYLOAD, START, PlanningWorld, earth_request

WINDOW = {
    "start": START.isoformat(),
    "end": (START + timedelta(hours=12)).isoformat(),
    "time_limit_s": 3,
}


@pytest.fixture
def world(store_url: str) -> Iterator[PlanningWorld]:
    w = PlanningWorld(store_url)
    yield w
    w.close()


def _create(world: PlanningWorld, **extra: Any) -> dict[str, Any]:
    made = world.client.post(
        "/api/v1/plans", json={**WINDOW, **extra}, headers=world.headers("admin")
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def _times(o: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"])


def test_the_admin_plans_and_every_figure_adds_up(world: PlanningWorld) -> None:
    plan = _create(world, objective="max-gain")
    assert plan["objective"] == "max-gain"
    assert plan["status"] in {"optimal", "feasible"}
    assert plan["busy"] == []
    assert plan["hidden_observations"] == 0
    observations = plan["observations"]
    assert observations
    start, end = datetime.fromisoformat(WINDOW["start"]), datetime.fromisoformat(WINDOW["end"])
    by_satellite: dict[int, list[tuple[datetime, datetime]]] = {}
    for o in observations:
        begins, ends = _times(o)
        assert start <= begins < ends <= end
        by_satellite.setdefault(o["norad_id"], []).append((begins, ends))
        assert o["target"]["kind"] == "earth"
    for spans in by_satellite.values():  # one observation at a time on each satellite
        for (_, a_end), (b_start, _) in pairwise(sorted(spans)):
            assert b_start >= a_end
    requests = [o["request_id"] for o in observations]
    assert len(requests) == len(set(requests))  # each request served at most once
    for code, figures in plan["partners"].items():
        assert figures["gain"] == sum(o["gain"] for o in observations if o["partner"] == code)
        assert figures["share_entitled"] == pytest.approx(1 / 3)
    assert plan["total_gain"] == sum(o["gain"] for o in observations)
    assert plan["bound"] >= plan["total_gain"]
    assert {k: m["capacity_mbit"] for k, m in plan["memory"].items()} == {
        str(n): PAYLOAD.memory_mbit for n in world.norad.values()
    }
    provenance = plan["provenance"]
    assert provenance["request_ids"] == world.requests
    assert provenance["schedule_id"] is None
    assert provenance["settings"]["time_limit_s"] == 3
    again = world.client.get(f"/api/v1/plans/{plan['id']}", headers=world.headers("admin"))
    assert again.json() == plan
    listed = world.client.get("/api/v1/plans", headers=world.headers("viewer")).json()
    assert [p["id"] for p in listed] == [plan["id"]]
    assert listed[0]["total_gain"] == plan["total_gain"]


def test_a_partner_sees_its_own_in_full_and_others_as_busy_slots(world: PlanningWorld) -> None:
    private = str(world.norad["private"])
    for owner, site in (("consortium", "AUSS"), ("own", "CB1D")):  # the private satellite
        restricted = {**earth_request(site, 9), "satellites": [int(private)]}  # sees both
        made = world.client.post(
            "/api/v1/requests",
            json={**restricted, "partner_id": world.partner[owner]},
            headers=world.headers("admin"),
        )
        assert made.status_code == 201
    everything = _create(world)
    all_obs = everything["observations"]
    seen = world.client.get(f"/api/v1/plans/{everything['id']}", headers=world.headers("viewer"))
    view = seen.json()
    own = [o for o in all_obs if o["partner"] == "own"]
    others = [o for o in all_obs if o["partner"] != "own"]
    assert others, "the test needs other partners' observations"
    assert any(o["norad_id"] == int(private) for o in others), "and some on the private satellite"
    assert any(o["norad_id"] == int(private) for o in own), "and its own there"

    def shown(o: dict[str, Any]) -> dict[str, Any]:  # its own: all but a hidden satellite
        if o["norad_id"] != int(private):
            return o
        return {**o, "satellite_id": None, "satellite": None, "norad_id": None}

    assert view["observations"] == [shown(o) for o in own]
    assert view["busy"] == [
        {k: o[k] for k in ("partner", "satellite_id", "satellite", "norad_id", "start", "end")}
        for o in others
        if o["norad_id"] != int(private)
    ]
    assert view["hidden_observations"] == sum(o["norad_id"] == int(private) for o in others)
    for figure in ("status", "bound", "gap", "levels", "partners", "total_gain", "fairness_gap"):
        assert view[figure] == everything[figure]  # how fair the plan is, for everyone
    assert private not in view["memory"]
    assert int(private) not in view["provenance"]["satellites"]
    assert len(view["provenance"]["satellites"]) == 2
    own_ids = everything["provenance"]["request_ids"]["own"]
    assert view["provenance"]["request_ids"] == {"own": own_ids}
    assert own_ids[: len(world.requests["own"])] == world.requests["own"]
    mine = {str(r) for r in own_ids}
    assert {u["request"] for u in view["unserved"]} <= mine
    assert view["unserved"] == [u for u in everything["unserved"] if u["request"] in mine]


def test_plans_use_the_schedule_named_and_refuse_bad_windows(world: PlanningWorld) -> None:
    admin = world.headers("admin")
    missing = world.client.post("/api/v1/plans", json={**WINDOW, "schedule_id": 7}, headers=admin)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["location"] == ["body", "schedule_id"]
    for bad in (
        {**WINDOW, "end": WINDOW["start"]},
        {**WINDOW, "end": (START + timedelta(days=8)).isoformat()},
        {**WINDOW, "objective": "most-photos"},
        {**WINDOW, "time_limit_s": 0},
        {**WINDOW, "time_limit_s": 10_000},
        {**WINDOW, "start": "10/05/2024 00:00"},
    ):
        response = world.client.post("/api/v1/plans", json=bad, headers=admin)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"
    assert (
        world.client.post(
            "/api/v1/plans", json=WINDOW, headers=world.headers("operator")
        ).status_code
        == 403
    )
    assert world.client.get("/api/v1/plans/42", headers=admin).status_code == 404


def test_planning_needs_a_satellite_that_observes(world: PlanningWorld) -> None:
    for code in ("own", "consortium", "private"):
        cleared = world.client.patch(
            f"/api/v1/satellites/{world.satellite[code]}",
            json={"payload": None},
            headers=world.headers("admin"),
        )
        assert cleared.status_code == 200
    refused = world.client.post("/api/v1/plans", json=WINDOW, headers=world.headers("admin"))
    assert refused.status_code == 409
    assert "payload" in refused.json()["detail"]
