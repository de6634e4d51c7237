"""Answer a download of a stored blob: whole or a byte range, with its checksum and tag.

The answer carries the SHA-256 as its ``ETag`` and as ``Repr-Digest``/``Digest``
checksums; ``If-None-Match`` naming the tag gives 304, ``Range`` (``bytes=``, one
range; honoured under ``If-Range`` only when it names the tag) gives 206, or 416 when
no byte of the file lies in it. The body is streamed off the event loop, and how it
ended (served, partial or interrupted, and the bytes sent) is reported once sent.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from urllib.parse import quote

import anyio
from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from jointsat.archive.blobs import CHUNK_BYTES, BlobStore
from jointsat.service.problems import problem_response

# Called once the body is sent: the outcome ("served", "partial" or "interrupted"),
# the bytes sent, and the range sent ("bytes 0-99/1000"; empty for the whole file).
Done = Callable[[str, int, str], None]


def quoted(name: str) -> str:
    """Return a file name quoted for a URL path or an RFC 8187 header value."""
    return quote(name, safe="")


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_FAR = 10**18  # past any file: a position of more digits means "beyond the end"


def _position(digits: str) -> int:
    """Return a byte position, bounded (int() refuses thousands of digits)."""
    return _FAR if len(digits) > len(str(_FAR)) else min(int(digits), _FAR)


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
        length = _position(match[2])
        if length == 0 or size == 0:
            raise UnsatisfiableRangeError(size)
        return max(size - length, 0), size - 1
    first = _position(match[1])
    last = _position(match[2]) if match[2] else size - 1
    if match[2] and last < first:
        return None
    if first >= size:
        raise UnsatisfiableRangeError(size)
    return first, min(last, size - 1)


class UnsatisfiableRangeError(Exception):
    """No byte of the file lies in the range asked for."""


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
            async with await anyio.open_file(self.store.locate(self.sha256), "rb") as blob:
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


def download_response(
    request: Request,
    store: BlobStore,
    *,
    name: str,
    sha256: str,
    size_bytes: int,
    media_type: str,
    done: Done,
) -> Response:
    """Return the answer to a GET or HEAD of a stored file (200, 206, 304 or 416)."""
    digest = base64.b64encode(bytes.fromhex(sha256)).decode()
    etag = f'"{sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Repr-Digest": f"sha-256=:{digest}:",
        "Digest": f"SHA-256={digest}",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quoted(name)}",
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match"), sha256):
        return Response(status_code=304, headers=headers)
    if_range = request.headers.get("if-range")
    wanted = None if if_range not in (None, etag) else request.headers.get("range")
    try:
        span = byte_range(wanted, size_bytes)
    except UnsatisfiableRangeError:
        refused = problem_response(416, "Range not satisfiable", f"the file has {size_bytes} bytes")
        refused.headers["Content-Range"] = f"bytes */{size_bytes}"
        return refused
    whole = span is None
    first, last = (0, size_bytes - 1) if span is None else span
    headers["Content-Length"] = str(last - first + 1)
    sent_range = "" if whole else f"bytes {first}-{last}/{size_bytes}"
    if not whole:
        headers["Content-Range"] = sent_range

    def report(sent: int, complete: bool) -> None:
        outcome = ("served" if whole else "partial") if complete else "interrupted"
        done(outcome, sent, sent_range)

    return BlobResponse(
        store,
        sha256,
        (first, last),
        status_code=200 if whole else 206,
        headers=headers,
        media_type=media_type,
        send_body=request.method != "HEAD",
        done=report,
    )


def _matches(if_none_match: str | None, sha256: str) -> bool:
    """Return whether an If-None-Match header names the file (``*``, or its tag, weak or not)."""
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or f'"{sha256}"' in tags
