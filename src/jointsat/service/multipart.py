"""Receive a product upload: a streamed multipart body, a metadata part then file parts.

The ``metadata`` part (docs/archive.md, with optional ``checksums``: {file name:
SHA-256}) comes first and is checked, with the caller's right, before any file part
is taken; each ``file`` part goes to disk as it arrives, a megabyte at a time, never
whole in memory. Its files are published as blobs only once the whole body has
arrived and every check passed: an upload cut short or refused leaves no blob.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from jointsat.archive.blobs import CHUNK_BYTES, BlobStore, BlobWriter, check_sha256
from jointsat.archive.ingest import Ingest
from jointsat.archive.metadata import ProductMetadata, metadata_from_dict
from jointsat.errors import ArchiveInputError
from jointsat.service.problems import ProblemError
from jointsat.store.products import DEFAULT_MEDIA_TYPE, StoredFile

MAX_METADATA_BYTES = 1 << 20
MAX_FILE_NAME = 255  # the store's columns: ProductFile.name, .media_type
MAX_MEDIA_TYPE = 100

# Checks the metadata and the caller's right in the store (run off the event loop).
Check = Callable[[ProductMetadata], Ingest]


async def receive_upload(
    request: Request, store: BlobStore, check: Check, *, max_files: int
) -> tuple[Ingest, list[StoredFile]]:
    """Receive a product upload; return its checked ingest and its files, durable blobs.

    Refuses (415, 400, 413 past ``max_files`` file parts, or the check's error) before
    publishing anything.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ProblemError(415, "Unsupported media type", "send multipart/form-data")
    upload = _Upload(store, max_files)
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
        if upload.ingest is None:
            raise ArchiveInputError("metadata: the metadata part is missing")
        if not upload.files:
            raise ArchiveInputError("file: send at least one file part")
        unknown = sorted(set(upload.checksums) - {f.name for f in upload.files})
        if unknown:
            raise ArchiveInputError(f"checksums: no file named {', '.join(unknown)} was sent")
        # Only a whole, checked upload publishes its files: one cut short leaves no blob.
        return upload.ingest, await run_in_threadpool(upload.publish)
    except BaseException:
        upload.abort()
        raise


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
    if len(text) > MAX_MEDIA_TYPE or not _MEDIA_TYPE.fullmatch(text):
        raise ArchiveInputError(
            f"file: {text[:80]!r} is not a media type (type/subtype, "
            f"at most {MAX_MEDIA_TYPE} characters)"
        )
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
    max_files: int
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    part: str = ""  # "metadata" or "file" while inside a part
    metadata_bytes: bytearray = field(default_factory=bytearray)
    metadata: ProductMetadata | None = None
    ingest: Ingest | None = None  # the metadata and the caller's right, checked in the store
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
            if len(self.files) >= self.max_files:
                raise ProblemError(
                    413,
                    "Too many files",
                    f"file: a product has at most {self.max_files} files",
                    limit_files=self.max_files,
                )
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

    async def settle(self, check: Check) -> None:
        """Check the metadata once, then write each file's bytes and seal the finished ones.

        Bytes are written a megabyte at a time while a part arrives; a file is
        sealed (fsynced, its checksum checked) when its part ends, and published
        only by ``publish`` once the whole upload has arrived.
        """
        if self.metadata is not None and self.ingest is None:
            self.ingest = await run_in_threadpool(check, self.metadata)
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
