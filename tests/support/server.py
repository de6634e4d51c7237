"""Start a real ``jointsat serve`` on 127.0.0.1 for the tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_S = 60.0  # a loaded 2-core machine may take this long to import and migrate


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """A running server: its base URL, its process and the file its output goes to."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def served(
    url: str,
    archive: Path,
    log: Path,
    *,
    ready: str = "/stac/conformance",
    environ: Mapping[str, str] | None = None,
) -> Iterator[Served]:
    """Run ``jointsat serve`` on the store at ``url`` until the block ends (then kill it).

    The server is ready when ``ready`` answers anything; its output goes to ``log``.
    ``environ``: more of its settings (``JOINTSAT_...`` variables). The block may stop
    the process itself (a signal) and read the log after.
    """
    port = free_port()
    env = {
        **os.environ,
        "JOINTSAT_DATABASE_URL": url,
        "JOINTSAT_ARCHIVE_ROOT": str(archive),
        **(environ or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jointsat", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                httpx.get(f"{base}{ready}", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield Served(base, process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def in_thread(app: object) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yield its base URL.

    The real HTTP path (sockets, headers, the app's middleware) for clients in this
    process, a CLI command invoked in-process say.
    """
    import threading

    import uvicorn

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_S
    while not server.started:
        assert thread.is_alive(), "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30.0)
        listening.close()
