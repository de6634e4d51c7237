"""The archive: products, their files and owners, public release, and the audit log.

The audit log is append-only: a trigger refuses every UPDATE and DELETE on it.
"""

from __future__ import annotations

from jointsat.store.migrations import schema

revision = "0006"
down_revision = "0005"

PUBLIC_RELEASE = (
    "public_release_not_negative",
    "public_release_days IS NULL OR public_release_days >= 0",
)
PRODUCT_INDEXES = ("satellite_id", "acquired_start", "ingested_at")


def upgrade() -> None:
    schema.add_columns(
        "agreements", schema.integer("public_release_days", nullable=True), check=PUBLIC_RELEASE
    )
    schema.create_table(
        "products",
        schema.string("id", 32),
        schema.integer("satellite_id"),
        schema.string("instrument", 100),
        schema.string("processing_level", 20),
        *schema.times("acquired_start", "acquired_end"),
        schema.json("footprint", nullable=True),
        *schema.reals(
            "bbox_west", "bbox_south", "bbox_east", "bbox_north", "ra_deg", "dec_deg", nullable=True
        ),
        schema.integer("contact_id", nullable=True),
        schema.json("properties"),
        *schema.times("members_from"),
        *schema.times("public_from", nullable=True),
        *schema.times("ingested_at"),
        schema.integer("ingested_by", nullable=True),
        schema.check("products", "acquired_ordered", "acquired_end >= acquired_start"),
        schema.check("products", "ra_range", "ra_deg IS NULL OR (ra_deg >= 0 AND ra_deg < 360)"),
        schema.check(
            "products", "dec_range", "dec_deg IS NULL OR (dec_deg >= -90 AND dec_deg <= 90)"
        ),
        schema.foreign_key("products", "satellite_id", "satellites", "RESTRICT"),
        schema.foreign_key("products", "contact_id", "contacts", "SET NULL"),
        schema.foreign_key("products", "ingested_by", "users", "SET NULL"),
        indexes=PRODUCT_INDEXES,
    )
    schema.create_table(
        "product_owners",
        schema.string("product_id", 32),
        schema.integer("partner_id"),
        schema.foreign_key("product_owners", "product_id", "products", "CASCADE"),
        schema.foreign_key("product_owners", "partner_id", "partners", "RESTRICT"),
        key=["product_id", "partner_id"],
        indexes=["partner_id"],
    )
    schema.create_table(
        "product_files",
        schema.string("product_id", 32),
        schema.string("name", 255),
        schema.string("sha256", 64),
        schema.big_integer("size_bytes"),
        schema.string("media_type", 100),
        schema.check("product_files", "size_not_negative", "size_bytes >= 0"),
        schema.foreign_key("product_files", "product_id", "products", "CASCADE"),
        key=["product_id", "name"],
        indexes=["sha256"],
    )
    schema.create_table(
        "audit_log",
        schema.integer("id"),
        *schema.times("at"),
        schema.integer("user_id", nullable=True),
        schema.string("user_name", 200, nullable=True),
        schema.integer("partner_id", nullable=True),
        schema.string("action", 20),
        schema.string("product_id", 64),
        schema.string("file_name", 255, nullable=True),
        schema.string("outcome", 20),
        schema.big_integer("bytes_sent"),
        schema.text("detail"),
        indexes=["at", "product_id"],
    )
    schema.append_only("audit_log")


def downgrade() -> None:
    schema.drop_append_only("audit_log")
    schema.drop_table("audit_log", indexes=["at", "product_id"])
    schema.drop_table("product_files", indexes=["sha256"])
    schema.drop_table("product_owners", indexes=["partner_id"])
    schema.drop_table("products", indexes=PRODUCT_INDEXES)
    schema.drop_columns("agreements", "public_release_days", check=PUBLIC_RELEASE[0])
