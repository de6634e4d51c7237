"""Every pass of a whole synthetic catalogue over the SatNOGS stations, as a user runs it.

A seeded catalogue of 30,000 objects in the real one's proportions (LEO shells,
MEO navigation, GEO, GTO/HEO and Molniya orbits) is written as a TLE file; a
spread-out subset of the SatNOGS stations (``../shared/data/stations``, each
with its own minimum horizon) as a stations CSV. ``jointsat passes --format
parquet`` then runs over one day as a whole process; the benchmark reports
objects/s, passes/s, microseconds per pass per core, peak memory, output bytes
per pass and the time to the first row written. Memory must not grow with the
output: a quarter of the catalogue runs first, and both peaks are printed.

The anchor is Skyfield's find_events on a random sample of the same
satellite-station pairs (all pairs would take days), as microseconds per pass.

    python -m benchmarks.passes_catalog [--objects 30000] [--stations 300 | --full]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from tests.support.skyfield_oracle import skyfield_events

from benchmarks.common import ORBITS, SHARED
from jointsat.constants import WGS72_MU_KM3_S2
from jointsat.errors import StationsError
from jointsat.orbits.elements import Elements, ElementsFormat, parse_elements, write_elements
from jointsat.orbits.stations import Station

TARGET_US_PER_PASS = 4.0
START = datetime(2024, 5, 10, tzinfo=UTC)
EARTH_RADIUS_KM = 6378.135
SATNOGS = SHARED / "stations" / "satnogs_stations_2024-01-06.csv"
JOINTSAT = Path(sys.executable).with_name("jointsat")
# Shares of the public catalogue by kind of orbit (about 2024).
KINDS = {"leo": 0.80, "meo": 0.04, "geo": 0.06, "gto": 0.08, "molniya": 0.02}


def catalogue(count: int, *, seed: int = 17) -> list[Elements]:
    """Return ``count`` element sets in the catalogue's proportions (seeded)."""
    base = parse_elements((ORBITS / "stations.tle").read_text()).elements[0]
    rng = np.random.default_rng(seed)
    kinds = rng.choice(list(KINDS), size=count, p=list(KINDS.values()))
    out = []
    for i, kind in enumerate(kinds):
        perigee_km, apogee_km, inclination, argp = _orbit(str(kind), rng)
        a_km = EARTH_RADIUS_KM + (perigee_km + apogee_km) / 2.0
        eccentricity = (apogee_km - perigee_km) / (2.0 * a_km)
        mean_motion = np.sqrt(WGS72_MU_KM3_S2 / a_km**3) * 86_400.0 / (2.0 * np.pi)
        out.append(
            dataclasses.replace(
                base,
                object_name=f"{kind.upper()}-{i:05d}",
                object_id=f"{2000 + i // 20_000}-{i // 26 % 999 + 1:03d}{chr(65 + i % 26)}",
                norad_cat_id=10_000 + i,
                epoch_jd=2460440.5,  # 2024-05-10 00:00 UTC
                epoch_fr=0.0,
                mean_motion_rev_per_day=float(mean_motion),
                eccentricity=float(eccentricity),
                inclination_deg=float(inclination),
                raan_deg=float(rng.uniform(0.0, 360.0)),
                arg_of_pericenter_deg=float(argp),
                mean_anomaly_deg=float(rng.uniform(0.0, 360.0)),
                bstar=float(rng.uniform(0.0, 1e-4)) if kind == "leo" else 0.0,
                mean_motion_dot=0.0,
                mean_motion_ddot=0.0,
            )
        )
    return out


def _orbit(kind: str, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Return perigee and apogee heights (km), inclination and argument of perigee (deg)."""
    argp = float(rng.uniform(0.0, 360.0))
    if kind == "leo":
        if rng.random() < 0.4:  # constellation shells
            height = float(rng.choice([540.0, 550.0, 560.0, 570.0]))
            inclination = float(rng.choice([43.0, 53.0, 53.2, 70.0, 97.6]))
        else:
            height = float(rng.uniform(350.0, 1500.0))
            inclination = float(rng.choice([51.6, 65.0, 74.0, 82.5, 86.4, 98.0, 99.0]))
            inclination += float(rng.normal(0.0, 1.0))
        spread = float(rng.uniform(0.0, 60.0))
        return height, height + spread, inclination, argp
    if kind == "meo":
        height = float(rng.choice([19_100.0, 20_180.0, 23_222.0])) + float(rng.normal(0, 50))
        return height, height + 20.0, float(rng.uniform(54.0, 65.0)), argp
    if kind == "geo":
        height = 35_786.0 + float(rng.normal(0.0, 100.0))
        return height, height + 10.0, float(rng.uniform(0.0, 15.0)), argp
    if kind == "gto":
        perigee = float(rng.uniform(200.0, 600.0))
        return perigee, float(rng.uniform(20_000.0, 36_000.0)), float(rng.uniform(0.0, 30.0)), argp
    return float(rng.uniform(500.0, 1_000.0)), 39_700.0, 63.4, 270.0  # Molniya


def satnogs_stations(count: int | None) -> list[Station]:
    """Return ``count`` SatNOGS stations spread over the globe (farthest-point), or all.

    All means every station whose place and minimum horizon can be (3,009 of 3,026).
    """
    with SATNOGS.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["lat"] and r["lng"]]
    stations = []
    for r in rows:
        try:
            station = Station(
                f"{r['id']} {r['name']}",
                float(r["lat"]),
                float(r["lng"]),
                float(r["altitude"] or 0.0),
                min_elevation_deg=float(r["min_horizon"] or 0.0),
            )
        except StationsError:  # a place or a horizon that cannot be (a latitude of 501120)
            continue
        stations.append(station)
    if count is None or count >= len(stations):
        return stations
    lat, lon = (np.radians([getattr(s, k) for s in stations]) for k in ("lat_deg", "lon_deg"))
    unit = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    chosen = [0]
    nearest = unit @ unit[0]
    for _ in range(count - 1):
        far = int(np.argmin(nearest))  # the station farthest from every chosen one
        chosen.append(far)
        nearest = np.maximum(nearest, unit @ unit[far])
    return [stations[i] for i in sorted(chosen)]


def write_stations(stations: list[Station], path: Path) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(("name", "lat_deg", "lon_deg", "alt_m", "min_elevation_deg"))
        for s in stations:
            out.writerow((s.name, s.lat_deg, s.lon_deg, s.alt_m, s.min_elevation_deg))


@dataclasses.dataclass
class Run:
    wall_s: float
    first_row_s: float
    peak_rss_mb: float
    passes: int
    output_bytes: int


def run_jointsat(tle: Path, stations: Path, output: Path, days: float) -> Run:
    """Run ``jointsat passes --format parquet`` as a process; watch its output grow.

    The first row group makes the file grow past its header: that moment is the
    time to the first row. The peak memory is the process's own (``wait4``).
    """
    command = [
        *(str(JOINTSAT), "passes", "--start", START.isoformat(), "--days", str(days)),
        *("--elements", str(tle), "--stations", str(stations)),
        *("--format", "parquet", "--output", str(output), "--workers", "1"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    output.unlink(missing_ok=True)
    log = output.with_suffix(".log")
    first_row_s = float("nan")
    started = time.perf_counter()
    with log.open("w") as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if first_row_s != first_row_s and output.exists() and output.stat().st_size > 1024:
                first_row_s = time.perf_counter() - started
            time.sleep(0.02)
    wall_s = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"FAILED: {' '.join(command)} exited {code}:\n{log.read_text()[-4000:]}")
    import pyarrow.parquet as pq

    rows = int(pq.ParquetFile(output).metadata.num_rows)
    if rows == 0:
        sys.exit(f"FAILED: {output} holds no pass")
    peak_mb = usage.ru_maxrss / 1024.0  # kilobytes on Linux
    return Run(wall_s, first_row_s, peak_mb, rows, output.stat().st_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=30_000)
    parser.add_argument("--stations", type=int, default=300)
    parser.add_argument("--full", action="store_true", help="all 3,026 SatNOGS stations")
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--pairs", type=int, default=300, help="pairs sampled for Skyfield")
    parser.add_argument("--keep", action="store_true", help="keep the Parquet files")
    args = parser.parse_args()

    elements = catalogue(args.objects)
    stations = satnogs_stations(None if args.full else args.stations)
    kinds = {k: sum(e.object_name.startswith(k.upper()) for e in elements) for k in KINDS}
    print(
        f"case: {len(elements)} objects ({', '.join(f'{v} {k}' for k, v in kinds.items())}) x "
        f"{len(stations)} SatNOGS stations x {args.days:g} day, own minimum horizons"
    )
    folder = Path(tempfile.mkdtemp(prefix="jointsat-catalog-"))
    sites = folder / "stations.csv"
    write_stations(stations, sites)

    runs = []
    for share in (4, 1):
        part = elements[: len(elements) // share]
        tle = folder / f"catalogue-{len(part)}.tle"
        tle.write_text(write_elements(part, ElementsFormat.TLE))
        run = run_jointsat(tle, sites, folder / f"passes-{len(part)}.parquet", args.days)
        runs.append((len(part), run))
        print(
            f"jointsat passes, {len(part):>6} objects: {run.wall_s:8.1f} s whole process, "
            f"{run.passes:>11,} passes, {len(part) / run.wall_s:8.0f} objects/s, "
            f"{run.passes / run.wall_s:11,.0f} passes/s, "
            f"{1e6 * run.wall_s / run.passes:5.2f} us/pass/core, "
            f"peak {run.peak_rss_mb:7.0f} MB, {run.output_bytes / run.passes:5.1f} bytes/pass, "
            f"first row after {run.first_row_s:6.1f} s"
        )
        if not args.keep:
            (folder / f"passes-{len(part)}.parquet").unlink()
    (_, small), (_, big) = runs
    print(
        f"memory: {small.peak_rss_mb:.0f} MB for {small.passes:,} passes, "
        f"{big.peak_rss_mb:.0f} MB for {big.passes:,} ({big.passes / small.passes:.1f}x the "
        f"passes, {big.peak_rss_mb / small.peak_rss_mb:.2f}x the memory)"
    )

    rng = np.random.default_rng(5)
    pairs = rng.choice(len(elements) * len(stations), size=args.pairs, replace=False)
    sky_s, sky_passes = 0.0, 0
    for pair in pairs:
        sat, site = divmod(int(pair), len(stations))
        station = stations[site]
        t = time.perf_counter()
        raw = skyfield_events(
            [elements[sat]],
            [station],
            START,
            START + timedelta(days=args.days),
            station.min_elevation_deg or 0.0,
        )
        sky_s += time.perf_counter() - t
        sky_passes += sum(int((r.events == 0).sum()) for r in raw)
    sky_us = 1e6 * sky_s / max(sky_passes, 1)
    ours_us = 1e6 * big.wall_s / big.passes
    print(
        f"skyfield find_events, {args.pairs} random pairs: {sky_s:.1f} s, {sky_passes} passes, "
        f"{sky_us:.0f} us/pass (whole catalogue at that rate: "
        f"{sky_us * big.passes / 3.6e9:.0f} h)"
    )
    verdict = "meets" if ours_us <= TARGET_US_PER_PASS else "misses"
    print(
        f"jointsat: {ours_us:.2f} us/pass, whole process, one core: {sky_us / ours_us:.0f}x "
        f"Skyfield per pass; {verdict} the {TARGET_US_PER_PASS:g} us/pass target"
    )
    if sky_passes == 0:
        sys.exit("FAILED: Skyfield found no pass in the sampled pairs")


if __name__ == "__main__":
    main()
