"""Test ``jointsat doppler``: the kernel's table on the pass engine's passes, CSV and JSON.

The CLI must add nothing but input and output: its rows are checked against
:func:`jointsat.orbits.doppler.doppler_table` called here on the same passes (from
:func:`jointsat.orbits.passes.find_passes`) and sample times, with UT1 - UTC read here
from astropy's IERS table.
"""

from __future__ import annotations

import csv
import io
import json
import re
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import numpy as np
import pytest
from astropy.time import Time
from astropy.utils import iers
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.cli.doppler import stream
from jointsat.files import DEMO_STATIONS_FILE, bundled_file, read_elements, read_stations
from jointsat.operations.contact_plans import PassDoppler, Window
from jointsat.orbits.doppler import doppler_table
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import build_orbits
from jointsat.timelib import parse_iso

ELEMENTS = str(bundled_file("stations.tle"))
STATIONS = str(bundled_file(DEMO_STATIONS_FILE))
ISS = 25544
STATION = "Cebreros CB1D"
START, END = "2024-05-10T03:00:00Z", "2024-05-10T05:30:00Z"  # two ISS passes
FREQUENCY_HZ = 437.8e6
STEP_S = 10.0

REL_TOL = 1e-6
RATE_ABS_TOL_M_S = 1e-4  # the range rate is written with 4 decimals
TIME_TOL_S = 1e-3  # times are written to the millisecond


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["doppler", *args])


def common_args(*extra: str, station: str = STATION) -> list[str]:
    return [
        "-e",
        ELEMENTS,
        "-s",
        STATIONS,
        "--satellite",
        str(ISS),
        "--station",
        station,
        "--start",
        START,
        "--end",
        END,
        "--frequency-hz",
        str(FREQUENCY_HZ),
        "--step",
        str(STEP_S),
        *extra,
    ]


def seconds(text: str, origin: datetime) -> float:
    return (parse_iso(text) - origin).total_seconds()


def dut1_s(when: datetime) -> float:
    iers.conf.auto_download = False
    value, status = iers.earth_orientation_table.get().ut1_utc(Time(when), return_status=True)
    assert int(status) >= 0, "the test's date must be inside astropy's bundled IERS table"
    return float(value.to_value("s"))


def csv_and_json(*extra: str) -> tuple[list[dict[str, str]], list[dict]]:
    as_csv = invoke(*common_args(*extra))
    as_json = invoke(*common_args(*extra, "--format", "json"))
    assert as_csv.exit_code == 0, as_csv.output
    assert as_json.exit_code == 0, as_json.output
    assert as_csv.stdout.splitlines()[0] == "time,range_rate_m_s,frequency_hz"
    return list(csv.DictReader(io.StringIO(as_csv.stdout))), json.loads(as_json.stdout)["passes"]


def test_csv_and_json_are_the_kernels_table_on_the_engines_passes() -> None:
    rows, passes = csv_and_json()
    (orbit,) = [o for o in build_orbits(read_elements([ELEMENTS]).orbits) if o.norad_id == ISS]
    (station,) = [s for s in read_stations(STATIONS) if s.name == STATION]
    found = find_passes(
        read_elements([ELEMENTS]).elements, [station], parse_iso(START), parse_iso(END)
    )
    found = [p for p in found.rows() if p.satellite.norad_id == ISS]
    assert len(passes) == len(found) == 2
    # CSV rows are the JSON passes' rows, pass after pass.
    assert [r for p in passes for r in p["rows"]] == [
        {k: (v if k == "time" else float(v)) for k, v in r.items()} for r in rows
    ]
    for document, p in zip(passes, found, strict=True):
        assert abs(seconds(document["aos"], p.aos)) <= TIME_TOL_S
        assert abs(seconds(document["los"], p.aos) - p.duration_s) <= TIME_TOL_S
        times_s = np.array([seconds(r["time"], p.aos) for r in document["rows"]])
        # Every STEP_S from AOS, and at LOS: rebuild the CLI's sample times exactly.
        expected_s = np.append(np.arange(0.0, p.duration_s, STEP_S), p.duration_s)
        assert np.allclose(times_s, expected_s, atol=TIME_TOL_S, rtol=0.0)
        table = doppler_table(
            orbit, station, p.aos, expected_s, FREQUENCY_HZ, ut1_utc_s=dut1_s(p.aos)
        )
        rate = np.array([r["range_rate_m_s"] for r in document["rows"]])
        freq = np.array([r["frequency_hz"] for r in document["rows"]])
        assert np.allclose(rate, table.range_rate_m_s, rtol=REL_TOL, atol=RATE_ABS_TOL_M_S)
        assert np.allclose(freq, table.frequency_hz, rtol=REL_TOL, atol=0.0)
        # Approaching, then receding: the received frequency falls through the nominal one.
        assert freq[0] > FREQUENCY_HZ > freq[-1]


def test_uplink_and_downlink_shifts_have_opposite_signs() -> None:
    down, _ = csv_and_json()
    up, _ = csv_and_json("--uplink")
    assert [r["time"] for r in up] == [r["time"] for r in down]
    shift_down = np.array([float(r["frequency_hz"]) for r in down]) - FREQUENCY_HZ
    shift_up = np.array([float(r["frequency_hz"]) for r in up]) - FREQUENCY_HZ
    moving = np.abs(shift_down) > 1.0  # Hz: away from the zero crossing at closest approach
    assert moving.sum() > 0.9 * moving.size
    assert (np.sign(shift_up[moving]) == -np.sign(shift_down[moving])).all()


def test_unknown_station_is_one_error_line() -> None:
    result = invoke(*common_args(station="Nowhere"))
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: no station 'Nowhere'")
    assert result.stdout == ""


class Rigctld(socketserver.StreamRequestHandler):
    """A mock rigctld: records ``F hz`` commands and answers the server's ``reply``."""

    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.decode("ascii").strip()
            if line == "q":
                return
            words = line.split()
            if len(words) == 2 and words[0] == "F":
                self.server.received.append(words[1])  # type: ignore[attr-defined]
                self.wfile.write(self.server.reply)  # type: ignore[attr-defined]
            else:
                self.wfile.write(b"RPRT -1\n")


@contextmanager
def mock_rigctld(reply: bytes) -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Rigctld)
    server.daemon_threads = True
    server.received = []  # type: ignore[attr-defined]
    server.reply = reply  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_rigctld_receives_the_tables_frequencies_in_order() -> None:
    rows, _ = csv_and_json()
    with mock_rigctld(b"RPRT 0\n") as server:
        host, port = server.server_address[:2]
        result = invoke(*common_args("--rigctld", f"{host}:{port}", "--no-wait"))
        received = list(server.received)  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"{len(rows)} frequencies sent to rigctld at 127.0.0.1:{port}" in result.stderr
    # hamlib's frequencies are whole hertz: each row's, rounded.
    assert all(re.fullmatch(r"\d+", f) for f in received)
    assert [int(f) for f in received] == [round(float(r["frequency_hz"])) for r in rows]


def test_rigctld_refusal_stops_the_stream() -> None:
    with mock_rigctld(b"RPRT -1\n") as server:
        host, port = server.server_address[:2]
        result = invoke(*common_args("--rigctld", f"{host}:{port}", "--no-wait"))
        received = list(server.received)  # type: ignore[attr-defined]
    assert result.exit_code == 1
    assert len(received) == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: rigctld at 127.0.0.1:{port} refused 'F ")
    assert "RPRT -1" in line


def test_rigctld_unreachable() -> None:
    with mock_rigctld(b"RPRT 0\n") as server:
        host, port = server.server_address[:2]
    result = invoke(*common_args("--rigctld", f"{host}:{port}", "--no-wait"))
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: cannot connect to rigctld at 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (common_args("--rigctld", "localhost"), "rigctld address 'localhost' is not HOST:PORT"),
        (common_args("--link", "uhf"), "--link names a stored link: give --from-store"),
        (common_args()[:-4], "give the link's frequency"),
    ],
    ids=["bad address", "link without store", "no frequency"],
)
def test_bad_options_are_command_line_errors(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in " ".join(re.sub("[│╭╮╰╯─]", " ", result.stderr).split())


def test_stream_tunes_each_row_at_its_time_and_skips_past_ones() -> None:
    """With a fake clock: each row at its own time (no lead); started late, the rows whose
    successor's time has come are skipped."""
    (orbit,) = [o for o in build_orbits(read_elements([ELEMENTS]).orbits) if o.norad_id == ISS]
    (station,) = [s for s in read_stations(STATIONS) if s.name == STATION]
    aos = datetime(2024, 5, 10, 3, 10, tzinfo=UTC)
    t_s = np.arange(0.0, 5.0)
    window = Window(aos, datetime(2024, 5, 10, 3, 10, 4, tzinfo=UTC))
    table = doppler_table(orbit, station, aos, t_s, FREQUENCY_HZ)
    for late_s, first in ((-100.0, 0), (2.5, 2)):
        sent = fake_clock_stream(PassDoppler(window, table), aos.timestamp() + late_s)
        assert len(sent) == t_s.size - first
        expected_at = aos.timestamp() + t_s[first:]
        expected_at[0] = max(expected_at[0], aos.timestamp() + late_s)
        assert np.allclose([t for t, _ in sent], expected_at, atol=1e-9, rtol=0.0)
        assert [hz for _, hz in sent] == table.frequency_hz[first:].tolist()


def fake_clock_stream(table: PassDoppler, start_unix: float) -> list[tuple[float, float]]:
    """Stream the table on a fake clock starting at ``start_unix``; return (time, hz) sent."""
    now = [start_unix]
    sent: list[tuple[float, float]] = []

    def sleep(dt: float) -> None:
        now[0] += dt

    count = stream([table], lambda hz: sent.append((now[0], hz)), clock=lambda: now[0], sleep=sleep)
    assert count == len(sent)
    return sent
