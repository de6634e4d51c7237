"""Schedules and their contacts; satellites' daily contact demand.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("satellites") as batch:
        batch.add_column(sa.Column("daily_demand_s", sa.Float(), nullable=True))
        batch.create_check_constraint(
            "daily_demand_range",
            "daily_demand_s IS NULL OR (daily_demand_s >= 0 AND daily_demand_s <= 86400)",
        )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("solver", sa.String(length=100), nullable=False),
        sa.Column("total_seconds", sa.Float(), nullable=False),
        sa.Column("gap", sa.Float(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["schedules.id"],
            name=op.f("fk_schedules_replaces_id_schedules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_replaces_id"), "schedules", ["replaces_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_elevation_deg", sa.Float(), nullable=False),
        sa.CheckConstraint("end_at > start", name=op.f("ck_contacts_end_after_start")),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_contacts_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["satellite_id"],
            ["satellites.id"],
            name=op.f("fk_contacts_satellite_id_satellites"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["ground_stations.id"],
            name=op.f("fk_contacts_station_id_ground_stations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(op.f("ix_contacts_schedule_id"), "contacts", ["schedule_id"])
    op.create_index(op.f("ix_contacts_station_id"), "contacts", ["station_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_contacts_station_id"), table_name="contacts")
    op.drop_index(op.f("ix_contacts_schedule_id"), table_name="contacts")
    op.drop_table("contacts")
    op.drop_index(op.f("ix_schedules_replaces_id"), table_name="schedules")
    op.drop_table("schedules")
    with op.batch_alter_table("satellites") as batch:
        batch.drop_constraint("daily_demand_range", type_="check")
        batch.drop_column("daily_demand_s")
