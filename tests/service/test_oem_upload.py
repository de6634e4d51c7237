"""Check OEM uploads: stored as a satellite's ephemeris, predicted where it covers, element
sets elsewhere; bad OEMs and callers who may not upload are refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from tests.support.consortium import Consortium, element_set
from tests.support.data import orbit_file

from jointsat.orbits.elements import Elements, parse_elements
from jointsat.orbits.export import sample_oem
from jointsat.orbits.frames import geodetic_to_ecef
from jointsat.orbits.oem import format_oem
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import group_satellites
from jointsat.orbits.stations import Station
from jointsat.store.tables import Role, Visibility

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
START = datetime(2024, 5, 10, tzinfo=UTC)
COVERED = timedelta(hours=12)  # the OEM covers START to START + 12 h
REDU = (50.002, 5.146, 370.0)
ISS = parse_elements(orbit_file("stations.tle").read_text()).elements[0]
SHIFTED = dataclasses.replace(ISS, mean_anomaly_deg=(ISS.mean_anomaly_deg + 10.0) % 360.0)
OEM_ONLY, BOTH, ISS_COPY, SHIFTED_COPY = 90001, 25544, 90003, 90002


def _oem(elements: Elements) -> str:
    orbit = group_satellites([elements])[0]
    samples = sample_oem(orbit, str(elements.norad_cat_id), START, START + COVERED, 60.0)
    return format_oem(samples, created=NOW - timedelta(hours=1))


class World(Consortium):
    def __init__(self, url: str) -> None:
        super().__init__(url, now=NOW)
        with self.session() as session:
            self.add_admin(session)
            esa = self.add_partner(session, "esa", 0.5, agreement={})
            hidden = {"satellite_visibility": Visibility.PRIVATE}
            nasa = self.add_partner(session, "nasa", 0.5, agreement=hidden)
            self.add_station(session, "Redu", esa, *REDU[:2], alt_m=REDU[2], min_elevation_deg=10.0)
            self.ids = {
                norad: self.add_satellite(session, f"S{norad}", norad, {owner: 1.0}, sets).id
                for norad, owner, sets in (
                    (OEM_ONLY, esa, []),
                    (BOTH, esa, [ISS]),
                    (ISS_COPY, esa, [element_set(ISS, NORAD_CAT_ID=ISS_COPY)]),
                    (SHIFTED_COPY, esa, [element_set(SHIFTED, NORAD_CAT_ID=SHIFTED_COPY)]),
                    (90004, nasa, []),
                )
            }
            self.add_user(session, "esa-ops", Role.OPERATOR, esa)
            self.add_user(session, "esa-view", Role.VIEWER, esa)
            self.add_user(session, "nasa-ops", Role.OPERATOR, nasa)
        self.client = self.serve()

    def upload(self, norad: int, text: str, who: str = "esa-ops") -> tuple[int, dict[str, Any]]:
        response = self.client.post(
            f"/api/v1/satellites/{self.ids[norad]}/elements",
            content=text,
            headers={**self.headers(who), "Content-Type": "text/plain"},
        )
        return response.status_code, response.json()

    def positions(self, at: datetime) -> dict[int, dict[str, Any]]:
        answer = self.client.get(
            "/api/v1/satellites/positions",
            params={"at": at.isoformat()},
            headers=self.headers("admin"),
        )
        assert answer.status_code == 200, answer.text
        return {p["norad_id"]: p for p in answer.json()}

    def passes(self) -> list[dict[str, Any]]:
        window = {"start": START.isoformat(), "end": (START + timedelta(days=1)).isoformat()}
        answer = self.client.get("/api/v1/passes", params=window, headers=self.headers("admin"))
        assert answer.status_code == 200, answer.text
        return list(answer.json())


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    w = World(store_url)
    yield w
    w.close()


def _ecef_m(p: dict[str, Any]) -> np.ndarray:
    return 1000.0 * np.asarray(geodetic_to_ecef(p["lat_deg"], p["lon_deg"], 1000.0 * p["alt_km"]))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_an_oem_alone_predicts_the_elements_it_was_sampled_from_inside_its_coverage(
    world: World,
) -> None:
    status, stored = world.upload(OEM_ONLY, _oem(ISS))  # OBJECT_ID 25544: the upload names it
    assert status == 201, stored
    assert stored["stored"] == 1
    assert stored["satellite"]["ephemerides"] == 1
    assert stored["ephemeris"]["frame"] == "EME2000"
    assert _when(stored["ephemeris"]["coverage_start"]) == START
    assert _when(stored["ephemeris"]["coverage_end"]) == START + COVERED
    assert world.upload(OEM_ONLY, _oem(ISS))[0] == 200  # the same text again: already known
    for hours in (1.0, 5.5, 11.9):
        seen = world.positions(START + timedelta(hours=hours))
        gap = np.linalg.norm(_ecef_m(seen[OEM_ONLY]) - _ecef_m(seen[ISS_COPY]))
        assert gap < 1.0, hours
    outside = world.positions(START + COVERED + timedelta(hours=1))[OEM_ONLY]
    assert outside["lat_deg"] is None
    assert "coverage" in outside["error"]
    served = [p for p in world.passes() if p["norad_id"] == OEM_ONLY]
    station = Station("Redu", *REDU, min_elevation_deg=10.0)
    oracle = find_passes([ISS], [station], START, START + timedelta(days=1)).rows()
    inside = [p for p in oracle if p.los < START + COVERED]
    assert inside
    assert len(inside) < len(oracle)  # passes on both sides of the coverage's end
    assert len(served) == len(inside)  # none outside the coverage
    for got, want in zip(served, inside, strict=True):
        assert abs((_when(got["aos"]) - want.aos).total_seconds()) < 0.01
        assert abs((_when(got["los"]) - want.los).total_seconds()) < 0.01


def test_an_oem_is_preferred_inside_its_coverage_and_the_elements_used_outside(
    world: World,
) -> None:
    status, _ = world.upload(BOTH, _oem(SHIFTED))
    assert status == 201
    inside = world.positions(START + timedelta(hours=3))
    assert np.linalg.norm(_ecef_m(inside[BOTH]) - _ecef_m(inside[SHIFTED_COPY])) < 1.0
    assert np.linalg.norm(_ecef_m(inside[BOTH]) - _ecef_m(inside[ISS_COPY])) > 100e3
    outside = world.positions(START + COVERED + timedelta(hours=3))
    assert np.linalg.norm(_ecef_m(outside[BOTH]) - _ecef_m(outside[ISS_COPY])) < 1.0
    passes = world.passes()
    for copy, first, last in (
        (SHIFTED_COPY, START, START + COVERED),
        (ISS_COPY, START + COVERED, START + timedelta(days=1)),
    ):
        want, got = _aos(passes, copy, first, last), _aos(passes, BOTH, first, last)
        assert want
        assert len(got) == len(want)
        assert all(abs((a - b).total_seconds()) < 0.01 for a, b in zip(got, want, strict=True))


def _aos(
    passes: list[dict[str, Any]], norad: int, first: datetime, last: datetime
) -> list[datetime]:
    """Return the AOS of the satellite's passes that lie within [first, last]."""
    return [
        _when(p["aos"])
        for p in passes
        if p["norad_id"] == norad and first <= _when(p["aos"]) and _when(p["los"]) <= last
    ]


def test_a_bad_oem_is_refused_in_one_line_and_stores_nothing(world: World) -> None:
    bad = _oem(ISS).replace("CENTER_NAME = EARTH", "CENTER_NAME = MARS")
    status, problem = world.upload(OEM_ONLY, bad)
    assert status == 422
    assert "CENTER_NAME" in problem["detail"]
    assert "\n" not in problem["detail"]
    satellite = world.client.get(
        f"/api/v1/satellites/{world.ids[OEM_ONLY]}", headers=world.headers("admin")
    ).json()
    assert satellite["ephemerides"] == 0


def test_only_those_who_may_upload_elements_upload_an_oem(world: World) -> None:
    oem = _oem(ISS)
    assert world.upload(90004, oem, "esa-ops")[0] == 404  # NASA's satellite is private
    assert world.upload(OEM_ONLY, oem, "nasa-ops")[0] == 403
    assert world.upload(OEM_ONLY, oem, "esa-view")[0] == 403
    assert world.upload(90004, oem, "nasa-ops")[0] == 201
