"""Check `jointsat db`: migrations from the command line, and clear errors for bad stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jointsat.cli import app
from jointsat.store import migrate

runner = CliRunner()


def test_db_upgrade_and_downgrade(database_url: str) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert f"store at revision {migrate.head_revision()}" in result.output
    result = runner.invoke(app, ["db", "downgrade", "base", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert migrate.current_revision(database_url) is None


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
