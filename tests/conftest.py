"""Give store tests a fresh database on SQLite always, and on PostgreSQL when configured.

PostgreSQL runs when JOINTSAT_TEST_POSTGRES_URL names a server (``.ci/run`` sets it);
each test creates its own database there and drops it afterwards, so runs never see
each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from jointsat.store.database import normalise_url

POSTGRES_VARIABLE = "JOINTSAT_TEST_POSTGRES_URL"


def _postgres_database() -> Iterator[str]:
    server = os.environ.get(POSTGRES_VARIABLE, "").strip()
    if not server:
        pytest.skip(f"PostgreSQL store tests need {POSTGRES_VARIABLE} (CI sets it)")
    admin_url = make_url(normalise_url(server))
    name = f"jointsat_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _postgres_database()
