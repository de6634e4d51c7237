"""Check `jointsat plan` and `jointsat requests`: files or the store in, checked plans out.

The problem: a day of two partners' Earth targets near agency ground sites (NASA's
NDOSL list), observed by the ISS and the Chinese station (CelesTrak elements of
2024-05-08/09). Every written plan is rebuilt from its JSON and given to the checker,
which recomputes the geometry, the slews and the memory from the orbits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.service.planning_world import START, PlanningWorld, earth_request
from tests.support.consortium import bearer
from tests.support.data import orbit_file
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.files import read_elements
from jointsat.orbits.propagation import group_satellites
from jointsat.planning.checker import check_plan
from jointsat.planning.plan import Objective, Observation, PartnerGain, Plan
from jointsat.planning.problem import PlanningProblem, downlinks_from_schedule
from jointsat.scheduling.result import Status
from jointsat.store.tables import ObservationRequest, PlanRecord

ELEMENTS = orbit_file("stations.tle")
ISS, CSS = "25544", "48274"
HORIZON = {"start": START.isoformat(), "end": (START + timedelta(hours=12)).isoformat()}


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def problem_document() -> dict[str, Any]:
    """Return a small real planning problem as its JSON document."""
    sites = {"esa": ("MPLS", "CB1D", "KRUS", "AUSS"), "nasa": ("WAPS", "AGOS", "USHS", "MG1D")}
    return {
        "horizon": HORIZON,
        "partners": [{"id": "esa", "share": 0.6}, {"id": "nasa", "share": 0.4}],
        "satellites": [
            {
                "id": ISS,
                "observes": ["earth"],
                "memory_mbit": 1_200.0,
                "imaging_rate_mbps": 40.0,
                "downlink_rate_mbps": 20.0,
            },
            {
                "id": CSS,
                "observes": ["earth", "sky"],
                "memory_mbit": 4_000.0,
                "imaging_rate_mbps": 40.0,
                "downlink_rate_mbps": 20.0,
                "agility": {"max_rate_deg_s": 1.0},
            },
        ],
        "requests": [
            {"id": f"{partner}-{site}", "partner": partner, **earth_request(site, gain=k + 1)}
            for partner, codes in sites.items()
            for k, site in enumerate(codes)
        ],
    }


def _write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def plan_of(document: dict[str, Any]) -> Plan:
    """Rebuild the plan the checker needs from a written plan's JSON."""

    def time(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text)

    return Plan(
        status=Status(document["status"]),
        objective=Objective(document["objective"]),
        observations=tuple(
            Observation(
                request=o["request"],
                partner=o["partner"],
                satellite=o["satellite"],
                start=datetime.fromisoformat(o["start"]),
                end=datetime.fromisoformat(o["end"]),
                gain=o["gain"],
                volume_mbit=o["volume_mbit"],
                second_start=time(o["second_start"]),
                off_nadir_deg=o["off_nadir_deg"],
            )
            for o in document["observations"]
        ),
        partners={k: PartnerGain(**v) for k, v in document["partners"].items()},
        total_gain=document["total_gain"],
        levels=(),
        unserved={},
        memory={},
        solver=document["solver"],
    )


@pytest.mark.parametrize("objective", ["fair", "max-gain"])
def test_plan_writes_a_plan_the_checker_accepts(tmp_path: Path, objective: str) -> None:
    problem_file = _write(tmp_path / "day.json", problem_document())
    out = tmp_path / "plan.json"
    result = _run(
        "plan",
        "--problem",
        str(problem_file),
        "--elements",
        str(ELEMENTS),
        "--objective",
        objective,
        "--time-limit",
        "5",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["objective"] == objective
    assert document["observations"]
    problem = PlanningProblem.from_json(problem_file.read_text())
    orbits = group_satellites(read_elements([ELEMENTS]).elements)
    assert check_plan(problem, orbits, plan_of(document)) == []
    provenance = document["provenance"]
    assert provenance["elements"] == {
        str(ELEMENTS): hashlib.sha256(ELEMENTS.read_bytes()).hexdigest()
    }
    assert provenance["problem_sha256"] == hashlib.sha256(problem_file.read_bytes()).hexdigest()
    for partner in ("esa", "nasa"):  # the summary table names each partner and its gain
        assert partner in result.output
        assert f"{document['partners'][partner]['gain']:,}" in result.output
    assert f"status {document['status']}" in result.output


def test_a_schedule_adds_its_contacts_as_downlinks(tmp_path: Path) -> None:
    document = problem_document()
    document["satellites"][0]["memory_mbit"] = 400.0  # one 10-s look at 40 Mbit/s
    for r in document["requests"]:
        if r["id"] in ("nasa-WAPS", "esa-CB1D", "nasa-USHS", "esa-KRUS"):
            r["satellites"] = [ISS]  # four targets only the ISS may take, hours apart
    problem_file = _write(tmp_path / "day.json", document)
    start = datetime.fromisoformat(HORIZON["start"])
    contacts = [
        {
            "satellite": ISS,
            "station": "Kiruna",
            "start": (start + timedelta(hours=h)).isoformat(),
            "end": (start + timedelta(hours=h, minutes=6)).isoformat(),
        }
        for h in range(1, 12, 2)
    ]
    contacts.append({**contacts[0], "satellite": "99999"})  # not ours: left out
    schedule = _write(tmp_path / "schedule.json", {"contacts": contacts})
    out = tmp_path / "plan.json"
    result = _run(
        "plan",
        "--problem",
        str(problem_file),
        "-e",
        str(ELEMENTS),
        "--schedule",
        str(schedule),
        "--time-limit",
        "5",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["provenance"]["schedule"]["downlinks_added"] == 6
    ours = [{k: c[k] for k in ("satellite", "start", "end")} for c in contacts[:-1]]
    with_downlinks = PlanningProblem.from_dict({**document, "downlinks": ours})
    assert downlinks_from_schedule({"contacts": contacts[:-1]}) == with_downlinks.downlinks
    orbits = group_satellites(read_elements([ELEMENTS]).elements)
    assert check_plan(with_downlinks, orbits, plan_of(written)) == []
    # The ISS's memory holds one look; the contacts empty it for more.
    iss_volume = sum(o["volume_mbit"] for o in written["observations"] if o["satellite"] == ISS)
    without = json.loads(
        _run_to(tmp_path, "plain.json", "--problem", str(problem_file), "-e", str(ELEMENTS))
    )
    plain_volume = sum(o["volume_mbit"] for o in without["observations"] if o["satellite"] == ISS)
    assert plain_volume <= 400.0 < iss_volume


def _run_to(tmp_path: Path, name: str, *args: str) -> str:
    out = tmp_path / name
    result = _run("plan", *args, "--time-limit", "5", "-o", str(out))
    assert result.exit_code == 0, result.output
    return out.read_text()


def _bad(edit: Any) -> dict[str, Any]:
    document = problem_document()
    edit(document)
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_bad(lambda d: d["partners"][0].update(share=0.9)), "shares must sum to 1"),
        (_bad(lambda d: d["requests"][2].update(lat_deg=95.0)), "requests[2].lat_deg: must be in"),
        (_bad(lambda d: d["requests"][0].update(mode="tri")), "requests[0].mode"),
        (_bad(lambda d: d["satellites"][1].update(memory_mbit=-5)), "satellites[1].memory_mbit"),
        (_bad(lambda d: d["satellites"][0].update(id="11")), "satellites[0]: no element sets"),
        (_bad(lambda d: d.pop("horizon")), "missing 'horizon'"),
    ],
)
def test_bad_problem_files_get_one_clear_line(
    tmp_path: Path, document: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path / "bad.json", document)
    result = _run("plan", "--problem", str(path), "-e", str(ELEMENTS), "--time-limit", "2")
    assert result.exit_code == 1
    assert message in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output


def test_bad_schedules_and_command_lines(tmp_path: Path) -> None:
    problem_file = _write(tmp_path / "day.json", problem_document())
    schedule = _write(tmp_path / "s.json", {"contacts": [{"satellite": ISS, "start": "soon"}]})
    result = _run(
        "plan", "--problem", str(problem_file), "-e", str(ELEMENTS), "--schedule", str(schedule)
    )
    assert result.exit_code == 1
    assert "contacts[0]" in result.output
    (tmp_path / "broken.json").write_text("{")
    broken = _run("plan", "--problem", str(tmp_path / "broken.json"), "-e", str(ELEMENTS))
    assert broken.exit_code == 1
    assert "not valid JSON" in broken.output
    assert _run("plan").exit_code == 2
    assert _run("plan", "--problem", str(problem_file)).exit_code == 2  # no orbits
    assert _run("plan", "--problem", str(problem_file), "--from-store").exit_code == 2
    assert _run("plan", "--from-store", "--start", "2024-05-10").exit_code == 2  # no length


@pytest.fixture
def store(tmp_path: Path, new_sqlite_store: Callable[[Path], str]) -> Any:
    world = PlanningWorld(new_sqlite_store(tmp_path))
    yield world
    world.close()


def test_plan_from_the_store_is_saved(store: PlanningWorld, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = _run(
        "plan",
        "--from-store",
        "--start",
        START.isoformat(),
        "--days",
        "0.5",
        "--time-limit",
        "3",
        "--database-url",
        store.url,
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert f"plan {document['id']} saved in the store" in result.output
    with store.sessions() as session:
        record = session.get(PlanRecord, document["id"])
        assert record is not None
        assert record.total_gain == document["total_gain"]
        assert len(record.observations) == len(document["observations"])
    assert document["provenance"]["request_ids"] == store.requests
    unknown = _run(
        "plan",
        "--from-store",
        "--start",
        START.isoformat(),
        "--days",
        "1",
        "--schedule-id",
        "5",
        "--database-url",
        store.url,
    )
    assert unknown.exit_code == 1
    assert "schedule_id" in unknown.output


def test_requests_are_imported_all_or_none_and_listed(store: PlanningWorld, tmp_path: Path) -> None:
    good = [
        {"id": "kiruna", **earth_request("KI2S", 3)},
        {
            "kind": "sky",
            "ra_deg": 83.63,
            "dec_deg": 22.01,
            "gain": 2,
            "duration_s": 300,
            "satellites": [str(store.norad["own"])],
        },
    ]
    path = _write(tmp_path / "requests.json", good)
    result = _run("requests", "import", str(path), "--partner", "own", "--database-url", store.url)
    assert result.exit_code == 0, result.output
    with store.sessions() as session:
        stored = session.scalars(
            select(ObservationRequest).where(ObservationRequest.partner_id == store.partner["own"])
        ).all()
    assert len(stored) == len(store.requests["own"]) + 2
    assert stored[-1].document["satellites"] == [str(store.norad["own"])]
    for bad, message in (
        ([*good, {**good[0], "lat_deg": 95}], "requests[2].lat_deg"),
        ([{**good[0], "partner": "private"}], "requests[0].partner"),
        ([{**good[1], "satellites": ["12345"]}], "requests[0].satellites[0]"),
    ):
        path = _write(tmp_path / "bad.json", bad)
        refused = _run(
            "requests", "import", str(path), "--partner", "own", "--database-url", store.url
        )
        assert refused.exit_code == 1
        assert message in refused.output
    with store.sessions() as session:
        assert len(session.scalars(select(ObservationRequest)).all()) == 9 + 2  # none added
    listed = _run("requests", "list", "--partner", "own", "--database-url", store.url)
    assert listed.exit_code == 0
    assert "RA 83.630" in listed.output
    assert listed.output.count(" own ") == len(store.requests["own"]) + 2


def test_strict_refuses_a_plan_from_stale_elements_and_saves_nothing(
    store: PlanningWorld,
) -> None:
    """The store's sets (epochs 2024-05-08/09) are over 7 days from a window 10 days on."""
    later = START + timedelta(days=10)
    args = ("plan", "--from-store", "--start", later.isoformat(), "--days", "0.5")
    common = ("--time-limit", "3", "--database-url", store.url)
    refused = _run(*args, *common, "--strict")
    assert refused.exit_code == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith("error: stale elements (--strict): satellite ")
    with store.sessions() as session:
        assert session.scalars(select(PlanRecord)).all() == []
    warned = _run(*args, *common)
    assert warned.exit_code == 0, warned.output
    stale = [w for w in warned.stderr.splitlines() if "days old in this window" in w]
    assert len(stale) == len(set(stale)) == len(store.norad)  # once per satellite


def test_requests_list_json_is_the_apis_and_the_table_fits_80_columns(
    store: PlanningWorld,
) -> None:
    """The CLI's JSON is the API's list (the admin's view); CSV and table show each one."""
    as_json = _run("requests", "list", "--format", "json", "--database-url", store.url)
    assert as_json.exit_code == 0, as_json.output
    api = store.client.get("/api/v1/requests", headers=bearer(store.tokens["admin"]))
    assert api.status_code == 200, api.text
    by_id = {r["id"]: r for r in api.json()}
    listed = json.loads(as_json.stdout)
    for r in listed:
        assert r == by_id[r["id"]], (sorted(r.items()), sorted(by_id[r["id"]].items()))
    as_csv = _run("requests", "list", "-f", "csv", "--database-url", store.url)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [int(r["id"]) for r in rows] == [r["id"] for r in listed]
    assert {r["partner"] for r in rows} == set(store.requests)
    table = CliRunner().invoke(
        app, ["requests", "list", "--database-url", store.url], env={"COLUMNS": "80"}
    )
    lines = table.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    for request in listed:
        (row,) = [line for line in lines if line.startswith(f"│ {request['id']:>2} │")]
        assert f" {request['partner']} " in row


def test_on_a_terminal_plan_prints_its_summary_and_progress_not_json(tmp_path: Path) -> None:
    """A terminal without -o gets each partner's gain and requested gain (the problem's
    sum) within 80 columns and how to get the JSON; stderr the steps that ran."""
    document = problem_document()
    problem_file = _write(tmp_path / "day.json", document)
    result = CliRunner().invoke(
        app,
        ["plan", "--problem", str(problem_file), "-e", str(ELEMENTS), "--time-limit", "5"],
        env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.stdout)
    assert "{" not in out
    assert "--format json, or -o FILE" in out
    assert max(map(len, out.splitlines())) <= 80
    assert "requested" in out
    for partner in ("esa", "nasa"):
        (row,) = [line for line in out.splitlines() if line.startswith(f"│ {partner} ")]
        requested = sum(r["gain"] for r in document["requests"] if r["partner"] == partner)
        assert row.rstrip(" │").endswith(f" {requested:,}")
    steps = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.stderr)
    assert "✓ reading " in steps
    assert f"✓ planning {len(document['requests'])} requests" in steps


def test_plan_csv_is_each_partners_row_of_the_plan(tmp_path: Path) -> None:
    problem_file = _write(tmp_path / "day.json", problem_document())
    result = _run(
        "plan",
        "--problem",
        str(problem_file),
        "-e",
        str(ELEMENTS),
        "-f",
        "csv",
        "--time-limit",
        "5",
    )
    assert result.exit_code == 0, result.output
    rows = {r["partner"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert set(rows) == {"esa", "nasa"}
    for partner, share in (("esa", 0.6), ("nasa", 0.4)):
        row = rows[partner]
        assert float(row["share_entitled"]) == pytest.approx(share)
        assert int(row["gain"]) <= int(row["reachable_gain"]) <= int(row["requested_gain"])
        assert float(row["normalized"]) == pytest.approx(int(row["gain"]) / share)
