"""Cache serialised answers, and what they are computed from, until the store's next write.

Every write bumps the store's revision (see ``jointsat.store.database``), in the
same transaction; an answer cached at one revision is served only while the store
is still at it. Keys include who asks (what it may see) and the query. Besides
answers (bytes), the same cache keeps values that several answers are made from
(``remembered``: e.g. the parsed orbits of the satellites a caller sees).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from threading import Lock
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Request, Response
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from jointsat.archive.rights import Caller
from jointsat.service.deps import SessionDep, UserDep
from jointsat.store.database import store_revision
from jointsat.store.products import next_release
from jointsat.store.tables import Role, User

CACHE_ENTRIES = 512

T = TypeVar("T")


class ResponseCache:
    """Keep the newest serialised answers, least recently used out first."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._entries = entries
        self._data: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable, revision: int) -> Any:
        with self._lock:
            found = self._data.get(key)
            if found is None or found[0] != revision:
                return None
            self._data.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, revision: int, body: Any) -> None:
        with self._lock:
            self._data[key] = (revision, body)
            self._data.move_to_end(key)
            while len(self._data) > self._entries:
                self._data.popitem(last=False)


def viewer(user: User) -> Hashable:
    """Return what decides what a user may see: admin, or its partner."""
    return ("admin",) if user.role is Role.ADMIN else ("partner", user.partner_id)


def cached_json(
    request: Request,
    session: Session,
    key: Hashable,
    answer_type: Any,
    make: Callable[[], Any],
    *,
    revision: int | None = None,
) -> Response:
    """Answer with the cached JSON for ``key`` at the store's revision, or make and cache it."""
    body = remembered(
        request,
        session,
        ("json", key),
        lambda: _adapter(answer_type).dump_json(make()),
        revision=revision,
    )
    return Response(content=body, media_type="application/json")


def remembered(
    request: Request,
    session: Session,
    key: Hashable,
    make: Callable[[], T],
    *,
    revision: int | None = None,
) -> T:
    """Return the value kept for ``key`` at the store's revision, or make and keep it.

    The value is shared between requests (threads): never change it.
    """
    cache: ResponseCache = request.app.state.response_cache
    if revision is None:
        revision = store_revision(session)
    found = cache.get(key, revision)
    if found is None:
        found = make()
        cache.put(key, revision, found)
    return cast("T", found)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(answer_type: Any) -> TypeAdapter[Any]:
    """Return the (reused: building one costs milliseconds) serialiser of a type."""
    adapter = _ADAPTERS.get(answer_type)
    if adapter is None:
        adapter = _ADAPTERS[answer_type] = TypeAdapter(answer_type)
    return adapter


def cached_products(
    request: Request,
    session: Session,
    caller: Caller,
    now: datetime,
    key: Hashable,
    make: Callable[[], bytes],
) -> bytes:
    """Return ``make()``'s answer about products, kept while the caller sees the same ones.

    What a caller sees of the products changes with a write or when a release time
    passes (an embargo's end, a public release) with no write: the key holds the
    next such time after ``now``, so an answer kept is served only before it.
    """
    released = next_release(session, caller, now)
    return remembered(request, session, ("products", caller, released, key), make)


class Viewing:
    """Who asks, through which session and request: whom a cached answer is made and kept for."""

    def __init__(self, request: Request, session: SessionDep, user: UserDep) -> None:
        self.request = request
        self.session = session
        self.user = user
        self._revision: int | None = None

    @property
    def revision(self) -> int:
        """Return the store's revision, read once per request."""
        if self._revision is None:
            self._revision = store_revision(self.session)
        return self._revision

    def cached(
        self, what: str, answer_type: Any, make: Callable[[], Any], *query: Hashable
    ) -> Response:
        """Answer with ``make()``'s JSON, cached for ``what``, the caller's view and the query."""
        key = (what, viewer(self.user), *query)
        return cached_json(
            self.request, self.session, key, answer_type, make, revision=self.revision
        )

    def remembered(self, what: str, make: Callable[[], T], *query: Hashable) -> T:
        """Return ``make()``, kept for ``what``, the caller's view and the query (shared)."""
        key = (what, viewer(self.user), *query)
        return remembered(self.request, self.session, key, make, revision=self.revision)


ViewingDep = Annotated[Viewing, Depends()]
