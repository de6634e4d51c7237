"""Tokens that expire, mint only by right, and record their last use; users that can be
disabled; station names unique per partner rather than across the consortium.

Tokens issued before this revision expire 90 days after the upgrade (the default
lifetime) and may not mint tokens (an admin's tokens always may). A station's name
need only be unique among its partner's stations: a clash with another partner's
station would tell an operator that a station it may not see exists.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from jointsat.store.migrations import schema

revision = "0009"
down_revision = "0008"

LEGACY_TOKEN_DAYS = 90  # what tokens issued before this revision are given from the upgrade
STATION_NAME = "partner_station_name"
MINTED_BY_KEY = "fk_api_tokens_minted_by_id_api_tokens"
MINTED_BY_INDEX = "ix_api_tokens_minted_by_id"


def upgrade() -> None:
    with op.batch_alter_table("ground_stations") as batch:
        batch.drop_constraint(op.f("uq_ground_stations_name"), type_="unique")
        batch.create_unique_constraint(op.f(STATION_NAME), ["partner_id", "name"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(*schema.times("disabled_at", nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(*schema.times("expires_at", nullable=True))
        batch.add_column(sa.Column("mints", sa.Boolean(), nullable=True))
        batch.add_column(schema.integer("minted_by_id", nullable=True))
        batch.add_column(*schema.times("last_used_at", nullable=True))
    tokens = sa.table(
        "api_tokens",
        sa.column("expires_at", sa.DateTime(timezone=True)),
        sa.column("mints", sa.Boolean()),
    )
    expiry = datetime.now(UTC) + timedelta(days=LEGACY_TOKEN_DAYS)
    op.execute(tokens.update().values(expires_at=expiry, mints=False))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("mints", existing_type=sa.Boolean(), nullable=False)
        batch.create_foreign_key(
            op.f(MINTED_BY_KEY), "api_tokens", ["minted_by_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f(MINTED_BY_INDEX), ["minted_by_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index(op.f(MINTED_BY_INDEX))
        batch.drop_constraint(op.f(MINTED_BY_KEY), type_="foreignkey")
        for name in ("last_used_at", "minted_by_id", "mints", "expires_at"):
            batch.drop_column(name)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
    with op.batch_alter_table("ground_stations") as batch:
        batch.drop_constraint(op.f(STATION_NAME), type_="unique")
        batch.create_unique_constraint(op.f("uq_ground_stations_name"), ["name"])
