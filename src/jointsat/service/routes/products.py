"""Archive downlinked products and serve them under each partner's rights.

- ``POST /products`` ingests a product from a streamed multipart upload: a ``metadata``
  part first (docs/archive.md), then one or more ``file`` parts. Each file goes to
  disk as it arrives, never whole in memory; the answer comes only once every file
  is a durable blob and the record is committed. The admin and the operators of the
  satellite's operating partners may ingest.
- ``GET /products``, ``GET /products/{id}`` list and read what the caller may see;
  ``GET /products/{id}/files/{name}`` downloads a file, with HTTP Range requests,
  ``ETag`` (the SHA-256) and ``Repr-Digest``/``Digest`` checksum headers.
- A product the caller may not see is a 404, exactly as one that does not exist;
  every download and every refused access goes to the audit log (``GET /audit``,
  the admin's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from jointsat.archive.blobs import BlobStore
from jointsat.archive.ingest import Ingest, check_ingest
from jointsat.archive.metadata import ProductMetadata
from jointsat.archive.rights import Caller, Grant, ReleaseTimes, grant
from jointsat.errors import ArchiveRefusedError
from jointsat.orbits.elements import MAX_CATALOG_NUMBER
from jointsat.service.cache import cached_products
from jointsat.service.deps import AdminDep, CallerDep, NowDep, SessionDep, UserDep
from jointsat.service.downloads import download_response, quoted
from jointsat.service.multipart import receive_upload
from jointsat.service.problems import ProblemError, field_problem
from jointsat.service.schemas import MAX_ID, NO_NUL, AwareDatetime, PathName
from jointsat.service.stac_search import parse_bbox
from jointsat.store.products import (
    METADATA_COLUMNS,
    Actor,
    audit,
    audit_log,
    audit_refusal,
    caller_of,
    partner_codes,
    product_conditions,
    product_page,
    visible,
)
from jointsat.store.tables import Product, User

router = APIRouter(tags=["archive"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["metadata", "file"],
                    "properties": {
                        "metadata": {
                            "type": "string",
                            "description": "The product's metadata, a JSON object"
                            " (docs/archive.md); optional 'checksums': {file name: SHA-256}",
                        },
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        },
                    },
                },
                "encoding": {"metadata": {"contentType": "application/json"}},
            }
        },
    }
}


class ProductFileOut(BaseModel):
    """A product's file: its name, checksum, size, type and where to download it."""

    name: str
    sha256: str
    size_bytes: int
    media_type: str
    href: str


class ProductOut(BaseModel):
    """A product as the API shows it to a caller who may see it."""

    id: str
    satellite: int
    satellite_name: str
    instrument: str
    processing_level: str
    acquired_start: datetime
    acquired_end: datetime
    footprint: dict[str, Any] | None
    bbox: list[float] | None
    sky: dict[str, float] | None
    contact_id: int | None
    owners: list[str]
    properties: dict[str, Any]
    files: list[ProductFileOut]
    ingested_at: datetime
    members_from: datetime
    public_from: datetime | None
    visible_as: Grant = Field(
        description="The rule that lets this caller see the product: admin, owner,"
        " member (the embargo over) or public (released)"
    )
    derived_from: list[str] = Field(
        default_factory=list,
        description="The products an analysis made this one from (none: not derived)",
    )


class AuditEntryOut(BaseModel):
    """One entry of the audit log."""

    id: int
    at: datetime
    user_id: int | None
    user_name: str | None
    partner_id: int | None
    action: str
    product_id: str
    file_name: str | None
    outcome: str
    bytes_sent: int
    detail: str
    count: int  # the accesses it stands for: an anonymous client's refusals are counted
    client: str | None  # the anonymous caller's network address


def file_href(request: Request, product_id: str, name: str) -> str:
    """Return the absolute URL that downloads a product's file."""
    return str(request.url_for("download_product_file", product_id=product_id, name=quoted(name)))


# The fields shown as the store holds them.
_PRODUCT_COLUMNS = ("id", *METADATA_COLUMNS, "ingested_at", "members_from", "public_from")
_FILE_COLUMNS = ("name", "sha256", "size_bytes", "media_type")


def product_out(
    request: Request, product: Product, codes: dict[int, str], caller: Caller, now: datetime
) -> ProductOut:
    """Return the API's view of a product to ``caller``, who may see it at ``now``."""
    visible_as = _grant(product, caller, now)
    if visible_as is None:  # the store's filter is the same rule (tests/archive/test_rights.py)
        raise ProblemError(404, "Not found", f"no product {product.id!r}")
    box = (product.bbox_west, product.bbox_south, product.bbox_east, product.bbox_north)
    bbox = None if any(v is None for v in box) else [float(v) for v in box if v is not None]
    sky = (
        None
        if product.ra_deg is None or product.dec_deg is None
        else {"ra_deg": product.ra_deg, "dec_deg": product.dec_deg}
    )
    return ProductOut(
        **{column: getattr(product, column) for column in _PRODUCT_COLUMNS},
        satellite=product.satellite.norad_id,
        satellite_name=product.satellite.name,
        bbox=bbox,
        sky=sky,
        owners=[codes.get(p, str(p)) for p in product.owner_ids],
        visible_as=visible_as,
        derived_from=product.source_ids,
        files=[
            ProductFileOut(
                **{column: getattr(f, column) for column in _FILE_COLUMNS},
                href=file_href(request, product.id, f.name),
            )
            for f in product.files
        ],
    )


def _grant(product: Product, caller: Caller, now: datetime) -> Grant | None:
    """Return the rule under which ``caller`` sees ``product`` at ``now`` (None: hidden)."""
    times = ReleaseTimes(product.members_from, product.public_from)
    return grant(caller, product.owner_ids, times, now)


def _blobs(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.blobs
    return store


def _sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


# --- ingest -----------------------------------------------------------------------


@router.post(
    "/products",
    status_code=201,
    response_model=ProductOut,
    openapi_extra=UPLOAD_BODY,
    responses={200: {"description": "These files were archived already: the same product"}},
)
async def ingest_product(
    request: Request, session: SessionDep, user: UserDep, now: NowDep
) -> JSONResponse:
    """Archive a product from a streamed multipart upload (metadata first, then files)."""
    await run_in_threadpool(session.close)  # hold no connection while the bytes arrive
    sessions = _sessions(request)

    def check(metadata: ProductMetadata) -> Ingest:
        """Check the caller's right, then the metadata, before any byte is stored."""
        with sessions() as db:
            try:
                return check_ingest(db, metadata, user=user)
            except ArchiveRefusedError as exc:
                raise ProblemError(403, "Forbidden", str(exc)) from None

    max_files = request.app.state.limits.max_product_files
    ingest, stored = await receive_upload(request, _blobs(request), check, max_files=max_files)

    def commit() -> tuple[ProductOut, bool]:
        with sessions() as db:
            product, created = ingest.record(db, stored, now=now)
            return product_out(request, product, partner_codes(db), caller_of(user), now), created

    body, created = await run_in_threadpool(commit)
    if created:
        request.app.state.analysis_runner.nudge()  # the analyses its agreements ask for
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)


# --- reading ----------------------------------------------------------------------


@router.get("/products", response_model=list[ProductOut])
def list_products(
    request: Request,
    session: SessionDep,
    user: CallerDep,
    now: NowDep,
    satellite: Annotated[
        int | None, Query(ge=1, le=MAX_CATALOG_NUMBER, description="A catalog number")
    ] = None,
    start: Annotated[
        AwareDatetime | None, Query(description="Acquired at or after (ends after this)")
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(description="Acquired at or before (starts before this)")
    ] = None,
    bbox: Annotated[
        str | None,
        Query(description="west,south,east,north in degrees; west > east crosses 180"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """List the products the caller may see (no token: the public), oldest first.

    ``start`` and ``end`` keep the products whose acquisition overlaps them; ``bbox``
    those whose footprint's box meets it (sky products have none).
    """
    conditions = product_conditions(
        satellite=satellite, start=start, end=end, bbox=None if bbox is None else _box(bbox)
    )
    caller = caller_of(user)

    def make() -> bytes:
        rows = product_page(session, caller, now, conditions, limit=limit, offset=offset)
        codes = partner_codes(session)
        shown = [p for p in rows if _grant(p, caller, now) is not None]  # the same rule twice
        return _PRODUCTS.dump_json([product_out(request, p, codes, caller, now) for p in shown])

    key = ("products list", str(request.url))
    body = cached_products(request, session, caller, now, key, make)
    return Response(content=body, media_type="application/json")


_PRODUCTS = TypeAdapter(list[ProductOut])


def _box(text: str) -> tuple[float, float, float, float]:
    """Return a 'west,south,east,north' box in degrees, or answer 422 naming the problem.

    The STAC search's parser checks it; only its status differs here (422, as for the
    other query parameters of this API), and only four numbers are taken.
    """
    parts = text.split(",")
    if len(parts) != 4:
        raise field_problem(["query", "bbox"], "give four numbers: west,south,east,north")
    try:
        return parse_bbox(parts)
    except ProblemError as exc:
        raise field_problem(["query", "bbox"], exc.detail.removeprefix("bbox: ")) from None


def _visible_or_404(
    request: Request,
    session: Session,
    user: User | None,
    now: datetime,
    product_id: str,
    *,
    action: str,
) -> Product:
    """Return the product if the caller may see it; else log the refusal and answer 404."""
    product = visible(session, caller_of(user), now, product_id)
    if product is None:
        audit_refusal(
            session,
            at=now,
            user=user,
            action=action,
            product_id=product_id,
            client=request.client.host if request.client else None,
            tally=request.app.state.refusal_tally,
        )
        raise ProblemError(404, "Not found", f"no product {product_id!r}")
    return product


@router.get("/products/{product_id}", response_model=ProductOut)
def read_product(
    product_id: PathName, request: Request, session: SessionDep, user: CallerDep, now: NowDep
) -> ProductOut:
    """Return a product the caller may see (404 otherwise, as for one that does not exist)."""
    product = _visible_or_404(request, session, user, now, product_id, action="read")
    return product_out(request, product, partner_codes(session), caller_of(user), now)


# --- download ---------------------------------------------------------------------


@router.head(
    "/products/{product_id}/files/{name}", include_in_schema=False, response_class=Response
)
@router.get(
    "/products/{product_id}/files/{name}",
    name="download_product_file",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file"},
        206: {"description": "The requested range of the file"},
        304: {"description": "The caller's copy (If-None-Match) is current"},
        416: {"description": "The range lies beyond the file"},
    },
)
def download_product_file(
    product_id: PathName,
    name: PathName,
    request: Request,
    session: SessionDep,
    user: CallerDep,
    now: NowDep,
) -> Response:
    """Download a product's file, whole or a byte range, with its checksum in the headers."""
    product = _visible_or_404(request, session, user, now, product_id, action="download")
    entry = next((f for f in product.files if f.name == name), None)
    if entry is None:
        raise ProblemError(404, "Not found", f"product {product_id} has no file {name!r}")
    actor = Actor.of(user)
    sessions = _sessions(request)

    def done(outcome: str, sent: int, sent_range: str) -> None:
        with sessions() as db:
            audit(
                db,
                at=now,
                user=actor,
                action="download",
                product_id=product.id,
                file_name=name,
                outcome=outcome,
                bytes_sent=sent,
                detail=sent_range,
            )

    response = download_response(
        request,
        _blobs(request),
        name=name,
        sha256=entry.sha256,
        size_bytes=entry.size_bytes,
        media_type=entry.media_type,
        done=done,
    )
    session.close()
    return response


# --- audit ------------------------------------------------------------------------


@router.get("/audit", response_model=list[AuditEntryOut], tags=["audit"])
def read_audit_log(
    request: Request,
    session: SessionDep,
    _: AdminDep,
    product_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    outcome: Annotated[str | None, Query(max_length=20, pattern=NO_NUL)] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Entries at or after (ISO 8601, UTC if no offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[AuditEntryOut]:
    """Read the audit log, newest first: every download and every refused access (admin).

    The public's refused reads are counted: after a client's first of a minute, one
    row per product stands for the rest, with their ``count`` (docs/store.md).
    """
    if since is not None and since.tzinfo is None:
        raise ProblemError(422, "Invalid request", "since: give a time zone")
    rows = audit_log(
        session,
        product_id=product_id,
        outcome=outcome,
        since=since,
        limit=limit,
        offset=offset,
        tally=request.app.state.refusal_tally,
    )
    return [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
