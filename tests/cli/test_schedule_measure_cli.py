"""``jointsat schedule --measure``: shares of contact seconds (the default) or of data volume."""

from __future__ import annotations

import json
from pathlib import Path

from tests.scheduling.instances import random_document
from typer.testing import CliRunner

from jointsat.cli import app


def test_measure_option_on_a_problem_file(tmp_path: Path) -> None:
    document = random_document(3, passes=8)
    for s in document["satellites"]:
        s["demand_s"] = None
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(document))
    runner = CliRunner()
    args = ["schedule", "--problem", str(path), "--time-limit", "5", "--format", "json"]
    missing = runner.invoke(app, [*args, "--measure", "data-volume"])
    assert missing.exit_code == 1
    assert "passes[0].volume_bytes" in missing.stderr
    for k, p in enumerate(document["passes"]):
        p["volume_bytes"] = 1000.0 * (k + 1)
    path.write_text(json.dumps(document))
    found = runner.invoke(app, [*args, "--measure", "data-volume"])
    assert found.exit_code == 0, found.output
    schedule = json.loads(found.stdout)
    assert schedule["measure"] == "data-volume"
    volumes = {p["id"]: p["volume_bytes"] for p in document["passes"]}
    assert schedule["total_volume_bytes"] == sum(volumes[c["pass"]] for c in schedule["contacts"])
    plain = json.loads(runner.invoke(app, args).stdout)
    assert "measure" not in plain  # the default: seconds, the document as before
    table = runner.invoke(app, [*args[:-2], "--measure", "data-volume", "--format", "csv"])
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0].startswith("partner,volume_bytes,seconds")
