"""NDVI over a partner's area, date by date, and its smoothed time series.

Arrays in, frozen dataclasses out: reading products is :mod:`jointsat.analysis.optical`'s
business; this module only sees reflectances and masks.

* :func:`ndvi` is the normalised difference vegetation index, ``(nir - red) / (nir + red)``
  (Rouse et al. 1974), NaN where the sum is zero.
* :func:`date_statistics` (or :func:`scene_statistics` on anything shaped like
  :class:`~jointsat.analysis.optical.Scene`) gives one date's figures over the area's
  valid pixels: the valid fraction, NDVI mean, median and percentiles.
* :func:`ndvi_series` sorts the dates and fills their smoothed NDVI
  (:class:`Smoother`): dates whose valid fraction is below
  :attr:`NdviSettings.min_valid_fraction` are left out of the fit and get the smoothed
  value interpolated between the dates that were kept.

The smoothers
-------------
``WHITTAKER`` is Eilers' Whittaker smoother for unequally spaced samples (P. H. C.
Eilers, "A perfect smoother", Analytical Chemistry 75 (2003) 3631-3636, section
"Unequally spaced data"): it minimises ``sum w_i (y_i - z_i)^2 + lambda * |D z|^2``
where ``D`` takes second divided differences over the acquisition times in days (half
the curvature, NDVI per day^2), so ``lambda`` is in days^4; on equal steps of ``h``
days it is the classic smoother's lambda times ``4 h^4``. It is evaluated at
every date: a date of weight 0 gets the value the penalty draws through its neighbours.
The weight of a kept date is its valid fraction, so that a date seen through broken
clouds (its mean over a part of the area) counts less than a clear one. Dates at the
very same time are merged first (their weighted mean, their weights summed).

``SAVGOL`` is a Savitzky-Golay filter (scipy.signal.savgol_filter) on a daily grid: the
kept dates' means are linearly interpolated to one value a day, filtered with a window
of ``smoothing`` days (made odd, shortened to the grid when the season is shorter) and
a polynomial of degree ``savgol_polyorder``, and read back at each date.

Both give NaN outside the span of the kept dates (nothing to interpolate between) and
everywhere when fewer than two dates are kept.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import scipy.signal
import scipy.sparse
import scipy.sparse.linalg
from numpy.typing import ArrayLike, NDArray

from jointsat.errors import AnalysisInputError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DEFAULT_WHITTAKER_LAMBDA_D4 = 3.0e3
"""Default Whittaker penalty, days^4 (second divided differences over days).

Chosen on seeded seasons (eight seeds, 20 dates, 40 % cloudy; see tests/analysis): RMSE
to the truth 0.004-0.013 NDVI for lambda from 1e3 to 1e4, worse below and above.
"""

DEFAULT_SAVGOL_WINDOW_D = 35.0
"""Default Savitzky-Golay window, days (polynomial of degree 2).

Chosen as the Whittaker penalty: RMSE 0.007-0.015 NDVI on the same seasons for 25 to 45
days.
"""

SECONDS_PER_DAY = 86_400.0


class Smoother(enum.StrEnum):
    """How :func:`ndvi_series` smooths the dates' NDVI means."""

    WHITTAKER = "whittaker"
    """Eilers' Whittaker smoother on the irregular acquisition times (weights = valid fraction)."""

    SAVGOL = "savgol"
    """Savitzky-Golay on a daily grid linearly interpolated between the kept dates."""


@dataclass(frozen=True)
class NdviSettings:
    """Parameters of the NDVI pipeline.

    ``min_valid_fraction``: a date whose valid pixels are fewer than this fraction of
    the area's pixels is left out of the smoothing (0 to 1). ``smoother``: see
    :class:`Smoother`. ``smoothing``: the Whittaker lambda (days^4) or the
    Savitzky-Golay window (days); None takes the smoother's default
    (:data:`DEFAULT_WHITTAKER_LAMBDA_D4`, :data:`DEFAULT_SAVGOL_WINDOW_D`).
    ``savgol_polyorder``: the Savitzky-Golay polynomial degree. ``percentiles``: the
    NDVI percentiles reported per date (:attr:`NdviDate.ndvi_percentiles`), 0 to 100.

    Raise :class:`AnalysisInputError` for a value out of its range.
    """

    min_valid_fraction: float = 0.5
    smoother: Smoother = Smoother.WHITTAKER
    smoothing: float | None = None
    savgol_polyorder: int = 2
    percentiles: tuple[float, ...] = (10.0, 25.0, 75.0, 90.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_valid_fraction <= 1.0:
            raise AnalysisInputError(
                f"min_valid_fraction must be between 0 and 1, not {self.min_valid_fraction}"
            )
        try:
            object.__setattr__(self, "smoother", Smoother(self.smoother))
        except ValueError:
            choices = ", ".join(s.value for s in Smoother)
            raise AnalysisInputError(
                f"unknown smoother {self.smoother!r} (choose one of {choices})"
            ) from None
        if self.smoothing is not None and not (
            math.isfinite(self.smoothing) and self.smoothing > 0
        ):
            raise AnalysisInputError(f"smoothing must be a positive number, not {self.smoothing}")
        if self.smoother is Smoother.SAVGOL and self.smoothing_value < 3:
            raise AnalysisInputError(
                f"the Savitzky-Golay window must be at least 3 days, not {self.smoothing_value}"
            )
        if not 0 <= self.savgol_polyorder <= 5:
            raise AnalysisInputError(
                f"savgol_polyorder must be between 0 and 5, not {self.savgol_polyorder}"
            )
        values = tuple(float(p) for p in self.percentiles)
        if any(not 0.0 <= p <= 100.0 for p in values):
            raise AnalysisInputError(f"percentiles must be between 0 and 100, not {values}")
        object.__setattr__(self, "percentiles", values)

    @property
    def smoothing_value(self) -> float:
        """Return the smoothing in effect: lambda (days^4) or the window (days)."""
        if self.smoothing is not None:
            return float(self.smoothing)
        if self.smoother is Smoother.WHITTAKER:
            return DEFAULT_WHITTAKER_LAMBDA_D4
        return DEFAULT_SAVGOL_WINDOW_D

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready values (the smoothing in effect, named by unit)."""
        unit = "lambda_d4" if self.smoother is Smoother.WHITTAKER else "window_d"
        result: dict[str, Any] = {
            "min_valid_fraction": self.min_valid_fraction,
            "smoother": self.smoother.value,
            f"smoothing_{unit}": self.smoothing_value,
            "percentiles": list(self.percentiles),
        }
        if self.smoother is Smoother.SAVGOL:
            result["savgol_polyorder"] = self.savgol_polyorder
        return result


@dataclass(frozen=True)
class NdviDate:
    """One date's NDVI over the area.

    ``valid_pixels`` of the area's ``area_pixels`` (pixel centres inside the area) are
    clear of every mask; ``valid_fraction`` is their ratio. The NDVI figures are over
    the valid pixels (NaN when there is none); ``ndvi_percentiles`` holds those the
    settings asked for, keyed ``"p10"``, ``"p2.5"``. ``ndvi_smoothed`` is filled by
    :func:`ndvi_series` (NaN when it cannot be); ``used_in_smoothing`` says whether the
    date entered the fit. ``masked`` counts the area's pixels masked, by reason
    (``cloud``, ``shadow``, ``snow``, ``saturation``, ``edge``, ``nodata``: each pixel
    under its first reason in that order of the reader).
    """

    name: str
    acquired: datetime
    valid_fraction: float
    valid_pixels: int
    area_pixels: int
    ndvi_mean: float
    ndvi_median: float
    ndvi_p10: float
    ndvi_p25: float
    ndvi_p75: float
    ndvi_p90: float
    ndvi_smoothed: float = math.nan
    used_in_smoothing: bool = False
    masked: dict[str, int] = field(default_factory=dict)
    ndvi_percentiles: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the date as JSON-ready values (ISO 8601 time, NaN as None)."""
        result: dict[str, Any] = {
            "name": self.name,
            "date": self.acquired.isoformat(),
            "valid_fraction": self.valid_fraction,
            "valid_pixels": self.valid_pixels,
            "area_pixels": self.area_pixels,
        }
        figures = {
            "ndvi_mean": self.ndvi_mean,
            "ndvi_median": self.ndvi_median,
            "ndvi_p10": self.ndvi_p10,
            "ndvi_p25": self.ndvi_p25,
            "ndvi_p75": self.ndvi_p75,
            "ndvi_p90": self.ndvi_p90,
        }
        figures.update({f"ndvi_{key}": value for key, value in self.ndvi_percentiles.items()})
        figures["ndvi_smoothed"] = self.ndvi_smoothed
        result.update({key: _json_float(value) for key, value in figures.items()})
        result["used_in_smoothing"] = self.used_in_smoothing
        result["masked"] = dict(self.masked)
        return result


class SceneLike(Protocol):
    """What :func:`scene_statistics` reads of a scene (optical.Scene has it)."""

    @property
    def name(self) -> str: ...
    @property
    def acquired(self) -> datetime: ...
    @property
    def red(self) -> FloatArray: ...
    @property
    def nir(self) -> FloatArray: ...
    @property
    def valid(self) -> BoolArray: ...
    @property
    def inside(self) -> BoolArray: ...
    @property
    def masked_counts(self) -> Mapping[str, int]: ...


def ndvi(red: ArrayLike, nir: ArrayLike) -> FloatArray:
    """Return ``(nir - red) / (nir + red)`` elementwise (float64), NaN where the sum is 0.

    Reflectances on any common scale give the same index; non-finite inputs give NaN.
    """
    r = np.asarray(red, dtype=np.float64)
    n = np.asarray(nir, dtype=np.float64)
    total = n + r
    zero = total == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        index = (n - r) / np.where(zero, 1.0, total)
    return np.asarray(np.where(zero, np.nan, index), dtype=np.float64)


def _percentile_key(p: float) -> str:
    return f"p{p:g}"


def date_statistics(
    name: str,
    acquired: datetime,
    red: ArrayLike,
    nir: ArrayLike,
    valid: ArrayLike,
    inside: ArrayLike,
    masked: Mapping[str, int] | None = None,
    settings: NdviSettings | None = None,
) -> NdviDate:
    """Return one date's NDVI figures over the pixels ``valid`` marks.

    ``red`` and ``nir`` are reflectances of one shape; ``valid`` and ``inside`` boolean
    masks of it: ``inside`` the pixels of the area, ``valid`` those of them clear of
    every mask. A valid pixel whose NDVI is undefined (both reflectances zero, or not
    finite) is not counted valid. ``acquired`` must be timezone-aware.

    Raise :class:`AnalysisInputError` for arrays of different shapes, a valid pixel
    outside the area, an area of no pixel or a naive time.
    """
    settings = settings or NdviSettings()
    r = np.asarray(red, dtype=np.float64)
    n = np.asarray(nir, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool)
    area = np.asarray(inside, dtype=bool)
    if not (r.shape == n.shape == ok.shape == area.shape):
        raise AnalysisInputError(
            f"red {r.shape}, nir {n.shape}, valid {ok.shape} and inside {area.shape} "
            "must have one shape"
        )
    if acquired.tzinfo is None or acquired.utcoffset() is None:
        raise AnalysisInputError(f"the acquisition time {acquired} of {name} has no time zone")
    if np.any(ok & ~area):
        raise AnalysisInputError(f"{name}: a valid pixel lies outside the area")
    area_pixels = int(area.sum())
    if area_pixels == 0:
        raise AnalysisInputError(f"{name}: the area covers no pixel")
    values = ndvi(r[ok], n[ok])
    values = values[np.isfinite(values)]
    valid_pixels = int(values.size)
    fixed = (10.0, 25.0, 75.0, 90.0)
    wanted = tuple(dict.fromkeys((*fixed, *settings.percentiles)))
    if valid_pixels:
        mean = float(values.mean())
        median = float(np.median(values))
        quantiles = [float(q) for q in np.percentile(values, wanted)]
    else:
        mean = median = math.nan
        quantiles = [math.nan] * len(wanted)
    by_p = dict(zip(wanted, quantiles, strict=True))
    return NdviDate(
        name=name,
        acquired=acquired,
        valid_fraction=valid_pixels / area_pixels,
        valid_pixels=valid_pixels,
        area_pixels=area_pixels,
        ndvi_mean=mean,
        ndvi_median=median,
        ndvi_p10=by_p[10.0],
        ndvi_p25=by_p[25.0],
        ndvi_p75=by_p[75.0],
        ndvi_p90=by_p[90.0],
        masked={str(k): int(v) for k, v in (masked or {}).items()},
        ndvi_percentiles={_percentile_key(p): by_p[p] for p in settings.percentiles},
    )


def scene_statistics(scene: SceneLike, settings: NdviSettings | None = None) -> NdviDate:
    """Return :func:`date_statistics` of a scene (an optical.Scene or alike)."""
    return date_statistics(
        scene.name,
        scene.acquired,
        scene.red,
        scene.nir,
        scene.valid,
        scene.inside,
        scene.masked_counts,
        settings,
    )


def _used(date: NdviDate, settings: NdviSettings) -> bool:
    return (
        date.valid_pixels > 0
        and math.isfinite(date.ndvi_mean)
        and date.valid_fraction >= settings.min_valid_fraction
    )


def ndvi_series(
    dates: Sequence[NdviDate], settings: NdviSettings | None = None
) -> tuple[NdviDate, ...]:
    """Return the dates sorted by acquisition time with their smoothed NDVI filled.

    ``used_in_smoothing`` is set on the dates with a valid fraction of at least
    ``settings.min_valid_fraction`` (and some valid pixel); the others get the smoothed
    value interpolated between them (see the module's notes on the smoothers).
    """
    settings = settings or NdviSettings()
    ordered = sorted(dates, key=lambda d: d.acquired)
    if not ordered:
        return ()
    t0 = ordered[0].acquired
    t_d = np.array([(d.acquired - t0).total_seconds() / SECONDS_PER_DAY for d in ordered])
    used = np.array([_used(d, settings) for d in ordered], dtype=bool)
    y = np.array([d.ndvi_mean if u else 0.0 for d, u in zip(ordered, used, strict=True)])
    w = np.array(
        [d.valid_fraction if u else 0.0 for d, u in zip(ordered, used, strict=True)],
        dtype=np.float64,
    )
    if settings.smoother is Smoother.WHITTAKER:
        smoothed = whittaker_irregular(t_d, y, w, settings.smoothing_value)
    else:
        smoothed = savgol_daily(t_d, y, used, settings.smoothing_value, settings.savgol_polyorder)
    return tuple(
        replace(d, ndvi_smoothed=float(s), used_in_smoothing=bool(u))
        for d, s, u in zip(ordered, smoothed, used, strict=True)
    )


def divided_differences(x: ArrayLike, order: int) -> scipy.sparse.csr_matrix:
    """Return the sparse matrix of ``order``-th divided differences over sorted ``x``.

    Eilers (2003)'s ``ddmat``: ``D_0 = I``, ``D_k = diag(1 / (x[k:] - x[:-k])) diff(D_{k-1})``.
    ``x`` must be strictly increasing.
    """
    xs = np.asarray(x, dtype=np.float64)
    m = xs.size
    matrix = scipy.sparse.identity(m, format="csr", dtype=np.float64)
    for k in range(1, order + 1):
        step = xs[k:] - xs[:-k]
        rows = m - k
        diff = scipy.sparse.eye(rows, m - k + 1, k=1, format="csr") - scipy.sparse.eye(
            rows, m - k + 1, format="csr"
        )
        matrix = scipy.sparse.diags(1.0 / step) @ diff @ matrix
    return scipy.sparse.csr_matrix(matrix)


def whittaker_irregular(
    t_d: ArrayLike, y: ArrayLike, weights: ArrayLike, lambda_d4: float, *, order: int = 2
) -> FloatArray:
    """Return the Whittaker smoother of ``y`` at every time ``t_d`` (days, sorted).

    Minimises ``sum w (y - z)^2 + lambda_d4 * |D z|^2`` with ``D`` the ``order``-th
    divided differences over the times (Eilers 2003). Samples of weight 0 are
    interpolated; times outside the span of the weighted ones, and all of them when
    fewer than ``order`` samples are weighted, are NaN. Samples at one time are merged
    (weighted mean, summed weights).
    """
    t = np.asarray(t_d, dtype=np.float64)
    values = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    out = np.full(t.shape, np.nan)
    kept = w > 0
    if int(kept.sum()) < max(order, 2):
        return out
    unique_t, inverse = np.unique(t, return_inverse=True)
    w_u = np.bincount(inverse, weights=w, minlength=unique_t.size)
    wy_u = np.bincount(inverse, weights=np.where(kept, w * values, 0.0), minlength=unique_t.size)
    y_u = np.divide(wy_u, w_u, out=np.zeros_like(wy_u), where=w_u > 0)
    if unique_t.size <= order:
        return out
    d = divided_differences(unique_t, order)
    system = scipy.sparse.diags(w_u) + lambda_d4 * (d.T @ d)
    z_u = scipy.sparse.linalg.spsolve(scipy.sparse.csc_matrix(system), w_u * y_u)
    z = np.asarray(z_u, dtype=np.float64)[inverse]
    span = (t >= t[kept].min()) & (t <= t[kept].max())
    out[span] = z[span]
    return out


def savgol_daily(
    t_d: ArrayLike, y: ArrayLike, used: ArrayLike, window_d: float, polyorder: int = 2
) -> FloatArray:
    """Return the Savitzky-Golay smoothing of the used samples, read at every time.

    The used samples are linearly interpolated to a daily grid from the first to the
    last used time, filtered (window ``window_d`` days rounded to an odd count, at most
    the grid's length), and the filtered series is interpolated back at each time
    inside that span (NaN outside it, and everywhere with fewer than two used samples).
    """
    t = np.asarray(t_d, dtype=np.float64)
    values = np.asarray(y, dtype=np.float64)
    keep = np.asarray(used, dtype=bool)
    out = np.full(t.shape, np.nan)
    if int(keep.sum()) < 2:
        return out
    tk, yk = t[keep], values[keep]
    unique_t, inverse = np.unique(tk, return_inverse=True)
    y_u = np.bincount(inverse, weights=yk) / np.bincount(inverse)
    if unique_t.size < 2:
        return out
    days = math.ceil(unique_t[-1] - unique_t[0]) + 1
    grid = unique_t[0] + np.arange(days, dtype=np.float64)
    daily = np.interp(grid, unique_t, y_u)
    window = round(window_d)
    window = window if window % 2 else window + 1
    if window > grid.size:
        window = grid.size if grid.size % 2 else grid.size - 1
    order = min(polyorder, window - 1)
    filtered = (
        scipy.signal.savgol_filter(daily, window, order, mode="interp") if window >= 3 else daily
    )
    span = (t >= unique_t[0]) & (t <= unique_t[-1])
    out[span] = np.interp(t[span], grid, filtered)
    return out


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
