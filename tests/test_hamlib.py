"""Test :mod:`jointsat.hamlib`: rigctld's and rotctld's commands and replies as hamlib's
daemons speak them (``man rigctld``: ``F`` takes whole hertz; every set command is answered
``RPRT n``), against mock daemons on 127.0.0.1, and the addresses they are given."""

from __future__ import annotations

import math
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from jointsat.errors import RigctldError, RotctldError
from jointsat.hamlib import RigctldClient, RotctldClient, parse_address


class Recorder(socketserver.StreamRequestHandler):
    """Record each line; answer the server's ``replies`` in turn (None: answer nothing)."""

    def handle(self) -> None:
        try:
            for raw in self.rfile:
                line = raw.decode("ascii").strip()
                self.server.lines.append(line)  # type: ignore[attr-defined]
                if line == "q":
                    return
                reply = self.server.reply  # type: ignore[attr-defined]
                if reply is not None:
                    self.wfile.write(reply)
        finally:
            self.server.ended.set()  # type: ignore[attr-defined]


@contextmanager
def daemon(reply: bytes | None) -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Recorder)
    server.daemon_threads = True
    server.lines = []  # type: ignore[attr-defined]
    server.ended = threading.Event()  # type: ignore[attr-defined]  # a connection was handled
    server.reply = reply  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:4532", ("127.0.0.1", 4532)),
        ("[::1]:4533", ("::1", 4533)),
        (" rig:1 ", ("rig", 1)),
    ],
)
def test_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text, "rigctld") == expected


@pytest.mark.parametrize("text", ["localhost", ":4532", "host:0", "host:65536", "host:port"])
def test_bad_addresses_name_the_daemon(text: str) -> None:
    with pytest.raises(RigctldError, match=r"rigctld address .* \(e\.g\. 127\.0\.0\.1:4532\)"):
        parse_address(text, "rigctld")
    with pytest.raises(RotctldError, match=r"rotctld address .* \(e\.g\. 127\.0\.0\.1:4533\)"):
        parse_address(text)


def test_rigctld_gets_whole_hertz_and_quits() -> None:
    """An echo line before the RPRT (extended replies) is skipped."""
    with daemon(b"set_freq: 437809841\nRPRT 0\n") as server:
        with RigctldClient(*server.server_address[:2]) as rig:
            rig.set_frequency(437_809_840.723)
            rig.set_frequency(437_809_840.5)  # half a hertz: rounds to even, as "%.0f" does
        assert server.ended.wait(timeout=5)  # type: ignore[attr-defined]  # it read the "q"
        lines = list(server.lines)  # type: ignore[attr-defined]
    assert lines == ["F 437809841", "F 437809840", "q"]


@pytest.mark.parametrize("hz", [0.0, -1.0, math.nan, math.inf])
def test_rigctld_refuses_a_frequency_that_is_not_one(hz: float) -> None:
    with daemon(b"RPRT 0\n") as server:
        with RigctldClient(*server.server_address[:2]) as rig, pytest.raises(RigctldError):
            rig.set_frequency(hz)
        assert server.lines in ([], ["q"])  # type: ignore[attr-defined]


def test_rotctld_and_rigctld_errors_name_the_command_and_code() -> None:
    with daemon(b"RPRT -11\n") as server:
        host, port = server.server_address[:2]
        with RotctldClient(host, port) as rotator, pytest.raises(RotctldError) as raised:
            rotator.set_position(123.45678, 45.0)
        assert str(raised.value) == (
            f"rotctld at {host}:{port} refused 'P 123.4568 45.0000': RPRT -11 (a hamlib error code)"
        )
        with RigctldClient(host, port) as rig, pytest.raises(RigctldError) as raised_rig:
            rig.set_frequency(145.8e6)
        assert str(raised_rig.value).startswith(f"rigctld at {host}:{port} refused 'F 145800000'")


def test_a_silent_rigctld_is_an_error_after_the_timeout() -> None:
    with daemon(None) as server:
        host, port = server.server_address[:2]
        with RigctldClient(host, port, timeout_s=0.2) as rig, pytest.raises(RigctldError) as raised:
            rig.set_frequency(145.8e6)
    assert str(raised.value) == f"rigctld at {host}:{port} did not answer within 0.2 s"
