"""Give store tests a fresh database on SQLite always, and on PostgreSQL when configured.

PostgreSQL runs when JOINTSAT_TEST_POSTGRES_URL names a server (``.ci/run`` sets it);
each test creates its own database there and drops it afterwards, so runs never see
each other's data.

``database_url`` is empty (for the migrations' own tests); ``store_url`` is migrated to
the head revision; ``module_stores`` makes migrated stores for the worlds that a module's
tests share (tests.support.shared). Alembic runs once per session (per xdist worker) and
backend, into a template that each store copies: the SQLite file, or ``CREATE DATABASE
... TEMPLATE``. The PostgreSQL copies are made a few tests ahead, and dropped after
their test, by a thread of the session (``PostgresCopies``), while the tests run: each
test still gets a copy of its own, never used before.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
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


class PostgresCopies:
    """Copies of a migrated template database, made ahead of the tests that take them.

    A thread makes ``AHEAD`` copies (``CREATE DATABASE ... TEMPLATE``, what a test would
    run itself) before they are asked for, makes another each time one is taken, and
    drops those handed back; so a test waits neither for its copy nor for its drop.
    Every copy goes to one test only.
    """

    AHEAD = 2
    TAKE_S = 300.0  # a copy takes well under a second; a loaded machine, longer

    def __init__(self, server: URL, template: str) -> None:
        self._server = server
        self._template = template
        self._admin = create_engine(server, isolation_level="AUTOCOMMIT")
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._jobs: queue.Queue[str | None] = queue.Queue()  # "": make one; a name: drop it
        self._failures: list[BaseException] = []
        self._thread = threading.Thread(target=self._work, name="postgres-copies", daemon=True)
        self._thread.start()
        for _ in range(self.AHEAD):
            self._jobs.put("")

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                with self._admin.connect() as connection:
                    if job:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{job}" WITH (FORCE)'))
                    else:
                        name = f"jointsat_test_{uuid.uuid4().hex[:12]}"
                        copy = f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'
                        connection.execute(text(copy))
                        self._ready.put(name)
            except BaseException as error:  # to the test waiting for a copy, or to close()
                if job:
                    self._failures.append(error)
                else:
                    self._ready.put(error)

    def take(self) -> str:
        """Return the URL of a copy of the template that no other test has had."""
        self._jobs.put("")  # one more, ahead of the next test
        made = self._ready.get(timeout=self.TAKE_S)
        if isinstance(made, BaseException):
            raise made
        return self._server.set(database=made).render_as_string(hide_password=False)

    def give_back(self, url: str) -> None:
        """Drop the copy (in the thread, while the next test runs)."""
        self._jobs.put(make_url(url).database or "")

    def close(self) -> None:
        """Drop what is left, wait for the thread, and raise a drop's failure if any."""
        self._jobs.put(None)
        self._thread.join()
        with self._admin.connect() as connection:
            while not self._ready.empty():
                name = self._ready.get()
                if isinstance(name, str):
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()
        if self._failures:
            raise self._failures[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with _postgres_copy(request.getfixturevalue("postgres_empty_copies")) as url:
            yield url


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


@pytest.fixture(scope="session")
def postgres_copies(postgres_template: str) -> Iterator[PostgresCopies]:
    """Yield the session's maker of copies of the PostgreSQL template."""
    copies = PostgresCopies(_postgres_server(), postgres_template)
    yield copies
    copies.close()


@pytest.fixture(scope="session")
def postgres_empty_copies() -> Iterator[PostgresCopies]:
    """Yield the session's maker of empty PostgreSQL databases (copies of template1)."""
    copies = PostgresCopies(_postgres_server(), "template1")
    yield copies
    copies.close()


@contextmanager
def _postgres_copy(copies: PostgresCopies) -> Iterator[str]:
    url = copies.take()
    try:
        yield url
    finally:
        copies.give_back(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, new_sqlite_store: Callable[[Path], str]
) -> Iterator[str]:
    """Yield the URL of a fresh store of each backend, migrated to the head revision."""
    if request.param == "sqlite":
        yield new_sqlite_store(tmp_path)
    else:
        with _postgres_copy(request.getfixturevalue("postgres_copies")) as url:
            yield url


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
    copies = request.getfixturevalue("postgres_copies")
    with ExitStack() as made:
        yield lambda: made.enter_context(_postgres_copy(copies))
