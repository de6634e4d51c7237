"""The audit log counts: one row may stand for many refusals of an anonymous client.

``count`` says how many accesses a row stands for (1 for every row before it);
``client`` is the network address of the anonymous caller whose refusals a row
counts. Added in place, so that the append-only triggers stay.
"""

from __future__ import annotations

import sqlalchemy as sa

from jointsat.store.migrations import schema

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    schema.append_columns(
        "audit_log",
        sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
        schema.string("client", 64, nullable=True),
    )


def downgrade() -> None:
    schema.remove_columns("audit_log", "client", "count")
