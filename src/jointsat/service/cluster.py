"""Predict the service's passes on a Dask cluster when ``JOINTSAT_DASK_SCHEDULER`` names one.

The client connects when the app is made (a scheduler that cannot be reached stops
``jointsat serve`` with one line) and disconnects when the service shuts down; the
cluster runs on. Its executor is handed down to the store's predictions
(``app.state.pass_executor``, None: predict in the server's process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI

from jointsat.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Connect to the settings' Dask scheduler, if any, for the app's pass predictions."""
    app.state.pass_executor = None
    if settings.dask_scheduler is None:
        return
    from jointsat.executors import dask_client

    connection = ExitStack()
    client = connection.enter_context(dask_client(settings.dask_scheduler, 1))
    app.state.pass_executor = client.get_executor()
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        try:
            async with previous(app) as state:
                yield state
        finally:
            app.state.pass_executor = None
            await anyio.to_thread.run_sync(connection.close)

    app.router.lifespan_context = lifespan
