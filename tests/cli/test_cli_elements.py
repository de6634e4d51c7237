"""Check `jointsat elements` against a fake CelesTrak on 127.0.0.1: fetch, list, block, unblock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.sources.fake import serving
from typer.testing import CliRunner

from jointsat.cli import app
from jointsat.orbits.elements import parse_elements

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
