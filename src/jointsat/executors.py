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
