"""Keep the archive's records: products, their files and owners, and the audit log.

A product's record is committed only after its files are durable blobs
(``jointsat.archive.blobs``); ``record_product`` is that commit. Who may see a product
is decided by ``jointsat.archive.rights``; its two release times are kept in columns
(``members_from``, ``public_from``) so that ``visible`` filters in SQL by the same
rule, and ``refresh_release_times`` keeps them in step with the agreements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from jointsat.archive.blobs import Blob
from jointsat.archive.metadata import ProductMetadata, product_id
from jointsat.archive.rights import Caller, DataTerms, release_times
from jointsat.errors import ArchiveConflictError, ArchiveInputError
from jointsat.store.tables import (
    Agreement,
    AuditEntry,
    ContactRecord,
    Partner,
    Product,
    ProductFile,
    ProductOwner,
    Role,
    Satellite,
    User,
)

DEFAULT_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class StoredFile:
    """A product file as ingested: its name, its durable blob and its media type."""

    name: str
    blob: Blob
    media_type: str = DEFAULT_MEDIA_TYPE


def data_terms(session: Session) -> dict[int, DataTerms]:
    """Return every partner's data terms (embargo and public release) by partner id."""
    return {
        a.partner_id: DataTerms(a.embargo_days, a.public_release_days)
        for a in session.scalars(select(Agreement))
    }


def caller_of(user: User | None) -> Caller:
    """Return the rights' view of a user (None: the public)."""
    if user is None:
        return Caller.public()
    return Caller(partner_id=user.partner_id, admin=user.role is Role.ADMIN)


def _same(product: Product, metadata: ProductMetadata) -> bool:
    return (
        product.instrument == metadata.instrument
        and product.processing_level == metadata.processing_level
        and product.acquired_start == metadata.acquired_start
        and product.acquired_end == metadata.acquired_end
    )


def record_product(
    session: Session,
    metadata: ProductMetadata,
    files: Sequence[StoredFile],
    *,
    now: datetime,
    user: User | None = None,
) -> tuple[Product, bool]:
    """Commit a product whose files are durable blobs; return it and whether it is new.

    The same files from the same satellite give the product already recorded (ingest
    is idempotent), unless its metadata differs (``ArchiveConflictError``).
    """
    if not files:
        raise ArchiveInputError("a product needs at least one file")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise ArchiveInputError(f"file names repeat within the product: {sorted(names)}")
    satellite, owner_ids = resolve(session, metadata)
    ident = product_id(metadata.satellite, [f.blob.sha256 for f in files])
    existing = session.get(Product, ident)
    if existing is not None:
        return _existing(existing, metadata)
    times = release_times(owner_ids, metadata.acquired_end, data_terms(session))
    bbox = metadata.bbox
    product = Product(
        id=ident,
        satellite=satellite,
        instrument=metadata.instrument,
        processing_level=metadata.processing_level,
        acquired_start=metadata.acquired_start,
        acquired_end=metadata.acquired_end,
        footprint=metadata.footprint,
        bbox_west=None if bbox is None else bbox[0],
        bbox_south=None if bbox is None else bbox[1],
        bbox_east=None if bbox is None else bbox[2],
        bbox_north=None if bbox is None else bbox[3],
        ra_deg=None if metadata.sky is None else metadata.sky.ra_deg,
        dec_deg=None if metadata.sky is None else metadata.sky.dec_deg,
        contact_id=metadata.contact_id,
        properties=metadata.properties,
        members_from=times.members_from,
        public_from=times.public_from,
        ingested_at=now,
        ingested_by=None if user is None else user.id,
        owners=[ProductOwner(partner_id=p) for p in sorted(owner_ids)],
        files=[
            ProductFile(
                name=f.name,
                sha256=f.blob.sha256,
                size_bytes=f.blob.size_bytes,
                media_type=f.media_type,
            )
            for f in files
        ],
    )
    session.add(product)
    try:
        session.commit()
    except IntegrityError:  # the same product, committed meanwhile by another ingest
        session.rollback()
        again = session.get(Product, ident)
        if again is None:
            raise
        return _existing(again, metadata)
    return product, True


def _existing(product: Product, metadata: ProductMetadata) -> tuple[Product, bool]:
    if not _same(product, metadata):
        raise ArchiveConflictError(
            f"these files are archived already as product {product.id}, with other metadata"
            f" ({product.instrument}, {product.processing_level},"
            f" {product.acquired_start.isoformat()} to {product.acquired_end.isoformat()})"
        )
    return product, False


def resolve(session: Session, metadata: ProductMetadata) -> tuple[Satellite, list[int]]:
    """Return the metadata's satellite and owning partners' ids, or refuse naming the field.

    Checks everything the store must know before a product's bytes are taken: the
    satellite, the owners (default: its operators) and the contact.
    """
    satellite = session.scalars(
        select(Satellite).where(Satellite.norad_id == metadata.satellite)
    ).one_or_none()
    if satellite is None:
        raise ArchiveInputError(f"satellite: no satellite with catalog number {metadata.satellite}")
    owner_ids = _owner_ids(session, metadata, satellite)
    if metadata.contact_id is not None:
        contact = session.get(ContactRecord, metadata.contact_id)
        if contact is None or contact.satellite_id != satellite.id:
            raise ArchiveInputError(
                f"contact_id: no contact {metadata.contact_id} of satellite {metadata.satellite}"
            )
    return satellite, owner_ids


def _owner_ids(session: Session, metadata: ProductMetadata, satellite: Satellite) -> list[int]:
    if not metadata.owners:
        owners = [o.partner_id for o in satellite.operators]
        if not owners:
            raise ArchiveInputError(
                f"owners: satellite {metadata.satellite} has no operators; name the owners"
            )
        return owners
    query = select(Partner.code, Partner.id).where(Partner.code.in_(metadata.owners))
    found = {code: ident for code, ident in session.execute(query)}
    missing = [code for code in metadata.owners if code not in found]
    if missing:
        raise ArchiveInputError(f"owners: no partner with code {', '.join(missing)}")
    return [found[code] for code in metadata.owners]


def refresh_release_times(session: Session, partner_ids: Iterable[int] | None = None) -> int:
    """Recompute the release times of products owned by ``partner_ids`` (None: all).

    Call it after an agreement's embargo or public release changes; the caller commits.
    Returns how many products changed.
    """
    terms = data_terms(session)
    query = select(Product).options(selectinload(Product.owners))
    if partner_ids is not None:
        owned = select(ProductOwner.product_id).where(ProductOwner.partner_id.in_(partner_ids))
        query = query.where(Product.id.in_(owned))
    changed = 0
    for product in session.scalars(query):
        times = release_times(product.owner_ids, product.acquired_end, terms)
        if (product.members_from, product.public_from) != (times.members_from, times.public_from):
            product.members_from, product.public_from = times.members_from, times.public_from
            changed += 1
    return changed


def visible_to(caller: Caller, now: datetime) -> ColumnElement[bool]:
    """Return the SQL condition on products that ``rights.may_see`` states for ``caller``."""
    if caller.admin:
        return true()
    if caller.partner_id is not None:
        owned = select(ProductOwner.product_id).where(ProductOwner.partner_id == caller.partner_id)
        return or_(Product.id.in_(owned), Product.members_from <= now)
    if caller.is_public:
        return and_(Product.public_from.is_not(None), Product.public_from <= now)
    return false()


def visible(session: Session, caller: Caller, now: datetime, product_id: str) -> Product | None:
    """Return the product if it exists and the caller may see it, else None."""
    return session.scalars(
        select(Product)
        .where(Product.id == product_id, visible_to(caller, now))
        .options(selectinload(Product.owners), selectinload(Product.files))
    ).one_or_none()


def search(caller: Caller, now: datetime) -> Select[Product]:
    """Return the query of the products the caller may see, oldest acquisition first."""
    return (
        select(Product)
        .where(visible_to(caller, now))
        .options(
            selectinload(Product.owners),
            selectinload(Product.files),
            selectinload(Product.satellite),
        )
        .order_by(Product.acquired_start, Product.id)
    )


def bbox_filter(west: float, south: float, east: float, north: float) -> ColumnElement[bool]:
    """Return the SQL condition: the product's footprint box meets the given box.

    Either box may cross the antimeridian (west > east); products without a footprint
    never match.
    """
    wrapped = Product.bbox_west > Product.bbox_east
    if west <= east:
        lon = or_(
            and_(~wrapped, Product.bbox_west <= east, Product.bbox_east >= west),
            and_(wrapped, or_(Product.bbox_west <= east, Product.bbox_east >= west)),
        )
    else:  # the query crosses 180: [west, 180] and [-180, east]
        lon = or_(wrapped, Product.bbox_east >= west, Product.bbox_west <= east)
    return and_(
        Product.bbox_west.is_not(None),
        Product.bbox_south <= north,
        Product.bbox_north >= south,
        lon,
    )


def audit(
    session: Session,
    *,
    at: datetime,
    user: User | None,
    action: str,
    product_id: str,
    outcome: str,
    file_name: str | None = None,
    bytes_sent: int = 0,
    detail: str = "",
) -> None:
    """Append an entry to the audit log and commit it."""
    session.add(
        AuditEntry(
            at=at,
            user_id=None if user is None else user.id,
            user_name=None if user is None else user.name,
            partner_id=None if user is None else user.partner_id,
            action=action,
            product_id=product_id[:64],
            file_name=file_name,
            outcome=outcome,
            bytes_sent=bytes_sent,
            detail=detail,
        )
    )
    session.commit()
