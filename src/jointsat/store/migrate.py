"""Upgrade and downgrade the store's schema with Alembic, from code or the CLI."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from jointsat.store.database import normalise_url, open_engine


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration for the store at ``url`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(files("jointsat.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the store at ``url`` up to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the store at ``url`` down to ``revision`` (default: empty)."""
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """Return the revision the store at ``url`` is at, None if it has none."""
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """Return the newest revision the package knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
