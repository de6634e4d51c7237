"""``jointsat analyse``: turn light curves and optical products into results.

``analyse transits`` searches light curves for transits and writes the candidates
(JSON); ``analyse ndvi`` turns optical products into an NDVI series over an area
(CSV). Both read files given on the command line, or, with ``--archive``, archived
products by id: then each becomes an analysis run of the store, and what it makes a
derived product of the archive (docs/analysis.md). ``analyse runs`` lists the runs,
``analyse retry`` runs a failed one again, ``analyse queued`` runs those waiting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.cli.output import Column, Format, FormatOption, emit, emit_rows
from jointsat.errors import JointsatError
from jointsat.files import read_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from jointsat.analysis.pipelines import Outcome

analyse_app = typer.Typer(
    name="analyse",
    help="Post-launch interpretation: transit search in light curves, NDVI of optical products.",
    no_args_is_help=True,
)

Archive = Annotated[
    bool,
    typer.Option(
        "--archive",
        help="Read archived products (the arguments are product ids), store each run and "
        "the derived products it makes.",
    ),
]
Output = Annotated[
    Path | None,
    typer.Option("-o", "--output", metavar="FILE", help="Write here (default: stdout)."),
]


@contextmanager
def _sessions(database_url: str | None) -> Iterator[sessionmaker[Session]]:
    from jointsat.store.database import open_engine, session_factory

    with common.store_errors():
        engine = open_engine(common.store_settings(database_url).database_url)
        try:
            yield session_factory(engine)
        finally:
            engine.dispose()


def _run_archived(
    pipeline: str,
    product_ids: Sequence[str],
    parameters: Mapping[str, Any],
    *,
    database_url: str | None,
    executor: Executor | None,
    errors: Console,
    description: str,
) -> list[dict[str, Any]]:
    """Queue runs of ``pipeline`` over archived products, run them; return their summaries."""
    from jointsat.archive.analyses import request_runs, run_queued
    from jointsat.archive.ingest import store_archive
    from jointsat.archive.rights import Caller
    from jointsat.store.analyses import run

    settings = common.store_settings(database_url)
    with _sessions(database_url) as sessions:
        with sessions() as session:
            runs = request_runs(
                session,
                pipeline,
                list(product_ids),
                parameters,
                caller=Caller(admin=True),
                partner_id=None,
                user_id=None,
                now=common.now(),
            )
            ids = [r.id for r in runs]
            blobs = store_archive(settings, session)
        with common.progress_bar(errors, description) as tick:
            run_queued(
                sessions, blobs, clock=common.now, executor=executor, progress=tick, only=ids
            )
        summaries, failures = [], []
        with sessions() as session:
            for run_id in ids:
                record = run(session, run_id)
                assert record is not None
                if record.summary is None:
                    failures.append(f"run {run_id} {record.status.value}: {record.error}")
                    continue
                errors.print(
                    f"run {run_id}: {record.status.value}, derived product {record.product_id}",
                    highlight=False,
                )
                summaries.append(record.summary)
    if failures:
        raise JointsatError("; ".join(failures) + " (jointsat analyse retry RUN_ID)")
    return summaries


def _compute_files(
    pipeline: str,
    groups: Sequence[Sequence[Path]],
    settings: Mapping[str, Any],
    aoi: Mapping[str, Any] | None,
    executor: Executor | None,
    errors: Console,
    description: str,
) -> list[Outcome]:
    """Run ``pipeline`` on files (a run per group), here or on the executor."""
    from jointsat.analysis.pipelines import SourceFile, compute

    inputs = [[[SourceFile(str(p), p.name, str(p))] for p in group] for group in groups]
    outcomes: list[Outcome] = []
    with common.progress_bar(errors, description) as tick:
        if executor is None:
            for done, sources in enumerate(inputs):
                if tick is not None:
                    tick(done, len(inputs))
                outcomes.append(compute(pipeline, settings, sources, aoi))
        else:
            futures = [executor.submit(compute, pipeline, settings, s, aoi) for s in inputs]
            outcomes = [f.result() for f in futures]
        if tick is not None:
            tick(len(inputs), len(inputs))
    return outcomes


def transits(
    curves: Annotated[
        list[str],
        typer.Argument(
            metavar="LIGHTCURVE...",
            help="Light curves (Kepler/TESS/CHEOPS-style FITS, or CSV time,flux,flux_err), "
            "or with --archive the ids of archived light-curve products.",
        ),
    ],
    period_min: Annotated[
        float | None,
        typer.Option("--period-min", metavar="D", min=0.0, help="Shortest period searched, days."),
    ] = None,
    period_max: Annotated[
        float | None,
        typer.Option(
            "--period-max",
            metavar="D",
            min=0.0,
            help="Longest period searched, days (default: half the curve's span).",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option("--method", metavar="tls|bls", help="TLS (default) or BLS, the fast one."),
    ] = None,
    sde_threshold: Annotated[
        float | None,
        typer.Option("--sde-threshold", metavar="SDE", help="Detection threshold (default 7)."),
    ] = None,
    max_candidates: Annotated[
        int | None,
        typer.Option("--max-candidates", metavar="N", min=1, help="Planets searched per curve."),
    ] = None,
    plots: Annotated[
        Path | None,
        typer.Option(
            "--plots",
            metavar="DIR",
            file_okay=False,
            help="Write each curve's plot (phase-folded curve and periodogram) as PNG here.",
        ),
    ] = None,
    output: Output = None,
    archive: Archive = False,
    cluster: common.Cluster = None,
    workers: common.Workers = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Search light curves for transits; write each curve's candidates, best first (JSON).

    Each curve is detrended (wotan's biweight) and searched (TLS or BLS), planet after
    planet, down to the detection threshold. The JSON holds the settings and, per
    curve, the points used and dropped and the candidates: period_d, t0_bjd,
    depth_ppm, duration_h, sde, snr, transits, odd_even_sigma.
    """
    errors = Console(stderr=True)
    settings = {
        k: v
        for k, v in {
            "period_min_d": period_min,
            "period_max_d": period_max,
            "method": method,
            "sde_threshold": sde_threshold,
            "max_candidates": max_candidates,
        }.items()
        if v is not None
    }
    with common.reporting_errors(errors), common.store_errors():
        with common.dask_executor(cluster, workers) as executor:
            if archive:
                summaries = _run_archived(
                    "transits",
                    curves,
                    settings,
                    database_url=database_url,
                    executor=executor,
                    errors=errors,
                    description="searching for transits",
                )
                plot_files: list[tuple[str, bytes]] = []
            else:
                outcomes = _compute_files(
                    "transits",
                    [[_existing(c)] for c in curves],
                    settings,
                    None,
                    executor,
                    errors,
                    "searching for transits",
                )
                summaries = [o.summary for o in outcomes]
                plot_files = [
                    (f.name, f.data) for o in outcomes for f in o.files if f.name.endswith(".png")
                ]
        document = {
            "settings": summaries[0]["settings"],
            "curves": [curve for s in summaries for curve in s["curves"]],
        }
        emit(json.dumps(document, indent=2) + "\n", output)
        if plots is not None:
            _write_plots(plots, plot_files, archive, errors)
        for curve in document["curves"]:
            found = len(curve["candidates"])
            errors.print(f"{escape(curve['name'])}: {found} candidate(s)", highlight=False)


def _write_plots(
    folder: Path, files: Sequence[tuple[str, bytes]], archive: bool, errors: Console
) -> None:
    if archive:
        errors.print("the plots are the derived products' PNG files (jointsat archive get)")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)


def _existing(name: str) -> Path:
    path = Path(name)
    if not path.exists():
        raise JointsatError(f"{name}: no such file or folder")
    return path


def ndvi(
    products: Annotated[
        list[str],
        typer.Argument(
            metavar="PRODUCT...",
            help="Optical products (a MUSCATE L2A folder or zip, a GeoTIFF with red and nir "
            "bands, a STAC item), or with --archive the ids of archived optical products.",
        ),
    ],
    aoi: Annotated[
        Path | None,
        typer.Option(
            "--aoi",
            metavar="AREA.geojson",
            exists=True,
            dir_okay=False,
            help="The area: a GeoJSON geometry, Feature or FeatureCollection (one feature).",
        ),
    ] = None,
    area_id: Annotated[
        int | None,
        typer.Option("--area-id", metavar="ID", help="With --archive: a stored area instead."),
    ] = None,
    smoother: Annotated[
        str | None,
        typer.Option("--smoother", metavar="whittaker|savgol", help="The series' smoother."),
    ] = None,
    min_valid_fraction: Annotated[
        float | None,
        typer.Option(
            "--min-valid-fraction",
            metavar="F",
            min=0.0,
            max=1.0,
            help="Dates with less of the area valid are left out of the smoothing (default 0.5).",
        ),
    ] = None,
    rasters: Annotated[
        Path | None,
        typer.Option(
            "--rasters",
            metavar="DIR",
            file_okay=False,
            help="Write each date's NDVI as a cloud-optimised GeoTIFF here.",
        ),
    ] = None,
    output: Output = None,
    archive: Archive = False,
    cluster: common.Cluster = None,
    workers: common.Workers = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Compute NDVI over an area, per date, and a smoothed series; write it as CSV.

    A row per date: date, valid_fraction (the area's pixels not masked by clouds,
    shadows, saturation or edges), ndvi_mean, ndvi_median, ndvi_smoothed.
    """
    from jointsat.analysis.pipelines import ndvi_csv

    errors = Console(stderr=True)
    settings: dict[str, Any] = {
        k: v
        for k, v in {"smoother": smoother, "min_valid_fraction": min_valid_fraction}.items()
        if v is not None
    }
    with common.reporting_errors(errors), common.store_errors():
        if (aoi is None) == (area_id is None) or (area_id is not None and not archive):
            raise JointsatError("give the area: --aoi FILE, or --area-id ID with --archive")
        geometry = None if aoi is None else _geojson(aoi)
        with common.dask_executor(cluster, workers) as executor:
            if archive:
                area = {"area_id": area_id} if area_id is not None else {"aoi": geometry}
                summaries = _run_archived(
                    "ndvi",
                    products,
                    settings | area,
                    database_url=database_url,
                    executor=executor,
                    errors=errors,
                    description="computing NDVI",
                )
                raster_files: list[tuple[str, bytes]] = []
            else:
                outcomes = _compute_files(
                    "ndvi",
                    [[_existing(p) for p in products]],
                    settings,
                    geometry,
                    executor,
                    errors,
                    "computing NDVI",
                )
                summaries = [o.summary for o in outcomes]
                raster_files = [
                    (f.name, f.data) for o in outcomes for f in o.files if f.name.endswith(".tif")
                ]
        rows = [row for s in summaries for row in s["dates"]]
        emit(ndvi_csv(rows).decode(), output)
        if rasters is not None:
            if archive:
                errors.print("the rasters are the derived product's GeoTIFF files")
            else:
                rasters.mkdir(parents=True, exist_ok=True)
                for name, data in raster_files:
                    (rasters / name).write_bytes(data)
        errors.print(f"{len(rows)} date(s)", highlight=False)


def _geojson(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise JointsatError(f"{path}: not JSON ({error})") from None
    if not isinstance(document, dict):
        raise JointsatError(f"{path}: not a GeoJSON object")
    if document.get("type") == "FeatureCollection":
        features = document.get("features") or []
        if len(features) != 1:
            raise JointsatError(f"{path}: give one feature (it has {len(features)})")
        return dict(features[0])
    return document


RUN_COLUMNS = (
    Column("id", "run", "number"),
    Column("pipeline", "pipeline"),
    Column("status", "status"),
    Column("trigger", "trigger"),
    Column("partner", "partner"),
    Column("products", "reads"),
    Column("product_id", "made"),
    Column("error", "error"),
)


def runs(
    status: Annotated[
        str | None,
        typer.Option(metavar="queued|running|done|failed", help="Only runs in this state."),
    ] = None,
    pipeline: Annotated[str | None, typer.Option(metavar="NAME", help="Only this one's.")] = None,
    fmt: FormatOption = Format.TABLE,
    output: Output = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List the analysis runs, newest first."""
    from jointsat.archive.rights import Caller
    from jointsat.store.analyses import visible_runs
    from jointsat.store.products import partner_codes
    from jointsat.store.tables import StudyStatus

    with common.store_work(database_url) as session:
        try:
            state = None if status is None else StudyStatus(status)
        except ValueError:
            raise JointsatError(f"--status: no state {status!r}") from None
        codes = partner_codes(session)
        found = visible_runs(
            session, Caller(admin=True), common.now(), status=state, pipeline=pipeline
        )
        rows = [
            {
                "id": r.id,
                "pipeline": f"{r.pipeline} {r.version}",
                "status": r.status.value,
                "trigger": r.trigger,
                "partner": codes.get(r.partner_id or 0, ""),
                "products": ", ".join(r.source_ids),
                "product_id": r.product_id or "",
                "error": r.error or "",
            }
            for r in found
        ]
    emit_rows(rows, RUN_COLUMNS, fmt, title="analysis runs", output=output)


def retry(
    run_id: Annotated[int, typer.Argument(metavar="RUN_ID", help="A failed run.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Queue a failed run again and run it."""
    from jointsat.archive import analyses

    with common.store_work(database_url) as session:
        try:
            analyses.retry(session, run_id)
        except Exception as error:
            raise JointsatError(str(error)) from None
    queued(only=[run_id], database_url=database_url)


def queued(
    only: Annotated[list[int] | None, typer.Option("--run", hidden=True)] = None,
    cluster: common.Cluster = None,
    workers: common.Workers = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the queued analysis runs (those an ingest queued, or a stopped service left)."""
    from jointsat.archive.analyses import run_queued
    from jointsat.archive.ingest import store_archive

    errors = Console(stderr=True)
    with common.reporting_errors(errors), common.store_errors():
        settings = common.store_settings(database_url)
        with _sessions(database_url) as sessions, common.dask_executor(cluster, workers) as ex:
            with sessions() as session:
                blobs = store_archive(settings, session)
            with common.progress_bar(errors, "running analyses") as tick:
                done = run_queued(
                    sessions, blobs, clock=common.now, executor=ex, progress=tick, only=only
                )
        for run_id, status in done.items():
            errors.print(
                f"run {run_id}: {'taken by another process' if status is None else status.value}",
                highlight=False,
            )
        if any(s is not None and s.value == "failed" for s in done.values()):
            raise JointsatError("a run failed (jointsat analyse runs --status failed)")


def pipelines() -> None:
    """List the registered pipelines: what each reads and makes, and its parameters."""
    from jointsat.analysis.registry import PIPELINES

    for p in PIPELINES.values():
        typer.echo(
            f"{p.name} {p.version}: {p.title}\n  reads {p.reads.value}, makes {p.makes.value};"
            f" parameters: {', '.join(p.parameters)}"
            + ("; and area_id or aoi" if p.needs_area else "")
        )


analyse_app.command()(transits)
analyse_app.command()(ndvi)
analyse_app.command()(runs)
analyse_app.command()(retry)
analyse_app.command()(queued)
analyse_app.command()(pipelines)
