"""Test the command line: ``jointsat passes``, ``jointsat demo`` (store, plan), ``--version``."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner, Result

import jointsat
from jointsat.cli import app
from jointsat.cli.common import parse_utc
from jointsat.cli.passes import DelayedProgress
from jointsat.orbits.elements import Elements
from jointsat.pass_output import PASS_COLUMNS
from jointsat.planning.checker import check_plan
from jointsat.planning.plan import Objective, Observation, PartnerGain, Plan
from jointsat.planning.requests import EarthTarget, Mode, SkyTarget
from jointsat.scheduling.result import Status
from jointsat.store.database import open_engine, session_factory
from jointsat.store.planning import StorePlanningProblem
from jointsat.store.tables import PlanRecord, ScheduleRecord
from jointsat.timelib import format_iso_ms

DATA = Path(jointsat.__file__).parent / "data"
STATIONS_TLE = str(DATA / "stations.tle")
ISS_3LE = """\
ISS (ZARYA)
1 25544U 98067A   24130.36689744  .00016024  00000+0  27777-3 0  9992
2 25544  51.6381 147.8590 0003466 150.4670 338.5502 15.51043222452521
"""
BROKEN_3LE = """\
ISS (BROKEN)
1 25544U 98067A   24130.36689744  .00016024  00000+0  27777-3 0  9992
2 25544  5X.6381 147.8590 0003466 150.4670 338.5502 15.51043222452521
"""
DECAYING_3LE = """\
DECAYING
1 99999U 98067A   24130.36689744  .00016024  00000+0  27777-3 0  9997
2 99999  51.6381 147.8590 5003466 150.4670 338.5502 15.51043222452521
"""  # the ISS's elements with eccentricity 0.5: the perigee lies inside the Earth
STATIONS_CSV = """\
name,lat_deg,lon_deg,alt_m,min_elevation_deg
Cebreros CB1D,40.4526908,-4.3675473,794.073,
"Perth, Australia",-31.802,115.885,22.16,
Kiruna KI2S,67.8571252,20.9643417,402.275,5
"""
START = "2024-05-10T00:00:00Z"


@pytest.fixture
def stations_csv(tmp_path: Path) -> str:
    path = tmp_path / "stations.csv"
    path.write_text(STATIONS_CSV)
    return str(path)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def passes_csv(stations: str, *args: str) -> list[dict[str, str]]:
    result = invoke("passes", "-e", STATIONS_TLE, "-s", stations, "--format", "csv", *args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return list(csv.DictReader(io.StringIO(result.stdout)))


def assert_clean_failure(result: Result, exit_code: int, *fragments: str) -> None:
    """Check that a command failed with a message on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in " ".join(result.stderr.split())


def test_version_prints_the_package_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"jointsat {jointsat.__version__}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-09T00:00:00Z", datetime(2024, 5, 9, tzinfo=UTC)),
        ("2024-05-09T02:30:00+02:00", datetime(2024, 5, 9, 0, 30, tzinfo=UTC)),
        ("2024-05-08T22:00:00-02:00", datetime(2024, 5, 9, tzinfo=UTC)),
        ("2024-05-09T00:00:00", datetime(2024, 5, 9, tzinfo=UTC)),
        ("2024-05-09", datetime(2024, 5, 9, tzinfo=UTC)),
        (" 2024-05-09t12:00:00.5z ", datetime(2024, 5, 9, 12, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_utc_gives_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_utc(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_csv_has_the_documented_header_and_utc_times(stations_csv: str) -> None:
    result = invoke(
        "passes", "-e", STATIONS_TLE, "-s", stations_csv, "--start", START, "--days", "1",
        "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split(",")[:12] == [
        "satellite", "norad_id", "station", "aos", "tca", "los", "max_elevation_deg",
        "aos_azimuth_deg", "los_azimuth_deg", "duration_s", "sunlit", "truncated",
    ]  # fmt: skip
    assert header.split(",") == list(PASS_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(lines) > 100
    assert {row["station"] for row in rows} == {"Cebreros CB1D", "Perth, Australia", "Kiruna KI2S"}
    for row in rows:
        for key in ("aos", "tca", "los"):
            assert row[key].endswith("Z")
            assert len(row[key]) == len("2024-05-10T00:00:00.000Z")
        assert "2024-05-10T00:00:00.000Z" <= row["aos"] <= row["tca"] <= row["los"]
        assert row["los"] <= "2024-05-11T00:00:00.000Z"
        assert row["sunlit"] in ("true", "false")
        assert row["truncated"] in ("true", "false")
        assert len(row["max_elevation_deg"].split(".")[1]) == 3
    assert [row["aos"] for row in rows] == sorted(row["aos"] for row in rows)


def test_days_and_end_give_the_same_passes(stations_csv: str) -> None:
    by_days = passes_csv(stations_csv, "--start", START, "--days", "0.5")
    by_end = passes_csv(stations_csv, "--start", START, "--end", "2024-05-10T12:00:00Z")
    offset = passes_csv(stations_csv, "--start", "2024-05-10T02:00:00+02:00", "--days", "0.5")
    assert by_days == by_end == offset
    assert by_days


def test_min_elevation_applies_to_stations_without_their_own(stations_csv: str) -> None:
    low = passes_csv(stations_csv, "--start", START, "--days", "1")
    high = passes_csv(stations_csv, "--start", START, "--days", "1", "--min-elevation", "30")
    assert 0 < len(high) < len(low)
    for row in high:
        if row["station"] != "Kiruna KI2S":
            assert float(row["max_elevation_deg"]) >= 30.0
    kiruna = [row for row in low if row["station"] == "Kiruna KI2S"]
    assert kiruna == [row for row in high if row["station"] == "Kiruna KI2S"]


def test_json_output_matches_the_csv_rows(stations_csv: str) -> None:
    common = ["passes", "-e", STATIONS_TLE, "-s", stations_csv, "--start", START, "--days", "1"]
    as_json = invoke(*common, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    records = json.loads(as_json.stdout)
    rows = passes_csv(stations_csv, "--start", START, "--days", "1")
    assert len(records) == len(rows) > 0
    for record, row in zip(records, rows, strict=True):
        assert list(record) == list(row) == list(PASS_COLUMNS)
        assert isinstance(record["norad_id"], int)
        assert isinstance(record["sunlit"], bool)
        assert isinstance(record["truncated"], bool)
        assert record["norad_id"] == int(row["norad_id"])
        assert record["sunlit"] == (row["sunlit"] == "true")
        assert record["truncated"] == (row["truncated"] == "true")
        for key in ("satellite", "station", "aos", "tca", "los"):
            assert record[key] == row[key]
        assert record["stale"] == (row["stale"] == "true")
        for key in PASS_COLUMNS[6:10] + PASS_COLUMNS[12:14]:
            assert record[key] == float(row[key])


def test_parquet_output_holds_the_csv_rows(stations_csv: str, tmp_path: Path) -> None:
    common = ["passes", "-e", STATIONS_TLE, "-s", stations_csv, "--start", START, "--days", "1"]
    refused = invoke(*common, "--format", "parquet")
    assert refused.exit_code == 2
    assert "--output" in refused.output
    path = tmp_path / "passes.parquet"
    written = invoke(*common, "--format", "parquet", "--output", str(path))
    assert written.exit_code == 0, written.output
    rows = passes_csv(stations_csv, "--start", START, "--days", "1")
    table = pq.read_table(path).sort_by([("aos", "ascending")])
    assert f"{len(rows)} passes written to {path}" in written.stderr.replace("\n", "")
    assert table.column_names == list(PASS_COLUMNS)
    as_text = {
        tuple(
            format_iso_ms(v) if isinstance(v, datetime)
            else ("true" if v else "false") if isinstance(v, bool)
            else f"{v:.3f}" if isinstance(v, float)
            else str(v)
            for v in record.values()
        )
        for record in table.to_pylist()
    }  # fmt: skip
    assert as_text == {tuple(row.values()) for row in rows}


@pytest.mark.parametrize("output", ["csv", "json", "table"])
def test_large_catalog_numbers_are_predicted_as_their_twin_iss(
    stations_csv: str, tmp_path: Path, output: str
) -> None:
    """The ISS's OMM under 799501299, 400000 (no TLE exists for them) and 270000 (T0000)."""
    record = Elements.from_tle(*ISS_3LE.splitlines()[1:], "ISS (ZARYA)").to_omm()
    numbers = [25544, 799_501_299, 400_000, 270_000]
    path = tmp_path / "twins.json"
    path.write_text(json.dumps([{**record, "NORAD_CAT_ID": n} for n in numbers]))
    target = tmp_path / f"passes.{output}"
    result = invoke(
        "passes", "-e", str(path), "-s", stations_csv, "--start", START, "--days", "1",
        "--format", output, "-o", str(target),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    if output == "table":
        for number in numbers:
            assert f"ISS (ZARYA) ({number})" in target.read_text()
        return
    text = target.read_text()
    rows = json.loads(text) if output == "json" else list(csv.DictReader(io.StringIO(text)))
    by_number: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_number.setdefault(str(row.pop("norad_id")), []).append(row)
    assert by_number["25544"]
    assert by_number == {str(n): by_number["25544"] for n in numbers}


def test_output_option_writes_the_file_not_stdout(stations_csv: str, tmp_path: Path) -> None:
    target = tmp_path / "passes.csv"
    result = invoke(
        "passes", "-e", STATIONS_TLE, "-s", stations_csv, "--start", START, "--days", "1",
        "--format", "csv", "-o", str(target),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    rows = passes_csv(stations_csv, "--start", START, "--days", "1")
    assert list(csv.DictReader(io.StringIO(target.read_text()))) == rows


def test_table_lists_the_passes(stations_csv: str, tmp_path: Path) -> None:
    target = tmp_path / "passes.txt"
    result = invoke(
        "passes", "-e", STATIONS_TLE, "-s", stations_csv, "--start", START, "--days", "1",
        "-o", str(target),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = target.read_text()
    rows = passes_csv(stations_csv, "--start", START, "--days", "1")
    assert f"{len(rows)} passes, 2024-05-10 00:00:00 to 2024-05-11 00:00:00 UTC" in table
    assert "ISS (ZARYA) (25544)" in table
    assert "Perth, Australia" in table
    assert "\x1b[" not in table


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--start", "yesterday", "--days", "1"], ["'--start'", "'yesterday'", "ISO 8601"]),
        (["--start", START, "--end", "2024-05-10T25:00:00Z", "--days", "1"], ["'--end'"]),
        (["--start", START], ["'--days' / '--end'", "exactly one"]),
        (["--start", START, "--days", "1", "--end", "2024-05-11"], ["exactly one"]),
        (["--start", START, "--end", "2024-05-09T23:59:59Z"], ["'--end'", "not after"]),
        (["--start", START, "--end", START], ["'--end'", "not after"]),
        (["--start", START, "--days", "0"], ["'--days'", "positive"]),
        (["--start", START, "--days", "-2"], ["'--days'", "positive"]),
        (["--start", START, "--days", "nan"], ["'--days'", "positive"]),
        (["--start", START, "--days", "1e12"], ["'--days'", "too long"]),
        (["--start", START, "--days", "1", "--format", "xml"], ["'--format'", "xml"]),
        (["--start", START, "--days", "1", "--min-elevation", "91"], ["'--min-elevation'"]),
    ],
)
def test_bad_command_lines_exit_2_with_a_message(
    stations_csv: str, args: list[str], fragments: list[str]
) -> None:
    result = invoke("passes", "-e", STATIONS_TLE, "-s", stations_csv, *args)
    assert_clean_failure(result, 2, *fragments)


def test_missing_options_exit_2_with_a_message(stations_csv: str) -> None:
    result = invoke("passes", "-s", stations_csv, "--start", START, "--days", "1")
    assert_clean_failure(result, 2, "give --elements and --stations, or --from-store")


def test_a_missing_elements_file_is_named(stations_csv: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.tle"
    args = ["-s", stations_csv, "--start", START, "--days", "1"]
    result = invoke("passes", "-e", STATIONS_TLE, "-e", str(missing), *args)
    assert_clean_failure(result, 1, f"error: {missing}: no such file")


def test_a_missing_stations_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    result = invoke(
        "passes", "-e", STATIONS_TLE, "-s", str(missing), "--start", START, "--days", "1"
    )
    assert_clean_failure(result, 1, f"error: {missing}: no such file")


def test_a_bad_stations_file_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,lat_deg,lon_deg,alt_m\nA,1,2,3\nB,95,2,3\n")
    result = invoke("passes", "-e", STATIONS_TLE, "-s", str(path), "--start", START, "--days", "1")
    assert_clean_failure(result, 1, f"error: {path} line 3:", "lat_deg", "95")


def test_elements_that_are_not_utf8_are_refused(stations_csv: str, tmp_path: Path) -> None:
    path = tmp_path / "latin1.tle"
    path.write_bytes(ISS_3LE.replace("ZARYA", "ZARJÄ").encode("latin-1"))
    result = invoke("passes", "-e", str(path), "-s", stations_csv, "--start", START, "--days", "1")
    assert_clean_failure(result, 1, f"error: {path} line 1: not UTF-8")


def test_malformed_elements_warn_and_the_rest_are_used(stations_csv: str, tmp_path: Path) -> None:
    path = tmp_path / "mixed.tle"
    path.write_text(BROKEN_3LE + ISS_3LE)
    result = invoke(
        "passes", "-e", str(path), "-s", stations_csv, "--start", START, "--days", "1",
        "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith(f"warning: {path}")
    assert warnings[1] == "warning: skipped 1 unreadable element set(s)"
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows
    assert {row["norad_id"] for row in rows} == {"25544"}


def test_malformed_elements_with_strict_are_an_error(stations_csv: str, tmp_path: Path) -> None:
    path = tmp_path / "mixed.tle"
    path.write_text(ISS_3LE + BROKEN_3LE)
    result = invoke(
        "passes", "-e", str(path), "-s", stations_csv, "--start", START, "--days", "1", "--strict"
    )
    assert_clean_failure(result, 1, f"error: {path}")
    assert "warning" not in result.stderr


def test_no_usable_elements_is_an_error(stations_csv: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.tle"
    path.write_text(BROKEN_3LE)
    result = invoke("passes", "-e", str(path), "-s", stations_csv, "--start", START, "--days", "1")
    assert result.exit_code == 1
    assert "error: no usable element sets" in result.stderr
    assert "Traceback" not in result.output


def test_sgp4_failures_are_warned_about(stations_csv: str, tmp_path: Path) -> None:
    path = tmp_path / "decaying.tle"
    path.write_text(ISS_3LE + DECAYING_3LE)
    result = invoke(
        "passes", "-e", str(path), "-s", stations_csv, "--start", START, "--days", "1",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: DECAYING (99999): SGP4 error 6 (")
    assert "from 2024-05-10 " in warning
    assert {record["norad_id"] for record in json.loads(result.stdout)} >= {25544}


@pytest.mark.slow  # the demo's whole week run (~10 s alone)
def test_demo_predicts_the_week_after_the_newest_stations_elements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # the demo store goes there
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "jointsat" / "jointsat-demo.db").is_file()
    text = " ".join(result.stdout.split())
    assert "7 days from 2024-05-10 00:00:00 to 2024-05-17 00:00:00 UTC" in text
    assert "days old today: stale" in text
    # CHEOPS's nearest set (epoch 24260.76087593, 2024-09-16) is far from the week, and the
    # stations' sets (epochs 2024-05-08/09) age past 7 days by its end: all stale. Stderr
    # says so once, in two lines (a summary, then each satellite's oldest age, oldest
    # first); the demo still succeeds.
    cheops_days = (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=259.76087593)) - datetime(
        2024, 5, 10, tzinfo=UTC
    )
    cheops = f"CHEOPS (44874) {cheops_days.total_seconds() / 86400:.1f}"
    summary, details = result.stderr.splitlines()
    assert summary.startswith(
        "warning: 28 of 28 satellites' elements are stale in the demo's week (older than 7 days"
    )
    assert f"the oldest, {cheops.replace(') ', '), ')} days." in summary
    assert "epochs run from 2020-10-26 to 2024-09-16" in summary
    ages = details.removeprefix("warning: stale elements, oldest age in the week (days): ")
    listed = ages.split(", ")
    assert listed[0] == cheops
    assert len(listed) == 28
    assert all(7.0 < float(entry.rsplit(" ", 1)[1]) < 9.0 for entry in listed[1:])
    assert "28 satellites (29 element sets) over 21 stations" in text
    for name in ("Kiruna KI2S", "Svalbard SG1S", "ISS (ZARYA)", "Contacts per station"):
        assert name in text


def test_progress_bar_appears_only_after_the_delay() -> None:
    def shown(delay_s: float) -> str:
        buffer = io.StringIO()
        bar = DelayedProgress(Console(file=buffer, force_terminal=True), delay_s=delay_s)
        for done in range(1, 4):
            bar(done, 3)
        bar.close()
        return buffer.getvalue()

    assert "finding passes" in shown(0.0)
    assert shown(3600.0) == ""


# demo_store: tests/cli/conftest.py, one run of the demo into a store for the session.


def test_demo_fills_a_store_the_service_then_serves(demo_store: tuple[str, Result]) -> None:
    from fastapi.testclient import TestClient

    from jointsat.demo import PARTNERS, SATELLITE_OPERATORS
    from jointsat.service.app import create_app
    from jointsat.settings import Settings

    url, result = demo_store
    text = " ".join(result.stdout.split())
    for _, share, *_ in PARTNERS.values():
        assert f"{share:.2f}" in text
    token = next(w.strip("'") for w in result.stdout.split() if w.startswith("jst_"))
    with TestClient(create_app(Settings(database_url=url))) as client:
        headers = {"Authorization": f"Bearer {token}"}
        partners = client.get("/api/v1/partners", headers=headers).json()
        assert {p["code"] for p in partners} == set(PARTNERS)
        assert sum(p["contribution_share"] for p in partners) == pytest.approx(1.0)
        satellites = client.get("/api/v1/satellites", headers=headers).json()
        assert {s["norad_id"] for s in satellites} == set(SATELLITE_OPERATORS)
        assert any(len(s["operators"]) > 1 for s in satellites)  # a joint satellite
        assert all(sum(s["operators"].values()) == pytest.approx(1.0) for s in satellites)
        assert len(client.get("/api/v1/stations", headers=headers).json()) == 21
        (plan,) = client.get("/api/v1/plans", headers=headers).json()
        assert f"/api/v1/plans/{plan['id']}" in text
        served = client.get(f"/api/v1/plans/{plan['id']}", headers=headers).json()
        printed = re.search(r"(\d+) observations, gain ([\d,]+);", text)
        assert printed is not None
        assert len(served["observations"]) == int(printed[1])
        assert served["total_gain"] == int(printed[2].replace(",", ""))
        # The design study over every partner's area, as printed per partner.
        (study,) = client.get("/api/v1/design/studies", headers=headers).json()
        assert study["status"] == "done"
        assert {a["partner"] for a in study["areas"]} == set(PARTNERS)
        assert f"/api/v1/design/studies/{study['id']}" in text
        summary = client.get(f"/api/v1/design/studies/{study['id']}", headers=headers).json()
        assert {p["partner"] for p in summary["summary"]["partners"]} == set(PARTNERS)
        for row in summary["summary"]["partners"]:
            coverage = 100.0 * row["figures"]["coverage_fraction"]["mean"]
            revisit = row["figures"]["max_gap_s"]["max"] / 60.0
            assert (
                f"│ {row['partner']} │ {row['points']} │ {coverage:.1f} % │ {revisit:.0f} min"
                in (text)
            )
    again = invoke("demo", "--database-url", url)
    assert again.exit_code == 1
    assert "needs an empty store" in again.stderr


def _stored_plan(record: PlanRecord) -> Plan:
    """Rebuild the plan the checker needs from its stored rows."""
    return Plan(
        status=Status(record.status),
        objective=Objective(record.objective),
        observations=tuple(
            Observation(
                request=o.request_ref,
                partner=o.partner.code,
                satellite=str(o.satellite.norad_id),
                start=o.start,
                end=o.end_at,
                gain=o.gain,
                volume_mbit=o.volume_mbit,
                second_start=o.second_start,
                off_nadir_deg=o.off_nadir_deg,
            )
            for o in record.observations
        ),
        partners={k: PartnerGain(**v) for k, v in record.document["partners"].items()},
        total_gain=record.total_gain,
        levels=(),
        unserved={},
        memory={},
        solver=record.solver,
    )


def test_the_demo_plans_the_week_and_prints_the_stored_plan(
    demo_store: tuple[str, Result],
) -> None:
    from jointsat.demo import PARTNERS, PAYLOADS

    url, result = demo_store
    text = " ".join(result.stdout.split())
    section = text[text.index("The week's observations, planned fairly") :]
    engine = open_engine(url)
    try:
        with session_factory(engine)() as session:
            (record,) = session.scalars(select(PlanRecord)).all()
            (schedule,) = session.scalars(select(ScheduleRecord)).all()
            assert f"plan {record.id} in the store" in section
            assert record.objective == Objective.FAIR.value
            assert record.provenance["schedule_id"] == schedule.id
            assert (record.start, record.end_at) == (schedule.start, schedule.end_at)
            built = StorePlanningProblem(
                session, record.start, record.end_at, schedule_id=schedule.id
            )
            assert {s.id for s in built.problem.satellites} == {str(n) for n in PAYLOADS}
            assert len(built.problem.downlinks) > 0
            found = _stored_plan(record)
            assert found.observations
            assert check_plan(built.problem, built.orbits, found) == []
            partners = record.document["partners"]
            asked = record.provenance["request_ids"]
            total = sum(share for _, share, *_ in PARTNERS.values())
            for code, (_, share, *_) in PARTNERS.items():
                got = partners[code]
                served = sum(o.partner == code for o in found.observations)
                met = "yes" if got["gain"] >= got["reachable_gain"] else "no"
                row = (
                    f"│ {code} │ {got['gain']:,} │ {got['share_received']:.1%} │ "
                    f"{share / total:.1%} │ {served} / {len(asked[code])} │ {met} │"
                )
                assert row in section
                assert len(asked[code]) == 14  # 12 Earth targets, 2 sky targets
            no_opportunity = sum(
                u["reason"] == "no opportunity" for u in record.document["unserved"]
            )
            assert (
                f"status {record.status}, gap {record.gap:.2%}, {len(record.observations)} "
                f"observations, gain {record.total_gain:,}; {no_opportunity} request(s) had no "
                "opportunity this week"
            ) in section
            assert record.total_gain == sum(o.gain for o in found.observations)
    finally:
        engine.dispose()
    assert "jointsat plan --from-store" in section


def test_the_demo_archives_a_product_per_observation_under_the_agreements(
    demo_store: tuple[str, Result],
) -> None:
    from jointsat.analysis.registry import KIND_PROPERTY
    from jointsat.archive.blobs import BlobStore
    from jointsat.demo import archive_plan
    from jointsat.settings import Settings
    from jointsat.store.tables import Agreement, Partner, Product

    url, result = demo_store
    text = " ".join(result.stdout.split())
    blobs = BlobStore(Settings.from_environment(database_url=url).archive_folder)
    engine = open_engine(url)
    try:
        with session_factory(engine)() as session:
            (plan,) = session.scalars(select(PlanRecord)).all()
            # the stand-ins: not the demo's light curve, optical products and results
            products = [
                p
                for p in session.scalars(select(Product)).all()
                if KIND_PROPERTY not in p.properties
            ]
            codes = {p.id: p.code for p in session.scalars(select(Partner))}
            terms = {codes[a.partner_id]: a for a in session.scalars(select(Agreement))}
            assert f"archived: {len(products)} stand-in products" in text
            assert len(products) == len(plan.observations) > 0
            spans = {(o.start, o.end_at, codes[o.partner_id]) for o in plan.observations}
            for product in products:
                (owner,) = [codes[i] for i in product.owner_ids]
                assert (product.acquired_start, product.acquired_end, owner) in spans
                embargo = product.acquired_end + timedelta(terms[owner].embargo_days)
                public_days = terms[owner].public_release_days
                public = (
                    None if public_days is None else product.acquired_end + timedelta(public_days)
                )
                assert product.public_from == public
                assert product.members_from == min(embargo, public or embargo)
                (file,) = product.files
                assert blobs.verify(file.sha256)
                assert (product.footprint is None) == (product.ra_deg is not None)
            assert archive_plan(session, blobs, plan.id, now=datetime.now(UTC)) == 0
    finally:
        engine.dispose()


def test_the_demo_shows_each_archive_rule_at_work_through_the_service(
    demo_store: tuple[str, Result],
) -> None:
    """The products the demo prints as examples, asked for today through the API: the
    embargoed one hidden from another partner's viewer, the members' one hidden from the
    public, the public one open without a token."""
    from fastapi.testclient import TestClient

    from jointsat.service.app import create_app
    from jointsat.service.tokens import issue_token
    from jointsat.settings import Settings
    from jointsat.store.tables import Partner, Role, User

    url, result = demo_store
    rows = {}
    for line in result.stdout.splitlines():
        words = line.split()
        rule_row = len(words) >= 5 and re.fullmatch(r"[0-9a-f]{32}", words[1])
        if rule_row and words[0] in ("embargoed", "members", "public"):
            rows[words[0]] = words
    assert set(rows) == {"embargoed", "members", "public"}
    engine = open_engine(url)
    try:
        with session_factory(engine).begin() as session:
            now = datetime.now(UTC)
            tokens = {}
            for partner in session.scalars(select(Partner)):
                user = User(name=f"viewer-{partner.code}", role=Role.VIEWER, partner=partner,
                            created_at=now)  # fmt: skip
                session.add(user)
                session.flush()
                tokens[partner.code] = issue_token(session, user, now=now)
    finally:
        engine.dispose()
    embargoed, members, public = rows["embargoed"][1], rows["members"][1], rows["public"][1]
    with TestClient(create_app(Settings(database_url=url))) as client:

        def status(product: str, code: str | None) -> int:
            headers = {} if code is None else {"Authorization": f"Bearer {tokens[code]}"}
            return client.get(f"/api/v1/products/{product}", headers=headers).status_code

        owner = rows["embargoed"][4]  # "asi only": its owner only
        other = next(code for code in tokens if code != owner)
        assert status(embargoed, owner) == 200
        assert status(embargoed, other) == 404
        assert status(members, other) == 200
        assert status(members, None) in (401, 404)
        assert status(public, None) == 200


def test_demo_requests_lie_near_their_partners_sites() -> None:
    from jointsat.demo import (
        AGENCY_SITES,
        PARTNERS,
        REACH_LAT_DEG,
        STATION_OWNERS,
        TARGET_SPREAD_KM,
        demo_requests,
    )
    from jointsat.files import read_demo_stations

    stations = read_demo_stations()
    owner_of = {s.name: STATION_OWNERS[s.name.split()[0]] for s in stations}
    requests = demo_requests(stations, owner_of)
    assert requests == demo_requests(stations, owner_of)  # seeded: every run asks the same
    rounding_km = 0.02  # coordinates are kept to 1e-4 degree
    for code in PARTNERS:
        sites = [
            (s.lat_deg, s.lon_deg)
            for s in stations
            if owner_of[s.name] == code and abs(s.lat_deg) <= REACH_LAT_DEG
        ]
        sites += [(lat, lon) for lat, lon, _ in AGENCY_SITES.get(code, {}).values()]
        earth = [r for r in requests if r.partner == code and isinstance(r, EarthTarget)]
        sky = [r for r in requests if r.partner == code and isinstance(r, SkyTarget)]
        assert len(earth) == 12
        assert [r.satellites for r in sky] == [("44874",)] * 2  # CHEOPS
        assert any(r.mode is Mode.STEREO for r in earth)
        assert any(r.min_sun_elevation_deg is not None for r in earth)
        for r in earth:
            nearest = min(_haversine_km(r.lat_deg, r.lon_deg, lat, lon) for lat, lon in sites)
            assert nearest <= TARGET_SPREAD_KM + rounding_km
    assert len({r.id for r in requests}) == len(requests)


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance on a sphere of the Earth's mean radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


# Freshness: stale elements warn once per satellite, --strict refuses them.

CHEOPS_TLE = str(DATA / "cheops.tle")


def test_stale_elements_warn_once_per_satellite_with_their_age(stations_csv: str) -> None:
    """CHEOPS in 2030 from its 2024 set: hundreds of passes, one warning with the age."""
    result = invoke(
        "passes", "-e", CHEOPS_TLE, "-e", STATIONS_TLE, "-s", stations_csv,
        "--start", "2030-01-01T00:00:00Z", "--days", "2", "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows
    assert {row["stale"] for row in rows} == {"true"}
    warnings = [w for w in result.stderr.splitlines() if "days old in this window" in w]
    satellites = {row["satellite"] + f" ({row['norad_id']})" for row in rows}
    named = [w.split(": ")[1] for w in warnings]
    assert len(named) == len(set(named)) == 28  # every satellite, passes or not, once
    assert set(named) >= satellites
    # CHEOPS's newest epoch is 24260.76087593: its oldest moment is the window's end.
    newest = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=259.76087593)
    age = (datetime(2030, 1, 3, tzinfo=UTC) - newest).total_seconds() / 86_400
    assert f"warning: CHEOPS (44874): elements up to {age:.1f} days old in this window, " in (
        result.stderr
    )
    for row in rows[:50]:
        if row["norad_id"] == "44874":
            tca = datetime.fromisoformat(row["tca"])
            assert float(row["elements_age_days"]) == pytest.approx(
                (tca - newest).total_seconds() / 86_400, abs=1e-3
            )


def test_fresh_elements_say_nothing_and_strict_refuses_stale_ones(stations_csv: str) -> None:
    # The ISS set of ISS_3LE (epoch 2024-05-09 08:48) over the next day: fresh, silent.
    fresh = invoke(
        "passes", "-e", STATIONS_TLE, "-s", stations_csv, "--start", START, "--days", "1"
    )
    assert fresh.exit_code == 0, fresh.output
    assert fresh.stderr == ""
    stale = invoke(
        "passes", "-e", CHEOPS_TLE, "-s", stations_csv, "--start", START, "--days", "1", "--strict"
    )
    assert_clean_failure(result := stale, 1, "error: stale elements (--strict): CHEOPS (44874)")
    assert len(result.stderr.splitlines()) == 1


def test_the_threshold_is_an_option_and_a_variable(
    stations_csv: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ISS's set is 1.6 days from the end of a one-day window: stale past one day only."""
    window = ("--start", START, "--days", "1", "--format", "csv")
    short = invoke(
        "passes", "-e", STATIONS_TLE, "-s", stations_csv, *window, "--stale-leo-days", "1"
    )
    assert short.exit_code == 0, short.output
    assert "ISS (ZARYA) (25544): elements up to" in short.stderr
    assert "stale past 1 days" in short.stderr
    monkeypatch.setenv("JOINTSAT_STALE_LEO_DAYS", "1")
    assert invoke("passes", "-e", STATIONS_TLE, "-s", stations_csv, *window).stderr == short.stderr
    monkeypatch.setenv("JOINTSAT_STALE_LEO_DAYS", "soon")
    bad = invoke("passes", "-e", STATIONS_TLE, "-s", stations_csv, *window)
    assert_clean_failure(bad, 1, "JOINTSAT_STALE_LEO_DAYS: give a positive number of days")


@pytest.mark.parametrize("columns", [80, 100, 200])
def test_the_passes_table_fits_the_terminal_with_times_whole(
    stations_csv: str, columns: int
) -> None:
    """Each pass of the CSV has its row, its AOS and LOS whole on it, the satellite's
    catalog number too; no line is wider than the terminal (before: `CHE… │ McM… │ 202…`)."""
    window = ("--start", START, "--days", "0.25")
    rows = passes_csv(stations_csv, *window)
    assert rows
    result = CliRunner().invoke(
        app,
        ["passes", "-e", STATIONS_TLE, "-s", stations_csv, *window],
        env={"COLUMNS": str(columns)},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= columns
    shown = [
        i for i, line in enumerate(lines) if re.search(r"│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │", line)
    ]
    expected = sorted(
        (
            parse_utc(row["aos"]).strftime("%Y-%m-%d %H:%M:%S"),
            parse_utc(row["los"]).strftime("%H:%M:%S"),
            row["norad_id"],
        )
        for row in rows
    )
    found = []
    for i, after in zip(shown, [*shown[1:], len(lines)], strict=True):
        row_text = " ".join(lines[i:after])  # with a folded name's next lines
        aos = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lines[i])
        los = re.findall(r"(?<=│ )\d\d:\d\d:\d\d(?= │)", lines[i])  # TCA, if shown, then LOS
        norad = re.search(r"\((\d+)\) ", row_text)
        assert aos, lines[i]
        assert los, lines[i]
        assert norad, row_text
        found.append((aos.group(), los[-1], norad.group(1)))
    assert sorted(found) == expected
