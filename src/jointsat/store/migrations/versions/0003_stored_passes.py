"""Stored pass predictions, shared by every server process."""

from __future__ import annotations

from jointsat.store.migrations import schema

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    schema.create_table(
        "pass_predictions",
        schema.integer("id"),
        schema.string("fingerprint", 64),
        *schema.times("start", "end_at"),
        schema.json("element_set_ids"),
        schema.json("station_ids"),
        schema.string("engine", 100),
        *schema.times("computed_at"),
        schema.unique("pass_predictions", "fingerprint"),
    )
    schema.create_table(
        "passes",
        *schema.integers("id", "prediction_id", "satellite_id", "station_id"),
        *schema.times("aos", "tca", "los"),
        *schema.reals("max_elevation_deg", "aos_azimuth_deg", "tca_azimuth_deg", "los_azimuth_deg"),
        *schema.booleans("sunlit", "truncated"),
        schema.foreign_key("passes", "prediction_id", "pass_predictions", "CASCADE"),
        schema.foreign_key("passes", "satellite_id", "satellites", "CASCADE"),
        schema.foreign_key("passes", "station_id", "ground_stations", "CASCADE"),
        indexes=["prediction_id"],
    )


def downgrade() -> None:
    schema.drop_table("passes", indexes=["prediction_id"])
    schema.drop_table("pass_predictions")
