"""The demo's station operations: one contact, from its pointing plan to the product it delivered.

The archive step of the demo (``demo.archive_plan``) records, for each stand-in
product, the contact of the schedule that brought it down. Here the first such contact
is run as a station would run it, through the same functions the CLI and the service
use: its rotator's pointing plan and its downlink's Doppler table
(``operations.contact_plans``), its link budget (``store.radio``, ITU-R P.618 through
``itur``), then its lifecycle (``store.contacts``): confirmed by the station's owner,
started and ended by the station's reports with the bytes the budget says it brought
down; the products archived from it and the operating partner's tally close it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from jointsat.archive.rights import Caller
from jointsat.errors import StoreError
from jointsat.operations.contact_plans import choose_link, doppler_window, plan_window
from jointsat.operations.lifecycle import Actor, Move, Report
from jointsat.store.contact_outputs import contact_model, load_contact
from jointsat.store.contacts import linked_products, move_contact, tally
from jointsat.store.radio import contact_budget_of
from jointsat.store.tables import Partner, Product

STEP_S = 1.0  # the pointing plan's and the Doppler table's sampling


@dataclass(frozen=True)
class Operated:
    """One contact run by the demo: its plan, Doppler, budget, lifecycle and products."""

    contact_id: int
    satellite: str
    station: str
    start: datetime
    end: datetime
    pointing_mode: str
    preposition_s: float
    max_lag_deg: float
    rows: int
    link: str
    frequency_hz: float
    doppler_max_hz: float  # the largest shift from the link's frequency through the contact
    eb_n0_max_db: float
    closed_s: float
    states: tuple[str, ...]  # the states it went through, from the first
    bytes_received: int
    products: tuple[str, ...]
    partner: str  # the satellite's main operator, whose tally follows
    tally: dict[str, Any]


def operate(sessions: Any, *, now: datetime) -> Operated:
    """Run the first contact that brought down an archived product; return what it did."""
    with sessions() as session:
        contact_id = session.scalar(
            select(Product.contact_id)
            .where(Product.contact_id.is_not(None))
            .order_by(Product.acquired_start, Product.id)
            .limit(1)
        )
        record = None if contact_id is None else load_contact(session, contact_id)
        if record is None:
            raise StoreError("the demo archived no product from a contact")
        contact = contact_model(record)
        planned = plan_window(
            contact.orbit, contact.station, contact.window, contact.rotator, STEP_S
        )
        tuning = choose_link(contact.links, None, False)
        doppler = doppler_window(
            contact.orbit, contact.station, contact.window, tuning.frequency_hz, STEP_S
        )
        budget = contact_budget_of(record)
        received = round(budget.volume_bytes)
        states = [str(record.state)]
        for move, actor, report in (
            (Move.CONFIRM, Actor.OPERATOR, Report()),
            (Move.START, Actor.STATION, Report(at=record.start)),
            (Move.END, Actor.STATION, Report(at=record.end_at, bytes_received=received)),
        ):
            move_contact(session, record, move, actor, report, now=now)
            states.append(str(record.state))
        session.commit()
        operator = max(record.satellite.operators, key=lambda o: (o.fraction, -o.partner_id))
        partner = session.get(Partner, operator.partner_id)
        assert partner is not None  # an operator is a partner of the store
        counted = tally(session, partner.id, [record.schedule_id])
        plan = planned.plan
        return Operated(
            contact_id=record.id,
            satellite=record.satellite.name,
            station=record.station.name,
            start=record.start,
            end=record.end_at,
            pointing_mode=plan.mode.value,
            preposition_s=plan.preposition_s,
            max_lag_deg=plan.max_lag_deg,
            rows=int(plan.time_s.size),
            link=tuning.name,
            frequency_hz=tuning.frequency_hz,
            doppler_max_hz=float(np.max(np.abs(doppler.table.frequency_hz - tuning.frequency_hz))),
            eb_n0_max_db=float(np.max(budget.eb_n0_db)),
            closed_s=budget.closed_s,
            states=tuple(states),
            bytes_received=received,
            products=tuple(linked_products(session, record, Caller(admin=True), now)),
            partner=partner.code,
            tally={
                "planned_contacts": counted.planned_contacts,
                "delivered_contacts": counted.delivered_contacts,
                "delivered_bytes": counted.delivered_bytes,
                "pending_contacts": counted.pending_contacts,
            },
        )
