"""Test the figures of merit against a naive per-point implementation of their definitions.

The oracle below is written from merit.py's docstring and issue 18, one point at a time:
the point's *accesses* are the union of every satellite's intervals (satellites that
overlap count once, intervals that touch join); its *gaps* are the rest of the window
``[0, T]`` (positive lengths only), the *edge gaps* being those that touch ``0`` or
``T`` (a point never covered has one gap, the whole window, an edge gap). Then

- coverage fraction = covered time / T; accesses = their number; mean access = covered
  time / accesses (undefined without one);
- max gap = the longest gap, edge gaps counted (0 without a gap); max interior gap = the
  longest of the others (undefined without one); mean gap and mean interior gap alike;
- time-averaged gap = sum(g^2) / T, mean response time = sum(g^2 / 2) / T (all gaps);
- first access = the first access's start (undefined without one);
- mean in view = the satellites' summed access time / T; max in view = the most
  satellites covering the point at one moment, intervals closed (a hand-over at one
  instant counts both satellites, as the union joins them there).

The hypothesis cases draw times on a quarter-second grid so sums are exact; figures are
compared within :data:`one_nanosecond` (seconds) or :data:`exact_fraction`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jointsat.design.intervals import Intervals
from jointsat.design.merit import FIGURES, PERCENTILES, PointFigures, aggregate, point_figures

one_nanosecond = 1e-9  # s
exact_fraction = 1e-12  # of the window, or of a count of satellites
QUARTER_SECOND = 0.25

Row = tuple[int, float, float]  # (point, start_s, end_s)


def naive_point(intervals: Sequence[tuple[float, float]], duration_s: float) -> dict[str, float]:
    """Return one point's figures from all its satellites' intervals (the oracle)."""
    union: list[list[float]] = []
    for s, e in sorted(intervals):
        if union and s <= union[-1][1]:
            union[-1][1] = max(union[-1][1], e)
        else:
            union.append([s, e])
    covered = sum(e - s for s, e in union)
    edges: list[float] = []
    interior: list[float] = []
    if not union:
        edges.append(duration_s)
    else:
        if union[0][0] > 0.0:
            edges.append(union[0][0])
        if union[-1][1] < duration_s:
            edges.append(duration_s - union[-1][1])
        interior = [b[0] - a[1] for a, b in itertools.pairwise(union)]
    gaps = edges + interior
    nan = math.nan
    in_view = [sum(1 for s, e in intervals if s <= t <= e) for t, _ in intervals]
    return {
        "coverage_fraction": covered / duration_s,
        "accesses": len(union),
        "mean_access_s": covered / len(union) if union else nan,
        "max_gap_s": max(gaps) if gaps else 0.0,
        "max_gap_interior_s": max(interior) if interior else nan,
        "mean_gap_s": sum(gaps) / len(gaps) if gaps else 0.0,
        "mean_gap_interior_s": sum(interior) / len(interior) if interior else nan,
        "time_avg_gap_s": sum(g * g for g in gaps) / duration_s,
        "mean_response_s": sum(g * g / 2.0 for g in gaps) / duration_s,
        "first_access_s": union[0][0] if union else nan,
        "mean_in_view": sum(e - s for s, e in intervals) / duration_s,
        "max_in_view": max(in_view, default=0),
    }


def intervals_of(rows: Sequence[Row]) -> Intervals:
    if not rows:
        return Intervals.empty()
    point, start, end = zip(*rows, strict=True)
    return Intervals(np.array(point, np.int64), np.array(start, float), np.array(end, float))


def figures_of(per_satellite: Sequence[Sequence[Row]], points: int, duration_s: float) -> Any:
    return point_figures([intervals_of(rows) for rows in per_satellite], points, duration_s)


def assert_agree(found: PointFigures, per_satellite: Sequence[Sequence[Row]], T: float) -> None:
    columns = found.columns()
    assert tuple(columns) == FIGURES
    points = len(columns["accesses"])
    for p in range(points):
        mine = [(s, e) for rows in per_satellite for g, s, e in rows if g == p]
        expected = naive_point(mine, T)
        for name in FIGURES:
            value = float(columns[name][p])
            want = expected[name]
            tolerance = exact_fraction if name in ("coverage_fraction", "mean_in_view") else 0.0
            tolerance = one_nanosecond if name.endswith("_s") else tolerance
            if math.isnan(want):
                assert math.isnan(value), (p, name, value, mine)
            else:
                assert abs(value - want) <= tolerance, (p, name, value, want, mine)


@st.composite
def satellites(draw: st.DrawFn) -> tuple[list[list[Row]], int, float]:
    """Draw each satellite's intervals: disjoint per point, within [0, T], in any order."""
    quarters = draw(st.integers(4, 200))
    duration = quarters * QUARTER_SECOND
    points = draw(st.integers(1, 4))
    per_satellite = []
    for _ in range(draw(st.integers(0, 4))):
        rows: list[Row] = []
        for p in range(points):
            # Sorted distinct cuts paired up: disjoint, not touching, 0 and T allowed.
            cuts = sorted(draw(st.sets(st.integers(0, quarters), max_size=8)))
            cuts = cuts[: len(cuts) // 2 * 2]
            rows += [
                (p, a * QUARTER_SECOND, b * QUARTER_SECOND)
                for a, b in zip(cuts[::2], cuts[1::2], strict=True)
            ]
        order = draw(st.permutations(range(len(rows))))
        per_satellite.append([rows[k] for k in order])
    return per_satellite, points, duration


@settings(max_examples=300, deadline=None)
@given(satellites())
def test_point_figures_follow_the_definitions(case: tuple[list[list[Row]], int, float]) -> None:
    per_satellite, points, duration = case
    assert_agree(figures_of(per_satellite, points, duration), per_satellite, duration)


def test_hand_computed_points() -> None:
    """Five points over T = 100 s, each figure worked out by hand."""
    a = [(0, 10.0, 30.0), (0, 60.0, 70.0), (2, 0.0, 100.0), (3, 0.0, 30.0), (4, 40.0, 50.0)]
    a += [(4, 60.0, 70.0)]
    b = [(0, 25.0, 40.0), (0, 70.0, 80.0), (3, 50.0, 100.0)]
    f = figures_of([a, b], 5, 100.0).columns()
    nan = math.nan
    expected = {
        # Point 0: A and B overlap on [25, 30], and touch at 70: accesses [10, 40] and
        # [60, 80]. Gaps: 10 (lead), 20 (interior), 20 (trail).
        # Point 1: never covered. Point 2: covered throughout. Point 3: A then B, one
        # interior gap of 20. Point 4: gaps 40 (lead), 10 (interior), 30 (trail).
        "coverage_fraction": [0.5, 0.0, 1.0, 0.8, 0.2],
        "accesses": [2, 0, 1, 2, 2],
        "mean_access_s": [25.0, nan, 100.0, 40.0, 10.0],
        "max_gap_s": [20.0, 100.0, 0.0, 20.0, 40.0],
        "max_gap_interior_s": [20.0, nan, nan, 20.0, 10.0],
        "mean_gap_s": [50.0 / 3.0, 100.0, 0.0, 20.0, 80.0 / 3.0],
        "mean_gap_interior_s": [20.0, nan, nan, 20.0, 10.0],
        "time_avg_gap_s": [9.0, 100.0, 0.0, 4.0, 26.0],
        "mean_response_s": [4.5, 50.0, 0.0, 2.0, 13.0],
        "first_access_s": [10.0, nan, 0.0, 0.0, 40.0],
        "mean_in_view": [0.55, 0.0, 1.0, 0.8, 0.2],
        "max_in_view": [2, 0, 1, 1, 1],
    }
    assert list(expected) == list(FIGURES)
    for name, want in expected.items():
        np.testing.assert_allclose(f[name], want, rtol=0.0, atol=one_nanosecond, err_msg=name)


def test_a_hand_over_at_one_instant_joins_the_accesses_and_counts_both() -> None:
    f = figures_of([[(0, 0.0, 40.0)], [(0, 40.0, 60.0)]], 1, 100.0).columns()
    assert f["accesses"].tolist() == [1]
    assert f["max_gap_s"].tolist() == [40.0]
    assert f["max_in_view"].tolist() == [2]


def test_no_satellites_leave_every_point_uncovered() -> None:
    f = point_figures([], 3, 50.0).columns()
    assert f["coverage_fraction"].tolist() == [0.0] * 3
    assert f["max_gap_s"].tolist() == [50.0] * 3
    assert f["mean_response_s"].tolist() == [25.0] * 3
    assert np.isnan(f["first_access_s"]).all()


# aggregate(): weighted statistics over points, against numpy.


def uniform_figures(values: np.ndarray) -> PointFigures:
    """Return figures whose every column holds ``values`` (aggregate reads each as floats)."""
    return PointFigures(*([values] * len(FIGURES)))


def weighted_percentile(values: np.ndarray, weight: np.ndarray, q: float) -> float:
    """The smallest value whose cumulative weight reaches q %: numpy's inverted CDF on
    each value repeated as many times as its (whole-number) weight."""
    return float(np.percentile(np.repeat(values, weight.astype(int)), q, method="inverted_cdf"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.just(math.nan), st.integers(-50, 50).map(float)),
            st.integers(1, 5),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_aggregate_against_numpy(pairs: list[tuple[float, int]], take_rows: bool) -> None:
    values = np.array([v for v, _ in pairs], dtype=float)
    weight = np.array([w for _, w in pairs], dtype=float)
    rows = np.arange(len(pairs))[::2] if take_rows else None
    found = aggregate(uniform_figures(values), weight, rows)
    if rows is not None:
        values, weight = values[rows], weight[rows]
    ok = np.isfinite(values)
    for name in FIGURES:
        summary = found[name]
        assert summary["undefined_points"] == int((~ok).sum())
        if not ok.any():
            assert all(summary[k] is None for k in summary if k != "undefined_points")
            continue
        v, w = values[ok], weight[ok]
        assert summary["mean"] == pytest.approx(float((v * w).sum() / w.sum()), abs=1e-12)
        assert summary["min"] == float(v.min())
        assert summary["max"] == float(v.max())
        for q in PERCENTILES:
            assert summary[f"p{q}"] == weighted_percentile(v, w, q), q


def test_aggregate_hand_computed() -> None:
    """Values 10, 20, 30, NaN with areas 1, 1, 2, 5: the NaN point is left out and counted."""
    values = np.array([30.0, 10.0, math.nan, 20.0])
    weight = np.array([2.0, 1.0, 5.0, 1.0])
    summary = aggregate(uniform_figures(values), weight)["max_gap_s"]
    assert summary == {
        "undefined_points": 1,
        "mean": (30.0 * 2 + 10.0 + 20.0) / 4.0,
        "min": 10.0,
        "max": 30.0,
        "p10": 10.0,  # cumulative area 1/4 reaches 10 %
        "p50": 20.0,  # 2/4 reaches 50 % exactly at 20
        "p90": 30.0,
    }


def test_aggregate_with_no_weight_has_no_statistics() -> None:
    values = np.array([1.0, 2.0])
    summary = aggregate(uniform_figures(values), np.zeros(2))["accesses"]
    assert summary["undefined_points"] == 0
    assert summary["mean"] is None
    assert summary["p50"] is None
