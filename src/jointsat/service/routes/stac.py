"""Serve the archive's catalogue as a STAC API (core, collections, features, item search).

Mounted at ``/stac`` (docs/archive.md). Every answer holds only what the caller may
see (``jointsat.archive.rights``, filtered in SQL by ``store.products.visible_to``): no
token is the public. A collection is a satellite with at least one product the caller
may see, its extent bounding those products; a hidden product is a 404, like one that
does not exist, and reading its item is written to the audit log as refused.

Item lists are ordered by acquisition start, then id, and paged by a ``next`` link whose
``token`` is the last item's (start, id): a page never repeats or skips an item that
was there when the first page was read, whatever is ingested meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NoReturn

import pystac
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from jointsat.archive import catalog
from jointsat.archive.rights import Caller
from jointsat.service.deps import CallerDep, NowDep, SessionDep
from jointsat.service.problems import PROBLEM_JSON, ProblemDocument, ProblemError
from jointsat.store.products import audit, bbox_filter, caller_of, search, visible, visible_to
from jointsat.store.tables import ElementSetRecord, Product, Satellite, User

router = APIRouter(prefix="/stac", tags=["stac"])

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000  # a larger limit is served as this one (OGC API Features allows it)
MAX_LISTED = 1000  # at most this many ids or collections in one search
STAC_API = "https://api.stacspec.org/v1.0.0"
OGC_FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf"
CONFORMANCE = [
    f"{STAC_API}/core",
    f"{STAC_API}/collections",
    f"{STAC_API}/ogcapi-features",
    f"{STAC_API}/item-search",
    f"{OGC_FEATURES}/core",
    f"{OGC_FEATURES}/geojson",
]
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.1"
ITEMS_PARAMETERS = frozenset({"bbox", "datetime", "limit", "token"})
SEARCH_PARAMETERS = ITEMS_PARAMETERS | {"collections", "ids"}


class GeoJSONResponse(JSONResponse):
    """A JSON answer that is GeoJSON (items and item collections)."""

    media_type = catalog.GEOJSON


BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "A search parameter is invalid or not supported; the detail says which",
        "model": ProblemDocument,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
    }
}


def _bad(detail: str) -> ProblemError:
    return ProblemError(400, "Bad request", detail)


# --- parameters -------------------------------------------------------------------


@dataclass(frozen=True)
class ItemQuery:
    """A checked search: each filter None when not given."""

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[datetime | None, datetime | None] | None = None
    collections: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    limit: int = DEFAULT_LIMIT
    after: tuple[datetime, str] | None = None  # the previous page's last (start, id)


def parse_bbox(values: Sequence[Any]) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) from 4 numbers, or 6 with heights (dropped).

    West may exceed east: the box then crosses the antimeridian.
    """
    if len(values) not in (4, 6):
        raise _bad(f"bbox: 4 numbers (west,south,east,north) or 6 are required, got {len(values)}")
    numbers: list[float] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _bad(f"bbox: {value!r} is not a number")
        try:
            number = float(value)
        except ValueError:
            raise _bad(f"bbox: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise _bad(f"bbox: {value!r} is not a finite number")
        numbers.append(number)
    west, south, east, north = numbers if len(numbers) == 4 else [numbers[i] for i in (0, 1, 3, 4)]
    for name, lon in (("west", west), ("east", east)):
        if not -180.0 <= lon <= 180.0:
            raise _bad(f"bbox: {name} longitude {lon} is outside [-180, 180]")
    for name, lat in (("south", south), ("north", north)):
        if not -90.0 <= lat <= 90.0:
            raise _bad(f"bbox: {name} latitude {lat} is outside [-90, 90]")
    if south > north:
        raise _bad(f"bbox: south {south} is north of north {north}")
    return west, south, east, north


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"datetime: {text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise _bad(f"datetime: {text!r} has no time zone; add 'Z' for UTC")
    return moment


def parse_datetime(text: str) -> tuple[datetime | None, datetime | None]:
    """Return the (start, end) of an RFC 3339 instant or interval; None for an open end.

    ``t`` is the instant t; ``a/b`` the closed interval; ``../b`` or ``/b`` open at the
    start, ``a/..`` or ``a/`` open at the end. Items match when their acquisition
    meets the interval.
    """
    if "/" not in text:
        moment = _instant(text)
        return moment, moment
    first, _, second = text.partition("/")
    start = None if first.strip() in ("", "..") else _instant(first)
    end = None if second.strip() in ("", "..") else _instant(second)
    if start is None and end is None:
        raise _bad("datetime: an interval needs at least one end ('../2024-05-10T00:00:00Z')")
    if start is not None and end is not None and end < start:
        raise _bad(f"datetime: the interval {text!r} ends before it starts")
    return start, end


def parse_limit(value: Any) -> int:
    """Return the page size: 1 or more, at most MAX_LIMIT (a larger one is capped)."""
    if isinstance(value, bool):
        raise _bad(f"limit: {value!r} is not a whole number")
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise _bad(f"limit: {value!r} is not a whole number") from None
    if isinstance(value, float) and value != limit:
        raise _bad(f"limit: {value!r} is not a whole number")
    if limit < 1:
        raise _bad(f"limit: {limit} is below 1")
    return min(limit, MAX_LIMIT)


def encode_token(start: datetime, product_id: str) -> str:
    """Return the paging token that continues after the item (start, id)."""
    raw = f"{start.isoformat()}|{product_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_TOKEN = "token: not a paging token of this service (take it from a 'next' link)"


def decode_token(token: str) -> tuple[datetime, str]:
    """Return the (start, id) a paging token continues after."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        text, _, product_id = raw.partition("|")
        start = datetime.fromisoformat(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad(
            "token: not a paging token of this service (take it from a 'next' link)"
        ) from None
    if start.tzinfo is None or not product_id:
        raise _bad("token: not a paging token of this service (take it from a 'next' link)")
    return start, product_id


def _names(values: Sequence[Any], field: str) -> tuple[str, ...]:
    if len(values) > MAX_LISTED:
        raise _bad(f"{field}: at most {MAX_LISTED} are allowed, got {len(values)}")
    names = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise _bad(f"{field}: {value!r} is not an id")
        names.append(value.strip())
    return tuple(names)


def _split(text: str) -> list[str]:
    return [part for part in text.split(",") if part.strip()]


def query_from_parameters(parameters: Mapping[str, str], allowed: frozenset[str]) -> ItemQuery:
    """Return the search that GET query parameters ask for (400 for an unknown one)."""
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        raise _bad(
            f"unsupported parameter(s): {', '.join(unknown)}"
            f" (supported: {', '.join(sorted(allowed))})"
        )
    bbox = parameters.get("bbox")
    when = parameters.get("datetime")
    collections = parameters.get("collections")
    ids = parameters.get("ids")
    limit = parameters.get("limit")
    token = parameters.get("token")
    return ItemQuery(
        bbox=None if bbox is None else parse_bbox(bbox.split(",")),
        interval=None if when is None else parse_datetime(when),
        collections=None if collections is None else _names(_split(collections), "collections"),
        ids=None if ids is None else _names(_split(ids), "ids"),
        limit=DEFAULT_LIMIT if limit is None else parse_limit(limit),
        after=None if token is None else decode_token(token),
    )


class SearchBody(BaseModel):
    """An item search sent as JSON (POST /stac/search)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bbox: list[float] | None = Field(
        None, description="west, south, east, north (WGS 84 degrees); west > east crosses 180"
    )
    datetime_: str | None = Field(
        None,
        alias="datetime",
        description="An RFC 3339 instant, or an interval a/b, ../b, a/..",
    )
    collections: list[str] | None = Field(None, description="Collection ids")
    ids: list[str] | None = Field(None, description="Item ids")
    limit: int | None = Field(None, description=f"Items per page, 1 to {MAX_LIMIT} (default 10)")
    token: str | None = Field(None, description="The paging token of a 'next' link")


def query_from_body(document: Any) -> ItemQuery:
    """Return the search that a POST body asks for (400 naming a bad field)."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise _bad("the search must be a JSON object")
    if "intersects" in document:
        raise _bad("intersects: not supported; search by bbox")
    try:
        body = SearchBody.model_validate(document)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise _bad(where) from None
    return ItemQuery(
        bbox=None if body.bbox is None else parse_bbox(body.bbox),
        interval=None if body.datetime_ is None else parse_datetime(body.datetime_),
        collections=None if body.collections is None else _names(body.collections, "collections"),
        ids=None if body.ids is None else _names(body.ids, "ids"),
        limit=DEFAULT_LIMIT if body.limit is None else parse_limit(body.limit),
        after=None if body.token is None else decode_token(body.token),
    )


# --- the store --------------------------------------------------------------------


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


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


def _conditions(query: ItemQuery, ids: Mapping[int, str]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.bbox is not None:
        conditions.append(bbox_filter(*query.bbox))
    if query.interval is not None:
        start, end = query.interval
        if start is not None:
            conditions.append(Product.acquired_end >= start)
        if end is not None:
            conditions.append(Product.acquired_start <= end)
    if query.collections is not None:
        wanted = set(query.collections)
        conditions.append(Product.satellite_id.in_([s for s, c in ids.items() if c in wanted]))
    if query.ids is not None:
        conditions.append(Product.id.in_(query.ids))
    return conditions


def item_collection(
    request: Request,
    session: Session,
    caller: Caller,
    now: datetime,
    query: ItemQuery,
    next_link: Any,
) -> dict[str, Any]:
    """Return one page of the items the caller may see that match ``query``.

    ``next_link(token)`` builds the link to the following page.
    """
    ids = collection_ids(session)
    conditions = _conditions(query, ids)
    matched = session.scalar(
        select(func.count()).select_from(Product).where(visible_to(caller, now), *conditions)
    )
    page = search(caller, now).where(*conditions)
    if query.after is not None:
        start, last_id = query.after
        page = page.where(
            or_(
                Product.acquired_start > start,
                and_(Product.acquired_start == start, Product.id > last_id),
            )
        )
    rows = list(session.scalars(page.limit(query.limit + 1)))
    more, rows = len(rows) > query.limit, rows[: query.limit]
    base = _base(request)
    known = designators(session, sorted({p.satellite_id for p in rows}))
    features = [
        catalog.item_dict(
            p,
            collection_id=ids[p.satellite_id],
            base_url=base,
            international_designator=known.get(p.satellite_id),
        )
        for p in rows
    ]
    links = [
        {"rel": "self", "href": str(request.url), "type": catalog.GEOJSON},
        {"rel": "root", "href": catalog.stac_url(base), "type": catalog.JSON},
    ]
    if more:
        last = rows[-1]
        links.append(next_link(encode_token(last.acquired_start, last.id)))
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched or 0,
        "numberReturned": len(features),
        "links": links,
    }


@dataclass(frozen=True)
class Extent:
    """What a caller may see of a satellite's products: times, box, instruments."""

    start: datetime
    end: datetime
    bbox: tuple[float, float, float, float] | None
    instruments: tuple[str, ...]


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


def _collections(
    request: Request, session: Session, caller: Caller, now: datetime
) -> dict[str, dict[str, Any]]:
    ids = collection_ids(session)
    extents = visible_extents(session, caller, now)
    satellites = {
        s.id: s for s in session.scalars(select(Satellite).where(Satellite.id.in_(list(extents))))
    }
    found = {}
    for satellite_id, extent in extents.items():
        cid = ids[satellite_id]
        found[cid] = catalog.collection_dict(
            satellites[satellite_id],
            collection_id=cid,
            base_url=_base(request),
            start=extent.start,
            end=extent.end,
            bbox=extent.bbox,
            instruments=extent.instruments,
        )
    return dict(sorted(found.items()))


def _collection_or_404(
    request: Request, session: Session, caller: Caller, now: datetime, cid: str
) -> dict[str, Any]:
    found = _collections(request, session, caller, now).get(cid)
    if found is None:
        raise ProblemError(404, "Not found", f"no collection {cid!r}")
    return found


# --- routes -----------------------------------------------------------------------


@router.get("", summary="The STAC API landing page")
def landing_page(
    request: Request, session: SessionDep, user: CallerDep, now: NowDep
) -> dict[str, Any]:
    """Return the landing page: a STAC Catalog with the API's conformance and links."""
    base = _base(request)
    root = pystac.Catalog(
        id="jointsat",
        title="jointsat archive",
        description="The consortium's archive of downlinked products, as a STAC API.",
        extra_fields={"conformsTo": CONFORMANCE},
    )
    root.clear_links()
    here = catalog.stac_url(base)
    search_url = catalog.stac_url(base, "search")
    links = [
        pystac.Link("self", here, catalog.JSON),
        pystac.Link("root", here, catalog.JSON),
        pystac.Link("conformance", catalog.stac_url(base, "conformance"), catalog.JSON),
        pystac.Link("data", catalog.stac_url(base, "collections"), catalog.JSON),
        pystac.Link("search", search_url, catalog.GEOJSON, extra_fields={"method": "GET"}),
        pystac.Link("search", search_url, catalog.GEOJSON, extra_fields={"method": "POST"}),
        pystac.Link("service-desc", f"{base}/openapi.json", OPENAPI_JSON),
        pystac.Link("service-doc", f"{base}/docs", "text/html"),
    ]
    for cid, found in _collections(request, session, caller_of(user), now).items():
        links.append(
            pystac.Link(
                "child",
                catalog.stac_url(base, "collections", cid),
                catalog.JSON,
                title=found.get("title"),
            )
        )
    root.add_links(links)
    return root.to_dict(include_self_link=True, transform_hrefs=False)


@router.get("/conformance", summary="The conformance classes the API implements")
def conformance() -> dict[str, Any]:
    """Return the conformance classes (STAC API core, collections, features, item search)."""
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", summary="The collections (satellites) with products the caller sees")
def list_collections(
    request: Request, session: SessionDep, user: CallerDep, now: NowDep
) -> dict[str, Any]:
    """Return a collection per satellite with products the caller may see."""
    base = _base(request)
    return {
        "collections": list(_collections(request, session, caller_of(user), now).values()),
        "links": [
            {"rel": "self", "href": catalog.stac_url(base, "collections"), "type": catalog.JSON},
            {"rel": "root", "href": catalog.stac_url(base), "type": catalog.JSON},
        ],
    }


@router.get("/collections/{cid}", summary="One collection")
def read_collection(
    cid: str, request: Request, session: SessionDep, user: CallerDep, now: NowDep
) -> dict[str, Any]:
    """Return a collection (404 when the caller may see none of its products)."""
    return _collection_or_404(request, session, caller_of(user), now, cid)


@router.get(
    "/collections/{cid}/items",
    response_class=GeoJSONResponse,
    responses=BAD_REQUEST,
    summary="The items of one collection",
)
def collection_items(
    cid: str,
    request: Request,
    session: SessionDep,
    user: CallerDep,
    now: NowDep,
    bbox: Annotated[str | None, Query(description="west,south,east,north")] = None,
    datetime_: Annotated[
        str | None,
        Query(alias="datetime", description="An RFC 3339 instant, or an interval a/b, ../b, a/.."),
    ] = None,
    limit: Annotated[str | None, Query(description=f"1 to {MAX_LIMIT}, default 10")] = None,
    token: Annotated[str | None, Query(description="From a 'next' link")] = None,
) -> GeoJSONResponse:
    """Return a page of the collection's items the caller may see, oldest first."""
    caller = caller_of(user)
    query = query_from_parameters(request.query_params, ITEMS_PARAMETERS)
    _collection_or_404(request, session, caller, now, cid)
    query = ItemQuery(query.bbox, query.interval, (cid,), None, query.limit, query.after)

    def next_link(next_token: str) -> dict[str, Any]:
        href = str(request.url.include_query_params(token=next_token))
        return {"rel": "next", "href": href, "type": catalog.GEOJSON}

    page = item_collection(request, session, caller, now, query, next_link)
    page["links"].append(
        {
            "rel": "collection",
            "href": catalog.stac_url(_base(request), "collections", cid),
            "type": catalog.JSON,
        }
    )
    return GeoJSONResponse(page)


@router.get(
    "/collections/{cid}/items/{iid}",
    response_class=GeoJSONResponse,
    summary="One item",
)
def read_item(
    cid: str, iid: str, request: Request, session: SessionDep, user: CallerDep, now: NowDep
) -> GeoJSONResponse:
    """Return an item the caller may see; 404 otherwise, the refusal written to the audit log."""
    product = visible(session, caller_of(user), now, iid)
    if product is None:
        _refuse(session, user, now, iid)
    ids = collection_ids(session)
    if ids[product.satellite_id] != cid:
        raise ProblemError(404, "Not found", f"no item {iid!r} in collection {cid!r}")
    known = designators(session, [product.satellite_id])
    return GeoJSONResponse(
        catalog.item_dict(
            product,
            collection_id=cid,
            base_url=_base(request),
            international_designator=known.get(product.satellite_id),
        )
    )


def _refuse(session: Session, user: User | None, now: datetime, iid: str) -> NoReturn:
    exists = session.get(Product, iid[:64]) is not None
    audit(
        session,
        at=now,
        user=user,
        action="read",
        product_id=iid,
        outcome="refused",
        detail="not yet released to the caller" if exists else "no such product",
    )
    raise ProblemError(404, "Not found", f"no item {iid!r}")


@router.get(
    "/search",
    response_class=GeoJSONResponse,
    responses=BAD_REQUEST,
    summary="Search items by bbox, datetime, collections and ids",
)
def search_get(
    request: Request,
    session: SessionDep,
    user: CallerDep,
    now: NowDep,
    bbox: Annotated[str | None, Query(description="west,south,east,north")] = None,
    datetime_: Annotated[
        str | None,
        Query(alias="datetime", description="An RFC 3339 instant, or an interval a/b, ../b, a/.."),
    ] = None,
    collections: Annotated[str | None, Query(description="Collection ids, comma-separated")] = None,
    ids: Annotated[str | None, Query(description="Item ids, comma-separated")] = None,
    limit: Annotated[str | None, Query(description=f"1 to {MAX_LIMIT}, default 10")] = None,
    token: Annotated[str | None, Query(description="From a 'next' link")] = None,
) -> GeoJSONResponse:
    """Return a page of the items the caller may see that match, oldest first."""
    query = query_from_parameters(request.query_params, SEARCH_PARAMETERS)

    def next_link(next_token: str) -> dict[str, Any]:
        href = str(request.url.include_query_params(token=next_token))
        return {"rel": "next", "href": href, "type": catalog.GEOJSON, "method": "GET"}

    return GeoJSONResponse(
        item_collection(request, session, caller_of(user), now, query, next_link)
    )


@router.post(
    "/search",
    response_class=GeoJSONResponse,
    responses=BAD_REQUEST,
    summary="Search items, the search sent as JSON",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": SearchBody.model_json_schema()}},
        }
    },
)
def search_post(
    request: Request,
    session: SessionDep,
    user: CallerDep,
    now: NowDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> GeoJSONResponse:
    """Return a page of the items the caller may see that match the JSON search."""
    query = query_from_body(body)

    def next_link(next_token: str) -> dict[str, Any]:
        return {
            "rel": "next",
            "href": catalog.stac_url(_base(request), "search"),
            "type": catalog.GEOJSON,
            "method": "POST",
            "body": {**(body or {}), "token": next_token},
            "merge": False,
        }

    return GeoJSONResponse(
        item_collection(request, session, caller_of(user), now, query, next_link)
    )
