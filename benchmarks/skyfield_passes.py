"""What a Skyfield user writes to list every pass: the anchor of the whole-process benchmark.

Reads a TLE file and a stations CSV (``name,lat_deg,lon_deg,alt_m``), runs
``find_events`` for every satellite-station pair, writes one CSV line per event
and, with ``--events``, the raw events for the benchmark's accuracy check.
Prints the time spent in the ``find_events`` loop alone on stderr.

    python -m benchmarks.skyfield_passes ELEMENTS STATIONS START DAYS MIN_ELEVATION OUTPUT
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from datetime import datetime, timedelta

import numpy as np
from skyfield.api import load, wgs84


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("elements")
    parser.add_argument("stations")
    parser.add_argument("start", type=datetime.fromisoformat)
    parser.add_argument("days", type=float)
    parser.add_argument("min_elevation", type=float)
    parser.add_argument("output")
    parser.add_argument("--events", help="also save the raw events here (.npz)")
    args = parser.parse_args()

    ts = load.timescale()
    satellites = load.tle_file(args.elements, ts=ts)
    with open(args.stations, newline="") as f:
        sites = [
            (r["name"], wgs84.latlon(float(r["lat_deg"]), float(r["lon_deg"]), float(r["alt_m"])))
            for r in csv.DictReader(f)
        ]
    t0 = ts.from_datetime(args.start)
    t1 = ts.from_datetime(args.start + timedelta(days=args.days))
    names = ("rise", "culminate", "set")
    loop_started = time.perf_counter()
    found = []
    for i, satellite in enumerate(satellites):
        for j, (_, site) in enumerate(sites):
            times, events = satellite.find_events(site, t0, t1, altitude_degrees=args.min_elevation)
            found.append((i, j, times, events))
    loop_s = time.perf_counter() - loop_started
    with open(args.output, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(("satellite", "norad_id", "station", "time", "event"))
        for i, j, times, events in found:
            satellite = satellites[i]
            for when, event in zip(times.utc_iso(places=3), events, strict=True):
                out.writerow(
                    (satellite.name, satellite.model.satnum, sites[j][0], when, names[event])
                )
    if args.events:
        np.savez(
            args.events,
            pairs=np.array([(i, j) for i, j, _, _ in found], dtype=np.int64).reshape(-1, 2),
            counts=np.array([len(e) for _, _, _, e in found], dtype=np.int64),
            seconds=np.concatenate([(t.tt - t0.tt) * 86400.0 for _, _, t, _ in found] + [[]]),
            events=np.concatenate([e for _, _, _, e in found] + [np.zeros(0, int)]),
        )
    print(f"find_events loop: {loop_s:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
