"""The archive: products, their files and owners, public release, and the audit log.

The audit log is append-only: a trigger refuses every UPDATE and DELETE on it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("agreements") as batch:
        batch.add_column(sa.Column("public_release_days", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            "public_release_not_negative",
            "public_release_days IS NULL OR public_release_days >= 0",
        )
    op.create_table(
        "products",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=100), nullable=False),
        sa.Column("processing_level", sa.String(length=20), nullable=False),
        _time("acquired_start"),
        _time("acquired_end"),
        sa.Column("footprint", sa.JSON(), nullable=True),
        sa.Column("bbox_west", sa.Float(), nullable=True),
        sa.Column("bbox_south", sa.Float(), nullable=True),
        sa.Column("bbox_east", sa.Float(), nullable=True),
        sa.Column("bbox_north", sa.Float(), nullable=True),
        sa.Column("ra_deg", sa.Float(), nullable=True),
        sa.Column("dec_deg", sa.Float(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        _time("members_from"),
        _time("public_from", nullable=True),
        _time("ingested_at"),
        sa.Column("ingested_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "acquired_end >= acquired_start", name=op.f("ck_products_acquired_ordered")
        ),
        sa.CheckConstraint(
            "ra_deg IS NULL OR (ra_deg >= 0 AND ra_deg < 360)", name=op.f("ck_products_ra_range")
        ),
        sa.CheckConstraint(
            "dec_deg IS NULL OR (dec_deg >= -90 AND dec_deg <= 90)",
            name=op.f("ck_products_dec_range"),
        ),
        sa.ForeignKeyConstraint(
            ["satellite_id"],
            ["satellites.id"],
            name=op.f("fk_products_satellite_id_satellites"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_products_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ingested_by"],
            ["users.id"],
            name=op.f("fk_products_ingested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(op.f("ix_products_satellite_id"), "products", ["satellite_id"])
    op.create_index(op.f("ix_products_acquired_start"), "products", ["acquired_start"])
    op.create_index(op.f("ix_products_ingested_at"), "products", ["ingested_at"])
    op.create_table(
        "product_owners",
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_owners_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_product_owners_partner_id_partners"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("product_id", "partner_id", name=op.f("pk_product_owners")),
    )
    op.create_index(op.f("ix_product_owners_partner_id"), "product_owners", ["partner_id"])
    op.create_table(
        "product_files",
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_product_files_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_files_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "name", name=op.f("pk_product_files")),
    )
    op.create_index(op.f("ix_product_files_sha256"), "product_files", ["sha256"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(length=200), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_product_id"), "audit_log", ["product_id"])
    _append_only("audit_log")


def _append_only(table: str) -> None:
    """Refuse every UPDATE and DELETE on ``table`` in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("audit_log")  # SQLite drops the table's triggers with it
    op.drop_index(op.f("ix_product_files_sha256"), table_name="product_files")
    op.drop_table("product_files")
    op.drop_index(op.f("ix_product_owners_partner_id"), table_name="product_owners")
    op.drop_table("product_owners")
    op.drop_index(op.f("ix_products_ingested_at"), table_name="products")
    op.drop_index(op.f("ix_products_acquired_start"), table_name="products")
    op.drop_index(op.f("ix_products_satellite_id"), table_name="products")
    op.drop_table("products")
    with op.batch_alter_table("agreements") as batch:
        batch.drop_constraint("public_release_not_negative", type_="check")
        batch.drop_column("public_release_days")
