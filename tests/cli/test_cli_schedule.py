"""Check `jointsat schedule` and `jointsat replan`: files in, checked schedules out."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from tests.scheduling.instances import T0, random_document
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.scheduling.network import Network
from jointsat.scheduling.problem import Problem


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def problem_file(tmp_path: Path) -> Path:
    path = tmp_path / "week.json"
    path.write_text(json.dumps(random_document(21, passes=30)))
    return path


def _indices(problem: Problem, document: dict[str, object]) -> list[int]:
    index = {p.id: i for i, p in enumerate(problem.passes)}
    return [index[c["pass"]] for c in document["contacts"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("policy", ["fair", "max-total", "priority"])
def test_schedule_writes_a_feasible_schedule_with_its_evidence(
    problem_file: Path, tmp_path: Path, policy: str
) -> None:
    out = tmp_path / "schedule.json"
    result = _run("schedule", "--problem", str(problem_file), "--policy", policy, "-o", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["status"] == "optimal"
    assert document["policy"] == policy
    for key in ("contacts", "partners", "total_seconds", "bound", "solver", "levels", "gap"):
        assert key in document
    assert set(document["contacts"][0]) == {"pass", "satellite", "station", "start", "end"}
    for got in document["partners"].values():
        assert set(got) >= {"seconds", "normalized", "share_received", "share_entitled"}
    problem = Problem.from_json(problem_file.read_text())
    assert Network.of(problem).violations(_indices(problem, document)) == []
    digest = hashlib.sha256(problem_file.read_bytes()).hexdigest()
    assert document["provenance"]["problem_sha256"] == digest


def test_replan_keeps_the_past_and_avoids_the_outage(problem_file: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert _run("schedule", "--problem", str(problem_file), "-o", str(first)).exit_code == 0
    now = T0 + timedelta(hours=1)
    begins, ends = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    result = _run(
        "replan",
        "--schedule",
        str(first),
        "--problem",
        str(problem_file),
        "--outage",
        "G0",
        begins.isoformat(),
        ends.isoformat(),
        "--now",
        now.isoformat(),
        "-o",
        str(second),
    )
    assert result.exit_code == 0, result.output
    old, new = json.loads(first.read_text()), json.loads(second.read_text())

    def past(document: dict[str, list[dict[str, str]]]) -> set[str]:
        return {c["pass"] for c in document["contacts"] if datetime.fromisoformat(c["start"]) < now}

    assert past(old) == past(new)
    for c in new["contacts"]:
        start, end = datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"])
        if c["station"] == "G0" and start >= now:
            assert end <= begins or start >= ends
    assert new["levels"][-1]["name"] == "contacts changed"
    assert new["provenance"]["outage"]["station"] == "G0"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["passes"][0].update(satellite="NOPE"), "passes[0].satellite: unknown"),
        (lambda d: d["partners"][0].update(share=0.99), "shares must sum to 1"),
        (lambda d: d["passes"][2].update(end=d["passes"][2]["start"]), "end must be after start"),
    ],
)
def test_bad_problem_files_get_one_clear_line(tmp_path: Path, edit: object, message: str) -> None:
    document = random_document(5)
    edit(document)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    result = _run("schedule", "--problem", str(path))
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert str(path) in result.output


def test_schedule_needs_a_problem_or_the_week(tmp_path: Path) -> None:
    result = _run("schedule")
    assert result.exit_code == 2


@pytest.mark.slow  # a week of the pooled network planned (~10 s alone)
def test_schedule_week_plans_the_store_and_keeps_it(
    tmp_path: Path, demo_store: tuple[str, Result]
) -> None:
    demo = make_url(demo_store[0]).database
    with sqlite3.connect(str(demo)) as source, sqlite3.connect(tmp_path / "demo.db") as copy:
        source.backup(copy)  # the session's demo store (tests/cli/conftest.py), a copy
    url = f"sqlite:///{tmp_path}/demo.db"
    out = tmp_path / "week.json"
    result = _run(
        "schedule",
        "--week",
        "--start",
        "2024-05-10T00:00:00Z",
        "--time-limit",
        "20",
        "--database-url",
        url,
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["id"] == 2  # the demo saved the first
    assert document["status"] in {"optimal", "feasible"}
    assert len(document["provenance"]["element_set_ids"]) >= 5
    assert set(document["partners"]) == {"esa", "nasa", "cnes", "dlr", "asi"}
    # On a terminal without -o: the summary, where the schedule is, each step shown.
    shown = CliRunner().invoke(
        app,
        [
            "schedule",
            "--week",
            "--start",
            "2024-05-10T00:00:00Z",
            "--time-limit",
            "20",
            "--database-url",
            url,
        ],
        env=TERMINAL,
    )
    assert shown.exit_code == 0, shown.output
    out = _plain(shown.stdout)
    assert "{" not in out
    assert max(map(len, out.splitlines())) <= 80
    assert "schedule 3 saved in the store" in " ".join(out.split())
    assert "GET /api/v1/schedules/3" in " ".join(out.split())
    rows = [line.split()[1] for line in out.splitlines() if line.startswith("│ ")]
    assert sorted(rows) == sorted(document["partners"])
    steps = _plain(shown.stderr)
    for step in (
        "reading the store and predicting the passes",
        "sharing the network",
        "saving the schedule",
    ):
        assert f"✓ {step}" in steps


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TERMINAL = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "80"}  # rich: a terminal


def _plain(text: str) -> str:
    return ANSI.sub("", text)


def test_on_a_terminal_schedule_prints_its_summary_and_progress_not_json(
    problem_file: Path,
) -> None:
    """A terminal without -o gets each partner's row and how to get the JSON; stderr the
    steps that ran (the spinner's lines), each line within 80 columns."""
    problem = json.loads(problem_file.read_text())
    result = CliRunner().invoke(
        app, ["schedule", "--problem", str(problem_file), "--time-limit", "5"], env=TERMINAL
    )
    assert result.exit_code == 0, result.output
    out = _plain(result.stdout)
    assert "{" not in out
    assert "--format json, or -o FILE" in out
    assert max(map(len, out.splitlines())) <= 80
    rows = [line for line in out.splitlines() if line.startswith("│ ")]
    assert sorted(row.split()[1] for row in rows) == sorted(p["id"] for p in problem["partners"])
    steps = _plain(result.stderr)
    assert "✓ reading " in steps
    assert "✓ sharing the network (30 passes)" in steps


def test_schedule_csv_is_each_partners_row_of_the_schedule(
    problem_file: Path, tmp_path: Path
) -> None:
    """The CSV has the schedule document's names; its shares are the problem's."""
    result = _run("schedule", "--problem", str(problem_file), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "partner",
        "seconds",
        "normalized",
        "share_received",
        "share_entitled",
        "demand_s",
        "demand_met",
    ]
    shares = {p["id"]: p["share"] for p in json.loads(problem_file.read_text())["partners"]}
    total = sum(shares.values())
    assert {r["partner"]: float(r["share_entitled"]) for r in rows} == pytest.approx(
        {k: v / total for k, v in shares.items()}
    )
    received = sum(float(r["share_received"]) for r in rows)
    assert received == pytest.approx(1.0) or received == 0.0
    for r in rows:
        share = float(r["share_entitled"]) * total
        assert float(r["normalized"]) == pytest.approx(float(r["seconds"]) / share)
