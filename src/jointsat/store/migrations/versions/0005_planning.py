"""Observation planning: satellites' payloads, partners' requests, plans and observations."""

from __future__ import annotations

from jointsat.store.migrations import schema

revision = "0005"
down_revision = "0004"

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
    schema.add_columns(
        "satellites",
        *schema.reals(*PAYLOAD_COLUMNS, nullable=True),
        schema.string("observes", 20, nullable=True),
        check=("payload_complete", PAYLOAD_COMPLETE),
    )
    schema.create_table(
        "observation_requests",
        schema.integer("id"),
        schema.integer("partner_id"),
        schema.string("kind", 10),
        schema.integer("gain"),
        *schema.times("window_start", "window_end", nullable=True),
        schema.json("document"),
        *schema.times("created_at", "updated_at"),
        schema.integer("created_by", nullable=True),
        schema.check("observation_requests", "gain_positive", "gain >= 1"),
        schema.check(
            "observation_requests",
            "window_ordered",
            "(window_start IS NULL AND window_end IS NULL)"
            " OR (window_start IS NOT NULL AND window_end IS NOT NULL"
            " AND window_end > window_start)",
        ),
        schema.foreign_key("observation_requests", "partner_id", "partners", "RESTRICT"),
        schema.foreign_key("observation_requests", "created_by", "users", "SET NULL"),
        indexes=["partner_id"],
    )
    schema.create_table(
        "plans",
        schema.integer("id"),
        *schema.times("created_at", "start", "end_at"),
        schema.string("objective", 20),
        schema.string("status", 20),
        schema.string("solver", 100),
        schema.big_integer("total_gain"),
        *schema.reals("gap"),
        schema.json("document"),
        schema.json("provenance"),
    )
    schema.create_table(
        "observations",
        schema.integer("id"),
        schema.integer("plan_id"),
        schema.integer("request_id", nullable=True),
        schema.string("request_ref", 64),
        *schema.integers("partner_id", "satellite_id"),
        *schema.times("start", "end_at"),
        *schema.times("second_start", nullable=True),
        schema.integer("gain"),
        *schema.reals("volume_mbit"),
        *schema.reals("off_nadir_deg", nullable=True),
        schema.json("target"),
        schema.check("observations", "end_after_start", "end_at > start"),
        schema.foreign_key("observations", "plan_id", "plans", "CASCADE"),
        schema.foreign_key("observations", "request_id", "observation_requests", "SET NULL"),
        schema.foreign_key("observations", "partner_id", "partners", "RESTRICT"),
        schema.foreign_key("observations", "satellite_id", "satellites", "RESTRICT"),
        indexes=["plan_id", "request_id"],
    )


def downgrade() -> None:
    schema.drop_table("observations", indexes=["plan_id", "request_id"])
    schema.drop_table("plans")
    schema.drop_table("observation_requests", indexes=["partner_id"])
    schema.drop_columns(
        "satellites", "observes", *reversed(PAYLOAD_COLUMNS), check="payload_complete"
    )
