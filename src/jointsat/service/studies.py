"""Run the service's design studies in the background, one at a time per server process.

``POST /api/v1/design/studies`` stores a study ``queued`` and nudges this runner
(``service/runner.py``); its thread then runs each queued study through
``jointsat.store.design.run_study``, its chunks of points on the app's pass executor
(the Dask cluster of ``JOINTSAT_DASK_SCHEDULER``) when there is one, else in this
thread. While a study runs its heartbeat is written every ``store.jobs.HEARTBEAT_S``; a study
left ``running`` by a process that stopped (no heartbeat for
``store.design.ABANDONED_AFTER``) is marked failed, saying so, when a runner next
looks. When the service stops, the study in progress is stopped at its next chunk and
goes back to the queue.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from jointsat.service import runner
from jointsat.store import design, jobs
from jointsat.store.design import StudyInterruptedError

_log = logging.getLogger("uvicorn.error")  # the service's log


class StudyRunner(runner.JobRunner):
    """Claim and run the store's queued design studies on a thread of this process."""

    name = "design-studies"

    def look(self) -> None:
        state = self._app.state
        with state.sessions() as session:
            design.fail_abandoned(session, state.clock())
            waiting = design.queued(session)
        for study_id in waiting:
            if self.stopping:
                return
            self._run(study_id)

    def _run(self, study_id: int) -> None:
        state = self._app.state

        def beat() -> None:
            with state.sessions() as session:
                design.beat(session, study_id, state.clock())

        def progress(_done: int, _total: int) -> None:
            if self.stopping:
                raise StudyInterruptedError

        with jobs.heartbeat(beat, f"design study {study_id}"):
            status = design.run_study(
                state.sessions,
                study_id,
                clock=state.clock,
                executor=state.pass_executor,
                progress=progress,
            )
        if status is not None:
            _log.info("design study %s: %s", study_id, status.value)


def install(app: FastAPI) -> None:
    """Give the app its study runner, started and stopped with the service's lifespan."""
    app.state.design_runner = StudyRunner(app)
    runner.install(app, app.state.design_runner)
