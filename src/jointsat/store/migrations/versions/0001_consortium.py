"""consortium: partners, agreements, satellites, element sets, stations, users, tokens"""

from __future__ import annotations

import sqlalchemy as sa

from jointsat.store.migrations import schema

revision = "0001"
down_revision = None


VISIBILITY = ("private", "consortium", "public")


def upgrade() -> None:
    schema.create_table(
        "partners",
        schema.integer("id"),
        schema.string("code", 32),
        schema.string("name", 200),
        *schema.reals("contribution_share"),
        schema.check(
            "partners", "share_range", "contribution_share > 0 AND contribution_share <= 1"
        ),
        schema.unique("partners", "code"),
        schema.unique("partners", "name"),
    )
    schema.create_table(
        "satellites",
        schema.integer("id"),
        schema.big_integer("norad_id"),
        schema.string("name", 200),
        schema.unique("satellites", "norad_id"),
    )
    schema.create_table(
        "agreements",
        schema.integer("id"),
        schema.integer("partner_id"),
        *schema.reals("share", nullable=True),
        schema.integer("priority_class"),
        schema.integer("embargo_days"),
        schema.choice("station_visibility", *VISIBILITY, kind="visibility"),
        schema.choice("satellite_visibility", *VISIBILITY, kind="visibility"),
        schema.check("agreements", "embargo_not_negative", "embargo_days >= 0"),
        schema.check("agreements", "share_range", "share IS NULL OR (share > 0 AND share <= 1)"),
        schema.foreign_key("agreements", "partner_id", "partners", "CASCADE"),
        schema.unique("agreements", "partner_id"),
    )
    schema.create_table(
        "element_sets",
        schema.integer("id"),
        schema.integer("satellite_id"),
        *schema.times("epoch"),
        schema.json("omm"),
        schema.string("source", 500),
        *schema.times("received_at"),
        schema.foreign_key("element_sets", "satellite_id", "satellites", "CASCADE"),
        sa.UniqueConstraint("satellite_id", "epoch", name="satellite_epoch"),
        indexes=["satellite_id"],
    )
    schema.create_table(
        "ground_stations",
        schema.integer("id"),
        schema.string("name", 200),
        schema.integer("partner_id"),
        *schema.reals("lat_deg", "lon_deg", "alt_m", "min_elevation_deg"),
        schema.json("horizon_mask", nullable=True),
        *schema.reals("turnaround_s"),
        schema.json("bands"),
        schema.check("ground_stations", "lat_range", "lat_deg >= -90 AND lat_deg <= 90"),
        schema.check("ground_stations", "lon_range", "lon_deg >= -180 AND lon_deg <= 360"),
        schema.check(
            "ground_stations",
            "min_el_range",
            "min_elevation_deg >= -90 AND min_elevation_deg < 90",
        ),
        schema.check("ground_stations", "turnaround_not_negative", "turnaround_s >= 0"),
        schema.foreign_key("ground_stations", "partner_id", "partners", "RESTRICT"),
        schema.unique("ground_stations", "name"),
        indexes=["partner_id"],
    )
    schema.create_table(
        "satellite_operators",
        schema.integer("satellite_id"),
        schema.integer("partner_id"),
        *schema.reals("fraction"),
        schema.check("satellite_operators", "fraction_range", "fraction > 0 AND fraction <= 1"),
        schema.foreign_key("satellite_operators", "partner_id", "partners", "RESTRICT"),
        schema.foreign_key("satellite_operators", "satellite_id", "satellites", "CASCADE"),
        key=["satellite_id", "partner_id"],
    )
    schema.create_table(
        "users",
        schema.integer("id"),
        schema.string("name", 200),
        schema.choice("role", "admin", "operator", "viewer", kind="role"),
        schema.integer("partner_id", nullable=True),
        *schema.times("created_at"),
        schema.check("users", "partner_unless_admin", "role = 'admin' OR partner_id IS NOT NULL"),
        schema.foreign_key("users", "partner_id", "partners", "CASCADE"),
        schema.unique("users", "name"),
        indexes=["partner_id"],
    )
    schema.create_table(
        "api_tokens",
        schema.integer("id"),
        schema.integer("user_id"),
        schema.string("token_hash", 64),
        schema.string("label", 200),
        *schema.times("created_at"),
        *schema.times("revoked_at", nullable=True),
        schema.foreign_key("api_tokens", "user_id", "users", "CASCADE"),
        schema.unique("api_tokens", "token_hash"),
        indexes=["user_id"],
    )
    schema.create_table(
        "station_unavailability",
        schema.integer("id"),
        schema.integer("station_id"),
        *schema.times("start", "end_at"),
        schema.choice("kind", "maintenance", "outage", kind="unavailability"),
        schema.text("reason"),
        schema.check("station_unavailability", "end_after_start", "end_at > start"),
        schema.foreign_key("station_unavailability", "station_id", "ground_stations", "CASCADE"),
        indexes=["station_id"],
    )


def downgrade() -> None:
    schema.drop_table("station_unavailability", indexes=["station_id"])
    schema.drop_table("api_tokens", indexes=["user_id"])
    schema.drop_table("users", indexes=["partner_id"])
    schema.drop_table("satellite_operators")
    schema.drop_table("ground_stations", indexes=["partner_id"])
    schema.drop_table("element_sets", indexes=["satellite_id"])
    for name in ("agreements", "satellites", "partners"):
        schema.drop_table(name)
