"""consortium: partners, agreements, satellites, element sets, stations, users, tokens"""

from __future__ import annotations

import sqlalchemy as sa

from jointsat.store.migrations.schema import (
    big_integer,
    check,
    choice,
    create_table,
    drop_table,
    foreign_key,
    integer,
    json,
    reals,
    string,
    text,
    times,
    unique,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


VISIBILITY = ("private", "consortium", "public")


def upgrade() -> None:
    create_table(
        "partners",
        integer("id"),
        string("code", 32),
        string("name", 200),
        *reals("contribution_share"),
        check("partners", "share_range", "contribution_share > 0 AND contribution_share <= 1"),
        unique("partners", "code"),
        unique("partners", "name"),
    )
    create_table(
        "satellites",
        integer("id"),
        big_integer("norad_id"),
        string("name", 200),
        unique("satellites", "norad_id"),
    )
    create_table(
        "agreements",
        integer("id"),
        integer("partner_id"),
        *reals("share", nullable=True),
        integer("priority_class"),
        integer("embargo_days"),
        choice("station_visibility", *VISIBILITY, kind="visibility"),
        choice("satellite_visibility", *VISIBILITY, kind="visibility"),
        check("agreements", "embargo_not_negative", "embargo_days >= 0"),
        check("agreements", "share_range", "share IS NULL OR (share > 0 AND share <= 1)"),
        foreign_key("agreements", "partner_id", "partners", "CASCADE"),
        unique("agreements", "partner_id"),
    )
    create_table(
        "element_sets",
        integer("id"),
        integer("satellite_id"),
        *times("epoch"),
        json("omm"),
        string("source", 500),
        *times("received_at"),
        foreign_key("element_sets", "satellite_id", "satellites", "CASCADE"),
        sa.UniqueConstraint("satellite_id", "epoch", name="satellite_epoch"),
        indexes=["satellite_id"],
    )
    create_table(
        "ground_stations",
        integer("id"),
        string("name", 200),
        integer("partner_id"),
        *reals("lat_deg", "lon_deg", "alt_m", "min_elevation_deg"),
        json("horizon_mask", nullable=True),
        *reals("turnaround_s"),
        json("bands"),
        check("ground_stations", "lat_range", "lat_deg >= -90 AND lat_deg <= 90"),
        check("ground_stations", "lon_range", "lon_deg >= -180 AND lon_deg <= 360"),
        check(
            "ground_stations",
            "min_el_range",
            "min_elevation_deg >= -90 AND min_elevation_deg < 90",
        ),
        check("ground_stations", "turnaround_not_negative", "turnaround_s >= 0"),
        foreign_key("ground_stations", "partner_id", "partners", "RESTRICT"),
        unique("ground_stations", "name"),
        indexes=["partner_id"],
    )
    create_table(
        "satellite_operators",
        integer("satellite_id"),
        integer("partner_id"),
        *reals("fraction"),
        check("satellite_operators", "fraction_range", "fraction > 0 AND fraction <= 1"),
        foreign_key("satellite_operators", "partner_id", "partners", "RESTRICT"),
        foreign_key("satellite_operators", "satellite_id", "satellites", "CASCADE"),
        key=["satellite_id", "partner_id"],
    )
    create_table(
        "users",
        integer("id"),
        string("name", 200),
        choice("role", "admin", "operator", "viewer", kind="role"),
        integer("partner_id", nullable=True),
        *times("created_at"),
        check("users", "partner_unless_admin", "role = 'admin' OR partner_id IS NOT NULL"),
        foreign_key("users", "partner_id", "partners", "CASCADE"),
        unique("users", "name"),
        indexes=["partner_id"],
    )
    create_table(
        "api_tokens",
        integer("id"),
        integer("user_id"),
        string("token_hash", 64),
        string("label", 200),
        *times("created_at"),
        *times("revoked_at", nullable=True),
        foreign_key("api_tokens", "user_id", "users", "CASCADE"),
        unique("api_tokens", "token_hash"),
        indexes=["user_id"],
    )
    create_table(
        "station_unavailability",
        integer("id"),
        integer("station_id"),
        *times("start", "end_at"),
        choice("kind", "maintenance", "outage", kind="unavailability"),
        text("reason"),
        check("station_unavailability", "end_after_start", "end_at > start"),
        foreign_key("station_unavailability", "station_id", "ground_stations", "CASCADE"),
        indexes=["station_id"],
    )


def downgrade() -> None:
    drop_table("station_unavailability", indexes=["station_id"])
    drop_table("api_tokens", indexes=["user_id"])
    drop_table("users", indexes=["partner_id"])
    drop_table("satellite_operators")
    drop_table("ground_stations", indexes=["partner_id"])
    drop_table("element_sets", indexes=["satellite_id"])
    for name in ("agreements", "satellites", "partners"):
        drop_table(name)
