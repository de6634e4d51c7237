"""Test ``jointsat pointing``: the kernel's plan on the pass engine's passes, CSV, JSON, rotctld.

The CLI must add nothing but input and output: its rows are checked against
:func:`jointsat.orbits.pointing.plan_pass` called here on the same samples (computed
here from SGP4 and the station's look angles), its passes against
:func:`jointsat.orbits.passes.find_passes`, and the positions a mock ``rotctld`` on
127.0.0.1 receives against the rows.
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
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.cli.pointing import PassPlan, stream
from jointsat.files import DEMO_STATIONS_FILE, bundled_file, read_elements, read_stations
from jointsat.orbits.passes import find_passes
from jointsat.orbits.pointing import Rotator, plan_pass
from jointsat.orbits.propagation import build_orbits
from jointsat.orbits.tracks import look_angles
from jointsat.timelib import TimeOrigin, parse_iso

ELEMENTS = str(bundled_file("stations.tle"))
STATIONS = str(bundled_file(DEMO_STATIONS_FILE))
ISS = 25544
STATION = "Cebreros CB1D"
# Two ISS passes over Cebreros; the first runs from azimuth 316 through north to 107, which no
# turn of 0..450 stops holds: an az-el mount lags, a flip-over one tracks it flipped.
START, END = "2024-05-10T03:00:00Z", "2024-05-10T05:30:00Z"
FLIP_OVER = ("--elevation-range", "0", "180")

ANGLE_TOL_DEG = 1e-4  # the angles are written with 4 decimals (half of this: rounding)
TIME_TOL_S = 1e-3  # times are written to the millisecond
ROTCTLD_TOL_DEG = 1e-3
TDM_TOL_DEG = 1e-6  # TDM angles are written unrounded


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["pointing", *args])


def common_args(*extra: str, station: str = STATION, start: str = START) -> list[str]:
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
        start,
        "--end",
        END,
        *extra,
    ]


def seconds(text: str, origin: datetime) -> float:
    return (parse_iso(text) - origin).total_seconds()


def reference(rotator: Rotator, rows: list[dict[str, str]]) -> tuple[list, list]:
    """Find the passes and plan each on the CSV's sample times, independently of the CLI."""
    satellite = build_orbits(read_elements([ELEMENTS]).orbits)
    (orbit,) = [o for o in satellite if o.norad_id == ISS]
    (station,) = [s for s in read_stations(STATIONS) if s.name == STATION]
    start, end = parse_iso(START), parse_iso(END)
    found = find_passes(read_elements([ELEMENTS]).elements, [station], start, end).rows()
    found = [p for p in found if p.satellite.norad_id == ISS]
    plans = []
    for p in found:
        t_s = np.array([seconds(r["time"], p.aos) for r in rows])
        t_s = t_s[(t_s >= -TIME_TOL_S) & (t_s <= p.duration_s + TIME_TOL_S)]
        # The CLI's samples are every second from AOS and at LOS: rebuild them exactly.
        t_s = np.round(t_s)
        t_s[-1] = p.duration_s
        jd, fr = TimeOrigin.of(p.aos).julian(t_s)
        codes, r, _ = orbit.propagate(jd, fr)
        assert (codes == 0).all()
        az, el, _ = look_angles(r, jd, fr, station.lat_deg, station.lon_deg, station.alt_m)
        plans.append(plan_pass(t_s, az, np.clip(el, -90.0, 90.0), rotator))
    return found, plans


@pytest.mark.parametrize("flips", [False, True], ids=["az-el", "flip-over"])
def test_csv_and_json_are_the_kernels_plan_on_the_engines_passes(flips: bool) -> None:
    extra = FLIP_OVER if flips else ()
    as_csv = invoke(*common_args(*extra))
    as_json = invoke(*common_args(*extra, "--format", "json"))
    assert as_csv.exit_code == 0, as_csv.output
    assert as_json.exit_code == 0, as_json.output
    lines = as_csv.stdout.splitlines()
    assert lines[0] == "time,azimuth_deg,elevation_deg,lag_deg"
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    written_json = json.loads(as_json.stdout)
    passes = written_json["passes"]

    rotator = Rotator(elevation_max_deg=180.0) if flips else Rotator()
    # The JSON names the rotator planned for: the options over the default model.
    assert Rotator(**written_json["rotator"]) == rotator
    found, plans = reference(rotator, rows)
    assert len(passes) == len(found) == 2
    # CSV rows are the JSON passes' rows, pass after pass.
    assert [r for p in passes for r in p["rows"]] == [
        {k: (v if k == "time" else float(v)) for k, v in r.items()} for r in rows
    ]
    for document, p, plan in zip(passes, found, plans, strict=True):
        assert abs(seconds(document["aos"], p.aos)) <= TIME_TOL_S
        assert abs(seconds(document["los"], p.aos) - p.duration_s) <= TIME_TOL_S
        assert abs(seconds(document["rows"][0]["time"], p.aos)) <= TIME_TOL_S
        assert abs(seconds(document["rows"][-1]["time"], p.aos) - p.duration_s) <= TIME_TOL_S
        times = np.array([seconds(r["time"], p.aos) for r in document["rows"]])
        assert np.allclose(times, plan.time_s, atol=TIME_TOL_S, rtol=0.0)
        for column in ("azimuth_deg", "elevation_deg", "lag_deg"):
            written = np.array([r[column] for r in document["rows"]])
            assert np.allclose(written, getattr(plan, column), atol=ANGLE_TOL_DEG, rtol=0.0)
        assert document["mode"] == plan.mode.value
        assert document["max_lag_deg"] == pytest.approx(plan.max_lag_deg, abs=ANGLE_TOL_DEG)
        assert document["preposition_s"] == pytest.approx(plan.preposition_s, abs=1e-3)
        assert document["lag_over_half_beam_s"] == pytest.approx(
            plan.lag_over_half_beam_s, abs=1e-3
        )
    # The pass through north: only the flip-over mount stays within half the beam.
    through_north = passes[0]
    assert (through_north["max_lag_deg"] <= 1.0) == flips


class Rotctld(socketserver.StreamRequestHandler):
    """A mock rotctld: records ``P az el`` commands and answers the server's ``reply``."""

    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.decode("ascii").strip()
            if line == "q":
                return
            words = line.split()
            if words and words[0] == "P":
                self.server.received.append((float(words[1]), float(words[2])))  # type: ignore[attr-defined]
                self.wfile.write(self.server.reply)  # type: ignore[attr-defined]
            else:
                self.wfile.write(b"RPRT -4\n")


@contextmanager
def mock_rotctld(reply: bytes) -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Rotctld)
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


def test_rotctld_receives_the_plans_rows_in_order() -> None:
    planned = json.loads(invoke(*common_args("--format", "json")).stdout)["passes"]
    expected = [(r["azimuth_deg"], r["elevation_deg"]) for p in planned for r in p["rows"]]
    with mock_rotctld(b"RPRT 0\n") as server:
        host, port = server.server_address[:2]
        result = invoke(*common_args("--rotctld", f"{host}:{port}", "--no-wait"))
        received = list(server.received)  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"{len(expected)} positions sent" in result.stderr
    assert len(received) == len(expected)
    assert np.allclose(received, expected, atol=ROTCTLD_TOL_DEG, rtol=0.0)


def test_rotctld_error_stops_the_stream() -> None:
    with mock_rotctld(b"RPRT -1\n") as server:
        host, port = server.server_address[:2]
        result = invoke(*common_args("--rotctld", f"{host}:{port}", "--no-wait"))
        received = list(server.received)  # type: ignore[attr-defined]
    assert result.exit_code == 1
    assert len(received) == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: rotctld at 127.0.0.1:")
    assert "RPRT -1" in line


def test_rotctld_unreachable() -> None:
    with mock_rotctld(b"RPRT 0\n") as server:
        host, port = server.server_address[:2]
    result = invoke(*common_args("--rotctld", f"{host}:{port}", "--no-wait"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot connect to rotctld at")


def test_stream_waits_for_each_rows_time_and_prepositions() -> None:
    """With a fake clock: the first row leaves preposition_s before AOS, the rest on time."""
    aos = datetime(2024, 5, 10, 3, 0, tzinfo=UTC)
    t_s = np.arange(0.0, 5.0)
    plan = plan_pass(t_s, 10.0 + 5.0 * t_s, 20.0 + t_s, Rotator(), park_az_deg=0.0)
    assert plan.preposition_s > 0.0

    from jointsat.orbits.passes import Pass

    found = Pass.__new__(Pass)
    object.__setattr__(found, "aos", aos)
    now = [aos.timestamp() - 100.0]
    sent_at: list[float] = []

    def sleep(dt: float) -> None:
        now[0] += dt

    count = stream(
        [PassPlan(found, plan)],
        lambda az, el: sent_at.append(now[0]),
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert count == t_s.size
    expected = aos.timestamp() + t_s
    expected[0] -= plan.preposition_s
    assert np.allclose(sent_at, expected, atol=1e-9, rtol=0.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (common_args(station="Nowhere"), "error: no station 'Nowhere'"),
        (common_args(station="Kiruna KI2S"), "error: no pass of ISS (ZARYA) (25544) over Kiruna"),
        (
            [a if a != str(ISS) else "99999" for a in common_args()],
            "error: no satellite '99999'",
        ),
    ],
    ids=["unknown station", "no pass", "unknown satellite"],
)
def test_bad_input_is_one_error_line(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(message)
    assert result.stdout == ""


def test_bad_rotator_is_a_command_line_error() -> None:
    result = invoke(*common_args("--azimuth-range", "0", "300"))
    assert result.exit_code == 2
    assert "must span at least 360" in " ".join(re.sub("[│╭╮╰╯─]", " ", result.stderr).split())


def test_tdm_is_ccsds_with_the_true_look_angles_at_the_csvs_times() -> None:
    """TDM (CCSDS 503.0-B-2, KVN): a segment per pass, read back with ccsds-ndm; its angles
    are the satellite's look angles (SGP4 here) to 1e-6 deg, the CSV's where it tracks.

    Azimuths are compared modulo 360 (one near north may come out 359.9999999 or 0)."""
    import ccsds_ndm

    as_csv = invoke(*common_args())
    as_tdm = invoke(*common_args("--format", "tdm"))
    assert as_tdm.exit_code == 0, as_tdm.output
    text = as_tdm.stdout
    # The keywords the standard requires of a header, each segment's metadata and data.
    for keyword in ("CCSDS_TDM_VERS", "CREATION_DATE", "ORIGINATOR", "TIME_SYSTEM"):
        assert re.search(rf"^{keyword}\s*=", text, re.MULTILINE), keyword
    for marker in ("META_START", "META_STOP", "DATA_START", "DATA_STOP"):
        assert len(re.findall(rf"^{marker}$", text, re.MULTILINE)) == 2, marker
    assert re.search(r"^PARTICIPANT_1\s*= Cebreros CB1D$", text, re.MULTILINE)
    assert re.search(r"^ANGLE_TYPE\s*= AZEL$", text, re.MULTILINE)

    message = ccsds_ndm.Tdm.from_str(text)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    epochs, azimuths, elevations = [], [], []
    for segment in message.segments:
        assert segment.metadata.time_system == "UTC"
        assert segment.metadata.angle_type == "AZEL"
        observations = segment.data.observations
        angle_1 = [o for o in observations if o.keyword == "ANGLE_1"]
        angle_2 = [o for o in observations if o.keyword == "ANGLE_2"]
        assert [o.epoch for o in angle_1] == [o.epoch for o in angle_2]
        assert segment.metadata.start_time == angle_1[0].epoch
        assert segment.metadata.stop_time == angle_1[-1].epoch
        epochs += [o.epoch for o in angle_1]
        azimuths += [o.value for o in angle_1]
        elevations += [o.value for o in angle_2]
    assert epochs == [r["time"].removesuffix("Z") for r in rows]

    # The look angles at the plan's samples, computed here (SGP4, look_angles).
    _, reference_plans = reference(Rotator(), rows)
    azimuths_a, elevations_a = np.array(azimuths), np.array(elevations)
    assert ((azimuths_a >= 0.0) & (azimuths_a < 360.0)).all()
    true_az = np.concatenate([p.target_azimuth_deg for p in reference_plans])
    true_el = np.concatenate([p.target_elevation_deg for p in reference_plans])
    assert np.abs((azimuths_a - true_az + 180.0) % 360.0 - 180.0).max() < TDM_TOL_DEG
    assert np.abs(elevations_a - true_el).max() < TDM_TOL_DEG
    # Where the az-el plan is on the satellite (no lag), the CSV's axis azimuth modulo 360
    # and elevation are the TDM's, to the CSV's rounding.
    on = np.array([float(row["lag_deg"]) == 0.0 for row in rows])
    assert on.sum() > 0.5 * on.size
    csv_az = np.array([float(row["azimuth_deg"]) for row in rows]) % 360.0
    csv_el = np.array([float(row["elevation_deg"]) for row in rows])
    assert np.abs(((csv_az - azimuths_a + 180.0) % 360.0 - 180.0)[on]).max() <= 5e-5 + 1e-6
    assert np.abs((csv_el - elevations_a)[on]).max() <= 5e-5 + 1e-6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-store", "1", "-e", ELEMENTS], "leave out --elements"),
        (["-e", ELEMENTS, "--station", STATION], "give --stations, --satellite, --start, --end"),
    ],
    ids=["both ways", "neither way complete"],
)
def test_from_store_or_files_exactly(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in " ".join(re.sub("[│╭╮╰╯─]", " ", result.stderr).split())


def test_from_store_unknown_contact(store_url: str) -> None:
    result = invoke("--from-store", "999999", "--database-url", store_url)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no contact with id 999999 in the store")
