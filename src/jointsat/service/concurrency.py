"""Optimistic concurrency: a mutable resource's ETag is its row's version; writes honour If-Match.

Reading a partner, agreement, station, satellite or request answers its version as
a strong ETag (``"3"``). A PUT, PATCH or DELETE that sends it back in ``If-Match``
changes the resource only if it is still at that version, else answers 412 with
nothing changed; ``*`` matches any version. The check is atomic: the store's
UPDATE or DELETE itself names the version read (``store.tables.Versioned``), so of
two writers who read the same version exactly one wins, whatever the timing.

Without ``If-Match`` a write applies to what is stored, as before; if another
write changed the row between reading and writing it, the answer is 409 (nothing
lost silently, nothing changed), and 404 if the other write deleted it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Annotated, Any

from fastapi import Depends, Header, Response
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from jointsat.service.deps import SessionDep
from jointsat.service.problems import PROBLEM_JSON, ProblemDocument, ProblemError
from jointsat.store.consortium import exists
from jointsat.store.tables import Versioned

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=(
            "Change it only if it is still at this ETag (from a read or a write), else 412; "
            "'*': if it exists"
        ),
    ),
]
"""The ``If-Match`` header of a PUT, PATCH or DELETE (None: not sent)."""

_ETAG_HEADER = {
    "ETag": {
        "description": "The resource's version, a strong entity tag: send it in If-Match",
        "schema": {"type": "string"},
    }
}
_PRECONDITION_FAILED = {
    "description": "If-Match names a version the resource is no longer at; nothing changed",
    "model": ProblemDocument,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
}
READ: dict[int | str, dict[str, Any]] = {200: {"headers": _ETAG_HEADER}}
"""What a read of a versioned resource adds to its OpenAPI: the ETag header."""
WRITE: dict[int | str, dict[str, Any]] = {**READ, 412: _PRECONDITION_FAILED}
"""What a PUT or PATCH adds to its OpenAPI: the ETag of the new version, and 412."""
CONDITIONAL: dict[int | str, dict[str, Any]] = {412: _PRECONDITION_FAILED}
"""What a DELETE (or another conditional write) adds to its OpenAPI: 412."""


def etag(row: Versioned) -> str:
    """Return the row's strong entity tag: its version, quoted."""
    return f'"{row.version}"'


def tagged(response: Response, row: Versioned) -> None:
    """Answer the row's ETag in ``response``'s headers."""
    response.headers["ETag"] = etag(row)


def matches(if_match: str, row: Versioned) -> bool:
    """Return whether an ``If-Match`` value matches the row (strong comparison, RFC 9110)."""
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or etag(row) in tags


@contextmanager
def conditional(
    session: Session, row: Versioned, if_match: str | None, gone: str
) -> Iterator[None]:
    """Check ``If-Match`` against the row, then run the block that writes and commits it.

    Answer 412 if the row is not at an ``If-Match`` version, before or (caught by the
    store) while writing; 404 with ``gone`` if a concurrent write deleted it; 409 if
    one changed it and no ``If-Match`` came.
    """
    if if_match is not None and not matches(if_match, row):
        raise _precondition_failed(f"ETag {etag(row)}")
    table, row_id = type(row), row.id  # type: ignore[attr-defined]
    try:
        yield
    except (StaleDataError, ObjectDeletedError):
        session.rollback()
        if not exists(session, table, row_id):
            raise ProblemError(404, "Not found", gone) from None
        if if_match is not None:
            raise _precondition_failed("a newer version") from None
        raise ProblemError(
            409,
            "Conflict",
            "another request changed it at the same time; nothing was changed: "
            "read it again and retry (send its ETag in If-Match)",
        ) from None


class Conditional:
    """A route's write to one versioned row: its session, its If-Match, its response.

    ``with write(row, gone):`` runs the block that writes and commits the row under
    :func:`conditional`; ``write.tag(row)`` then answers the row's new ETag.
    """

    def __init__(self, session: SessionDep, response: Response, if_match: IfMatch = None):
        self.session = session
        self.response = response
        self.if_match = if_match

    def __call__(self, row: Versioned, gone: str) -> AbstractContextManager[None]:
        return conditional(self.session, row, self.if_match, gone)

    def tag(self, row: Versioned) -> None:
        """Answer the row's ETag."""
        tagged(self.response, row)


ConditionalDep = Annotated[Conditional, Depends()]
"""What a PUT, PATCH, DELETE (or a POST that changes a versioned row) takes."""


def _precondition_failed(now: str) -> ProblemError:
    return ProblemError(
        412,
        "Precondition failed",
        f"If-Match does not match: it is at {now}; nothing was changed: read it again and retry",
    )
