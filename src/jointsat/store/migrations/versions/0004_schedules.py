"""Schedules and their contacts; satellites' daily contact demand."""

from __future__ import annotations

from jointsat.store.migrations import schema

revision = "0004"
down_revision = "0003"


DAILY_DEMAND = (
    "daily_demand_range",
    "daily_demand_s IS NULL OR (daily_demand_s >= 0 AND daily_demand_s <= 86400)",
)


def upgrade() -> None:
    schema.add_columns(
        "satellites", *schema.reals("daily_demand_s", nullable=True), check=DAILY_DEMAND
    )
    schema.create_table(
        "schedules",
        schema.integer("id"),
        *schema.times("created_at", "start", "end_at"),
        schema.string("policy", 20),
        schema.string("status", 20),
        schema.string("solver", 100),
        *schema.reals("total_seconds", "gap"),
        schema.json("document"),
        schema.json("provenance"),
        schema.integer("replaces_id", nullable=True),
        schema.foreign_key("schedules", "replaces_id", "schedules", "SET NULL"),
        indexes=["replaces_id"],
    )
    schema.create_table(
        "contacts",
        *schema.integers("id", "schedule_id", "satellite_id", "station_id"),
        *schema.times("start", "end_at"),
        *schema.reals("max_elevation_deg"),
        schema.check("contacts", "end_after_start", "end_at > start"),
        schema.foreign_key("contacts", "schedule_id", "schedules", "CASCADE"),
        schema.foreign_key("contacts", "satellite_id", "satellites", "RESTRICT"),
        schema.foreign_key("contacts", "station_id", "ground_stations", "RESTRICT"),
        indexes=["schedule_id", "station_id"],
    )


def downgrade() -> None:
    schema.drop_table("contacts", indexes=["schedule_id", "station_id"])
    schema.drop_table("schedules", indexes=["replaces_id"])
    schema.drop_columns("satellites", "daily_demand_s", check=DAILY_DEMAND[0])
