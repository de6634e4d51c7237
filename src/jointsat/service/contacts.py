"""What the routes of schedules and of contacts both show of a contact."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from jointsat.store.tables import ContactState


class ContactPublic(BaseModel):
    """A scheduled contact: a whole pass of a satellite over a station, and its state."""

    id: int
    satellite_id: int
    satellite: str
    norad_id: int
    station_id: int
    station: str
    start: datetime
    end: datetime
    max_elevation_deg: float
    state: ContactState = Field(description="Its lifecycle (/api/v1/contacts moves it)")
