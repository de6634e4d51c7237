"""Check the design tables and the one path that runs a stored study, on both backends.

Revision 0013 adds and removes its three tables (a downgrade that would drop stored
areas or studies is refused as data loss); an area a study used cannot be deleted; a
queued study is claimed by one runner only, runs to ``done`` with its table or to
``failed`` with its reason, goes back to the queue when its runner stops it, and is
marked failed when its runner's heartbeat stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tests.service.design_world import box

from jointsat.design.areas import read_geojson
from jointsat.store import design, migrate
from jointsat.store.database import open_engine, session_factory
from jointsat.store.tables import (
    AreaRecord,
    AreaVisibility,
    DesignStudyArea,
    DesignStudyRecord,
    Partner,
    StudyStatus,
)

NOW = datetime(2024, 5, 10, tzinfo=UTC)
DESIGN_TABLES = {"areas", "design_studies", "design_study_areas"}


def _add_area(sessions: sessionmaker[Session]) -> int:
    """Store ESA and its area "alps"; return the area's id."""
    (area,) = read_geojson(json.dumps(box("alps", 6.0, 44.0, 12.0, 48.0)))
    with sessions.begin() as session:
        esa = Partner(code="esa", name="ESA", contribution_share=1.0)
        record = design.add_area(session, esa, area, AreaVisibility.PRIVATE, now=NOW)
        session.flush()
        return record.id


def _add_study(sessions: sessionmaker[Session], area_id: int, **inputs: Any) -> int:
    """Store a small study over the area; return its id."""
    fields = {
        "area_ids": (area_id,),
        "start": NOW,
        "end": NOW + timedelta(hours=6),
        "constellations": ("walker:2/1/0:550:53",),
        "grid_deg": 2.0,
        **inputs,
    }
    with sessions.begin() as session:
        area = session.get_one(AreaRecord, area_id)
        study = design.add_study(session, "test", design.StudyInputs(**fields), [area], now=NOW)
        session.flush()
        return study.id


@pytest.fixture
def sessions(store_url: str) -> Iterator[sessionmaker[Session]]:
    engine = open_engine(store_url)
    yield session_factory(engine)
    engine.dispose()


def _status(sessions: sessionmaker[Session], study_id: int) -> DesignStudyRecord:
    with sessions() as session:
        found = design.study(session, study_id, with_points=True)
        assert found is not None
        return found


def test_revision_0013_adds_and_removes_the_design_tables(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = open_engine(database_url)
    assert set(inspect(engine).get_table_names()) >= DESIGN_TABLES
    sessions = session_factory(engine)
    _add_study(sessions, _add_area(sessions))
    engine.dispose()
    with pytest.raises(migrate.DataLossError) as refused:
        migrate.downgrade(database_url, "0012")
    assert "areas" in str(refused.value)
    assert "design_studies" in str(refused.value)
    lost = migrate.downgrade(database_url, "0012", force=True)
    assert "1 row(s) of design_studies dropped" in lost
    engine = open_engine(database_url)
    assert not DESIGN_TABLES & set(inspect(engine).get_table_names())
    engine.dispose()
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_an_area_a_study_used_cannot_go_and_a_study_takes_its_links_along(
    sessions: sessionmaker[Session],
) -> None:
    study_id = _add_study(sessions, _add_area(sessions))
    with sessions() as session:
        session.delete(session.scalars(select(AreaRecord)).one())
        with pytest.raises(IntegrityError):
            session.commit()
    with sessions.begin() as session:
        assert design.studies_using(session, session.scalars(select(AreaRecord.id)).one()) == 1
        session.delete(session.get_one(DesignStudyRecord, study_id))
    with sessions.begin() as session:
        assert session.scalars(select(DesignStudyArea)).all() == []
        session.delete(session.scalars(select(AreaRecord)).one())


def test_a_partners_area_names_are_its_own(sessions: sessionmaker[Session]) -> None:
    (area,) = read_geojson(json.dumps(box("coast", 0.0, 0.0, 1.0, 1.0)))
    with sessions.begin() as session:
        esa = Partner(code="esa", name="ESA", contribution_share=0.5)
        dlr = Partner(code="dlr", name="DLR", contribution_share=0.5)
        design.add_area(session, esa, area, AreaVisibility.PRIVATE, now=NOW)
        design.add_area(session, dlr, area, AreaVisibility.PRIVATE, now=NOW)
    with sessions() as session:
        esa = session.scalars(select(Partner).where(Partner.code == "esa")).one()
        design.add_area(session, esa, area, AreaVisibility.CONSORTIUM, now=NOW)
        with pytest.raises(IntegrityError):
            session.commit()
    with sessions() as session:
        records = design.areas(session)
        assert design.study_labels(records) == ["coast (esa)", "coast (dlr)"]
        assert records[0].feature["properties"]["partner"] == "esa"


def test_a_study_runs_once_to_done_with_its_table(sessions: sessionmaker[Session]) -> None:
    study_id = _add_study(sessions, _add_area(sessions))
    ticks: list[tuple[int, int]] = []
    status = design.run_study(
        sessions, study_id, clock=lambda: NOW, progress=lambda d, t: ticks.append((d, t))
    )
    assert status is StudyStatus.DONE
    assert ticks
    assert ticks[-1][0] == ticks[-1][1]
    found = _status(sessions, study_id)
    assert found.status is StudyStatus.DONE
    assert found.started_at == NOW
    assert found.finished_at == NOW
    assert found.points is not None
    assert found.points > 0
    assert found.points_parquet is not None
    columns = design.points_columns(found.points_parquet)
    assert len(columns["cell"]) == found.points == found.summary["grid"]["points"]  # type: ignore[index]
    assert found.provenance is not None
    assert found.provenance["elements"]
    # Claimed already: another runner gets nothing to do.
    assert design.run_study(sessions, study_id, clock=lambda: NOW) is None


def test_inputs_that_cannot_run_fail_with_the_reason(sessions: sessionmaker[Session]) -> None:
    study_id = _add_study(sessions, _add_area(sessions), constellations=("walker:3/2/0:550:53",))
    assert design.run_study(sessions, study_id, clock=lambda: NOW) is StudyStatus.FAILED
    found = _status(sessions, study_id)
    assert found.status is StudyStatus.FAILED
    assert found.error is not None
    assert "walker:3/2/0:550:53" in found.error
    assert found.points_parquet is None


def test_a_stopped_study_goes_back_to_the_queue(sessions: sessionmaker[Session]) -> None:
    study_id = _add_study(sessions, _add_area(sessions))

    def stop(_done: int, _total: int) -> None:
        raise design.StudyInterruptedError

    assert design.run_study(sessions, study_id, clock=lambda: NOW, progress=stop) is (
        StudyStatus.QUEUED
    )
    found = _status(sessions, study_id)
    assert found.status is StudyStatus.QUEUED
    assert found.started_at is None
    with sessions() as session:
        assert design.queued(session) == [study_id]
    assert design.run_study(sessions, study_id, clock=lambda: NOW) is StudyStatus.DONE


def test_a_study_whose_heartbeat_stopped_is_marked_failed(sessions: sessionmaker[Session]) -> None:
    area_id = _add_area(sessions)
    abandoned, alive = _add_study(sessions, area_id), _add_study(sessions, area_id)
    with sessions() as session:
        assert design.claim(session, abandoned, NOW)
        assert design.claim(session, alive, NOW)
        later = NOW + design.ABANDONED_AFTER + timedelta(seconds=1)
        design.beat(session, alive, later)
        assert design.fail_abandoned(session, later) == 1
    assert _status(sessions, abandoned).status is StudyStatus.FAILED
    assert _status(sessions, abandoned).error == design.INTERRUPTED
    assert _status(sessions, alive).status is StudyStatus.RUNNING
