"""Check optimistic concurrency: ETags, If-Match, 412, and writers racing on one row.

Races are made two ways: threads that send at once (what users do), and a write
slipped in by another session just before the request's own flush (the worst
timing, every time), so that the store's own version check is what is tested.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from threading import Barrier
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from tests.support.consortium import Consortium
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.store.consortium import Arrival, store_element_sets
from jointsat.store.tables import (
    Agreement,
    ElementSetRecord,
    ObservationRequest,
    Partner,
    Role,
    Satellite,
)

SKY = {"kind": "sky", "ra_deg": 83.63, "dec_deg": 22.01, "gain": 7, "duration_s": 600.0}
ISS_TLE = orbit_file("tle-CATNR-25544.txt").read_text()
ROUNDS = 12  # PUT/DELETE races per backend


class World:
    """A consortium with an admin, two operators of one partner, a request and a satellite."""

    def __init__(self, consortium: Consortium) -> None:
        self.c = consortium
        with consortium.session() as session:
            consortium.add_admin(session)
            esa = consortium.add_partner(session, "esa", 0.6, agreement={})
            consortium.add_partner(session, "asi", 0.4, agreement={})
            consortium.add_user(session, "ada", Role.OPERATOR, esa)
            consortium.add_user(session, "bob", Role.OPERATOR, esa)
            self.esa = esa.id
            self.request = consortium.add_request(session, esa, SKY).id
            self.satellite = consortium.add_satellite(session, "ISS", 25544, {esa: 1.0}).id
            self.station = consortium.add_station(session, "Kiruna", esa, 67.86, 20.96).id
        self.client = consortium.serve()

    def send(self, method: str, path: str, who: str = "ada", **kwargs: Any) -> httpx.Response:
        headers = {**self.c.headers(who), **kwargs.pop("headers", {})}
        return self.client.request(method, f"/api/v1/{path}", headers=headers, **kwargs)

    def at_once(self, calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
        """Return the answers to ``calls`` made from as many threads, released together."""
        start = Barrier(len(calls))

        def call(k: int) -> httpx.Response:
            start.wait()
            return calls[k]()

        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(call, range(len(calls))))

    def before_next_flush(self, write: Callable[[Session], None]) -> None:
        """Make ``write`` commit in another session just before the service's next flush."""
        sessions = self.client.app.state.sessions  # type: ignore[attr-defined]
        done: list[bool] = []

        def slip_in(_session: Session, _context: Any, _instances: Any) -> None:
            if not done:
                done.append(True)
                with self.c.session() as other:
                    write(other)

        event.listen(sessions, "before_flush", slip_in, insert=True)  # before it writes


@pytest.fixture
def world(consortium: Consortium) -> World:
    return World(consortium)


def test_reads_of_mutable_resources_answer_an_etag_that_each_write_moves_on(world: World) -> None:
    for path in (
        f"requests/{world.request}",
        f"agreements/{world.esa}",
        f"partners/{world.esa}",
        f"satellites/{world.satellite}",
    ):
        read = world.send("GET", path, who="admin")
        assert read.status_code == 200, read.text
        assert read.headers["ETag"] == '"1"', path
    changed = world.send("PATCH", f"agreements/{world.esa}", "admin", json={"embargo_days": 3})
    assert changed.headers["ETag"] == '"2"'
    assert world.send("GET", f"agreements/{world.esa}", "admin").headers["ETag"] == '"2"'
    # What an agreement shows includes the partner's contribution share.
    world.send("PATCH", f"partners/{world.esa}", "admin", json={"contribution_share": 0.5})
    assert world.send("GET", f"agreements/{world.esa}", "admin").headers["ETag"] == '"3"'
    # A station shows its unavailability windows.
    station = f"stations/{world.station}"
    assert world.send("GET", station).headers["ETag"] == '"1"'
    window = {"start": "2024-05-11T00:00:00Z", "end": "2024-05-12T00:00:00Z", "kind": "outage"}
    stale = world.send(
        "POST", f"{station}/unavailability", json=window, headers={"If-Match": '"9"'}
    )
    assert stale.status_code == 412
    assert world.send("POST", f"{station}/unavailability", json=window).status_code == 201
    assert world.send("GET", station).headers["ETag"] == '"2"'
    renamed = world.send("PATCH", station, json={"name": "Kir"}, headers={"If-Match": '"2"'})
    assert renamed.headers["ETag"] == '"3"'


def test_the_second_of_two_operators_who_read_the_same_request_gets_412(world: World) -> None:
    path = f"requests/{world.request}"
    seen_by_ada = world.send("GET", path, "ada").headers["ETag"]
    seen_by_bob = world.send("GET", path, "bob").headers["ETag"]
    ada = world.send("PUT", path, "ada", json={**SKY, "gain": 8}, headers={"If-Match": seen_by_ada})
    assert ada.status_code == 200, ada.text
    assert ada.headers["ETag"] != seen_by_ada
    bob = world.send("PUT", path, "bob", json={**SKY, "gain": 9}, headers={"If-Match": seen_by_bob})
    assert bob.status_code == 412, bob.text
    assert bob.headers["content-type"] == "application/problem+json"
    assert world.send("GET", path).json()["gain"] == 8  # Ada's change is kept
    gone = world.send("DELETE", path, "bob", headers={"If-Match": seen_by_bob})
    assert gone.status_code == 412
    # Bob reads again and succeeds; '*' matches any version; no If-Match: as before.
    fresh = world.send("GET", path, "bob").headers["ETag"]
    assert world.send("PUT", path, "bob", json=SKY, headers={"If-Match": fresh}).status_code == 200
    assert world.send("PUT", path, json={**SKY, "gain": 3}, headers={"If-Match": "*"}).is_success
    assert world.send("PUT", path, json={**SKY, "gain": 4}).json()["gain"] == 4
    weak = world.send("GET", path).headers["ETag"]
    assert world.send("DELETE", path, headers={"If-Match": f"W/{weak}"}).status_code == 412
    assert world.send("DELETE", path, headers={"If-Match": f'"x", {weak}'}).status_code == 204


def test_eight_simultaneous_patches_with_the_same_if_match_let_exactly_one_win(
    world: World,
) -> None:
    path = f"agreements/{world.esa}"
    tag = world.send("GET", path, "admin").headers["ETag"]

    def patch(days: int) -> Callable[[], httpx.Response]:
        body = {"embargo_days": days}
        return lambda: world.send("PATCH", path, "admin", json=body, headers={"If-Match": tag})

    answers = world.at_once([patch(10 + k) for k in range(8)])
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [412] * 7, [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200)
    assert world.send("GET", path, "admin").json() == winner.json()


@pytest.mark.parametrize(
    ("if_match", "expected"), [("read", 412), (None, 409)], ids=["if-match", "unconditional"]
)
def test_a_write_raced_between_read_and_write_is_caught_by_the_store(
    world: World, if_match: str | None, expected: int
) -> None:
    path = f"agreements/{world.esa}"
    headers = {"If-Match": world.send("GET", path, "admin").headers["ETag"]} if if_match else {}

    def other_admin(session: Session) -> None:
        session.scalars(
            select(Agreement).where(Agreement.partner_id == world.esa)
        ).one().share = 0.9

    world.before_next_flush(other_admin)
    late = world.send("PATCH", path, "admin", json={"embargo_days": 5}, headers=headers)
    assert late.status_code == expected, late.text
    stored = world.send("GET", path, "admin").json()
    assert (stored["share"], stored["embargo_days"]) == (0.9, 0)  # the other's, not lost


def test_a_request_deleted_while_it_is_replaced_answers_404(world: World) -> None:
    path = f"requests/{world.request}"

    def withdraw(session: Session) -> None:
        session.delete(session.get_one(ObservationRequest, world.request))

    world.before_next_flush(withdraw)
    late = world.send("PUT", path, json={**SKY, "gain": 2})
    assert late.status_code == 404, late.text


def test_a_request_changed_while_it_is_deleted_is_kept(world: World) -> None:
    path = f"requests/{world.request}"

    def regain(session: Session) -> None:
        session.get_one(ObservationRequest, world.request).gain = 99

    world.before_next_flush(regain)
    late = world.send("DELETE", path)
    assert late.status_code == 409, late.text
    assert world.send("GET", path).json()["gain"] == 7  # the row exists; its document unchanged


def test_simultaneous_put_and_delete_of_a_request_never_answer_500(world: World) -> None:
    seen: list[int] = []
    for _ in range(ROUNDS):
        with world.c.session() as session:
            request_id = world.c.add_request(session, session.get_one(Partner, world.esa), SKY).id
        path = f"requests/{request_id}"
        answers = world.at_once(
            [
                partial(world.send, "PUT", path, "ada", json={**SKY, "gain": 5}),
                partial(world.send, "DELETE", path, "bob"),
            ]
        )
        put, delete = (a.status_code for a in answers)
        seen += [put, delete]
        assert put in (200, 404, 409), answers[0].text
        assert delete in (204, 409), answers[1].text
        assert world.send("GET", path).status_code == (404 if delete == 204 else 200)
    assert 500 not in seen


def test_identical_element_uploads_at_once_store_one_set(world: World) -> None:
    path = f"satellites/{world.satellite}/elements"

    def upload() -> httpx.Response:
        return world.send("POST", path, content=ISS_TLE, headers={"Content-Type": "text/plain"})

    answers = world.at_once([upload for _ in range(4)])
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert sorted(a.json()["stored"] for a in answers) == [0, 0, 0, 1]
    history = world.send("GET", path).json()
    assert len(history) == 1
    assert world.send("GET", f"satellites/{world.satellite}").headers["ETag"] == '"2"'


def test_an_upload_raced_by_the_same_sets_answers_they_are_known(world: World) -> None:
    sets = parse_elements(ISS_TLE, source="other").elements

    def other_upload(session: Session) -> None:
        satellite = session.get_one(Satellite, world.satellite)
        assert store_element_sets(session, satellite, sets, Arrival("other", world.c.now)) == 1

    world.before_next_flush(other_upload)
    late = world.send(
        "POST",
        f"satellites/{world.satellite}/elements",
        content=ISS_TLE,
        headers={"Content-Type": "text/plain"},
    )
    assert late.status_code == 200, late.text
    assert (late.json()["stored"], late.json()["already_known"]) == (0, 1)
    with world.c.session() as session:
        assert len(list(session.scalars(select(ElementSetRecord)))) == 1


def test_the_store_refuses_a_write_from_a_stale_read(consortium: Consortium) -> None:
    with consortium.session() as session:
        partner_id = consortium.add_partner(session, "esa", 0.5, agreement={}).id
    first, second = consortium.sessions(), consortium.sessions()
    try:
        rows = [s.scalars(select(Agreement)).one() for s in (first, second)]
        rows[0].embargo_days = 1
        first.commit()
        rows[1].embargo_days = 2
        with pytest.raises(StaleDataError):
            second.commit()
    finally:
        first.close()
        second.close()
    with consortium.session() as session:
        stored = session.scalars(select(Agreement).where(Agreement.partner_id == partner_id)).one()
        assert (stored.embargo_days, stored.version) == (1, 2)


def test_the_openapi_declares_etag_and_if_match(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for path, verbs in (
        ("/api/v1/requests/{request_id}", ("put", "delete")),
        ("/api/v1/agreements/{partner_id}", ("patch",)),
        ("/api/v1/partners/{partner_id}", ("patch", "delete")),
        ("/api/v1/stations/{station_id}", ("patch", "delete")),
        ("/api/v1/satellites/{satellite_id}", ("patch",)),
    ):
        assert "ETag" in paths[path]["get"]["responses"]["200"]["headers"]
        for verb in verbs:
            operation = paths[path][verb]
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert "If-Match" in headers, (path, verb)
            assert "412" in operation["responses"], (path, verb)
