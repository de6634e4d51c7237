"""Post-launch interpretation: analysis runs, derived products and their sources."""

from __future__ import annotations

import sqlalchemy as sa

from jointsat.store.migrations import schema

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    schema.append_columns("agreements", schema.json("analyses", nullable=True))
    schema.create_table(
        "product_sources",
        schema.string("product_id", 32),
        schema.string("source_id", 32),
        schema.integer("position"),
        schema.foreign_key("product_sources", "product_id", "products", "CASCADE"),
        schema.foreign_key("product_sources", "source_id", "products", "RESTRICT"),
        key=("product_id", "source_id"),
        indexes=["source_id"],
    )
    schema.create_table(
        "analysis_runs",
        schema.integer("id"),
        schema.string("pipeline", 50),
        schema.string("version", 20),
        schema.json("parameters"),
        schema.string("trigger", 20),
        schema.choice("status", "queued", "running", "done", "failed", kind="analysis_status"),
        schema.integer("partner_id", nullable=True),
        schema.integer("created_by", nullable=True),
        schema.json("summary", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        schema.integer("attempts"),
        schema.string("product_id", 32, nullable=True),
        schema.integer("area_id", nullable=True),
        *schema.times("created_at"),
        *schema.times("started_at", "heartbeat_at", "finished_at", nullable=True),
        schema.foreign_key("analysis_runs", "partner_id", "partners", "SET NULL"),
        schema.foreign_key("analysis_runs", "created_by", "users", "SET NULL"),
        schema.foreign_key("analysis_runs", "product_id", "products", "SET NULL"),
        schema.foreign_key("analysis_runs", "area_id", "areas", "RESTRICT"),
        indexes=["partner_id", "product_id", "area_id"],
    )
    schema.create_table(
        "analysis_run_sources",
        schema.integer("run_id"),
        schema.string("product_id", 32),
        schema.integer("position"),
        schema.foreign_key("analysis_run_sources", "run_id", "analysis_runs", "CASCADE"),
        schema.foreign_key("analysis_run_sources", "product_id", "products", "RESTRICT"),
        key=("run_id", "product_id"),
        indexes=["product_id"],
    )


def downgrade() -> None:
    schema.drop_table("analysis_run_sources", indexes=["product_id"])
    schema.drop_table("analysis_runs", indexes=["partner_id", "product_id", "area_id"])
    schema.drop_table("product_sources", indexes=["source_id"])
    schema.remove_columns("agreements", "analyses")
