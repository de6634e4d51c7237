"""Run the service's design studies in the background, one at a time per server process.

``POST /api/v1/design/studies`` stores a study ``queued`` and nudges this runner; a
thread of the process then claims queued studies one after another (atomically in the
store: of several ``--workers`` processes, one runs each) and runs each through
``jointsat.store.design.run_study``, its chunks of points on the app's pass executor
(the Dask cluster of ``JOINTSAT_DASK_SCHEDULER``) when there is one, else in this
thread. While a study runs its heartbeat is written every ``HEARTBEAT_S``; a study
left ``running`` by a process that stopped (no heartbeat for
``store.design.ABANDONED_AFTER``) is marked failed, saying so, when a runner next
looks. When the service stops, the study in progress is stopped at its next chunk and
goes back to the queue.

Under ``jointsat serve`` (the app's lifespan) the thread starts with the service and
looks for queued studies every ``POLL_S`` as well as when nudged; without a lifespan (a
test's client) it starts at the first nudge and ends once the queue is empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from jointsat.store import design
from jointsat.store.design import StudyInterruptedError

_log = logging.getLogger("uvicorn.error")  # the service's log

HEARTBEAT_S = 30.0
POLL_S = 30.0


class StudyRunner:
    """Claim and run the store's queued design studies on a thread of this process."""

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
        """Ask the runner to look for queued studies now; return the nudge's number."""
        with self._lock:
            self._nudges += 1
            number = self._nudges
            if self._thread is None or not self._thread.is_alive():
                self._start(persistent=False)
        self._wake.set()
        return number

    def wait_idle(self, timeout_s: float) -> bool:
        """Nudge, then wait until a look begun after it has run every queued study."""
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
        """Stop the thread: the study in progress stops at its next chunk and is queued again."""
        self._stop.set()
        self._wake.set()

    def _start(self, *, persistent: bool) -> None:
        self._thread = threading.Thread(
            target=self._loop, args=(persistent,), name="design-studies", daemon=True
        )
        self._thread.start()

    def _loop(self, persistent: bool) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                began = self._nudges
            try:
                self._look()
            except Exception:  # the store unreachable: try again at the next look
                _log.exception("design studies: looking for queued studies failed")
            with self._lock:
                self._seen = max(self._seen, began)
                self._lock.notify_all()
                if not persistent and not self._persistent and self._nudges == began:
                    self._thread = None
                    return
            self._wake.wait(POLL_S)

    def _look(self) -> None:
        state = self._app.state
        with state.sessions() as session:
            design.fail_abandoned(session, state.clock())
            waiting = design.queued(session)
        for study_id in waiting:
            if self._stop.is_set():
                return
            self._run(study_id)

    def _run(self, study_id: int) -> None:
        state = self._app.state
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_S):
                try:
                    with state.sessions() as session:
                        design.beat(session, study_id, state.clock())
                except Exception:
                    _log.exception("design study %s: heartbeat failed", study_id)

        def progress(_done: int, _total: int) -> None:
            if self._stop.is_set():
                raise StudyInterruptedError

        beating = threading.Thread(target=heartbeat, name=f"study-{study_id}-beat", daemon=True)
        beating.start()
        try:
            status = design.run_study(
                state.sessions,
                study_id,
                clock=state.clock,
                executor=state.pass_executor,
                progress=progress,
            )
        finally:
            done.set()
        if status is not None:
            _log.info("design study %s: %s", study_id, status.value)


def install(app: FastAPI) -> None:
    """Give the app its study runner, started and stopped with the service's lifespan."""
    runner = StudyRunner(app)
    app.state.design_runner = runner
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
