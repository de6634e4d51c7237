"""Check store.contacts: moves and their events in one transaction, filters, re-plans carrying
the lifecycle over, products linked across re-plans, and the tally's arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.service.test_schedules_api import NOW, START, _fill
from tests.support.consortium import Consortium

from jointsat.archive.blobs import Blob
from jointsat.archive.metadata import product_metadata
from jointsat.archive.rights import Caller
from jointsat.errors import ContactStateError
from jointsat.operations.lifecycle import Actor, Move, Report
from jointsat.store.contacts import (
    ContactQuery,
    current_schedule_ids,
    find_contacts,
    linked_products,
    load_contact,
    move_contact,
    newest_version,
    tally,
)
from jointsat.store.products import StoredFile, record_product
from jointsat.store.schedules import load_schedule, replan_network, schedule_network
from jointsat.store.tables import (
    Agreement,
    ContactRecord,
    ContactState,
    EventRecord,
    ScheduleRecord,
)

ESA, NASA = 1, 2


@pytest.fixture
def world(store_url: str) -> Iterator[tuple[Consortium, int]]:
    """The schedule API tests' consortium, with a day's schedule; its id."""
    made = Consortium(store_url)
    _fill(made)
    with made.sessions() as session:
        record, _ = schedule_network(session, START, START + timedelta(days=1), now=NOW)
        session.commit()
        schedule_id = record.id
    yield made, schedule_id
    made.close()


def _events(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(EventRecord)) or 0)


def test_a_move_and_its_event_are_one_transaction(world: tuple[Consortium, int]) -> None:
    consortium, schedule_id = world
    with consortium.sessions() as session:
        first = find_contacts(session, ContactQuery(schedule_id=schedule_id))[0]
        move_contact(session, first, Move.CONFIRM, Actor.OPERATOR, Report(), now=NOW)
        assert _events(session) == 1
        session.rollback()
        assert (load_contact(session, first.id) or first).state is ContactState.SCHEDULED
        assert _events(session) == 0
        move_contact(session, first, Move.CONFIRM, Actor.OPERATOR, Report(), now=NOW)
        session.commit()
        with pytest.raises(ContactStateError):
            move_contact(session, first, Move.END, Actor.STATION, Report(at=NOW), now=NOW)
        session.commit()
        assert first.state is ContactState.CONFIRMED
        event = session.scalars(select(EventRecord)).one()
        assert event.payload["previous_state"] == "scheduled"
        assert event.payload["state"] == "confirmed"
        assert (event.satellite_id, event.station_id) == (first.satellite_id, first.station_id)


def test_the_filters_select_what_a_plain_filter_does(world: tuple[Consortium, int]) -> None:
    consortium, schedule_id = world
    with consortium.sessions() as session:
        every = find_contacts(session, ContactQuery())
        assert every
        noon, evening = NOW, NOW + timedelta(hours=6)
        cases = [
            (ContactQuery(station_id=1), lambda c: c.station_id == 1),
            (ContactQuery(satellite_id=2), lambda c: c.satellite_id == 2),
            (ContactQuery(ends_after=noon), lambda c: c.end_at > noon),
            (
                ContactQuery(ends_after=noon, starts_before=evening, station_id=3),
                lambda c: c.end_at > noon and c.start < evening and c.station_id == 3,
            ),
            (ContactQuery(state=ContactState.CONFIRMED), lambda c: False),
            (ContactQuery(schedule_id=schedule_id + 1), lambda c: False),
        ]
        for query, keep in cases:
            assert [c.id for c in find_contacts(session, query)] == [
                c.id for c in every if keep(c)
            ], query


def test_a_re_plan_carries_the_lifecycle_and_the_products(world: tuple[Consortium, int]) -> None:
    consortium, schedule_id = world
    with consortium.sessions() as session:
        contacts = find_contacts(session, ContactQuery(schedule_id=schedule_id))
        done = next(c for c in contacts if c.end_at < NOW and c.satellite_id == 1)  # ESA's
        failing = next(c for c in contacts if c.start > NOW)
        for move, at, count in ((Move.START, done.start, None), (Move.END, done.end_at, 99)):
            report = Report(at=at, bytes_received=count)
            move_contact(session, done, move, Actor.STATION, report, now=NOW)
        failure = Report(at=NOW, reason="no lock")
        move_contact(session, failing, Move.FAIL, Actor.STATION, failure, now=NOW)
        agreement = session.scalars(select(Agreement).where(Agreement.partner_id == ESA)).one()
        agreement.embargo_days = 30  # NASA sees ESA's product a month on
        session.commit()
        metadata = product_metadata(
            satellite=done.satellite.norad_id,
            instrument="imager",
            acquired_start=done.start,
            acquired_end=done.end_at,
            owners=["esa"],
            contact_id=done.id,
        )
        product, _ = record_product(
            session, metadata, [StoredFile("a.zip", Blob("a" * 64, 3))], now=NOW
        )
        previous = load_schedule(session, schedule_id)
        assert previous is not None
        new = replan_network(session, previous, now=NOW)
        session.commit()
        assert current_schedule_ids(session) == [new.id]
        kept = newest_version(session, done)
        assert kept is not None
        assert kept.schedule_id == new.id
        assert kept.id != done.id
        assert (kept.state, kept.started_at, kept.ended_at, kept.bytes_received) == (
            ContactState.COMPLETED,
            done.start,
            done.end_at,
            99,
        )
        carried = [
            c
            for c in new.contacts
            if (c.satellite_id, c.station_id, c.start)
            == (failing.satellite_id, failing.station_id, failing.start)
        ]
        assert [(c.state, c.state_reason) for c in carried] == [(ContactState.FAILED, "no lock")]
        # The product archived from the old contact is the new contact's too, for who sees it.
        esa = Caller(partner_id=ESA, admin=False)
        nasa = Caller(partner_id=NASA, admin=False)
        assert linked_products(session, kept, esa, NOW) == [product.id]
        assert linked_products(session, done, esa, NOW) == [product.id]
        assert linked_products(session, kept, nasa, NOW) == []  # under ESA's embargo
        assert linked_products(session, carried[0], esa, NOW) == []


def test_the_tally_adds_up(world: tuple[Consortium, int]) -> None:
    """planned = delivered + failed + pending; cancelled apart; seconds by operating share."""
    consortium, schedule_id = world
    with consortium.sessions() as session:
        contacts = find_contacts(session, ContactQuery(schedule_id=schedule_id))
        later = NOW + timedelta(days=1)
        for i, c in enumerate(contacts):
            if i % 4 == 0:
                move_contact(session, c, Move.START, Actor.STATION, Report(at=c.start), now=later)
                end = Report(at=c.end_at, bytes_received=10)
                move_contact(session, c, Move.END, Actor.STATION, end, now=later)
            elif i % 4 == 1:
                fail = Report(at=c.start, reason="x")
                move_contact(session, c, Move.FAIL, Actor.STATION, fail, now=later)
            elif i % 4 == 2:
                move_contact(session, c, Move.CANCEL, Actor.OPERATOR, Report(), now=later)
        session.commit()
        joint = session.scalars(
            select(ContactRecord).where(
                ContactRecord.schedule_id == schedule_id, ContactRecord.satellite_id == 3
            )
        ).all()
        assert joint, "the test needs contacts of the joint satellite"
        totals = {p: tally(session, p, [schedule_id]) for p in (ESA, NASA)}
        for t in totals.values():
            assert (
                t.planned_contacts == t.delivered_contacts + t.failed_contacts + t.pending_contacts
            )
            assert t.delivered_s <= t.planned_s + 1e-6  # seconds
        # Every contact counts once per operator; the joint satellite's time is split in half.
        whole = sum(
            (c.end_at - c.start).total_seconds()
            for c in contacts
            if c.state is not ContactState.CANCELLED
        )
        assert totals[ESA].planned_s + totals[NASA].planned_s == pytest.approx(whole, abs=1e-3)
        assert totals[ESA].cancelled_contacts + totals[NASA].cancelled_contacts == sum(
            (2 if c.satellite_id == 3 else 1) for c in contacts if c.state is ContactState.CANCELLED
        )
        assert tally(session, ESA, []).planned_contacts == 0
        assert session.get(ScheduleRecord, schedule_id) is not None


def test_a_move_made_meanwhile_is_seen_before_moving(world: tuple[Consortium, int]) -> None:
    """Two stations' clients report at once: the second move starts from the first's state."""
    consortium, schedule_id = world
    with consortium.sessions() as first, consortium.sessions() as second:
        query = ContactQuery(schedule_id=schedule_id)
        mine = find_contacts(first, query)[0]
        stale = find_contacts(second, query)[0]  # read before the first move
        assert stale.state is ContactState.SCHEDULED
        move_contact(first, mine, Move.CANCEL, Actor.OPERATOR, Report(), now=NOW)
        first.commit()
        with pytest.raises(ContactStateError, match="cancelled contact cannot start"):
            move_contact(second, stale, Move.START, Actor.STATION, Report(at=stale.start), now=NOW)
        second.rollback()
        assert _events(second) == 1
