"""A version per row that others may change, for optimistic concurrency (ETag, If-Match).

Every UPDATE and DELETE of a partner, agreement, satellite, ground station or
observation request names the version it read and moves it on; rows that exist
start at version 1.
"""

from __future__ import annotations

from alembic import op

from jointsat.store.migrations import schema

revision = "0007"
down_revision = "0006"

VERSIONED = ("partners", "agreements", "satellites", "ground_stations", "observation_requests")


def upgrade() -> None:
    for table in VERSIONED:  # a column with a constant default: no table is rebuilt
        op.add_column(table, schema.version_counter())


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; rebuilding these tables, which
    # others refer to, would trip their foreign keys.
    for table in reversed(VERSIONED):
        op.execute(f"ALTER TABLE {table} DROP COLUMN version")
