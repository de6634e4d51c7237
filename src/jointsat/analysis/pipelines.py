"""Run a registered pipeline on files: what a run does, wherever it runs.

``compute`` takes only plain, picklable values (the pipeline's name, its settings, the
sources' files by path, the area as GeoJSON) and returns the files it made, so that it
runs alike in the calling process and on a Dask worker (which must see the archive's
folder at the same path, as the pass engine's workers see their output folder).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jointsat import __version__
from jointsat.errors import AnalysisInputError

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
PNG_TYPE = "image/png"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

NDVI_COLUMNS = ("date", "valid_fraction", "ndvi_mean", "ndvi_median", "ndvi_smoothed")
"""The columns of ``jointsat analyse ndvi``'s CSV (and of a derived product's)."""


@dataclass(frozen=True)
class SourceFile:
    """A source product's file as a run reads it: from the archive, by path."""

    product_id: str
    name: str
    path: str
    sha256: str = ""


@dataclass(frozen=True)
class MadeFile:
    """A file a run made: its name, bytes and media type."""

    name: str
    data: bytes
    media_type: str


@dataclass(frozen=True, eq=False)
class Outcome:
    """What a run made: its files, a JSON summary, its footprint, and library versions."""

    files: tuple[MadeFile, ...]
    summary: dict[str, Any]
    footprint: dict[str, Any] | None = None
    libraries: dict[str, str] = field(default_factory=dict)


def json_ready(value: Any) -> Any:
    """Return ``value`` with NaN and infinities as None, so that it is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def json_bytes(value: Any) -> bytes:
    """Return ``value`` as indented JSON bytes (keys sorted, NaN as null)."""
    return json.dumps(json_ready(value), indent=2, sort_keys=True).encode() + b"\n"


def compute(
    name: str,
    settings: Mapping[str, Any],
    sources: Sequence[Sequence[SourceFile]],
    aoi: Mapping[str, Any] | None = None,
) -> Outcome:
    """Run pipeline ``name`` with ``settings`` on the sources' files; return what it made.

    ``sources`` holds each source product's files; the first file of a product that
    the pipeline can read is the one it reads.
    """
    if name == "transits":
        return _transits(settings, sources)
    if name == "ndvi":
        if aoi is None:
            raise AnalysisInputError("the ndvi pipeline needs an area")
        return _ndvi(settings, sources, aoi)
    raise AnalysisInputError(f"no analysis pipeline {name!r}")


def _finite(settings: Mapping[str, Any], pipeline: str) -> dict[str, Any]:
    given = dict(settings)
    for name, value in given.items():
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise AnalysisInputError(f"{pipeline} settings: {name} must be finite")
    return given


def _built(kind: Any, given: Mapping[str, Any], pipeline: str) -> Any:
    try:
        return kind(**given)
    except (TypeError, ValueError) as error:
        if isinstance(error, AnalysisInputError):
            raise
        raise AnalysisInputError(f"{pipeline} settings: {error}") from None


def transit_settings(settings: Mapping[str, Any]) -> Any:
    """Return the ``TransitSettings`` of a run's settings (JSON values), or refuse them."""
    from jointsat.analysis.transits import SearchMethod, TransitSettings

    given = _finite(settings, "transits")
    if "method" in given:
        try:
            given["method"] = SearchMethod(given["method"])
        except ValueError:
            methods = ", ".join(m.value for m in SearchMethod)
            raise AnalysisInputError(f"transits settings: method is one of {methods}") from None
    return _built(TransitSettings, given, "transits")


def ndvi_settings(settings: Mapping[str, Any]) -> Any:
    """Return the ``NdviSettings`` of a run's settings (JSON values), or refuse them."""
    from jointsat.analysis.ndvi import NdviSettings, Smoother

    given = _finite(settings, "ndvi")
    if "smoother" in given:
        try:
            given["smoother"] = Smoother(given["smoother"])
        except ValueError:
            smoothers = ", ".join(m.value for m in Smoother)
            raise AnalysisInputError(f"ndvi settings: smoother is one of {smoothers}") from None
    if "percentiles" in given:
        if not isinstance(given["percentiles"], list | tuple):
            raise AnalysisInputError("ndvi settings: percentiles is a list of numbers")
        given["percentiles"] = tuple(given["percentiles"])
    return _built(NdviSettings, given, "ndvi")


def check_settings(name: str, settings: Mapping[str, Any], aoi: Any = None) -> None:
    """Refuse a run's settings (and area) that its pipeline could not run, before it is stored.

    ``aoi``: the inline GeoJSON area of a pipeline that needs one (None: none given).
    """
    if name == "transits":
        transit_settings(settings)
    elif name == "ndvi":
        ndvi_settings(settings)
        if aoi is not None:
            from jointsat.analysis.optical import aoi_footprint

            if not isinstance(aoi, Mapping):
                raise AnalysisInputError("aoi must be a GeoJSON object")
            aoi_footprint(aoi)


def _first_readable(files: Sequence[SourceFile], read: Any) -> Any:
    reasons = []
    for source in files:
        try:
            return read(source)
        except AnalysisInputError as error:
            reasons.append(f"{source.name}: {error}")
    product = files[0].product_id if files else "?"
    raise AnalysisInputError(f"product {product}: no file could be read ({'; '.join(reasons)})")


def _transits(settings: Mapping[str, Any], sources: Sequence[Sequence[SourceFile]]) -> Outcome:
    from jointsat.analysis.lightcurves import library_versions, read_light_curve
    from jointsat.analysis.transit_plots import plot_search
    from jointsat.analysis.transits import search_transits

    chosen = transit_settings(settings)
    files: list[MadeFile] = []
    searches = []
    for product_files in sources:
        curve = _first_readable(product_files, lambda f: read_light_curve(f.path, name=f.name))
        search = search_transits(curve, chosen)
        stem = _stem(curve.name)
        searches.append(search.as_dict())
        files.append(MadeFile(f"{stem}.png", plot_search(search, curve), PNG_TYPE))
    summary = {"settings": chosen.as_dict(), "curves": searches}
    files.insert(0, MadeFile("transits.json", json_bytes(summary), JSON_TYPE))
    return Outcome(tuple(files), json_ready(summary), None, library_versions())


def _stem(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    for suffix in (".fits.gz", ".fits", ".fit", ".csv"):
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def _ndvi(
    settings: Mapping[str, Any],
    sources: Sequence[Sequence[SourceFile]],
    aoi: Mapping[str, Any],
) -> Outcome:
    from jointsat.analysis.ndvi import ndvi_series, scene_statistics
    from jointsat.analysis.optical import (
        aoi_footprint,
        library_versions,
        read_scene,
        write_ndvi_cog,
    )

    chosen = ndvi_settings(settings)
    dates = []
    rasters: list[MadeFile] = []
    for product_files in sources:
        scene = _first_readable(product_files, lambda f: read_scene(f.path, aoi, name=f.name))
        dates.append(scene_statistics(scene, chosen))
        day = scene.acquired.strftime("%Y%m%dT%H%M%S")
        rasters.append(MadeFile(f"ndvi_{day}.tif", write_ndvi_cog(scene), COG_TYPE))
    series = ndvi_series(dates, chosen)
    rows = [row.as_dict() for row in series]
    summary = {"settings": chosen.as_dict(), "dates": rows}
    files = (
        MadeFile("ndvi.csv", ndvi_csv(rows), CSV_TYPE),
        MadeFile("ndvi.json", json_bytes(summary), JSON_TYPE),
        *sorted(rasters, key=lambda f: f.name),
    )
    return Outcome(files, json_ready(summary), aoi_footprint(aoi), library_versions())


def ndvi_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Return an NDVI series (``NdviDate.as_dict()`` rows) as CSV: ``NDVI_COLUMNS``, a row
    per date (an empty cell: no value)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NDVI_COLUMNS)
    for values in rows:
        writer.writerow([_cell(values[c]) for c in NDVI_COLUMNS])
    return out.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def provenance_versions() -> dict[str, str]:
    """Return jointsat's version (the pipelines' own are in the registry)."""
    return {"jointsat": __version__}
