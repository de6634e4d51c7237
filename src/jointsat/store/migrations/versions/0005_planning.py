"""Observation planning: satellites' payloads, partners' requests, plans and observations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PAYLOAD_COLUMNS = (
    "memory_mbit",
    "imaging_rate_mbps",
    "downlink_rate_mbps",
    "slew_rate_deg_s",
    "slew_accel_deg_s2",
    "settle_s",
)
PAYLOAD_COMPLETE = (
    "memory_mbit IS NULL OR (memory_mbit > 0"
    " AND COALESCE(imaging_rate_mbps, 0) > 0 AND COALESCE(downlink_rate_mbps, -1) >= 0"
    " AND COALESCE(slew_rate_deg_s, 0) > 0 AND COALESCE(slew_accel_deg_s2, 0) > 0"
    " AND COALESCE(settle_s, -1) >= 0 AND observes IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("satellites") as batch:
        for name in PAYLOAD_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(sa.Column("observes", sa.String(length=20), nullable=True))
        batch.create_check_constraint("payload_complete", PAYLOAD_COMPLETE)
    op.create_table(
        "observation_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("gain", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("gain >= 1", name=op.f("ck_observation_requests_gain_positive")),
        sa.CheckConstraint(
            "(window_start IS NULL AND window_end IS NULL)"
            " OR (window_start IS NOT NULL AND window_end IS NOT NULL"
            " AND window_end > window_start)",
            name=op.f("ck_observation_requests_window_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_observation_requests_partner_id_partners"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_observation_requests_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_requests")),
    )
    op.create_index(
        op.f("ix_observation_requests_partner_id"), "observation_requests", ["partner_id"]
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("objective", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("solver", sa.String(length=100), nullable=False),
        sa.Column("total_gain", sa.BigInteger(), nullable=False),
        sa.Column("gap", sa.Float(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("request_ref", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gain", sa.Integer(), nullable=False),
        sa.Column("volume_mbit", sa.Float(), nullable=False),
        sa.Column("off_nadir_deg", sa.Float(), nullable=True),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.CheckConstraint("end_at > start", name=op.f("ck_observations_end_after_start")),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_observations_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["observation_requests.id"],
            name=op.f("fk_observations_request_id_observation_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_observations_partner_id_partners"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["satellite_id"],
            ["satellites.id"],
            name=op.f("fk_observations_satellite_id_satellites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    op.create_index(op.f("ix_observations_plan_id"), "observations", ["plan_id"])
    op.create_index(op.f("ix_observations_request_id"), "observations", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_observations_request_id"), table_name="observations")
    op.drop_index(op.f("ix_observations_plan_id"), table_name="observations")
    op.drop_table("observations")
    op.drop_table("plans")
    op.drop_index(op.f("ix_observation_requests_partner_id"), table_name="observation_requests")
    op.drop_table("observation_requests")
    with op.batch_alter_table("satellites") as batch:
        batch.drop_constraint("payload_complete", type_="check")
        batch.drop_column("observes")
        for name in reversed(PAYLOAD_COLUMNS):
            batch.drop_column(name)
