"""Predict passes once and keep them in the store, shared by every process that reads it.

A prediction is identified by a fingerprint of everything its passes depend on:
the element-set versions (stored sets never change), each station's geometry,
the window and the engine's version. Asking again for the same fingerprint reads
the stored passes back; anything else predicts anew. Writing a prediction does
not bump the store's revision: it adds no fact, only a cached consequence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jointsat import __version__
from jointsat.orbits.passes import find_passes
from jointsat.store.convert import elements_of, station_of
from jointsat.store.tables import GroundStation, PassPrediction, PassRecord, Satellite

ENGINE = f"jointsat {__version__} find_passes"
KEEP_PREDICTIONS = 256  # the newest predictions kept; older ones are dropped on insert


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
) -> tuple[PassPrediction, list[PassRecord]]:
    """Return the prediction for these satellites, stations and window, and its passes by AOS.

    The satellites' element sets must be loaded. A new prediction is committed at
    once, so call this with no uncommitted changes in the session; if another
    process stored the same prediction meanwhile, its copy is read instead.
    """
    if session.new or session.dirty or session.deleted:
        raise ValueError("commit or discard the session's changes before predicting passes")
    key = fingerprint(satellites, stations, start, end)
    prediction = _find(session, key)
    if prediction is None:
        rows, prediction_row = _predict(satellites, stations, start, end, key, now)
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
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found = find_passes(
        [elements_of(e) for s in satellites for e in s.element_sets],
        [station_of(g) for g in stations],
        start,
        end,
    )
    by_norad = {s.norad_id: s.id for s in satellites}
    satellite_ids = [by_norad[s.norad_id] for s in found.satellites]
    rows = [
        {
            "satellite_id": satellite_ids[int(i)],
            "station_id": stations[int(j)].id,
            "aos": p.aos,
            "tca": p.tca,
            "los": p.los,
            "max_elevation_deg": p.max_elevation_deg,
            "aos_azimuth_deg": p.aos_azimuth_deg,
            "tca_azimuth_deg": p.tca_azimuth_deg,
            "los_azimuth_deg": p.los_azimuth_deg,
            "sunlit": p.sunlit,
            "truncated": p.truncated,
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
