"""Build the satellites and stations of the benchmarks (the shared data: tests.support.data).

The 100 LEO satellites are drawn, with a fixed seed, around the real element
sets of CelesTrak's "stations" group: real shapes of orbit, spread in plane
and phase so that passes fall everywhere.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tests.support.data import ORBITS, SHARED, STATIONS_CSV, agency_stations

from jointsat.orbits.elements import Elements

__all__ = ["ORBITS", "SHARED", "STATIONS_CSV", "agency_stations", "leo_satellites"]


def leo_satellites(count: int, *, seed: int = 2026) -> list[Elements]:
    """Return ``count`` LEO element sets with random planes and phases (seeded)."""
    from jointsat.orbits.elements import parse_elements

    base = [
        e
        for e in parse_elements((ORBITS / "stations.tle").read_text()).elements
        if 14.0 < e.mean_motion_rev_per_day < 16.2 and e.eccentricity < 0.01
    ]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        e = base[i % len(base)]
        out.append(
            dataclasses.replace(
                e,
                object_name=f"LEO-{i:04d}",
                norad_cat_id=90000 + i,
                inclination_deg=float(rng.uniform(30.0, 99.0)),
                raan_deg=float(rng.uniform(0.0, 360.0)),
                mean_anomaly_deg=float(rng.uniform(0.0, 360.0)),
                mean_motion_rev_per_day=float(rng.uniform(14.2, 15.6)),
                bstar=float(min(abs(e.bstar), 2e-4)),
                mean_motion_dot=0.0,
                mean_motion_ddot=0.0,
            )
        )
    return out
