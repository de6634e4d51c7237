"""Time a station's week of tracking: jointsat's pointing plans and Doppler tables against
a Skyfield script, as whole processes.

The case: the ISS (the bundled stations.tle) over Cebreros (10 degree minimum) for a
week, a row every second through each pass. Side by side in one run, what a station's
operator waits for (start-up, reading, computing, the CSV written):

- the anchor, a Skyfield script (benchmarks/skyfield_tracking.py: find_events, then
  az/el and range rate every second, first-order Doppler at 437.8 MHz);
- ``jointsat pointing --format csv`` (the rotator's plan, lag included) and
  ``jointsat doppler --format csv`` (light time included).

Prints each time and the ratio to Skyfield, and how the two agree (passes, rows, the
target's elevation at the same seconds, the frequency). Exits non-zero if a run fails,
writes no rows, or they disagree beyond the tolerances.

    python -m benchmarks.operations [--days 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

import jointsat
from jointsat.timelib import format_iso

DATA = Path(jointsat.__file__).parent / "data"
JOINTSAT = Path(sys.executable).with_name("jointsat")
ISS = 25544
STATION = ("Cebreros CB1D", 40.4526908, -4.3675473, 794.073, 10.0)
FREQUENCY_HZ = 437.8e6
# The same satellite and place from two libraries, Skyfield's series interpolated
# linearly between its seconds: elevations to a hundredth of a degree, frequencies to
# 2 Hz (the light time, which the script leaves out, moves the curve by under 1 Hz).
ELEVATION_TOLERANCE_DEG = 0.01
FREQUENCY_TOLERANCE_HZ = 2.0


def _timed(command: list[str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"FAILED ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return elapsed


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"FAILED: {path.name} has no rows")
    return rows


def _seconds(text: str, start: datetime) -> float:
    """Return an ISO 8601 UTC time's seconds after ``start``."""
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - start).total_seconds()


def _within(t: np.ndarray, series_t: np.ndarray) -> np.ndarray:
    """Say which times lie between two samples of the series at most 1.5 s apart (in a pass)."""
    k = np.searchsorted(series_t, t)
    ok = (k > 0) & (k < series_t.size)
    k = np.clip(k, 1, series_t.size - 1)
    return ok & (series_t[k] - series_t[k - 1] <= 1.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args()
    start = datetime(2024, 5, 10, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    name, lat, lon, alt_m, min_el = STATION
    folder = Path(tempfile.mkdtemp(prefix="jointsat-bench-ops-"))
    stations = folder / "stations.csv"
    stations.write_text(
        f"name,lat_deg,lon_deg,alt_m,min_elevation_deg\n{name},{lat!r},{lon!r},{alt_m!r},{min_el!r}\n"
    )
    elements = DATA / "stations.tle"
    window = ["--start", format_iso(start), "--end", format_iso(end)]
    common = ["-e", str(elements), "-s", str(stations), "--satellite", str(ISS), "--station", name]
    sky_csv, pointing_csv, doppler_csv = (
        folder / n for n in ("sky.csv", "pointing.csv", "doppler.csv")
    )
    commands = {
        "skyfield script": [
            sys.executable,
            "-m",
            "benchmarks.skyfield_tracking",
            str(elements),
            str(ISS),
            str(lat),
            str(lon),
            str(alt_m),
            str(min_el),
            start.isoformat(),
            end.isoformat(),
            str(FREQUENCY_HZ),
            str(sky_csv),
        ],
        "jointsat pointing": [str(JOINTSAT), "pointing", *common, *window, "-o", str(pointing_csv)],
        "jointsat doppler": [
            str(JOINTSAT),
            "doppler",
            *common,
            *window,
            "--frequency-hz",
            str(FREQUENCY_HZ),
            "-o",
            str(doppler_csv),
        ],
    }
    print(f"case: ISS over {name} ({min_el:g} deg), {args.days:g} days, a row every second")
    best = {label: min(_timed(c) for _ in range(args.repeat)) for label, c in commands.items()}
    sky, pointing, doppler = _rows(sky_csv), _rows(pointing_csv), _rows(doppler_csv)

    # Agreement: Skyfield's every-second series, interpolated to jointsat's sample times
    # (its passes start at the engine's AOS, a fraction of a second off Skyfield's rise).
    sky_t = np.array([_seconds(r["time"], start) for r in sky])
    sky_el = np.array([float(r["elevation_deg"]) for r in sky])
    sky_hz = np.array([float(r["frequency_hz"]) for r in sky])
    # The plan's rows are the commanded axes: the satellite's own where the rotator keeps
    # up (lag 0; a 0..90 mount never flips), compared there.
    on_target = [r for r in pointing if float(r["lag_deg"]) == 0.0]
    ours_t = np.array([_seconds(r["time"], start) for r in on_target])
    ours_el = np.array([float(r["elevation_deg"]) for r in on_target])
    hz_t = np.array([_seconds(r["time"], start) for r in doppler])
    ours_hz = np.array([float(r["frequency_hz"]) for r in doppler])
    inside = _within(ours_t, sky_t)
    inside_hz = _within(hz_t, sky_t)
    if inside.sum() < 0.5 * len(sky) or inside_hz.sum() < 0.9 * len(sky):
        sys.exit(f"FAILED: jointsat's rows cover too few of Skyfield's {len(sky)} seconds")
    d_el = np.abs(np.interp(ours_t[inside], sky_t, sky_el) - ours_el[inside])
    d_hz = np.abs(np.interp(hz_t[inside_hz], sky_t, sky_hz) - ours_hz[inside_hz])
    print(
        f"rows: skyfield {len(sky)}, jointsat pointing {len(pointing)}, doppler {len(doppler)};"
        f" {int(inside.sum())} and {int(inside_hz.sum())} compared"
    )
    print(
        f"elevation: max |diff| {d_el.max():.5f} deg (tolerance {ELEVATION_TOLERANCE_DEG});"
        f" frequency: max |diff| {d_hz.max():.2f} Hz, median {np.median(d_hz):.2f} Hz"
        f" (tolerance {FREQUENCY_TOLERANCE_HZ:g} on the median)"
    )
    sky_s = best["skyfield script"]
    both_s = best["jointsat pointing"] + best["jointsat doppler"]
    for label, seconds in best.items():
        print(f"{label:20s} {seconds:7.2f} s  (best of {args.repeat})")
    print(
        f"jointsat pointing + doppler {both_s:.2f} s vs skyfield script {sky_s:.2f} s:"
        f" ratio {both_s / sky_s:.2f}"
    )
    if d_el.max() > ELEVATION_TOLERANCE_DEG or np.median(d_hz) > FREQUENCY_TOLERANCE_HZ:
        sys.exit("FAILED: jointsat and Skyfield disagree beyond the tolerances")


if __name__ == "__main__":
    main()
