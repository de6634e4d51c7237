"""Check `jointsat exchange ssf-export` and `ssf-import` on a copy of the demo's store.

Oracle: the stored schedule itself. Exported then imported, the demo's schedule comes
back as a new schedule of the same contacts (satellite, station, start and end to the
millisecond); what the store does not hold is refused, named.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from jointsat.cli import app, common
from jointsat.operations.ssf import read_ssf
from jointsat.store.schedules import load_schedule

MS = timedelta(milliseconds=1)
Key = tuple[int, str, datetime, datetime]


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def store(tmp_path: Path, demo_store: tuple[str, Result]) -> str:
    """Return the URL of a copy of the session's demo store (tests/cli/conftest.py)."""
    demo = make_url(demo_store[0]).database
    with sqlite3.connect(str(demo)) as source, sqlite3.connect(tmp_path / "demo.db") as copy:
        source.backup(copy)
    return f"sqlite:///{tmp_path}/demo.db"


def _ms(moment: datetime) -> datetime:
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.replace(microsecond=0) + round(utc.microsecond / 1000) * MS


def _stored(url: str, schedule_id: int) -> tuple[str, list[Key]]:
    with common.store_session(url) as session:
        record = load_schedule(session, schedule_id)
        assert record is not None
        keys = [
            (c.satellite.norad_id, c.station.name, _ms(c.start), _ms(c.end_at))
            for c in record.contacts
        ]
        return record.policy, sorted(keys)


def test_a_schedule_exported_then_imported_has_the_same_contacts(
    tmp_path: Path, store: str
) -> None:
    out = tmp_path / "schedule.ssf.xml"
    result = _run("exchange", "ssf-export", "1", "-o", str(out), "--database-url", store)
    assert result.exit_code == 0, result.output
    policy, contacts = _stored(store, 1)
    assert len(contacts) > 10
    sent = read_ssf(out.read_text())
    assert sorted((a.norad_id or 0, a.site, a.start, a.end) for a in sent.activities) == contacts
    result = _run("exchange", "ssf-import", str(out), "--database-url", store)
    assert result.exit_code == 0, result.output
    assert f"schedule 2 imported: {len(contacts)} contact(s) from JOINTSAT" in result.output
    assert _stored(store, 2) == ("imported", contacts)
    assert policy != "imported"


def test_what_cannot_be_imported_is_refused_and_named(tmp_path: Path, store: str) -> None:
    out = tmp_path / "schedule.ssf.xml"
    assert (
        _run("exchange", "ssf-export", "1", "-o", str(out), "--database-url", store).exit_code == 0
    )
    text = out.read_text()
    site = read_ssf(text).activities[0].site
    unknown = tmp_path / "unknown.xml"
    unknown.write_text(text.replace(f'siteRef="{site}"', 'siteRef="Atlantis"'))
    result = _run("exchange", "ssf-import", str(unknown), "--database-url", store)
    assert result.exit_code == 1
    assert "station 'Atlantis'" in result.output
    broken = tmp_path / "broken.xml"
    broken.write_text(text.replace("endOfTrack=", "endOfTrackX=", 1))
    result = _run("exchange", "ssf-import", str(broken), "--database-url", store)
    assert result.exit_code == 1
    assert str(broken) in result.output
    assert "scheduledActivity[1]/@endOfTrack: is missing" in result.output
    missing = _run("exchange", "ssf-export", "99", "--database-url", store)
    assert missing.exit_code == 1
    assert "no schedule with id 99" in missing.output
    assert _run("exchange", "ssf-export", "0", "--database-url", store).exit_code == 2
