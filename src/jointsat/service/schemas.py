"""Hold the schema types that several resources share."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jointsat.timelib import to_utc


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give a time zone (e.g. a trailing Z for UTC)")
    try:
        return to_utc(value)
    except ValueError:
        raise ValueError("the time is out of range once turned to UTC") from None


AwareDatetime = Annotated[datetime, AfterValidator(_utc)]
"""A datetime that must carry a zone; it is turned to UTC."""

MAX_ID = 2_147_483_647  # ids are 32-bit integers in every store
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row id in a request body."""
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""A row id in a path."""


class TimeWindow(BaseModel):
    """A request body holding a window: ``start`` and ``end``, with zones, end after start."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self
