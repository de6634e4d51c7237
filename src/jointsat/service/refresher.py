"""Refresh the consortium's satellites from an element source on a schedule, while serving.

Off unless ``JOINTSAT_ELEMENTS_REFRESH_HOURS`` is set (so off in tests). A thread of
the service refreshes at start, then every so many hours, through the one refresh of
the CLI too (``jointsat.sources.refresh``), within the source's rules kept in the
store; each refresh writes one line to the log. The time of each refresh is the app's
clock (injected in tests).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from jointsat.errors import SourceError
from jointsat.settings import Settings
from jointsat.sources.refresh import open_source, refresh_consortium
from jointsat.store.sources import record_refresh

_log = logging.getLogger("uvicorn.error")  # the service's log


def refresh_now(app: FastAPI) -> str:
    """Refresh the consortium's satellites once; log and return the one line that says how."""
    source = app.state.element_source
    now = app.state.clock()
    with app.state.sessions() as session:
        try:
            order = app.state.source_order
            line = refresh_consortium(session, source, now, order=order).summary()
        except SourceError as error:
            session.rollback()
            line = f"{source.kind}: refresh failed: {error}"
            record_refresh(session, source.name, line, now)
            _log.error("elements refresh: %s", line)
            return line
    _log.info("elements refresh: %s", line)
    return line


def install(app: FastAPI, settings: Settings) -> None:
    """Start the refreshing thread with the service and stop it with it, when configured."""
    hours = settings.elements_refresh_hours
    if hours is None:
        return
    app.state.element_source = open_source(settings.elements_refresh_source, settings)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            refresh_now(app)
            stop.wait(hours * 3600.0)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(target=loop, name="elements-refresh", daemon=True)
        thread.start()
        yield
        stop.set()

    app.router.lifespan_context = lifespan
