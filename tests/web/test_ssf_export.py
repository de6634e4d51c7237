"""The Passes page's *contacts SSF* export: the schedule's contacts as a CCSDS Simple Schedule.

Oracle: the schedule's JSON for the same token. The downloaded message holds the
same contacts (catalog number, station, start and end to the millisecond), whatever
the station filter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page
from tests.web.test_dashboard import open_dashboard

from jointsat.operations.ssf import read_ssf

if TYPE_CHECKING:
    from tests.web.conftest import Service

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")
MS = timedelta(milliseconds=1)


def _ms(text: str) -> datetime:
    t = datetime.fromisoformat(text).astimezone(UTC)
    return t.replace(microsecond=0) + round(t.microsecond / 1000) * MS


def test_the_schedules_contacts_download_as_ssf(page: Page, service: Service) -> None:
    token = service.viewers["esa"]
    open_dashboard(page, service, token, "passes")
    schedule = service.get(f"/api/v1/schedules/{service.schedule_id}", token)
    assert schedule["contacts"]
    page.select_option("#filter-station", index=1)  # a station filter does not cut the SSF
    with page.expect_download() as got:
        page.click('button.export[data-export="schedule.ssf"]')
    assert got.value.suggested_filename == f"schedule-{service.schedule_id}.ssf.xml"
    message = read_ssf(Path(got.value.path()).read_text(encoding="utf-8"))
    assert sorted((a.norad_id, a.site, a.start, a.end) for a in message.activities) == sorted(
        (c["norad_id"], c["station"], _ms(c["start"]), _ms(c["end"])) for c in schedule["contacts"]
    )
