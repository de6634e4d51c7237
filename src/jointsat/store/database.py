"""Open the consortium store: a SQLite file by default, or PostgreSQL through psycopg 3."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_S = 30.0


def normalise_url(url: str) -> str:
    """Return the URL with PostgreSQL pointed at psycopg 3 (``postgresql://`` means psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def open_engine(url: str, **options: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL journaling and a busy timeout.

    ``options`` go to ``create_engine`` (the service sizes its connection pool with
    them: ``jointsat.service.shedding.pool_options``).
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **options)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}, **options
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")  # a commit survives power loss
        cursor.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session maker bound to the engine (objects stay usable after commit).

    Every flush that writes bumps the store's revision in the same transaction, so a
    cache keyed by the revision can never serve what a committed write changed.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "before_flush", _bump_revision)
    event.listen(factory, "before_flush", _forget_stale_passes)
    return factory


def _bump_revision(session: Session, _context: Any, _instances: Any) -> None:
    from jointsat.store.tables import StoreRevision

    written = [*session.new, *session.dirty, *session.deleted]
    if not any(not getattr(o, "no_revision", False) for o in written):
        return
    if any(isinstance(o, StoreRevision) for o in (*session.new, *session.dirty)):
        return
    session.execute(update(StoreRevision).values(value=StoreRevision.value + 1))


def _forget_stale_passes(session: Session, _context: Any, _instances: Any) -> None:
    """Drop stored pass predictions when a satellite, element set or station is deleted.

    Their fingerprints name ids that a later row might reuse (SQLite reuses the
    largest rowid), so predictions that lost passes to the deletion must go.
    """
    from jointsat.store.passes import forget_predictions
    from jointsat.store.tables import ElementSetRecord, GroundStation, Satellite

    if any(isinstance(o, Satellite | ElementSetRecord | GroundStation) for o in session.deleted):
        forget_predictions(session)


def store_revision(session: Session) -> int:
    """Return the store's revision (0 for a store that has never been written)."""
    from jointsat.store.tables import StoreRevision

    return int(session.scalar(select(StoreRevision.value)) or 0)
