"""Upgrade and downgrade the store's schema with Alembic, from code or the CLI.

Every migration runs in one transaction, however many revisions it crosses: on
SQLite and PostgreSQL alike, DDL is transactional, so a migration that fails midway
leaves the store exactly at the revision it started from. On SQLite the migration's
connection turns foreign keys off (SQLite rebuilds a table to alter it, and cannot
change that setting inside a transaction) and checks them all before committing.

A downgrade that would lose data (rows of tables it drops or empties, values of
columns it removes) is refused unless forced: it is tried in its transaction, what
it would lose is counted, and the transaction is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, column, event, func, inspect, select, table
from sqlalchemy.engine import make_url

from jointsat.errors import StoreError
from jointsat.store.database import normalise_url, open_engine

VERSION_TABLE = "alembic_version"
# Not data: the revision counter for caches, the store's identity (docs/archive.md),
# Alembic's own table and the optimistic-concurrency counters of rows.
BOOKKEEPING_TABLES = frozenset({VERSION_TABLE, "store_revision", "store_identity"})
BOOKKEEPING_COLUMNS = frozenset({"version"})


class DataLossError(StoreError):
    """Refuse a downgrade that would lose data, saying what (undone, nothing changed)."""

    def __init__(self, target: str, losses: list[str]) -> None:
        self.losses = losses
        shown = "; ".join(losses[:6]) + ("; ..." if len(losses) > 6 else "")
        super().__init__(
            f"going down to {_shown(target)} would lose data ({shown}); nothing changed: "
            "back the store up, then run it again with --force"
        )


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration for the store at ``url`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(files("jointsat.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the store at ``url`` up to ``revision`` (default: the newest), in one transaction."""
    with _transaction(url) as connection:
        command.upgrade(_config(url, connection), revision)


def downgrade(url: str, revision: str = "base", *, force: bool = False) -> list[str]:
    """Take the store at ``url`` down to ``revision`` (default: empty), in one transaction.

    Returns what was lost (empty unless ``force``): without ``force`` a downgrade that
    would lose data raises ``DataLossError`` and changes nothing.
    """
    with _transaction(url) as connection:
        losses = _downgrading(url, connection, revision)
        if losses and not force:
            raise DataLossError(revision, losses)
    return losses


def downgrade_losses(url: str, revision: str) -> list[str]:
    """Return what going down to ``revision`` would lose, changing nothing (it is undone)."""
    losses: list[str] = []
    with _transaction(url, commit=False) as connection:
        losses = _downgrading(url, connection, revision)
    return losses


def _downgrading(url: str, connection: Connection, revision: str) -> list[str]:
    before = _census(connection)
    command.downgrade(_config(url, connection), revision)
    return _lost(before, _census(connection))


def _shown(revision: str) -> str:
    return "the empty store (base)" if revision == "base" else f"revision {revision}"


def _config(url: str, connection: Connection) -> Config:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    return config


@contextmanager
def _transaction(url: str, *, commit: bool = True) -> Iterator[Connection]:
    """Yield one connection in one transaction for a whole migration; commit, or undo it all.

    A failure of the database becomes a ``StoreError`` of one line that says the store
    is unchanged.
    """
    from sqlalchemy.exc import DBAPIError

    engine = open_engine(url)
    sqlite = make_url(normalise_url(url)).get_backend_name() == "sqlite"
    if sqlite:
        _transactional_sqlite(engine)
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield connection
                if sqlite:
                    _check_foreign_keys(connection)
                if commit:
                    transaction.commit()
                else:
                    transaction.rollback()
            except DBAPIError as exc:
                with suppress(DBAPIError):
                    transaction.rollback()
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                raise StoreError(
                    f"the migration failed and was undone, the store is unchanged: {reason}"
                ) from None
            except BaseException:
                with suppress(DBAPIError):
                    transaction.rollback()
                raise
    finally:
        engine.dispose()


def _transactional_sqlite(engine: Any) -> None:
    """Make the engine's SQLite connections run DDL in explicit transactions, keys off."""

    @event.listens_for(engine, "connect")
    def _connect(connection: Any, _record: Any) -> None:
        connection.isolation_level = None  # the driver begins nothing itself
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        first = broken[0]
        raise StoreError(
            f"the migration would leave {len(broken)} row(s) referring to rows that do not "
            f"exist (first: {first[0]} row {first[1]} -> {first[2]}); undone, the store is "
            "unchanged"
        )


Census = dict[str, tuple[int, dict[str, int]]]


def _census(connection: Connection) -> Census:
    """Return each table's rows and the values (not NULL) in each of its columns."""
    found = inspect(connection)
    census: Census = {}
    for name in found.get_table_names():
        columns = [c["name"] for c in found.get_columns(name)]
        counted = table(name, *(column(c) for c in columns))
        query = select(func.count(), *(func.count(counted.c[c]) for c in columns))
        row = connection.execute(query.select_from(counted)).one()
        census[name] = (int(row[0]), {c: int(v) for c, v in zip(columns, row[1:], strict=True)})
    return census


def _lost(before: Census, after: Census) -> list[str]:
    """Return the rows and values ``before`` holds that ``after`` does not, one line each."""
    losses = []
    for name, (rows, values) in sorted(before.items()):
        if name in BOOKKEEPING_TABLES:
            continue
        left, kept = after.get(name, (0, {}))
        if rows > left:
            gone = "dropped" if name not in after else "deleted"
            losses.append(f"{rows - left} row(s) of {name} {gone}")
            continue
        for name_of_column, count in sorted(values.items()):
            if count and name_of_column not in kept and name_of_column not in BOOKKEEPING_COLUMNS:
                losses.append(f"{count} value(s) of {name}.{name_of_column} removed")
    return losses


def current_revision(url: str) -> str | None:
    """Return the revision the store at ``url`` is at, None if it has none."""
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """Return the newest revision the package knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def is_known(revision: str) -> bool:
    """Return whether this jointsat knows the revision (a newer one's store says otherwise)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return any(s.revision == revision for s in script.walk_revisions())
