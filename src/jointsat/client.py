"""Talk to a jointsat server over HTTP: the client side of its REST API."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from jointsat.archive.blobs import check_sha256
from jointsat.archive.restore import FileSource
from jointsat.errors import ArchiveInputError, JointsatError

HTTP_TIMEOUT_S = 60.0
"""Seconds the client waits for the server before giving up."""
PRODUCT_DOCUMENT_MAX_BYTES = 16 << 20
"""The most bytes a product's JSON description from a server may have."""


def http_get(url: str, token: str | None) -> BinaryIO:
    """Send GET ``url`` (with the bearer token) and return the response, or a clear error.

    The token is not passed on if the server redirects elsewhere.
    """
    return _open(urllib.request.Request(url, method="GET"), token)


def _open(request: urllib.request.Request, token: str | None) -> BinaryIO:
    """Send the request (with the bearer token) and return the response, or a one-line error.

    An answer of 412 (the resource changed since it was read) says so; others name the
    status and the problem document's ``detail``.
    """
    what = f"{request.get_method()} {request.full_url}"
    if token is not None:
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        response: BinaryIO = urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 412:
            raise JointsatError(f"{what}: changed since read; try again") from None
        detail = ""
        try:
            body = json.loads(exc.read(PRODUCT_DOCUMENT_MAX_BYTES) or b"null")
            if isinstance(body, dict) and isinstance(body.get("detail"), str):
                detail = f": {body['detail'].replace('Value error, ', '')}"
        except (ValueError, OSError):
            pass
        raise JointsatError(f"{what}: HTTP {exc.code} {exc.reason}{detail}") from None
    except urllib.error.URLError as exc:
        raise JointsatError(f"{what}: cannot reach the server ({exc.reason})") from None
    except (OSError, ValueError) as exc:
        raise JointsatError(f"{what}: {exc}") from None
    return response


@dataclass(frozen=True)
class Answer:
    """A server's answer to an API call: its status, JSON body (None: none) and ETag."""

    status: int
    body: Any
    etag: str | None


class ApiClient:
    """Call the REST API of the jointsat server at ``base`` with a bearer token.

    Paths are relative to ``/api/v1``. Every failure is a ``JointsatError`` of one line.
    """

    def __init__(self, base: str, token: str | None) -> None:
        self.base = base.rstrip("/")
        self.token = token

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        """Return the full URL of an API path (with its query)."""
        shown = {k: v for k, v in (query or {}).items() if v is not None}
        return f"{self.base}/api/v1{path}" + (f"?{urlencode(shown)}" if shown else "")

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        text: str | None = None,
        file_name: str | None = None,
        if_match: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> Answer:
        """Send a request and return the answer.

        The request carries a JSON ``body``, or a ``text`` (sent as the form field
        ``file`` named ``file_name`` when that is given).
        """
        url = self.url(path, query)
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif text is not None and file_name is not None:
            boundary = f"jointsat-{secrets.token_hex(16)}"
            name = file_name.replace('"', "%22").replace("\r", " ").replace("\n", " ")
            data = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{name}"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
                f"{text}\r\n--{boundary}--\r\n"
            ).encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif text is not None:
            data = text.encode()
            headers["Content-Type"] = "text/plain; charset=utf-8"
        if if_match is not None:
            headers["If-Match"] = if_match
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        with _open(request, self.token) as response:
            try:
                raw = response.read(PRODUCT_DOCUMENT_MAX_BYTES + 1)
            except (OSError, HTTPException) as exc:
                raise JointsatError(f"{method} {url}: the answer was cut short ({exc})") from None
            status = int(getattr(response, "status", 200))
            etag = response.headers.get("ETag") if hasattr(response, "headers") else None
        if len(raw) > PRODUCT_DOCUMENT_MAX_BYTES:
            raise JointsatError(f"{method} {url}: the answer is too long")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            raise JointsatError(f"{method} {url}: the answer is not JSON") from None
        return Answer(status, parsed, etag)

    def get(self, path: str, **query: Any) -> Answer:
        """GET an API path."""
        return self.call("GET", path, query=query)


def product_files(url: str, token: str | None, product_id: str) -> list[FileSource]:
    """Return the files of a product the server at ``url`` describes, to download from it."""
    product_url = f"{url.rstrip('/')}/api/v1/products/{quote(product_id, safe='')}"
    try:
        with http_get(product_url, token) as response:
            body = response.read(PRODUCT_DOCUMENT_MAX_BYTES + 1)
    except (OSError, HTTPException) as exc:
        raise JointsatError(f"GET {product_url}: the answer was cut short ({exc})") from None
    try:
        if len(body) > PRODUCT_DOCUMENT_MAX_BYTES:
            raise ValueError("the answer is too long")
        document = json.loads(body)
        files = document["files"]
        if not isinstance(files, list) or not files:
            raise ValueError("no files")
        described = []
        for item in files:
            name, size = item["name"], item["size_bytes"]
            if not isinstance(name, str) or isinstance(size, bool) or not isinstance(size, int):
                raise ValueError("a file's name or size_bytes is of the wrong type")
            described.append((name, check_sha256(str(item["sha256"])), size))
    except (ValueError, KeyError, TypeError, ArchiveInputError) as exc:
        raise JointsatError(f"GET {product_url}: not a product description ({exc})") from None

    def opener(name: str) -> Callable[[], AbstractContextManager[BinaryIO]]:
        return lambda: http_get(f"{product_url}/files/{quote(name, safe='')}", token)

    return [
        FileSource(name, sha256, size, opener(name), product_url)
        for name, sha256, size in described
    ]
