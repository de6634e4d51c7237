"""The radio records on the command line, both ways: satellites' links, stations' rotators and G/T.

On a store (``--database-url``) and against a real server over HTTP; the oracle is
the API's own answer (the links as ``operations.radio`` writes them back).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_cli_manage import World, ok, refused, rows, served, world
from typer.testing import Result

__all__ = ["served", "world"]  # the fixtures, shared with the management commands' tests

LINKS = [
    {
        "name": "uhf-down",
        "direction": "downlink",
        "frequency_hz": 437.8e6,
        "offset_hz": -250.0,
        "eirp_dbw": 0.0,
        "data_rate_bps": 9600.0,
        "required_eb_n0_db": 12.0,
    },
    {
        "name": "v-u",
        "direction": "uplink",
        "frequency_hz": 145.9e6,
        "transponder": {
            "uplink_low_hz": 145.85e6,
            "uplink_high_hz": 145.95e6,
            "downlink_low_hz": 435.15e6,
            "downlink_high_hz": 435.25e6,
            "inverted": True,
        },
    },
]


@pytest.mark.parametrize("way", ["store", "server"])
def test_satellite_links_are_set_shown_and_checked(served: World, way: str, tmp_path: Path) -> None:
    def run(*args: str) -> Result:
        return served.store(*args) if way == "store" else served.remote("esa-ops", *args)

    path = tmp_path / "links.json"
    path.write_text(json.dumps(LINKS))
    shown = json.loads(ok(run("satellite", "links", "set", "25544", "--file", str(path), "-f",
                              "json")))  # fmt: skip
    stored = served.api("admin", "/satellites")[0]["links"]
    assert shown == stored
    assert [k["name"] for k in stored] == ["uhf-down", "v-u"]
    assert stored[0]["polarization_loss_db"] == 0.0  # written out in full
    assert stored[1]["transponder"]["inverted"] is True
    listed = rows(ok(run("satellite", "links", "show", "25544", "-f", "csv")))
    assert [r["name"] for r in listed] == ["uhf-down", "v-u"]
    assert "inverted" in ok(run("satellite", "links", "show", "25544"))
    path.write_text(json.dumps([{**LINKS[0], "direction": "sideways"}]))
    bad = refused(run("satellite", "links", "set", "25544", "--file", str(path)))
    assert "links[0].direction must be 'downlink' or 'uplink'" in bad
    ok(run("satellite", "links", "set", "25544", "--clear"))
    assert served.api("admin", "/satellites")[0]["links"] == []


@pytest.mark.parametrize("way", ["store", "server"])
def test_station_rotator_and_g_over_t(served: World, way: str) -> None:
    def run(*args: str) -> Result:
        return served.store(*args) if way == "store" else served.remote("esa-ops", *args)

    ident = str(next(s["id"] for s in served.api("admin", "/stations") if s["name"] == "Kiruna"))
    default = json.loads(ok(run("station", "rotator", "show", ident, "-f", "json")))
    assert default is None
    assert "default model" in ok(run("station", "rotator", "show", ident))
    changed = json.loads(
        ok(run("station", "rotator", "set", ident, "--azimuth-range", "-180", "540",
               "--elevation-rate", "3", "--beamwidth", "12", "-f", "json"))
    )  # fmt: skip
    assert changed == served.api("admin", f"/stations/{ident}")["rotator"]
    assert (changed["azimuth_min_deg"], changed["azimuth_max_deg"]) == (-180.0, 540.0)
    assert (changed["elevation_rate_deg_s"], changed["beamwidth_deg"]) == (3.0, 12.0)
    assert changed["azimuth_rate_deg_s"] == 6.0  # kept: the default
    again = json.loads(ok(run("station", "rotator", "set", ident, "--azimuth-rate", "2", "-f",
                              "json")))  # fmt: skip
    assert (again["azimuth_rate_deg_s"], again["beamwidth_deg"]) == (2.0, 12.0)  # others stay
    bad = refused(run("station", "rotator", "set", ident, "--azimuth-range", "0", "300"))
    assert "spans 300 deg" in bad
    ok(run("station", "rotator", "set", ident, "--clear"))
    assert served.api("admin", f"/stations/{ident}")["rotator"] is None
    ok(run("station", "update", ident, "--g-over-t-db-k", "-12.5"))
    assert served.api("admin", f"/stations/{ident}")["g_over_t_db_k"] == -12.5
    ok(run("station", "update", ident, "--no-g-over-t"))
    assert served.api("admin", f"/stations/{ident}")["g_over_t_db_k"] is None
