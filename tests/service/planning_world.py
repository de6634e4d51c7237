"""Build a small consortium store for planning: three partners, their satellites, requests.

Partners "own", "consortium" and "private" (whose agreement hides its satellites)
each operate one satellite of the CelesTrak "stations" group (epochs 2024-05-08/09)
with an imaging payload, and ask for Earth targets near agency ground sites
(NASA's NDOSL list). Users of "own": an operator and a viewer; and the admin.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import Any

from tests.support.consortium import Consortium
from tests.support.data import orbit_file, shared

from jointsat.orbits.elements import parse_elements
from jointsat.planning.problem import Imager
from jointsat.store.tables import Partner, Role, Visibility

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


class PlanningWorld(Consortium):
    """The store's ids and tokens, and a client of the service over it."""

    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        self.partner: dict[str, int] = {}
        self.satellite: dict[str, int] = {}
        self.norad: dict[str, int] = {}
        self.requests: dict[str, list[int]] = {}
        elements = {
            e.object_name.strip(): e
            for e in parse_elements(orbit_file("stations.tle").read_text()).elements
        }
        with self.session() as session:
            self.add_admin(session)
            for code in OWNERS:
                visibility = Visibility.PRIVATE if code == "private" else Visibility.CONSORTIUM
                agreement = {"satellite_visibility": visibility}
                partner = self.add_partner(
                    session, code, 1 / 3, name=code.title(), agreement=agreement
                )
                e = elements[SATELLITES[code]]
                name, operators = e.object_name.strip(), {partner: 1.0}
                satellite = self.add_satellite(
                    session, name, e.norad_cat_id, operators, [e], payload=PAYLOAD
                )
                self.partner[code], self.satellite[code] = partner.id, satellite.id
                self.norad[code] = satellite.norad_id
                self.requests[code] = [
                    self.add_request(session, partner, earth_request(site, gain=k + 1)).id
                    for k, site in enumerate(SITES[code])
                ]
            own = session.get(Partner, self.partner["own"])
            for role in (Role.OPERATOR, Role.VIEWER):
                self.add_user(session, f"own-{role.value}", role, own, key=role.value)
        self.client = self.serve()
