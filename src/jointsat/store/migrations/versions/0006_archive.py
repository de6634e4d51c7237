"""The archive: products, their files and owners, public release, and the audit log.

The audit log is append-only: a trigger refuses every UPDATE and DELETE on it.
"""

from __future__ import annotations

from jointsat.store.migrations.schema import (
    add_columns,
    append_only,
    big_integer,
    check,
    create_table,
    drop_append_only,
    drop_columns,
    drop_table,
    foreign_key,
    integer,
    json,
    reals,
    string,
    text,
    times,
)

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PUBLIC_RELEASE = (
    "public_release_not_negative",
    "public_release_days IS NULL OR public_release_days >= 0",
)
PRODUCT_INDEXES = ("satellite_id", "acquired_start", "ingested_at")


def upgrade() -> None:
    add_columns("agreements", integer("public_release_days", nullable=True), check=PUBLIC_RELEASE)
    create_table(
        "products",
        string("id", 32),
        integer("satellite_id"),
        string("instrument", 100),
        string("processing_level", 20),
        *times("acquired_start", "acquired_end"),
        json("footprint", nullable=True),
        *reals(
            "bbox_west", "bbox_south", "bbox_east", "bbox_north", "ra_deg", "dec_deg", nullable=True
        ),
        integer("contact_id", nullable=True),
        json("properties"),
        *times("members_from"),
        *times("public_from", nullable=True),
        *times("ingested_at"),
        integer("ingested_by", nullable=True),
        check("products", "acquired_ordered", "acquired_end >= acquired_start"),
        check("products", "ra_range", "ra_deg IS NULL OR (ra_deg >= 0 AND ra_deg < 360)"),
        check("products", "dec_range", "dec_deg IS NULL OR (dec_deg >= -90 AND dec_deg <= 90)"),
        foreign_key("products", "satellite_id", "satellites", "RESTRICT"),
        foreign_key("products", "contact_id", "contacts", "SET NULL"),
        foreign_key("products", "ingested_by", "users", "SET NULL"),
        indexes=PRODUCT_INDEXES,
    )
    create_table(
        "product_owners",
        string("product_id", 32),
        integer("partner_id"),
        foreign_key("product_owners", "product_id", "products", "CASCADE"),
        foreign_key("product_owners", "partner_id", "partners", "RESTRICT"),
        key=["product_id", "partner_id"],
        indexes=["partner_id"],
    )
    create_table(
        "product_files",
        string("product_id", 32),
        string("name", 255),
        string("sha256", 64),
        big_integer("size_bytes"),
        string("media_type", 100),
        check("product_files", "size_not_negative", "size_bytes >= 0"),
        foreign_key("product_files", "product_id", "products", "CASCADE"),
        key=["product_id", "name"],
        indexes=["sha256"],
    )
    create_table(
        "audit_log",
        integer("id"),
        *times("at"),
        integer("user_id", nullable=True),
        string("user_name", 200, nullable=True),
        integer("partner_id", nullable=True),
        string("action", 20),
        string("product_id", 64),
        string("file_name", 255, nullable=True),
        string("outcome", 20),
        big_integer("bytes_sent"),
        text("detail"),
        indexes=["at", "product_id"],
    )
    append_only("audit_log")


def downgrade() -> None:
    drop_append_only("audit_log")
    drop_table("audit_log", indexes=["at", "product_id"])
    drop_table("product_files", indexes=["sha256"])
    drop_table("product_owners", indexes=["partner_id"])
    drop_table("products", indexes=PRODUCT_INDEXES)
    drop_columns("agreements", "public_release_days", check=PUBLIC_RELEASE[0])
