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

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from jointsat.archive.blobs import CHUNK_BYTES, BlobStore, BlobWriter, check_sha256
from jointsat.archive.metadata import ProductMetadata, metadata_from_dict
from jointsat.errors import ArchiveInputError
from jointsat.orbits.elements import MAX_CATALOG_NUMBER
from jointsat.service.deps import AdminDep, CallerDep, NowDep, SessionDep, UserDep
from jointsat.service.problems import ProblemError, field_problem, problem_response
from jointsat.service.schemas import MAX_ID, AwareDatetime
from jointsat.store.products import (
    StoredFile,
    audit,
    bbox_filter,
    caller_of,
    record_product,
    resolve,
    search,
    visible,
)
from jointsat.store.tables import AuditEntry, Partner, Product, Role, Satellite, User

router = APIRouter(tags=["archive"])

MAX_METADATA_BYTES = 1 << 20
MAX_FILE_NAME = 255
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


def file_href(request: Request, product_id: str, name: str) -> str:
    """Return the absolute URL that downloads a product's file."""
    return str(request.url_for("download_product_file", product_id=product_id, name=name))


def product_out(request: Request, product: Product, codes: dict[int, str]) -> ProductOut:
    """Return the API's view of a product."""
    box = (product.bbox_west, product.bbox_south, product.bbox_east, product.bbox_north)
    bbox = None if any(v is None for v in box) else [float(v) for v in box if v is not None]
    sky = (
        None
        if product.ra_deg is None or product.dec_deg is None
        else {"ra_deg": product.ra_deg, "dec_deg": product.dec_deg}
    )
    return ProductOut(
        id=product.id,
        satellite=product.satellite.norad_id,
        satellite_name=product.satellite.name,
        instrument=product.instrument,
        processing_level=product.processing_level,
        acquired_start=product.acquired_start,
        acquired_end=product.acquired_end,
        footprint=product.footprint,
        bbox=bbox,
        sky=sky,
        contact_id=product.contact_id,
        owners=[codes.get(p, str(p)) for p in product.owner_ids],
        properties=product.properties,
        files=[
            ProductFileOut(
                name=f.name,
                sha256=f.sha256,
                size_bytes=f.size_bytes,
                media_type=f.media_type,
                href=file_href(request, product.id, f.name),
            )
            for f in product.files
        ],
        ingested_at=product.ingested_at,
        members_from=product.members_from,
        public_from=product.public_from,
    )


def partner_codes(session: Session) -> dict[int, str]:
    """Return every partner's code by id."""
    return {ident: code for ident, code in session.execute(select(Partner.id, Partner.code))}


def _blobs(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.blobs
    return store


def _sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


# --- ingest -----------------------------------------------------------------------


def _file_name(raw: str) -> str:
    name = PureWindowsPath(PurePosixPath(raw).name).name.strip()
    if not name or name in (".", "..") or len(name) > MAX_FILE_NAME or "\x00" in name:
        raise ArchiveInputError(f"file: {raw!r} is not a usable file name")
    return name


@dataclass
class _Upload:
    """The state of one streamed multipart upload (the parser's callbacks fill it)."""

    store: BlobStore
    may_ingest: Callable[[ProductMetadata], None]
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    part: str = ""  # "metadata" or "file" while inside a part
    metadata_bytes: bytearray = field(default_factory=bytearray)
    metadata: ProductMetadata | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    writer: tuple[str, str, BlobWriter] | None = None
    pending: bytearray = field(default_factory=bytearray)  # the file's bytes not yet written
    finished: list[tuple[str, str, BlobWriter, bytes]] = field(default_factory=list)
    sealed: list[tuple[str, str, BlobWriter]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    ended: bool = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self.header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.headers = {}
        self.part = ""

    def _header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == "metadata":
            if self.metadata is not None:
                raise ArchiveInputError("metadata: send one metadata part only")
            self.part = "metadata"
        elif name == "file":
            if self.metadata is None:
                raise ArchiveInputError("metadata: send the metadata part before the files")
            file_name = _file_name(options.get(b"filename", b"").decode("utf-8", "replace"))
            if file_name in self.names:
                raise ArchiveInputError(f"file: {file_name!r} is sent twice")
            self.names.add(file_name)
            media_type = self.headers.get(b"content-type", b"").decode("latin-1").strip()
            writer = self.store.writer(expected_sha256=self.checksums.get(file_name))
            self.writer = (file_name, media_type or "application/octet-stream", writer)
            self.part = "file"
        else:
            raise ArchiveInputError(f"unknown part {name!r}: send 'metadata', then 'file' parts")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part == "file":
            self.pending.extend(data[start:end])
        elif self.part == "metadata":
            self.metadata_bytes.extend(data[start:end])
            if len(self.metadata_bytes) > MAX_METADATA_BYTES:
                raise ArchiveInputError("metadata: larger than 1 MiB")

    def _part_end(self) -> None:
        if self.part == "metadata":
            self._read_metadata()
        elif self.part == "file" and self.writer is not None:
            self.finished.append((*self.writer, bytes(self.pending)))
            self.pending.clear()
            self.writer = None
        self.part = ""

    def _read_metadata(self) -> None:
        try:
            document = json.loads(self.metadata_bytes.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArchiveInputError(f"metadata: not JSON ({exc})") from None
        if isinstance(document, dict) and "checksums" in document:
            checksums = document.pop("checksums")
            if not isinstance(checksums, dict):
                raise ArchiveInputError("checksums: an object {file name: SHA-256} is required")
            self.checksums = {
                str(k): check_sha256(str(v), field=f"checksums.{k}") for k, v in checksums.items()
            }
        metadata = metadata_from_dict(document)
        self.may_ingest(metadata)
        self.metadata = metadata

    def _end(self) -> None:
        self.ended = True

    def abort(self) -> None:
        """Drop every file not yet committed."""
        writers = [w for _, _, w, _ in self.finished] + [w for _, _, w in self.sealed]
        for writer in [*writers, *([self.writer[2]] if self.writer else [])]:
            writer.abort()

    async def write_pending(self) -> None:
        """Write the current file's received bytes, off the event loop, a megabyte at a time."""
        if self.writer is not None and len(self.pending) >= CHUNK_BYTES:
            data = bytes(self.pending)
            self.pending.clear()
            await run_in_threadpool(self.writer[2].write, data)

    async def seal_finished(self) -> None:
        """Write the rest of each finished file and make it durable (not yet published)."""
        while self.finished:
            name, media_type, writer, tail = self.finished.pop(0)
            self.sealed.append((name, media_type, writer))
            await run_in_threadpool(_seal, writer, tail)


def _seal(writer: BlobWriter, tail: bytes) -> None:
    writer.write(tail)
    writer.seal()


def _ingest_rule(sessions: sessionmaker[Session], user: User) -> Callable[[ProductMetadata], None]:
    """Return the check, made before any byte is taken, that the metadata names what the
    store knows and that the user may ingest products of its satellite."""
    role, partner_id = user.role, user.partner_id

    def check(metadata: ProductMetadata) -> None:
        with sessions() as session:
            satellite, _ = resolve(session, metadata)
            operators = [o.partner_id for o in satellite.operators]
        if role is Role.ADMIN:
            return
        if role is not Role.OPERATOR or partner_id not in operators:
            raise ProblemError(
                403, "Forbidden", "only the admin or an operator of the satellite may ingest"
            )

    return check


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
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ProblemError(415, "Unsupported media type", "send multipart/form-data")
    sessions = _sessions(request)
    upload = _Upload(_blobs(request), _ingest_rule(sessions, user))
    parser = MultipartParser(boundary, upload.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            await upload.write_pending()
            await upload.seal_finished()
        parser.finalize()
        if not upload.ended:
            raise ProblemError(
                400, "Bad request", "the upload was cut short: its closing boundary never came"
            )
        # Only a whole upload publishes its files: one cut short leaves no blob.
        stored = await run_in_threadpool(
            lambda: [StoredFile(n, w.publish(), m) for n, m, w in upload.sealed]
        )
    except BaseException:
        upload.abort()
        raise
    if upload.metadata is None:
        raise ArchiveInputError("metadata: the metadata part is missing")
    if not stored:
        raise ArchiveInputError("file: send at least one file part")
    unknown = sorted(set(upload.checksums) - {f.name for f in stored})
    if unknown:
        raise ArchiveInputError(f"checksums: no file named {', '.join(unknown)} was sent")
    metadata = upload.metadata

    def commit() -> tuple[ProductOut, bool]:
        with sessions() as db:
            product, created = record_product(
                db, metadata, stored, now=now, user=db.get(User, user.id)
            )
            return product_out(request, product, partner_codes(db)), created

    body, created = await run_in_threadpool(commit)
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
) -> list[ProductOut]:
    """List the products the caller may see (no token: the public), oldest first.

    ``start`` and ``end`` keep the products whose acquisition overlaps them; ``bbox``
    those whose footprint's box meets it (sky products have none).
    """
    query = search(caller_of(user), now)
    if satellite is not None:
        query = query.join(Satellite).where(Satellite.norad_id == satellite)
    if start is not None:
        query = query.where(Product.acquired_end >= start)
    if end is not None:
        query = query.where(Product.acquired_start <= end)
    if bbox is not None:
        query = query.where(bbox_filter(*_box(bbox)))
    codes = partner_codes(session)
    rows = session.scalars(query.limit(limit).offset(offset))
    return [product_out(request, p, codes) for p in rows]


def _box(text: str) -> tuple[float, float, float, float]:
    """Return a 'west,south,east,north' box in degrees, or answer 422 naming the problem."""
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise field_problem(["query", "bbox"], "give four numbers: west,south,east,north") from None
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise field_problem(
            ["query", "bbox"],
            "longitudes within [-180, 180], latitudes south <= north in [-90, 90]",
        )
    return west, south, east, north


def _visible_or_404(
    session: Session, user: User | None, now: datetime, product_id: str, *, action: str
) -> Product:
    """Return the product if the caller may see it; else log the refusal and answer 404."""
    product = visible(session, caller_of(user), now, product_id)
    if product is None:
        exists = session.get(Product, product_id[:64]) is not None
        audit(
            session,
            at=now,
            user=user,
            action=action,
            product_id=product_id,
            outcome="refused",
            detail="not yet released to the caller" if exists else "no such product",
        )
        raise ProblemError(404, "Not found", f"no product {product_id!r}")
    return product


@router.get("/products/{product_id}", response_model=ProductOut)
def read_product(
    product_id: str, request: Request, session: SessionDep, user: CallerDep, now: NowDep
) -> ProductOut:
    """Return a product the caller may see (404 otherwise, as for one that does not exist)."""
    product = _visible_or_404(session, user, now, product_id, action="read")
    return product_out(request, product, partner_codes(session))


# --- download ---------------------------------------------------------------------

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the (first, last) bytes a Range header asks for, None for the whole file.

    A header that is not one ``bytes=`` range is ignored (the whole file is served,
    as RFC 9110 allows); one that no byte of the file satisfies raises 416.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    if not match[1]:  # the last N bytes
        length = int(match[2])
        if length == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - length, 0), size - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else size - 1
    if match[2] and last < first:
        return None
    if first >= size:
        raise _unsatisfiable(size)
    return first, min(last, size - 1)


class UnsatisfiableRangeError(Exception):
    """No byte of the file lies in the range asked for."""


def _unsatisfiable(size: int) -> UnsatisfiableRangeError:
    return UnsatisfiableRangeError(size)


class BlobResponse(Response):
    """Stream a stored blob (or a range of it), then report the bytes sent to ``done``."""

    def __init__(
        self,
        store: BlobStore,
        sha256: str,
        span: tuple[int, int],
        *,
        status_code: int,
        headers: dict[str, str],
        media_type: str,
        send_body: bool,
        done: Callable[[int, bool], None],
    ) -> None:
        super().__init__(status_code=status_code, headers=headers, media_type=media_type)
        self.store = store
        self.sha256 = sha256
        self.first, self.last = span
        self.send_body = send_body
        self.done = done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if not self.send_body:
            await send({"type": "http.response.body", "body": b""})
            return
        sent, complete = 0, False
        try:
            async with await anyio.open_file(self.store.path(self.sha256), "rb") as blob:
                await blob.seek(self.first)
                left = self.last - self.first + 1
                while left > 0:
                    chunk = await blob.read(min(CHUNK_BYTES, left))
                    if not chunk:
                        break
                    left -= len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
                    sent += len(chunk)
                complete = left == 0
            if self.last < self.first:  # an empty file
                await send({"type": "http.response.body", "body": b""})
                complete = True
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(self.done, sent, complete)


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
    product_id: str,
    name: str,
    request: Request,
    session: SessionDep,
    user: CallerDep,
    now: NowDep,
) -> Response:
    """Download a product's file, whole or a byte range, with its checksum in the headers."""
    product = _visible_or_404(session, user, now, product_id, action="download")
    entry = next((f for f in product.files if f.name == name), None)
    if entry is None:
        raise ProblemError(404, "Not found", f"product {product_id} has no file {name!r}")
    store = _blobs(request)
    digest = base64.b64encode(bytes.fromhex(entry.sha256)).decode()
    etag = f'"{entry.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Repr-Digest": f"sha-256=:{digest}:",
        "Digest": f"SHA-256={digest}",
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quoted(name)}",
        "Cache-Control": "private, no-cache",
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if_range = request.headers.get("if-range")
    wanted = None if if_range not in (None, etag) else request.headers.get("range")
    try:
        span = byte_range(wanted, entry.size_bytes)
    except UnsatisfiableRangeError:
        refused = problem_response(
            416, "Range not satisfiable", f"the file has {entry.size_bytes} bytes"
        )
        refused.headers["Content-Range"] = f"bytes */{entry.size_bytes}"
        return refused
    whole = span is None
    first, last = (0, entry.size_bytes - 1) if span is None else span
    headers["Content-Length"] = str(last - first + 1)
    if not whole:
        headers["Content-Range"] = f"bytes {first}-{last}/{entry.size_bytes}"
    sessions = _sessions(request)
    session.close()
    head = request.method == "HEAD"

    def done(sent: int, complete: bool) -> None:
        outcome = ("served" if whole else "partial") if complete else "interrupted"
        with sessions() as db:
            audit(
                db,
                at=now,
                user=None if user is None else db.get(User, user.id),
                action="download",
                product_id=product.id,
                file_name=name,
                outcome=outcome,
                bytes_sent=sent,
                detail="" if whole else f"bytes {first}-{last}/{entry.size_bytes}",
            )

    return BlobResponse(
        store,
        entry.sha256,
        (first, last),
        status_code=200 if whole else 206,
        headers=headers,
        media_type=entry.media_type,
        send_body=not head,
        done=done,
    )


def _quoted(name: str) -> str:
    return quote(name, safe="")


# --- audit ------------------------------------------------------------------------


@router.get("/audit", response_model=list[AuditEntryOut], tags=["audit"])
def read_audit_log(
    session: SessionDep,
    _: AdminDep,
    product_id: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(max_length=20)] = None,
    since: Annotated[datetime | None, Query(description="Entries at or after (with zone)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[AuditEntryOut]:
    """Read the audit log, newest first: every download and every refused access (admin)."""
    query = select(AuditEntry)
    if product_id is not None:
        query = query.where(AuditEntry.product_id == product_id)
    if outcome is not None:
        query = query.where(AuditEntry.outcome == outcome)
    if since is not None:
        if since.tzinfo is None:
            raise ProblemError(422, "Invalid request", "since: give a time zone")
        query = query.where(AuditEntry.at >= since)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
