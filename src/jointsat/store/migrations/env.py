"""Run Alembic migrations on the connection or URL that jointsat.store.migrate hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from jointsat.store.database import open_engine
from jointsat.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Migrate on the given connection (``jointsat.store.migrate`` gives one, in a
    transaction), or open one from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = open_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        _migrate(connection)
    engine.dispose()


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        transaction_per_migration=False,  # one transaction for all (jointsat.store.migrate)
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
