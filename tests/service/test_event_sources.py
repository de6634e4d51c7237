"""The workflows record their events: schedules, outages, element sets, stale elements,
products. Each is read back through ``/api/v1/events`` as the users see it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.service.test_schedules_api import DAY, NOW, _fill
from tests.support.consortium import Consortium
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.freshness import DEFAULT_RULE, StaleRule
from jointsat.store.consortium import Arrival, store_element_sets
from jointsat.store.deliveries import _advance
from jointsat.store.events import emit_stale
from jointsat.store.products import commit_new
from jointsat.store.tables import EventRecord, Product, ProductOwner, Satellite

World = tuple[Consortium, TestClient]


@pytest.fixture
def world(consortium: Consortium) -> Iterator[World]:
    _fill(consortium)  # ESA (open) and NASA (private stations), four satellites
    with consortium.serve() as client:
        yield consortium, client


def _events(world: World, who: str, kind: str) -> list[dict[str, Any]]:
    consortium, client = world
    answer = client.get("/api/v1/events", params={"kind": kind}, headers=consortium.headers(who))
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def test_a_schedule_and_a_re_plan_after_an_outage_are_told(world: World) -> None:
    consortium, client = world
    admin = consortium.headers("admin")
    first = client.post("/api/v1/schedules", json={**DAY, "time_limit_s": 10}, headers=admin)
    assert first.status_code == 201, first.text
    outage = {
        "station_id": 1,  # ESA's Malargue
        "start": NOW.isoformat(),
        "end": (NOW + timedelta(hours=6)).isoformat(),
        "reason": "antenna drive failure",
        "time_limit_s": 10,
    }
    second = client.post(
        f"/api/v1/schedules/{first.json()['id']}/replan", json=outage, headers=admin
    )
    assert second.status_code == 201, second.text
    told = _events(world, "nasa-ops", "schedule.created")
    assert [(e["payload"]["schedule_id"], e["payload"]["replaces_id"]) for e in told] == [
        (first.json()["id"], None),
        (second.json()["id"], first.json()["id"]),
    ]
    [out] = _events(world, "esa-view", "station.outage")
    assert (out["station_id"], out["payload"]["reason"]) == (1, "antenna drive failure")


def test_an_outage_at_a_private_station_is_told_to_its_owner_alone(world: World) -> None:
    consortium, client = world
    window = {
        "start": NOW.isoformat(),
        "end": (NOW + timedelta(hours=1)).isoformat(),
        "kind": "outage",
        "reason": "flooded",
    }
    wallops = 3  # NASA's, private
    station = client.get(f"/api/v1/stations/{wallops}", headers=consortium.headers("nasa-ops"))
    answer = client.post(
        f"/api/v1/stations/{wallops}/unavailability",
        json=window,
        headers={**consortium.headers("nasa-ops"), "If-Match": station.headers["ETag"]},
    )
    assert answer.status_code == 201, answer.text
    [told] = _events(world, "nasa-ops", "station.outage")
    assert (told["station_id"], told["payload"]["kind"]) == (wallops, "outage")
    assert _events(world, "esa-ops", "station.outage") == []
    assert len(_events(world, "admin", "station.outage")) == 1


def test_new_element_sets_are_told_once_and_stale_ones_once_per_set(world: World) -> None:
    consortium, _ = world
    flown = parse_elements(orbit_file("stations.tle").read_text()).elements[:4]  # as _fill
    with consortium.session() as s:
        satellite = s.query(Satellite).filter_by(norad_id=flown[0].norad_cat_id).one()
        # the set the store has already: nothing new, nothing told
        assert store_element_sets(s, satellite, [flown[0]], Arrival("test-source", NOW)) == 0
    assert _events(world, "admin", "elements.refreshed") == []
    # stale: a LEO set past 7 days (constants.STALE_LEO_DAYS), told once per newest set
    assert all(e.mean_motion_rev_per_day > 11.25 for e in flown)  # all LEO
    newest = max(e.epoch for e in flown)
    before = 0
    for days in (6.9, 7.1, 9.0, 9.0):
        at = newest + timedelta(days=days)
        older = sum((at - e.epoch).total_seconds() > 7 * 86400 for e in flown)
        with consortium.session() as s:
            told = emit_stale(s, at, _rule())
        with consortium.session() as s:
            stale = s.query(EventRecord).filter_by(kind="elements.stale").all()
        assert len(stale) == older  # each stale satellite told once, however often asked
        assert told == older - before
        before = older
    assert before == len(flown)
    mine = next(e for e in stale if e.satellite_id == satellite.id)
    assert mine.payload["stale_after_days"] == 7.0
    assert mine.payload["age_days"] > 7.0


def _rule() -> StaleRule:
    return DEFAULT_RULE


def test_a_stored_element_set_is_told_to_who_sees_the_satellite(world: World) -> None:
    consortium, _ = world
    text = orbit_file("stations.tle").read_text()
    first = parse_elements(text).elements[0]
    later = [e for e in parse_elements(text).elements if e.norad_cat_id == first.norad_cat_id]
    with consortium.session() as s:
        satellite = s.query(Satellite).filter_by(norad_id=first.norad_cat_id).one()
        s.query(EventRecord).delete()
        satellite.element_sets.clear()
        s.flush()
        stored = store_element_sets(s, satellite, later, Arrival("test-source", NOW))
    assert stored == len(later) >= 1
    [told] = _events(world, "esa-ops", "elements.refreshed")
    assert told["payload"]["stored"] == stored
    assert told["payload"]["norad_id"] == first.norad_cat_id


def test_an_archived_product_is_told_with_it(world: World) -> None:
    consortium, _ = world
    with consortium.session() as s:
        satellite = s.query(Satellite).order_by(Satellite.id).first()
        assert satellite is not None
        product = Product(
            id="f" * 32,
            satellite_id=satellite.id,
            instrument="imager",
            processing_level="L1",
            acquired_start=NOW - timedelta(minutes=5),
            acquired_end=NOW,
            members_from=NOW,
            public_from=None,
            ingested_at=NOW,
            owners=[ProductOwner(partner_id=p.partner_id) for p in satellite.operators],
        )
        assert commit_new(s, product) is None
    [told] = _events(world, "admin", "product.archived")
    assert (told["product_id"], told["satellite_id"]) == ("f" * 32, satellite.id)


class _E:
    def __init__(self, ident: int, age_s: float) -> None:
        self.id = ident
        self.at = NOW - timedelta(seconds=age_s)


def test_the_fan_out_watermark_waits_at_a_young_gap_in_the_ids() -> None:
    # ids handed out but not yet committed (PostgreSQL) leave a gap: wait for them a while
    assert _advance(0, [_E(1, 0), _E(2, 0), _E(3, 0)], NOW) == 3  # type: ignore[list-item]
    assert _advance(0, [_E(1, 0), _E(3, 0), _E(4, 0)], NOW) == 1  # type: ignore[list-item]
    assert _advance(0, [_E(1, 0), _E(3, 61), _E(4, 0)], NOW) == 4  # type: ignore[list-item]
    assert _advance(0, [_E(1, 90), _E(3, 90), _E(5, 0)], NOW) == 3  # type: ignore[list-item]
    assert _advance(5, [], NOW) == 5
