"""The pass engine's finish: pair rises with sets, polish, clip, and cut by horizon masks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jointsat.orbits.pass_scan import Exact, Found, Sites, Window, azimuth_deg, exact_states
from jointsat.orbits.propagation import Orbit
from jointsat.orbits.search import bisect, bracket_root
from jointsat.orbits.sun import is_sunlit, sun_position_km
from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray, ranges

# Newton steps on exact states polish a crossing until the estimated error is
# under NEWTON_ERROR_S; a step longer than NEWTON_TRUST_S, out of the bracket,
# or the iterations running out send it to bracketing on exact states.
NEWTON_ITERATIONS = 3
NEWTON_TRUST_S = 2.0
NEWTON_ERROR_S = 1e-3
EXACT_ROOT_TOLERANCE_S = 1e-4  # bracketing on exact states, when Newton will not settle


def finish(
    found: Found, satellites: Sequence[Orbit], window: Window, sites: Sites
) -> dict[str, Any]:
    """Pair rises with sets, pick each pass's maximum, polish and clip to the window."""
    n_st = max(sites.count, 1)
    pair = found.c_sat * n_st + found.c_station
    order = np.lexsort((-found.c_sign, found.c_t, pair))
    pair, sign = pair[order], found.c_sign[order]
    c_t, lo, hi = found.c_t[order], found.c_lo[order], found.c_hi[order]
    polish = found.c_polish[order]
    # Rises and sets alternate within a pair by construction; pair each rise
    # with the set that follows it.
    rise = np.flatnonzero(sign[:-1] > 0)
    rise = rise[(sign[rise + 1] < 0) & (pair[rise + 1] == pair[rise])]
    sett = rise + 1
    pass_pair = pair[rise]
    sat, station = pass_pair // n_st, pass_pair % n_st

    # Polish the real crossings by Newton steps on exact states: one is enough
    # unless its estimated error is large (next to a grazing peak the elevation
    # is far from linear in time); a crossing that will not settle is found
    # again by bracketing on exact states.
    ends = np.concatenate([rise, sett])
    ends = np.sort(ends[polish[ends]])  # by pair, so by satellite: one slice of rows each
    t_cross, az_cross = c_t.copy(), np.full(c_t.size, np.nan)
    peak = found.c_peak[order]
    pending, hard = ends, []
    for iteration in range(NEWTON_ITERATIONS):
        p_sat, p_station = pair[pending] // n_st, pair[pending] % n_st
        at = exact_states(satellites, window, sites, p_sat, p_station, t_cross[pending])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -(at.sine - sites.sin_threshold[p_station]) / at.sine_rate
            # Newton's error is about step^2 f''/(2 f'); near a peak f''/f' is
            # about 1/(distance to the peak), which is at least the distance to
            # the bracket's nearer end when no peak ends the bracket. After one
            # step, the next step is the error of the last.
            t_p = t_cross[pending]
            to_peak = np.where(
                np.isnan(peak[pending]),
                np.minimum(t_p - lo[pending], hi[pending] - t_p),
                np.abs(t_p - peak[pending]),
            )
            error = step**2 / (2.0 * to_peak) if iteration == 0 else np.abs(step)
        t_new = t_cross[pending] + step
        sane = (
            (np.sign(at.sine_rate) == sign[pending])
            & (t_new > lo[pending])
            & (t_new < hi[pending])
            & (np.abs(step) <= NEWTON_TRUST_S)
        )
        hard.append(pending[~sane])
        moved = pending[sane]
        t_cross[moved] = t_new[sane]
        az_cross[moved] = np.mod(at.azimuth_deg + at.azimuth_rate_deg_s * step, 360.0)[sane]
        pending = pending[sane & ~(error <= NEWTON_ERROR_S)]
        if pending.size == 0:
            break
    hard_ends = np.concatenate([*hard, pending])
    if hard_ends.size:
        t_cross[hard_ends] = exact_crossing(
            satellites,
            window,
            sites,
            pair[hard_ends] // n_st,
            pair[hard_ends] % n_st,
            lo[hard_ends],
            hi[hard_ends],
        )
        az_cross[hard_ends] = np.nan  # recomputed below
    aos, los = t_cross[rise], t_cross[sett]
    aos_az, los_az = az_cross[rise], az_cross[sett]

    # The maximum of each pass among the candidate maxima of its pair. Passes
    # of one pair never overlap, so each candidate belongs to at most one.
    m_pair = found.m_sat * n_st + found.m_station
    span = 2.0 * (max(float(found.m_t.max(initial=0.0)), float(c_t.max(initial=0.0))) + 1.0)
    m_key = m_pair * span + found.m_t
    owner = np.searchsorted(pass_pair * span + aos, m_key, side="right") - 1
    clamped = np.clip(owner, 0, max(rise.size - 1, 0))
    inside = (owner >= 0) & (rise.size > 0)
    if rise.size:
        inside &= m_key <= pass_pair[clamped] * span + los[clamped]
    cand = np.flatnonzero(inside)
    cand = cand[np.lexsort((-found.m_f[cand], owner[cand]))]
    holder, first = np.unique(owner[cand], return_index=True)
    best = cand[first]
    # Every pass holds an extremum or a run's end; should rounding ever leave one
    # without, its middle is evaluated instead.
    tca = 0.5 * (aos + los)
    tca[holder] = found.m_t[best]
    has_peak = np.zeros(rise.size, dtype=bool)
    has_peak[holder] = True
    lone = np.flatnonzero(~has_peak)
    at = exact_states(satellites, window, sites, sat[lone], station[lone], tca[lone])
    f_max = np.empty(rise.size)
    r_ecef, r_teme = np.empty((rise.size, 3)), np.empty((rise.size, 3))
    f_max[holder], r_ecef[holder], r_teme[holder] = (
        found.m_f[best],
        found.m_r_ecef[best],
        found.m_r_teme[best],
    )
    f_max[lone], r_ecef[lone], r_teme[lone] = at.sine, at.r_ecef, at.r_teme

    # Clip to the window; recompute what the clipping or a synthetic end moved.
    end = window.duration_s
    truncated = ~polish[rise] | ~polish[sett] | (los > end)
    keep = aos < end
    sat, station, aos, los, tca, f_max = (a[keep] for a in (sat, station, aos, los, tca, f_max))
    r_ecef, r_teme, truncated = r_ecef[keep], r_teme[keep], truncated[keep]
    aos_az, los_az = aos_az[keep], los_az[keep]
    los_az[los > end] = np.nan
    los = np.minimum(los, end)
    late = np.flatnonzero(tca > los)  # the pass peaks after the window: it peaks at its end
    tca[late] = los[late]
    if late.size:
        at = exact_states(satellites, window, sites, sat[late], station[late], tca[late])
        f_max[late], r_ecef[late], r_teme[late] = at.sine, at.r_ecef, at.r_teme
    for times, az in ((aos, aos_az), (los, los_az)):
        missing = np.flatnonzero(np.isnan(az))
        if missing.size:
            az[missing] = exact_states(
                satellites, window, sites, sat[missing], station[missing], times[missing]
            ).azimuth_deg

    columns = {
        "satellite": sat.astype(np.int64),
        "station": station.astype(np.int64),
        "aos_s": aos,
        "tca_s": tca,
        "los_s": los,
        "max_elevation_deg": np.degrees(np.arcsin(np.clip(f_max, -1.0, 1.0))),
        "aos_azimuth_deg": aos_az,
        "tca_azimuth_deg": azimuth_deg(r_ecef - sites.ecef_km[station], sites.enu[station]),
        "los_azimuth_deg": los_az,
        "sunlit": is_sunlit(r_teme, sun_position_km(*window.julian(tca))),
        "truncated": truncated,
    }
    if any(mask is not None for mask in sites.masks):
        columns = _apply_masks(columns, satellites, window, sites)
    final = np.lexsort((columns["station"], columns["satellite"], columns["aos_s"]))
    return {name: values[final] for name, values in columns.items()}


# Sampling step (s) along a pass when a horizon mask may cut it; the crossings
# found between samples are then bisected on exact states to a millisecond.
MASK_SAMPLE_S = 1.0
MASK_BISECTIONS = 12


def _apply_masks(
    columns: dict[str, Any], satellites: Sequence[Orbit], window: Window, sites: Sites
) -> dict[str, Any]:
    """Cut the passes over masked stations to where the elevation clears the mask.

    A pass found above the mask's lowest point is sampled every MASK_SAMPLE_S
    seconds; each stretch above the mask becomes a pass of its own.
    """
    masked_station = np.array([mask is not None for mask in sites.masks])
    hit = np.flatnonzero(masked_station[columns["station"]])
    if hit.size == 0:
        return columns
    aos, los = columns["aos_s"][hit], columns["los_s"][hit]
    count = np.floor((los - aos) / MASK_SAMPLE_S).astype(np.int64) + 2
    owner, index = ranges(np.zeros(hit.size, dtype=np.int64), count)
    t = np.minimum(aos[owner] + index * MASK_SAMPLE_S, los[owner])
    sat, station = columns["satellite"][hit][owner], columns["station"][hit][owner]

    def clearance(sat_: IntArray, station_: IntArray, t_: FloatArray) -> tuple[Exact, FloatArray]:
        at = exact_states(satellites, window, sites, sat_, station_, t_)
        return at, at.elevation_deg - sites.limit_deg(station_, at.azimuth_deg)

    at, g = clearance(sat, station, t)
    above = g >= 0.0
    same = owner[1:] == owner[:-1]
    ups = np.flatnonzero(same & ~above[:-1] & above[1:])
    downs = np.flatnonzero(same & above[:-1] & ~above[1:])

    def crossing(left: IntArray, rising: bool) -> FloatArray:
        def before(mid: FloatArray) -> BoolArray:
            _, gm = clearance(sat[left], station[left], mid)
            return np.asarray((gm < 0.0) if rising else (gm >= 0.0))

        lo_t, hi_t = bisect(before, t[left], t[left + 1], MASK_BISECTIONS)
        return np.asarray(hi_t if rising else lo_t)

    # Stretches above the mask: they start at a pass's first sample or an up
    # crossing, and end at the next down crossing or the pass's last sample.
    first = np.r_[True, ~same]
    last = np.r_[~same, True]
    starts = np.concatenate([np.flatnonzero(first & above), ups + 1])
    start_t = np.concatenate([t[first & above], crossing(ups, rising=True)])
    stops = np.concatenate([np.flatnonzero(last & above), downs])
    stop_t = np.concatenate([t[last & above], crossing(downs, rising=False)])
    o1, o2 = np.argsort(starts, kind="stable"), np.argsort(stops, kind="stable")
    starts, start_t, stops, stop_t = starts[o1], start_t[o1], stops[o2], stop_t[o2]
    parent = hit[owner[starts]]

    # The peak of each stretch: the parent's TCA if inside, else the best sample.
    tca = columns["tca_s"][parent]
    inside = (tca >= start_t) & (tca <= stop_t)
    seg, rows = ranges(starts, stops - starts + 1)  # the samples above, stretch by stretch
    order = np.lexsort((-at.sine[rows], seg))
    _, head = np.unique(seg[order], return_index=True)
    best_sample = rows[order[head]]
    tca = np.where(inside, tca, t[best_sample])
    new_sat, new_station = columns["satellite"][parent], columns["station"][parent]
    peak = exact_states(satellites, window, sites, new_sat, new_station, tca)
    ends = exact_states(
        satellites,
        window,
        sites,
        np.r_[new_sat, new_sat],
        np.r_[new_station, new_station],
        np.r_[start_t, stop_t],
    )
    n = starts.size
    cut_start = start_t > columns["aos_s"][parent]
    cut_stop = stop_t < columns["los_s"][parent]
    trunc = columns["truncated"][parent] & ~(cut_start & cut_stop)
    masked = {
        "satellite": new_sat,
        "station": new_station,
        "aos_s": start_t,
        "tca_s": tca,
        "los_s": stop_t,
        "max_elevation_deg": peak.elevation_deg,
        "aos_azimuth_deg": ends.azimuth_deg[:n],
        "tca_azimuth_deg": peak.azimuth_deg,
        "los_azimuth_deg": ends.azimuth_deg[n:],
        "sunlit": is_sunlit(peak.r_teme, sun_position_km(*window.julian(tca))),
        "truncated": trunc,
    }
    keep = np.setdiff1d(np.arange(columns["aos_s"].size), hit)
    return {k: np.concatenate([v[keep], masked[k]]) for k, v in columns.items()}


def exact_crossing(
    satellites: Sequence[Orbit],
    window: Window,
    sites: Sites,
    sat: IntArray,
    station: IntArray,
    lo: FloatArray,
    hi: FloatArray,
) -> FloatArray:
    """Return where the exact elevation crosses the threshold in each bracket [lo, hi] (s)."""
    threshold = sites.sin_threshold[station]
    f_lo = exact_states(satellites, window, sites, sat, station, lo).sine - threshold
    f_hi = exact_states(satellites, window, sites, sat, station, hi).sine - threshold

    def exact(t: FloatArray, rows: IntArray | slice) -> FloatArray:
        at = exact_states(satellites, window, sites, sat[rows], station[rows], t)
        return np.asarray(at.sine - threshold[rows])

    span = np.maximum(hi - lo, 1e-9)
    u = bracket_root(
        lambda u_, rows: exact(lo[rows] + u_ * span[rows], rows),
        np.zeros(lo.size),
        np.ones(lo.size),
        f_lo,
        f_hi,
        EXACT_ROOT_TOLERANCE_S / float(span.max(initial=1.0)),
    )
    return np.asarray(lo + u * span)
