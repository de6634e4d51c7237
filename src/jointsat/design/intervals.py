"""Operate on many sets of time intervals at once: sort, merge, intersect, clip.

A set of intervals is three columns: the group each belongs to (a grid point, a
satellite), and its start and end in seconds from the study's start. Every function
here works on whole columns; none loops over groups in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class Intervals:
    """Hold intervals ``[start_s, end_s]`` with the group each belongs to."""

    group: IntArray
    start_s: FloatArray
    end_s: FloatArray

    def __len__(self) -> int:
        return int(self.group.size)

    @classmethod
    def empty(cls) -> Intervals:
        return cls(np.empty(0, np.int64), np.empty(0), np.empty(0))

    def take(self, rows: IntArray | BoolArray) -> Intervals:
        """Return the chosen rows."""
        return Intervals(self.group[rows], self.start_s[rows], self.end_s[rows])

    def duration_s(self) -> FloatArray:
        return np.asarray(self.end_s - self.start_s)


def _span(*columns: FloatArray) -> float:
    """Return a width wider than every time in the columns, to order (group, time) keys."""
    top = max((float(np.max(np.abs(c))) for c in columns if c.size), default=0.0)
    return 2.0 * top + 1.0


def sort(intervals: Intervals) -> Intervals:
    """Return the intervals ordered by group, then start."""
    if len(intervals) == 0:
        return intervals
    span = _span(intervals.start_s)
    order = np.argsort(intervals.group.astype(float) * span + intervals.start_s)
    return intervals.take(order)


def merge(intervals: Intervals) -> Intervals:
    """Return each group's union: disjoint intervals ordered by start (touching ones join).

    The input must be ordered by group, then start (:func:`sort`).
    """
    n = len(intervals)
    if n == 0:
        return intervals
    span = _span(intervals.start_s, intervals.end_s)
    offset = intervals.group.astype(float) * span
    # Within a group, a running maximum of the ends; groups are kept apart by the offset.
    reach = np.maximum.accumulate(intervals.end_s + offset)
    opens = np.ones(n, dtype=bool)
    opens[1:] = (intervals.group[1:] != intervals.group[:-1]) | (
        intervals.start_s[1:] + offset[1:] > reach[:-1]
    )
    first = np.flatnonzero(opens)
    last = np.append(first[1:], n) - 1
    return Intervals(intervals.group[first], intervals.start_s[first], reach[last] - offset[last])


def intersect(a: Intervals, b: Intervals, *, common: bool = False) -> Intervals:
    """Return the parts of ``a``'s intervals inside ``b``'s intervals of the same group.

    ``b`` must be ordered by group then start and disjoint within each group
    (:func:`merge`'s output); ``a`` may be in any order and overlap. With ``common``,
    ``b`` is one set of intervals (its groups ignored) that applies to every group of
    ``a``. The pieces come in ``a``'s order.
    """
    if len(a) == 0 or len(b) == 0:
        return Intervals.empty()
    span = _span(a.start_s, a.end_s, b.start_s, b.end_s)
    a_group = np.zeros(len(a), np.int64) if common else a.group
    b_group = np.zeros(len(b), np.int64) if common else b.group
    b_start = b_group.astype(float) * span + b.start_s
    b_end = b_group.astype(float) * span + b.end_s
    a_offset = a_group.astype(float) * span
    first = np.searchsorted(b_end, a_offset + a.start_s, side="right")
    stop = np.searchsorted(b_start, a_offset + a.end_s, side="left")
    count = np.maximum(stop - first, 0)
    owner = np.repeat(np.arange(len(a)), count)
    which = first[owner] + (np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count))
    start = np.maximum(a.start_s[owner], b.start_s[which])
    end = np.minimum(a.end_s[owner], b.end_s[which])
    keep = end > start
    return Intervals(a.group[owner][keep], start[keep], end[keep])


def clip(intervals: Intervals, start_s: float, end_s: float) -> Intervals:
    """Return the intervals cut to ``[start_s, end_s]``, dropping those left empty."""
    start = np.maximum(intervals.start_s, start_s)
    end = np.minimum(intervals.end_s, end_s)
    keep = end > start
    return Intervals(intervals.group[keep], start[keep], end[keep])
