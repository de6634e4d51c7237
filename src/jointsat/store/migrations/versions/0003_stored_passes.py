"""Stored pass predictions, shared by every server process."""

from __future__ import annotations

from jointsat.store.migrations.schema import (
    booleans,
    create_table,
    drop_table,
    foreign_key,
    integer,
    integers,
    json,
    reals,
    string,
    times,
    unique,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "pass_predictions",
        integer("id"),
        string("fingerprint", 64),
        *times("start", "end_at"),
        json("element_set_ids"),
        json("station_ids"),
        string("engine", 100),
        *times("computed_at"),
        unique("pass_predictions", "fingerprint"),
    )
    create_table(
        "passes",
        *integers("id", "prediction_id", "satellite_id", "station_id"),
        *times("aos", "tca", "los"),
        *reals("max_elevation_deg", "aos_azimuth_deg", "tca_azimuth_deg", "los_azimuth_deg"),
        *booleans("sunlit", "truncated"),
        foreign_key("passes", "prediction_id", "pass_predictions", "CASCADE"),
        foreign_key("passes", "satellite_id", "satellites", "CASCADE"),
        foreign_key("passes", "station_id", "ground_stations", "CASCADE"),
        indexes=["prediction_id"],
    )


def downgrade() -> None:
    drop_table("passes", indexes=["prediction_id"])
    drop_table("pass_predictions")
