"""Check every role x resource x verb x owner cell against the access rules (stations aside).

Stations have their own matrix in test_stations_access.py. The expected answer of
each cell is written here from the issue's rules, not taken from the service's code:
- partners, agreements: every member reads them; only the consortium admin changes them;
- users: only the consortium admin lists or creates them;
- satellites: the admin does everything and alone creates satellites (operators set
  fair shares); a partner's users read its satellites and others' unless an operator's
  agreement makes them private (then 404, hiding them); operators of an operating
  partner upload element sets and set its payload and daily demand, viewers never
  change anything;
- passes: a satellite hidden from the caller is a 404 there too;
- schedules: every member lists and reads them (the contacts it may not see are left
  out); only the consortium admin creates one; an outage is reported, and the schedule
  re-planned, by the station's operators or an admin (all stations here are visible);
- areas of interest: each owner has one, private for "own" and "private", consortium for
  "consortium"; a private area of another partner is hidden (404); a partner's
  operators and the admin add and delete its areas;
- design studies: each owner has one over its area, seen by who sees that area (else
  404, its table too); operators and the admin start one over an area they see (one
  they may not see is a 422, as if absent), viewers never; the study's partner's
  operators and the admin delete it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.service.design_world import SMALL, box, finish
from tests.service.planning_world import OWNERS as PLANNING_OWNERS
from tests.service.planning_world import PlanningWorld
from tests.support.consortium import Consortium, element_set
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.freshness import StaleRule
from jointsat.store.design import StudyInputs, add_study
from jointsat.store.tables import (
    AreaRecord,
    ElementSetRecord,
    Partner,
    Role,
    Visibility,
)

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
ROLES = ("admin", "operator", "viewer")
OWNERS = ("own", "consortium", "private")
CELLS = {
    "partners": ("list", "read", "create", "update", "delete"),
    "agreements": ("list", "read", "update"),
    "users": ("list", "create"),
    "satellites": ("list", "read", "create", "update", "history", "upload"),
    "passes": ("list",),
    "schedules": ("list", "read", "create", "replan", "problem"),
    "areas": ("list", "read", "create", "delete"),
    "studies": ("list", "read", "points", "create", "delete"),
}
AREA_VISIBILITY = {"own": "private", "consortium": "consortium", "private": "private"}
WINDOW = {"start": "2024-05-10T00:00:00Z", "end": "2024-05-10T06:00:00Z", "time_limit_s": 10}
ISS = parse_elements(orbit_file("tle-CATNR-25544.txt").read_text()).elements[0]


def expected(role: str, resource: str, verb: str, owner: str) -> int:
    """Return the status the rules give for one cell."""
    reads = verb in ("list", "read", "history", "points")
    success = {"create": 201, "delete": 204, "upload": 201, "replan": 201}.get(verb, 200)
    if resource == "studies" and verb == "create":
        if role == "viewer":
            return 403
        return 422 if owner == "private" and role != "admin" else 202
    if resource == "areas" and verb == "create":  # partners are seen by all: never a 404
        return success if role == "admin" or (role == "operator" and owner == "own") else 403
    if resource == "schedules":
        if reads:
            return success
        if verb in ("create", "problem"):  # a problem names every station and satellite
            return success if role == "admin" else 403
        return success if role == "admin" or (role == "operator" and owner == "own") else 403
    if resource in ("partners", "agreements"):
        return success if reads or role == "admin" else 403
    if resource == "users":
        return success if role == "admin" else 403
    hidden = owner == "private" and role != "admin"
    if reads:
        return 404 if hidden else 200
    if verb == "create":
        return success if role == "admin" else 403
    if hidden:
        return 404
    return success if role == "admin" or (role == "operator" and owner == "own") else 403


class World(Consortium):
    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        self.partner: dict[str, int] = {}
        self.satellite: dict[str, int] = {}
        self.station: dict[str, int] = {}
        with self.session() as session:
            self.add_admin(session)
            for code, visibility in (
                ("own", Visibility.CONSORTIUM),
                ("consortium", Visibility.CONSORTIUM),
                ("private", Visibility.PRIVATE),
            ):
                agreement = {"satellite_visibility": visibility}
                partner = self.add_partner(
                    session, code, 1 / 3, name=code.title(), agreement=agreement
                )
                self.partner[code] = partner.id
                station = self.add_station(session, f"{code}-station", partner, 48.0, 11.0)
                # Each owner's satellite: the private one is joint with "consortium",
                # and the most restrictive operator hides it.
                norad = 25544 + len(self.partner)
                operators: dict[Partner | int, float] = {partner: 1.0}
                if code == "private":
                    operators = {partner: 0.5, self.partner["consortium"]: 0.5}
                sets = [element_set(ISS, now=NOW, NORAD_CAT_ID=norad)]
                satellite = self.add_satellite(session, f"{code}-sat", norad, operators, sets)
                self.satellite[code] = satellite.id
                self.station[code] = station.id
            own = session.get(Partner, self.partner["own"])
            for role in (Role.OPERATOR, Role.VIEWER):
                self.add_user(session, f"own-{role.value}", role, own, key=role.value)
        self.client = self.serve()
        self.counter = itertools.count()
        made = self.client.post(
            "/api/v1/schedules",
            json=WINDOW,
            headers={"Authorization": f"Bearer {self.tokens['admin']}"},
        )
        assert made.status_code == 201, made.text
        self.schedule = made.json()["id"]
        self.area = {owner: self.add_area(owner) for owner in OWNERS}
        self.study = {owner: self.add_study(owner) for owner in OWNERS}
        finish(self.client)

    def add_area(self, owner: str) -> int:
        """Add, as the admin, an area of the owner's with the owner's visibility."""
        made = self.client.post(
            f"/api/v1/partners/{self.partner[owner]}/areas",
            params={"visibility": AREA_VISIBILITY[owner]},
            json=box(f"{owner}-area-{next(self.counter)}", 10.0, 45.0, 14.0, 49.0),
            headers={"Authorization": f"Bearer {self.tokens['admin']}"},
        )
        assert made.status_code == 201, made.text
        return int(made.json()[0]["id"])

    def add_study(self, owner: str) -> int:
        """Add, as the admin, a small study over the owner's area (of the owner's partner)."""
        with self.session() as session:
            area = session.get_one(AreaRecord, self.area[owner])
            inputs = StudyInputs(
                area_ids=(area.id,),
                start=NOW,
                end=NOW + timedelta(hours=1),
                constellations=("walker:1/1/0:550:53",),
                grid_deg=2.0,
            )
            record = add_study(
                session, "matrix", inputs, [area], now=NOW, partner_id=self.partner[owner]
            )
            session.flush()
            return record.id

    def call(self, role: str, resource: str, verb: str, owner: str) -> int:
        c, n = self.client, next(self.counter)
        h = {"Authorization": f"Bearer {self.tokens[role]}"}
        pid, sid = self.partner[owner], self.satellite[owner]
        if resource == "partners":
            if verb == "create":
                body = {"code": f"p{n}", "name": f"P{n}", "contribution_share": 0.1}
                return c.post("/api/v1/partners", json=body, headers=h).status_code
            if verb == "delete":  # a partner with nothing attached, made for the cell
                made = c.post(
                    "/api/v1/partners",
                    json={"code": f"d{n}", "name": f"D{n}", "contribution_share": 0.1},
                    headers={"Authorization": f"Bearer {self.tokens['admin']}"},
                )
                return c.delete(f"/api/v1/partners/{made.json()['id']}", headers=h).status_code
            path = f"/api/v1/partners/{pid}"
        elif resource == "agreements":
            path = f"/api/v1/agreements/{pid}"
        elif resource == "users":
            if verb == "create":
                body = {"name": f"u{n}", "role": "viewer", "partner_id": pid}
                return c.post("/api/v1/users", json=body, headers=h).status_code
            return c.get("/api/v1/users", headers=h).status_code
        elif resource == "satellites":
            if verb == "create":
                body = {"name": f"s{n}", "norad_id": 70_000 + n, "operators": {str(pid): 1.0}}
                return c.post("/api/v1/satellites", json=body, headers=h).status_code
            if verb == "history":
                return c.get(f"/api/v1/satellites/{sid}/elements", headers=h).status_code
            if verb == "upload":
                omm = {
                    **ISS.to_omm(),
                    "NORAD_CAT_ID": 25544 + list(OWNERS).index(owner) + 1,
                    "EPOCH": f"2024-05-{10 + n % 15:02d}T00:00:00.000000",
                }
                return c.post(
                    f"/api/v1/satellites/{sid}/elements",
                    content=json.dumps([omm]),
                    headers={**h, "Content-Type": "text/plain"},
                ).status_code
            if verb == "update":
                body = {"daily_demand_s": 600.0 + n, "payload": None}
                return c.patch(f"/api/v1/satellites/{sid}", json=body, headers=h).status_code
            path = f"/api/v1/satellites/{sid}"
        elif resource == "schedules":
            if verb == "list":
                return c.get("/api/v1/schedules", headers=h).status_code
            if verb == "read":
                return c.get(f"/api/v1/schedules/{self.schedule}", headers=h).status_code
            if verb == "create":
                return c.post("/api/v1/schedules", json=WINDOW, headers=h).status_code
            if verb == "problem":
                window = {"start": WINDOW["start"], "end": WINDOW["end"]}
                return c.get("/api/v1/schedules/problem", params=window, headers=h).status_code
            outage = {
                "station_id": self.station[owner],
                "start": "2024-05-10T13:00:00Z",
                "end": "2024-05-10T14:00:00Z",
            }
            return c.post(
                f"/api/v1/schedules/{self.schedule}/replan", json=outage, headers=h
            ).status_code
        elif resource == "areas":
            if verb == "create":
                body = box(f"new-{n}", 0.0, 0.0, 1.0, 1.0)
                return c.post(f"/api/v1/partners/{pid}/areas", json=body, headers=h).status_code
            if verb == "delete":  # an area of the owner's, made for the cell
                return c.delete(f"/api/v1/areas/{self.add_area(owner)}", headers=h).status_code
            if verb == "list":
                listed = c.get("/api/v1/areas", headers=h).json()
                return 200 if self.area[owner] in {a["id"] for a in listed} else 404
            return c.get(f"/api/v1/areas/{self.area[owner]}", headers=h).status_code
        elif resource == "studies":
            if verb == "create":
                body = {"name": f"s{n}", **SMALL, "area_ids": [self.area[owner]]}
                return c.post("/api/v1/design/studies", json=body, headers=h).status_code
            if verb == "delete":  # a study of the owner's, made for the cell
                path = f"/api/v1/design/studies/{self.add_study(owner)}"
                return c.delete(path, headers=h).status_code
            if verb == "list":
                listed = c.get("/api/v1/design/studies", headers=h).json()
                return 200 if self.study[owner] in {s["id"] for s in listed} else 404
            path = f"/api/v1/design/studies/{self.study[owner]}"
            if verb == "points":
                return c.get(f"{path}/points", headers=h).status_code
            return c.get(path, headers=h).status_code
        else:  # passes of one satellite
            window = "start=2024-05-10T00:00:00Z&end=2024-05-10T06:00:00Z"
            return c.get(f"/api/v1/passes?{window}&satellite_id={sid}", headers=h).status_code
        if verb == "list":
            listed = c.get(path.rsplit("/", 1)[0], headers=h)
            assert listed.status_code == 200
            key = "partner_id" if resource == "agreements" else "id"
            wanted = pid if resource in ("partners", "agreements") else sid
            return 200 if wanted in {row[key] for row in listed.json()} else 404
        if verb == "read":
            return c.get(path, headers=h).status_code
        body = {"name": f"renamed {n}"} if resource == "partners" else {"embargo_days": n}
        return c.patch(path, json=body, headers=h).status_code


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    w = World(store_url)
    yield w
    w.close()


def test_every_cell_of_the_access_matrix(world: World) -> None:
    cells = [
        (role, resource, verb, owner)
        for resource, verbs in CELLS.items()
        for role, verb, owner in itertools.product(ROLES, verbs, OWNERS)
    ]
    assert len(cells) == 3 * 3 * sum(len(v) for v in CELLS.values())
    wrong = [
        (cell, got, want)
        for cell in cells
        if (got := world.call(*cell)) != (want := expected(*cell))
    ]
    assert wrong == []


# --- provenance: a caller sees only the provenance of what it may see ------------------


class ProvenanceWorld(PlanningWorld):
    """The planning world with a station per partner ("private" hides its stations as well
    as its satellite), an operator of every partner, a schedule and a plan whose element
    sets are stale (the plan's window lies days past their epochs, and the service calls
    LEO elements stale after 3 days)."""

    CALLERS = ("admin", "operator", "viewer", "consortium-operator", "private-operator")

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.client = self.serve(stale_rule=StaleRule(leo_days=3.0))
        with self.session() as session:
            self.station: dict[str, int] = {}
            for code in PLANNING_OWNERS:
                partner = session.get_one(Partner, self.partner[code])
                if code == "private":
                    partner.agreement.station_visibility = Visibility.PRIVATE  # type: ignore[union-attr]
                elif code == "consortium":  # "own" has its operator and viewer already
                    self.add_user(session, f"{code}-operator", Role.OPERATOR, partner)
                self.station[code] = self.add_station(
                    session, f"{code}-station", partner, 48.0 + len(self.station), 11.0
                ).id
            private = session.get_one(Partner, self.partner["private"])
            self.add_user(session, "private-operator", Role.OPERATOR, private)
        admin = self.headers("admin")
        window = {"start": "2024-05-13T00:00:00Z", "end": "2024-05-13T12:00:00Z"}
        made = self.client.post(
            "/api/v1/schedules", json={**window, "time_limit_s": 5}, headers=admin
        )
        assert made.status_code == 201, made.text
        self.schedule = made.json()["id"]
        made = self.client.post("/api/v1/plans", json={**window, "time_limit_s": 3}, headers=admin)
        assert made.status_code == 201, made.text
        self.plan = made.json()["id"]

    def read(self, path: str, who: str) -> dict[str, Any]:
        answer = self.client.get(path, headers=self.headers(who))
        assert answer.status_code == 200, (who, path, answer.text)
        return dict(answer.json())

    def seen(self, who: str) -> tuple[set[int], set[int], set[str]]:
        """Return the station ids, element set ids and catalog numbers ``who`` may see.

        Read from the lists the caller is given (stations, satellites) and, for the
        element sets, from the store: independent of how provenance is filtered.
        """
        h = self.headers(who)
        stations = {s["id"] for s in self.client.get("/api/v1/stations", headers=h).json()}
        satellites = self.client.get("/api/v1/satellites", headers=h).json()
        with self.session() as session:
            sets = {
                e.id
                for e in session.scalars(select(ElementSetRecord))
                if e.satellite_id in {s["id"] for s in satellites}
            }
        return stations, sets, {str(s["norad_id"]) for s in satellites}


def test_every_role_and_partner_sees_only_the_provenance_of_what_it_may_see(
    store_url: str,
) -> None:
    world = ProvenanceWorld(store_url)
    try:
        admin_schedule = world.read(f"/api/v1/schedules/{world.schedule}", "admin")
        admin_plan = world.read(f"/api/v1/plans/{world.plan}", "admin")
        everything = admin_schedule["provenance"], admin_plan["provenance"]
        # The admin's provenance names every partner's stations and element sets, and the
        # plan's element sets are all stale: the checks below have something to hide.
        assert set(everything[0]["station_ids"]) == set(world.station.values())
        assert len(everything[0]["element_set_ids"]) == 3
        assert len(everything[1]["element_set_ids"]) == 3
        assert set(everything[1]["stale_element_sets"]) == {str(n) for n in world.norad.values()}
        assert everything[0]["stale_element_sets"] == everything[1]["stale_element_sets"]
        wrong = []
        for who in ProvenanceWorld.CALLERS:
            stations, sets, norads = world.seen(who)
            schedule = world.read(f"/api/v1/schedules/{world.schedule}", who)["provenance"]
            plan = world.read(f"/api/v1/plans/{world.plan}", who)["provenance"]
            cells = {
                ("schedule", "station_ids"): (
                    schedule["station_ids"],
                    [i for i in everything[0]["station_ids"] if i in stations],
                ),
                ("schedule", "element_set_ids"): (
                    schedule["element_set_ids"],
                    [i for i in everything[0]["element_set_ids"] if i in sets],
                ),
                ("plan", "element_set_ids"): (
                    plan["element_set_ids"],
                    [i for i in everything[1]["element_set_ids"] if i in sets],
                ),
                ("plan", "stale_element_sets"): (
                    plan["stale_element_sets"],
                    {k: v for k, v in everything[1]["stale_element_sets"].items() if k in norads},
                ),
                ("plan", "elements_age_days"): (
                    plan["elements_age_days"],
                    {k: v for k, v in everything[1]["elements_age_days"].items() if k in norads},
                ),
                ("schedule", "stale_element_sets"): (
                    schedule["stale_element_sets"],
                    {k: v for k, v in everything[0]["stale_element_sets"].items() if k in norads},
                ),
                ("plan", "satellites"): (
                    plan["satellites"],
                    [n for n in everything[1]["satellites"] if str(n) in norads],
                ),
            }
            wrong += [(who, cell, got, want) for cell, (got, want) in cells.items() if got != want]
            if who not in ("admin", "private-operator"):  # the private partner is hidden
                assert world.station["private"] not in schedule["station_ids"]
                assert str(world.norad["private"]) not in plan["stale_element_sets"]
        assert wrong == []
    finally:
        world.close()
