"""Run the pass engine's blocks on a Dask cluster: the edge's side of distributed work.

The pure packages never start processes: a caller that wants the pass engine
spread over cores or machines connects a Dask client here (:func:`dask_client`: a
``LocalCluster`` on this machine, or a running scheduler's address) and either hands
its executor in (``find_passes(..., executor=client.get_executor())``) or runs the
planned blocks through :func:`cluster_blocks`, which sends the stations once to every
worker and can have each worker write its block's passes itself
(:class:`PartitionWriter`). Dask is imported only here, and only when a cluster is
asked for: a prediction in one process never loads it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jointsat.errors import JointsatError
from jointsat.orbits.passes import Block, BlockJob, ProgressCallback

if TYPE_CHECKING:
    from distributed import Client

LOCAL = "local"
"""The ``--cluster`` value that starts a cluster on this machine."""

PARALLEL_FROM_BLOCKS = 3
"""Planned blocks from which a prediction starts a local cluster by default.

A block is about :data:`jointsat.orbits.passes.BLOCK_SATELLITE_STATION_DAYS` of work
(satellites x stations x days, a few seconds of one core); three blocks are over
100,000 satellite-station-days, worth the second or two a ``LocalCluster`` takes to
start. Below that one process, with no cluster, is faster.
"""

MAX_DEFAULT_WORKERS = 8
CONNECT_TIMEOUT_S = 10.0
"""How long to try reaching a running scheduler before saying it cannot be reached."""

NANNY_MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
"""Dask's nanny starts workers with glibc's trim threshold fixed at 64 KiB, which turns
off malloc's adaptive mmap threshold: the pass engine's large temporary arrays are then
mapped and unmapped again and again, a third slower. A local cluster's workers keep
glibc's default (the setting None: not set)."""

PARTITION_NAME = "part-{:05d}.parquet"
"""A block's Parquet file in a partitioned output directory, by the block's position."""

T = TypeVar("T")


def default_workers(blocks: int) -> int:
    """Return how many workers a prediction of ``blocks`` planned blocks gets by default.

    One (this process, no cluster) under :data:`PARALLEL_FROM_BLOCKS` blocks or on
    one core; else one per core, at most :data:`MAX_DEFAULT_WORKERS` and no more than
    there are blocks.
    """
    return 1 if blocks < PARALLEL_FROM_BLOCKS else local_workers(blocks)


def local_workers(blocks: int) -> int:
    """Return the workers of a local cluster: one per core, at most 8, at most ``blocks``."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS, blocks))


@contextmanager
def dask_client(cluster: str | None, workers: int) -> Iterator[Client]:
    """Yield a Dask client: of a new local cluster (``"local"`` or None), else of ``cluster``.

    A local cluster has ``workers`` single-threaded worker processes (SGP4 holds the
    GIL: threads would not help), listens on 127.0.0.1 only and serves no dashboard;
    it ends with the block. Any other value is a running scheduler's address
    (``tcp://HOST:PORT``), whose workers are its own (``workers`` is not used); the
    client disconnects at the end and the cluster runs on. A scheduler that cannot be
    reached within :data:`CONNECT_TIMEOUT_S` is a :class:`JointsatError`.
    """
    import dask
    from distributed import Client, LocalCluster

    if cluster is None or cluster == LOCAL:
        with (
            dask.config.set({NANNY_MALLOC_TRIM: None}),
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # No dashboard, but the scheduler's HTTP routes (health, metrics) still
                # listen: on a free port of 127.0.0.1, not on 8787.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            ) as local,
        ):
            client = Client(local)
            try:
                yield client
            finally:  # not ``with client``: a service closes it on another thread
                client.close()
        return
    if not cluster.startswith("tcp://"):
        raise JointsatError(f"a cluster is 'local' or tcp://HOST:PORT, not {cluster!r}")
    try:
        client = Client(cluster, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise JointsatError(f"cannot reach the Dask scheduler at {cluster}: {reason}") from None
    try:
        yield client
    finally:
        client.close()


def cluster_blocks(
    client: Client,
    jobs: Sequence[BlockJob],
    task: Callable[[int, BlockJob], T],
    *,
    progress: ProgressCallback | None = None,
) -> Iterator[T]:
    """Run ``task(position, job)`` for every planned block on the client's cluster.

    Yield the tasks' results as they finish (in any order); ``progress(done, total)``
    counts them. The stations, the same for every block, go to every worker once
    (broadcast) instead of with each block; a block travels as element records (SGP4's
    propagators cannot be pickled) and its worker builds the orbits.
    """
    from distributed import as_completed

    if not jobs:
        return
    [stations] = client.scatter([jobs[0].stations], broadcast=True, hash=False)
    futures = [
        client.submit(
            _with_stations, task, position, dataclasses.replace(job, stations=()), stations
        )
        for position, job in enumerate(jobs)
    ]
    done = 0
    try:
        for future in as_completed(futures):
            result: T = future.result()
            future.release()
            done += 1
            if progress is not None:
                progress(done, len(jobs))
            yield result
    finally:
        if done < len(jobs):  # an error, or the caller stopped early: the rest is not needed
            client.cancel(futures)


def _with_stations(
    task: Callable[[int, BlockJob], T], position: int, job: BlockJob, stations: Any
) -> T:
    """Run a task on a block sent without its stations, given the broadcast ones."""
    return task(position, dataclasses.replace(job, stations=tuple(stations)))


def run_block(position: int, job: BlockJob) -> Block:
    """Return a block's passes (a cluster task: they travel back to the client)."""
    return Block(job.first, job.run())


@dataclass(frozen=True)
class Written:
    """What a worker tells the client of a block it wrote: not the passes themselves."""

    block: Block  # its satellites, freshness and problems, without passes
    rows: int
    path: str


@dataclass(frozen=True)
class PartitionWriter:
    """A cluster task writing a block's passes to its own Parquet file in ``directory``.

    The file is ``part-NNNNN.parquet`` (:data:`PARTITION_NAME`, by the block's
    position), written under a hidden name and renamed once complete, so that a
    reader of the directory never sees half a file. Every block gets its file, empty
    or not. ``directory`` must be absolute and seen alike by the client and every
    worker (one machine, or a shared filesystem).
    """

    directory: str

    def __call__(self, position: int, job: BlockJob) -> Written:
        from jointsat.pass_output import ParquetPasses

        passes = job.run()
        folder = Path(self.directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PARTITION_NAME.format(position)
        partial = folder / f".{path.name}.tmp"
        with ParquetPasses(partial) as parquet:
            parquet.write(passes)
        partial.replace(path)
        return Written(Block(job.first, passes.without_rows()), len(passes), str(path))


def partition_directory(path: Path) -> Path:
    """Return ``path`` made absolute for a partitioned output: new or empty, never a file.

    Partitions of an earlier run would mix with this one's, so a directory holding
    anything is refused.
    """
    folder = path.expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise JointsatError(f"{path} is a file: with --cluster, Parquet goes to a directory")
    if folder.is_dir() and any(folder.iterdir()):
        raise JointsatError(f"{path} is not empty: give a new or empty directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JointsatError(f"{path}: cannot create ({exc.strerror or exc})") from None
    return folder
