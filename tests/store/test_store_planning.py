"""Check planning from the store: the problem is what the store holds, plans are kept whole.

Each test runs on SQLite and, when configured, on a PostgreSQL database of its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.service.planning_world import NOW, PAYLOAD, START, PlanningWorld, earth_request
from tests.support.data import orbit_file

from jointsat.errors import PlanningInputError
from jointsat.files import read_demo_elements
from jointsat.orbits.elements import parse_elements
from jointsat.orbits.freshness import StaleRule, window_freshness
from jointsat.orbits.propagation import group_satellites
from jointsat.planning.checker import check_plan
from jointsat.planning.plan import Objective
from jointsat.planning.planner import PlannerSettings
from jointsat.planning.problem import Downlink, Imager
from jointsat.store.planning import (
    StorePlanningProblem,
    plan_observations,
    relevant_sets,
)
from jointsat.store.requests import set_payload
from jointsat.store.tables import (
    ContactRecord,
    ElementSetRecord,
    GroundStation,
    ObservationRecord,
    ObservationRequest,
    Partner,
    PlanRecord,
    Satellite,
    ScheduleRecord,
)

DAY = timedelta(days=1)
quick = PlannerSettings(time_limit_s=3.0, workers=2)


@pytest.fixture
def world(store_url: str) -> Iterator[PlanningWorld]:
    w = PlanningWorld(store_url)
    yield w
    w.close()


def _add_request(world: PlanningWorld, owner: str, site: str = "KI2S", **extra: object) -> int:
    with world.session() as session:
        return world.add_request(session, world.partner[owner], earth_request(site, 5, **extra)).id


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": f"{start:%Y-%m-%dT%H:%M:%SZ}", "end": f"{end:%Y-%m-%dT%H:%M:%SZ}"}


def test_the_problem_is_what_the_store_holds(world: PlanningWorld) -> None:
    group = parse_elements(orbit_file("stations.tle").read_text()).elements
    stations = {e.object_name.strip(): e for e in group}
    with world.sessions.begin() as session:
        wentian = stations["CSS (WENTIAN)"]  # element sets, no payload: it does not observe
        idle = Satellite(name="WENTIAN", norad_id=wentian.norad_cat_id)
        idle.element_sets = [
            ElementSetRecord(epoch=wentian.epoch, omm=wentian.to_omm(), source="t", received_at=NOW)
        ]
        orbitless = Satellite(name="NO ELEMENTS", norad_id=99_990)  # a payload, no orbit
        set_payload(orbitless, PAYLOAD)
        iss = session.get(Satellite, world.satellite["own"])
        assert iss is not None
        old = iss.element_sets[0]
        iss.element_sets.append(  # older than the set nearest the window: never used
            ElementSetRecord(
                epoch=old.epoch - timedelta(days=30), omm=old.omm, source="t", received_at=NOW
            )
        )
        session.add_all([idle, orbitless])
    before = _add_request(world, "own", window=_window(START - DAY, START))  # ends at the start
    inside = _add_request(world, "own", window=_window(START + timedelta(hours=3), START + DAY))
    after = _add_request(world, "consortium", window=_window(START + DAY, START + 2 * DAY))
    only_idle = _add_request(world, "own", satellites=[str(wentian.norad_cat_id)])
    some_idle = _add_request(
        world, "private", satellites=[str(wentian.norad_cat_id), str(world.norad["own"])]
    )
    with world.sessions() as session:
        built = StorePlanningProblem(session, START, START + DAY)
        problem = built.problem
        shares = {p.code: p.share for p in session.scalars(select(Partner))}
        assert {p.id: p.share for p in problem.partners} == pytest.approx(
            {k: v / sum(shares.values()) for k, v in shares.items()}
        )
        assert sorted(s.id for s in problem.satellites) == sorted(
            str(n) for n in world.norad.values()
        )
        assert all(s.memory_mbit == PAYLOAD.memory_mbit for s in problem.satellites)
        planned = {int(r.id) for r in problem.requests}
        stored = {r for ids in world.requests.values() for r in ids}
        assert planned == stored | {inside, some_idle}
        assert before not in planned
        assert after not in planned
        assert [r["request"] for r in built.left_out] == [only_idle]
        restricted = next(r for r in problem.requests if r.id == str(some_idle))
        assert restricted.satellites == (str(world.norad["own"]),)
        provenance = built.provenance()
        latest = {
            e.id
            for s in session.scalars(select(Satellite)).all()
            if s.memory_mbit is not None
            for e in s.element_sets
            if e.epoch > START - timedelta(days=10)
        }
        assert set(provenance["element_set_ids"]) == latest
        assert provenance["schedule_id"] is None
        assert problem.downlinks == ()
        assert "no schedule" in provenance["downlinks"]
        assert provenance["request_ids"]["private"] == sorted(
            [*world.requests["private"], some_idle]
        )


def _schedule(
    session: Session,
    start: datetime,
    end: datetime,
    contacts: list[tuple[int, datetime, datetime]],
) -> int:
    """Store a network schedule with the contacts (satellite row id, start, end)."""
    record = ScheduleRecord(
        created_at=NOW,
        start=start,
        end_at=end,
        policy="fair",
        status="optimal",
        solver="test",
        total_seconds=0.0,
        gap=0.0,
        document={},
        provenance={},
    )
    station = session.scalars(select(GroundStation)).one()
    record.contacts = [
        ContactRecord(
            satellite_id=s, station_id=station.id, start=a, end_at=b, max_elevation_deg=40.0
        )
        for s, a, b in contacts
    ]
    session.add(record)
    session.flush()
    return record.id


def test_downlinks_come_from_the_named_or_the_newest_overlapping_schedule(
    world: PlanningWorld,
) -> None:
    minutes = [START + timedelta(minutes=m) for m in range(0, 24 * 60, 60)]
    own, other = world.satellite["own"], world.satellite["consortium"]
    with world.sessions.begin() as session:
        partner = session.get(Partner, world.partner["own"])
        session.add(GroundStation(name="Kiruna", owner=partner, lat_deg=67.86, lon_deg=20.96))
        session.flush()
        older = _schedule(session, START, START + DAY, [(own, minutes[1], minutes[2])])
        newer = _schedule(
            session,
            START - DAY,
            START + timedelta(hours=2),
            [
                (own, START - timedelta(minutes=5), START + timedelta(minutes=5)),  # clipped
                (other, minutes[1], minutes[1] + timedelta(minutes=8)),
                (own, START - timedelta(hours=3), START - timedelta(hours=2)),  # before: out
            ],
        )
        elsewhere = _schedule(session, START + 2 * DAY, START + 3 * DAY, [])
    with world.sessions() as session:
        chosen = StorePlanningProblem(session, START, START + DAY)
        assert chosen.provenance()["schedule_id"] == newer
        assert set(chosen.problem.downlinks) == {
            Downlink(str(world.norad["own"]), START, START + timedelta(minutes=5)),
            Downlink(str(world.norad["consortium"]), minutes[1], minutes[1] + timedelta(minutes=8)),
        }
        named = StorePlanningProblem(session, START, START + DAY, schedule_id=older)
        assert named.problem.downlinks == (
            Downlink(str(world.norad["own"]), minutes[1], minutes[2]),
        )
        for wrong in (elsewhere, 999):
            with pytest.raises(PlanningInputError) as caught:
                StorePlanningProblem(session, START, START + DAY, schedule_id=wrong)
            assert caught.value.location == "schedule_id"
        later = StorePlanningProblem(session, START + 2 * DAY, START + 3 * DAY)
        assert later.provenance()["schedule_id"] == elsewhere


def test_a_plan_passes_the_checker_and_is_kept_whole(world: PlanningWorld) -> None:
    small = Imager(id="-", memory_mbit=900.0, imaging_rate_mbps=40.0, downlink_rate_mbps=10.0)
    with world.sessions.begin() as session:
        iss = session.get(Satellite, world.satellite["own"])
        assert iss is not None
        set_payload(iss, small)  # two 10-s looks fill it, a downlink empties it
        partner = session.get(Partner, world.partner["own"])
        session.add(GroundStation(name="Kiruna", owner=partner, lat_deg=67.86, lon_deg=20.96))
        session.flush()
        hours = [START + timedelta(hours=h) for h in range(13)]
        _schedule(
            session,
            START,
            START + DAY,
            [(iss.id, h, h + timedelta(minutes=4)) for h in hours[1::3]],
        )
    for site in ("KRUS", "MPLS", "WAPS", "CB1D", "AUSS"):
        _add_request(world, "own", site, satellites=[str(world.norad["own"])])
    with world.sessions.begin() as session:
        record, found, built = plan_observations(
            session, START, START + timedelta(hours=12), now=NOW, settings=quick
        )
    assert check_plan(built.problem, built.orbits, found) == []
    assert found.observations
    assert found.memory[str(world.norad["own"])].capacity_mbit == small.memory_mbit
    # More looks than one memory-full holds: the schedule's contacts emptied it.
    looks = [o for o in found.observations if o.satellite == str(world.norad["own"])]
    assert sum(o.volume_mbit for o in looks) > small.memory_mbit
    assert {p: g.gain for p, g in found.partners.items()} == {
        code: sum(o.gain for o in found.observations if o.partner == code)
        for code in found.partners
    }
    with world.sessions() as session:
        kept = session.get(PlanRecord, record.id)
        assert kept is not None
        assert kept.objective == Objective.FAIR.value
        assert kept.total_gain == found.total_gain
        assert "observations" not in kept.document
        assert kept.document["partners"] == found.to_dict()["partners"]
        assert kept.provenance["schedule_id"] is not None
        assert kept.provenance["settings"]["time_limit_s"] == quick.time_limit_s
        rows = [
            (o.request_ref, o.satellite.norad_id, o.start, o.end_at, o.gain)
            for o in kept.observations
        ]
        assert sorted(rows) == sorted(
            (o.request, int(o.satellite), o.start, o.end, o.gain) for o in found.observations
        )
        observed = kept.observations[0]
        request_id, target = observed.request_id, observed.target
    with world.sessions.begin() as session:
        gone = session.get(ObservationRequest, request_id)
        session.delete(gone)
    with world.sessions() as session:
        after = session.get(ObservationRecord, observed.id)
        assert after is not None
        assert after.request_id is None
        assert after.request_ref == str(request_id)
        assert after.target == target


def test_the_nearest_element_set_of_every_moment_is_kept() -> None:
    rng = random.Random(5)
    iss = next(e for e in read_demo_elements().elements if e.norad_cat_id == 25544)
    unix_epoch_jd = 2440587.5

    @dataclass(frozen=True)
    class Set:
        epoch: datetime

    for _ in range(200):
        epochs = [START + timedelta(hours=rng.uniform(-200, 200)) for _ in range(rng.randint(1, 8))]
        sets = [Set(e) for e in epochs]
        end = START + timedelta(hours=rng.uniform(0.1, 100))
        kept = relevant_sets(sets, START, end)  # type: ignore[arg-type]
        farthest = 0.0
        for k in range(400):
            moment = START + (end - START) * (k / 399)
            nearest = min(sets, key=lambda s: abs((s.epoch - moment).total_seconds()))
            assert nearest in kept
            farthest = max(farthest, abs((nearest.epoch - moment).total_seconds()) / 86_400)
        # Sampled every 1/399 of the window, the largest gap is within a step of the exact one.
        step_days = (end - START).total_seconds() / 399 / 86_400
        # The oldest moment found by window_freshness: exact to its half-minute sampling.
        (orbit,) = group_satellites(
            replace(iss, epoch_jd=unix_epoch_jd, epoch_fr=e.timestamp() / 86_400) for e in epochs
        )
        exact = window_freshness(orbit, START, end, StaleRule()).elements_age_days
        assert farthest - 1e-6 <= exact + 31 / 86_400
        assert exact <= farthest + step_days


def test_stale_element_sets_are_noted(world: PlanningWorld) -> None:
    later = START + timedelta(days=30)
    with world.sessions() as session:
        fresh = StorePlanningProblem(session, START, START + DAY).provenance()
        stale = StorePlanningProblem(session, later, later + DAY).provenance()
    assert fresh["stale_element_sets"] == {}
    assert set(stale["stale_element_sets"]) == {str(n) for n in world.norad.values()}
    assert all(31 < days < 33 for days in stale["stale_element_sets"].values())
