"""Find the real public data the tests and benchmarks share in ``../shared/data``.

The folder sits beside the project root (DEVELOPERS.md, "Data");
``JOINTSAT_TEST_SHARED_DATA`` names another. A test that needs a file of it calls
``shared`` (or ``orbit_file``): when the file is missing, the test, or the whole module
when called at import, is skipped with the path it looked for.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from jointsat.orbits.stations import Station

SHARED_VARIABLE = "JOINTSAT_TEST_SHARED_DATA"
SHARED = Path(
    os.environ.get(SHARED_VARIABLE) or Path(__file__).resolve().parents[3] / "shared" / "data"
)
ORBITS = SHARED / "orbits"
STATIONS_CSV = SHARED / "stations" / "ndosl_selected_agency_sites.csv"


def shared(relative: str) -> Path:
    """Return a file or folder of the shared data, or skip the caller when it is missing."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(
            f"the shared data has no {relative} (looked for {path}; "
            f"set {SHARED_VARIABLE} to the folder holding it)",
            allow_module_level=True,
        )
    return path


def orbit_file(name: str) -> Path:
    """Return an element file of ``shared/data/orbits``, or skip the caller without it."""
    return shared(f"orbits/{name}")


def agency_stations(count: int) -> list[Station]:
    """Return the first ``count`` agency stations of NASA's station directory."""
    with shared(str(STATIONS_CSV.relative_to(SHARED))).open(newline="") as f:
        rows = list(csv.DictReader(f))
    stations = [
        Station(
            f"{r['stdn_code']}",
            float(r["latitude_deg"]),
            float(r["longitude_deg"]),
            float(r["height_m"]),
        )
        for r in rows
    ]
    return stations[:count]
