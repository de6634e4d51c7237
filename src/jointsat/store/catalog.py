"""Query the archive's catalogue: collections (satellites), their extents, pages of items.

What a caller may see is filtered in SQL by ``store.products.visible_to``. Pages of
items are ordered by acquisition start, then id; a page continues after the (start,
id) of the previous page's last item, so that it never repeats or skips an item that
was there when the first page was read, whatever is ingested meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from jointsat.archive import catalog
from jointsat.archive.rights import Caller
from jointsat.store.products import product_conditions, search, visible_to
from jointsat.store.tables import ElementSetRecord, Product, Satellite

DEFAULT_LIMIT = 10  # items per page when the search does not say


@dataclass(frozen=True)
class ItemQuery:
    """A search of the catalogue's items: each filter None when not given."""

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[datetime | None, datetime | None] | None = None
    collections: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    limit: int = DEFAULT_LIMIT
    after: tuple[datetime, str] | None = None  # the previous page's last (start, id)


@dataclass(frozen=True)
class ItemPage:
    """A page of items: the products, how many match in all, whether more follow.

    ``collection_ids`` and ``designators`` are by satellite row id (the designators
    of the page's satellites only).
    """

    products: list[Product]
    matched: int
    more: bool
    collection_ids: dict[int, str]
    designators: dict[int, str]


@dataclass(frozen=True)
class Extent:
    """What a caller may see of a satellite's products: times, box, instruments."""

    start: datetime
    end: datetime
    bbox: tuple[float, float, float, float] | None
    instruments: tuple[str, ...]


def collection_ids(session: Session) -> dict[int, str]:
    """Return every satellite's collection id by satellite row id."""
    return catalog.collection_ids(
        session.execute(select(Satellite.id, Satellite.name, Satellite.norad_id))
    )


def designators(session: Session, satellite_ids: Sequence[int]) -> dict[int, str]:
    """Return the international designator (OMM OBJECT_ID) of each satellite's latest set."""
    if not satellite_ids:
        return {}
    latest = (
        select(ElementSetRecord.satellite_id, func.max(ElementSetRecord.epoch).label("epoch"))
        .where(ElementSetRecord.satellite_id.in_(satellite_ids))
        .group_by(ElementSetRecord.satellite_id)
        .subquery()
    )
    rows = session.execute(
        select(ElementSetRecord.satellite_id, ElementSetRecord.omm).join(
            latest,
            and_(
                ElementSetRecord.satellite_id == latest.c.satellite_id,
                ElementSetRecord.epoch == latest.c.epoch,
            ),
        )
    )
    found = {}
    for satellite_id, omm in rows:
        designator = str(omm.get("OBJECT_ID") or "").strip()
        if designator:
            found[satellite_id] = designator
    return found


def item_page(session: Session, caller: Caller, now: datetime, query: ItemQuery) -> ItemPage:
    """Return one page of the items the caller may see that match ``query``."""
    ids = collection_ids(session)
    start, end = query.interval or (None, None)
    wanted = None if query.collections is None else set(query.collections)
    conditions = product_conditions(
        satellite_ids=None if wanted is None else [s for s, c in ids.items() if c in wanted],
        start=start,
        end=end,
        bbox=query.bbox,
        ids=query.ids,
    )
    matched = session.scalar(
        select(func.count()).select_from(Product).where(visible_to(caller, now), *conditions)
    )
    page = search(caller, now).where(*conditions)
    if query.after is not None:
        after_start, last_id = query.after
        page = page.where(
            or_(
                Product.acquired_start > after_start,
                and_(Product.acquired_start == after_start, Product.id > last_id),
            )
        )
    rows = list(session.scalars(page.limit(query.limit + 1)))
    known = designators(session, sorted({p.satellite_id for p in rows[: query.limit]}))
    return ItemPage(rows[: query.limit], matched or 0, len(rows) > query.limit, ids, known)


def visible_extents(session: Session, caller: Caller, now: datetime) -> dict[int, Extent]:
    """Return, by satellite row id, the extent of the products the caller may see.

    A box that crosses the antimeridian widens the extent to every longitude.
    """
    wrapped = Product.bbox_west > Product.bbox_east
    rows = session.execute(
        select(
            Product.satellite_id,
            func.min(Product.acquired_start),
            func.max(Product.acquired_end),
            func.min(Product.bbox_south),
            func.max(Product.bbox_north),
            func.min(case((~wrapped, Product.bbox_west))),
            func.max(case((~wrapped, Product.bbox_east))),
            func.max(case((wrapped, 1), else_=0)),
        )
        .where(visible_to(caller, now))
        .group_by(Product.satellite_id)
    )
    instruments: dict[int, set[str]] = {}
    for satellite_id, instrument in session.execute(
        select(Product.satellite_id, Product.instrument).where(visible_to(caller, now)).distinct()
    ):
        instruments.setdefault(satellite_id, set()).add(instrument)
    extents = {}
    for satellite_id, start, end, south, north, west, east, wraps in rows:
        bbox: tuple[float, float, float, float] | None = None
        if wraps:
            bbox = (-180.0, south, 180.0, north)
        elif west is not None:
            bbox = (west, south, east, north)
        extents[satellite_id] = Extent(
            start, end, bbox, tuple(sorted(instruments.get(satellite_id, ())))
        )
    return extents


def visible_collections(
    session: Session, caller: Caller, now: datetime
) -> list[tuple[str, Satellite, Extent]]:
    """Return each collection with products the caller may see: its id, satellite, extent.

    Ordered by collection id.
    """
    ids = collection_ids(session)
    extents = visible_extents(session, caller, now)
    satellites = {
        s.id: s for s in session.scalars(select(Satellite).where(Satellite.id.in_(list(extents))))
    }
    found = [(ids[s], satellites[s], extent) for s, extent in extents.items()]
    return sorted(found, key=lambda row: row[0])
