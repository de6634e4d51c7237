"""The demo's post-launch interpretation: a light curve and a season of optical products.

Archived like any product, and analysed on the path the service takes
(``archive.analyses``):

- ESA's agreement asks for a transit search on each of its light curves at ingest; the
  demo archives one as a CHEOPS product, owned by ESA. It is a real light curve, but
  Kepler's (Kepler-6, a hot Jupiter: P = 3.2347 d, about 1 % deep; NASA, public domain)
  standing in for CHEOPS photometry, which no package ships;
- CNES's agreement asks for NDVI at ingest (over each of its areas that the product
  meets); the demo archives ``NDVI_DATES`` VENuS-like L2A products (MUSCATE layout)
  acquired by the ISS's imager, owned by CNES, built from a real Sentinel-2 window
  with a seeded season (NDVI rising and falling) and seeded clouds on 40 % of the
  dates; then it asks, as a CNES operator would, for the season's series over a field
  of the window (one run over every date).

Every run's derived product is in the archive under its sources' terms.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jointsat.analysis.registry import KIND_PROPERTY, ProductKind
from jointsat.archive.analyses import request_runs, run_queued
from jointsat.archive.blobs import BlobStore
from jointsat.archive.ingest import check_ingest, store_file
from jointsat.archive.metadata import SkyPosition, product_metadata
from jointsat.archive.rights import Caller
from jointsat.store.analyses import run
from jointsat.store.tables import Agreement, Partner

LIGHT_CURVE_FILE = "kplr010874614-2009131105131_llc.fits"
"""The bundled light curve: Kepler-6, quarter 0 (9.7 days, 29.4-minute cadence)."""
KEPLER6_SKY = SkyPosition(286.9709, 48.0876)  # Kepler-6 (KIC 10874614), J2000
LIGHT_CURVE_OWNER = "esa"
CHEOPS = 44874
NDVI_OWNER = "cnes"
ISS = 25544
NDVI_DATES = 10
NDVI_SEED = 19
ON_INGEST = {LIGHT_CURVE_OWNER: ["transits"], NDVI_OWNER: ["ndvi"]}
"""The pipelines the demo's agreements run on their partners' products at ingest."""


@dataclass(frozen=True)
class Analysed:
    """What the demo's analyses made: transit candidates and an NDVI series."""

    light_curve_id: str
    transits_run: int
    transits_product: str | None
    candidates: list[dict[str, Any]]
    optical_ids: list[str]
    on_ingest_runs: int
    series_run: int
    series_product: str | None
    series: list[dict[str, Any]]
    failures: list[str]


def _pixel_box(first: tuple[int, int], last: tuple[int, int]) -> dict[str, Any]:
    """Return the box from pixel corner ``first`` to ``last`` (column, row) in WGS-84."""
    from jointsat.analysis.optical import aoi_footprint
    from jointsat.analysis.venus_like import DEMO_CRS, DEMO_TRANSFORM

    west, north = DEMO_TRANSFORM @ first
    east, south = DEMO_TRANSFORM @ last
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    crs = {"type": "name", "properties": {"name": DEMO_CRS}}
    return aoi_footprint({"type": "Polygon", "coordinates": [ring], "crs": crs})


def field_of_the_window() -> dict[str, Any]:
    """Return the demo's field: a polygon inside the VENuS-like products' window (WGS84)."""
    return _pixel_box((20, 15), (80, 85))


def _window_footprint() -> dict[str, Any]:
    return _pixel_box((0, 0), (100, 100))


def set_on_ingest(session: Session) -> None:
    """Have the demo agreements ask for their analyses at ingest (``ON_INGEST``)."""
    for agreement in session.scalars(select(Agreement).join(Partner)):
        names = ON_INGEST.get(agreement.partner.code)
        if names:
            agreement.analyses = list(names)


def _archive(session: Session, blobs: BlobStore, path: Path, now: datetime, **fields: Any) -> str:
    metadata = product_metadata(**fields)
    ingest = check_ingest(session, metadata, user=None)
    product, _ = ingest.record(session, [store_file(blobs, path)], now=now)
    return product.id


def analyse(
    sessions: sessionmaker[Session], blobs: BlobStore, start: datetime, *, now: datetime
) -> Analysed:
    """Archive the demo's light curve and optical season, run the analyses; return results.

    ``start``: when the light curve's stand-in acquisition begins (the demo's week).
    """
    from jointsat.analysis.venus_like import build_date, load_demo_tile, seeded_season

    with sessions() as session:
        set_on_ingest(session)
        session.commit()
        curve = resources.files("jointsat") / "data" / LIGHT_CURVE_FILE
        with resources.as_file(curve) as curve_path:
            curve_id = _archive(
                session,
                blobs,
                curve_path,
                now,
                satellite=CHEOPS,
                instrument="photometer (a Kepler light curve standing in)",
                processing_level="L1",
                acquired_start=start,
                acquired_end=start + timedelta(days=9.7267),
                sky=KEPLER6_SKY,
                owners=[LIGHT_CURVE_OWNER],
                properties={KIND_PROPERTY: ProductKind.LIGHT_CURVE.value, "target": "Kepler-6"},
            )
        season = seeded_season(load_demo_tile(), NDVI_DATES, NDVI_SEED)
        footprint = _window_footprint()
        optical_ids = []
        with tempfile.TemporaryDirectory(prefix="jointsat-demo-") as folder:
            for date in season:
                path = build_date(folder, date)
                optical_ids.append(
                    _archive(
                        session,
                        blobs,
                        path,
                        now,
                        satellite=ISS,
                        instrument="imager (VENuS-like L2A, MUSCATE)",
                        processing_level="L2A",
                        acquired_start=date.acquired,
                        acquired_end=date.acquired + timedelta(seconds=10),
                        footprint=footprint,
                        owners=[NDVI_OWNER],
                        properties={KIND_PROPERTY: ProductKind.OPTICAL_L2A.value},
                    )
                )
        cnes_id = session.scalar(select(Partner.id).where(Partner.code == NDVI_OWNER))
        (series,) = request_runs(
            session,
            "ndvi",
            optical_ids,
            {"aoi": field_of_the_window()},
            caller=Caller(partner_id=cnes_id),
            partner_id=cnes_id,
            user_id=None,
            now=now,
        )
        series_id = series.id
    done = run_queued(sessions, blobs, clock=lambda: now)
    with sessions() as session:
        records = {i: run(session, i) for i in done}
        failures = [
            f"run {i} ({r.pipeline}): {r.error}"
            for i, r in records.items()
            if r is not None and r.error
        ]
        transits = next(r for r in records.values() if r is not None and r.pipeline == "transits")
        series_record = records[series_id]
        assert series_record is not None
        candidates = (transits.summary or {}).get("curves", [{}])[0].get("candidates", [])
        return Analysed(
            light_curve_id=curve_id,
            transits_run=transits.id,
            transits_product=transits.product_id,
            candidates=list(candidates),
            optical_ids=optical_ids,
            on_ingest_runs=sum(
                1 for r in records.values() if r is not None and r.trigger == "ingest"
            ),
            series_run=series_id,
            series_product=series_record.product_id,
            series=list((series_record.summary or {}).get("dates", [])),
            failures=failures,
        )


def best(candidates: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the best candidate (the first), None if none."""
    return candidates[0] if candidates else None
