"""Check `jointsat db`: migrations from the command line, and clear errors for bad stores."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from jointsat.cli import app
from jointsat.store import migrate

runner = CliRunner()


def test_db_upgrade_and_downgrade(database_url: str) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert f"store at revision {migrate.head_revision()}" in result.output
    result = runner.invoke(
        app, ["db", "downgrade", "base", "--yes", "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(database_url) is None


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_downgrade_losing_data_is_refused_unless_forced(
    database_url: str, tmp_path: Path
) -> None:
    from tests.store.test_migrations import _populate, _rows

    migrate.upgrade(database_url)
    _populate(database_url, tmp_path)
    rows = _rows(database_url)
    down = ["db", "downgrade", "base", "--database-url", database_url]
    line = _one_line_error(runner.invoke(app, [*down, "--yes"]))
    assert "would lose data (1 row(s) of agreements dropped;" in line
    assert "--force" in line
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert _rows(database_url) == rows
    line = _one_line_error(runner.invoke(app, [*down, "--force"]))  # input: not a terminal
    assert "add --yes" in line
    assert migrate.current_revision(database_url) == migrate.head_revision()
    result = runner.invoke(app, [*down, "--force", "--yes"])
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(database_url) is None


def test_a_downgrade_asks_first_on_a_terminal(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jointsat.cli import admin

    migrate.upgrade(database_url)
    monkeypatch.setattr(admin, "_interactive", lambda: True)
    down = ["db", "downgrade", "0011", "--database-url", database_url]
    declined = runner.invoke(app, down, input="n\n")
    assert declined.exit_code == 1
    head = migrate.head_revision()
    assert f"from revision {head} down to 0011?" in declined.output
    assert migrate.current_revision(database_url) == head
    accepted = runner.invoke(app, down, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert migrate.current_revision(database_url) == "0011"


def test_db_upgrade_uses_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("JOINTSAT_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert migrate.current_revision(url) == migrate.head_revision()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--database-url", "nonsense://"], "not a database URL"),
        (["--database-url", "postgresql://nobody@127.0.0.1:1/none"], "cannot reach the store"),
        (["--revision", "no-such-revision"], "cannot migrate"),
    ],
)
def test_bad_stores_get_one_clear_line(
    arguments: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("JOINTSAT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = runner.invoke(app, ["db", "upgrade", *arguments])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_passes_from_the_store_equal_passes_from_files(store_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tests.support.data import orbit_file

    from jointsat.orbits.elements import parse_elements
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.tables import (
        ElementSetRecord,
        GroundStation,
        Partner,
        Satellite,
        SatelliteOperator,
    )

    now = datetime(2024, 5, 10, tzinfo=UTC)
    tle = orbit_file("stations.tle")
    elements = parse_elements(tle.read_text()).elements[:2]
    stations_csv = tmp_path / "stations.csv"
    stations_csv.write_text(
        "name,lat_deg,lon_deg,alt_m,min_elevation_deg\nWeilheim,47.88,11.085,663,10\n"
    )
    engine = open_engine(store_url)
    with session_factory(engine).begin() as session:
        esa = Partner(code="esa", name="ESA", contribution_share=1.0)
        session.add(
            GroundStation(
                name="Weilheim",
                owner=esa,
                lat_deg=47.88,
                lon_deg=11.085,
                alt_m=663.0,
                min_elevation_deg=10.0,
            )
        )
        for e in elements:
            satellite = Satellite(name=e.object_name, norad_id=e.norad_cat_id)
            satellite.operators = [SatelliteOperator(partner=esa, fraction=1.0)]
            satellite.element_sets = [
                ElementSetRecord(epoch=e.epoch, omm=e.to_omm(), source="t", received_at=now)
            ]
            session.add(satellite)
    engine.dispose()
    window = ["--start", "2024-05-10T00:00:00Z", "--days", "1", "--format", "csv"]
    stored = runner.invoke(app, ["passes", "--from-store", "--database-url", store_url, *window])
    assert stored.exit_code == 0, stored.output
    head = "\n".join(tle.read_text().splitlines()[:6])
    elements_file = tmp_path / "two.tle"
    elements_file.write_text(head)
    files = runner.invoke(
        app, ["passes", "-e", str(elements_file), "-s", str(stations_csv), *window]
    )
    assert files.exit_code == 0, files.output
    assert stored.stdout == files.stdout
    assert len(stored.stdout.splitlines()) > 3


def test_passes_from_the_store_use_its_ephemerides(store_url: str, tmp_path: Path) -> None:
    """A stored OEM (no element set) gives `passes --from-store` the passes of the file."""
    from datetime import UTC, datetime, timedelta

    from tests.support.data import orbit_file

    from jointsat.orbits.elements import parse_elements
    from jointsat.orbits.export import sample_oem
    from jointsat.orbits.oem import format_oem, read_oem
    from jointsat.orbits.propagation import group_satellites
    from jointsat.store.consortium import Arrival, add_satellite, store_ephemeris
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.tables import GroundStation, Partner

    start = datetime(2024, 5, 10, tzinfo=UTC)
    iss = parse_elements(orbit_file("stations.tle").read_text()).elements[0]
    orbit = group_satellites([iss])[0]
    samples = sample_oem(orbit, "90001", start, start + timedelta(hours=12), 60.0)
    text = format_oem(samples, created=start)
    oem_file = tmp_path / "iss.oem"
    oem_file.write_text(text)
    stations_csv = tmp_path / "stations.csv"
    stations_csv.write_text(
        "name,lat_deg,lon_deg,alt_m,min_elevation_deg\nRedu,50.002,5.146,370,5\n"
    )
    engine = open_engine(store_url)
    with session_factory(engine)() as session:
        esa = Partner(code="esa", name="ESA", contribution_share=1.0)
        session.add(esa)
        session.add(
            GroundStation(
                name="Redu", owner=esa, lat_deg=50.002, lon_deg=5.146, alt_m=370.0,
                min_elevation_deg=5.0,
            )
        )  # fmt: skip
        session.flush()
        satellite = add_satellite(
            session, name=iss.object_name, norad_id=90001, daily_demand_s=None, imager=None,
            operators={esa.id: 1.0},
        )  # fmt: skip
        session.commit()
        ephemeris = read_oem(text, source="iss.oem", norad_id=90001)
        assert store_ephemeris(session, satellite, ephemeris, text, Arrival("iss.oem", start))
    engine.dispose()
    window = ["--start", "2024-05-10T00:00:00Z", "--days", "1", "--format", "csv"]
    stored = runner.invoke(app, ["passes", "--from-store", "--database-url", store_url, *window])
    assert stored.exit_code == 0, stored.output
    files = runner.invoke(app, ["passes", "-e", str(oem_file), "-s", str(stations_csv), *window])
    assert files.exit_code == 0, files.output
    assert stored.stdout == files.stdout
    assert len(stored.stdout.splitlines()) > 2  # passes in the covered half day, none after


def _no_server(*_: object, **__: object) -> None:
    raise AssertionError("the server was started")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("no folder", "its folder {folder}/gone does not exist"),
        ("no file", "no store at {folder}/store.db; create it with `jointsat admin init"),
        (
            "empty file",
            "has no schema (it was never migrated); create it with `jointsat admin init",
        ),
        (
            "old revision",
            f"is at revision 0010, this jointsat needs {migrate.head_revision()}: back it up",
        ),
    ],
)
def test_serve_refuses_a_store_it_cannot_serve(
    make: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", _no_server)
    monkeypatch.delenv("JOINTSAT_ARCHIVE_ROOT", raising=False)
    path = tmp_path / ("gone/store.db" if make == "no folder" else "store.db")
    url = f"sqlite:///{path}"
    if make == "empty file":
        path.touch()
    if make == "old revision":
        migrate.upgrade(url, "0010")
    before = sorted(tmp_path.rglob("*"))
    result = runner.invoke(app, ["serve", "--port", "1", "--database-url", url])
    line = _one_line_error(result)
    assert message.format(folder=tmp_path) in line
    assert sorted(tmp_path.rglob("*")) == before  # nothing made for it


def test_serve_demo_refuses_when_the_demo_was_never_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", _no_server)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    line = _one_line_error(runner.invoke(app, ["serve", "--demo"]))
    assert line == (
        f"error: no demo store at {tmp_path}/jointsat/jointsat-demo.db: run `jointsat demo` first"
    )


def test_serve_demo_says_what_it_serves(tmp_path: Path, sqlite_template: Path) -> None:
    """A real `jointsat serve --demo` on a free port: its first lines, then an answer."""
    import os
    import shutil
    import subprocess
    import sys

    import httpx
    from tests.support.server import START_S, free_port

    from jointsat.demo import DEMO_STORE_FILE_NAME

    data = tmp_path / "jointsat"
    data.mkdir()
    store = data / DEMO_STORE_FILE_NAME
    shutil.copyfile(sqlite_template, store)  # a demo store with no partner yet: empty
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOINTSAT_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jointsat", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                answer = httpx.get(f"{base}/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert answer.status_code == 200
    finally:
        process.kill()
        process.wait()
    assert log.read_text().splitlines()[:5] == [  # then uvicorn's access log
        f"store: sqlite:///{store}",
        f"archive: {data / 'jointsat-demo.archive'}",
        f"dashboard: {base}/",
        f"API: {base}/api/v1 (docs: {base}/docs)",
        "this store is empty: `jointsat demo` fills a demo store you can serve with "
        "`jointsat serve --demo`; or add partners: `jointsat partner add ...`",
    ]


def test_serve_refuses_an_archive_another_store_owns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_sqlite_store: Callable[[Path], str]
) -> None:
    import uvicorn

    from jointsat.archive.blobs import ArchiveOwner, write_owner

    monkeypatch.setattr(uvicorn, "run", _no_server)
    shared = tmp_path / "shared"
    write_owner(shared, ArchiveOwner("another-store-id", "/elsewhere/other.db"))
    monkeypatch.setenv("JOINTSAT_ARCHIVE_ROOT", str(shared))
    url = new_sqlite_store(tmp_path / "mine")
    line = _one_line_error(runner.invoke(app, ["serve", "--database-url", url]))
    assert f"the archive at {shared} belongs to another store (/elsewhere/other.db)" in line
