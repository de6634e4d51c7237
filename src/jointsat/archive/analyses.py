"""Run analysis pipelines on archived products: the one path for the CLI, service and demo.

1. ``request_runs`` (by hand: ``jointsat analyse run``, ``POST /api/v1/analyses``) or
   ``queue_on_ingest`` (for the pipelines an owner's agreement lists) stores runs
   ``queued``, after checking the pipeline, its parameters, the products' kinds and
   that the caller sees every product (and the area) it names;
2. ``execute_run`` claims a queued run, reads its sources' files from the archive,
   runs the pipeline (``jointsat.analysis.pipelines.compute``: in this process, or on
   the executor handed in, a Dask cluster's with ``--cluster``), stores the files it
   made as durable blobs, then commits the derived product (``store.analyses``) and
   the run ``done``. Any failure is stored on the run with its reason and loses
   nothing: the sources stay, and ``retry`` queues the run again.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jointsat.analysis.pipelines import (
    JSON_TYPE,
    MadeFile,
    Outcome,
    SourceFile,
    check_settings,
    compute,
    json_bytes,
)
from jointsat.analysis.registry import (
    KIND_PROPERTY,
    Pipeline,
    Sources,
    check_parameters,
    pipeline,
    pipelines_reading,
    product_kind,
)
from jointsat.archive.blobs import BlobStore
from jointsat.archive.metadata import geometry_bbox
from jointsat.archive.rights import Caller, sees_area
from jointsat.errors import AnalysisInputError
from jointsat.operations.events import EventKind
from jointsat.store import jobs
from jointsat.store.analyses import (
    add_run,
    queued_for,
    record_derived,
    requeue_abandoned,
    requeue_failed,
    run,
    source_products,
)
from jointsat.store.events import record_event
from jointsat.store.products import StoredFile, visible
from jointsat.store.tables import Agreement, AnalysisRun, AreaRecord, Product, StudyStatus

_log = logging.getLogger(__name__)

REQUEST = "request"
INGEST = "ingest"


def request_runs(
    session: Session,
    name: str,
    product_ids: Sequence[str],
    parameters: Mapping[str, Any],
    *,
    caller: Caller,
    partner_id: int | None,
    user_id: int | None,
    now: datetime,
) -> list[AnalysisRun]:
    """Queue runs of pipeline ``name`` over the products (committed); return them.

    A product the caller may not see is refused as if it did not exist; so is an area.
    Pipelines that read each product alone get a run per product, the others one run
    over all of them. Bad input raises ``AnalysisInputError``.
    """
    found = pipeline(name)
    params = check_parameters(found, parameters)
    if not product_ids:
        raise AnalysisInputError("name at least one product to analyse")
    if len(set(product_ids)) != len(product_ids):
        raise AnalysisInputError("a product is named twice")
    products = []
    for ident in product_ids:
        product = visible(session, caller, now, ident)
        if product is None:
            raise AnalysisInputError(f"no product {ident}")
        kind = product_kind(product.properties)
        if kind is not found.reads:
            raise AnalysisInputError(
                f"product {ident} is {'of no kind' if kind is None else 'a ' + kind.value};"
                f" the {found.name} pipeline reads {found.reads.value} products"
            )
        products.append(product)
    if "area_id" in params:
        area_id = params["area_id"]
        if not isinstance(area_id, int) or isinstance(area_id, bool):
            raise AnalysisInputError("area_id is a stored area's id (an integer)")
        area = session.get(AreaRecord, area_id)
        if area is None or not sees_area(caller, area.partner_id, area.visibility.value):
            raise AnalysisInputError(f"no area {area_id}")
    settings = {k: v for k, v in params.items() if k not in ("area_id", "aoi")}
    check_settings(found.name, settings, params.get("aoi"))
    if len({p.satellite_id for p in products}) > 1 and found.sources is Sources.ALL:
        raise AnalysisInputError(
            f"the {found.name} pipeline reads one satellite's products in a run; these come"
            " from several"
        )
    groups = [[p] for p in products] if found.sources is Sources.EACH else [products]
    runs = [
        add_run(
            session,
            found,
            params,
            group,
            trigger=REQUEST,
            partner_id=partner_id,
            user_id=user_id,
            now=now,
        )
        for group in groups
    ]
    session.commit()
    return runs


def queue_on_ingest(session: Session, product: Product, now: datetime) -> list[AnalysisRun]:
    """Queue the runs the product's owners' agreements ask for on ingest (committed).

    For each owner whose agreement lists a pipeline that reads the product's kind: a
    run over the product; a pipeline that needs an area gets a run for each of that
    owner's areas whose box meets the product's footprint. A run already waiting for
    the same pipeline and products is not queued twice.
    """
    readers = {p.name: p for p in pipelines_reading(product_kind(product.properties))}
    if not readers:
        return []
    agreements = session.scalars(
        select(Agreement).where(Agreement.partner_id.in_(product.owner_ids))
    ).all()
    runs: list[AnalysisRun] = []
    for agreement in agreements:
        for name in agreement.analyses or []:
            found = readers.get(name)
            if found is None:
                continue
            for params in _ingest_parameters(session, found, agreement.partner_id, product):
                if queued_for(session, found.name, [product.id], params):
                    continue
                runs.append(
                    add_run(
                        session,
                        found,
                        params,
                        [product],
                        trigger=INGEST,
                        partner_id=agreement.partner_id,
                        user_id=None,
                        now=now,
                    )
                )
    session.commit()
    return runs


def _ingest_parameters(
    session: Session, found: Pipeline, partner_id: int, product: Product
) -> list[dict[str, Any]]:
    if not found.needs_area:
        return [{}]
    if product.bbox_west is None:
        return []
    areas = session.scalars(
        select(AreaRecord).where(AreaRecord.partner_id == partner_id).order_by(AreaRecord.id)
    )
    return [{"area_id": a.id} for a in areas if _meets(product, a.feature)]


def _meets(product: Product, feature: Mapping[str, Any]) -> bool:
    """Return whether an area's box meets the product's footprint box (either may wrap)."""
    if product.bbox_west is None or product.bbox_south is None:
        return False
    west, south, east, north = geometry_bbox(feature.get("geometry", feature))
    if product.bbox_north is None or product.bbox_east is None:
        return False
    if north < product.bbox_south or south > product.bbox_north:
        return False
    mine = _spans(product.bbox_west, product.bbox_east)
    return any(a <= d and c <= b for a, b in mine for c, d in _spans(west, east))


def _spans(west: float, east: float) -> list[tuple[float, float]]:
    """Return a box's longitudes as spans that do not cross the antimeridian."""
    return [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]


def retry(session: Session, run_id: int) -> AnalysisRun:
    """Queue a failed run again (committed)."""
    found = run(session, run_id)
    if found is None:
        raise AnalysisInputError(f"no analysis run {run_id}")
    requeue_failed(session, found)
    return found


def _inputs(blobs: BlobStore, products: Sequence[Product]) -> list[list[SourceFile]]:
    return [
        [
            SourceFile(
                product_id=p.id,
                name=f.name,
                path=str(blobs.locate(f.sha256).resolve()),
                sha256=f.sha256,
            )
            for f in p.files
        ]
        for p in products
    ]


def _area(session: Session, params: Mapping[str, Any]) -> dict[str, Any] | None:
    if "area_id" in params:
        area = session.get(AreaRecord, params["area_id"])
        if area is None:
            raise AnalysisInputError(f"area {params['area_id']} is gone")
        return dict(area.feature)
    aoi = params.get("aoi")
    return None if aoi is None else dict(aoi)


def execute_run(
    sessions: sessionmaker[Session],
    blobs: BlobStore,
    run_id: int,
    *,
    clock: Callable[[], datetime],
    executor: Executor | None = None,
) -> StudyStatus | None:
    """Run a queued run and store what it made, or why it failed; return its status.

    None: it was not queued (another process claimed it, or it is gone). Its heartbeat
    is written while it runs. Nothing is raised for a failing pipeline: its reason is
    stored on the run, without the archive's paths.
    """
    with sessions() as session:
        if not jobs.claim(session, AnalysisRun, run_id, clock()):
            return None

    def beat() -> None:
        with sessions() as session:
            jobs.beat(session, AnalysisRun, run_id, clock())

    with jobs.heartbeat(beat, f"analysis run {run_id}"):
        try:
            with sessions() as session:
                found = run(session, run_id)
                assert found is not None
                found.attempts += 1
                session.commit()
                name, settings = found.pipeline, _settings(found.parameters)
                inputs = _inputs(blobs, source_products(found))
                aoi = _area(session, found.parameters)
            if executor is None:
                outcome = compute(name, settings, inputs, aoi)
            else:
                outcome = executor.submit(compute, name, settings, inputs, aoi).result()
            with sessions() as session:
                product = _record(session, blobs, run_id, outcome, clock())
                values = {
                    "status": StudyStatus.DONE,
                    "summary": outcome.summary,
                    "product_id": product.id,
                    "finished_at": clock(),
                    "error": None,
                }
                _tell(session, run_id, StudyStatus.DONE, clock(), product.id)
                jobs.settle(session, AnalysisRun, run_id, values, StudyStatus.RUNNING)
        except Exception as error:  # stored with its reason, never lost
            _log.info("analysis run %s failed", run_id, exc_info=True)
            with sessions() as session:
                _tell(session, run_id, StudyStatus.FAILED, clock(), None, _reason(error, blobs))
                jobs.fail(session, AnalysisRun, run_id, _reason(error, blobs), clock())
            return StudyStatus.FAILED
    return StudyStatus.DONE


def _tell(
    session: Session,
    run_id: int,
    status: StudyStatus,
    now: datetime,
    product_id: str | None,
    error: str | None = None,
) -> None:
    """Record the run's ``analysis.finished`` event, committed with its settling.

    It is the run's partner's matter; what it made is seen as the product is (a
    derived product: by who sees every source). An admin's run that made nothing is
    not told (no partner's, no product to say who may see it).
    """
    found = run(session, run_id)
    if found is None or (found.partner_id is None and product_id is None):
        return
    payload: dict[str, Any] = {
        "run_id": run_id,
        "pipeline": found.pipeline,
        "status": status.value,
        "product_id": product_id,
    }
    if error is not None:
        payload["error"] = error
    record_event(
        session,
        EventKind.ANALYSIS_FINISHED,
        at=now,
        partner_id=found.partner_id,
        product_id=product_id,
        payload=payload,
    )


def _settings(parameters: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parameters.items() if k not in ("area_id", "aoi")}


def _reason(error: Exception, blobs: BlobStore) -> str:
    """Return why a run failed, as its readers may be told: no path of the archive's."""
    text = (
        str(error) if isinstance(error, AnalysisInputError) else f"{type(error).__name__}: {error}"
    )
    for root in {str(blobs.root), str(blobs.root.resolve())}:
        text = text.replace(root, "<archive>")
    return text


MAX_ATTEMPTS = 3
"""Tries of a run whose process stopped while it ran before it is failed, not requeued."""


def queued_runs(sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> list[int]:
    """Return the queued runs' ids, oldest first, after queueing again those abandoned.

    A run left ``running`` by a process that stopped (no heartbeat for
    ``jobs.ABANDONED_AFTER``) goes back to the queue, up to ``MAX_ATTEMPTS`` tries (the
    same inputs make the same product: nothing is made twice); then it fails.
    """
    with sessions() as session:
        requeue_abandoned(session, clock(), MAX_ATTEMPTS)
        jobs.fail_abandoned(session, AnalysisRun, clock())
        return jobs.queued(session, AnalysisRun)


def _record(
    session: Session, blobs: BlobStore, run_id: int, outcome: Outcome, now: datetime
) -> Product:
    found = run(session, run_id)
    assert found is not None
    products = source_products(found)
    provenance = {
        "pipeline": found.pipeline,
        "version": found.version,
        "parameters": found.parameters,
        "libraries": outcome.libraries,
        "sources": [
            {"id": p.id, "files": [{"name": f.name, "sha256": f.sha256} for f in p.files]}
            for p in products
        ],
    }
    # The provenance is a file of the product too: the same results made from other
    # parameters (another area, another rule) are another product.
    files = [*outcome.files, MadeFile("provenance.json", json_bytes(provenance), JSON_TYPE)]
    stored = [StoredFile(f.name, blobs.put(io.BytesIO(f.data)), f.media_type) for f in files]
    made = pipeline(found.pipeline).makes
    return record_derived(
        session,
        products,
        stored,
        kind_properties={KIND_PROPERTY: made.value, "jointsat:provenance": provenance},
        footprint=outcome.footprint,
        processing_level="derived",
        now=now,
        area_id=found.parameters.get("area_id"),
    )


def run_queued(
    sessions: sessionmaker[Session],
    blobs: BlobStore,
    *,
    clock: Callable[[], datetime],
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    only: Sequence[int] | None = None,
) -> dict[int, StudyStatus | None]:
    """Run the queued runs (``only`` these, if given), oldest first; return each status."""
    waiting = queued_runs(sessions, clock)
    if only is not None:
        waiting = [i for i in waiting if i in set(only)]
    done: dict[int, StudyStatus | None] = {}
    for number, run_id in enumerate(waiting):
        if progress is not None:
            progress(number, len(waiting))
        done[run_id] = execute_run(sessions, blobs, run_id, clock=clock, executor=executor)
    if progress is not None:
        progress(len(waiting), len(waiting))
    return done
