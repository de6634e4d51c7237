"""Mission design: partners' areas of interest and the coverage studies run over them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jointsat.store.migrations import schema

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    schema.create_table(
        "areas",
        schema.integer("id"),
        schema.integer("partner_id"),
        schema.string("name", 200),
        schema.choice("visibility", "private", "consortium", kind="area_visibility"),
        schema.json("feature"),
        *schema.times("created_at"),
        schema.integer("created_by", nullable=True),
        schema.foreign_key("areas", "partner_id", "partners", "RESTRICT"),
        schema.foreign_key("areas", "created_by", "users", "SET NULL"),
        sa.UniqueConstraint("partner_id", "name", name=op.f("partner_area_name")),
        indexes=["partner_id"],
    )
    schema.create_table(
        "design_studies",
        schema.integer("id"),
        schema.string("name", 200),
        schema.choice("kind", "coverage", "sweep", kind="study_kind"),
        schema.choice("status", "queued", "running", "done", "failed", kind="study_status"),
        schema.integer("partner_id", nullable=True),
        schema.integer("created_by", nullable=True),
        schema.json("inputs"),
        schema.json("summary", nullable=True),
        schema.json("provenance", nullable=True),
        schema.binary("points_parquet", nullable=True),
        schema.integer("points", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        *schema.times("created_at"),
        *schema.times("started_at", "heartbeat_at", "finished_at", nullable=True),
        schema.foreign_key("design_studies", "partner_id", "partners", "RESTRICT"),
        schema.foreign_key("design_studies", "created_by", "users", "SET NULL"),
        indexes=["partner_id"],
    )
    schema.create_table(
        "design_study_areas",
        *schema.integers("study_id", "area_id", "position"),
        schema.foreign_key("design_study_areas", "study_id", "design_studies", "CASCADE"),
        schema.foreign_key("design_study_areas", "area_id", "areas", "RESTRICT"),
        key=("study_id", "area_id"),
        indexes=["area_id"],
    )


def downgrade() -> None:
    schema.drop_table("design_study_areas", indexes=["area_id"])
    schema.drop_table("design_studies", indexes=["partner_id"])
    schema.drop_table("areas", indexes=["partner_id"])
