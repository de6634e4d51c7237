"""The store's side of analyses: derived products follow their sources' agreements, runs
queued at ingest meet the right areas, and a run is claimed by one process only.

The release times expected are computed by the pure rule on the sources as they stand
after each change (``archive.rights``); the areas' boxes are drawn so that the answer
is plain.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jointsat.analysis.registry import KIND_PROPERTY, pipeline
from jointsat.archive.analyses import MAX_ATTEMPTS, queue_on_ingest, queued_runs
from jointsat.archive.blobs import Blob
from jointsat.archive.metadata import product_metadata
from jointsat.archive.rights import ReleaseTimes, derived_release_times
from jointsat.errors import ArchiveInputError
from jointsat.store import jobs
from jointsat.store.analyses import add_run, record_derived
from jointsat.store.consortium import change_agreement
from jointsat.store.database import open_engine, session_factory
from jointsat.store.products import StoredFile, record_product
from jointsat.store.tables import (
    Agreement,
    AnalysisRun,
    AreaRecord,
    AreaVisibility,
    Partner,
    Product,
    Satellite,
    SatelliteOperator,
    StudyStatus,
)

END = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
VENUS = 42901


@pytest.fixture
def sessions(store_url: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = open_engine(store_url)
    factory = session_factory(engine)
    with factory.begin() as session:
        for pid, embargo, public in ((1, 10, 100), (2, 30, None)):
            partner = Partner(id=pid, code=f"p{pid}", name=f"P{pid}", contribution_share=0.5)
            session.add(
                Agreement(partner=partner, embargo_days=embargo, public_release_days=public)
            )
        session.flush()
        session.add(
            Satellite(
                norad_id=VENUS,
                name="VENUS",
                operators=[SatelliteOperator(partner_id=1, fraction=1.0)],
            )
        )
    yield factory
    engine.dispose()


def _product(session: Session, owner: str, tag: str, *, west: float = 0.0) -> Product:
    box = {
        "type": "Polygon",
        "coordinates": [
            [[west, 40.0], [west + 1, 40.0], [west + 1, 41.0], [west, 41.0], [west, 40.0]]
        ],
    }
    metadata = product_metadata(
        satellite=VENUS,
        instrument="imager",
        acquired_start=END - DAY,
        acquired_end=END,
        owners=[owner],
        footprint=box,
        properties={KIND_PROPERTY: "optical-l2a"},
    )
    blob = Blob(tag * 64, 10)
    product, _ = record_product(session, metadata, [StoredFile(f"{tag}.zip", blob)], now=END)
    return product


def _derive(session: Session, sources: list[Product], now: datetime) -> Product:
    """Record the same NDVI file as derived from ``sources``."""
    return record_derived(
        session,
        sources,
        [StoredFile("ndvi.csv", Blob("c" * 64, 5))],
        kind_properties={KIND_PROPERTY: "ndvi-series"},
        footprint=None,
        processing_level="derived",
        now=now,
    )


def _times(product: Product) -> ReleaseTimes:
    return ReleaseTimes(product.members_from, product.public_from)


def test_a_derived_product_follows_its_sources_when_an_agreement_changes(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        one, two = _product(session, "p1", "a"), _product(session, "p2", "b")
        derived = _derive(session, [one, two], END)
        assert derived.owner_ids == []
        assert _times(derived) == derived_release_times([_times(one), _times(two)])
        assert derived.members_from == END + 30 * DAY
        # partner 2 shortens its embargo and releases to the public: the derived follows
        change_agreement(
            session,
            session.scalars(select(Agreement).where(Agreement.partner_id == 2)).one(),
            {"embargo_days": 5, "public_release_days": 50},
        )
        session.commit()
        session.refresh(derived)
        assert _times(derived) == derived_release_times([_times(one), _times(two)])
        assert derived.members_from == END + 10 * DAY  # partner 1's, now the latest
        assert derived.public_from == END + 100 * DAY
        # the same files from the same sources are the same product
        again = _derive(session, [one, two], END + DAY)
        assert again.id == derived.id
        assert again.source_ids == [one.id, two.id]
        # the same files said to come from other sources are refused
        with pytest.raises(ArchiveInputError, match="from other sources"):
            _derive(session, [two, one], END)


def test_ingest_queues_a_run_per_area_of_the_owner_that_the_footprint_meets(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        agreement = session.scalars(select(Agreement).where(Agreement.partner_id == 1)).one()
        agreement.analyses = ["ndvi", "transits"]
        for name, owner, west in (("meets", 1, 0.5), ("far", 1, 20.0), ("theirs", 2, 0.5)):
            ring = [
                [west, 40.2],
                [west + 0.2, 40.2],
                [west + 0.2, 40.4],
                [west, 40.4],
                [west, 40.2],
            ]
            session.add(
                AreaRecord(
                    partner_id=owner,
                    name=name,
                    visibility=AreaVisibility.CONSORTIUM,
                    feature={
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    },
                    created_at=END,
                )
            )
        session.commit()
        product = _product(session, "p1", "d")
        runs = queue_on_ingest(session, product, END)
        meets = session.scalars(select(AreaRecord.id).where(AreaRecord.name == "meets")).one()
        assert [(r.pipeline, r.parameters, r.trigger) for r in runs] == [
            ("ndvi", {"area_id": meets}, "ingest")
        ]  # transits reads light curves, not optical products
        assert queue_on_ingest(session, product, END) == []  # not queued twice


def _queued_run(sessions: sessionmaker[Session], tag: str) -> int:
    """Queue an ndvi run over a new product of partner 1's; return its id."""
    with sessions() as session:
        product = _product(session, "p1", tag)
        run = add_run(
            session,
            pipeline("ndvi"),
            {"aoi": {}},
            [product],
            trigger="request",
            partner_id=1,
            user_id=None,
            now=END,
        )
        session.commit()
        return run.id


def test_an_abandoned_run_is_queued_again_then_failed_after_its_tries(
    sessions: sessionmaker[Session],
) -> None:
    run_id = _queued_run(sessions, "f")
    moment = END
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with sessions() as session:
            assert jobs.claim(session, AnalysisRun, run_id, moment)
            record = session.get(AnalysisRun, run_id)
            assert record is not None
            record.attempts = attempt  # what execute_run counts as it starts
            session.commit()
        moment += timedelta(minutes=6)  # the process stopped: no heartbeat since
        waiting = queued_runs(sessions, lambda at=moment: at)
        assert waiting == ([run_id] if attempt < MAX_ATTEMPTS else []), attempt
    with sessions() as session:
        record = session.get(AnalysisRun, run_id)
        assert record is not None
        assert (record.status, record.error) == (StudyStatus.FAILED, jobs.INTERRUPTED)


def test_a_run_is_claimed_once_and_an_abandoned_one_fails(sessions: sessionmaker[Session]) -> None:
    run_id = _queued_run(sessions, "e")
    with sessions() as session:
        assert jobs.claim(session, AnalysisRun, run_id, END)
        assert not jobs.claim(session, AnalysisRun, run_id, END)
        assert jobs.fail_abandoned(session, AnalysisRun, END + timedelta(minutes=4)) == 0
        assert jobs.fail_abandoned(session, AnalysisRun, END + timedelta(minutes=6)) == 1
        failed = session.get(AnalysisRun, run_id)
        assert failed is not None
        session.refresh(failed)
        assert failed.status is StudyStatus.FAILED
        assert failed.error == jobs.INTERRUPTED
