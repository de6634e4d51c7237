"""Make the worker pools the edge (CLI, service) hands to the pure engines.

The pure packages never start processes: a caller that wants the pass engine
spread over cores makes a pool here and passes it in
(``find_passes(..., executor=pool, parts=n)``).
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Return a pool of ``workers`` processes: forked on Linux, spawned elsewhere.

    Forking starts fast and shares the parent's imports; elsewhere fork is unsafe.
    Use it as a context manager, which waits for the workers and ends them.
    """
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)
