"""Observation planning: satellites' payloads, partners' requests, plans and observations."""

from __future__ import annotations

from jointsat.store.migrations.schema import (
    add_columns,
    big_integer,
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

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DATA_PATH_COLUMNS = ("memory_mbit", "imaging_rate_mbps", "downlink_rate_mbps")
POINTING_COLUMNS = ("slew_rate_deg_s", "slew_accel_deg_s2", "settle_s")
PAYLOAD_COLUMNS = DATA_PATH_COLUMNS + POINTING_COLUMNS
PAYLOAD_COMPLETE = (
    "memory_mbit IS NULL OR (memory_mbit > 0"
    " AND COALESCE(imaging_rate_mbps, 0) > 0 AND COALESCE(downlink_rate_mbps, -1) >= 0"
    " AND COALESCE(slew_rate_deg_s, 0) > 0 AND COALESCE(slew_accel_deg_s2, 0) > 0"
    " AND COALESCE(settle_s, -1) >= 0 AND observes IS NOT NULL)"
)


def upgrade() -> None:
    add_columns(
        "satellites",
        *reals(*PAYLOAD_COLUMNS, nullable=True),
        string("observes", 20, nullable=True),
        check=("payload_complete", PAYLOAD_COMPLETE),
    )
    create_table(
        "observation_requests",
        integer("id"),
        integer("partner_id"),
        string("kind", 10),
        integer("gain"),
        *times("window_start", "window_end", nullable=True),
        json("document"),
        *times("created_at", "updated_at"),
        integer("created_by", nullable=True),
        check("observation_requests", "gain_positive", "gain >= 1"),
        check(
            "observation_requests",
            "window_ordered",
            "(window_start IS NULL AND window_end IS NULL)"
            " OR (window_start IS NOT NULL AND window_end IS NOT NULL"
            " AND window_end > window_start)",
        ),
        foreign_key("observation_requests", "partner_id", "partners", "RESTRICT"),
        foreign_key("observation_requests", "created_by", "users", "SET NULL"),
        indexes=["partner_id"],
    )
    create_table(
        "plans",
        integer("id"),
        *times("created_at", "start", "end_at"),
        string("objective", 20),
        string("status", 20),
        string("solver", 100),
        big_integer("total_gain"),
        *reals("gap"),
        json("document"),
        json("provenance"),
    )
    create_table(
        "observations",
        integer("id"),
        integer("plan_id"),
        integer("request_id", nullable=True),
        string("request_ref", 64),
        *integers("partner_id", "satellite_id"),
        *times("start", "end_at"),
        *times("second_start", nullable=True),
        integer("gain"),
        *reals("volume_mbit"),
        *reals("off_nadir_deg", nullable=True),
        json("target"),
        check("observations", "end_after_start", "end_at > start"),
        foreign_key("observations", "plan_id", "plans", "CASCADE"),
        foreign_key("observations", "request_id", "observation_requests", "SET NULL"),
        foreign_key("observations", "partner_id", "partners", "RESTRICT"),
        foreign_key("observations", "satellite_id", "satellites", "RESTRICT"),
        indexes=["plan_id", "request_id"],
    )


def downgrade() -> None:
    drop_table("observations", indexes=["plan_id", "request_id"])
    drop_table("plans")
    drop_table("observation_requests", indexes=["partner_id"])
    drop_columns("satellites", "observes", *reversed(PAYLOAD_COLUMNS), check="payload_complete")
