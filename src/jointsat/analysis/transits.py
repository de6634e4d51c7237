"""Search a light curve for periodic transits: detrend, search, fit, mask and search again.

The pipeline of issue 19 for CHEOPS-like photometry, on arrays (the files are read by
:mod:`jointsat.analysis.lightcurves`):

1. Detrend with wotan's time-windowed biweight (Hippke et al. 2019), a window of
   ``window_factor`` x the longest duration searched, so that a transit keeps its depth
   while slower stellar and instrumental variations go. The trend is fitted a second
   time without the flares (points 3 robust standard deviations above it, and their
   decay), which would otherwise lift it and dig false dips beside them; flares and
   other upward outliers are then left out of the search.
2. Search: Transit Least Squares (Hippke & Heller 2019), which fits limb-darkened
   transit templates, or astropy's BoxLeastSquares (Kovacs et al. 2002) as the fast
   method. Both run on the same optimal period grid (Ofir 2014) and both report the
   Signal Detection Efficiency the same way: SDE = (peak - mean) / std of the
   spectrum of ``1 - chi2_min / chi2``, after a running median is subtracted (TLS's
   definition, applied to BLS's chi2 as well).
3. A peak at SDE >= ``sde_threshold`` is fitted with a trapezoid (period, mid-transit
   time, depth, duration, ingress), which refines the search grid's period and T0;
   its statistics are measured on the detrended points: depth, SNR, the number of
   transits with data, the odd/even depth difference.
4. Vetting (``_vetting``): a signal is taken for a transit only if two of its transits
   are seen whole (data before, in both halves of, and after them: a dip at the edge
   of a gap is often the instrument settling), its single transits' depths agree (a
   chi-squared test allowing 10 % beyond the noise) and so do its odd and even ones
   (3 sigma: else an eclipsing binary), and its dip is at least 3.5 times the folded
   curve's own variation at other phases (stellar rotation and pulsation that the
   detrending left fold into dips and bumps alike). A rejected signal is kept with
   its reason, and ends the search: it is the strongest thing this curve's noise
   makes, and anything weaker cannot be told from it.
5. A candidate's transits (twice their duration) are masked and the search runs
   again, for the next planet, until the SDE falls below the threshold or
   ``max_candidates`` searches have found something.

Gaps need no special treatment: the biweight window and both searches work on the
time stamps themselves (CHEOPS loses 20-40 % of each 98.77-min orbit).

Pure: arrays in, frozen dataclasses out. TLS and wotan compile with numba on their
first call (about 20 s once per machine; numba caches the machine code).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jointsat.analysis.photometry import MIN_POINTS, LightCurve
from jointsat.errors import AnalysisInputError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

HOUR_D = 1.0 / 24.0
OUTLIER_SIGMA = 3.0
"""Drop detrended points brighter than this many robust standard deviations (flares)."""

FLARE_DECAY_POINTS = 30
"""Follow a flare's decay over at most this many points."""

MASK_FACTOR = 2.0
"""Mask this many transit durations around each transit of a candidate before searching on."""

SUPERSAMPLE = 5
"""Average the trapezoid over this many instants of each exposure when fitting it."""

BLS_DURATIONS = 10
"""Try this many durations, in a geometric series over the settings' range, with BLS."""

VET_FOLD_SNR = 3.5
"""Reject a dip less than this many times the folded curve's RMS variation at other phases."""

VET_ODD_EVEN_SIGMA = 3.0
"""Reject a signal whose odd and even transits' depths differ by more sigma than this."""

VET_DEPTH_SPREAD_P = 1e-3
"""Reject a signal whose single transits' depths differ this unlikely much by noise alone."""

DEPTH_SPREAD_FLOOR = 0.1
"""Let single transits' depths differ by this fraction of the depth beyond their noise."""

SDE_KERNEL = 30
"""The running median subtracted from a spectrum spans oversampling x this many periods (TLS's)."""


class SearchMethod(StrEnum):
    """Name the period search: TLS (limb-darkened templates) or BLS (boxes, faster)."""

    TLS = "tls"
    BLS = "bls"


@dataclass(frozen=True)
class TransitSettings:
    """Hold the parameters of a transit search (recorded in a derived product's provenance).

    ``period_max_d`` None means half the light curve's baseline, so that a candidate
    has at least two transits (a larger value is cut to that too). Durations are
    first to fourth contact; BLS tries a geometric grid between ``duration_min_h`` and
    ``duration_max_h``; TLS scales its durations with ``P^(1/3)``, as transits across
    one kind of star do, and spans exactly this range at the geometric mean of the
    periods searched. The biweight window is ``window_factor x duration_max_h``.
    ``oversampling`` thickens the period grid (Ofir 2014) beyond the minimum that
    keeps a transit in phase: 2 recovers as many injected transits as TLS's default 3
    (benchmarks/transits.py) in two thirds of the time.
    """

    method: SearchMethod = SearchMethod.TLS
    period_min_d: float = 0.5
    period_max_d: float | None = None
    sde_threshold: float = 7.0
    max_candidates: int = 3
    duration_min_h: float = 0.5
    duration_max_h: float = 5.0
    window_factor: float = 3.0
    oversampling: int = 2

    def __post_init__(self) -> None:
        """Reject settings no search can run with."""
        try:
            object.__setattr__(self, "method", SearchMethod(self.method))
        except ValueError:
            raise AnalysisInputError(
                f"unknown search method {self.method!r} (tls or bls)"
            ) from None
        numbers = {
            "period_min_d": self.period_min_d,
            "sde_threshold": self.sde_threshold,
            "duration_min_h": self.duration_min_h,
            "duration_max_h": self.duration_max_h,
            "window_factor": self.window_factor,
        }
        for key, value in numbers.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise AnalysisInputError(f"{key} must be a positive number, not {value!r}")
        if self.period_max_d is not None and not (
            isinstance(self.period_max_d, int | float)
            and math.isfinite(self.period_max_d)
            and self.period_max_d > self.period_min_d
        ):
            raise AnalysisInputError(
                f"period_max_d ({self.period_max_d}) must exceed period_min_d ({self.period_min_d})"
            )
        if self.duration_min_h >= self.duration_max_h:
            raise AnalysisInputError(
                f"duration_min_h ({self.duration_min_h}) must be below duration_max_h "
                f"({self.duration_max_h})"
            )
        if self.duration_max_h * HOUR_D >= 0.5 * self.period_min_d:
            raise AnalysisInputError(
                f"duration_max_h ({self.duration_max_h} h) must be under half the shortest "
                f"period ({self.period_min_d} d)"
            )
        if self.window_factor < 1.5:
            raise AnalysisInputError(
                f"window_factor ({self.window_factor}) under 1.5 would flatten the transits"
            )
        for key, count in (
            ("max_candidates", self.max_candidates),
            ("oversampling", self.oversampling),
        ):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise AnalysisInputError(f"{key} must be a whole number >= 1, not {count!r}")

    @property
    def window_d(self) -> float:
        """Return the biweight detrending window, in days."""
        return self.window_factor * self.duration_max_h * HOUR_D

    def as_dict(self) -> dict[str, object]:
        """Return the settings as JSON-able values (for provenance)."""
        return {
            "method": self.method.value,
            "period_min_d": self.period_min_d,
            "period_max_d": self.period_max_d,
            "sde_threshold": self.sde_threshold,
            "max_candidates": self.max_candidates,
            "duration_min_h": self.duration_min_h,
            "duration_max_h": self.duration_max_h,
            "window_factor": self.window_factor,
            "oversampling": self.oversampling,
        }


@dataclass(frozen=True)
class Candidate:
    """Describe a periodic transit found: ephemeris, shape and how strongly it stands out.

    ``t0_bjd`` is a mid-transit time (BJD_TDB) near the middle of the data, where the
    period's error moves it least. ``depth_ppm`` is the fitted trapezoid's flat-bottom
    depth; ``duration_h`` first to fourth contact. ``sde`` is the search's Signal
    Detection Efficiency; ``snr`` the depth over its error, both measured with the
    fitted shape as a matched filter on the points and the out-of-transit scatter
    (white noise; it is ~sqrt(points in transit) x depth / scatter). ``transits``
    counts the transits with data; ``odd_even_sigma`` the difference of the odd and
    even transits' depths in standard deviations (NaN without both).
    """

    period_d: float
    t0_bjd: float
    depth_ppm: float
    duration_h: float
    sde: float
    snr: float
    transits: int
    odd_even_sigma: float

    def as_dict(self) -> dict[str, object]:
        """Return the candidate as JSON-able values (NaN becomes None)."""
        return {
            "period_d": self.period_d,
            "t0_bjd": self.t0_bjd,
            "depth_ppm": self.depth_ppm,
            "duration_h": self.duration_h,
            "sde": self.sde,
            "snr": _json_float(self.snr),
            "transits": self.transits,
            "odd_even_sigma": _json_float(self.odd_even_sigma),
        }


@dataclass(frozen=True)
class Rejection:
    """Hold a signal above the SDE threshold that the vetting does not take for a transit."""

    candidate: Candidate
    reason: str

    def as_dict(self) -> dict[str, object]:
        """Return the signal and the reason as JSON-able values."""
        return {**self.candidate.as_dict(), "reason": self.reason}


@dataclass(frozen=True, eq=False)
class Periodogram:
    """Hold one iteration's spectrum: SDE-scaled power at each trial period (for plots)."""

    periods_d: FloatArray
    power: FloatArray
    sde: float
    period_d: float


@dataclass(frozen=True, eq=False)
class TransitSearch:
    """Hold a search's result: the candidates (best first) and each iteration's periodogram.

    ``candidates`` are the signals at SDE >= the threshold that passed the vetting, in
    the order found (each search takes the strongest peak left); ``rejected`` the one
    that did not, with the reason, which ended the search. ``periodograms`` has one
    entry per search run. ``clipped_outliers`` counts the flares and other upward
    outliers left out; ``period_range_d`` the periods searched (the upper bound never
    above half the baseline). ``detrended`` is the flux the search saw, on the curve's
    times (NaN where left out).
    """

    name: str
    method: SearchMethod
    points_used: int
    dropped_quality: int
    dropped_nonfinite: int
    candidates: tuple[Candidate, ...]
    periodograms: tuple[Periodogram, ...]
    rejected: tuple[Rejection, ...] = ()
    clipped_outliers: int = 0
    window_d: float = 0.0
    period_range_d: tuple[float, float] = (0.0, 0.0)
    detrended: FloatArray = field(default_factory=lambda: np.empty(0))

    def as_dict(self) -> dict[str, object]:
        """Return the result as JSON-able values (without the periodograms' arrays)."""
        return {
            "name": self.name,
            "method": self.method.value,
            "points_used": self.points_used,
            "dropped_quality": self.dropped_quality,
            "dropped_nonfinite": self.dropped_nonfinite,
            "clipped_outliers": self.clipped_outliers,
            "detrend_window_d": self.window_d,
            "period_min_d": self.period_range_d[0],
            "period_max_d": self.period_range_d[1],
            "candidates": [c.as_dict() for c in self.candidates],
            "rejected": [r.as_dict() for r in self.rejected],
        }


def search_transits(
    curve: LightCurve, settings: TransitSettings = TransitSettings()
) -> TransitSearch:
    """Detrend a light curve and search it for transiting planets, one after the other.

    Raises :class:`AnalysisInputError` when the curve is too short for the periods asked.
    """
    time = np.asarray(curve.time_bjd_tdb, dtype=np.float64)
    flux = np.asarray(curve.flux, dtype=np.float64)
    err = np.asarray(curve.flux_err, dtype=np.float64)
    if not (time.shape == flux.shape == err.shape) or time.ndim != 1:
        raise AnalysisInputError("time, flux and flux_err must be 1-D arrays of one length")
    good = np.isfinite(time) & np.isfinite(flux) & np.isfinite(err) & (err > 0)
    if np.count_nonzero(good) < MIN_POINTS:
        raise AnalysisInputError(
            f"{curve.name}: only {np.count_nonzero(good)} usable points "
            f"(at least {MIN_POINTS} needed)"
        )
    if np.any(np.diff(time[good]) < 0):
        raise AnalysisInputError(f"{curve.name}: the times must be in increasing order")
    baseline = float(time[good][-1] - time[good][0])
    period_max = settings.period_max_d if settings.period_max_d is not None else baseline / 2.0
    period_max = min(period_max, baseline / 2.0)
    if period_max <= settings.period_min_d:
        raise AnalysisInputError(
            f"{curve.name}: the light curve spans {baseline:.3g} d, too short to see two "
            f"transits of periods above {settings.period_min_d} d"
        )

    detrended = np.full(time.size, np.nan)
    flat, flares = _detrend(time[good], flux[good], settings.window_d)
    detrended[good] = flat
    clipped = np.zeros(time.size, dtype=bool)
    clipped[good] = flares
    usable = good & np.isfinite(detrended)
    clipped |= usable & (detrended > 1.0 + OUTLIER_SIGMA * _robust_std(detrended[usable]))
    usable &= ~clipped
    if np.count_nonzero(usable) < MIN_POINTS:
        raise AnalysisInputError(f"{curve.name}: too few points survive the detrending")

    candidates: list[Candidate] = []
    rejected: list[Rejection] = []
    periodograms: list[Periodogram] = []
    active = usable.copy()
    for _ in range(settings.max_candidates):
        t, y, dy = time[active], detrended[active], err[active]
        peak = _search(t, y, dy, settings, period_max)
        periodograms.append(peak.periodogram)
        if not (peak.sde >= settings.sde_threshold):
            break
        candidate, evidence = _candidate(t, y, dy, peak, time[usable])
        reason = _vetting(candidate, evidence)
        if reason is not None:  # the strongest signal this curve's noise makes: stop
            rejected.append(Rejection(candidate, reason))
            break
        candidates.append(candidate)
        active &= ~in_transit(
            time, candidate.period_d, candidate.t0_bjd, MASK_FACTOR * candidate.duration_h * HOUR_D
        )
        if np.count_nonzero(active) < MIN_POINTS:
            break
    return TransitSearch(
        name=curve.name,
        method=settings.method,
        points_used=int(np.count_nonzero(usable)),
        dropped_quality=curve.dropped_quality,
        dropped_nonfinite=curve.dropped_nonfinite + int(np.count_nonzero(~good)),
        candidates=tuple(candidates),
        periodograms=tuple(periodograms),
        rejected=tuple(rejected),
        clipped_outliers=int(np.count_nonzero(clipped)),
        window_d=settings.window_d,
        period_range_d=(settings.period_min_d, float(period_max)),
        detrended=np.where(usable, detrended, np.nan),
    )


def in_transit(time: FloatArray, period_d: float, t0: float, width_d: float) -> BoolArray:
    """Return True for the times within ``width_d / 2`` of a mid-transit time."""
    return np.asarray(np.abs(_phase_offset(time, period_d, t0)) < 0.5 * width_d)


def _phase_offset(time: FloatArray, period_d: float, t0: float) -> FloatArray:
    """Return each time's offset from the nearest mid-transit, in days."""
    return np.asarray((time - t0 + 0.5 * period_d) % period_d - 0.5 * period_d)


def _robust_std(values: FloatArray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _detrend(time: FloatArray, flux: FloatArray, window_d: float) -> tuple[FloatArray, BoolArray]:
    """Divide the flux by wotan's time-windowed biweight trend, fitted without the flares.

    A flare lifts even a robust trend around it, and dividing by that trend digs dips
    beside the flare that a search takes for transits. So the trend is fitted twice:
    the second time without the points more than 3 robust standard deviations above
    the first, and the flare's decay after each (while above 1 standard deviation).
    Returns the detrended flux and the points taken for flares. The curve is split
    at gaps over half a window, where a trend could not see both sides anyway.
    """
    flat = _biweight(time, flux, window_d)
    residual = flat - 1.0
    finite = np.isfinite(residual)
    if np.count_nonzero(finite) < MIN_POINTS:
        return flat, np.zeros(time.size, dtype=bool)
    sigma = _robust_std(residual[finite])
    bright = finite & (residual > sigma)
    flares = finite & (residual > OUTLIER_SIGMA * sigma)
    for _ in range(FLARE_DECAY_POINTS):  # the decay: bright points right after a flare point
        grown = flares.copy()
        grown[1:] |= flares[:-1] & bright[1:]
        if np.array_equal(grown, flares):
            break
        flares = grown
    if not flares.any() or np.count_nonzero(~flares) < MIN_POINTS:
        return flat, flares
    quiet = ~flares
    trend = flux[quiet] / _biweight(time[quiet], flux[quiet], window_d)
    ok = np.isfinite(trend)
    if np.count_nonzero(ok) < MIN_POINTS:
        return flat, flares
    return flux / np.interp(time, time[quiet][ok], trend[ok]), flares


def _biweight(time: FloatArray, flux: FloatArray, window_d: float) -> FloatArray:
    from wotan import flatten

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = flatten(
            time,
            flux,
            method="biweight",
            window_length=window_d,
            edge_cutoff=0.0,
            break_tolerance=window_d / 2.0,
        )
    return np.asarray(flat, dtype=np.float64)


@dataclass(frozen=True)
class _Peak:
    """The best period of one search run, with the duration and T0 the search gave."""

    periodogram: Periodogram
    sde: float
    period_d: float
    t0: float
    duration_d: float


def _search(
    t: FloatArray, y: FloatArray, dy: FloatArray, settings: TransitSettings, period_max: float
) -> _Peak:
    if settings.method is SearchMethod.TLS:
        return _search_tls(t, y, dy, settings, period_max)
    return _search_bls(t, y, dy, settings, period_max)


def _stellar_limits(settings: TransitSettings, period_max: float) -> dict[str, float]:
    """Return TLS's stellar limits that make its durations span the settings' range.

    TLS tries, at period P, durations from T14(R_min, P) of a small planet to T14(R_max, P)
    of a planet of two Jupiter radii, T14 = R (4 P / (pi G M))^(1/3) (one solar mass
    here). The radii are chosen so that, at the geometric mean of the periods searched,
    these are ``duration_min_h`` and ``duration_max_h``.
    """
    from transitleastsquares import tls_constants as c

    period_s = math.sqrt(settings.period_min_d * period_max) * 86400.0
    scale = (4.0 * period_s / (math.pi * c.G * c.M_sun)) ** (1.0 / 3.0)  # seconds per metre
    r_min = settings.duration_min_h * 3600.0 / scale / c.R_sun
    r_max = (settings.duration_max_h * 3600.0 / scale - 2.0 * c.R_jup) / c.R_sun
    r_max = max(r_max, 1.01 * r_min)
    return {
        "R_star": min(max(1.0, r_min), r_max),
        "R_star_min": r_min,
        "R_star_max": r_max,
        "M_star": 1.0,
        "M_star_min": 1.0,
        "M_star_max": 1.0,
    }


def _period_grid(
    t: FloatArray, settings: TransitSettings, period_max: float, stellar: dict[str, float]
) -> FloatArray:
    from transitleastsquares import period_grid

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        periods = period_grid(
            R_star=stellar["R_star"],
            M_star=stellar["M_star"],
            time_span=float(t[-1] - t[0]),
            period_min=settings.period_min_d,
            period_max=period_max,
            oversampling_factor=settings.oversampling,
        )
    return np.sort(np.asarray(periods, dtype=np.float64))


def _search_tls(
    t: FloatArray, y: FloatArray, dy: FloatArray, settings: TransitSettings, period_max: float
) -> _Peak:
    from transitleastsquares import transitleastsquares

    stellar = _stellar_limits(settings, period_max)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result: Any = transitleastsquares(t, y, dy, verbose=False).power(
            period_min=settings.period_min_d,
            period_max=period_max,
            oversampling_factor=settings.oversampling,
            use_threads=1,
            show_progress_bar=False,
            verbose=False,
            **stellar,
        )
    periods = np.asarray(result.periods, dtype=np.float64)
    power = np.asarray(result.power, dtype=np.float64)
    order = np.argsort(periods)
    sde = float(result.SDE) if np.isfinite(result.period) else 0.0
    period = float(result.period) if np.isfinite(result.period) else math.nan
    return _Peak(
        periodogram=Periodogram(periods[order], power[order], sde, period),
        sde=sde,
        period_d=period,
        t0=float(result.T0),
        duration_d=float(result.duration) if np.isfinite(result.duration) else math.nan,
    )


def _search_bls(
    t: FloatArray, y: FloatArray, dy: FloatArray, settings: TransitSettings, period_max: float
) -> _Peak:
    from astropy.timeseries import BoxLeastSquares

    stellar = _stellar_limits(settings, period_max)
    periods = _period_grid(t, settings, period_max, stellar)
    durations = (
        np.geomspace(settings.duration_min_h, settings.duration_max_h, BLS_DURATIONS) * HOUR_D
    )
    weights = 1.0 / dy**2
    chi2_null = float(np.sum(weights * (y - np.average(y, weights=weights)) ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bls = BoxLeastSquares(t, y, dy)
        result = bls.power(periods, durations, objective="likelihood", oversample=10)
    gain = np.asarray(result.power, dtype=np.float64)  # log-likelihood gain: chi2 drop / 2
    gain = np.where(np.asarray(result.depth) > 0.0, gain, 0.0)  # dips only, no brightenings
    chi2 = np.maximum(chi2_null - 2.0 * gain, 1e-12 * chi2_null)
    power, sde = _sde_spectrum(chi2, settings.oversampling)
    best = int(np.argmax(power))
    return _Peak(
        periodogram=Periodogram(periods, power, sde, float(periods[best])),
        sde=sde,
        period_d=float(periods[best]),
        t0=float(result.transit_time[best]),
        duration_d=float(result.duration[best]),
    )


def _sde_spectrum(chi2: FloatArray, oversampling: int) -> tuple[FloatArray, float]:
    """Return the SDE-scaled spectrum of ``1 - chi2_min / chi2`` and its SDE (TLS's definition)."""
    from scipy.ndimage import median_filter

    sr = np.min(chi2) / chi2
    power = sr - np.mean(sr)
    kernel = oversampling * SDE_KERNEL
    if kernel % 2 == 0:
        kernel += 1
    if power.size > 2 * kernel:
        power = power - median_filter(power, size=kernel, mode="nearest")
        power = power - np.mean(power)
    spread = float(np.std(power))
    if not spread > 0:
        return np.zeros_like(power), 0.0
    power = power / spread
    return power, float(np.max(power))


@dataclass(frozen=True)
class _Evidence:
    """What the vetting weighs besides a candidate's own figures."""

    fold_snr: float  # the depth over the folded curve's variation at other phases
    whole_transits: int  # transits with data before, in both halves of, and after them
    depth_spread_p: float  # the chance that the transits' depths differ as much by noise


def _candidate(
    t: FloatArray, y: FloatArray, dy: FloatArray, peak: _Peak, t_usable: FloatArray
) -> tuple[Candidate, _Evidence]:
    """Refine a peak's ephemeris with a trapezoid fit and measure its statistics.

    ``t``, ``y``, ``dy`` are the points searched (earlier candidates' transits masked);
    ``t_usable`` all usable times, which tell whether a transit was seen whole (a mask
    of ours is no gap in the data).

    The SNR and the odd and even depths are matched-filter estimates with the fitted
    shape: depth = sum(s (1 - y)) / sum(s^2) over the points, s the shape (1 at the
    flat bottom), whose error is sigma / sqrt(sum(s^2)) with sigma the scatter out of
    transit. Partly covered ingresses and egresses then weigh what they should.
    """
    fit = _refine(t, y, dy, peak)
    t_mid = 0.5 * (t[0] + t[-1])
    t0 = fit.t0 + round((t_mid - fit.t0) / fit.period_d) * fit.period_d  # epoch nearest the middle
    offset = _phase_offset(t, fit.period_d, t0)
    shape = fit.depth_shape(t, t0)
    inside = shape > 0.0
    outside = np.abs(offset) > fit.duration_d
    sigma = float(np.std(y[outside])) if np.count_nonzero(outside) > 2 else _robust_std(y)
    epoch = np.round((t - t0) / fit.period_d).astype(np.int64)
    depth, depth_err = _matched_depth(y, shape, inside, sigma)
    odd, odd_err = _matched_depth(y, shape, inside & (epoch % 2 == 1), sigma)
    even, even_err = _matched_depth(y, shape, inside & (epoch % 2 == 0), sigma)
    odd_even = abs(odd - even) / math.hypot(odd_err, even_err)
    candidate = Candidate(
        period_d=fit.period_d,
        t0_bjd=t0,
        depth_ppm=fit.depth * 1e6,
        duration_h=fit.duration_d * 24.0,
        sde=peak.sde,
        snr=depth / depth_err,
        transits=int(np.unique(epoch[inside]).size),
        odd_even_sigma=odd_even if math.isfinite(odd_even) else math.nan,
    )
    fold_rms = _fold_scatter(t, y, fit, t0)
    around = _phase_offset(t_usable, fit.period_d, t0)
    around_epoch = np.round((t_usable - t0) / fit.period_d).astype(np.int64)
    half = 0.5 * fit.duration_d
    seen = set(epoch[inside])
    for lower, upper in ((-2 * half, -half), (-half, 0.0), (0.0, half), (half, 2 * half)):
        seen &= set(around_epoch[(around >= lower) & (around < upper)])
    depths = [
        _matched_depth(y, shape, inside & (epoch == e), sigma) for e in sorted(set(epoch[inside]))
    ]
    evidence = _Evidence(
        fold_snr=fit.depth / fold_rms if fold_rms > 0 else math.inf,
        whole_transits=len(seen),
        depth_spread_p=_depth_spread_p(depths, depth),
    )
    return candidate, evidence


def _fold_scatter(t: FloatArray, y: FloatArray, fit: _Fit, t0: float) -> float:
    """Return the RMS of the matched depths at other phases (steps of half a duration)."""
    step = 0.5 * fit.duration_d
    shifts = np.arange(2, int(fit.period_d / step) - 1) * step
    shifts = shifts[(shifts > fit.duration_d) & (shifts < fit.period_d - fit.duration_d)]
    depths = []
    for shift in shifts:
        shape = fit.depth_shape(t, t0 + shift)
        d, _ = _matched_depth(y, shape, shape > 0, 1.0)
        if math.isfinite(d):
            depths.append(d)
    return float(np.sqrt(np.mean(np.square(depths)))) if depths else math.nan


def _vetting(candidate: Candidate, evidence: _Evidence) -> str | None:
    """Return why a signal is not taken for a transit, or None if it is.

    A transit counts when the data show it whole: points in it, and within a duration
    before and after it (a dip at the edge of a gap is often the instrument settling).
    Two are needed to measure a period. Odd and even transits of different depths
    betray an eclipsing binary, or dips that have nothing to do with each other. And
    a dip no deeper than the folded curve's own variation at other phases is stellar
    variability (rotation, pulsation) that the detrending left, not a transit.
    """
    fold_snr = evidence.fold_snr
    if evidence.whole_transits < 2:
        return (
            f"{evidence.whole_transits} transit(s) seen whole (data before, in both halves "
            "and after): at least 2 are needed to measure a period"
        )
    if candidate.odd_even_sigma > VET_ODD_EVEN_SIGMA:
        return (
            f"odd and even transits differ by {candidate.odd_even_sigma:.1f} sigma: "
            "an eclipsing binary at twice the period, or unrelated dips"
        )
    if evidence.depth_spread_p < VET_DEPTH_SPREAD_P:
        return (
            "the transits' depths differ more than noise explains "
            f"(chance {evidence.depth_spread_p:.1e}): unrelated dips"
        )
    if fold_snr < VET_FOLD_SNR:
        return (
            f"variability: the dip is only {fold_snr:.2f} times the folded curve's own "
            f"variation at other phases (at least {VET_FOLD_SNR:g} wanted)"
        )
    return None


def _depth_spread_p(depths: list[tuple[float, float]], depth: float) -> float:
    """Return the chance of the single transits' depths scattering this much around theirs.

    A chi-squared test, each depth's error widened by DEPTH_SPREAD_FLOOR x the depth
    (real transits differ that much through the detrending and the fitted shape)."""
    from scipy.stats import chi2

    usable = [(d, e) for d, e in depths if math.isfinite(d) and math.isfinite(e)]
    if len(usable) < 2:
        return 1.0
    values = np.array([d for d, _ in usable])
    errors = np.hypot([e for _, e in usable], DEPTH_SPREAD_FLOOR * abs(depth))
    weights = 1.0 / errors**2
    mean = float(np.sum(weights * values) / np.sum(weights))
    statistic = float(np.sum(weights * (values - mean) ** 2))
    return float(chi2.sf(statistic, len(usable) - 1))


def _matched_depth(
    y: FloatArray, shape: FloatArray, selected: BoolArray, sigma: float
) -> tuple[float, float]:
    """Return the depth of the shape that best fits the selected points, and its error."""
    weight = float(np.sum(shape[selected] ** 2))
    if not (weight > 0.0 and sigma > 0.0):
        return math.nan, math.nan
    depth = float(np.sum(shape[selected] * (1.0 - y[selected]))) / weight
    return depth, sigma / math.sqrt(weight)


@dataclass(frozen=True)
class _Fit:
    """A trapezoid transit: period, a mid-transit time, depth, duration and ingress (days)."""

    period_d: float
    t0: float
    depth: float
    duration_d: float
    ingress_d: float

    def depth_shape(self, time: FloatArray, t0: float) -> FloatArray:
        """Return the transit's shape: 0 out of transit, 1 at the flat bottom."""
        return np.asarray(
            1.0 - trapezoid(time, self.period_d, t0, 1.0, self.duration_d, self.ingress_d)
        )


def trapezoid(
    time: FloatArray, period_d: float, t0: float, depth: float, duration_d: float, ingress_d: float
) -> FloatArray:
    """Return a trapezoid transit (1 out of transit): flat bottom ``depth``, linear ingress."""
    x = np.abs(_phase_offset(time, period_d, t0))
    half = 0.5 * duration_d
    ingress = min(max(ingress_d, 1e-6), half)
    deficit = depth * np.clip((half - x) / ingress, 0.0, 1.0)
    return np.asarray(1.0 - deficit)


def _refine(t: FloatArray, y: FloatArray, dy: FloatArray, peak: _Peak) -> _Fit:
    """Fit a trapezoid around the search's peak (least squares, weighted by the errors).

    The model is averaged over each exposure (the median spacing of the points), as a
    long cadence smears a transit. The fit starts from a few durations and ingresses
    and keeps the best; the period may move by 0.5 %, T0 by half a duration, the
    duration by a factor of two. Where no fit does better than the search's box, the
    search's own values stay (with a fifth of the duration for the ingress).
    """
    from scipy.optimize import least_squares

    period, t0, duration = peak.period_d, peak.t0, peak.duration_d
    t_mid = 0.5 * (t[0] + t[-1])
    t0 = t0 + round((t_mid - t0) / period) * period
    inside = np.abs(_phase_offset(t, period, t0)) < 0.5 * duration
    depth = max(float(1.0 - np.mean(y[inside])) if inside.any() else 0.0, 1e-6)
    searched = _Fit(period, t0, depth, duration, 0.2 * duration)
    exposure = float(np.median(np.diff(t)))
    offsets = exposure * ((np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5)
    near = np.abs(_phase_offset(t, period, t0)) < 1.5 * duration  # the rest is flat anyway
    t_near, y_near, dy_near = t[near], y[near], dy[near]
    t_sub = (t_near[:, None] + offsets[None, :]).ravel()

    def residual(p: FloatArray) -> FloatArray:
        model = trapezoid(t_sub, p[0], p[1], p[2], p[3], p[4] * p[3])
        return np.asarray((y_near - model.reshape(-1, SUPERSAMPLE).mean(axis=1)) / dy_near)

    lower = np.array([period * 0.995, t0 - 0.5 * duration, 0.0, 0.5 * duration, 0.02])
    upper = np.array([period * 1.005, t0 + 0.5 * duration, 5.0 * depth + 1e-3, 2.0 * duration, 0.5])
    upper[3] = min(upper[3], 0.25 * period)
    box = np.clip(np.array([period, t0, depth, duration, 0.02]), lower, upper)
    best, best_cost = searched, 0.5 * float(np.sum(residual(box) ** 2))
    for factor in (0.8, 1.0, 1.25):
        for ingress in (0.1, 0.3):
            start = np.clip(np.array([period, t0, depth, factor * duration, ingress]), lower, upper)
            try:
                fit = least_squares(
                    residual, start, bounds=(lower, upper), x_scale="jac", max_nfev=200
                )
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.all(np.isfinite(fit.x)) and fit.cost < best_cost:
                p = fit.x
                best = _Fit(float(p[0]), float(p[1]), float(p[2]), float(p[3]), float(p[4] * p[3]))
                best_cost = float(fit.cost)
    return best
