"""Compute coverage figures of merit per point, and aggregate them by area weight.

The definitions follow STK's Coverage figures of merit; docs/design.md gives each with
its formula. All times are seconds within the study window ``[0, T]``. An *access* of a
point is a maximal interval during which at least one satellite covers it (satellites
overlapping count once); a *gap* is a maximal interval without one. The gaps that touch
the window's start or end are *edge gaps*: they are counted by the pessimistic figures
(``max_gap_s``, ``mean_gap_s``) and left out of the interior ones
(``max_gap_interior_s``, ``mean_gap_interior_s``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from jointsat.design.intervals import Intervals
from jointsat.orbits.vectors import FloatArray, IntArray

FIGURES = (
    "coverage_fraction",
    "accesses",
    "mean_access_s",
    "max_gap_s",
    "max_gap_interior_s",
    "mean_gap_s",
    "mean_gap_interior_s",
    "time_avg_gap_s",
    "mean_response_s",
    "first_access_s",
    "mean_in_view",
    "max_in_view",
)
"""The figures of merit, in the order of the per-point table's columns."""

PERCENTILES = (10, 50, 90)


@dataclass(frozen=True, eq=False)
class PointFigures:
    """Each figure of merit as a column, one row per point (NaN where undefined)."""

    coverage_fraction: FloatArray
    accesses: IntArray
    mean_access_s: FloatArray
    max_gap_s: FloatArray
    max_gap_interior_s: FloatArray
    mean_gap_s: FloatArray
    mean_gap_interior_s: FloatArray
    time_avg_gap_s: FloatArray
    mean_response_s: FloatArray
    first_access_s: FloatArray
    mean_in_view: FloatArray
    max_in_view: IntArray

    def columns(self) -> dict[str, np.ndarray]:
        """Return the figures by name, in :data:`FIGURES`' order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def point_figures(
    per_satellite: Sequence[Intervals], points: int, duration_s: float
) -> PointFigures:
    """Return every point's figures from each satellite's accesses (group = point index).

    Each satellite's intervals must be disjoint per point (as the access engine gives
    them) and lie within ``[0, duration_s]``; sorted by point then start (as the engine
    gives them) they are merged fastest.

    One sweep over the starts and ends of all satellites' intervals, ordered by point
    and time, gives everything: the number of satellites in view after each event, the
    union's accesses (where that number leaves and comes back to zero) and its greatest
    value. At equal times starts come first, so that accesses that touch join.
    """
    groups = [a.group for a in per_satellite]
    n = sum(g.size for g in groups)
    group = np.concatenate([*groups, *groups]) if n else np.empty(0, np.int64)
    time = (
        np.concatenate([*(a.start_s for a in per_satellite), *(a.end_s for a in per_satellite)])
        if n
        else np.empty(0)
    )
    span = 2.0 * duration_s + 1.0
    order = np.argsort(group * span + time, kind="stable")
    rise = order < n
    depth = np.cumsum(np.where(rise, 1, -1))
    group = group[order]
    time = time[order]
    opens = rise & (depth == 1)
    closes = ~rise & (depth == 0)
    union = Intervals(group[opens], time[opens], time[closes])
    deepest = np.zeros(points, dtype=np.int64)
    if n:
        first_event = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        np.put(deepest, group[first_event], np.maximum.reduceat(depth, first_event))
    in_view_s = np.asarray(
        np.bincount(group, weights=np.where(rise, -time, time), minlength=points), dtype=float
    )
    return _from_union(union, in_view_s, deepest, points, duration_s)


def _from_union(
    union: Intervals,
    in_view_s: FloatArray,
    deepest: IntArray,
    points: int,
    duration_s: float,
) -> PointFigures:
    """Return the figures from each point's accesses (ordered by point, then time)."""
    g = union.group
    count = np.bincount(g, minlength=points)
    covered_s = np.bincount(g, weights=union.duration_s(), minlength=points)
    has = count > 0
    first = np.full(points, np.nan)
    last_end = np.full(points, np.nan)
    if len(union):
        opens = np.ones(len(union), dtype=bool)
        opens[1:] = g[1:] != g[:-1]
        closes = np.append(opens[1:], True)
        first[g[opens]] = union.start_s[opens]
        last_end[g[closes]] = union.end_s[closes]
        # Interior gaps: between consecutive accesses of one point.
        inner = ~opens[1:]
        gap_group = g[1:][inner]
        gap = union.start_s[1:][inner] - union.end_s[:-1][inner]
    else:
        gap_group = np.empty(0, np.int64)
        gap = np.empty(0)
    lead = np.where(has, first, duration_s)  # no access: one gap, the whole window
    trail = np.where(has, duration_s - last_end, 0.0)
    lead = np.maximum(lead, 0.0)
    trail = np.maximum(trail, 0.0)
    interior_n = np.bincount(gap_group, minlength=points)
    interior_sum = np.bincount(gap_group, weights=gap, minlength=points)
    interior_sq = np.bincount(gap_group, weights=gap * gap, minlength=points)
    interior_max = np.full(points, -np.inf)
    np.maximum.at(interior_max, gap_group, gap)
    edge_n = (lead > 0).astype(int) + (trail > 0).astype(int)
    all_n = interior_n + edge_n
    squares = interior_sq + lead * lead + trail * trail
    with np.errstate(invalid="ignore", divide="ignore"):
        max_gap = np.maximum(np.maximum(lead, trail), interior_max)
        return PointFigures(
            coverage_fraction=covered_s / duration_s,
            accesses=count,
            mean_access_s=np.where(has, covered_s / np.maximum(count, 1), np.nan),
            max_gap_s=np.where(all_n > 0, max_gap, 0.0),
            max_gap_interior_s=np.where(interior_n > 0, interior_max, np.nan),
            mean_gap_s=np.where(all_n > 0, (interior_sum + lead + trail) / all_n, 0.0),
            mean_gap_interior_s=np.where(interior_n > 0, interior_sum / interior_n, np.nan),
            time_avg_gap_s=squares / duration_s,
            mean_response_s=0.5 * squares / duration_s,
            first_access_s=np.where(has, first, np.nan),
            mean_in_view=in_view_s / duration_s,
            max_in_view=deepest,
        )


def aggregate(
    figures: PointFigures, weight: FloatArray, rows: IntArray | None = None
) -> dict[str, dict[str, float | int | None]]:
    """Return, per figure, the weighted mean, min, max and percentiles over the rows.

    ``weight`` is each point's area; points where a figure is undefined (NaN) are left
    out of it and counted as ``undefined_points``.
    """
    out: dict[str, dict[str, float | int | None]] = {}
    w_all = weight if rows is None else weight[rows]
    for name, column in figures.columns().items():
        values = np.asarray(column if rows is None else column[rows], dtype=float)
        ok = np.isfinite(values)
        v, w = values[ok], w_all[ok]
        summary: dict[str, float | int | None] = {"undefined_points": int((~ok).sum())}
        if v.size == 0 or float(w.sum()) <= 0.0:
            summary.update({"mean": None, "min": None, "max": None})
            summary.update({f"p{q}": None for q in PERCENTILES})
        else:
            summary["mean"] = float(np.average(v, weights=w))
            summary["min"] = float(v.min())
            summary["max"] = float(v.max())
            order = np.argsort(v, kind="stable")
            cum = np.cumsum(w[order]) / float(w.sum())
            for q in PERCENTILES:
                k = min(int(np.searchsorted(cum, q / 100.0, side="left")), v.size - 1)
                summary[f"p{q}"] = float(v[order][k])
        out[name] = summary
    return out


def summaries(
    figures: PointFigures, weight: FloatArray, groups: Mapping[str, IntArray]
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Return :func:`aggregate` for each named group of rows."""
    return {name: aggregate(figures, weight, rows) for name, rows in groups.items()}
