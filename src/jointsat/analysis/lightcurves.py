"""Read photometry into a light curve on the BJD_TDB scale: Kepler/TESS/CHEOPS FITS or CSV.

This is the analysis package's I/O edge for light curves (the search itself,
:mod:`jointsat.analysis.transits`, is pure). Files are recognised by their content,
not their name, because the archive stores products as blobs without an extension:
FITS starts with ``SIMPLE``, anything else must be a CSV whose header names ``time``
and ``flux`` (and optionally ``flux_err``).

FITS: the first binary table holding a ``TIME`` column. The flux is ``PDCSAP_FLUX``
(systematics-corrected), else ``SAP_FLUX``, else ``FLUX`` (CHEOPS DRP), with its error
column (``*_ERR``, or CHEOPS's ``FLUXERR``); a nonzero ``QUALITY`` (or the early Kepler
files' ``SAP_QUALITY``) drops the point. Times are ``TIME + BJDREFI + BJDREFF`` (or
``+ BJDREF``) days and must be barycentric (``TIMEREF = SOLARSYSTEM``) in TDB
(``TIMESYS = TDB``); other time systems are refused rather than silently mixed with
BJD_TDB ephemerides.

CSV: ``time`` is BJD_TDB in days, ``flux`` in any unit, ``flux_err`` in the flux's unit.

Either way, points whose time, flux or error is not finite are dropped, and counted,
after the quality flags; the flux and its error are divided by the median flux.
"""

from __future__ import annotations

import csv
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jointsat.analysis.photometry import MIN_POINTS, LightCurve
from jointsat.errors import AnalysisInputError

FloatArray = NDArray[np.float64]

__all__ = ["LightCurve", "library_versions", "read_light_curve"]

FLUX_COLUMNS = ("PDCSAP_FLUX", "SAP_FLUX", "FLUX")
"""Name the flux columns tried, in order of preference."""

QUALITY_COLUMNS = ("QUALITY", "SAP_QUALITY")
"""Name the quality-flag columns tried (a nonzero flag drops the point)."""

LIBRARIES = ("numpy", "scipy", "astropy", "wotan", "transitleastsquares")
"""Name the libraries whose versions a transit search's provenance records."""


def read_light_curve(path: Path | str, *, name: str | None = None) -> LightCurve:
    """Read a light curve from a FITS or CSV file, recognised by its content.

    ``name`` defaults to the FITS header's ``OBJECT`` and then to the file's name.
    Raises :class:`AnalysisInputError` for an empty, unknown or unusable file.
    """
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as f:
            head = f.read(80)
    except OSError as exc:
        raise AnalysisInputError(f"cannot read the light curve: {exc}", source=source) from exc
    if not head.strip():
        raise AnalysisInputError("the light curve file is empty", source=source)
    if head.startswith(b"SIMPLE"):
        return _read_fits(path, name)
    return _read_csv(path, name)


def library_versions() -> dict[str, str]:
    """Return the installed versions of the libraries a transit search depends on."""
    versions = {}
    for library in LIBRARIES:
        try:
            versions[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            versions[library] = "not installed"
    return versions


def _read_fits(path: Path, name: str | None) -> LightCurve:
    from astropy.io import fits

    source = str(path)
    try:
        with warnings.catch_warnings(record=True) as caught, fits.open(path, memmap=False) as hdus:
            warnings.simplefilter("always")
            primary = dict(hdus[0].header)
            table = next(
                (
                    h
                    for h in hdus[1:]
                    if isinstance(h, fits.BinTableHDU) and "TIME" in h.columns.names
                ),
                None,
            )
            if table is None:
                damage = f" (the file is damaged: {caught[0].message})" if caught else ""
                raise AnalysisInputError(
                    "no binary table with a TIME column: not a Kepler/TESS/CHEOPS-style "
                    f"light curve{damage}",
                    source=source,
                )
            header = {**primary, **dict(table.header)}
            columns = list(table.columns.names)
            data = table.data
            flux_column = next((c for c in FLUX_COLUMNS if c in columns), None)
            if flux_column is None:
                raise AnalysisInputError(
                    f"no flux column: looked for {', '.join(FLUX_COLUMNS)} among {columns}",
                    source=source,
                )
            err_column = next(
                (c for c in (f"{flux_column}_ERR", f"{flux_column}ERR") if c in columns), None
            )
            quality_column = next((c for c in QUALITY_COLUMNS if c in columns), None)
            time = np.asarray(data["TIME"], dtype=np.float64)
            flux = np.asarray(data[flux_column], dtype=np.float64)
            err = np.asarray(data[err_column], dtype=np.float64) if err_column is not None else None
            quality = np.asarray(data[quality_column]) if quality_column is not None else None
    except AnalysisInputError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise AnalysisInputError(f"cannot read the FITS light curve: {exc}", source=source) from exc

    offset_d, time_system = _time_reference(header, time, source)
    keep = np.ones(time.size, dtype=bool) if quality is None else quality == 0
    label = name or str(header.get("OBJECT") or "").strip() or path.name
    return _light_curve(
        label,
        time + offset_d,
        flux,
        err,
        keep,
        flux_column=flux_column,
        time_system=time_system,
        source=source,
    )


def _time_reference(header: dict[str, Any], time: FloatArray, source: str) -> tuple[float, str]:
    """Return the offset to add to TIME (days) for BJD_TDB, and how it was found."""
    timesys = str(header.get("TIMESYS", "")).strip().upper()
    timeref = str(header.get("TIMEREF", "")).strip().upper()
    if timesys != "TDB":
        raise AnalysisInputError(
            f"the times are not in TDB (TIMESYS = {timesys or 'absent'!r}); "
            "only BJD_TDB light curves are read",
            source=source,
        )
    if timeref and timeref != "SOLARSYSTEM":
        raise AnalysisInputError(
            f"the times are not barycentric (TIMEREF = {timeref!r}, not 'SOLARSYSTEM')",
            source=source,
        )
    if "BJDREFI" in header:
        offset = float(header["BJDREFI"]) + float(header.get("BJDREFF", 0.0))
        return offset, "BJD_TDB from TIME + BJDREFI + BJDREFF, TIMESYS TDB"
    if "BJDREF" in header:
        return float(header["BJDREF"]), "BJD_TDB from TIME + BJDREF, TIMESYS TDB"
    finite = time[np.isfinite(time)]
    if finite.size and np.median(finite) > 2_400_000.0:
        return 0.0, "BJD_TDB from TIME (full Julian dates), TIMESYS TDB"
    raise AnalysisInputError(
        "no time reference: the header has neither BJDREFI/BJDREFF nor BJDREF, "
        "and TIME is not a full Julian date",
        source=source,
    )


def _read_csv(path: Path, name: str | None) -> LightCurve:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisInputError(
            f"neither FITS nor a readable CSV light curve: {exc}", source=source
        ) from exc
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise AnalysisInputError("the light curve has no rows", source=source)
    reader = csv.reader(lines)
    header = [h.strip().lower() for h in next(reader)]
    if "time" not in header or "flux" not in header:
        raise AnalysisInputError(
            "unknown light curve format: neither FITS nor a CSV whose header names "
            f"time and flux (and optionally flux_err); the first line is {lines[0][:80]!r}",
            source=source,
        )
    i_time, i_flux = header.index("time"), header.index("flux")
    i_err = header.index("flux_err") if "flux_err" in header else None
    rows = []
    for number, row in enumerate(reader, start=2):
        try:
            values = [float(row[i_time]), float(row[i_flux])]
            values.append(float(row[i_err]) if i_err is not None else np.nan)
        except (ValueError, IndexError) as exc:
            raise AnalysisInputError(
                f"not a number or a missing field: {exc}", source=source, location=f"row {number}"
            ) from exc
        rows.append(values)
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    order = np.argsort(table[:, 0], kind="stable")
    table = table[order]
    return _light_curve(
        name or path.name,
        table[:, 0],
        table[:, 1],
        table[:, 2] if i_err is not None else None,
        np.ones(len(table), dtype=bool),
        flux_column="flux",
        time_system="BJD_TDB as given (CSV time column)",
        source=source,
    )


def _light_curve(
    name: str,
    time: FloatArray,
    flux: FloatArray,
    err: FloatArray | None,
    quality_ok: NDArray[np.bool_],
    *,
    flux_column: str,
    time_system: str,
    source: str,
) -> LightCurve:
    """Drop flagged and non-finite points, normalise, and check what is left."""
    read = int(time.size)
    if read == 0:
        raise AnalysisInputError("the light curve has no rows", source=source)
    finite = np.isfinite(time) & np.isfinite(flux)
    if err is not None:
        finite &= np.isfinite(err)
    keep = quality_ok & finite
    time, flux = time[keep], flux[keep]
    if time.size < MIN_POINTS:
        raise AnalysisInputError(
            f"only {time.size} usable points of {read} (at least {MIN_POINTS} needed)",
            source=source,
        )
    order = np.argsort(time, kind="stable")
    time, flux = time[order], flux[order]
    median = float(np.median(flux))
    if not median > 0.0:
        raise AnalysisInputError(
            f"the median flux is {median:g}: not a photometric light curve", source=source
        )
    if err is None:  # the point-to-point scatter stands for the errors
        scatter = float(np.median(np.abs(np.diff(flux)))) * 1.4826 / np.sqrt(2.0)
        if not scatter > 0.0:
            raise AnalysisInputError(
                "no flux errors given and the flux does not scatter: cannot weigh the points",
                source=source,
            )
        flux_err = np.full(time.size, scatter / median)
    else:
        flux_err = err[keep][order] / median
    if not np.all(flux_err > 0.0):
        raise AnalysisInputError("flux errors must be positive", source=source)
    return LightCurve(
        name=name,
        time_bjd_tdb=time,
        flux=flux / median,
        flux_err=flux_err,
        flux_column=flux_column,
        points_read=read,
        dropped_quality=int(np.count_nonzero(~quality_ok)),
        dropped_nonfinite=int(np.count_nonzero(quality_ok & ~finite)),
        time_system=time_system,
    )
