"""Station operations: rotators and links, the contact lifecycle, scoped tokens, events."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jointsat.store.migrations import schema

revision = "0015"
down_revision = "0014"

CONTACT_STATES = ("scheduled", "confirmed", "executing", "completed", "failed", "cancelled")


def upgrade() -> None:
    schema.append_columns(
        "ground_stations",
        schema.json("rotator", nullable=True),
        *schema.reals("g_over_t_db_k", nullable=True),
    )
    schema.append_columns("satellites", schema.json("links", nullable=True))
    schema.append_columns(
        "contacts",
        sa.Column(
            "state",
            sa.Enum(*CONTACT_STATES, name="contact_state", native_enum=False, length=20),
            nullable=False,
            server_default="scheduled",
        ),
        sa.Column("state_reason", sa.Text(), nullable=True),
        *schema.times("state_changed_at", "started_at", "ended_at", nullable=True),
        schema.big_integer("bytes_received", nullable=True),
    )
    schema.create_table(
        "access_tokens",
        schema.integer("id"),
        schema.string("token_hash", 64),
        schema.choice("kind", "station", "calendar", kind="access_kind"),
        schema.integer("user_id"),
        schema.integer("station_id", nullable=True),
        schema.integer("partner_id", nullable=True),
        schema.string("label", 200),
        *schema.times("created_at"),
        *schema.times("revoked_at", "last_used_at", nullable=True),
        schema.foreign_key("access_tokens", "user_id", "users", "CASCADE"),
        schema.foreign_key("access_tokens", "station_id", "ground_stations", "CASCADE"),
        schema.foreign_key("access_tokens", "partner_id", "partners", "CASCADE"),
        schema.unique("access_tokens", "token_hash"),
        schema.check(
            "access_tokens",
            "scope_named",
            "(kind = 'station' AND station_id IS NOT NULL AND partner_id IS NULL)"
            " OR (kind = 'calendar' AND (station_id IS NULL) <> (partner_id IS NULL))",
        ),
        indexes=["user_id", "station_id", "partner_id"],
    )
    schema.create_table(
        "events",
        schema.integer("id"),
        *schema.times("at"),
        schema.string("kind", 40),
        schema.integer("satellite_id", nullable=True),
        schema.integer("station_id", nullable=True),
        schema.string("product_id", 32, nullable=True),
        schema.integer("partner_id", nullable=True),
        schema.json("payload"),
        indexes=["at"],
    )
    schema.create_table(
        "subscriptions",
        schema.integer("id"),
        schema.integer("user_id"),
        schema.choice("kind", "webhook", "apprise", kind="subscription_kind"),
        schema.string("target", 2000),
        schema.string("secret", 200, nullable=True),
        schema.json("kinds", nullable=True),
        *schema.times("created_at"),
        *schema.times("disabled_at", nullable=True),
        schema.integer("seen_event_id"),
        schema.foreign_key("subscriptions", "user_id", "users", "CASCADE"),
        indexes=["user_id"],
    )
    schema.create_table(
        "deliveries",
        schema.integer("id"),
        schema.integer("event_id"),
        schema.integer("subscription_id"),
        schema.choice("status", "pending", "delivered", "failed", kind="delivery_status"),
        schema.integer("attempts"),
        *schema.times("next_attempt_at", "last_attempt_at", nullable=True),
        schema.integer("response_status", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        *schema.times("delivered_at", nullable=True),
        schema.foreign_key("deliveries", "event_id", "events", "CASCADE"),
        schema.foreign_key("deliveries", "subscription_id", "subscriptions", "CASCADE"),
        sa.UniqueConstraint("event_id", "subscription_id", name=op.f("event_subscription")),
        indexes=["event_id", "subscription_id", "next_attempt_at"],
    )


def downgrade() -> None:
    schema.drop_table("deliveries", indexes=["event_id", "subscription_id", "next_attempt_at"])
    schema.drop_table("subscriptions", indexes=["user_id"])
    schema.drop_table("events", indexes=["at"])
    schema.drop_table("access_tokens", indexes=["user_id", "station_id", "partner_id"])
    schema.remove_columns(
        "contacts",
        "state",
        "state_reason",
        "state_changed_at",
        "started_at",
        "ended_at",
        "bytes_received",
    )
    schema.remove_columns("satellites", "links")
    schema.remove_columns("ground_stations", "rotator", "g_over_t_db_k")
