"""Build a small consortium store for planning: three partners, their satellites, requests.

Partners "own", "consortium" and "private" (whose agreement hides its satellites)
each operate one satellite of the CelesTrak "stations" group (epochs 2024-05-08/09)
with an imaging payload, and ask for Earth targets near agency ground sites
(NASA's NDOSL list). Users of "own": an operator and a viewer; and the admin.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from tests.support.data import orbit_file, shared

from jointsat.orbits.elements import parse_elements
from jointsat.planning.problem import Imager
from jointsat.service.app import create_app
from jointsat.service.tokens import initialise, issue_token
from jointsat.settings import Settings
from jointsat.store import migrate
from jointsat.store.database import open_engine, session_factory
from jointsat.store.requests import check_request, fill_request, set_payload
from jointsat.store.tables import (
    Agreement,
    ElementSetRecord,
    ObservationRequest,
    Partner,
    Role,
    Satellite,
    SatelliteOperator,
    User,
    Visibility,
)

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
START = datetime(2024, 5, 10, tzinfo=UTC)
OWNERS = ("own", "consortium", "private")
SATELLITES = {"own": "ISS (ZARYA)", "consortium": "CSS (TIANHE)", "private": "BURSTCUBE"}
SITES = {  # each partner's targets: NDOSL station codes
    "own": ("MPLS", "CB1D", "WAPS"),
    "consortium": ("KRUS", "AUSS", "MG1D"),
    "private": ("AGOS", "NN1D", "HBKS"),
}
PAYLOAD = Imager(id="-", memory_mbit=4_000.0, imaging_rate_mbps=40.0, downlink_rate_mbps=150.0)


def agency_sites() -> dict[str, tuple[float, float, float]]:
    """Return NDOSL agency sites by station code: latitude, longitude (degrees), height (m)."""
    path = shared("stations/ndosl_selected_agency_sites.csv")
    with path.open(newline="") as f:
        return {
            r["stdn_code"]: (
                float(r["latitude_deg"]),
                float(r["longitude_deg"]),
                float(r["height_m"]),
            )
            for r in csv.DictReader(f)
        }


def earth_request(site: str, gain: int, **extra: Any) -> dict[str, Any]:
    """Return an Earth target's JSON object at an NDOSL site."""
    lat, lon, alt = agency_sites()[site]
    return {
        "kind": "earth",
        "lat_deg": lat,
        "lon_deg": lon,
        "alt_m": alt,
        "gain": gain,
        "max_off_nadir_deg": 45.0,
        **extra,
    }


@dataclass
class PlanningWorld:
    """The store's ids and tokens, and a client of the service over it."""

    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    partner: dict[str, int] = field(default_factory=dict)
    satellite: dict[str, int] = field(default_factory=dict)
    norad: dict[str, int] = field(default_factory=dict)
    requests: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        migrate.upgrade(self.url)
        self.engine = open_engine(self.url)
        self.sessions = session_factory(self.engine)
        elements = {
            e.object_name.strip(): e
            for e in parse_elements(orbit_file("stations.tle").read_text()).elements
        }
        with self.sessions.begin() as session:
            self.tokens["admin"] = initialise(session, name="admin", now=NOW)
            for code in OWNERS:
                visibility = Visibility.PRIVATE if code == "private" else Visibility.CONSORTIUM
                partner = Partner(code=code, name=code.title(), contribution_share=1 / 3)
                session.add(Agreement(partner=partner, satellite_visibility=visibility))
                e = elements[SATELLITES[code]]
                satellite = Satellite(name=e.object_name.strip(), norad_id=e.norad_cat_id)
                satellite.operators = [SatelliteOperator(partner=partner, fraction=1.0)]
                satellite.element_sets = [
                    ElementSetRecord(epoch=e.epoch, omm=e.to_omm(), source="test", received_at=NOW)
                ]
                set_payload(satellite, PAYLOAD)
                session.add_all([partner, satellite])
                session.flush()
                self.partner[code], self.satellite[code] = partner.id, satellite.id
                self.norad[code] = satellite.norad_id
                self.requests[code] = []
                for k, site in enumerate(SITES[code]):
                    record = ObservationRequest(partner=partner)
                    request = check_request(earth_request(site, gain=k + 1), partner=code)
                    fill_request(record, request, now=NOW)
                    session.add(record)
                    session.flush()
                    self.requests[code].append(record.id)
            own = session.get(Partner, self.partner["own"])
            for role in (Role.OPERATOR, Role.VIEWER):
                user = User(name=f"own-{role.value}", role=role, partner=own, created_at=NOW)
                session.add(user)
                self.tokens[role.value] = issue_token(session, user, now=NOW)
        self.client = TestClient(create_app(Settings(database_url=self.url), clock=lambda: NOW))

    def headers(self, role: str) -> dict[str, str]:
        """Return the authorisation header of a role's user."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def close(self) -> None:
        """Close the client and the engine."""
        self.client.close()
        self.engine.dispose()
