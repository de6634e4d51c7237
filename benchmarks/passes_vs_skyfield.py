"""Time jointsat's passes against Skyfield's find_events, as whole processes and in-process.

The case of the issue: 100 LEO satellites x 10 agency stations x 7 days with a
10 degree mask, written to a TLE file and a stations CSV. Side by side in one run:

- whole processes, what a user waits for (start-up, parsing, output): a Skyfield
  script (benchmarks/skyfield_passes.py: find_events for every pair, a CSV line per
  event) against ``jointsat passes --format csv`` and ``--format json``;
- in-process: Skyfield's find_events loop (timed inside that script) against
  ``find_passes``.

Prints each time, the ratio to Skyfield, the cost per pass in microseconds, and
how the passes compare with Skyfield's (same set; AOS, LOS, TCA and maximum
elevation). Exits non-zero if a run fails, finds nothing, or the passes differ
beyond the tolerances.

    python -m benchmarks.passes_vs_skyfield [--satellites 100] [--stations 10] [--days 7]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from tests.support.skyfield_oracle import SkyEvents, compare, complete_passes

from benchmarks.common import agency_stations, leo_satellites
from jointsat.orbits.elements import ElementsFormat, write_elements
from jointsat.orbits.passes import find_passes

TARGET_PROCESS = 60.0
TARGET_IN_PROCESS = 100.0
TOLERANCES = {"aos_s": 0.5, "los_s": 0.5, "tca_s": 2.0, "max_elevation_deg": 0.05}
JOINTSAT = Path(sys.executable).with_name("jointsat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, default=100)
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--min-elevation", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3, help="jointsat runs; the best counts")
    args = parser.parse_args()

    elements = leo_satellites(args.satellites)
    stations = agency_stations(args.stations)
    start = datetime(2024, 5, 10, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    print(
        f"case: {len(elements)} LEO satellites x {len(stations)} stations x {args.days:g} days, "
        f"{args.min_elevation:g} deg mask"
    )
    folder = Path(tempfile.mkdtemp(prefix="jointsat-bench-"))
    tle, sites = folder / "satellites.tle", folder / "stations.csv"
    tle.write_text(write_elements(elements, ElementsFormat.TLE))
    sites.write_text(
        "name,lat_deg,lon_deg,alt_m,min_elevation_deg\n"
        + "".join(
            f"{s.name},{s.lat_deg!r},{s.lon_deg!r},{s.alt_m!r},{args.min_elevation!r}\n"
            for s in stations
        )
    )

    # Skyfield, once: the whole process, and its find_events loop inside it.
    events = folder / "skyfield.npz"
    sky_process_s, stderr = _timed(
        [
            *(sys.executable, "-m", "benchmarks.skyfield_passes", str(tle), str(sites)),
            *(start.isoformat(), str(args.days), str(args.min_elevation), str(folder / "sky.csv")),
            *("--events", str(events)),
        ]
    )
    match = re.search(r"find_events loop: ([0-9.]+) s", stderr)
    if match is None:
        sys.exit(f"the Skyfield script did not report its loop time:\n{stderr}")
    sky_loop_s = float(match.group(1))
    raw = _events(events)
    rises = sum(int((r.events == 0).sum()) for r in raw)
    print(f"skyfield, whole process : {sky_process_s:8.3f} s  ({rises} rises)")
    print(f"skyfield, find_events   : {sky_loop_s:8.3f} s  (the loop alone)")

    failures = []
    count = 0
    for output_format in ("csv", "json"):
        out = folder / f"passes.{output_format}"
        best_s = min(
            _timed(
                [
                    *(str(JOINTSAT), "passes", "--start", start.isoformat()),
                    *("--days", str(args.days), "--elements", str(tle), "--stations", str(sites)),
                    *("--format", output_format, "--output", str(out)),
                ]
            )[0]
            for _ in range(args.repeat)
        )
        text = out.read_text()
        count = text.count("\n") - 1 if output_format == "csv" else text.count('"satellite"')
        if count <= 0:
            failures.append(f"jointsat passes --format {output_format} wrote no pass")
        _report(
            f"jointsat passes, {output_format:4s}  ",
            best_s,
            sky_process_s,
            count,
            TARGET_PROCESS,
            f"whole process, best of {args.repeat}",
        )

    kernel_s = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        passes = find_passes(elements, stations, start, end, min_elevation_deg=args.min_elevation)
        kernel_s = min(kernel_s, time.perf_counter() - t)
    _report(
        "jointsat find_passes    ",
        kernel_s,
        sky_loop_s,
        len(passes),
        TARGET_IN_PROCESS,
        f"in-process, 1 core, best of {args.repeat}",
    )
    if len(passes) != count:
        failures.append(f"the CLI wrote {count} passes, find_passes found {len(passes)}")

    sky = complete_passes(raw, elements, stations, start, refine_maxima=True)
    c = compare(passes, sky)
    print(
        f"same passes             : {c.matched} of Skyfield's {c.skyfield_passes} complete "
        f"passes matched, {len(c.missed)} missed, {len(c.extra)} extra"
    )
    if c.missed or c.extra or not c.matched:
        failures.append("the passes differ from Skyfield's")
    for label, value, key, unit in (
        ("AOS", c.aos_max_s, "aos_s", "s"),
        ("LOS", c.los_max_s, "los_s", "s"),
        ("TCA", c.tca_max_s, "tca_s", "s"),
        ("max elevation", c.max_elevation_max_deg, "max_elevation_deg", "deg"),
    ):
        ok = value <= TOLERANCES[key]
        print(
            f"  max |diff| {label:14s}: {value:8.4f} {unit} "
            f"(tolerance {TOLERANCES[key]}: {'ok' if ok else 'OVER'})"
        )
        if not ok:
            failures.append(f"{label} differs by {value} {unit}")
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


def _timed(command: list[str]) -> tuple[float, str]:
    """Run a command to its end; return its wall time and its stderr (exit if it fails)."""
    # As installed: modules compiled once, not at each start (this sandbox disables it).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**env, "COLUMNS": "100"})
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"FAILED: {' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return took, done.stderr


def _events(path: Path) -> list[SkyEvents]:
    """Read back the raw events the Skyfield script saved."""
    saved = np.load(path)
    bounds = np.concatenate([[0], np.cumsum(saved["counts"])])
    return [
        SkyEvents(int(i), int(j), saved["seconds"][a:b], saved["events"][a:b])
        for (i, j), a, b in zip(saved["pairs"], bounds[:-1], bounds[1:], strict=True)
    ]


def _report(
    label: str, took_s: float, anchor_s: float, passes: int, target: float, how: str
) -> None:
    ratio = anchor_s / took_s
    verdict = "meets" if ratio >= target else "misses"
    print(
        f"{label}: {took_s:8.3f} s  ({passes} passes, {1e6 * took_s / max(passes, 1):.1f} us "
        f"per pass, {how}): {ratio:6.1f}x Skyfield, {verdict} the {target:g}x target"
    )


if __name__ == "__main__":
    main()
