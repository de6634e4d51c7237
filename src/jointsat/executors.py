"""Make the worker pools the edge (CLI, service, benchmarks) hands to the pure engines.

The pure packages never start processes: a caller that wants the pass engine
spread over cores makes a pool here and passes it in
(``find_passes(..., executor=pool)``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

PARALLEL_FROM_ELEMENT_SETS = 40
"""Element sets from which pass finding is spread over the cores by default."""


def default_workers(element_sets: int) -> int:
    """Return one process per core (at most 8) for jobs worth the start-up, else one."""
    return min(os.cpu_count() or 1, 8) if element_sets >= PARALLEL_FROM_ELEMENT_SETS else 1


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Return a pool of ``workers`` processes: forked on Linux, spawned elsewhere.

    Forking starts fast and shares the parent's imports; elsewhere fork is unsafe.
    Use it as a context manager, which waits for the workers and ends them.
    """
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


@contextmanager
def pool_of(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """Yield a pool of ``workers`` processes, or None (work in this process) for one."""
    if workers <= 1:
        yield None
        return
    with process_pool(workers) as pool:
        yield pool


@contextmanager
def dask_client(cluster: str | None, workers: int) -> Iterator[Client | None]:
    """Yield a Dask client for ``cluster``, or None (work in this process) for none.

    ``"local"`` starts a cluster of ``workers`` processes of one thread each on this
    machine (127.0.0.1, no dashboard) and stops it on leaving; ``tcp://HOST:PORT``
    connects to a running scheduler (``workers`` is then the cluster's business). Hand
    the pure engines ``client.get_executor()``. Dask is imported only when asked for.
    A cluster named otherwise, or a scheduler that cannot be reached, is a JointsatError.
    """
    if cluster is None:
        yield None
        return
    from distributed import Client, LocalCluster

    from jointsat.errors import JointsatError

    if cluster == "local":
        local = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        with local, Client(local) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    if not cluster.startswith("tcp://"):
        raise JointsatError(f"a cluster is 'local' or tcp://HOST:PORT, not {cluster!r}")
    try:
        remote = Client(cluster)  # type: ignore[no-untyped-call]
    except OSError as error:
        raise JointsatError(f"cannot reach the Dask scheduler at {cluster}: {error}") from None
    with remote:
        yield remote
