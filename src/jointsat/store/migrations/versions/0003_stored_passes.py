"""Stored pass predictions, shared by every server process.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pass_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("element_set_ids", sa.JSON(), nullable=False),
        sa.Column("station_ids", sa.JSON(), nullable=False),
        sa.Column("engine", sa.String(length=100), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_predictions")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_pass_predictions_fingerprint")),
    )
    op.create_table(
        "passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.Integer(), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("aos", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tca", sa.DateTime(timezone=True), nullable=False),
        sa.Column("los", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_elevation_deg", sa.Float(), nullable=False),
        sa.Column("aos_azimuth_deg", sa.Float(), nullable=False),
        sa.Column("tca_azimuth_deg", sa.Float(), nullable=False),
        sa.Column("los_azimuth_deg", sa.Float(), nullable=False),
        sa.Column("sunlit", sa.Boolean(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["pass_predictions.id"],
            name=op.f("fk_passes_prediction_id_pass_predictions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["satellite_id"],
            ["satellites.id"],
            name=op.f("fk_passes_satellite_id_satellites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["ground_stations.id"],
            name=op.f("fk_passes_station_id_ground_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passes")),
    )
    op.create_index(op.f("ix_passes_prediction_id"), "passes", ["prediction_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_passes_prediction_id"), table_name="passes")
    op.drop_table("passes")
    op.drop_table("pass_predictions")
