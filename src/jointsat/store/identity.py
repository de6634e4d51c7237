"""The store's identity: the random id its archive records as its owner (docs/archive.md)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from jointsat.errors import StoreError
from jointsat.store.tables import StoreIdentity


def store_identity(session: Session) -> str:
    """Return the store's identity, made when the store was migrated to revision 0012."""
    try:
        value = session.scalar(select(StoreIdentity.value).where(StoreIdentity.id == 1))
    except SQLAlchemyError:
        session.rollback()
        value = None
    if value is None:
        raise StoreError(
            "the store records no identity (its schema is older than this jointsat's): "
            "run `jointsat db upgrade`"
        )
    return value
