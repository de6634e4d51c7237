"""Store revision counter, bumped by every write, for caches."""

from __future__ import annotations

from alembic import op

from jointsat.store.migrations.schema import big_integer, create_table, drop_table, integer

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = create_table("store_revision", integer("id"), big_integer("value"))
    op.bulk_insert(table, [{"id": 1, "value": 0}])


def downgrade() -> None:
    drop_table("store_revision")
