"""Test ``jointsat elements export`` and ``jointsat passes`` on what it writes.

Oracles: the element sets themselves (an exported OEM must give SGP4's positions
back; TLE export must give the same element set back) and the passes predicted
from the element sets.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import jointsat
from jointsat.cli import app
from jointsat.files import read_elements
from jointsat.orbits.oem import read_oem
from jointsat.orbits.propagation import group_satellites
from jointsat.timelib import TimeOrigin, parse_iso

DATA = Path(jointsat.__file__).parent / "data"
CHEOPS = str(DATA / "cheops.tle")
STATIONS = str(DATA / "agency_stations.csv")
START, END = "2024-05-09T00:00:00Z", "2024-05-10T00:00:00Z"


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_an_exported_oem_gives_sgp4s_positions_back_and_the_same_passes(tmp_path: Path) -> None:
    oem = tmp_path / "cheops.oem"
    _run(
        "elements", "export", "-f", "oem", "-e", CHEOPS, "--start", START, "--end", END,
        "--step-s", "60", "-o", str(oem),
    )  # fmt: skip
    text = oem.read_text()
    for line in ("CENTER_NAME = EARTH", "REF_FRAME = EME2000", "TIME_SYSTEM = UTC"):
        assert line in text.splitlines()
    ephemeris = read_oem(text)
    cheops = group_satellites(read_elements([CHEOPS]).elements)[0]
    origin = TimeOrigin.of(parse_iso(START))
    jd, fr = origin.julian(np.arange(5.0, 86395.0, 37.0))
    _, r_oem, _ = ephemeris.propagate(jd, fr)
    _, r_sgp4, _ = cheops.propagate(jd, fr)
    assert np.linalg.norm(r_oem - r_sgp4, axis=1).max() < 1e-6

    def passes(elements: str) -> list[dict[str, str]]:
        out = _run("passes", "-e", elements, "-s", STATIONS, "--start", START, "--end", END,
                   "-f", "csv")  # fmt: skip
        return list(csv.DictReader(io.StringIO(out)))

    from_oem, from_tle = passes(str(oem)), passes(CHEOPS)
    assert len(from_oem) == len(from_tle) > 5
    for a, b in zip(from_oem, from_tle, strict=True):
        assert a["station"] == b["station"]
        for key in ("aos", "los"):
            assert abs((parse_iso(a[key]) - parse_iso(b[key])).total_seconds()) <= 0.011


def test_tle_and_omm_export_give_the_element_set_back(tmp_path: Path) -> None:
    original = read_elements([CHEOPS]).elements
    for fmt, name in (("tle", "x.tle"), ("omm", "x.json")):
        path = tmp_path / name
        _run("elements", "export", "-f", fmt, "-e", CHEOPS, "-o", str(path))
        assert read_elements([path]).elements == original


def test_an_oem_outside_its_coverage_is_not_exported(tmp_path: Path) -> None:
    oem = tmp_path / "short.oem"
    _run("elements", "export", "-f", "oem", "-e", CHEOPS, "--start", START,
         "--end", "2024-05-09T01:00:00Z", "-o", str(oem))  # fmt: skip
    result = CliRunner().invoke(
        app, ["elements", "export", "-f", "oem", "-e", str(oem), "--start", START, "--end", END]
    )
    assert result.exit_code == 1
    assert "outside the ephemeris' coverage" in result.stderr
