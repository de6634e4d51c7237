"""Talk to a rotator through hamlib's ``rotctld``: its plain-text TCP protocol.

``rotctld`` (hamlib's rotator daemon, ``man rotctld``) reads one command a line; the
one a pointing plan needs is ``P AZ EL`` (set position, degrees), answered by
``RPRT 0`` when accepted and ``RPRT -n`` (a hamlib error code) when not. The azimuth
is the rotator's axis angle, within the ``min_az``..``max_az`` its backend is set up
with (e.g. 0..450 or -180..540), as a :class:`jointsat.orbits.pointing.Rotator`
with the same range plans it.

This is an edge module (a socket): the pure packages never import it. The CLI streams
plans with it, and the service may reuse it.
"""

from __future__ import annotations

import math
import socket
from types import TracebackType

from jointsat.errors import RotctldError

__all__ = ["RotctldClient", "parse_address"]

DEFAULT_TIMEOUT_S = 10.0
"""How long to wait for a connection or for a reply to a command."""

MAX_REPLY_BYTES = 4096
"""A longer reply line than this is not rotctld talking."""


def parse_address(text: str) -> tuple[str, int]:
    """Return (host, port) from ``HOST:PORT`` (``[::1]:4533`` for an IPv6 address)."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RotctldError(f"rotctld address {text!r} is not HOST:PORT (e.g. 127.0.0.1:4533)")
    return host, int(port_text)


class RotctldClient:
    """A connection to one ``rotctld``: :meth:`set_position` sends ``P az el`` and checks
    the ``RPRT`` reply.

    Use it as a context manager, or call :meth:`connect` and :meth:`close`.
    """

    def __init__(self, host: str, port: int, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._socket: socket.socket | None = None
        self._buffer = b""

    @property
    def address(self) -> str:
        """Return ``HOST:PORT``, as errors name it."""
        return f"{self.host}:{self.port}"

    def connect(self) -> RotctldClient:
        """Open the TCP connection; raise :class:`RotctldError` if it cannot be opened."""
        if self._socket is None:
            try:
                self._socket = socket.create_connection(
                    (self.host, self.port), timeout=self.timeout_s
                )
            except OSError as exc:
                raise RotctldError(
                    f"cannot connect to rotctld at {self.address}: {exc.strerror or exc}"
                ) from None
        return self

    def set_position(self, azimuth_deg: float, elevation_deg: float) -> None:
        """Command the rotator to an axis azimuth and elevation (degrees); wait for ``RPRT 0``.

        Raise :class:`RotctldError` on ``RPRT -n``, a reply that is not ``RPRT``, or a
        lost connection.
        """
        if not (math.isfinite(azimuth_deg) and math.isfinite(elevation_deg)):
            raise RotctldError(f"position {azimuth_deg!r}, {elevation_deg!r} is not finite")
        command = f"P {azimuth_deg:.4f} {elevation_deg:.4f}"
        self._send(command)
        reply = self._reply()
        if reply != "RPRT 0":
            raise RotctldError(
                f"rotctld at {self.address} refused {command!r}: {reply} (a hamlib error code)"
            )

    def close(self) -> None:
        """Close the connection (sending ``q``, rotctld's quit, first); safe to call twice."""
        if self._socket is None:
            return
        try:
            self._socket.sendall(b"q\n")
        except OSError:
            pass
        finally:
            self._socket.close()
            self._socket = None
            self._buffer = b""

    def __enter__(self) -> RotctldClient:
        return self.connect()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, line: str) -> None:
        sock = self.connect()._socket
        assert sock is not None
        try:
            sock.sendall(line.encode("ascii") + b"\n")
        except OSError as exc:
            raise RotctldError(
                f"lost the connection to rotctld at {self.address}: {exc.strerror or exc}"
            ) from None

    def _reply(self) -> str:
        """Return the next ``RPRT`` line (other lines, as an extended-mode echo, are skipped)."""
        while True:
            line = self._line().strip()
            if line.startswith("RPRT"):
                return line

    def _line(self) -> str:
        sock = self._socket
        assert sock is not None
        while b"\n" not in self._buffer:
            try:
                chunk = sock.recv(1024)
            except TimeoutError:
                raise RotctldError(
                    f"rotctld at {self.address} did not answer within {self.timeout_s:g} s"
                ) from None
            except OSError as exc:
                raise RotctldError(
                    f"lost the connection to rotctld at {self.address}: {exc.strerror or exc}"
                ) from None
            if not chunk:
                raise RotctldError(f"rotctld at {self.address} closed the connection")
            self._buffer += chunk
            if len(self._buffer) > MAX_REPLY_BYTES:
                raise RotctldError(f"rotctld at {self.address} answered an overlong line")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("ascii", errors="replace")
