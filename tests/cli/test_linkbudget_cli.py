"""Test ``jointsat linkbudget``: the budget of each pass, from files and for a stored contact.

The rows are checked against the link budget recomputed here from each row's range,
elevation and atmospheric loss (ITU-R P.525 and the Eb/N0 sum), the passes against
the pass engine's, and the totals against the rows (the data rate times the seconds
the margin is >= 0, taken as linear between rows).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from pathlib import Path

import pytest
from tests.service.test_radio_api import DOWNLINK, World, world
from tests.support.server import in_thread
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.files import DEMO_STATIONS_FILE, bundled_file, read_elements, read_stations
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import build_orbits
from jointsat.service.app import create_app
from jointsat.settings import Settings
from jointsat.timelib import parse_iso

ELEMENTS = str(bundled_file("stations.tle"))
STATIONS = str(bundled_file(DEMO_STATIONS_FILE))
STATION = "Cebreros CB1D"
START, END = "2024-05-10T03:00:00Z", "2024-05-10T05:30:00Z"  # two ISS passes
LINK = {
    "name": "s-down",
    "direction": "downlink",
    "frequency_hz": 2.2e9,
    "offset_hz": 0.0,
    "eirp_dbw": 3.0,
    "data_rate_bps": 1e6,
    "required_eb_n0_db": 4.5,
    "polarization_loss_db": 0.5,
}
__all__ = ["world"]  # the fixture: a stored contact (tests/service/test_radio_api.py)
G_OVER_T = 5.0
# Rows are rounded to 1e-3 dB, ranges to 0.1 m; totals to 1e-3 s.
row_db = 3e-3
closed_s = 0.5


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["linkbudget", *args])


def files_args(*extra: str) -> list[str]:
    return ["-e", ELEMENTS, "-s", STATIONS, "--satellite", "25544", "--station", STATION,
            "--start", START, "--end", END, "--g-over-t-db-k", str(G_OVER_T), *extra]  # fmt: skip


def interval_closed_s(rows: list[dict[str, object]]) -> float:
    """Seconds with margin >= 0, linear between rows: computed here independently."""
    total = 0.0
    for a, b in itertools.pairwise(rows):
        ta, tb = parse_iso(str(a["time"])), parse_iso(str(b["time"]))
        dt = (tb - ta).total_seconds()
        ma, mb = float(str(a["margin_db"])), float(str(b["margin_db"]))
        if ma >= 0 and mb >= 0:
            total += dt
        elif (ma >= 0) != (mb >= 0):
            total += dt * max(ma, mb) / abs(mb - ma)
    return total


def test_each_pass_has_its_budget(tmp_path: Path) -> None:
    link_file = tmp_path / "link.json"
    link_file.write_text(json.dumps([LINK, {**LINK, "name": "x", "direction": "uplink"}]))
    result = invoke(*files_args("--link-json", str(link_file), "--step", "5", "-f", "json"))
    assert result.exit_code == 0, result.output
    passes = json.loads(result.stdout)["passes"]
    orbits = build_orbits(read_elements([Path(ELEMENTS)]).orbits)
    station = next(s for s in read_stations(Path(STATIONS)) if s.name == STATION)
    iss = next(o for o in orbits if o.norad_id == 25544)
    found = list(find_passes([iss], [station], parse_iso(START), parse_iso(END)).rows())
    assert len(passes) == len(found) == 2
    for p, q in zip(passes, found, strict=True):
        assert abs((parse_iso(p["start"]) - q.aos).total_seconds()) < 1e-3
        for row in p["rows"]:
            fspl = 20 * math.log10(4 * math.pi * row["range_m"] * 2.2e9 / 299_792_458.0)
            expected = (3.0 - fspl - row["atmospheric_loss_db"] - 0.5 + G_OVER_T + 228.5991
                        - 60.0)  # fmt: skip
            assert row["eb_n0_db"] == pytest.approx(expected, abs=row_db)
            assert row["margin_db"] == pytest.approx(expected - 4.5, abs=row_db)
        assert p["closed_s"] == pytest.approx(interval_closed_s(p["rows"]), abs=closed_s)
        assert p["volume_bits"] == pytest.approx(1e6 * p["closed_s"], rel=1e-6)
    csv_result = invoke(*files_args("--link-json", str(link_file), "--step", "5"))
    assert csv_result.exit_code == 0, csv_result.output
    rows = list(csv.DictReader(io.StringIO(csv_result.stdout)))
    assert len(rows) == sum(len(p["rows"]) for p in passes)
    assert "closed" in csv_result.stderr
    assert "bytes" in csv_result.stderr


def test_inline_figures_and_margin() -> None:
    figures = ("--frequency-hz", "2.2e9", "--eirp-dbw", "3", "--data-rate-bps", "1e6",
               "--required-eb-n0-db", "4.5", "--polarization-loss-db", "0.5",
               "-f", "json")  # fmt: skip
    plain = json.loads(invoke(*files_args(*figures)).stdout)["passes"]
    margin = json.loads(invoke(*files_args(*figures, "--margin-db", "3")).stdout)["passes"]
    for a, b in zip(plain, margin, strict=True):
        assert b["closed_s"] <= a["closed_s"]  # a margin asked can only shorten the time closed
        assert [r["margin_db"] for r in b["rows"]] == pytest.approx(
            [r["margin_db"] - 3.0 for r in a["rows"]], abs=row_db
        )


def test_bad_input_is_named(tmp_path: Path) -> None:
    missing = invoke("-e", ELEMENTS, "--frequency-hz", "2.2e9")
    assert missing.exit_code == 2
    assert "missing --stations" in missing.output
    link_file = tmp_path / "link.json"
    link_file.write_text(json.dumps({**LINK, "eirp_dbw": None}))
    no_eirp = invoke(*files_args("--link-json", str(link_file)))
    assert no_eirp.exit_code == 1
    assert "has no eirp_dbw" in no_eirp.stderr
    link_file.write_text(json.dumps({**LINK, "direction": "sideways"}))
    bad = invoke(*files_args("--link-json", str(link_file)))
    assert bad.exit_code == 1
    assert "direction must be 'downlink' or 'uplink'" in bad.stderr
    both = invoke("--contact", "3", "-e", ELEMENTS)
    assert both.exit_code == 2


def test_a_stored_contact_is_the_apis_budget(world: World) -> None:
    ops = world.headers("esa-ops")
    world.client.patch(
        f"/api/v1/satellites/{world.satellite_id}", json={"links": [DOWNLINK]}, headers=ops
    )
    result = CliRunner().invoke(
        app,
        ["linkbudget", "--contact", str(world.contact_id), "--database-url", world.url,
         "-f", "json"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no g_over_t_db_k" in result.stderr
    world.client.patch(
        f"/api/v1/stations/{world.station_id}", json={"g_over_t_db_k": -15.0}, headers=ops
    )
    result = CliRunner().invoke(
        app,
        ["linkbudget", "--contact", str(world.contact_id), "--database-url", world.url,
         "-f", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (found,) = json.loads(result.stdout)["passes"]
    api = world.client.get(f"/api/v1/contacts/{world.contact_id}/link-budget", headers=ops).json()
    for key in ("link", "closed_s", "volume_bytes", "max_eb_n0_db", "frequency_hz"):
        assert found[key] == api[key], key
    assert found["rows"] == api["rows"]
    # Over HTTP, with the operator's token: the API's answer itself (a margin asked too).
    with in_thread(create_app(Settings(database_url=world.url))) as base:
        remote = CliRunner().invoke(
            app,
            ["linkbudget", "--contact", str(world.contact_id), "--margin-db", "2",
             "--url", base, "--token", world.tokens["esa-ops"], "-f", "json"],
        )  # fmt: skip
        hidden = CliRunner().invoke(
            app,
            ["linkbudget", "--contact", str(world.hidden_contact_id),
             "--url", base, "--token", world.tokens["esa-ops"]],
        )  # fmt: skip
    assert remote.exit_code == 0, remote.output
    (over_http,) = json.loads(remote.stdout)["passes"]
    assert over_http["margin_asked_db"] == 2.0
    assert [r["margin_db"] for r in over_http["rows"]] == pytest.approx(
        [r["margin_db"] - 2.0 for r in api["rows"]], abs=row_db
    )
    assert hidden.exit_code == 1
    assert "404" in hidden.stderr
