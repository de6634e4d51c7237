"""Keep the archive's records: products, their files and owners, and the audit log.

A product's record is committed only after its files are durable blobs
(``jointsat.archive.blobs``); ``record_product`` is that commit, the last step of an
ingest (``jointsat.archive.ingest``). Who may see a product is decided by
``jointsat.archive.rights``; its two release times are kept in columns
(``members_from``, ``public_from``) so that ``visible`` filters in SQL by the same
rule, and ``refresh_release_times`` keeps them in step with the agreements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from jointsat.analysis.registry import AREA_PROPERTY
from jointsat.archive.blobs import Blob
from jointsat.archive.metadata import ProductMetadata, product_id
from jointsat.archive.rights import (
    Caller,
    DataTerms,
    ReleaseTimes,
    derived_over_area,
    derived_release_times,
    may_see,
    release_times,
)
from jointsat.errors import ArchiveConflictError, ArchiveInputError
from jointsat.operations.events import EventKind
from jointsat.store.events import record_event
from jointsat.store.tables import (
    Agreement,
    AreaRecord,
    AuditEntry,
    ContactRecord,
    Partner,
    Product,
    ProductFile,
    ProductOwner,
    ProductSource,
    Role,
    Satellite,
    SatelliteOperator,
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


# The metadata's fields a product's row holds as given, in columns of the same names;
# the first four identify the acquisition (the same files ingested again must agree).
METADATA_COLUMNS = (
    "instrument",
    "processing_level",
    "acquired_start",
    "acquired_end",
    "footprint",
    "contact_id",
    "properties",
)
_BBOX_COLUMNS = ("bbox_west", "bbox_south", "bbox_east", "bbox_north")


def _same(product: Product, metadata: ProductMetadata) -> bool:
    return all(getattr(product, f) == getattr(metadata, f) for f in METADATA_COLUMNS[:4])


@dataclass(frozen=True)
class ResolvedMetadata:
    """A product's metadata checked against the store: its satellite and owners found."""

    metadata: ProductMetadata
    satellite_id: int  # the satellite's row id
    owner_ids: tuple[int, ...]  # the owning partners' ids


def may_ingest(session: Session, user: User, satellite: int) -> bool:
    """Return whether the user may ingest products of a satellite (by catalog number).

    The admin may ingest any; an operator those of the satellites its partner operates.
    """
    if user.role is Role.ADMIN:
        return True
    if user.role is not Role.OPERATOR:
        return False
    operates = session.scalar(
        select(SatelliteOperator.partner_id)
        .join(Satellite)
        .where(Satellite.norad_id == satellite, SatelliteOperator.partner_id == user.partner_id)
    )
    return operates is not None


def resolve(session: Session, metadata: ProductMetadata) -> ResolvedMetadata:
    """Return the metadata with its satellite and owning partners, or refuse naming the field.

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
    return ResolvedMetadata(metadata, satellite.id, tuple(owner_ids))


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


def record_product(
    session: Session,
    metadata: ProductMetadata | ResolvedMetadata,
    files: Sequence[StoredFile],
    *,
    now: datetime,
    user_id: int | None = None,
    caller: Caller | None = None,
) -> tuple[Product, bool]:
    """Commit a product whose files are durable blobs; return it and whether it is new.

    Metadata not yet resolved (``resolve``) is resolved first. The same files from the
    same satellite give the product already recorded (ingest is idempotent), unless
    its metadata differs (``ArchiveConflictError``). ``user_id``: who ingested it;
    ``caller``: what it may see (None: everything). A product recorded already that
    the caller may not see is refused without naming it or anything of it.
    """
    if not files:
        raise ArchiveInputError("a product needs at least one file")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise ArchiveInputError(f"file names repeat within the product: {sorted(names)}")
    resolved = metadata if isinstance(metadata, ResolvedMetadata) else resolve(session, metadata)
    metadata = resolved.metadata
    ident = product_id(metadata.satellite, [f.blob.sha256 for f in files])
    existing = session.get(Product, ident)
    if existing is not None:
        return _existing(existing, metadata, caller, now)
    times = release_times(resolved.owner_ids, metadata.acquired_end, data_terms(session))
    sky = metadata.sky
    product = Product(
        **{column: getattr(metadata, column) for column in METADATA_COLUMNS},
        **dict(zip(_BBOX_COLUMNS, metadata.bbox or (None,) * 4, strict=True)),
        id=ident,
        satellite_id=resolved.satellite_id,
        ra_deg=None if sky is None else sky.ra_deg,
        dec_deg=None if sky is None else sky.dec_deg,
        members_from=times.members_from,
        public_from=times.public_from,
        ingested_at=now,
        ingested_by=user_id,
        owners=[ProductOwner(partner_id=p) for p in sorted(resolved.owner_ids)],
        files=[ProductFile(name=f.name, media_type=f.media_type, **asdict(f.blob)) for f in files],
    )
    again = commit_new(session, product)
    if again is not None:  # the same product, committed meanwhile by another ingest
        return _existing(again, metadata, caller, now)
    return product, True


def commit_new(session: Session, product: Product) -> Product | None:
    """Add and commit a new product; None, or the same product another writer committed
    meanwhile (its id is the hash of its files: the same files, the same product).

    Its ``product.archived`` event is committed with it."""
    session.add(product)
    record_event(
        session,
        EventKind.PRODUCT_ARCHIVED,
        at=product.ingested_at,
        satellite_id=product.satellite_id,
        product_id=product.id,
        payload={
            "product_id": product.id,
            "instrument": product.instrument,
            "processing_level": product.processing_level,
            "acquired_start": product.acquired_start.isoformat(),
            "acquired_end": product.acquired_end.isoformat(),
        },
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        again = session.get(Product, product.id)
        if again is None:
            raise
        return again
    return None


NOT_YOURS = (
    "these files of this satellite are archived already, in a product not released to you;"
    " its owners or the consortium admin can tell you more"
)


def _existing(
    product: Product, metadata: ProductMetadata, caller: Caller | None, now: datetime
) -> tuple[Product, bool]:
    times = ReleaseTimes(product.members_from, product.public_from)
    if caller is not None and not may_see(caller, product.owner_ids, times, now):
        raise ArchiveConflictError(NOT_YOURS)
    if not _same(product, metadata):
        raise ArchiveConflictError(
            f"these files are archived already as product {product.id}, with other metadata"
            f" ({product.instrument}, {product.processing_level},"
            f" {product.acquired_start.isoformat()} to {product.acquired_end.isoformat()})"
        )
    return product, False


def refresh_release_times(session: Session, partner_ids: Iterable[int] | None = None) -> int:
    """Recompute the release times of products owned by ``partner_ids`` (None: all).

    Call it after an agreement's embargo or public release changes; the caller commits.
    Derived products follow their sources (every one, whoever owns them: the latest
    of their sources' times, ``rights.derived_release_times``) and the rule of the
    area they were computed over (``rights.derived_over_area``). Returns how many
    products changed.
    """
    terms = data_terms(session)
    derived = select(ProductSource.product_id)
    query = select(Product).options(selectinload(Product.owners)).where(Product.id.not_in(derived))
    if partner_ids is not None:
        owned = select(ProductOwner.product_id).where(ProductOwner.partner_id.in_(partner_ids))
        query = query.where(Product.id.in_(owned))
    changed = 0
    for product in session.scalars(query):
        changed += _release(product, release_times(product.owner_ids, product.acquired_end, terms))
    session.flush()
    derived_query = (
        select(Product)
        .where(Product.id.in_(derived))
        .options(selectinload(Product.source_links))
        .order_by(Product.ingested_at, Product.id)  # one derived from another follows it
    )
    for product in session.scalars(derived_query):
        sources = [session.get(Product, s) for s in product.source_ids]
        _, times = derived_over_area(
            frozenset(),
            derived_release_times(
                ReleaseTimes(p.members_from, p.public_from) for p in sources if p is not None
            ),
            _area_of(product),
        )
        changed += _release(product, times)
    return changed


def _release(product: Product, times: ReleaseTimes) -> int:
    """Set a product's release times; return 1 if they changed, else 0."""
    if (product.members_from, product.public_from) == (times.members_from, times.public_from):
        return 0
    product.members_from, product.public_from = times.members_from, times.public_from
    return 1


def area_rule(session: Session, area_id: int | None) -> tuple[int, str] | None:
    """Return the owner and visibility of a stored area (None: no area named)."""
    if area_id is None:
        return None
    area = session.get(AreaRecord, area_id)
    if area is None:  # areas that runs use cannot be deleted; fail closed all the same
        return (-1, "private")
    return area.partner_id, area.visibility.value


def area_property(area_id: int | None, area: tuple[int, str] | None) -> dict[str, Any]:
    """Return a derived product's ``AREA_PROPERTY``: the area's id, owner and visibility
    when the product was made (its rule is the product's for good)."""
    if area_id is None or area is None:
        return {}
    return {AREA_PROPERTY: {"id": area_id, "partner_id": area[0], "visibility": area[1]}}


def _area_of(product: Product) -> tuple[int, str] | None:
    """Return the area rule a derived product was made under (None: no area)."""
    stored = product.properties.get(AREA_PROPERTY)
    if stored is None:
        return None
    if not isinstance(stored, dict):
        return (-1, "private")  # not as written: fail closed
    return int(stored.get("partner_id", -1)), str(stored.get("visibility", "private"))


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


def next_release(session: Session, caller: Caller, now: datetime) -> datetime | None:
    """Return the first release time after ``now`` that may change what the caller sees.

    Until then (and the store's next write) ``visible_to(caller, now)`` selects the
    same products; None: nothing is released to the caller later.
    """
    column: InstrumentedAttribute[datetime | None]
    if caller.admin:
        return None
    if caller.partner_id is not None:
        column = Product.members_from
    elif caller.is_public:
        column = Product.public_from
    else:
        return None
    return session.scalar(select(func.min(column)).where(column > now))


def visible(session: Session, caller: Caller, now: datetime, product_id: str) -> Product | None:
    """Return the product if it exists and the caller may see it, else None."""
    return session.scalars(
        select(Product)
        .where(Product.id == product_id, visible_to(caller, now))
        .options(
            selectinload(Product.owners),
            selectinload(Product.files),
            selectinload(Product.source_links),
        )
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
            selectinload(Product.source_links),
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


def product_conditions(
    *,
    satellite: int | None = None,
    satellite_ids: Iterable[int] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    ids: Iterable[str] | None = None,
) -> list[ColumnElement[bool]]:
    """Return the SQL conditions of a product search; a filter left None is not applied.

    ``satellite`` is a catalog number, ``satellite_ids`` row ids; ``start`` and ``end``
    keep the products whose acquisition overlaps them, ``bbox`` those whose
    footprint's box meets it.
    """
    conditions: list[ColumnElement[bool]] = []
    if satellite is not None:
        norad = select(Satellite.id).where(Satellite.norad_id == satellite)
        conditions.append(Product.satellite_id.in_(norad))
    if satellite_ids is not None:
        conditions.append(Product.satellite_id.in_(list(satellite_ids)))
    if start is not None:
        conditions.append(Product.acquired_end >= start)
    if end is not None:
        conditions.append(Product.acquired_start <= end)
    if bbox is not None:
        conditions.append(bbox_filter(*bbox))
    if ids is not None:
        conditions.append(Product.id.in_(list(ids)))
    return conditions


def product_page(
    session: Session,
    caller: Caller,
    now: datetime,
    conditions: Sequence[ColumnElement[bool]],
    *,
    limit: int,
    offset: int = 0,
) -> list[Product]:
    """Return a page of the products the caller may see that meet ``conditions``, oldest first."""
    return list(session.scalars(search(caller, now).where(*conditions).limit(limit).offset(offset)))


def partner_codes(session: Session) -> dict[int, str]:
    """Return every partner's code by id."""
    return {ident: code for ident, code in session.execute(select(Partner.id, Partner.code))}


@dataclass(frozen=True)
class Actor:
    """A copy of a user's identity, usable once its row's session is closed."""

    id: int
    name: str
    partner_id: int | None

    @classmethod
    def of(cls, user: User | None) -> Actor | None:
        """Return the copy of a user (None: the public)."""
        return None if user is None else cls(user.id, user.name, user.partner_id)


def audit_refusal(
    session: Session,
    *,
    at: datetime,
    user: User | Actor | None,
    action: str,
    product_id: str,
    client: str | None = None,
    tally: RefusalTally | None = None,
) -> None:
    """Log that the caller was refused a product it may not see, or that does not exist.

    A member's refusal is one row, committed at once. The public's are counted by
    ``tally`` (when given) per client, action and minute: the first is written at
    once, the rest counted in memory and written later as one row per product with
    its ``count`` (``RefusalTally``).
    """
    exists = session.get(Product, product_id[:64]) is not None
    detail = "not yet released to the caller" if exists else "no such product"
    if tally is not None:
        tally.flush_due(session, at)
        if user is None and not tally.first(client, action, product_id, detail, at):
            return
    audit(
        session,
        at=at,
        user=user,
        action=action,
        product_id=product_id,
        outcome="refused",
        detail=detail,
        client=client if user is None else None,
    )


REFUSALS_PER_WINDOW = 20  # products counted apart per client, action and minute; more: "*"
OTHER_PRODUCTS = "*"


@dataclass
class _Counted:
    at: datetime  # the first counted refusal's time
    count: int = 0


@dataclass
class RefusalTally:
    """Count the public's refused reads in memory; write them as few rows with a count.

    Per anonymous client (its network address), action and UTC minute of the clock:
    the first refusal is written at once, as every member's is; the later ones of
    that minute are counted in memory, one count per product (past
    ``REFUSALS_PER_WINDOW`` products, the rest under product ``*``), and written as
    one row each, with ``count``, once the minute is over (at the next refusal), when
    the log is read, or when the service stops (``flush``). So a client adds at most
    ``REFUSALS_PER_WINDOW + 2`` rows a minute per action, however many it is refused;
    a server killed loses at most the counts of its last minute.
    """

    _seen: set[tuple[str | None, str, datetime]] = field(default_factory=set)
    _counted: dict[tuple[str | None, str, datetime], dict[tuple[str, str], _Counted]] = field(
        default_factory=dict
    )
    _lock: Lock = field(default_factory=Lock)

    def first(
        self, client: str | None, action: str, product_id: str, detail: str, at: datetime
    ) -> bool:
        """Return True for the client's first refusal of the minute (write it), else count it."""
        key = (client, action, _minute(at))
        with self._lock:
            if key not in self._seen:
                self._seen.add(key)
                return True
            counts = self._counted.setdefault(key, {})
            what = (product_id[:64], detail)
            if what not in counts and len(counts) >= REFUSALS_PER_WINDOW:
                what = (OTHER_PRODUCTS, "refused reads of other products")
            counts.setdefault(what, _Counted(at)).count += 1
            return False

    def flush_due(self, session: Session, now: datetime) -> None:
        """Write the counts of the minutes before ``now``'s, and forget those minutes."""
        self._write(session, before=_minute(now))

    def flush(self, session: Session) -> None:
        """Write every count kept (the log is read, or the service stops)."""
        self._write(session, before=None)

    def _write(self, session: Session, *, before: datetime | None) -> None:
        with self._lock:
            keys = [k for k in self._counted if before is None or k[2] < before]
            taken = {k: self._counted.pop(k) for k in keys}
            if before is not None:
                self._seen = {k for k in self._seen if k[2] >= before}
        rows = [
            AuditEntry(
                at=counted.at,
                user_id=None,
                user_name=None,
                partner_id=None,
                action=action,
                product_id=product_id,
                file_name=None,
                outcome="refused",
                bytes_sent=0,
                detail=detail,
                count=counted.count,
                client=client,
            )
            for (client, action, _), counts in taken.items()
            for (product_id, detail), counted in counts.items()
        ]
        if rows:
            session.add_all(rows)
            session.commit()


def _minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def audit_log(
    session: Session,
    *,
    product_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    limit: int,
    offset: int = 0,
    tally: RefusalTally | None = None,
) -> list[AuditEntry]:
    """Return entries of the audit log, newest first; a filter left None is not applied.

    The counts ``tally`` keeps are written first, so that the log is whole.
    """
    if tally is not None:
        tally.flush(session)
    query = select(AuditEntry)
    if product_id is not None:
        query = query.where(AuditEntry.product_id == product_id)
    if outcome is not None:
        query = query.where(AuditEntry.outcome == outcome)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)))


def audit(
    session: Session,
    *,
    at: datetime,
    user: User | Actor | None,
    action: str,
    product_id: str,
    outcome: str,
    file_name: str | None = None,
    bytes_sent: int = 0,
    detail: str = "",
    client: str | None = None,
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
            client=client,
        )
    )
    session.commit()
