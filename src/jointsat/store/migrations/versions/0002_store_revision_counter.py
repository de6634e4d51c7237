"""Store revision counter, bumped by every write, for caches."""

from __future__ import annotations

from alembic import op

from jointsat.store.migrations import schema

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    table = schema.create_table("store_revision", schema.integer("id"), schema.big_integer("value"))
    op.bulk_insert(table, [{"id": 1, "value": 0}])


def downgrade() -> None:
    schema.drop_table("store_revision")
