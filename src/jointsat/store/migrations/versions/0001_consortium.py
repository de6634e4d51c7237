"""consortium: partners, agreements, satellites, element sets, stations, users, tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-25 22:57:51.044136
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contribution_share", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "contribution_share > 0 AND contribution_share <= 1",
            name=op.f("ck_partners_share_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("code", name=op.f("uq_partners_code")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
    )
    op.create_table(
        "satellites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("norad_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satellites")),
        sa.UniqueConstraint("norad_id", name=op.f("uq_satellites_norad_id")),
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("priority_class", sa.Integer(), nullable=False),
        sa.Column("embargo_days", sa.Integer(), nullable=False),
        sa.Column(
            "station_visibility",
            sa.Enum(
                "private", "consortium", "public", name="visibility", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column(
            "satellite_visibility",
            sa.Enum(
                "private", "consortium", "public", name="visibility", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.CheckConstraint("embargo_days >= 0", name=op.f("ck_agreements_embargo_not_negative")),
        sa.CheckConstraint(
            "share IS NULL OR (share > 0 AND share <= 1)", name=op.f("ck_agreements_share_range")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_agreements_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_agreements_partner_id")),
    )
    op.create_table(
        "element_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.DateTime(timezone=True), nullable=False),
        sa.Column("omm", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["satellite_id"],
            ["satellites.id"],
            name=op.f("fk_element_sets_satellite_id_satellites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_element_sets")),
        sa.UniqueConstraint("satellite_id", "epoch", name="satellite_epoch"),
    )
    with op.batch_alter_table("element_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_element_sets_satellite_id"), ["satellite_id"], unique=False
        )

    op.create_table(
        "ground_stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_deg", sa.Float(), nullable=False),
        sa.Column("alt_m", sa.Float(), nullable=False),
        sa.Column("min_elevation_deg", sa.Float(), nullable=False),
        sa.Column("horizon_mask", sa.JSON(), nullable=True),
        sa.Column("turnaround_s", sa.Float(), nullable=False),
        sa.Column("bands", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "lat_deg >= -90 AND lat_deg <= 90", name=op.f("ck_ground_stations_lat_range")
        ),
        sa.CheckConstraint(
            "lon_deg >= -180 AND lon_deg <= 360", name=op.f("ck_ground_stations_lon_range")
        ),
        sa.CheckConstraint(
            "min_elevation_deg >= -90 AND min_elevation_deg < 90",
            name=op.f("ck_ground_stations_min_el_range"),
        ),
        sa.CheckConstraint(
            "turnaround_s >= 0", name=op.f("ck_ground_stations_turnaround_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_ground_stations_partner_id_partners"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ground_stations")),
        sa.UniqueConstraint("name", name=op.f("uq_ground_stations_name")),
    )
    with op.batch_alter_table("ground_stations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ground_stations_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "satellite_operators",
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "fraction > 0 AND fraction <= 1", name=op.f("ck_satellite_operators_fraction_range")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_satellite_operators_partner_id_partners"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["satellite_id"],
            ["satellites.id"],
            name=op.f("fk_satellite_operators_satellite_id_satellites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("satellite_id", "partner_id", name=op.f("pk_satellite_operators")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum("admin", "operator", "viewer", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role = 'admin' OR partner_id IS NOT NULL", name=op.f("ck_users_partner_unless_admin")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_users_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "station_unavailability",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("maintenance", "outage", name="unavailability", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "end_at > start", name=op.f("ck_station_unavailability_end_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["ground_stations.id"],
            name=op.f("fk_station_unavailability_station_id_ground_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_unavailability")),
    )
    with op.batch_alter_table("station_unavailability", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_unavailability_station_id"), ["station_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("station_unavailability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_unavailability_station_id"))

    op.drop_table("station_unavailability")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_partner_id"))

    op.drop_table("users")
    op.drop_table("satellite_operators")
    with op.batch_alter_table("ground_stations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ground_stations_partner_id"))

    op.drop_table("ground_stations")
    with op.batch_alter_table("element_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_element_sets_satellite_id"))

    op.drop_table("element_sets")
    op.drop_table("agreements")
    op.drop_table("satellites")
    op.drop_table("partners")
