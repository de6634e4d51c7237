"""The link budget of a stored contact: its satellite's link, its station's G/T, its geometry."""

from __future__ import annotations

from dataclasses import dataclass

from jointsat.errors import RadioError
from jointsat.linkbudget import (
    DEFAULT_ANTENNA_DIAMETER_M,
    DEFAULT_EXCEEDED_PERCENT,
    link_budget,
)
from jointsat.operations.radio import ContactBudget, Direction, Link, find_link
from jointsat.store.convert import links_of, orbit_of, station_of
from jointsat.store.tables import ContactRecord, GroundStation, Satellite


@dataclass(frozen=True)
class BudgetOptions:
    """How a contact's budget is computed: sampling, margin, the atmosphere's statistics."""

    step_s: float = 10.0
    margin_db: float = 0.0
    exceeded_percent: float = DEFAULT_EXCEEDED_PERCENT
    antenna_diameter_m: float = DEFAULT_ANTENNA_DIAMETER_M
    atmosphere: bool = True


def downlink_of(satellite: Satellite, name: str | None = None) -> Link:
    """Return the satellite's link named ``name``, or (None) its only downlink."""
    links = links_of(satellite)
    if not links:
        raise RadioError(f"satellite {satellite.name} ({satellite.norad_id}) has no radio links")
    return find_link(links, name, Direction.DOWNLINK)


def g_over_t_of(station: GroundStation) -> float:
    """Return a stored station's G/T, refusing a station that has none."""
    if station.g_over_t_db_k is None:
        raise RadioError(f"station {station.name} has no g_over_t_db_k: a link budget needs it")
    return float(station.g_over_t_db_k)


def contact_budget_of(
    contact: ContactRecord, link_name: str | None = None, options: BudgetOptions | None = None
) -> ContactBudget:
    """Return the budget of a stored contact's downlink (RadioError says what is missing)."""
    options = options or BudgetOptions()
    satellite, station = contact.satellite, contact.station
    link = downlink_of(satellite, link_name)
    g_over_t = g_over_t_of(station)
    orbit = orbit_of(satellite)
    if orbit is None:
        raise RadioError(f"satellite {satellite.name} has no element sets or ephemerides")
    return link_budget(
        orbit,
        station_of(station),
        contact.start,
        contact.end_at,
        link,
        g_over_t_db_k=g_over_t,
        step_s=options.step_s,
        margin_db=options.margin_db,
        exceeded_percent=options.exceeded_percent,
        antenna_diameter_m=options.antenna_diameter_m,
        atmosphere=options.atmosphere,
    )
