"""The store's identity: a random id its archive records, so that no other store uses it."""

from __future__ import annotations

import uuid

from alembic import op

from jointsat.store.migrations import schema

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    table = schema.create_table("store_identity", schema.integer("id"), schema.string("value", 36))
    op.bulk_insert(table, [{"id": 1, "value": str(uuid.uuid4())}])


def downgrade() -> None:
    schema.drop_table("store_identity")
