"""Time pass prediction on a local Dask cluster of 1 and N workers against one process.

The catalogue case of the scaling benchmark: 1,000 LEO satellites x 100 SatNOGS
stations x 1 day, 10 degree mask, planned in blocks as ``jointsat passes`` plans
them (``--satellites-per-block`` to change). Each cluster run is what ``jointsat passes
--cluster local --workers N`` does: start a ``LocalCluster``, send the stations to
every worker once, run the blocks there, merge the passes here. Printed: the time of
one process (the anchor), each cluster's start and compute times, the speed-up and
parallel efficiency of N workers against 1 (compute only, and whole), and whether
every run found the same passes, bit for bit in every column. Exits non-zero if any
run differs or nothing was found.

A 2-core machine shows at most 2x, less the client's and the scheduler's share of
the cores; the scaling past that needs a bigger machine.

    python -m benchmarks.passes_cluster [--satellites 1000] [--stations 100] [--days 1]
        [--workers 2] [--satellites-per-block N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from benchmarks.common import leo_satellites
from benchmarks.passes_scaling import satnogs_stations
from jointsat.executors import cluster_blocks, dask_client, run_block
from jointsat.orbits.passes import PASS_ARRAYS, Passes, merge_blocks, plan_blocks, run_blocks


def same(a: Passes, b: Passes) -> bool:
    """Whether two predictions are equal bit for bit: every column, satellite and problem."""
    return (
        all(
            getattr(a, n).dtype == getattr(b, n).dtype
            and np.array_equal(getattr(a, n), getattr(b, n))
            for n in PASS_ARRAYS
        )
        and a.satellites == b.satellites
        and a.problems == b.problems
        and a.freshness == b.freshness
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, default=1000)
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2, help="N, the larger cluster")
    parser.add_argument("--satellites-per-block", type=int, default=None)
    args = parser.parse_args()

    elements = leo_satellites(args.satellites)
    stations = satnogs_stations(args.stations)
    start = datetime(2024, 5, 10, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    jobs = plan_blocks(
        elements,
        stations,
        start,
        end,
        min_elevation_deg=10.0,
        satellites_per_block=args.satellites_per_block,
    )
    print(
        f"case: {len(elements)} LEO satellites x {len(stations)} stations x {args.days:g} days, "
        f"10 deg mask, {len(jobs)} blocks; this machine: {os.cpu_count()} cores"
    )

    t = time.perf_counter()
    anchor = merge_blocks(list(run_blocks(jobs)), stations, start, end)
    alone_s = time.perf_counter() - t
    print(f"one process             : {alone_s:7.2f} s  ({len(anchor)} passes)")
    if len(anchor) == 0:
        sys.exit("nothing found: the benchmark measured nothing")

    compute_s: dict[int, float] = {}
    whole_s: dict[int, float] = {}
    failed = False
    for workers in sorted({1, args.workers}):
        t = time.perf_counter()
        with dask_client("local", workers) as client:
            client.wait_for_workers(workers, timeout=120)
            started_s = time.perf_counter() - t
            t_compute = time.perf_counter()
            blocks = list(cluster_blocks(client, jobs, run_block))
            found = merge_blocks(blocks, stations, start, end)
            compute_s[workers] = time.perf_counter() - t_compute
        whole_s[workers] = time.perf_counter() - t
        identical = same(found, anchor)
        failed |= not identical
        stopped_s = whole_s[workers] - started_s - compute_s[workers]
        print(
            f"local cluster, {workers} worker{'s' if workers > 1 else ' '}: "
            f"{whole_s[workers]:7.2f} s whole (start {started_s:.2f} s, compute "
            f"{compute_s[workers]:.2f} s, stop {stopped_s:.2f} s); "
            f"{'same passes, bit for bit' if identical else 'DIFFERENT PASSES'}"
        )

    n = max(compute_s)
    if n > 1:
        for label, times in (("compute only", compute_s), ("whole, start included", whole_s)):
            speedup = times[1] / times[n]
            print(
                f"{n} workers vs 1 ({label}): speed-up {speedup:.2f}x, "
                f"parallel efficiency {speedup / n:.0%}"
            )
    print(
        f"{n} workers vs one process: {alone_s / compute_s[n]:.2f}x computing, "
        f"{alone_s / whole_s[n]:.2f}x whole"
    )
    if failed:
        sys.exit("a cluster's passes differ from one process's")


if __name__ == "__main__":
    main()
