"""Ingest a product: check it once, store its files durably, then record it.

Every ingest (``jointsat archive ingest``, ``POST /products``, the demo) takes the same
three steps, in this order:

1. ``check_ingest``: the caller's right to ingest products of the satellite, then the
   metadata against the store (the satellite, the owners, the contact), once;
2. ``store_file`` / ``store_bytes`` (or a streamed upload's blob writers): each file
   becomes a durable blob, addressed by its SHA-256;
3. ``Ingest.record``: the product's record is committed, so that whatever the store
   lists is on disk.

A failed check stores nothing; a crash between the steps leaves at most blobs no
product refers to, which ``jointsat archive sweep`` removes.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from jointsat.archive.analyses import queue_on_ingest
from jointsat.archive.blobs import ArchiveOwner, BlobStore
from jointsat.archive.metadata import ProductMetadata
from jointsat.archive.rights import Caller
from jointsat.errors import ArchiveRefusedError
from jointsat.settings import Settings
from jointsat.store.identity import store_identity
from jointsat.store.products import (
    DEFAULT_MEDIA_TYPE,
    ResolvedMetadata,
    StoredFile,
    caller_of,
    may_ingest,
    record_product,
    resolve,
)
from jointsat.store.tables import Product, User

REFUSED = "only the admin or an operator of the satellite may ingest"


@dataclass(frozen=True)
class Ingest:
    """A product ingest whose caller and metadata were checked: its files may be stored."""

    resolved: ResolvedMetadata
    user_id: int | None  # who ingests; None: the command line or the demo
    caller: Caller | None = None  # what the ingesting user may see; None: everything

    @property
    def metadata(self) -> ProductMetadata:
        """Return the product's checked metadata."""
        return self.resolved.metadata

    def record(
        self, session: Session, files: Sequence[StoredFile], *, now: datetime
    ) -> tuple[Product, bool]:
        """Commit the product of these durable files; return it and whether it is new.

        The same files of the same satellite give the product recorded already, unless
        its metadata differs or the caller may not see it (``ArchiveConflictError``,
        which then names nothing of it). A new product gets the analysis runs its
        owners' agreements ask for on ingest, queued (``archive.analyses``).
        """
        product, created = record_product(
            session, self.resolved, files, now=now, user_id=self.user_id, caller=self.caller
        )
        if created:
            queue_on_ingest(session, product, now)
        return product, created


def check_ingest(session: Session, metadata: ProductMetadata, *, user: User | None) -> Ingest:
    """Check that ``user`` may ingest the product, then its metadata against the store.

    ``user`` None is the command line and the demo, which may ingest anything. The
    right comes first, so that a caller learns nothing of satellites or contacts it
    may not ingest for: for anyone but the admin and the satellite's operators, a
    satellite that does not exist and one that is not theirs are the same refusal
    (``ArchiveRefusedError``). Bad metadata raises ``ArchiveInputError``.
    """
    if user is not None and not may_ingest(session, user, metadata.satellite):
        raise ArchiveRefusedError(REFUSED)
    if user is None:
        return Ingest(resolve(session, metadata), None)
    return Ingest(resolve(session, metadata), user.id, caller_of(user))


def store_file(blobs: BlobStore, path: Path) -> StoredFile:
    """Store a copy of a file on disk, named as it is, its media type guessed from its name.

    An unreadable file raises ``OSError``, a failed write ``ArchiveStorageError``.
    """
    blob = blobs.put_file(path)
    return StoredFile(path.name, blob, mimetypes.guess_type(path.name)[0] or DEFAULT_MEDIA_TYPE)


def store_bytes(
    blobs: BlobStore, name: str, data: bytes, media_type: str = DEFAULT_MEDIA_TYPE
) -> StoredFile:
    """Store bytes held in memory as a product's file named ``name``."""
    with blobs.writer() as writer:
        writer.write(data)
        return StoredFile(name, writer.commit(), media_type)


def store_archive(
    settings: Settings, owner: Session | ArchiveOwner | Callable[[], ArchiveOwner]
) -> BlobStore:
    """Return the archive of the store in ``settings``, which refuses another store's folder.

    ``owner`` is the store's session (its identity is read now), the owner itself, or
    a function returning it when first needed. The archive reads what it lacks from
    the ``archive/`` folder the store's files went to before each store had its own.
    """
    if isinstance(owner, Session):
        owner = archive_owner(settings, owner)
    return BlobStore(settings.archive_folder, owner=owner, fallback=settings.legacy_archive_folder)


def archive_owner(settings: Settings, session: Session) -> ArchiveOwner:
    """Return the store in ``settings`` as its archive records it: identity and location."""
    return ArchiveOwner(store_identity(session), settings.store_location)
