"""Hold the schema types that several resources share."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

from jointsat.jsonfile import MAX_ROW_ID, storable_json, storable_text
from jointsat.timelib import parse_iso, to_utc

# --- what every store can hold ----------------------------------------------------------
#
# Both stores must refuse the same inputs, before anything is written: PostgreSQL
# refuses a NUL character in text, neither can hold a lone surrogate (it is not
# UTF-8), nor NaN or an infinity in JSON, and a text longer than its column fails on
# PostgreSQL only. The types below refuse them at the boundary with a 422 naming the
# field; the schema states what it can (``pattern``, lengths, ``type``).

NO_NUL = r"^[^\x00]*$"
"""The pattern stated for text: any character but NUL."""


Text = Annotated[str, Strict(), Field(pattern=NO_NUL), AfterValidator(storable_text)]
"""Text every store holds (no NUL, no lone surrogate); give its column's ``max_length``."""


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("a finite number is required")
    return value


Number = Annotated[float, Strict(), AfterValidator(_finite)]
"""A finite number (an integer is one too; true, false and text are not)."""

Integer = Annotated[int, Strict()]
"""A whole number (true, false, 1.0 and text are not)."""

Flag = Annotated[bool, Strict()]
"""true or false (0, 1 and text are not)."""

JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)]
"""A JSON object with finite numbers and storable text at any depth."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give a time zone (e.g. a trailing Z for UTC)")
    try:
        return to_utc(value)
    except ValueError:
        raise ValueError("the time is out of range once turned to UTC") from None


TIME_NEEDED = "an ISO 8601 time is needed, e.g. 2024-05-10T06:00:00Z (UTC if no offset)"


def _written_time(value: Any) -> Any:
    """Read a time as the command line does (``timelib.parse_iso``, UTC without an offset).

    ``2024-05-10T06:00:00Z``, ``2024-05-10 06:00:00``, ``2024-05-10T08:00:00+02:00`` are
    the same moment; a number (``0.5``: pydantic's Unix time) or other text is refused,
    saying what is needed.
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(TIME_NEEDED)
    try:
        return parse_iso(value, naive_is_utc=True)
    except ValueError as error:
        reason = str(error).removeprefix("time ")
        if "out of range" in reason:
            raise ValueError(reason) from None
        raise ValueError(f"{value!r}: {TIME_NEEDED}") from None


AwareDatetime = Annotated[datetime, BeforeValidator(_written_time), AfterValidator(_utc)]
"""A time as the command line reads it (``timelib.parse_iso``): UTC when it has no
offset, turned to UTC when it has one; anything else is a 422 saying what is needed."""

MAX_ID = MAX_ROW_ID  # ids are 32-bit integers in every store
RowId = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]
"""A row id in a request body."""
RowKey = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row id as a JSON object's key (text holding the number)."""
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""A row id in a path."""
PathName = Annotated[str, Path(max_length=255, pattern=NO_NUL)]
"""A name or text id in a path (a product's, a file's, a STAC collection's or item's)."""


class TimeWindow(BaseModel):
    """A request body holding a window: ``start`` and ``end`` (UTC if no offset), in order."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self
