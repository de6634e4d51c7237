"""The link budget of a stored contact: its satellite's link, its station's G/T, its geometry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jointsat.errors import RadioError
from jointsat.linkbudget import (
    DEFAULT_ANTENNA_DIAMETER_M,
    DEFAULT_EXCEEDED_PERCENT,
    link_budget,
)
from jointsat.operations.radio import ContactBudget, Direction, Link, find_link
from jointsat.store.convert import links_of, orbit_of, station_of
from jointsat.store.passes import StoredPass
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
    """Return the satellite's link named ``name``, or (None) its first downlink."""
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


def pass_volumes(
    passes: Sequence[StoredPass],
    satellites: Mapping[int, Satellite],
    stations: Mapping[int, GroundStation],
    options: BudgetOptions | None = None,
) -> list[float]:
    """Return the bytes each pass's downlink brings down, for the data-volume measure.

    Each satellite's downlink is its only downlink, or the first of several in its
    links; each station's G/T its stored one. A pass whose link cannot close is worth
    0 bytes; a satellite without a complete downlink (EIRP, data rate, required Eb/N0)
    or a station without G/T that has passes is refused with a :class:`RadioError`
    naming it, rather than valued 0 (which would silently take its partners' share).
    """
    options = options or BudgetOptions()
    links: dict[int, Link] = {}
    for satellite_id in sorted({p.satellite_id for p in passes}):
        satellite = satellites[satellite_id]
        try:
            link = find_link(links_of(satellite), None, Direction.DOWNLINK)
        except RadioError:
            raise RadioError(
                f"satellite {satellite.name} ({satellite.norad_id}) has no downlink: the "
                "data-volume measure needs one (jointsat satellite links set)"
            ) from None
        try:
            link.needed("eirp_dbw", "data_rate_bps", "required_eb_n0_db")
        except RadioError as exc:
            raise RadioError(f"satellite {satellite.name} ({satellite.norad_id}): {exc}") from None
        links[satellite_id] = link
    g_over_t = {g: g_over_t_of(stations[g]) for g in sorted({p.station_id for p in passes})}
    orbits = {s: orbit_of(satellites[s]) for s in links}
    sites = {g: station_of(stations[g]) for g in g_over_t}
    volumes = []
    for p in passes:
        orbit = orbits[p.satellite_id]
        assert orbit is not None  # its passes were predicted from it
        budget = link_budget(
            orbit,
            sites[p.station_id],
            p.found.aos,
            p.found.los,
            links[p.satellite_id],
            g_over_t_db_k=g_over_t[p.station_id],
            step_s=min(options.step_s, max(p.found.duration_s / 2.0, 0.1)),
            margin_db=options.margin_db,
            exceeded_percent=options.exceeded_percent,
            antenna_diameter_m=options.antenna_diameter_m,
            atmosphere=options.atmosphere,
        )
        volumes.append(budget.volume_bytes)
    return volumes
