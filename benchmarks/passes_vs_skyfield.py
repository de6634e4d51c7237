"""Time jointsat's pass engine against Skyfield's find_events, and measure accuracy.

The case of the issue: 100 LEO satellites x 10 agency stations x 7 days with a
10 degree mask. Skyfield loops over the pairs, as a user must; both run in this
one process on the same elements. Prints both times, the ratio, and how the
passes compare (same set; AOS, LOS, TCA and maximum elevation differences).

    python benchmarks/passes_vs_skyfield.py [--satellites 100] [--stations 10] [--days 7]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from tests.support.skyfield_oracle import compare, complete_passes, skyfield_events

from benchmarks.common import agency_stations, leo_satellites
from jointsat.executors import dask_client
from jointsat.orbits.passes import find_passes

TARGET_SPEEDUP = 50.0
TOLERANCES = {"aos_s": 0.5, "los_s": 0.5, "tca_s": 2.0, "max_elevation_deg": 0.05}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, default=100)
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--min-elevation", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3, help="jointsat runs; the best counts")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="workers of a local Dask cluster for jointsat (this machine: 2 cores)",
    )
    args = parser.parse_args()

    elements = leo_satellites(args.satellites)
    stations = agency_stations(args.stations)
    start = datetime(2024, 5, 10, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    print(
        f"case: {len(elements)} LEO satellites x {len(stations)} stations x {args.days:g} days, "
        f"{args.min_elevation:g} deg mask"
    )

    t = time.perf_counter()
    raw = skyfield_events(elements, stations, start, end, args.min_elevation)
    sky_s = time.perf_counter() - t
    rises = sum(int((r.events == 0).sum()) for r in raw)
    print(f"skyfield find_events : {sky_s:8.3f} s  ({rises} rises)")

    for workers in sorted({1, args.workers}):
        ours_s = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            if workers == 1:
                passes = find_passes(
                    elements, stations, start, end, min_elevation_deg=args.min_elevation
                )
            else:  # a local Dask cluster, its start included
                with dask_client("local", workers) as client:
                    passes = find_passes(
                        elements,
                        stations,
                        start,
                        end,
                        min_elevation_deg=args.min_elevation,
                        executor=client.get_executor(),
                        satellites_per_block=-(-len(elements) // workers),
                    )
            ours_s = min(ours_s, time.perf_counter() - t)
        ratio = sky_s / ours_s
        where = "one process" if workers == 1 else f"{workers} Dask workers, start included"
        verdict = "meets" if ratio >= TARGET_SPEEDUP else "misses"
        print(
            f"jointsat find_passes : {ours_s:8.3f} s  ({len(passes)} passes, {where}, "
            f"best of {args.repeat}): {ratio:6.1f}x Skyfield, "
            f"{verdict} the {TARGET_SPEEDUP:g}x target"
        )

    sky = complete_passes(raw, elements, stations, start, refine_maxima=True)
    c = compare(passes, sky)
    print(
        f"same passes          : {c.matched} of Skyfield's {c.skyfield_passes} complete passes "
        f"matched, {len(c.missed)} missed, {len(c.extra)} extra"
    )
    for label, value, key, unit in (
        ("AOS", c.aos_max_s, "aos_s", "s"),
        ("LOS", c.los_max_s, "los_s", "s"),
        ("TCA", c.tca_max_s, "tca_s", "s"),
        ("max elevation", c.max_elevation_max_deg, "max_elevation_deg", "deg"),
    ):
        ok = "ok" if value <= TOLERANCES[key] else "OVER"
        print(f"  max |diff| {label:14s}: {value:8.4f} {unit} (tolerance {TOLERANCES[key]}: {ok})")


if __name__ == "__main__":
    main()
