"""Cache serialised answers until the store's next write.

Every write bumps the store's revision (see ``jointsat.store.database``), in the
same transaction; an answer cached at one revision is served only while the store
is still at it. Keys include who asks (what it may see) and the query.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from jointsat.service.deps import SessionDep, UserDep
from jointsat.store.database import store_revision
from jointsat.store.tables import Role, User

CACHE_ENTRIES = 512


class ResponseCache:
    """Keep the newest serialised answers, least recently used out first."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._entries = entries
        self._data: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable, revision: int) -> bytes | None:
        with self._lock:
            found = self._data.get(key)
            if found is None or found[0] != revision:
                return None
            self._data.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, revision: int, body: bytes) -> None:
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
) -> Response:
    """Answer with the cached JSON for ``key`` at the store's revision, or make and cache it."""
    cache: ResponseCache = request.app.state.response_cache
    revision = store_revision(session)
    body = cache.get(key, revision)
    if body is None:
        body = TypeAdapter(answer_type).dump_json(make())
        cache.put(key, revision, body)
    return Response(content=body, media_type="application/json")


class Viewing:
    """Who asks, through which session and request: whom a cached answer is made and kept for."""

    def __init__(self, request: Request, session: SessionDep, user: UserDep) -> None:
        self.request = request
        self.session = session
        self.user = user

    def cached(
        self, what: str, answer_type: Any, make: Callable[[], Any], *query: Hashable
    ) -> Response:
        """Answer with ``make()``'s JSON, cached for ``what``, the caller's view and the query."""
        key = (what, viewer(self.user), *query)
        return cached_json(self.request, self.session, key, answer_type, make)


ViewingDep = Annotated[Viewing, Depends()]
