"""Talk to hamlib's daemons, ``rotctld`` (a rotator) and ``rigctld`` (a radio), and pace rows.

Both daemons read one command a line over TCP (``man rotctld``, ``man rigctld``) and
answer a set command with ``RPRT 0`` when accepted and ``RPRT -n`` (a hamlib error
code) when not. A pointing plan needs rotctld's ``P AZ EL`` (set position, degrees:
the azimuth is the rotator's axis angle, within the ``min_az``..``max_az`` its backend
is set up with, e.g. 0..450 or -180..540, as a
:class:`jointsat.orbits.pointing.Rotator` with the same range plans it); a Doppler
table needs rigctld's ``F HZ`` (set the current VFO's frequency, hertz).

:func:`pace` sends time-tagged rows at their times: each at its time (the first of
a pass earlier by a lead, a rotator's pre-positioning), skipping a row whose
successor's time has come.

This is an edge module (a socket, the clock): the pure packages never import it. The
CLI streams plans and tables with it, and the service may reuse it.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from jointsat.errors import HamlibError, RigctldError, RotctldError

__all__ = ["RigctldClient", "RotctldClient", "pace", "parse_address"]

DEFAULT_TIMEOUT_S = 10.0
"""How long to wait for a connection or for a reply to a command."""

MAX_REPLY_BYTES = 4096
"""A longer reply line than this is not a hamlib daemon talking."""


def parse_address(text: str, daemon: str = "rotctld") -> tuple[str, int]:
    """Return (host, port) from ``HOST:PORT`` (``[::1]:4533`` for an IPv6 address)."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        port = 4532 if daemon == "rigctld" else 4533
        error = RigctldError if daemon == "rigctld" else RotctldError
        raise error(f"{daemon} address {text!r} is not HOST:PORT (e.g. 127.0.0.1:{port})")
    return host, int(port_text)


class _Daemon:
    """A connection to one hamlib daemon: :meth:`command` sends a line and wants ``RPRT 0``."""

    NAME = "hamlib"
    ERROR: type[HamlibError] = HamlibError

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

    def _fail(self, message: str) -> HamlibError:
        return self.ERROR(f"{self.NAME} at {self.address} {message}")

    def connect(self) -> _Daemon:
        """Open the TCP connection; raise the daemon's error if it cannot be opened."""
        if self._socket is None:
            try:
                self._socket = socket.create_connection(
                    (self.host, self.port), timeout=self.timeout_s
                )
            except OSError as exc:
                raise self.ERROR(
                    f"cannot connect to {self.NAME} at {self.address}: {exc.strerror or exc}"
                ) from None
        return self

    def command(self, line: str) -> None:
        """Send one command line and wait for ``RPRT 0``.

        Raise the daemon's error on ``RPRT -n``, a lost connection or no answer.
        """
        self._send(line)
        reply = self._reply()
        if reply != "RPRT 0":
            raise self._fail(f"refused {line!r}: {reply} (a hamlib error code)")

    def close(self) -> None:
        """Close the connection (sending ``q``, the daemons' quit, first); safe to call twice."""
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
            raise self.ERROR(
                f"lost the connection to {self.NAME} at {self.address}: {exc.strerror or exc}"
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
                raise self._fail(f"did not answer within {self.timeout_s:g} s") from None
            except OSError as exc:
                raise self.ERROR(
                    f"lost the connection to {self.NAME} at {self.address}: {exc.strerror or exc}"
                ) from None
            if not chunk:
                raise self._fail("closed the connection")
            self._buffer += chunk
            if len(self._buffer) > MAX_REPLY_BYTES:
                raise self._fail("answered an overlong line")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("ascii", errors="replace")


class RotctldClient(_Daemon):
    """A connection to one ``rotctld``: :meth:`set_position` sends ``P az el`` and checks
    the ``RPRT`` reply.

    Use it as a context manager, or call :meth:`connect` and :meth:`close`.
    """

    NAME = "rotctld"
    ERROR = RotctldError

    def __enter__(self) -> RotctldClient:
        self.connect()
        return self

    def set_position(self, azimuth_deg: float, elevation_deg: float) -> None:
        """Command the rotator to an axis azimuth and elevation (degrees); wait for ``RPRT 0``.

        Raise :class:`RotctldError` on ``RPRT -n``, a reply that is not ``RPRT``, or a
        lost connection.
        """
        if not (math.isfinite(azimuth_deg) and math.isfinite(elevation_deg)):
            raise RotctldError(f"position {azimuth_deg!r}, {elevation_deg!r} is not finite")
        self.command(f"P {azimuth_deg:.4f} {elevation_deg:.4f}")


class RigctldClient(_Daemon):
    """A connection to one ``rigctld``: :meth:`set_frequency` sends ``F hz`` and checks
    the ``RPRT`` reply.

    Use it as a context manager, or call :meth:`connect` and :meth:`close`.
    """

    NAME = "rigctld"
    ERROR = RigctldError

    def __enter__(self) -> RigctldClient:
        self.connect()
        return self

    def set_frequency(self, frequency_hz: float) -> None:
        """Tune the radio's current VFO to ``frequency_hz`` (to the hertz); wait for ``RPRT 0``.

        hamlib's frequencies are whole hertz (``freq_t``, written ``%.0f``), so the
        value is rounded to the hertz. Raise :class:`RigctldError` on ``RPRT -n``, a
        lost connection, or a frequency that is not positive and finite.
        """
        if not (math.isfinite(frequency_hz) and frequency_hz > 0.0):
            raise RigctldError(f"frequency {frequency_hz!r} Hz is not a positive number")
        self.command(f"F {frequency_hz:.0f}")


def pace(
    times_unix: Sequence[float],
    send: Callable[[int], None],
    *,
    lead_s: float = 0.0,
    wait: bool = True,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Call ``send(k)`` for each row ``k`` at its time (Unix seconds); return how many were sent.

    The first row goes ``lead_s`` early (a rotator's pre-positioning). A row whose
    successor's time has already come is skipped (the device goes straight to where
    it should be now); without ``wait`` every row is sent at once, in order.
    """
    sent = 0
    count = len(times_unix)
    for k in range(count):
        if wait:
            next_due = times_unix[k + 1] if k + 1 < count else times_unix[k] + 1.0
            if clock() >= next_due:
                continue
            due = times_unix[k] - (lead_s if k == 0 else 0.0)
            delay = due - clock()
            if delay > 0.0:
                sleep(delay)
        send(k)
        sent += 1
    return sent
