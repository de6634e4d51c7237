"""Check stored pass predictions: equal to the engine's, reused, forgotten when stale."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.orbits.passes import Pass, find_passes
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
def sessions(store_url: str) -> Iterator[sessionmaker[Session]]:
    """Yield sessions of a migrated store holding two stations and four satellites."""
    engine = open_engine(store_url)
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


def _rows(passes: Sequence[Pass]) -> list[tuple[Any, ...]]:
    return [
        (
            p.satellite.norad_id,
            p.station.name,
            p.aos,
            p.tca,
            p.los,
            p.max_elevation_deg,
            p.aos_azimuth_deg,
            p.tca_azimuth_deg,
            p.los_azimuth_deg,
            p.sunlit,
            p.truncated,
        )
        for p in passes
    ]


# How far two predictions of different windows may differ: within the engine's
# accuracy, as its sampling grid starts at the window's start (crossings polished
# to about a millisecond, the peak to a ten-thousandth of a step and its
# elevation to a thousandth of a degree).
CROSSING_S = 2e-3
PEAK_S = 1.0  # the elevation is flat there: its time is found less sharply
ELEVATION_DEG = 1e-3
CROSSING_AZIMUTH_DEG = 1e-3
PEAK_AZIMUTH_DEG = 0.5  # near the zenith the azimuth turns by degrees a second


def _same(got: Sequence[Pass], want: Sequence[Pass]) -> None:
    """Assert the same passes, equal within the engine's accuracy."""
    assert len(got) == len(want)
    limits = (
        CROSSING_S,
        PEAK_S,
        CROSSING_S,
        ELEVATION_DEG,
        CROSSING_AZIMUTH_DEG,
        PEAK_AZIMUTH_DEG,
        CROSSING_AZIMUTH_DEG,
    )
    for a, b in zip(_rows(got), _rows(want), strict=True):
        assert a[:2] == b[:2]
        assert a[9:] == b[9:], (a, b)
        for x, y, limit in zip(a[2:9], b[2:9], limits, strict=True):
            if isinstance(x, datetime):
                assert abs((x - y).total_seconds()) < limit, (a, b)
            else:
                assert abs((x - y + 180.0) % 360.0 - 180.0) < limit, (a, b)


def test_sub_windows_read_the_whole_network_s_prediction_as_a_fresh_one_reports_them(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as session:
        owner = session.scalars(select(Partner)).one()
        session.add(
            GroundStation(
                name="Masked",
                owner=owner,
                lat_deg=48.0,
                lon_deg=11.0,
                min_elevation_deg=5.0,
                horizon_mask={
                    "azimuth_deg": [0.0, 90.0, 180.0, 270.0],
                    "elevation_deg": [20.0, 8.0, 30.0, 12.0],
                },
            )
        )
        session.commit()
        satellites, stations = _network(session)
        whole = stored.window_passes(session, START, END, now=NOW)
        calls: list[int] = []
        real = stored.find_passes
        monkeypatch.setattr(stored, "find_passes", lambda *a, **k: calls.append(1) or real(*a, **k))
        cut = 0
        for start, end in (
            (START + timedelta(hours=5, minutes=17, seconds=3.5), START + timedelta(hours=9)),
            (START + timedelta(hours=1, minutes=1), START + timedelta(hours=23, minutes=58)),
            (START + timedelta(minutes=7), START + timedelta(minutes=50)),
        ):
            for some in (None, [satellites[1].id, satellites[3].id]):
                read = stored.window_passes(
                    session,
                    start,
                    end,
                    now=NOW,
                    satellite_ids=some,
                    station_ids=[g.id for g in stations[1:]],
                )
                assert read.prediction is not None
                assert whole.prediction is not None
                assert read.prediction.id == whole.prediction.id
                chosen = [s for s in satellites if some is None or s.id in some]
                fresh = find_passes(
                    [elements_of(e) for s in chosen for e in s.element_sets],
                    [station_of(g) for g in stations[1:]],
                    start,
                    end,
                )
                _same([p.found for p in read.passes], fresh.rows())
                cut += sum(p.found.truncated for p in read.passes)
        assert calls == []
        assert cut > 5  # passes at the edges were cut
        assert session.scalar(select(func.count()).select_from(PassPrediction)) == 1
        # A window the stored one does not hold is predicted over whole UTC days.
        later = stored.window_passes(
            session, END + timedelta(hours=1), END + timedelta(hours=30), now=NOW
        )
        assert later.prediction is not None
        assert (later.prediction.start, later.prediction.end_at) == (END, END + timedelta(days=2))
