"""Predict passes once per network and window, keep them in the store, read them cut to size.

A prediction covers the whole network: every satellite with element sets or
ephemerides over every station. It is identified by a fingerprint of everything
its passes depend on: the element sets and ephemerides (stored ones never
change), each station's
geometry, the window and the engine's version. A reader asks for a window and
the satellites and stations it wants: any stored prediction of the same network
whose window holds the asked one is read back, filtered and cut to the window
(as a prediction of that window would report the passes at its edges); else the
network is predicted over the whole UTC days around the window. Writing a
prediction does not bump the store's revision: it adds no fact, only a cached
consequence.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from jointsat import __version__
from jointsat.errors import PredictionRefusedError
from jointsat.orbits.freshness import DEFAULT_RULE, Freshness, StaleRule, window_freshness
from jointsat.orbits.passes import Pass, SatelliteId, find_passes
from jointsat.orbits.subwindow import cut_passes
from jointsat.store.convert import orbit_of, records_of, station_of
from jointsat.store.tables import GroundStation, PassPrediction, PassRecord, Satellite

ENGINE = f"jointsat {__version__} find_passes"
KEEP_PREDICTIONS = 256  # the newest predictions kept; older ones are dropped on insert


@dataclass(frozen=True)
class StoredPass:
    """A stored pass as a prediction of the asked window reports it.

    ``id`` is the stored row's: the same pass in every window that holds a part of it.
    """

    id: int
    satellite_id: int
    station_id: int
    found: Pass


Budget = Callable[[], float | None]
"""Spend one new prediction: None if it may be made, else the seconds until one may."""


@dataclass(frozen=True)
class WindowPasses:
    """The passes of a window, and the stored prediction they were read from."""

    prediction: PassPrediction | None  # None: the store has no satellites or no stations
    passes: list[StoredPass]


def window_passes(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    satellite_ids: Collection[int] | None = None,
    station_ids: Collection[int] | None = None,
    budget: Budget | None = None,
    stale_rule: StaleRule = DEFAULT_RULE,
    executor: Executor | None = None,
) -> WindowPasses:
    """Return the passes in [start, end] of these satellites over these stations (None: all).

    The passes are the network's stored prediction's, by AOS then satellite then
    station, cut to the window; a missing prediction is made and committed at
    once (see :func:`stored_passes`), if ``budget`` (None: no limit) allows it, else
    ``PredictionRefusedError``. The ages of the elements (stored passes keep none)
    are computed now, under ``stale_rule``. A prediction runs on ``executor`` when
    given (the service's Dask cluster), else here.
    """
    satellites, stations = network(session)
    if not satellites or not stations:
        return WindowPasses(None, [])
    prediction = _covering(session, satellites, stations, start, end)
    if prediction is None:
        days = whole_days(start, end)
        wait = None if budget is None else budget()
        if wait is not None:
            raise PredictionRefusedError(wait)
        prediction, _ = stored_passes(
            session, satellites, stations, *days, now=now, executor=executor
        )
    query = select(PassRecord).where(
        PassRecord.prediction_id == prediction.id, PassRecord.los > start, PassRecord.aos < end
    )
    if satellite_ids is not None:
        query = query.where(PassRecord.satellite_id.in_(satellite_ids))
    if station_ids is not None:
        query = query.where(PassRecord.station_id.in_(station_ids))
    records = list(session.scalars(query))
    ids = {s.id: SatelliteId(s.norad_id, s.name) for s in satellites}
    sites = {g.id: station_of(g) for g in stations}
    found = [
        Pass(
            satellite=ids[r.satellite_id],
            station=sites[r.station_id],
            **{name: getattr(r, name) for name in _MEASURED},
            elements_age_days=math.nan,  # computed by cut_passes
            stale=False,
        )
        for r in records
    ]
    cut = cut_passes(found, records_of(satellites), start, end, stale_rule)
    passes = [
        StoredPass(r.id, r.satellite_id, r.station_id, p) for r, p in zip(records, cut, strict=True)
    ]
    passes.sort(key=lambda p: (p.found.aos, p.satellite_id, p.station_id))
    return WindowPasses(prediction, passes)


_MEASURED = (
    "aos",
    "tca",
    "los",
    "max_elevation_deg",
    "aos_azimuth_deg",
    "tca_azimuth_deg",
    "los_azimuth_deg",
    "sunlit",
    "truncated",
)  # what a stored pass keeps of the engine's Pass


def network(session: Session) -> tuple[list[Satellite], list[GroundStation]]:
    """Return the network passes are predicted for: satellites with element sets or
    ephemerides, stations."""
    satellites = session.scalars(
        select(Satellite)
        .options(selectinload(Satellite.element_sets), selectinload(Satellite.ephemerides))
        .order_by(Satellite.id)
    )
    stations = session.scalars(select(GroundStation).order_by(GroundStation.id))
    return [s for s in satellites if s.element_sets or s.ephemerides], list(stations)


def freshness_of(
    satellites: Sequence[Satellite], start: datetime, end: datetime, rule: StaleRule
) -> list[Freshness]:
    """Return how old each satellite's stored elements get over [start, end]."""
    orbits = (orbit_of(s) for s in satellites)
    return [window_freshness(o, start, end, rule) for o in orbits if o is not None]


def whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Return the UTC midnights at or before ``start`` and at or after ``end``."""
    first = datetime.combine(start.astimezone(UTC).date(), time(), UTC)
    last = datetime.combine(end.astimezone(UTC).date(), time(), UTC)
    return first, last if last >= end else last + timedelta(days=1)


def _covering(
    session: Session,
    satellites: Sequence[Satellite],
    stations: Sequence[GroundStation],
    start: datetime,
    end: datetime,
) -> PassPrediction | None:
    """Return the newest stored prediction of this network whose window holds [start, end]."""
    candidates = session.scalars(
        select(PassPrediction)
        .where(
            PassPrediction.engine == ENGINE,
            PassPrediction.start <= start,
            PassPrediction.end_at >= end,
        )
        .order_by(PassPrediction.id.desc())
    )
    for prediction in candidates:
        key = fingerprint(satellites, stations, prediction.start, prediction.end_at)
        if key == prediction.fingerprint:
            return prediction
    return None


def fingerprint(
    satellites: Sequence[Satellite],
    stations: Sequence[GroundStation],
    start: datetime,
    end: datetime,
) -> str:
    """Return the SHA-256 of what the passes of these satellites and stations depend on."""
    facts = {
        "engine": ENGINE,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "element_sets": sorted(e.id for s in satellites for e in s.element_sets),
        "ephemerides": sorted(e.id for s in satellites for e in s.ephemerides),
        "stations": [
            [g.id, g.lat_deg, g.lon_deg, g.alt_m, g.min_elevation_deg, g.horizon_mask]
            for g in sorted(stations, key=lambda g: g.id)
        ],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def stored_passes(
    session: Session,
    satellites: Sequence[Satellite],
    stations: Sequence[GroundStation],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    executor: Executor | None = None,
) -> tuple[PassPrediction, list[PassRecord]]:
    """Return the prediction for these satellites, stations and window, and its passes by AOS.

    The satellites' element sets and ephemerides must be loaded. A new prediction is committed at
    once, so call this with no uncommitted changes in the session; if another
    process stored the same prediction meanwhile, its copy is read instead. The
    prediction's blocks of satellites run on ``executor`` when given, else here.
    """
    if session.new or session.dirty or session.deleted:
        raise ValueError("commit or discard the session's changes before predicting passes")
    key = fingerprint(satellites, stations, start, end)
    prediction = _find(session, key)
    if prediction is None:
        rows, prediction_row = _predict(satellites, stations, start, end, key, now, executor)
        try:
            prediction_id = session.scalars(
                insert(PassPrediction).values(**prediction_row).returning(PassPrediction.id)
            ).one()
            if rows:
                session.execute(
                    insert(PassRecord), [{**r, "prediction_id": prediction_id} for r in rows]
                )
            session.execute(
                delete(PassPrediction).where(PassPrediction.id <= prediction_id - KEEP_PREDICTIONS)
            )
            session.commit()
        except IntegrityError:  # another process stored this fingerprint first
            session.rollback()
        prediction = _find(session, key)
        if prediction is None:  # pragma: no cover - the row was committed just above
            raise RuntimeError("a stored pass prediction vanished")
    passes = list(
        session.scalars(
            select(PassRecord)
            .where(PassRecord.prediction_id == prediction.id)
            .order_by(PassRecord.aos, PassRecord.satellite_id, PassRecord.station_id)
        )
    )
    return prediction, passes


def _find(session: Session, key: str) -> PassPrediction | None:
    return session.scalars(
        select(PassPrediction).where(PassPrediction.fingerprint == key)
    ).one_or_none()


def _predict(
    satellites: Sequence[Satellite],
    stations: Sequence[GroundStation],
    start: datetime,
    end: datetime,
    key: str,
    now: datetime,
    executor: Executor | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found = find_passes(
        records_of(satellites),
        [station_of(g) for g in stations],
        start,
        end,
        executor=executor,
    )
    by_norad = {s.norad_id: s.id for s in satellites}
    satellite_ids = [by_norad[s.norad_id] for s in found.satellites]
    rows = [
        {
            "satellite_id": satellite_ids[int(i)],
            "station_id": stations[int(j)].id,
            **{name: getattr(p, name) for name in _MEASURED},
        }
        for p, i, j in zip(found.rows(), found.satellite, found.station, strict=True)
    ]
    prediction = {
        "fingerprint": key,
        "start": start,
        "end_at": end,
        "element_set_ids": sorted(e.id for s in satellites for e in s.element_sets),
        "station_ids": sorted(g.id for g in stations),
        "engine": ENGINE,
        "computed_at": now,
    }
    return rows, prediction


def forget_predictions(session: Session) -> None:
    """Drop every stored prediction (their passes go with them)."""
    session.execute(delete(PassPrediction))
