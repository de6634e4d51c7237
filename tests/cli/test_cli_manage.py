"""The management commands (partner, agreement, station, satellite, user, token), both ways.

Each command runs on a store (``--database-url``) and against a real server over
HTTP (``--url``/``--token``: uvicorn on a loopback port, the command invoked in this
process). The oracle for JSON is the API's own answer to the same question; CSV is
read back with the csv module; tables are checked at 80 columns with ids whole.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.consortium import Consortium, bearer
from tests.support.server import in_thread
from tests.support.shared import SharedWorld
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.orbits.elements import parse_elements
from jointsat.service.app import create_app
from jointsat.settings import Settings
from jointsat.store.tables import GroundStation, Partner, Role

DATA = Path(__file__).resolve().parents[2] / "src" / "jointsat" / "data"
ISS_TLE = "\n".join((DATA / "stations.tle").read_text().splitlines()[:3]) + "\n"
LONG_NAME = "Agenzia Spaziale Italiana, Centro di Geodesia Spaziale Giuseppe Colombo, Matera"
HTTP_S = 60.0  # a loaded machine answers slowly; waiting is not what is tested
CLEAN_ENV = {"JOINTSAT_URL": None, "JOINTSAT_TOKEN": None, "COLUMNS": "80"}


@dataclass
class World:
    """A store with a small consortium; ``server`` is set when one serves it."""

    url: str
    consortium: Consortium
    server: str = ""

    def token(self, who: str) -> str:
        return self.consortium.tokens[who]

    def store(self, *args: str) -> Result:
        """Run a command on the store."""
        return CliRunner().invoke(app, [*args, "--database-url", self.url], env=CLEAN_ENV)

    def remote(self, who: str, *args: str) -> Result:
        """Run a command against the server with the token of ``who``."""
        return CliRunner().invoke(
            app, [*args, "--url", self.server, "--token", self.token(who)], env=CLEAN_ENV
        )

    def api(self, who: str, path: str) -> Any:
        """Return the API's JSON answer to GET ``path`` (the oracle)."""
        answer = httpx.get(
            f"{self.server}/api/v1{path}", headers=bearer(self.token(who)), timeout=HTTP_S
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


def _fill(consortium: Consortium) -> None:
    """Add the module's consortium to the store."""
    (iss,) = parse_elements(ISS_TLE, source="stations.tle").elements
    with consortium.session() as s:
        consortium.add_admin(s)
        esa = consortium.add_partner(s, "esa", 0.6, name="European Space Agency", agreement={})
        asi = consortium.add_partner(s, "asi", 0.4, name=LONG_NAME, agreement={})
        consortium.add_user(s, "esa-ops", Role.OPERATOR, esa)
        consortium.add_user(s, "esa-viewer", Role.VIEWER, esa)
        consortium.add_satellite(s, "ISS (ZARYA)", 25544, {esa: 0.5, asi: 0.5}, [iss])
        consortium.add_station(s, "Kiruna", esa, 67.857, 20.964)
        consortium.add_station(s, "Matera", asi, 40.649, 16.704, min_elevation_deg=5.0)


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    consortium = Consortium(store_url, now=datetime.now(UTC))
    _fill(consortium)
    try:
        yield World(store_url, consortium)
    finally:
        consortium.close()


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[World]:
    settings = Settings(database_url=world.url, archive_root=tmp_path / "archive")
    with in_thread(create_app(settings)) as base:
        world.server = base
        yield world


class Served(Consortium):
    """The module's consortium, served over HTTP until closed."""

    def __init__(self, url: str, archive: Path) -> None:
        super().__init__(url, now=datetime.now(UTC))
        _fill(self)
        self._server = ExitStack()
        settings = Settings(database_url=url, archive_root=archive)
        self.world = World(url, self, self._server.enter_context(in_thread(create_app(settings))))

    def close(self) -> None:
        self._server.close()
        super().close()


@pytest.fixture(scope="module")
def shared_served(
    module_stores: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedWorld[Served]]:
    """One served world per backend for the tests that only read (tests.support.shared)."""
    shared = SharedWorld(
        lambda: Served(module_stores(), tmp_path_factory.mktemp("manage") / "archive")
    )
    yield shared
    shared.close()


@pytest.fixture
def reading(shared_served: SharedWorld[Served]) -> Iterator[World]:
    """The shared served world, for a test that only reads, on the store and over HTTP."""
    with shared_served.use() as served:
        yield served.world


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(result: Result) -> str:
    """Return the one error line of a refused command (no traceback, no pydantic prefix)."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    assert "Value error," not in result.output
    return lines[0]


def me_status(world: World, token: str) -> int:
    """Return the status of GET /me with the token: 200 while it works, 401 after."""
    return httpx.get(f"{world.server}/api/v1/me", headers=bearer(token), timeout=HTTP_S).status_code


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def fits(text: str, *whole: str) -> None:
    """Check a table is at most 80 columns wide and shows each of ``whole`` uncut."""
    lines = text.splitlines()
    assert lines
    assert max(len(line) for line in lines) <= 80, text
    for word in whole:
        assert any(f" {word} " in line for line in lines), (word, text)


# --- JSON is the API's, in both ways -----------------------------------------------------

LISTINGS = [
    (("partner", "list"), "/partners"),
    (("agreement", "list"), "/agreements"),
    (("station", "list"), "/stations"),
    (("satellite", "list"), "/satellites"),
    (("user", "list"), "/users"),
]


@pytest.mark.parametrize(("command", "path"), LISTINGS, ids=[c[0] for c, _ in LISTINGS])
def test_json_is_the_apis_answer_on_the_store_and_over_http(
    reading: World, command: tuple[str, ...], path: str
) -> None:
    served = reading
    expected = served.api("admin", path)
    assert expected  # something to compare
    assert json.loads(ok(served.store(*command, "--format", "json"))) == expected
    assert json.loads(ok(served.remote("admin", *command, "--format", "json"))) == expected


def test_show_json_is_the_apis_answer(reading: World) -> None:
    served = reading
    station_id = served.api("admin", "/stations")[1]["id"]
    expected = served.api("admin", f"/stations/{station_id}")
    for result in (
        served.store("station", "show", "Matera", "-f", "json"),
        served.remote("admin", "station", "show", str(station_id), "-f", "json"),
    ):
        assert json.loads(ok(result)) == expected
    expected = served.api("admin", "/partners/2")
    assert json.loads(ok(served.store("partner", "show", "asi", "-f", "json"))) == expected
    agreement = served.api("admin", "/agreements/2")
    assert json.loads(ok(served.remote("admin", "agreement", "show", "asi", "-f", "json"))) == (
        agreement
    )


def test_element_sets_list_with_their_age(reading: World) -> None:
    served = reading
    expected = served.api("admin", "/satellites/1/elements")
    for result in (
        served.store("satellite", "elements", "25544", "-f", "json"),
        served.remote("admin", "satellite", "elements", "25544", "-f", "json"),
    ):
        got = json.loads(ok(result))
        assert [{**e, "age_days": 0} for e in got] == [{**e, "age_days": 0} for e in expected]
        epoch = datetime.fromisoformat(got[0]["epoch"])
        age = (datetime.now(UTC) - epoch).total_seconds() / 86400
        assert got[0]["age_days"] == pytest.approx(age, abs=0.01)
    table = ok(served.store("satellite", "elements", "25544"))
    fits(table, "2024-05-09 08:48:19")  # the ISS set's epoch, day 130.36689744 of 2024


# --- CSV and tables ----------------------------------------------------------------------


def test_csv_has_a_header_and_a_row_each_with_the_api_values(reading: World) -> None:
    served = reading
    expected = served.api("admin", "/stations")
    found = rows(ok(served.store("station", "list", "--format", "csv")))
    assert [r["id"] for r in found] == [str(s["id"]) for s in expected]
    assert [float(r["lat_deg"]) for r in found] == [s["lat_deg"] for s in expected]
    assert [json.loads(r["unavailable"]) for r in found] == [s["unavailable"] for s in expected]
    partners = rows(ok(served.remote("admin", "partner", "list", "-f", "csv")))
    assert partners[1] == {"id": "2", "code": "asi", "name": LONG_NAME, "contribution_share": "0.4"}


@pytest.mark.parametrize(
    "command",
    [
        ("partner", "list"),
        ("agreement", "list"),
        ("station", "list"),
        ("satellite", "list"),
        ("user", "list"),
        ("token", "list"),
        ("partner", "show", "asi"),
    ],
)
def test_tables_fit_80_columns_with_ids_whole(world: World, command: tuple[str, ...]) -> None:
    with world.consortium.session() as s:
        for n in range(3):  # long ids and names
            world.consortium.add_station(
                s, f"{LONG_NAME} {n}", s.get_one(Partner, 2), 40.0, 16.0, id=123456 + n
            )
    text = ok(world.store(*command))
    whole = {"station": ["123456", "123458"], "satellite": ["25544"], "partner": ["asi"]}
    fits(text, *whole.get(command[0], []))
    if command[0] == "partner":
        assert "Matera" in text  # a long name folded, not cut


# --- changes, both ways ------------------------------------------------------------------


@pytest.mark.parametrize("way", ["store", "server"])
def test_partners_are_added_changed_and_removed(served: World, way: str) -> None:
    def run(*args: str) -> Result:
        return served.store(*args) if way == "store" else served.remote("admin", *args)

    added = json.loads(
        ok(run("partner", "add", "dlr", "--name", "DLR", "--share", "0.2", "-f", "json"))
    )
    assert served.api("admin", f"/partners/{added['id']}") == added
    changed = json.loads(ok(run("partner", "update", "dlr", "--share", "0.3", "-f", "json")))
    assert (
        changed["contribution_share"]
        == 0.3
        == served.api("admin", "/partners/3")["contribution_share"]
    )
    terms = json.loads(
        ok(run("agreement", "set", "dlr", "--embargo-days", "30", "--priority", "2",
               "--public-release-days", "never", "--share", "0.25", "-f", "json"))
    )  # fmt: skip
    assert terms == served.api("admin", f"/agreements/{added['id']}")
    assert (terms["embargo_days"], terms["priority_class"], terms["share"]) == (30, 2, 0.25)
    assert terms["public_release_days"] is None
    clash = refused(run("partner", "add", "dlr", "--name", "DLR 2", "--share", "0.1"))
    assert "clashes" in clash
    assert "removed" in ok(run("partner", "remove", "dlr"))
    assert [p["code"] for p in served.api("admin", "/partners")] == ["esa", "asi"]
    kept = refused(run("partner", "remove", "esa"))
    assert "still owns stations" in kept


@pytest.mark.parametrize("way", ["store", "server"])
def test_stations_masks_and_unavailability(served: World, way: str, tmp_path: Path) -> None:
    def run(*args: str) -> Result:
        return served.store(*args) if way == "store" else served.remote("esa-ops", *args)

    added = json.loads(
        ok(run("station", "add", "Redu", "--partner", "esa", "--lat", "50.0", "--lon", "5.15",
               "--band", "S", "--mask", "0:5,90:10,180:3,270:8", "-f", "json"))
    )  # fmt: skip
    ident = str(added["id"])
    assert added["horizon_mask"] == {
        "azimuth_deg": [0.0, 90.0, 180.0, 270.0],
        "elevation_deg": [5.0, 10.0, 3.0, 8.0],
    }
    mask_file = tmp_path / "mask.csv"
    mask_file.write_text("azimuth_deg,elevation_deg\n0,2\n120,7.5\n240,4\n")
    ok(run("station", "mask", "set", ident, "--mask-file", str(mask_file)))
    shown = rows(ok(run("station", "mask", "show", ident, "-f", "csv")))
    assert [(float(r["azimuth_deg"]), float(r["elevation_deg"])) for r in shown] == [
        (0.0, 2.0),
        (120.0, 7.5),
        (240.0, 4.0),
    ]
    assert served.api("admin", f"/stations/{ident}")["horizon_mask"]["elevation_deg"] == [
        2.0,
        7.5,
        4.0,
    ]
    bad = refused(run("station", "mask", "set", ident, "--mask", "90:5,0:3"))
    assert "horizon_mask" in bad or "azimuth" in bad
    ok(run("station", "mask", "set", ident, "--clear"))
    assert served.api("admin", f"/stations/{ident}")["horizon_mask"] is None
    ok(run("station", "unavailable", "add", ident, "--start", "2024-05-10T06:00",
           "--end", "2024-05-10T08:00Z", "--kind", "outage", "--reason", "radome"))  # fmt: skip
    windows = json.loads(ok(run("station", "unavailable", "list", ident, "-f", "json")))
    assert windows == served.api("admin", f"/stations/{ident}")["unavailable"]
    assert [(w["start"], w["end"], w["kind"]) for w in windows] == [
        ("2024-05-10T06:00:00Z", "2024-05-10T08:00:00Z", "outage")
    ]
    late = refused(
        run("station", "unavailable", "add", ident, "--start", "2024-05-10T08:00",
            "--end", "2024-05-10T06:00")
    )  # fmt: skip
    assert "end must be after start" in late
    ok(run("station", "update", ident, "--name", "Redu 2", "--min-elevation", "3"))
    assert served.api("admin", f"/stations/{ident}")["name"] == "Redu 2"
    assert "removed" in ok(run("station", "remove", ident))
    assert all(s["id"] != added["id"] for s in served.api("admin", "/stations"))


@pytest.mark.parametrize("way", ["store", "server"])
def test_satellites_are_added_changed_and_get_element_sets(
    served: World, way: str, tmp_path: Path
) -> None:
    def run(*args: str) -> Result:
        return served.store(*args) if way == "store" else served.remote("admin", *args)

    payload = tmp_path / "payload.json"
    payload.write_text(
        json.dumps({"memory_mbit": 8000, "imaging_rate_mbps": 100, "downlink_rate_mbps": 150})
    )
    added = json.loads(
        ok(run("satellite", "add", "CHEOPS", "--norad", "44874", "--operator", "esa=0.7",
               "--operator", "asi=0.3", "--payload", str(payload), "-f", "json"))
    )  # fmt: skip
    assert added == served.api("admin", f"/satellites/{added['id']}")
    assert added["operators"] == {"1": 0.7, "2": 0.3}
    assert added["payload"]["memory_mbit"] == 8000
    changed = json.loads(
        ok(run("satellite", "update", "44874", "--daily-demand", "3600", "--no-payload", "-f",
               "json"))
    )  # fmt: skip
    assert (changed["daily_demand_s"], changed["payload"]) == (3600.0, None)
    elements = tmp_path / "cheops.tle"
    elements.write_text((DATA / "cheops.tle").read_text())
    sets = parse_elements(elements.read_text()).elements
    stored = ok(run("satellite", "upload", "44874", str(elements)))
    assert stored.startswith(f"{len(sets)} stored, 0 already known")
    again = ok(run("satellite", "upload", "44874", str(elements)))
    assert again.startswith(f"0 stored, {len(sets)} already known")
    listed = json.loads(ok(run("satellite", "elements", "CHEOPS", "-f", "json")))
    epochs = sorted((e.epoch for e in sets), reverse=True)
    assert [datetime.fromisoformat(e["epoch"]) for e in listed] == epochs  # newest first
    assert all(e["source"] == "cheops.tle" and e["chosen"] for e in listed)
    foreign = tmp_path / "iss.tle"
    foreign.write_text(ISS_TLE)
    wrong = refused(run("satellite", "upload", "44874", str(foreign)))
    assert "catalog number 25544 is not this satellite's (44874)" in wrong
    sums = refused(run("satellite", "add", "X", "--norad", "99999", "--operator", "esa=0.5"))
    assert "sum to 0.5, not 1" in sums


@pytest.mark.parametrize("way", ["store", "server"])
def test_users_and_tokens(served: World, way: str) -> None:
    def run(*args: str) -> Result:
        return served.store(*args) if way == "store" else served.remote("admin", *args)

    user = json.loads(
        ok(run("user", "add", "asi-ops", "--role", "operator", "--partner", "asi", "-f", "json"))
    )
    assert (user["role"], user["partner_id"]) == ("operator", 2)
    made = run("token", "create", "--user", "asi-ops", "--label", "laptop", "--days", "5")
    token = ok(made).strip()
    assert token.startswith("jst_")
    token_id = int(made.stderr.split("token id ")[1].split()[0])
    me = httpx.get(f"{served.server}/api/v1/me", headers=bearer(token), timeout=HTTP_S)
    assert me.status_code == 200
    assert me.json()["token"]["id"] == token_id
    listed = rows(ok(run("token", "list", "--user", "asi-ops", "-f", "csv")))
    assert [(int(r["id"]), r["label"], r["revoked_at"]) for r in listed] == [
        (token_id, "laptop", "")
    ]
    everyone = json.loads(ok(run("token", "list", "-f", "json")))
    assert {t["user_id"] for t in everyone} == {u["id"] for u in served.api("admin", "/users")}
    ok(run("user", "disable", "asi-ops"))
    assert me_status(served, token) == 401
    ok(run("user", "update", "asi-ops", "--enabled"))
    assert me_status(served, token) == 200
    assert f"token {token_id} revoked" in ok(run("token", "revoke", str(token_id)))
    assert me_status(served, token) == 401
    last = refused(run("user", "disable", "admin"))
    assert "last enabled admin" in last


def test_an_operator_lists_and_mints_its_own_tokens_over_http(served: World) -> None:
    mine = json.loads(ok(served.remote("esa-ops", "token", "list", "-f", "json")))
    assert {t["user_id"] for t in mine} == {served.api("esa-ops", "/me")["id"]}
    refusal = refused(served.remote("esa-ops", "token", "create", "--label", "ci"))
    assert "HTTP 403" in refusal
    assert "may not create tokens" in refusal


# --- refusals: one line each -------------------------------------------------------------


def test_a_viewer_is_refused_admin_acts_in_one_line(served: World) -> None:
    for command in (
        ("partner", "add", "dlr", "--name", "DLR", "--share", "0.2"),
        ("agreement", "set", "esa", "--embargo-days", "1"),
        ("station", "update", "Kiruna", "--min-elevation", "2"),
        ("user", "list"),
    ):
        line = refused(served.remote("esa-viewer", *command))
        assert "HTTP 403" in line, line
    assert served.api("admin", "/agreements/1")["embargo_days"] == 0


def test_a_change_made_since_the_read_is_refused_with_412(
    served: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jointsat import client

    real_get = client.ApiClient.get

    def get_then_someone_else_writes(self: client.ApiClient, path: str, **query: Any) -> Any:
        answer = real_get(self, path, **query)
        if path.startswith("/stations/"):
            with served.consortium.session() as s:
                s.get_one(GroundStation, int(path.split("/")[2])).turnaround_s = 42.0
        return answer

    monkeypatch.setattr(client.ApiClient, "get", get_then_someone_else_writes)
    line = refused(served.remote("admin", "station", "update", "Kiruna", "--min-elevation", "9"))
    assert line.endswith("changed since read; try again"), line
    kiruna = served.api("admin", "/stations")[0]
    assert (kiruna["min_elevation_deg"], kiruna["turnaround_s"]) == (0.0, 42.0)


def test_bad_input_is_one_line_naming_the_field_both_ways(served: World) -> None:
    args = ("partner", "add", "dlr", "--name", "DLR", "--share", "1.5")
    on_store = refused(served.store(*args))
    over_http = refused(served.remote("admin", *args))
    assert "contribution_share" in on_store
    assert "less than or equal to 1" in on_store
    assert "contribution_share" in over_http
    assert "less than or equal to 1" in over_http
    unknown = refused(served.store("station", "show", "Nowhere"))
    assert unknown == "error: no station 'Nowhere'"


def test_a_token_without_url_is_a_command_line_error(world: World) -> None:
    result = CliRunner().invoke(
        app, ["partner", "list", "--token", "jst_x", "--database-url", world.url], env=CLEAN_ENV
    )
    assert result.exit_code == 2
    assert "--token goes with --url" in result.output


def test_the_old_admin_token_names_still_work(world: World) -> None:
    made = world.store("admin", "token", "create", "--user", "esa-ops")
    assert ok(made).strip().startswith("jst_")
    assert ok(world.store("admin", "disable-user", "esa-ops"))


# --- the store's week as a problem file ----------------------------------------------------


def test_problem_export_is_the_problem_schedule_week_solves(world: World, tmp_path: Path) -> None:
    from jointsat.scheduling.problem import Problem

    start = "2024-05-10T00:00:00Z"
    path = tmp_path / "problem.json"
    exported = world.store("problem", "export", "--start", start, "--days", "7", "-o", str(path))
    assert "written to" in ok(exported) + exported.stderr
    document = json.loads(path.read_text())
    problem = Problem.from_json(path.read_text(), source=str(path))
    assert problem.to_dict() == document  # the file reads back as itself
    assert {s["id"] for s in document["stations"]} == {"Kiruna", "Matera"}
    assert [s["id"] for s in document["satellites"]] == ["25544"]
    assert problem.passes  # the stored prediction of the week

    from_file = tmp_path / "from-file.json"
    week = tmp_path / "week.json"
    limit = ("--time-limit", "20")
    ok(world.store("schedule", "--problem", str(path), "-o", str(from_file), *limit))
    ok(world.store("schedule", "--week", "--start", start, "-o", str(week), *limit))
    solved, saved = json.loads(from_file.read_text()), json.loads(week.read_text())
    assert solved["status"] == saved["status"] == "optimal"
    assert solved["total_seconds"] == pytest.approx(saved["total_seconds"])
    assert {p: v["seconds"] for p, v in solved["partners"].items()} == pytest.approx(
        {p: v["seconds"] for p, v in saved["partners"].items()}
    )
    replanned = CliRunner().invoke(
        app,
        ["replan", "--schedule", str(from_file), "--problem", str(path), "--outage", "Kiruna",
         "2024-05-11T00:00Z", "2024-05-12T00:00Z", "--now", "2024-05-11T00:00Z", *limit],
        env=CLEAN_ENV,
    )  # fmt: skip
    assert ok(replanned).startswith("{")


def test_problem_export_of_an_empty_store_says_what_is_missing(
    tmp_path: Path, new_sqlite_store: Any
) -> None:
    url = new_sqlite_store(tmp_path)
    result = CliRunner().invoke(app, ["problem", "export", "--database-url", url], env=CLEAN_ENV)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: the store has no partners to share the network among"


def test_problem_export_from_a_server_is_the_stores(served: World, tmp_path: Path) -> None:
    window = ("--start", "2024-05-10T00:00:00Z", "--days", "2")
    over_http = tmp_path / "http.json"
    on_store = tmp_path / "store.json"
    ok(served.remote("admin", "problem", "export", *window, "-o", str(over_http)))
    ok(served.store("problem", "export", *window, "-o", str(on_store)))
    assert json.loads(over_http.read_text()) == json.loads(on_store.read_text())
    line = refused(served.remote("esa-ops", "problem", "export", *window))
    assert "HTTP 403" in line
    public = httpx.get(
        f"{served.server}/api/v1/schedules/problem",
        params={"start": "2024-05-10T00:00:00Z", "end": "2024-05-11T00:00:00Z"},
        timeout=HTTP_S,
    )
    assert public.status_code == 401
