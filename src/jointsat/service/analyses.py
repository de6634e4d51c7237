"""Run the service's queued analysis runs in the background (``service/runner.py``).

``POST /api/v1/analyses`` and ingests that an agreement asks to analyse store runs
``queued`` and nudge this runner; its thread runs each through
``jointsat.archive.analyses.execute_run``, on the app's pass executor (the Dask
cluster of ``JOINTSAT_DASK_SCHEDULER``) when there is one, else in this thread.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from jointsat.archive.analyses import execute_run, queued_runs
from jointsat.service import runner

_log = logging.getLogger("uvicorn.error")  # the service's log


class AnalysisRunner(runner.JobRunner):
    """Claim and run the store's queued analysis runs on a thread of this process."""

    name = "analyses"

    def look(self) -> None:
        state = self._app.state
        for run_id in queued_runs(state.sessions, state.clock):
            if self.stopping:
                return
            status = execute_run(
                state.sessions,
                state.blobs,
                run_id,
                clock=state.clock,
                executor=state.pass_executor,
            )
            if status is not None:
                _log.info("analysis run %s: %s", run_id, status.value)


def install(app: FastAPI) -> None:
    """Give the app its analysis runner, started and stopped with the service's lifespan."""
    app.state.analysis_runner = AnalysisRunner(app)
    runner.install(app, app.state.analysis_runner)
