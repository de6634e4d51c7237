"""Check stored pass predictions: equal to the engine's, reused, forgotten when stale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.passes import find_passes
from jointsat.store import migrate
from jointsat.store import passes as stored
from jointsat.store.convert import elements_of, station_of
from jointsat.store.database import open_engine, session_factory, store_revision
from jointsat.store.tables import (
    ElementSetRecord,
    GroundStation,
    Partner,
    PassPrediction,
    PassRecord,
    Satellite,
)

NOW = datetime(2024, 5, 10, 12, tzinfo=UTC)
START = datetime(2024, 5, 10, tzinfo=UTC)
END = START + timedelta(days=1)


def _fill(session: Session) -> None:
    owner = Partner(code="esa", name="ESA", contribution_share=1.0)
    for name, lat, lon in (("Malargue", -35.776, -69.398), ("Kourou", 5.25, -52.8)):
        session.add(
            GroundStation(name=name, owner=owner, lat_deg=lat, lon_deg=lon, min_elevation_deg=10.0)
        )
    for e in parse_elements(orbit_file("stations.tle").read_text()).elements[:4]:
        satellite = Satellite(name=e.object_name, norad_id=e.norad_cat_id)
        satellite.element_sets = [
            ElementSetRecord(epoch=e.epoch, omm=e.to_omm(), source="test", received_at=NOW)
        ]
        session.add(satellite)


def _network(session: Session) -> tuple[list[Satellite], list[GroundStation]]:
    satellites = session.scalars(
        select(Satellite).options(selectinload(Satellite.element_sets)).order_by(Satellite.id)
    ).all()
    stations = session.scalars(select(GroundStation).order_by(GroundStation.id)).all()
    return list(satellites), list(stations)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Yield sessions of a migrated store holding two stations and four satellites."""
    migrate.upgrade(database_url)
    engine = open_engine(database_url)
    factory = session_factory(engine)
    with factory.begin() as session:
        _fill(session)
    yield factory
    engine.dispose()


def test_stored_passes_are_the_engine_s_and_are_reused(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as session:
        satellites, stations = _network(session)
        revision = store_revision(session)
        prediction, passes = stored.stored_passes(
            session, satellites, stations, START, END, now=NOW
        )
        oracle = find_passes(
            [elements_of(e) for s in satellites for e in s.element_sets],
            [station_of(g) for g in stations],
            START,
            END,
        )
        norad = {s.id: s.norad_id for s in satellites}
        name = {g.id: g.name for g in stations}
        assert [(norad[p.satellite_id], name[p.station_id], p.aos, p.los) for p in passes] == [
            (p.satellite.norad_id, p.station.name, p.aos, p.los) for p in oracle.rows()
        ]
        assert len(passes) > 10
        assert prediction.element_set_ids == sorted(
            e.id for s in satellites for e in s.element_sets
        )
        assert store_revision(session) == revision  # a cached consequence, not a new fact
    calls: list[int] = []
    real = stored.find_passes
    monkeypatch.setattr(stored, "find_passes", lambda *a, **k: calls.append(1) or real(*a, **k))
    with sessions() as session:
        satellites, stations = _network(session)
        again, passes_again = stored.stored_passes(
            session, satellites, stations, START, END, now=NOW
        )
        assert calls == []
        assert again.id == prediction.id
        assert [p.id for p in passes_again] == [p.id for p in passes]


def test_deleting_a_station_forgets_predictions_whose_ids_could_come_back(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        satellites, stations = _network(session)
        _, before = stored.stored_passes(session, satellites, stations, START, END, now=NOW)
        last = stations[-1]
        kept = {k: getattr(last, k) for k in ("name", "partner_id", "lat_deg", "lon_deg")}
        session.delete(last)
        session.commit()
        assert session.scalar(select(func.count()).select_from(PassPrediction)) == 0
        assert session.scalar(select(func.count()).select_from(PassRecord)) == 0
        session.add(GroundStation(**kept, min_elevation_deg=10.0))  # SQLite may reuse the id
        session.commit()
        satellites, stations = _network(session)
        _, after = stored.stored_passes(session, satellites, stations, START, END, now=NOW)
        assert [(p.aos, p.los) for p in after] == [(p.aos, p.los) for p in before]


def test_old_predictions_are_dropped(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stored, "KEEP_PREDICTIONS", 2)
    with sessions() as session:
        satellites, stations = _network(session)
        for hours in (1, 2, 3, 4):
            stored.stored_passes(
                session, satellites, stations, START, START + timedelta(hours=hours), now=NOW
            )
        kept = session.scalars(select(PassPrediction.end_at).order_by(PassPrediction.id)).all()
        assert kept == [START + timedelta(hours=3), START + timedelta(hours=4)]
        orphans = session.scalar(
            select(func.count())
            .select_from(PassRecord)
            .where(PassRecord.prediction_id.not_in(select(PassPrediction.id)))
        )
        assert orphans == 0
