"""Run a service's background jobs on a thread of its process, one at a time.

A route stores a job ``queued`` and nudges the job's runner; the runner's thread then
looks for queued jobs and runs them one after another (each claimed atomically in the
store: of several ``--workers`` processes, one runs each). Under ``jointsat serve``
(the app's lifespan) the thread starts with the service and looks every ``POLL_S`` as
well as when nudged; without a lifespan (a test's client) it starts at the first nudge
and ends once the queue is empty. Design studies (``service/studies.py``) and analysis
runs (``service/analyses.py``) each have one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

_log = logging.getLogger("uvicorn.error")  # the service's log

POLL_S = 30.0


class JobRunner:
    """Look for a kind of queued job and run it, on a thread of this process."""

    name = "jobs"
    poll_s = POLL_S  # how often the service's thread looks, besides when nudged

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._lock = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._persistent = False
        self._nudges = 0
        self._seen = 0  # the nudges counted when the last finished pass began

    def nudge(self) -> int:
        """Ask the runner to look for queued jobs now; return the nudge's number."""
        with self._lock:
            self._nudges += 1
            number = self._nudges
            if self._thread is None or not self._thread.is_alive():
                self._start(persistent=False)
        self._wake.set()
        return number

    def wait_idle(self, timeout_s: float) -> bool:
        """Nudge, then wait until a look begun after it has run every queued job."""
        number = self.nudge()
        with self._lock:
            return self._lock.wait_for(lambda: self._seen >= number, timeout=timeout_s)

    def start(self) -> None:
        """Start the thread for the service's life: it also looks every ``POLL_S``."""
        with self._lock:
            self._persistent = True
            if self._thread is None or not self._thread.is_alive():
                self._start(persistent=True)
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread: the job in progress stops where it can and is queued again."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        """Return whether the service is stopping (a job should stop where it can)."""
        return self._stop.is_set()

    def _start(self, *, persistent: bool) -> None:
        self._thread = threading.Thread(
            target=self._loop, args=(persistent,), name=self.name, daemon=True
        )
        self._thread.start()

    def _loop(self, persistent: bool) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                began = self._nudges
            try:
                self.look()
            except Exception:  # the store unreachable: try again at the next look
                _log.exception("%s: looking for queued jobs failed", self.name)
            with self._lock:
                self._seen = max(self._seen, began)
                self._lock.notify_all()
                if not persistent and not self._persistent and self._nudges == began:
                    self._thread = None
                    return
            self._wake.wait(self.poll_s)

    def look(self) -> None:
        """Run the queued jobs (each runner says how)."""
        raise NotImplementedError


def install(app: FastAPI, runner: JobRunner) -> None:
    """Start and stop ``runner`` with the service's lifespan."""
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        runner.start()
        try:
            async with previous(app) as state:
                yield state
        finally:
            runner.stop()

    app.router.lifespan_context = lifespan
