"""What every element source shares: the query, the rules kept in the store, the parsing.

A source answers a :class:`Query` with element sets and their raw records. Its rules
(how soon a query may be sent again, how many requests a minute and an hour, stop at
the first error answer) are kept in the store (``jointsat.store.sources``), so that
they hold across processes. The answer is parsed by the one reader of element sets
(:func:`jointsat.orbits.elements.parse_elements`); only an answer that parses whole is
kept, so a timeout, a cut-off or a malformed answer changes nothing stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from jointsat.errors import ElementsError, SourceBlockedError, SourceError
from jointsat.jsonfile import load_json
from jointsat.orbits.elements import Elements, ElementsFormat, parse_elements
from jointsat.sources.http import Answer, Transport
from jointsat.store.sources import (
    Validators,
    block,
    cached_query,
    keep_answer,
    log_request,
    mark_asked,
    requests_since,
    source_state,
)
from jointsat.timelib import format_readable

LOG = logging.getLogger("jointsat.sources")
Headers = Mapping[str, str] | None  # a request's own headers
Form = Mapping[str, str] | None  # a POST's form (None: a GET)
NO_DATA = ("No GP data found", "No SupGP data found")  # CelesTrak's 200 answers without data


@dataclass(frozen=True)
class Query:
    """What to ask a source for: a group, catalog numbers, a launch or a name (one of them)."""

    group: str | None = None
    catnrs: tuple[int, ...] = ()
    intdes: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        given = [self.group, self.catnrs or None, self.intdes, self.name]
        if sum(v is not None for v in given) != 1:
            raise SourceError("give exactly one of a group, catalog numbers, a launch, a name")


@dataclass(frozen=True)
class Fetched:
    """One element set as a source gave it: the set, its record as received, the query."""

    elements: Elements
    raw: str
    source: str


@dataclass(frozen=True)
class Limit:
    """At most ``count`` requests to a source in any ``window``."""

    count: int
    window: timedelta


class Source:
    """A source of element sets, with the rules every query to it obeys.

    ``name`` keys its state in the store (blocked, queries, requests); ``kind`` is the
    kind of the sets it gives (``settings.SOURCE_KINDS``).
    """

    name = ""
    kind = ""
    label = ""
    query_interval = timedelta(hours=1)  # the same query, at most this often
    limits: Sequence[Limit] = ()
    conditional = False  # send If-None-Match / If-Modified-Since when validators are known

    def __init__(self, base_url: str, transport: Transport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport or Transport()
        self.reused = 0  # queries answered from the store, as the rules want

    def paths(self, query: Query) -> list[str]:
        """Return the path and query string of each request that answers the query."""
        raise NotImplementedError

    def fetch(self, session: Session, query: Query, now: datetime) -> list[Fetched]:
        """Return the element sets that answer the query: fetched, or the cache's if recent."""
        return [f for path in self.paths(query) for f in self.ask(session, path, now)]

    def ask(self, session: Session, path: str, now: datetime) -> list[Fetched]:
        """Return one request's sets: from the cache when it was sent too recently."""
        self.check_blocked(session)
        row = cached_query(session, self.name, path)
        if row is not None and now - row.asked_at < self.query_interval:
            if row.body is None:
                again = format_readable(row.asked_at + self.query_interval)
                raise SourceError(
                    f"{self.label}: {path} was asked at {format_readable(row.asked_at)} without "
                    f"an answer to keep; it may be asked again from {again} UTC"
                )
            self.reused += 1
            return parse_answer(row.body, f"{self.label} {path}")
        headers = {}
        if self.conditional and row is not None and row.body is not None:
            if row.etag:
                headers["If-None-Match"] = row.etag
            if row.last_modified:
                headers["If-Modified-Since"] = row.last_modified
        self.prepare(session, now)
        row = mark_asked(session, self.name, path, now)
        answer = self.request(session, path, now, headers=headers)
        if answer.status == 304 and row.body is not None:
            fetched = parse_answer(row.body, f"{self.label} {path}")
            keep_answer(row, row.body, Validators(row.etag, row.last_modified), now)
        else:
            text = decoded(answer, f"{self.label} {path}")
            fetched = parse_answer(text, f"{self.label} {path}")
            validators = Validators(answer.headers.get("etag"), answer.headers.get("last-modified"))
            keep_answer(row, text, validators, now)
        session.commit()
        return fetched

    def prepare(self, session: Session, now: datetime) -> None:
        """Do what must come before a request is sent (a login); nothing by default."""

    def check_blocked(self, session: Session) -> None:
        """Refuse to go on while the source is blocked."""
        state = source_state(session, self.name)
        if state.blocked_at is not None:
            raise SourceBlockedError(
                f"{self.label} is blocked since {format_readable(state.blocked_at)} "
                f"({state.blocked_reason}); once the cause is understood, run "
                f"`jointsat elements unblock {self.name}`"
            )

    def request(
        self,
        session: Session,
        path: str,
        now: datetime,
        *,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request within the limits, logged in the store; block on an error answer.

        Any answer but 200 (and 304 to a conditional request) blocks the source at once,
        unless the source renews what the request needs (``renewed``: a login) and the
        request, sent again, is answered.
        """
        answer = self._send(session, path, now, (headers, form))
        while not (answer.status == 200 or (answer.status == 304 and headers)):
            if not self.renewed(session, path, answer, now):
                self._block(session, path, answer, now)
            answer = self._send(session, path, now, (headers, form))
        return answer

    def renewed(self, session: Session, path: str, answer: Answer, now: datetime) -> bool:
        """After an error answer, renew what the request needs and say whether to send it
        again; never by default (the error blocks the source)."""
        return False

    def _send(
        self, session: Session, path: str, now: datetime, given: tuple[Headers, Form]
    ) -> Answer:
        """Send one request if the limits allow it, logged in the store; return its answer."""
        state = source_state(session, self.name, lock=True)
        if state.blocked_at is not None:
            session.rollback()
            self.check_blocked(session)
        for limit in self.limits:
            sent = requests_since(session, self.name, now - limit.window)
            if sent >= limit.count:
                session.rollback()
                raise SourceError(
                    f"{self.label}: {sent} requests in the last {_window(limit.window)}, its "
                    "limit; try again later"
                )
        log_request(session, self.name, now)
        headers, form = given
        return self.transport.send(self.base_url + path, headers=headers, form=form)

    def _block(self, session: Session, path: str, answer: Answer, now: datetime) -> NoReturn:
        """Block the source for the error answer, say so loudly and raise."""
        host = urlsplit(self.base_url).netloc
        reason = f"{host} answered {answer.status} {answer.reason} to {path.split('?')[0]}"
        block(session, self.name, reason, now)
        message = (
            f"{self.label}: {reason}. jointsat stops querying it until an operator runs "
            f"`jointsat elements unblock {self.name}`"
        )
        LOG.error("%s", message)
        raise SourceBlockedError(message)


def _window(window: timedelta) -> str:
    """Return a limit's window in words."""
    seconds = window.total_seconds()
    return "hour" if seconds == 3600 else "minute" if seconds == 60 else f"{seconds:g} s"


def decoded(answer: Answer, source: str) -> str:
    """Return an answer's body as text: UTF-8, else the answer is malformed."""
    try:
        return answer.body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(f"{source}: malformed answer: not UTF-8 (byte {error.start})") from None


def parse_answer(text: str, source: str) -> list[Fetched]:
    """Read an OMM JSON answer record by record; any record that cannot be read rejects it.

    Each record goes through the one reader of element sets, and is kept as received.
    """
    if text.strip() in NO_DATA:
        return []
    try:
        document = load_json(text, ElementsError, source, "invalid JSON")
    except ElementsError as error:
        raise SourceError(f"malformed answer: {error}") from None
    if not isinstance(document, list):
        raise SourceError(f"{source}: malformed answer: not a JSON list of OMM records")
    fetched: list[Fetched] = []
    for number, record in enumerate(document, 1):
        raw = json.dumps(record, ensure_ascii=False)
        try:
            parsed = parse_elements(
                raw, source=f"{source} record {number}", strict=True, format=ElementsFormat.OMM_JSON
            )
        except ElementsError as error:
            raise SourceError(f"malformed answer: {error}") from None
        fetched.extend(Fetched(e, raw, source) for e in parsed.elements)
    return fetched
