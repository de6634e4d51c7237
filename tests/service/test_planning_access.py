"""Check requests and plans against the access rules: every role x owner x verb, none left out.

The expected answer of each cell is written here from the issue's rules, not taken
from the service's code (the users are the admin and an operator and a viewer of
partner "own"; the "private" partner's agreement hides its satellites):

- requests: a partner's users see only its requests, its operators create, replace
  and delete them, its viewers only read; the admin does everything; another
  partner's request is a 404 whatever the verb, and a request cannot be made for
  another partner (403: partners are known to all);
- plans: every member lists and reads them; only the admin creates one; of each
  observation the caller sees: everything if admin; its own partner's in full (the
  satellite left out where its agreement hides it); another partner's as a busy slot
  (satellite, times, partner, nothing of the request) on a satellite it may see, and
  nothing (only counted) on one it may not.

The last tests break one rule in the service and check that the matrix notices.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.service.planning_world import NOW, OWNERS, START, PlanningWorld, earth_request

from jointsat.service import access, lookup
from jointsat.service.routes import plans as plans_route
from jointsat.store.tables import ObservationRecord, PlanRecord

ROLES = ("admin", "operator", "viewer")
REQUEST_VERBS = ("list", "read", "create", "update", "delete")
PLAN_VERBS = ("list", "read", "create")
VIEWS = ("full", "full, satellite hidden", "busy", "hidden")
PLAN_WINDOW = {
    "start": START.isoformat(),
    "end": (START + timedelta(hours=6)).isoformat(),
    "time_limit_s": 2,
}


def expected_request(role: str, verb: str, owner: str) -> int:
    """Return the status the rules give for a request cell."""
    success = {"create": 201, "delete": 204}.get(verb, 200)
    if role == "admin":
        return success
    if verb == "create":  # naming a partner (known to all) hides nothing
        return success if role == "operator" and owner == "own" else 403
    if owner != "own":
        return 404
    if verb in ("list", "read"):
        return success
    return success if role == "operator" else 403


def expected_plan(role: str, verb: str) -> int:
    """Return the status the rules give for a plan cell."""
    if verb == "create":
        return 201 if role == "admin" else 403
    return 200


def expected_view(role: str, partner: str, satellite_owner: str) -> str:
    """Return what the rules let the role see of a partner's observation on a satellite."""
    if role == "admin":
        return "full"
    # Its partner's own satellite, or another's whose operator did not make it private.
    satellite_seen = satellite_owner == "own" or satellite_owner == "consortium"
    if partner == "own":
        return "full" if satellite_seen else "full, satellite hidden"
    return "busy" if satellite_seen else "hidden"


class Matrix(PlanningWorld):
    """The planning world, with a plan holding one observation per partner and satellite."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.counter = itertools.count()
        self.observation_at: dict[tuple[str, str], str] = {}
        with self.sessions.begin() as session:
            plan = PlanRecord(
                created_at=NOW,
                start=START,
                end_at=START + timedelta(days=1),
                objective="fair",
                status="optimal",
                solver="written by the test",
                total_gain=9,
                gap=0.0,
                document={
                    "bound": 9.0,
                    "bound_level": "total gain",
                    "fairness_gap": 0.0,
                    "levels": [],
                    "partners": {},
                    "memory": {},
                    "unserved": [],
                    "settings": {},
                },
                provenance={"request_ids": {}, "requests_left_out": [], "satellites": []},
            )
            for k, (partner, satellite) in enumerate(itertools.product(OWNERS, OWNERS)):
                begins = START + timedelta(minutes=10 * k)
                self.observation_at[(partner, satellite)] = begins.isoformat()
                plan.observations.append(
                    ObservationRecord(
                        request_id=self.requests[partner][0],
                        request_ref=str(self.requests[partner][0]),
                        partner_id=self.partner[partner],
                        satellite_id=self.satellite[satellite],
                        start=begins,
                        end_at=begins + timedelta(seconds=30),
                        gain=1,
                        volume_mbit=1.0,
                        target={"kind": "earth", "lat_deg": 1.0, "lon_deg": 2.0},
                    )
                )
            session.add(plan)
            session.flush()
            self.plan = plan.id

    def fresh_request(self, owner: str) -> int:
        with self.session() as session:
            return self.add_request(session, self.partner[owner], earth_request("KI2S", 1)).id

    def call_request(self, role: str, verb: str, owner: str) -> int:
        c, h = self.client, self.headers(role)
        body = earth_request("KI2S", 1 + next(self.counter))
        if verb == "create":
            made = c.post(
                "/api/v1/requests", json={**body, "partner_id": self.partner[owner]}, headers=h
            )
            return made.status_code
        if verb == "list":
            listed = c.get("/api/v1/requests", headers=h)
            assert listed.status_code == 200
            return 200 if self.requests[owner][0] in {r["id"] for r in listed.json()} else 404
        if verb == "read":
            return c.get(f"/api/v1/requests/{self.requests[owner][0]}", headers=h).status_code
        path = f"/api/v1/requests/{self.fresh_request(owner)}"
        if verb == "update":
            return c.put(path, json=body, headers=h).status_code
        return c.delete(path, headers=h).status_code

    def call_plan(self, role: str, verb: str) -> int:
        c, h = self.client, self.headers(role)
        if verb == "create":
            return c.post("/api/v1/plans", json=PLAN_WINDOW, headers=h).status_code
        if verb == "list":
            listed = c.get("/api/v1/plans", headers=h)
            assert listed.status_code == 200
            return 200 if self.plan in {p["id"] for p in listed.json()} else 404
        return c.get(f"/api/v1/plans/{self.plan}", headers=h).status_code

    def views(self, role: str) -> dict[tuple[str, str], str]:
        """Return what the role sees of each observation of the test's plan."""
        found = self.client.get(f"/api/v1/plans/{self.plan}", headers=self.headers(role))
        assert found.status_code == 200
        plan = found.json()
        full = {o["start"][:19]: o for o in plan["observations"]}
        busy = {o["start"][:19]: o for o in plan["busy"]}
        seen: dict[tuple[str, str], str] = {}
        for cell, at in self.observation_at.items():
            if at[:19] in full:
                shown = full[at[:19]]
                assert shown["request_id"] is not None
                assert shown["target"]
                hidden_satellite = shown["satellite_id"] is None
                seen[cell] = "full, satellite hidden" if hidden_satellite else "full"
            elif at[:19] in busy:
                assert set(busy[at[:19]]) == {
                    "partner",
                    "satellite_id",
                    "satellite",
                    "norad_id",
                    "start",
                    "end",
                }
                seen[cell] = "busy"
            else:
                seen[cell] = "hidden"
        assert plan["hidden_observations"] == list(seen.values()).count("hidden")
        return seen


def wrong_cells(world: Matrix, *, create_plans: bool = True) -> list[tuple[object, ...]]:
    """Return every cell whose answer differs from the rules: (cell, got, expected)."""
    wrong: list[tuple[object, ...]] = []
    for role, verb, owner in itertools.product(ROLES, REQUEST_VERBS, OWNERS):
        got, want = world.call_request(role, verb, owner), expected_request(role, verb, owner)
        if got != want:
            wrong.append((("requests", role, verb, owner), got, want))
    for role, verb in itertools.product(ROLES, PLAN_VERBS):
        if verb == "create" and not create_plans:
            continue
        got, want = world.call_plan(role, verb), expected_plan(role, verb)
        if got != want:
            wrong.append((("plans", role, verb), got, want))
    for role in ROLES:
        seen = world.views(role)
        for (partner, satellite), view in seen.items():
            want_view = expected_view(role, partner, satellite)
            if view != want_view:
                wrong.append((("observation", role, partner, satellite), view, want_view))
    return wrong


@pytest.fixture
def world(store_url: str) -> Iterator[Matrix]:
    w = Matrix(store_url)
    yield w
    w.close()


def test_every_cell_of_the_planning_access_matrix(world: Matrix) -> None:
    cells = 3 * 5 * 3 + 3 * 3 + 3 * 3 * 3
    assert len(list(itertools.product(ROLES, REQUEST_VERBS, OWNERS))) == 45
    assert cells == 81
    assert {expected_view(*c) for c in itertools.product(ROLES, OWNERS, OWNERS)} == set(VIEWS)
    assert wrong_cells(world) == []


def test_the_matrix_notices_a_request_shown_to_another_partner(
    world: Matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookup, "sees_request", lambda user, partner_id: True)
    wrong = wrong_cells(world, create_plans=False)
    assert (("requests", "viewer", "read", "consortium"), 200, 404) in wrong
    assert (("requests", "operator", "list", "private"), 200, 404) in wrong
    assert (("requests", "operator", "update", "private"), 403, 404) in wrong


def test_the_matrix_notices_observations_shown_in_full_to_everyone(
    world: Matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plans_route, "observation_view", lambda *_: access.ObservationView.FULL)
    wrong = wrong_cells(world, create_plans=False)
    assert (("observation", "viewer", "consortium", "own"), "full", "busy") in wrong
    assert (("observation", "operator", "private", "private"), "full", "hidden") in wrong
    assert all(cell[0][0] == "observation" for cell in wrong)
