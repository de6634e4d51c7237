"""Measure how the pass engine's time grows with satellites, stations and days.

Satellites (100, 1,000) x stations (10, 100) x days (1, 7), 10 degree mask,
LEO satellites and real SatNOGS ground stations. The issue's bound: 1,000
satellites x 100 stations x 1 day within 30 s on a 2-core machine.

    python benchmarks/passes_scaling.py [--quick]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from benchmarks.common import SHARED, leo_satellites
from jointsat.orbits.passes import find_passes
from jointsat.orbits.stations import Station

BOUND_S = 30.0


def satnogs_stations(count: int, *, seed: int = 7) -> list[Station]:
    """Return ``count`` SatNOGS stations drawn at random (seeded) from the 2024 dump."""
    with (SHARED / "stations" / "satnogs_stations_2024-01-06.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["lat"] and r["lng"]]
    picks = np.random.default_rng(seed).choice(len(rows), size=count, replace=False)
    return [
        Station(
            f"satnogs-{rows[i]['id']}",
            float(rows[i]["lat"]),
            float(rows[i]["lng"]),
            float(rows[i]["altitude"] or 0.0),
        )
        for i in picks
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1,000 x 100 x 7 case")
    args = parser.parse_args()
    start = datetime(2024, 5, 10, tzinfo=UTC)
    print(
        f"{'satellites':>10} {'stations':>8} {'days':>4} {'passes':>9} {'time_s':>8} {'us/pass':>8}"
    )
    for n_sat, n_st, days in itertools.product((100, 1000), (10, 100), (1, 7)):
        if args.quick and n_sat * n_st * days >= 700_000:
            continue
        elements = leo_satellites(n_sat)
        stations = satnogs_stations(n_st)
        t = time.perf_counter()
        passes = find_passes(
            elements, stations, start, start + timedelta(days=days), min_elevation_deg=10.0
        )
        took = time.perf_counter() - t
        note = ""
        if (n_sat, n_st, days) == (1000, 100, 1):
            note = f"  (bound {BOUND_S:g} s: {'ok' if took <= BOUND_S else 'OVER'})"
        print(
            f"{n_sat:>10} {n_st:>8} {days:>4} {len(passes):>9} {took:>8.2f} "
            f"{1e6 * took / max(len(passes), 1):>8.1f}{note}"
        )


if __name__ == "__main__":
    main()
