"""Talk to a jointsat server over HTTP: the client side of its REST API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from http.client import HTTPException
from typing import BinaryIO
from urllib.parse import quote

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
    request = urllib.request.Request(url, method="GET")
    if token is not None:
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        response: BinaryIO = urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        detail = ""
        try:
            body = json.loads(exc.read(PRODUCT_DOCUMENT_MAX_BYTES) or b"null")
            if isinstance(body, dict) and isinstance(body.get("detail"), str):
                detail = f": {body['detail']}"
        except (ValueError, OSError):
            pass
        raise JointsatError(f"GET {url}: HTTP {exc.code} {exc.reason}{detail}") from None
    except urllib.error.URLError as exc:
        raise JointsatError(f"GET {url}: cannot reach the server ({exc.reason})") from None
    except (OSError, ValueError) as exc:
        raise JointsatError(f"GET {url}: {exc}") from None
    return response


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
