"""Ephemerides uploaded for a satellite (CCSDS OEM): kept as received, with their coverage."""

from __future__ import annotations

from jointsat.store.migrations import schema

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    schema.create_table(
        "ephemerides",
        schema.integer("id"),
        schema.integer("satellite_id"),
        schema.string("source", 500),
        *schema.times("received_at", "created_at", "coverage_start", "coverage_end"),
        schema.string("frame", 100),
        schema.text("raw"),
        schema.foreign_key("ephemerides", "satellite_id", "satellites", "CASCADE"),
        indexes=["satellite_id"],
    )


def downgrade() -> None:
    schema.drop_table("ephemerides", indexes=["satellite_id"])
