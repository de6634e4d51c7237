"""Build the demo consortium in a store: partners, agreements, stations, joint satellites.

The consortium is made up for the demo (real stations and satellites, invented
ownership): five agencies share the 21 bundled agency stations and five of the bundled
satellites, two of them jointly operated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jointsat.errors import StoreError
from jointsat.files import ElementFiles
from jointsat.orbits.stations import Station
from jointsat.service.tokens import initialise
from jointsat.store.tables import (
    Agreement,
    ElementSetRecord,
    GroundStation,
    Partner,
    Satellite,
    SatelliteOperator,
    Visibility,
)

# code: (name, contribution share, station visibility)
PARTNERS = {
    "esa": ("European Space Agency", 0.35, Visibility.CONSORTIUM),
    "nasa": ("NASA", 0.30, Visibility.CONSORTIUM),
    "cnes": ("CNES", 0.15, Visibility.CONSORTIUM),
    "dlr": ("DLR", 0.12, Visibility.PRIVATE),
    "asi": ("Agenzia Spaziale Italiana", 0.08, Visibility.CONSORTIUM),
}
# The first word of a bundled station's name -> its (demo) owner.
STATION_OWNERS = {
    "Kiruna": "esa",
    "Maspalomas": "esa",
    "Kourou": "esa",
    "New": "esa",
    "Malargue": "esa",
    "Cebreros": "esa",
    "Svalbard": "nasa",
    "Troll": "asi",
    "Singapore": "cnes",
    "Aussaguel": "cnes",
    "Kerguelen": "cnes",
    "Hartebeesthoek": "cnes",
    "Weilheim": "dlr",
    "Neustrelitz": "dlr",
    "Wallops": "nasa",
    "McMurdo": "nasa",
    "Santiago": "nasa",
    "South": "nasa",
    "Perth": "nasa",
    "Poker": "nasa",
}
# Catalog number -> operators and fractions (two joint satellites).
SATELLITE_OPERATORS = {
    25544: {"nasa": 0.5, "esa": 0.2, "asi": 0.1, "dlr": 0.1, "cnes": 0.1},  # ISS (ZARYA)
    44874: {"esa": 0.6, "cnes": 0.15, "asi": 0.15, "dlr": 0.1},  # CHEOPS
    59562: {"nasa": 1.0},  # BURSTCUBE
    58898: {"nasa": 0.7, "asi": 0.3},  # CYGNUS NG-20
    59097: {"nasa": 1.0},  # CREW DRAGON 8
}


@dataclass(frozen=True)
class DemoConsortium:
    """What the demo put in the store."""

    admin_token: str
    partners: dict[str, int]
    station_owner: dict[str, str]  # station name -> partner code
    operators: dict[int, dict[str, float]]  # catalog number -> partner code -> fraction


def build(
    session: Session, elements: ElementFiles, stations: tuple[Station, ...], *, now: datetime
) -> DemoConsortium:
    """Fill an empty, migrated store with the demo consortium and return its admin token."""
    if session.scalar(select(func.count()).select_from(Partner)):
        raise StoreError("the store already holds partners; the demo needs an empty store")
    token = initialise(session, name="admin", now=now)
    partners = {}
    for code, (name, share, visibility) in PARTNERS.items():
        partner = Partner(code=code, name=name, contribution_share=share)
        session.add(Agreement(partner=partner, embargo_days=180, station_visibility=visibility))
        partners[code] = partner
    owner_of = {s.name: STATION_OWNERS[s.name.split()[0]] for s in stations}
    for s in stations:
        session.add(
            GroundStation(
                name=s.name,
                owner=partners[owner_of[s.name]],
                lat_deg=s.lat_deg,
                lon_deg=s.lon_deg,
                alt_m=s.alt_m,
                min_elevation_deg=s.min_elevation_deg or 0.0,
                turnaround_s=120.0,
                bands=["S"],
            )
        )
    source_of = {}
    for source, parsed in zip(elements.sources, elements.parsed, strict=True):
        for e in parsed.elements:
            source_of[id(e)] = source
    for norad_id, fractions in SATELLITE_OPERATORS.items():
        sets = [e for e in elements.elements if e.norad_cat_id == norad_id]
        if not sets:
            raise StoreError(f"the bundled data have no element set for {norad_id}")
        satellite = Satellite(name=sets[-1].object_name, norad_id=norad_id)
        satellite.operators = [
            SatelliteOperator(partner=partners[code], fraction=f) for code, f in fractions.items()
        ]
        satellite.element_sets = [
            ElementSetRecord(
                epoch=e.epoch, omm=e.to_omm(), source=source_of[id(e)], received_at=now
            )
            for e in sets
        ]
        session.add(satellite)
    session.flush()
    return DemoConsortium(
        admin_token=token,
        partners={code: p.id for code, p in partners.items()},
        station_owner=owner_of,
        operators=SATELLITE_OPERATORS,
    )
