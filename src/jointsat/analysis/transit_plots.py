"""Draw a transit search as a PNG: the best candidate's folded light curve and the periodogram.

An edge module (it writes the image into memory with matplotlib's Agg canvas, no
display and no global pyplot state), kept apart from the pure search. The PNG is what
the archive stores as a derived product's asset.
"""

from __future__ import annotations

import io

import numpy as np

from jointsat.analysis.photometry import LightCurve
from jointsat.analysis.transits import TransitSearch

DPI = 100
BINS_PER_DURATION = 4


def plot_search(search: TransitSearch, curve: LightCurve) -> bytes:
    """Return a PNG of the search: the folded curve of its best candidate, and its periodogram.

    Without a candidate the curve is folded on the periodogram's highest peak and the
    title says that nothing reached the threshold.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0, 7.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    folded, spectrum = figure.subplots(2, 1, height_ratios=(3, 2))
    time = curve.time_bjd_tdb
    flux = search.detrended if search.detrended.size == time.size else curve.flux
    ok = np.isfinite(flux)

    best = search.candidates[0] if search.candidates else None
    if best is not None:
        period, t0, duration_h = best.period_d, best.t0_bjd, best.duration_h
        title = (
            f"{search.name}: P = {period:.5f} d, depth {best.depth_ppm:,.0f} ppm, "
            f"{duration_h:.2f} h, SDE {best.sde:.1f}, SNR {best.snr:.1f}"
        )
    elif search.periodograms and np.isfinite(search.periodograms[0].period_d):
        peak = search.periodograms[0]
        period, t0, duration_h = peak.period_d, float(time[0]), 2.0
        title = f"{search.name}: no candidate (highest peak SDE {peak.sde:.1f} at {period:.4f} d)"
    else:
        period, t0, duration_h = float("nan"), float(time[0]), 2.0
        title = f"{search.name}: no candidate"

    if np.isfinite(period):
        hours = ((time[ok] - t0 + 0.5 * period) % period - 0.5 * period) * 24.0
        window_h = min(max(3.0 * duration_h, 6.0), 12.0 * period)
        near = np.abs(hours) < window_h
        folded.plot(
            hours[near], (flux[ok][near] - 1.0) * 1e6, ".", ms=2, color="0.6", label="detrended"
        )
        edges = np.arange(-window_h, window_h + 1e-9, duration_h / BINS_PER_DURATION)
        index = np.digitize(hours[near], edges)
        binned = [
            (0.5 * (edges[i - 1] + edges[i]), np.mean(flux[ok][near][index == i]))
            for i in range(1, edges.size)
            if np.count_nonzero(index == i) >= 3
        ]
        if binned:
            x, y = np.array(binned).T
            folded.plot(x, (y - 1.0) * 1e6, "o", ms=4, color="C0", label="binned")
        if best is not None:
            half = 0.5 * duration_h
            folded.plot(
                [-window_h, -half, -half, half, half, window_h],
                [0, 0, -best.depth_ppm, -best.depth_ppm, 0, 0],
                color="C3",
                lw=1,
                label="fitted depth and duration",
            )
        folded.set_xlim(-window_h, window_h)
        folded.legend(loc="lower right", fontsize=8)
    folded.set_xlabel("hours from mid-transit")
    folded.set_ylabel("flux - 1 (ppm)")
    folded.set_title(title, fontsize=10)

    if search.periodograms:
        first = search.periodograms[0]
        spectrum.plot(first.periods_d, first.power, lw=0.7, color="k")
        for candidate in search.candidates:
            spectrum.axvline(candidate.period_d, color="C3", alpha=0.4, lw=3)
        spectrum.set_xscale("log")
    spectrum.set_xlabel("period (d)")
    spectrum.set_ylabel(f"SDE ({search.method.value.upper()})")

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
