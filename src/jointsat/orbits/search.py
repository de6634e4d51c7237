"""Vectorised searches the orbit engines share: roots, minima, windows where conditions hold.

Each works on many rows at once: ``fun(u, rows)`` (or ``fun(rows, t)``) evaluates the
functions of the given rows only, so that a row stops on its own whatever rows it
shares a call with.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray, ranges

ALL = slice(None)  # every row
ROOT_ITERATIONS = 20
# Least values: the window is sampled at GOLDEN_SAMPLES points, then the bracket
# around the least is narrowed by golden section GOLDEN_ITERATIONS times.
GOLDEN_SAMPLES = 9
GOLDEN_ITERATIONS = 32


def bracket_root(
    fun: Callable[[FloatArray, IntArray | slice], FloatArray],
    lo: FloatArray,
    hi: FloatArray,
    f_lo: FloatArray,
    f_hi: FloatArray,
    tolerance: float,
    *,
    iterations: int = ROOT_ITERATIONS,
) -> FloatArray:
    """Return a root of fun in each [lo, hi] where f_lo and f_hi differ in sign.

    Regula falsi with the Illinois modification, vectorised: the estimate stays
    inside its bracket and converges superlinearly. ``fun(u, rows)`` evaluates
    the functions of the given rows. Each row stops when its estimate moves by
    no more than ``tolerance``, or after ``iterations`` steps.
    """
    n = lo.size
    x_out = np.full(n, np.nan)
    # The state of the rows still active, compacted: no row waits on another.
    active = np.arange(n)
    lo, hi, f_lo, f_hi = lo.copy(), hi.copy(), f_lo.copy(), f_hi.copy()
    x = np.full(n, np.nan)  # no estimate yet: the first step always counts as a move
    kept_lo = np.zeros(n, dtype=bool)
    kept_hi = np.zeros(n, dtype=bool)
    for _ in range(iterations):
        if active.size == 0:
            break
        denom = f_hi - f_lo
        safe = denom != 0.0
        x_new = np.where(
            safe, (lo * f_hi - hi * f_lo) / np.where(safe, denom, 1.0), 0.5 * (lo + hi)
        )
        np.clip(x_new, lo, hi, out=x_new)
        fx = fun(x_new, ALL if active.size == n else active)
        moved = np.abs(x_new - x)
        x = x_new
        left = (fx > 0.0) == (f_lo > 0.0)  # the root lies in [x, hi]
        # Illinois: halve the value kept at the stale end when it is kept twice.
        f_hi = np.where(left & kept_hi, 0.5 * f_hi, f_hi)
        f_lo = np.where(~left & kept_lo, 0.5 * f_lo, f_lo)
        lo = np.where(left, x_new, lo)
        f_lo = np.where(left, fx, f_lo)
        hi = np.where(left, hi, x_new)
        f_hi = np.where(left, f_hi, fx)
        kept_hi, kept_lo = left, ~left
        done = moved <= tolerance
        if done.any():
            x_out[active[done]] = x[done]
            going = ~done
            active, x, lo, hi, f_lo, f_hi, kept_lo, kept_hi = (
                a[going] for a in (active, x, lo, hi, f_lo, f_hi, kept_lo, kept_hi)
            )
    x_out[active] = x
    return x_out


def bisect(
    before: Callable[[FloatArray], BoolArray],
    lo: FloatArray,
    hi: FloatArray,
    iterations: int,
) -> tuple[FloatArray, FloatArray]:
    """Narrow each bracket [lo, hi] of a change ``iterations`` times by halving it.

    ``before(t)`` says, row by row, whether t lies before the change.
    """
    lo, hi = lo.copy(), hi.copy()
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        go_right = before(mid)
        lo, hi = np.where(go_right, mid, lo), np.where(go_right, hi, mid)
    return lo, hi


def golden_minimum(
    fun: Callable[[IntArray, FloatArray], FloatArray],
    start: FloatArray,
    end: FloatArray,
    *,
    samples: int = GOLDEN_SAMPLES,
    iterations: int = GOLDEN_ITERATIONS,
) -> tuple[FloatArray, FloatArray]:
    """Return where ``fun`` is least within each [start, end], and that value.

    The function must have one minimum in each window (where it is sampled
    lowest); ``fun(rows, t)`` evaluates the given rows' functions at t.
    """
    if start.size == 0:
        return np.zeros(0), np.zeros(0)
    n = start.size
    rows = np.arange(n)
    fraction = np.linspace(0.0, 1.0, samples)
    grid = start[:, None] + (end - start)[:, None] * fraction[None, :]
    values = fun(np.repeat(rows, samples), grid.ravel()).reshape(grid.shape)
    k = np.argmin(values, axis=1)
    a = grid[rows, np.maximum(k - 1, 0)]
    b = grid[rows, np.minimum(k + 1, samples - 1)]
    ratio = 0.5 * (math.sqrt(5.0) - 1.0)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = fun(rows, c), fun(rows, d)
    for _ in range(iterations):
        left = fc < fd  # the least lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_new = np.where(left, b - ratio * (b - a), d)
        d_new = np.where(left, c, a + ratio * (b - a))
        fc_new = np.where(left, np.nan, fd)
        fd_new = np.where(left, fc, np.nan)
        c, d = c_new, d_new
        fresh_c = np.flatnonzero(left)
        fresh_d = np.flatnonzero(~left)
        fc_new[fresh_c] = fun(fresh_c, c[fresh_c])
        fd_new[fresh_d] = fun(fresh_d, d[fresh_d])
        fc, fd = fc_new, fd_new
    middle = 0.5 * (a + b)
    at_middle = fun(rows, middle)
    sampled = values[rows, k]
    better = at_middle <= sampled
    return np.where(better, middle, grid[rows, k]), np.where(better, at_middle, sampled)


# evaluate(span, t) -> (holds, g): whether the conditions hold at t, and g (seconds),
# a lower bound on the time before that can change (negative where they fail, NaN
# where SGP4 fails).
Evaluate = Callable[[IntArray, FloatArray], tuple[BoolArray, FloatArray]]


def margin_windows(
    lo: FloatArray,
    hi: FloatArray,
    keep_s: FloatArray,
    step_s: float,
    evaluate: Evaluate,
    *,
    bracket_s: float,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Return the maximal windows within each span [lo, hi] where the conditions hold.

    Spans are sampled at the ends and on the grid of multiples of ``step_s`` (shared
    between spans, so that rows at one time share one propagation), then intervals
    neither proven nor shorter than ``bracket_s`` are bisected. Windows are
    ``(span, start, end)``, their ends inside. Every window at least the span's
    ``keep_s`` long is found; shorter ones may be (the caller drops them).
    """
    n = lo.size
    first = np.floor(lo / step_s).astype(np.int64) + 1
    last = np.ceil(hi / step_s).astype(np.int64) - 1
    owner, k = ranges(first, np.maximum(last - first + 1, 0))
    span = np.concatenate([np.arange(n), owner, np.arange(n)])
    t = np.concatenate([lo, k * step_s, hi])
    order = np.lexsort((t, span))
    span, t = span[order], t[order]
    ok, g = evaluate(span, t)
    points_span, points_t, points_ok = [span], [t], [ok]

    same = span[1:] == span[:-1]
    left = np.flatnonzero(same)
    s_i, t0, t1 = span[left], t[left], t[left + 1]
    ok0, ok1, g0, g1 = ok[left], ok[left + 1], g[left], g[left + 1]
    while s_i.size:
        length = t1 - t0
        with np.errstate(invalid="ignore"):
            proven = (
                (ok0 == ok1) & (np.abs(g0) + np.abs(g1) > length) & (np.sign(g0) == np.sign(g1))
            )
        failing = np.isnan(g0) & np.isnan(g1)  # SGP4 fails at both ends: nothing to see
        useless = ~ok0 & ~ok1 & (length < keep_s[s_i])  # too short to hold a usable window
        todo = np.flatnonzero(~(proven | failing | useless) & (length > bracket_s))
        if todo.size == 0:
            break
        s_i, t0, t1 = s_i[todo], t0[todo], t1[todo]
        ok0, ok1, g0, g1 = ok0[todo], ok1[todo], g0[todo], g1[todo]
        tm = 0.5 * (t0 + t1)
        okm, gm = evaluate(s_i, tm)
        points_span.append(s_i)
        points_t.append(tm)
        points_ok.append(okm)
        s_i = np.concatenate([s_i, s_i])
        t0, t1 = np.concatenate([t0, tm]), np.concatenate([tm, t1])
        ok0, ok1 = np.concatenate([ok0, okm]), np.concatenate([okm, ok1])
        g0, g1 = np.concatenate([g0, gm]), np.concatenate([gm, g1])

    span = np.concatenate(points_span)
    t = np.concatenate(points_t)
    ok = np.concatenate(points_ok)
    order = np.lexsort((t, span))
    span, t, ok = span[order], t[order], ok[order]
    new_span = np.r_[True, span[1:] != span[:-1]]
    end_span = np.r_[new_span[1:], True]
    prev_ok = np.r_[False, ok[:-1]] & ~new_span
    next_ok = np.r_[ok[1:], False] & ~end_span
    starts = np.flatnonzero(ok & ~prev_ok)
    ends = np.flatnonzero(ok & ~next_ok)
    return span[starts], t[starts], t[ends]
