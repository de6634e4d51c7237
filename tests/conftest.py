"""Give store tests a fresh database on SQLite always, and on PostgreSQL when configured.

PostgreSQL runs when JOINTSAT_TEST_POSTGRES_URL names a server (``.ci/run`` sets it);
each test creates its own database there and drops it afterwards, so runs never see
each other's data.

``database_url`` is empty (for the migrations' own tests); ``store_url`` is migrated to
the head revision; ``module_stores`` makes migrated stores for the worlds that a module's
tests share (tests.support.shared). Alembic runs once per session (per xdist worker) and
backend, into a template that each store copies: the SQLite file, or ``CREATE DATABASE
... TEMPLATE``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from jointsat.store import migrate
from jointsat.store.database import normalise_url

POSTGRES_VARIABLE = "JOINTSAT_TEST_POSTGRES_URL"


def _postgres_server() -> URL:
    server = os.environ.get(POSTGRES_VARIABLE, "").strip()
    if not server:
        pytest.skip(f"PostgreSQL store tests need {POSTGRES_VARIABLE} (CI sets it)")
    return make_url(normalise_url(server))


def _postgres_database(template: str | None = None) -> Iterator[str]:
    """Yield the URL of a new database, a copy of ``template`` if given; drop it after."""
    admin_url = _postgres_server()
    name = f"jointsat_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a SQLite store migrated to the head revision, once per session: copy it."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def new_sqlite_store(sqlite_template: Path) -> Callable[[Path], str]:
    """Return a function that copies the migrated template into a folder, giving its URL."""

    def copy(folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "store.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"

    return copy


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """Yield the name of a PostgreSQL database migrated to the head revision, once per session."""
    database = _postgres_database()
    url = next(database)
    migrate.upgrade(url)
    yield make_url(url).database or ""
    database.close()  # runs the generator's drop


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, new_sqlite_store: Callable[[Path], str]
) -> Iterator[str]:
    """Yield the URL of a fresh store of each backend, migrated to the head revision."""
    if request.param == "sqlite":
        yield new_sqlite_store(tmp_path)
    else:
        yield from _postgres_database(template=request.getfixturevalue("postgres_template"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_stores(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    new_sqlite_store: Callable[[Path], str],
) -> Iterator[Callable[[], str]]:
    """Yield a maker of stores of each backend, migrated to the head revision, for a module.

    For worlds a module's tests share (tests.support.shared): each call gives a new
    store; the module's PostgreSQL databases are dropped after it.
    """
    if request.param == "sqlite":
        yield lambda: new_sqlite_store(tmp_path_factory.mktemp("module-store"))
        return
    template = request.getfixturevalue("postgres_template")
    with ExitStack() as made:
        yield lambda: made.enter_context(contextmanager(_postgres_database)(template))
