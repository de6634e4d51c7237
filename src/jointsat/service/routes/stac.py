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

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

import pystac
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from jointsat.archive import catalog
from jointsat.archive.rights import Caller
from jointsat.service.cache import cached_products
from jointsat.service.deps import CallerDep, NowDep, SessionDep
from jointsat.service.problems import PROBLEM_JSON, ProblemDocument, ProblemError
from jointsat.service.schemas import PathName
from jointsat.service.stac_search import (
    ITEMS_PARAMETERS,
    SEARCH_PARAMETERS,
    BboxParameter,
    DatetimeParameter,
    LimitParameter,
    SearchBody,
    TokenParameter,
    encode_token,
    query_from_body,
    query_from_parameters,
)
from jointsat.store.catalog import (
    ItemQuery,
    collection_ids,
    designators,
    item_page,
    visible_collections,
)
from jointsat.store.products import audit_refusal, caller_of, visible

router = APIRouter(prefix="/stac", tags=["stac"])

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


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class Reading:
    """Who reads the catalogue, when, and through which request: what every STAC answer needs."""

    def __init__(self, request: Request, session: SessionDep, user: CallerDep, now: NowDep) -> None:
        self.request = request
        self.session = session
        self.user = user
        self.caller: Caller = caller_of(user)
        self.now = now
        self.base = _base(request)

    def item_collection(
        self, query: ItemQuery, next_link: Callable[[str], dict[str, Any]]
    ) -> dict[str, Any]:
        """Return one page of the items the caller may see that match ``query``.

        ``next_link(token)`` builds the link to the following page.
        """
        page = item_page(self.session, self.caller, self.now, query)
        features = [
            catalog.item_dict(
                p,
                collection_id=page.collection_ids[p.satellite_id],
                base_url=self.base,
                international_designator=page.designators.get(p.satellite_id),
            )
            for p in page.products
        ]
        links = [
            {"rel": "self", "href": str(self.request.url), "type": catalog.GEOJSON},
            {"rel": "root", "href": catalog.stac_url(self.base), "type": catalog.JSON},
        ]
        if page.more:
            last = page.products[-1]
            links.append(next_link(encode_token(last.acquired_start, last.id)))
        return {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": page.matched,
            "numberReturned": len(features),
            "links": links,
        }

    def cached_search(self, body: str | None, make: Callable[[], dict[str, Any]]) -> Response:
        """Answer a search with ``make()``, kept for this URL and body (see cached_products)."""
        key = ("stac search", str(self.request.url), body)
        content = cached_products(
            self.request,
            self.session,
            self.caller,
            self.now,
            key,
            lambda: bytes(GeoJSONResponse(make()).body),
        )
        return Response(content=content, media_type=catalog.GEOJSON)

    def collections(self) -> dict[str, dict[str, Any]]:
        """Return a collection per satellite with products the caller may see, by id."""
        return {
            cid: catalog.collection_dict(
                satellite,
                collection_id=cid,
                base_url=self.base,
                start=extent.start,
                end=extent.end,
                bbox=extent.bbox,
                instruments=extent.instruments,
            )
            for cid, satellite, extent in visible_collections(self.session, self.caller, self.now)
        }

    def collection_or_404(self, cid: str) -> dict[str, Any]:
        """Return the collection ``cid``, or answer 404 when the caller sees none of it."""
        found = self.collections().get(cid)
        if found is None:
            raise ProblemError(404, "Not found", f"no collection {cid!r}")
        return found


ReadingDep = Annotated[Reading, Depends()]


# --- routes -----------------------------------------------------------------------


@router.get("", summary="The STAC API landing page")
def landing_page(reading: ReadingDep) -> dict[str, Any]:
    """Return the landing page: a STAC Catalog with the API's conformance and links."""
    base = reading.base
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
    for cid, found in reading.collections().items():
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
def conformance(_: CallerDep) -> dict[str, Any]:
    """Return the conformance classes (STAC API core, collections, features, item search).

    Open to the public like the rest of the catalogue; a bad or revoked token is a 401
    here too.
    """
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", summary="The collections (satellites) with products the caller sees")
def list_collections(reading: ReadingDep) -> dict[str, Any]:
    """Return a collection per satellite with products the caller may see."""
    base = reading.base
    return {
        "collections": list(reading.collections().values()),
        "links": [
            {"rel": "self", "href": catalog.stac_url(base, "collections"), "type": catalog.JSON},
            {"rel": "root", "href": catalog.stac_url(base), "type": catalog.JSON},
        ],
    }


@router.get("/collections/{cid}", summary="One collection")
def read_collection(cid: PathName, reading: ReadingDep) -> dict[str, Any]:
    """Return a collection (404 when the caller may see none of its products)."""
    return reading.collection_or_404(cid)


@router.get(
    "/collections/{cid}/items",
    response_class=GeoJSONResponse,
    responses=BAD_REQUEST,
    summary="The items of one collection",
)
def collection_items(
    cid: PathName,
    reading: ReadingDep,
    bbox: BboxParameter = None,
    datetime_: DatetimeParameter = None,
    limit: LimitParameter = None,
    token: TokenParameter = None,
) -> GeoJSONResponse:
    """Return a page of the collection's items the caller may see, oldest first."""
    query = query_from_parameters(reading.request.query_params, ITEMS_PARAMETERS)
    reading.collection_or_404(cid)
    query = replace(query, collections=(cid,))

    def next_link(next_token: str) -> dict[str, Any]:
        href = str(reading.request.url.include_query_params(token=next_token))
        return {"rel": "next", "href": href, "type": catalog.GEOJSON}

    page = reading.item_collection(query, next_link)
    page["links"].append(
        {
            "rel": "collection",
            "href": catalog.stac_url(reading.base, "collections", cid),
            "type": catalog.JSON,
        }
    )
    return GeoJSONResponse(page)


@router.get(
    "/collections/{cid}/items/{iid}",
    response_class=GeoJSONResponse,
    summary="One item",
)
def read_item(cid: PathName, iid: PathName, reading: ReadingDep) -> GeoJSONResponse:
    """Return an item the caller may see; 404 otherwise, the refusal written to the audit log."""
    session = reading.session
    product = visible(session, reading.caller, reading.now, iid)
    if product is None:
        request = reading.request
        audit_refusal(
            session,
            at=reading.now,
            user=reading.user,
            action="read",
            product_id=iid,
            client=request.client.host if request.client else None,
            tally=request.app.state.refusal_tally,
        )
        raise ProblemError(404, "Not found", f"no item {iid!r}")
    ids = collection_ids(session)
    if ids[product.satellite_id] != cid:
        raise ProblemError(404, "Not found", f"no item {iid!r} in collection {cid!r}")
    known = designators(session, [product.satellite_id])
    return GeoJSONResponse(
        catalog.item_dict(
            product,
            collection_id=cid,
            base_url=reading.base,
            international_designator=known.get(product.satellite_id),
        )
    )


@router.get(
    "/search",
    response_class=GeoJSONResponse,
    responses=BAD_REQUEST,
    summary="Search items by bbox, datetime, collections and ids",
)
def search_get(
    reading: ReadingDep,
    bbox: BboxParameter = None,
    datetime_: DatetimeParameter = None,
    collections: Annotated[str | None, Query(description="Collection ids, comma-separated")] = None,
    ids: Annotated[str | None, Query(description="Item ids, comma-separated")] = None,
    limit: LimitParameter = None,
    token: TokenParameter = None,
) -> Response:
    """Return a page of the items the caller may see that match, oldest first."""
    query = query_from_parameters(reading.request.query_params, SEARCH_PARAMETERS)

    def next_link(next_token: str) -> dict[str, Any]:
        href = str(reading.request.url.include_query_params(token=next_token))
        return {"rel": "next", "href": href, "type": catalog.GEOJSON, "method": "GET"}

    return reading.cached_search(None, lambda: reading.item_collection(query, next_link))


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
    reading: ReadingDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Response:
    """Return a page of the items the caller may see that match the JSON search."""
    query = query_from_body(body)

    def next_link(next_token: str) -> dict[str, Any]:
        return {
            "rel": "next",
            "href": catalog.stac_url(reading.base, "search"),
            "type": catalog.GEOJSON,
            "method": "POST",
            "body": {**(body or {}), "token": next_token},
            "merge": False,
        }

    return reading.cached_search(
        json.dumps(body), lambda: reading.item_collection(query, next_link)
    )
