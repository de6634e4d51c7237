"""The demo's store, filled once per session for the command-line tests that read it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from jointsat.cli import app


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Result]:
    """Run ``jointsat demo --database-url`` once into a SQLite store; return its URL and run.

    The tests read the store; one that changes it works on a copy (``sqlite3``'s backup).
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    result = CliRunner().invoke(app, ["demo", "--database-url", url])
    assert result.exit_code == 0, result.output
    return url, result
