"""Answer errors as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from jointsat.errors import ArchiveConflictError, ArchiveStorageError, InputError
from jointsat.service.middleware import HttpMiddleware, WatchedSend

PROBLEM_JSON = "application/problem+json"
STORE_RETRY_AFTER_S = 5

_log = logging.getLogger("uvicorn.error")  # where uvicorn logs the errors it sees itself


class ProblemDocument(BaseModel):
    """An RFC 9457 problem: what went wrong, for a person to act on."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


def _documented(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": ProblemDocument,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("The request is malformed (a query, a header or a body part)"),
    401: _documented("No live API token came with the request"),
    403: _documented("The caller's role or partner may not do this"),
    404: _documented("No such resource, or one the caller may not see"),
    409: _documented("The request clashes with what is stored"),
    413: _documented("The upload is too large"),
    415: _documented("The body is not of a media type the operation takes"),
    422: _documented("The request or its content is invalid; the detail says where"),
    500: _documented("The service failed; the error is in its log"),
    503: _documented("The store is busy or unreachable; retry after Retry-After seconds"),
    507: _documented("The store's or the archive's disk is full; nothing was written"),
}
"""Error answers every operation may give, documented in the OpenAPI."""


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def field_problem(location: Sequence[str], message: str) -> ProblemError:
    """Return a 422 naming the field, shaped like the answers to schema errors.

    ``location`` is the path to the field, as FastAPI gives it (``body``, then names
    and list indices); the detail reads ``body.payload.memory_mbit: <message>``.
    """
    where = [str(part) for part in location]
    return ProblemError(
        422,
        "Unprocessable input",
        f"{'.'.join(where)}: {message}",
        errors=[{"location": where, "message": message}],
    )


def field_path(location: str) -> list[str]:
    """Split a core error's location (``window.start``, ``satellites[1]``) into its parts."""
    return [part for part in re.split(r"[.\[\]]+", location) if part]


def _printable(value: Any) -> Any:
    """Return a JSON value whose text can be sent: a lone surrogate echoed from the input
    is written as its escape (``\\ud800``)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Return a problem+json response (``headers``: more, such as a 405's ``Allow``)."""
    body = _printable(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    )
    sent = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    sent.update(headers or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=sent or None)


def _failed(scope: Scope, exc: BaseException) -> JSONResponse:
    """Log an unexpected error (with no query string: it may carry a token) and answer 500."""
    _log.error("Exception answering %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
    return problem_response(
        500, "Internal server error", "the service failed to answer; the error is in its log"
    )


# SQLite's "database or disk is full" and PostgreSQL's disk_full (class 53: resources).
_DISK_FULL_SQLSTATES = {"53100"}
_BUSY_SQLSTATES = {"53300", "57P01", "57P02", "57P03"}  # too many connections, shutting down


def store_problem(exc: OperationalError) -> tuple[int, str, str] | None:
    """Return (status, title, detail) for a store failure the caller should hear of, or None.

    A full disk is a 507 (nothing was written). A store that cannot write to its disk
    (an I/O error, a file size limit), is locked, restarting or out of connections is a
    503 to retry. Anything else is the service's own failure (None: a 500).
    """
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or ""
    code = (getattr(orig, "sqlite_errorcode", None) or 0) & 0xFF  # the primary result code
    message = str(orig).lower()
    if (
        sqlstate in _DISK_FULL_SQLSTATES
        or code == sqlite3.SQLITE_FULL
        or "database or disk is full" in message
    ):
        return 507, "Insufficient storage", "the store's disk is full; nothing was written"
    if code == sqlite3.SQLITE_IOERR or "disk i/o error" in message:
        return 503, "Service unavailable", "the store could not write to its disk; retry later"
    if (
        sqlstate in _BUSY_SQLSTATES
        or sqlstate.startswith("08")  # connection exceptions
        or code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        or "database is locked" in message
    ):
        return 503, "Service unavailable", "the store is busy or unreachable; retry later"
    return None


class FailureGuard(HttpMiddleware):
    """ASGI middleware: answer an unexpected error with a 500 problem, keeping the connection.

    Starlette's own last resort answers 500 and re-raises, upon which uvicorn drops the
    keep-alive connection with no ``Connection: close``, and a client's next request on
    it fails. Here the error is logged and answered, and the connection stays usable. An
    error after the answer has started (a download cut short) still goes to the server,
    which closes the connection: the client sees the answer was cut.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if watched.started:
                raise
            await _failed(scope, exc)(scope, receive, send)


def install(app: FastAPI) -> None:
    """Make every error the app raises a problem document (``guard`` for unexpected ones)."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(ArchiveConflictError)
    async def _conflict(_: Request, exc: ArchiveConflictError) -> JSONResponse:
        return problem_response(409, "Conflict", str(exc))

    @app.exception_handler(ArchiveStorageError)
    async def _storage(_: Request, exc: ArchiveStorageError) -> JSONResponse:
        return problem_response(507, "Insufficient storage", str(exc))

    @app.exception_handler(InputError)
    async def _input(_: Request, exc: InputError) -> JSONResponse:
        return problem_response(422, "Unprocessable input", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": [str(p) for p in e.get("loc", ())], "message": validation_message(e)}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(e['location'])}: {e['message']}" for e in errors)
        return problem_response(422, "Invalid request", where, errors=errors)

    @app.exception_handler(OperationalError)
    async def _store(request: Request, exc: OperationalError) -> JSONResponse:
        known = store_problem(exc)
        if known is None:
            return _failed(request.scope, exc)
        answer = problem_response(*known)
        if answer.status_code == 503:
            answer.headers["Retry-After"] = str(STORE_RETRY_AFTER_S)
        return answer

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem_response(exc.status_code, str(exc.detail), str(exc.detail), headers=headers)


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def validation_message(error: Mapping[str, Any]) -> str:
    """Return a validation error's message for people: the validator's own words.

    pydantic prefixes what a validator raises (``Value error, end must be after
    start``); the prefix says nothing to a caller, so it goes.
    """
    message = str(error.get("msg", ""))
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            return message.removeprefix(prefix)
    return message


def allowed_methods(request: Request) -> str:
    """Return the methods the OpenAPI gives the request's path (a 405's ``Allow``).

    Starlette names only those of the first route that matched the path, where a path
    such as /stations has one route per method. Of the templates that match, the most
    literal ones count (/satellites/positions is no /satellites/{satellite_id}).
    """
    matching: list[tuple[int, set[str]]] = []
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods = {m.upper() for m in operations if m.isalpha() and m != "parameters"}
            matching.append((template.count("{"), methods))
    if not matching:
        return ""
    fewest = min(count for count, _ in matching)
    return ", ".join(sorted(set().union(*(m for c, m in matching if c == fewest))))


def guard(app: FastAPI) -> None:
    """Answer unexpected errors, even those of other middleware (add it after them)."""
    app.add_middleware(FailureGuard)
