"""Keep the analysis runs and the derived products they make (docs/analysis.md).

A run is stored ``queued`` with the products it reads; a process claims it
(``store.jobs``), runs its pipeline, and ``record_derived`` commits what it made as a
product of the archive, linked to its sources (``derived_from``), owned and released
under ``archive.rights``' rule for derived products. Who sees a run is who sees every
one of its sources (``visible_runs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import false, select, update
from sqlalchemy.orm import Session, selectinload

from jointsat.analysis.registry import Pipeline
from jointsat.archive.metadata import geometry_bbox, product_id
from jointsat.archive.rights import (
    Caller,
    ReleaseTimes,
    derived_over_area,
    derived_owners,
    derived_release_times,
    sees_area,
    sees_derived,
)
from jointsat.errors import ArchiveInputError
from jointsat.store import jobs
from jointsat.store.products import (
    StoredFile,
    area_property,
    area_rule,
    commit_new,
    visible,
)
from jointsat.store.tables import (
    AnalysisRun,
    AnalysisRunSource,
    Product,
    ProductFile,
    ProductOwner,
    ProductSource,
    StudyStatus,
)


def add_run(
    session: Session,
    pipeline: Pipeline,
    parameters: Mapping[str, Any],
    sources: Sequence[Product],
    *,
    trigger: str,
    partner_id: int | None,
    user_id: int | None,
    now: datetime,
) -> AnalysisRun:
    """Add a queued run of ``pipeline`` over ``sources`` to the session (not committed)."""
    run = AnalysisRun(
        pipeline=pipeline.name,
        version=pipeline.version,
        parameters=dict(parameters),
        trigger=trigger,
        status=StudyStatus.QUEUED,
        partner_id=partner_id,
        created_by=user_id,
        attempts=0,
        area_id=parameters.get("area_id"),
        created_at=now,
        source_links=[
            AnalysisRunSource(product_id=p.id, position=i) for i, p in enumerate(sources)
        ],
    )
    session.add(run)
    return run


def _run_query() -> Any:
    return select(AnalysisRun).options(
        selectinload(AnalysisRun.source_links)
        .selectinload(AnalysisRunSource.product)
        .selectinload(Product.owners)
    )


def run(session: Session, run_id: int) -> AnalysisRun | None:
    """Return a run with its sources, None if absent."""
    found: AnalysisRun | None = session.scalars(
        _run_query().where(AnalysisRun.id == run_id)
    ).one_or_none()
    return found


def source_products(run: AnalysisRun) -> list[Product]:
    """Return the products a run reads, in the order given."""
    return [link.product for link in run.source_links]


def sees_run(session: Session, caller: Caller, run: AnalysisRun, now: datetime) -> bool:
    """Return whether ``caller`` sees a run: it sees every product the run reads, and the
    stored area it runs over."""
    if not sees_derived(caller, [_rights(p) for p in source_products(run)], now):
        return False
    area = area_rule(session, run.area_id)
    return area is None or sees_area(caller, *area)


def _rights(product: Product) -> tuple[list[int], ReleaseTimes]:
    return product.owner_ids, ReleaseTimes(product.members_from, product.public_from)


def visible_runs(
    session: Session,
    caller: Caller,
    now: datetime,
    *,
    status: StudyStatus | None = None,
    pipeline: str | None = None,
    product: str | None = None,
) -> list[AnalysisRun]:
    """Return the runs ``caller`` sees, newest first, filtered as asked.

    ``product``: the runs that read it or made it.
    """
    query = _run_query().order_by(AnalysisRun.id.desc())
    if status is not None:
        query = query.where(AnalysisRun.status == status)
    if pipeline is not None:
        query = query.where(AnalysisRun.pipeline == pipeline)
    if product is not None:
        reads = select(AnalysisRunSource.run_id).where(AnalysisRunSource.product_id == product)
        made = AnalysisRun.product_id == product
        if visible(session, caller, now, product) is None:  # only a seen product is named
            made = false()
        query = query.where(AnalysisRun.id.in_(reads) | made)
    return [r for r in session.scalars(query) if sees_run(session, caller, r, now)]


def queued_for(
    session: Session, pipeline: str, product_ids: Sequence[str], parameters: Mapping[str, Any]
) -> bool:
    """Return whether a run of ``pipeline`` with these parameters over exactly these
    products waits or runs."""
    waiting = session.scalars(
        _run_query().where(
            AnalysisRun.pipeline == pipeline,
            AnalysisRun.status.in_([StudyStatus.QUEUED, StudyStatus.RUNNING]),
        )
    )
    return any(
        r.source_ids == list(product_ids) and r.parameters == dict(parameters) for r in waiting
    )


def requeue_abandoned(session: Session, now: datetime, max_attempts: int) -> int:
    """Queue again the running runs whose heartbeat stopped, tried under ``max_attempts``
    times (committed); return how many."""
    done = session.execute(
        update(AnalysisRun)
        .where(
            AnalysisRun.status == StudyStatus.RUNNING,
            AnalysisRun.heartbeat_at < now - jobs.ABANDONED_AFTER,
            AnalysisRun.attempts < max_attempts,
        )
        .values(status=StudyStatus.QUEUED, started_at=None, heartbeat_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(done, "rowcount", 0) or 0)


def requeue_failed(session: Session, run: AnalysisRun) -> None:
    """Queue a failed run again (committed); its sources and parameters stay."""
    if run.status is not StudyStatus.FAILED:
        raise ArchiveInputError(
            f"analysis run {run.id} is {run.status.value}; only a failed run is retried"
        )
    run.status = StudyStatus.QUEUED
    run.error = None
    run.started_at = run.heartbeat_at = run.finished_at = None
    session.commit()


def record_derived(
    session: Session,
    sources: Sequence[Product],
    files: Sequence[StoredFile],
    *,
    kind_properties: Mapping[str, Any],
    footprint: dict[str, Any] | None,
    processing_level: str,
    now: datetime,
    area_id: int | None = None,
) -> Product:
    """Commit the product an analysis made from ``sources``; return it (or the same one).

    Its satellite and instrument are its sources' (which must share a satellite); its
    acquisition spans theirs; its owners and release times follow the rule for derived
    products (``archive.rights``). The same files from the same sources give the product
    recorded already: running a pipeline again on the same inputs makes nothing new.
    A product computed over a stored area (``area_id``) is under the area's rule too
    (``rights.derived_over_area``).
    """
    if not sources:
        raise ArchiveInputError("a derived product needs at least one source")
    satellites = {p.satellite_id for p in sources}
    if len(satellites) != 1:
        raise ArchiveInputError("the sources of one derived product must come from one satellite")
    first = sources[0]
    ident = product_id(first.satellite.norad_id, [f.blob.sha256 for f in files])
    existing = session.get(Product, ident)
    if existing is not None:
        if existing.source_ids != [p.id for p in sources]:
            raise ArchiveInputError(f"product {ident} is archived already, from other sources")
        return existing
    area = area_rule(session, area_id)
    owners, times = derived_over_area(
        derived_owners(p.owner_ids for p in sources),
        derived_release_times(_rights(p)[1] for p in sources),
        area,
    )
    bbox = None if footprint is None else geometry_bbox(footprint)
    sky = [(p.ra_deg, p.dec_deg) for p in sources if p.ra_deg is not None]
    product = Product(
        id=ident,
        satellite_id=first.satellite_id,
        instrument=first.instrument,
        processing_level=processing_level,
        acquired_start=min(p.acquired_start for p in sources),
        acquired_end=max(p.acquired_end for p in sources),
        footprint=footprint,
        bbox_west=None if bbox is None else bbox[0],
        bbox_south=None if bbox is None else bbox[1],
        bbox_east=None if bbox is None else bbox[2],
        bbox_north=None if bbox is None else bbox[3],
        ra_deg=sky[0][0] if len(set(sky)) == 1 else None,
        dec_deg=sky[0][1] if len(set(sky)) == 1 else None,
        contact_id=None,
        properties={**kind_properties, **area_property(area_id, area)},
        members_from=times.members_from,
        public_from=times.public_from,
        ingested_at=now,
        ingested_by=None,
        owners=[ProductOwner(partner_id=p) for p in sorted(owners)],
        files=[ProductFile(name=f.name, media_type=f.media_type, **asdict(f.blob)) for f in files],
        source_links=[ProductSource(source_id=p.id, position=i) for i, p in enumerate(sources)],
    )
    return commit_new(session, product) or product
