"""A consortium for the design tests: partners' areas of interest and small, fast studies.

Each study flies two satellites over boxes a few degrees wide on a coarse grid for a
few hours: a fraction of a second each, so that the background runner finishes at once.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

START = "2024-05-10T00:00:00Z"
SMALL = {"constellations": ["walker:2/1/0:550:53"], "start": START, "days": 0.25, "grid_deg": 2.0}


def box(name: str, west: float, south: float, east: float, north: float) -> dict[str, Any]:
    """Return a GeoJSON Feature of a longitude-latitude box named ``name``."""
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def finish(client: TestClient, timeout_s: float = 120.0) -> None:
    """Wait until the app's runner has run every queued study."""
    assert client.app.state.design_runner.wait_idle(timeout_s)  # type: ignore[attr-defined]
