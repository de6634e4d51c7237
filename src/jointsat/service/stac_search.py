"""Read a STAC item search from query parameters or a JSON body, refusing bad ones (400).

The search (``store.catalog.ItemQuery``) filters by ``bbox``, ``datetime`` (an RFC 3339
instant or interval), ``collections`` and ``ids``; ``limit`` sizes a page and
``token`` continues after the previous page's last item.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jointsat.jsonfile import storable_text
from jointsat.service.problems import ProblemError, validation_message
from jointsat.store.catalog import DEFAULT_LIMIT, ItemQuery
from jointsat.timelib import read_iso, to_utc

MAX_LIMIT = 1000  # a larger limit is served as this one (OGC API Features allows it)
MAX_LISTED = 1000  # at most this many ids or collections in one search
MAX_NAME = 255  # the longest id or collection
ITEMS_PARAMETERS = frozenset({"bbox", "datetime", "limit", "token"})
SEARCH_PARAMETERS = ITEMS_PARAMETERS | {"collections", "ids"}

# The query parameters of the GET searches, as FastAPI documents them.
BboxParameter = Annotated[str | None, Query(description="west,south,east,north")]
DatetimeParameter = Annotated[
    str | None,
    Query(alias="datetime", description="An RFC 3339 instant, or an interval a/b, ../b, a/.."),
]
LimitParameter = Annotated[str | None, Query(description=f"1 to {MAX_LIMIT}, default 10")]
TokenParameter = Annotated[str | None, Query(description="From a 'next' link")]


def _bad(detail: str) -> ProblemError:
    return ProblemError(400, "Bad request", detail)


def parse_bbox(values: Sequence[Any]) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) from 4 numbers, or 6 with heights (dropped).

    West may exceed east: the box then crosses the antimeridian.
    """
    if len(values) not in (4, 6):
        raise _bad(f"bbox: 4 numbers (west,south,east,north) or 6 are required, got {len(values)}")
    numbers: list[float] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _bad(f"bbox: {value!r} is not a number")
        try:
            number = float(value)
        except ValueError:
            raise _bad(f"bbox: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise _bad(f"bbox: {value!r} is not a finite number")
        numbers.append(number)
    west, south, east, north = numbers if len(numbers) == 4 else [numbers[i] for i in (0, 1, 3, 4)]
    for name, lon in (("west", west), ("east", east)):
        if not -180.0 <= lon <= 180.0:
            raise _bad(f"bbox: {name} longitude {lon} is outside [-180, 180]")
    for name, lat in (("south", south), ("north", north)):
        if not -90.0 <= lat <= 90.0:
            raise _bad(f"bbox: {name} latitude {lat} is outside [-90, 90]")
    if south > north:
        raise _bad(f"bbox: south {south} is north of north {north}")
    return west, south, east, north


def _instant(text: str) -> datetime:
    try:
        moment = read_iso(text)
    except ValueError:
        raise _bad(f"datetime: {text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise _bad(f"datetime: {text!r} has no time zone; add 'Z' for UTC")
    try:
        return to_utc(moment)
    except ValueError:
        raise _bad(f"datetime: {text!r} is out of range once turned to UTC") from None


def parse_datetime(text: str) -> tuple[datetime | None, datetime | None]:
    """Return the (start, end) of an RFC 3339 instant or interval; None for an open end.

    ``t`` is the instant t; ``a/b`` the closed interval; ``../b`` or ``/b`` open at the
    start, ``a/..`` or ``a/`` open at the end. Items match when their acquisition
    meets the interval.
    """
    if "/" not in text:
        moment = _instant(text)
        return moment, moment
    first, _, second = text.partition("/")
    start = None if first.strip() in ("", "..") else _instant(first)
    end = None if second.strip() in ("", "..") else _instant(second)
    if start is None and end is None:
        raise _bad("datetime: an interval needs at least one end ('../2024-05-10T00:00:00Z')")
    if start is not None and end is not None and end < start:
        raise _bad(f"datetime: the interval {text!r} ends before it starts")
    return start, end


def parse_limit(value: Any) -> int:
    """Return the page size: 1 or more, at most MAX_LIMIT (a larger one is capped)."""
    if isinstance(value, bool):
        raise _bad(f"limit: {value!r} is not a whole number")
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise _bad(f"limit: {value!r} is not a whole number") from None
    if isinstance(value, float) and value != limit:
        raise _bad(f"limit: {value!r} is not a whole number")
    if limit < 1:
        raise _bad(f"limit: {limit} is below 1")
    return min(limit, MAX_LIMIT)


def encode_token(start: datetime, product_id: str) -> str:
    """Return the paging token that continues after the item (start, id)."""
    raw = f"{start.isoformat()}|{product_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_TOKEN = "token: not a paging token of this service (take it from a 'next' link)"


def decode_token(token: str) -> tuple[datetime, str]:
    """Return the (start, id) a paging token continues after."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        text, _, product_id = raw.partition("|")
        start = to_utc(read_iso(text, verbatim=True))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad(BAD_TOKEN) from None
    if not product_id:
        raise _bad(BAD_TOKEN)
    return start, product_id


def _names(values: Sequence[Any], field: str) -> tuple[str, ...]:
    if len(values) > MAX_LISTED:
        raise _bad(f"{field}: at most {MAX_LISTED} are allowed, got {len(values)}")
    names = []
    for value in values:
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
            raise _bad(f"{field}: {value!r} is not an id")
        try:
            storable_text(value)
        except ValueError as exc:
            raise _bad(f"{field}: {exc}") from None
        names.append(value.strip())
    return tuple(names)


def _split(text: str) -> list[str]:
    return [part for part in text.split(",") if part.strip()]


def query_from_parameters(parameters: Mapping[str, str], allowed: frozenset[str]) -> ItemQuery:
    """Return the search that GET query parameters ask for (400 for an unknown one)."""
    if unknown := ", ".join(sorted(set(parameters) - allowed)):
        raise _bad(f"unsupported parameter(s): {unknown} (supported: {', '.join(sorted(allowed))})")
    bbox = parameters.get("bbox")
    when = parameters.get("datetime")
    collections = parameters.get("collections")
    ids = parameters.get("ids")
    limit = parameters.get("limit")
    token = parameters.get("token")
    return ItemQuery(
        bbox=None if bbox is None else parse_bbox(bbox.split(",")),
        interval=None if when is None else parse_datetime(when),
        collections=None if collections is None else _names(_split(collections), "collections"),
        ids=None if ids is None else _names(_split(ids), "ids"),
        limit=DEFAULT_LIMIT if limit is None else parse_limit(limit),
        after=None if token is None else decode_token(token),
    )


class SearchBody(BaseModel):
    """An item search sent as JSON (POST /stac/search)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bbox: list[float] | None = Field(
        None, description="west, south, east, north (WGS 84 degrees); west > east crosses 180"
    )
    datetime_: str | None = Field(
        None,
        alias="datetime",
        description="An RFC 3339 instant, or an interval a/b, ../b, a/..",
    )
    collections: list[str] | None = Field(None, description="Collection ids")
    ids: list[str] | None = Field(None, description="Item ids")
    limit: int | None = Field(None, description=f"Items per page, 1 to {MAX_LIMIT} (default 10)")
    token: str | None = Field(None, description="The paging token of a 'next' link")


def query_from_body(document: Any) -> ItemQuery:
    """Return the search that a POST body asks for (400 naming a bad field)."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise _bad("the search must be a JSON object")
    if "intersects" in document:
        raise _bad("intersects: not supported; search by bbox")
    try:
        body = SearchBody.model_validate(document)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {validation_message(e)}" for e in exc.errors()
        )
        raise _bad(where) from None
    return ItemQuery(
        bbox=None if body.bbox is None else parse_bbox(body.bbox),
        interval=None if body.datetime_ is None else parse_datetime(body.datetime_),
        collections=None if body.collections is None else _names(body.collections, "collections"),
        ids=None if body.ids is None else _names(body.ids, "ids"),
        limit=DEFAULT_LIMIT if body.limit is None else parse_limit(body.limit),
        after=None if body.token is None else decode_token(body.token),
    )
