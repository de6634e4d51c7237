"""Check `jointsat elements` against a fake CelesTrak on 127.0.0.1: fetch, list, block, unblock."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from tests.sources.fake import serving
from typer.testing import CliRunner

from jointsat.cli import app
from jointsat.orbits.elements import parse_elements
from jointsat.timelib import format_readable, parse_iso

runner = CliRunner()


def test_fetch_list_block_and_unblock(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("one backend is enough for the command line")
    db = ["--database-url", store_url]
    with serving() as fake:
        monkeypatch.setenv("JOINTSAT_CELESTRAK_URL", fake.base)
        fetched = runner.invoke(app, ["elements", "fetch", "--group", "stations", "--add", *db])
        assert fetched.exit_code == 0, fetched.output
        assert f"{len(fake.records)} new stored" in fetched.output
        listed = runner.invoke(app, ["elements", "list", "--satellite", "25544", *db])
        assert "celestrak" in listed.output
        assert "25544" in listed.output
        _check_list_formats(db, {int(r["NORAD_CAT_ID"]): r["EPOCH"] for r in fake.records})
        out = tmp_path / "iss.json"
        to_file = runner.invoke(app, ["elements", "fetch", "--catnr", "25544", "-o", str(out), *db])
        assert to_file.exit_code == 0, to_file.output
        (iss,) = parse_elements(out.read_text(), strict=True).elements
        assert iss.norad_cat_id == 25544
        assert json.loads(out.read_text())[0]["OBJECT_NAME"] == "ISS (ZARYA)"
        fake.fault = 403
        blocked = runner.invoke(app, ["elements", "fetch", "--name", "CSS", *db])
        assert blocked.exit_code == 1
        assert "jointsat elements unblock celestrak" in blocked.output
        fake.fault = None
        again = runner.invoke(app, ["elements", "fetch", "--name", "CSS", *db])
        assert again.exit_code == 1
        assert "blocked since" in again.output
        assert fake.count() == 3
        cleared = runner.invoke(app, ["elements", "unblock", "celestrak", *db])
        assert cleared.output.strip() == "celestrak unblocked"
        soon = runner.invoke(app, ["elements", "fetch", "--name", "CSS", *db])
        assert "may be asked again from" in soon.output  # the failed attempt counts
        assert runner.invoke(app, ["elements", "fetch", "--name", "ISS", *db]).exit_code == 0
        assert fake.count() == 4


def _check_list_formats(db: list[str], served: dict[int, str]) -> None:
    """JSON and CSV give each stored set's epoch (that served); a table at 80 columns
    shows each epoch whole on its satellite's row."""
    as_json = runner.invoke(app, ["elements", "list", "--format", "json", *db])
    assert as_json.exit_code == 0, as_json.output
    listed = json.loads(as_json.stdout)
    assert {r["satellite"] for r in listed} == set(served)
    for r in listed:
        epoch = parse_iso(served[r["satellite"]], naive_is_utc=True)
        assert abs(parse_iso(r["epoch"]) - epoch) < timedelta(milliseconds=1)
        assert r["source_kind"] == "celestrak"
    as_csv = runner.invoke(app, ["elements", "list", "-f", "csv", *db])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(int(r["satellite"]), r["epoch"]) for r in rows] == [
        (r["satellite"], r["epoch"]) for r in listed
    ]
    table = runner.invoke(app, ["elements", "list", *db], env={"COLUMNS": "80"})
    lines = table.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    for r in listed:
        epoch = format_readable(parse_iso(r["epoch"]))
        assert any(f"│ {r['satellite']:>5} │" in line and epoch in line for line in lines), epoch
