"""Element sets from several sources: each kept with its kind and raw record, one chosen
per epoch; the sources' state (blocked or not), their queries' last answers and the
requests sent to them.

Sets stored before this revision came from uploads and files: their kind is "upload",
they are all chosen (an epoch had one set), and their raw record is unknown (NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jointsat.store.migrations import schema

revision = "0010"
down_revision = "0009"

OLD_UNIQUE = "satellite_epoch"
NEW_UNIQUE = "satellite_epoch_source"


def upgrade() -> None:
    with op.batch_alter_table("element_sets") as batch:
        batch.add_column(
            sa.Column("source_kind", sa.String(length=20), nullable=False, server_default="upload")
        )
        batch.add_column(sa.Column("raw", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("chosen", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.drop_constraint(OLD_UNIQUE, type_="unique")
        batch.create_unique_constraint(NEW_UNIQUE, ["satellite_id", "epoch", "source_kind"])
    schema.create_table(
        "element_sources",
        schema.string("source", 20),
        *schema.times("blocked_at", "refreshed_at", nullable=True),
        schema.text("blocked_reason"),
        schema.text("refresh_summary"),
        key=["source"],
    )
    schema.create_table(
        "element_source_queries",
        schema.integer("id"),
        schema.string("source", 20),
        schema.string("query", 500),
        *schema.times("asked_at"),
        *schema.times("answered_at", nullable=True),
        schema.string("etag", 200, nullable=True),
        schema.string("last_modified", 100, nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.UniqueConstraint("source", "query", name="source_query"),
    )
    schema.create_table(
        "element_source_requests",
        schema.integer("id"),
        schema.string("source", 20),
        *schema.times("at"),
        indexes=["at"],
    )


def downgrade() -> None:
    schema.drop_table("element_source_requests", indexes=["at"])
    schema.drop_table("element_source_queries")
    schema.drop_table("element_sources")
    # Only the chosen set of each epoch fits the old constraint: the others go.
    op.execute(sa.text("DELETE FROM element_sets WHERE NOT chosen"))
    with op.batch_alter_table("element_sets") as batch:
        batch.drop_constraint(NEW_UNIQUE, type_="unique")
        batch.create_unique_constraint(OLD_UNIQUE, ["satellite_id", "epoch"])
        for name in ("chosen", "raw", "source_kind"):
            batch.drop_column(name)
