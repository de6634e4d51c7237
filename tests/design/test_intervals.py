"""Test the column-wise interval operations against naive pure-Python versions.

The oracle for each operation is the textbook loop over one group at a time, written
here from the functions' docstrings: intervals are closed ``[start, end]``; a group's
union joins touching intervals; an intersection keeps only pieces of positive length.

The hypothesis cases draw times on a grid of quarter seconds, so that touching and
nested intervals occur often and the column-wise arithmetic (which separates groups by
adding a large offset) is exact: results must then be equal, not close. A separate case
at the scale of a real study (a week, thousands of points, millisecond times) checks
that the offset costs no more than :data:`ten_microseconds`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jointsat.design.intervals import Intervals, clip, intersect, merge, sort

ten_microseconds = 1e-5  # s: what adding a group's offset may cost at a week's scale
Row = tuple[int, float, float]

QUARTER_SECOND = 0.25
GROUPS = 5

times = st.integers(0, 160).map(lambda k: k * QUARTER_SECOND)
lengths = st.integers(0, 40).map(lambda k: k * QUARTER_SECOND)
rows_strategy = st.lists(
    st.tuples(st.integers(0, GROUPS - 1), times, lengths).map(lambda r: (r[0], r[1], r[1] + r[2])),
    max_size=30,
)


def intervals_of(rows: list[Row]) -> Intervals:
    if not rows:
        return Intervals.empty()
    group, start, end = zip(*rows, strict=True)
    return Intervals(
        np.array(group, dtype=np.int64), np.array(start, dtype=float), np.array(end, dtype=float)
    )


def rows_of(intervals: Intervals) -> list[Row]:
    return [
        (int(g), float(s), float(e))
        for g, s, e in zip(intervals.group, intervals.start_s, intervals.end_s, strict=True)
    ]


def naive_merge(rows: list[Row]) -> list[Row]:
    """Return each group's union, groups ascending, intervals by start (touching join)."""
    by_group: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for g, s, e in rows:
        by_group[g].append((s, e))
    out: list[Row] = []
    for g in sorted(by_group):
        current: list[float] | None = None
        for s, e in sorted(by_group[g]):
            if current is not None and s <= current[1]:
                current[1] = max(current[1], e)
                continue
            if current is not None:
                out.append((g, current[0], current[1]))
            current = [s, e]
        assert current is not None
        out.append((g, current[0], current[1]))
    return out


def naive_intersect(a: list[Row], b: list[Row], *, common: bool = False) -> list[Row]:
    """Return, for each of ``a``'s intervals in turn, its positive-length pieces in ``b``."""
    out: list[Row] = []
    for g, s, e in a:
        for h, bs, be in sorted(b, key=lambda r: (r[0], r[1])):
            if common or h == g:
                lo, hi = max(s, bs), min(e, be)
                if hi > lo:
                    out.append((g, lo, hi))
    return out


@settings(max_examples=150, deadline=None)
@given(rows_strategy)
def test_sort_orders_by_group_then_start_and_keeps_every_interval(rows: list[Row]) -> None:
    ordered = rows_of(sort(intervals_of(rows)))
    assert sorted(ordered) == sorted(rows)
    keys = [(g, s) for g, s, _ in ordered]
    assert keys == sorted(keys)


@settings(max_examples=150, deadline=None)
@given(rows_strategy)
def test_merge_gives_each_groups_union(rows: list[Row]) -> None:
    assert rows_of(merge(sort(intervals_of(rows)))) == naive_merge(rows)


@settings(max_examples=150, deadline=None)
@given(rows_strategy, rows_strategy)
def test_intersect_gives_the_pieces_of_a_inside_bs_union(a: list[Row], b: list[Row]) -> None:
    b_union = naive_merge(b)
    found = rows_of(intersect(intervals_of(a), merge(sort(intervals_of(b)))))
    assert found == naive_intersect(a, b_union)


@settings(max_examples=150, deadline=None)
@given(rows_strategy, rows_strategy)
def test_intersect_common_applies_one_set_to_every_group(a: list[Row], b: list[Row]) -> None:
    # One set of windows (a relay's): b's groups all folded into group 0, then merged.
    windows = naive_merge([(0, s, e) for _, s, e in b])
    found = rows_of(intersect(intervals_of(a), intervals_of(windows), common=True))
    assert found == naive_intersect(a, windows, common=True)


@settings(max_examples=150, deadline=None)
@given(rows_strategy, times, times)
def test_clip_cuts_to_the_window_and_drops_empty_pieces(
    rows: list[Row], lo: float, hi: float
) -> None:
    expected = [(g, max(s, lo), min(e, hi)) for g, s, e in rows if min(e, hi) > max(s, lo)]
    assert rows_of(clip(intervals_of(rows), lo, hi)) == expected


def test_hand_made_cases() -> None:
    a = intervals_of([(0, 0.0, 10.0), (0, 10.0, 12.0), (0, 2.0, 3.0), (1, 5.0, 6.0)])
    # Touching [0, 10] and [10, 12] join; the nested [2, 3] disappears.
    assert rows_of(merge(sort(a))) == [(0, 0.0, 12.0), (1, 5.0, 6.0)]
    windows = intervals_of([(0, 1.0, 2.5), (0, 11.0, 20.0), (1, 6.0, 7.0)])
    assert rows_of(intersect(a, windows)) == [
        (0, 1.0, 2.5),
        (0, 11.0, 12.0),
        (0, 2.0, 2.5),
    ]  # in a's order; (1, 5, 6) only touches (1, 6, 7): nothing
    assert rows_of(intersect(a, windows.take(np.array([0, 1])), common=True)) == [
        (0, 1.0, 2.5),
        (0, 11.0, 12.0),
        (0, 2.0, 2.5),
    ]


def test_empty_inputs() -> None:
    empty = Intervals.empty()
    some = intervals_of([(0, 1.0, 2.0)])
    assert len(sort(empty)) == 0
    assert len(merge(empty)) == 0
    assert len(intersect(empty, some)) == 0
    assert len(intersect(some, empty)) == 0
    assert len(intersect(some, empty, common=True)) == 0
    assert len(clip(empty, 0.0, 1.0)) == 0


def test_a_weeks_study_at_millisecond_times_loses_at_most_ten_microseconds() -> None:
    """Thousands of points (a chunk of a study) over a week: the offsets stay harmless."""
    rng = np.random.default_rng(18)
    week_s = 7 * 86_400.0
    points = 8_192
    n = 40_000
    group = rng.integers(0, points, n)
    start = np.round(rng.uniform(0.0, week_s - 900.0, n), 3)
    end = start + np.round(rng.uniform(1.0, 900.0, n), 3)
    rows = list(zip(group.tolist(), start.tolist(), end.tolist(), strict=True))
    expected = naive_merge(rows)
    found = merge(sort(intervals_of(rows)))
    assert len(found) == len(expected)
    want = np.array(expected)
    assert np.array_equal(found.group, want[:, 0].astype(np.int64))
    assert np.max(np.abs(found.start_s - want[:, 1])) <= ten_microseconds
    assert np.max(np.abs(found.end_s - want[:, 2])) <= ten_microseconds
