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
from python_multipart.exceptions import MultipartParseError
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
from jointsat.service.routes.stac import parse_bbox
from jointsat.service.schemas import MAX_ID, AwareDatetime
from jointsat.store.products import (
    DEFAULT_MEDIA_TYPE,
    StoredFile,
    audit,
    bbox_filter,
    caller_of,
    record_product,
    resolve,
    search,
    visible,
)
from jointsat.store.tables import (
    AuditEntry,
    Partner,
    Product,
    Role,
    Satellite,
    SatelliteOperator,
    User,
)

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
    return str(request.url_for("download_product_file", product_id=product_id, name=_quoted(name)))


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


_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}"
)


def _media_type(raw: bytes) -> str:
    """Return a part's media type (type/subtype, lower case), or refuse a malformed one."""
    text = raw.decode("latin-1").split(";")[0].strip().lower()
    if not text:
        return DEFAULT_MEDIA_TYPE
    if not _MEDIA_TYPE.fullmatch(text):
        raise ArchiveInputError(f"file: {text[:80]!r} is not a media type (type/subtype)")
    return text


@dataclass
class _File:
    """A file part of an upload: received bytes not yet written, then a sealed blob."""

    name: str
    media_type: str
    expected_sha256: str | None
    writer: BlobWriter | None = None
    pending: bytearray = field(default_factory=bytearray)
    received: bool = False  # its part has ended
    sealed: bool = False


@dataclass
class _Upload:
    """The state of one streamed multipart upload.

    The parser's callbacks only collect (headers, metadata, file bytes); everything
    that touches the disk or the store runs in ``settle``, off the event loop, after
    each piece of the body.
    """

    store: BlobStore
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    part: str = ""  # "metadata" or "file" while inside a part
    metadata_bytes: bytearray = field(default_factory=bytearray)
    metadata: ProductMetadata | None = None
    checked: bool = False  # the metadata and the caller's right were checked in the store
    checksums: dict[str, str] = field(default_factory=dict)
    files: list[_File] = field(default_factory=list)
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
            if any(f.name == file_name for f in self.files):
                raise ArchiveInputError(f"file: {file_name!r} is sent twice")
            media_type = _media_type(self.headers.get(b"content-type", b""))
            self.files.append(_File(file_name, media_type, self.checksums.get(file_name)))
            self.part = "file"
        else:
            raise ArchiveInputError(f"unknown part {name!r}: send 'metadata', then 'file' parts")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part == "file":
            self.files[-1].pending.extend(data[start:end])
        elif self.part == "metadata":
            self.metadata_bytes.extend(data[start:end])
            if len(self.metadata_bytes) > MAX_METADATA_BYTES:
                raise ArchiveInputError("metadata: larger than 1 MiB")

    def _part_end(self) -> None:
        if self.part == "metadata":
            self._read_metadata()
        elif self.part == "file":
            self.files[-1].received = True
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
        self.metadata = metadata_from_dict(document)

    def _end(self) -> None:
        self.ended = True

    async def settle(self, check: Callable[[ProductMetadata], None]) -> None:
        """Check the metadata once, then write each file's bytes and seal the finished ones.

        Bytes are written a megabyte at a time while a part arrives; a file is
        sealed (fsynced, its checksum checked) when its part ends, and published
        only by ``publish`` once the whole upload has arrived.
        """
        if self.metadata is not None and not self.checked:
            await run_in_threadpool(check, self.metadata)
            self.checked = True
        for file in self.files:
            if file.sealed or not (file.received or len(file.pending) >= CHUNK_BYTES):
                continue
            data = bytes(file.pending)
            file.pending.clear()
            await run_in_threadpool(self._write, file, data)

    def _write(self, file: _File, data: bytes) -> None:
        if file.writer is None:
            file.writer = self.store.writer(expected_sha256=file.expected_sha256)
        file.writer.write(data)
        if file.received:
            file.writer.seal()
            file.sealed = True

    def publish(self) -> list[StoredFile]:
        """Publish every sealed file under its SHA-256 (the whole upload has arrived)."""
        return [
            StoredFile(f.name, f.writer.publish(), f.media_type)
            for f in self.files
            if f.writer is not None
        ]

    def abort(self) -> None:
        """Drop every file not yet published."""
        for file in self.files:
            if file.writer is not None:
                file.writer.abort()


def _ingest_rule(sessions: sessionmaker[Session], user: User) -> Callable[[ProductMetadata], None]:
    """Return the check, made before any byte is stored, that the user may ingest products
    of the metadata's satellite and that the metadata names what the store knows.

    The right comes first, so that a caller learns nothing of satellites or contacts
    it may not ingest for: for anyone but the admin and the satellite's operators, a
    satellite that does not exist and one that is not theirs are the same 403.
    """
    role, partner_id = user.role, user.partner_id
    refused = ProblemError(
        403, "Forbidden", "only the admin or an operator of the satellite may ingest"
    )

    def check(metadata: ProductMetadata) -> None:
        if role is not Role.ADMIN and role is not Role.OPERATOR:
            raise refused
        with sessions() as session:
            if role is Role.OPERATOR:
                operates = session.scalar(
                    select(SatelliteOperator.partner_id)
                    .join(Satellite)
                    .where(
                        Satellite.norad_id == metadata.satellite,
                        SatelliteOperator.partner_id == partner_id,
                    )
                )
                if operates is None:
                    raise refused
            resolve(session, metadata)

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
    check = _ingest_rule(sessions, user)
    upload = _Upload(_blobs(request))
    parser = MultipartParser(boundary, upload.callbacks())  # type: ignore[arg-type]
    try:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                await upload.settle(check)
            parser.finalize()
        except MultipartParseError as exc:
            raise ProblemError(
                400, "Bad request", f"the multipart body is malformed: {exc}"
            ) from None
        if not upload.ended:
            raise ProblemError(
                400, "Bad request", "the upload was cut short: its closing boundary never came"
            )
        await upload.settle(check)
        if upload.metadata is None:
            raise ArchiveInputError("metadata: the metadata part is missing")
        if not upload.files:
            raise ArchiveInputError("file: send at least one file part")
        unknown = sorted(set(upload.checksums) - {f.name for f in upload.files})
        if unknown:
            raise ArchiveInputError(f"checksums: no file named {', '.join(unknown)} was sent")
        # Only a whole, checked upload publishes its files: one cut short leaves no blob.
        stored = await run_in_threadpool(upload.publish)
    except BaseException:
        upload.abort()
        raise
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
        start = {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }
        if not self.send_body:
            await send(start)
            await send({"type": "http.response.body", "body": b""})
            return
        sent, complete = 0, False
        try:
            await send(start)
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
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match"), entry.sha256):
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


def _matches(if_none_match: str | None, sha256: str) -> bool:
    """Return whether an If-None-Match header names the file (``*``, or its tag, weak or not)."""
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or f'"{sha256}"' in tags


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
