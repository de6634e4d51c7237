"""Schedules and their contacts; satellites' daily contact demand."""

from __future__ import annotations

from jointsat.store.migrations.schema import (
    add_columns,
    check,
    create_table,
    drop_columns,
    drop_table,
    foreign_key,
    integer,
    integers,
    json,
    reals,
    string,
    times,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


DAILY_DEMAND = (
    "daily_demand_range",
    "daily_demand_s IS NULL OR (daily_demand_s >= 0 AND daily_demand_s <= 86400)",
)


def upgrade() -> None:
    add_columns("satellites", *reals("daily_demand_s", nullable=True), check=DAILY_DEMAND)
    create_table(
        "schedules",
        integer("id"),
        *times("created_at", "start", "end_at"),
        string("policy", 20),
        string("status", 20),
        string("solver", 100),
        *reals("total_seconds", "gap"),
        json("document"),
        json("provenance"),
        integer("replaces_id", nullable=True),
        foreign_key("schedules", "replaces_id", "schedules", "SET NULL"),
        indexes=["replaces_id"],
    )
    create_table(
        "contacts",
        *integers("id", "schedule_id", "satellite_id", "station_id"),
        *times("start", "end_at"),
        *reals("max_elevation_deg"),
        check("contacts", "end_after_start", "end_at > start"),
        foreign_key("contacts", "schedule_id", "schedules", "CASCADE"),
        foreign_key("contacts", "satellite_id", "satellites", "RESTRICT"),
        foreign_key("contacts", "station_id", "ground_stations", "RESTRICT"),
        indexes=["schedule_id", "station_id"],
    )


def downgrade() -> None:
    drop_table("contacts", indexes=["schedule_id", "station_id"])
    drop_table("schedules", indexes=["replaces_id"])
    drop_columns("satellites", "daily_demand_s", check=DAILY_DEMAND[0])
