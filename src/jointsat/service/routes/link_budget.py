"""A scheduled contact's link budget: Eb/N0 through the pass and the data it can bring down."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from jointsat.errors import RadioError
from jointsat.linkbudget import budget_rows
from jointsat.service.access import sees_satellite, sees_station
from jointsat.service.deps import SessionDep, UserDep
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import PathId
from jointsat.store.consortium import by_id, satellite_visibilities, station_visibilities
from jointsat.store.radio import BudgetOptions, contact_budget_of
from jointsat.store.tables import ContactRecord

router = APIRouter(prefix="/contacts", tags=["contacts"])


class BudgetRow(BaseModel):
    """One sample of the contact: geometry, losses, Eb/N0 and whether the link closes."""

    time: str
    range_m: float
    elevation_deg: float
    free_space_loss_db: float
    atmospheric_loss_db: float
    eb_n0_db: float
    margin_db: float = Field(description="Eb/N0 less the required Eb/N0 and the margin asked")
    closed: bool


class LinkBudgetPublic(BaseModel):
    """A contact's downlink budget: the link's figures, the closed time and the data volume."""

    contact_id: int
    satellite: str
    norad_id: int
    station: str
    start: datetime
    end: datetime
    link: str
    frequency_hz: float = Field(description="The link's frequency plus its calibration offset")
    eirp_dbw: float | None
    data_rate_bps: float | None
    required_eb_n0_db: float | None
    margin_asked_db: float
    g_over_t_db_k: float
    max_eb_n0_db: float
    min_eb_n0_db: float
    closed_s: float = Field(description="Seconds the link closes (margin >= 0)")
    volume_bits: float = Field(description="data_rate_bps times closed_s")
    volume_bytes: float
    rows: list[BudgetRow]


@router.get("/{contact_id}/link-budget", response_model=LinkBudgetPublic)
def contact_link_budget(
    contact_id: PathId,
    session: SessionDep,
    user: UserDep,
    link: Annotated[
        str | None,
        Query(max_length=100, description="The satellite's link (default: its only downlink)"),
    ] = None,
    step_s: Annotated[float, Query(ge=1.0, le=600.0, description="Seconds between rows")] = 10.0,
    margin_db: Annotated[
        float, Query(ge=0.0, le=100.0, description="Margin above the required Eb/N0, dB")
    ] = 0.0,
    exceeded_percent: Annotated[
        float,
        Query(
            ge=0.001,
            le=5.0,
            description="ITU-R P.618: the percentage of a year the atmosphere's loss is exceeded",
        ),
    ] = 1.0,
    atmosphere: Annotated[
        bool, Query(description="Include the atmosphere's loss (ITU-R P.618)")
    ] = True,
) -> LinkBudgetPublic:
    """Return a contact's downlink budget: Eb/N0 per sample, the seconds closed, the data volume.

    The link is the satellite's stored link (its EIRP, data rate and required Eb/N0),
    the station's stored G/T, the contact's pass sampled every ``step_s`` seconds. A
    contact on a satellite or station hidden from the caller answers 404; a link or
    station lacking what the budget needs, 422 naming it.
    """
    contact = by_id(session, ContactRecord, contact_id)
    if contact is None or not (
        sees_station(user, contact.station, station_visibilities(session))
        and sees_satellite(user, contact.satellite, satellite_visibilities(session))
    ):
        raise ProblemError(404, "Not found", f"no contact with id {contact_id}")
    options = BudgetOptions(
        step_s=step_s,
        margin_db=margin_db,
        exceeded_percent=exceeded_percent,
        atmosphere=atmosphere,
    )
    try:
        budget = contact_budget_of(contact, link, options)
    except RadioError as exc:
        raise ProblemError(422, "Unprocessable input", exc.reason) from None
    found = budget.link
    return LinkBudgetPublic(
        contact_id=contact.id,
        satellite=contact.satellite.name,
        norad_id=contact.satellite.norad_id,
        station=contact.station.name,
        start=contact.start,
        end=contact.end_at,
        link=found.name,
        frequency_hz=found.tuned_hz,
        eirp_dbw=found.eirp_dbw,
        data_rate_bps=found.data_rate_bps,
        required_eb_n0_db=found.required_eb_n0_db,
        margin_asked_db=budget.margin_asked_db,
        g_over_t_db_k=budget.g_over_t_db_k,
        max_eb_n0_db=round(float(budget.eb_n0_db.max()), 3),
        min_eb_n0_db=round(float(budget.eb_n0_db.min()), 3),
        closed_s=round(budget.closed_s, 3),
        volume_bits=round(budget.volume_bits, 1),
        volume_bytes=round(budget.volume_bytes, 1),
        rows=[BudgetRow.model_validate(r) for r in budget_rows(budget, contact.start)],
    )
