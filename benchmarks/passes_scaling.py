"""Measure how the pass engine's time grows with satellites, stations and days.

Satellites (100, 1,000) x stations (10, 100) x days (1, 7), 10 degree mask,
LEO satellites and real SatNOGS ground stations. The issue's bound: 1,000
satellites x 100 stations x 1 day within 30 s on a 2-core machine.

``--per-pass`` measures the catalogue's cost instead: 1,000 LEO satellites x
300 SatNOGS stations (each with its own minimum horizon) x 1 day, in this one
process, in microseconds per pass (the catalogue's target, for the whole
process at 30,000 objects: 4 us).

    python benchmarks/passes_scaling.py [--quick | --per-pass]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from benchmarks.common import SHARED, leo_satellites
from jointsat.orbits.passes import find_passes
from jointsat.orbits.stations import Station

BOUND_S = 30.0
PER_PASS_TARGET_US = 4.0


def satnogs_stations(count: int, *, seed: int = 7, own_horizon: bool = False) -> list[Station]:
    """Return ``count`` SatNOGS stations drawn at random (seeded) from the 2024 dump.

    With ``own_horizon`` each keeps its ``min_horizon`` as its minimum elevation.
    """
    with (SHARED / "stations" / "satnogs_stations_2024-01-06.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["lat"] and r["lng"]]
    picks = np.random.default_rng(seed).choice(len(rows), size=count, replace=False)
    return [
        Station(
            f"satnogs-{rows[i]['id']}",
            float(rows[i]["lat"]),
            float(rows[i]["lng"]),
            float(rows[i]["altitude"] or 0.0),
            min_elevation_deg=(
                min(float(rows[i]["min_horizon"]), 89.0)
                if own_horizon and rows[i]["min_horizon"]
                else None
            ),
        )
        for i in picks
    ]


def per_pass(satellites: int, stations: int, days: float, repeat: int) -> None:
    """Time find_passes in this process on SatNOGS stations and print microseconds per pass."""
    elements = leo_satellites(satellites)
    sites = satnogs_stations(stations, own_horizon=True)
    start = datetime(2024, 5, 10, tzinfo=UTC)
    best = float("inf")
    count = 0
    for _ in range(repeat):
        t = time.perf_counter()
        passes = find_passes(
            elements, sites, start, start + timedelta(days=days), min_elevation_deg=10.0
        )
        best = min(best, time.perf_counter() - t)
        count = len(passes)
    if count == 0:
        sys.exit("no passes found")
    us = 1e6 * best / count
    verdict = "meets" if us <= PER_PASS_TARGET_US else "misses"
    print(
        f"{satellites} LEO x {stations} SatNOGS stations (own horizons) x {days:g} day(s), "
        f"1 process: {count} passes in {best:.2f} s (best of {repeat}): {us:.2f} us/pass, "
        f"{verdict} the catalogue's {PER_PASS_TARGET_US:g} us target"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1,000 x 100 x 7 case")
    parser.add_argument(
        "--per-pass", action="store_true", help="1,000 LEO x 300 SatNOGS stations x 1 day"
    )
    parser.add_argument("--satellites", type=int, default=1000, help="with --per-pass")
    parser.add_argument("--stations", type=int, default=300, help="with --per-pass")
    parser.add_argument("--days", type=float, default=1.0, help="with --per-pass")
    parser.add_argument("--repeat", type=int, default=1, help="with --per-pass: the best counts")
    args = parser.parse_args()
    if args.per_pass:
        per_pass(args.satellites, args.stations, args.days, args.repeat)
        return
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
