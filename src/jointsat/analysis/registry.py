"""The registered analysis pipelines: their names, versions, parameters and product kinds.

A pipeline reads archived products of one kind and makes a derived product of another
(docs/analysis.md). A product's kind is its ``jointsat:kind`` property, given at
ingest (``light-curve``, ``optical-l2a``) or set by the pipeline that made it. A
pipeline's version changes whenever its results for the same inputs may change, so
that a derived product's provenance says which method made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jointsat.errors import AnalysisInputError

KIND_PROPERTY = "jointsat:kind"
"""The product property that names a product's kind."""


class ProductKind(StrEnum):
    """What a product holds, as far as the pipelines are concerned."""

    LIGHT_CURVE = "light-curve"  # photometry: Kepler/TESS/CHEOPS-style FITS, or CSV
    OPTICAL_L2A = "optical-l2a"  # surface reflectance: MUSCATE L2A, GeoTIFF, STAC item
    TRANSIT_SEARCH = "transit-search"  # derived: transit candidates of a light curve
    NDVI_SERIES = "ndvi-series"  # derived: NDVI over an area, a row per date


class Sources(StrEnum):
    """How a pipeline's runs take their sources."""

    EACH = "each"  # a run (and a derived product) per source product
    ALL = "all"  # one run over every source product given (a time series)


@dataclass(frozen=True)
class Pipeline:
    """A registered pipeline: what it reads, what it makes, which parameters it takes."""

    name: str
    version: str
    title: str
    reads: ProductKind
    makes: ProductKind
    sources: Sources
    parameters: tuple[str, ...]  # the names a run may set (the settings' fields)
    needs_area: bool = False  # a run names a stored area (``area_id``) or gives ``aoi``

    def as_dict(self) -> dict[str, Any]:
        """Return the pipeline as JSON for the API and the command line."""
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "reads": self.reads.value,
            "makes": self.makes.value,
            "sources": self.sources.value,
            "parameters": list(self.parameters),
            "needs_area": self.needs_area,
        }


PIPELINES: Mapping[str, Pipeline] = {
    p.name: p
    for p in (
        Pipeline(
            "transits",
            "1.0",
            "Transit search: wotan biweight detrending, then TLS or BLS, planet after planet",
            ProductKind.LIGHT_CURVE,
            ProductKind.TRANSIT_SEARCH,
            Sources.EACH,
            (
                "method",
                "period_min_d",
                "period_max_d",
                "sde_threshold",
                "max_candidates",
                "duration_min_h",
                "duration_max_h",
                "window_factor",
                "oversampling",
            ),
        ),
        Pipeline(
            "ndvi",
            "1.0",
            "NDVI over an area: masked statistics per date, a smoothed series, NDVI rasters",
            ProductKind.OPTICAL_L2A,
            ProductKind.NDVI_SERIES,
            Sources.ALL,
            ("min_valid_fraction", "smoother", "smoothing", "savgol_polyorder", "percentiles"),
            needs_area=True,
        ),
    )
}


def pipeline(name: str) -> Pipeline:
    """Return the registered pipeline ``name``, or refuse naming the known ones."""
    found = PIPELINES.get(name)
    if found is None:
        known = ", ".join(sorted(PIPELINES))
        raise AnalysisInputError(f"no analysis pipeline {name!r}; the pipelines are {known}")
    return found


def product_kind(properties: Mapping[str, Any]) -> ProductKind | None:
    """Return the kind a product's properties name (None: none, or one no pipeline knows)."""
    value = properties.get(KIND_PROPERTY)
    try:
        return ProductKind(value) if isinstance(value, str) else None
    except ValueError:
        return None


def check_parameters(found: Pipeline, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parameters a run of ``found`` may set, refusing any other by name."""
    allowed = set(found.parameters) | ({"area_id", "aoi"} if found.needs_area else set())
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        raise AnalysisInputError(
            f"the {found.name} pipeline takes no parameter {', '.join(unknown)};"
            f" it takes {', '.join(sorted(allowed))}"
        )
    if found.needs_area and ("area_id" in parameters) == ("aoi" in parameters):
        raise AnalysisInputError(
            f"the {found.name} pipeline needs an area: give area_id (a stored area) or aoi"
            " (a GeoJSON geometry), not both"
        )
    return dict(parameters)


def pipelines_reading(kind: ProductKind | None) -> list[Pipeline]:
    """Return the pipelines that read products of ``kind``."""
    return [p for p in PIPELINES.values() if kind is not None and p.reads is kind]
