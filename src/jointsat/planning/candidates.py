"""The planner's candidates: looks of each request's duration within the opportunities.

A mono candidate is one look; a stereo candidate pairs a first look with the
earliest second look that leaves time to slew and sees the target far enough
apart. Times are seconds after the planning horizon's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from jointsat.orbits.frames import gmst82_rad
from jointsat.orbits.looks import Epochs, earth_look, ground_site, sky_direction
from jointsat.orbits.propagation import Orbit, propagate_rows
from jointsat.orbits.sun import sun_position_km
from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray, angle_deg, ranges
from jointsat.planning.opportunities import Opportunities, match_orbits
from jointsat.planning.problem import PlanningProblem
from jointsat.planning.requests import EarthTarget, Mode, Request, SkyTarget
from jointsat.timelib import TimeOrigin

# Stereo: the second look's start is searched on this grid from the window's start.
STEREO_GRID_S = 1.0
# Second-look starts tried per first look in the first round (the block doubles each
# round), and the most pairs tried in one round.
STEREO_FIRST_BLOCK = 16
STEREO_CHUNK_PAIRS = 400_000


@dataclass(frozen=True)
class Candidates:
    """Hold the planner's candidates column by column: each one way to serve one request.

    The satellite is busy over ``[start_s, end_s]`` (seconds after the horizon's
    start), looking along ``pointing_start`` at its start and ``pointing_end`` at its
    end (TEME unit vectors, ``(K, 3)``). A stereo candidate's second look starts at
    ``second_start_s`` and ends with it; its first look lasts as long. ``off_nadir_deg``
    is the largest off-nadir angle over the look(s) (NaN for sky targets);
    ``volume_mbit`` the data written. Rows are sorted by satellite, then start.
    """

    request: IntArray
    satellite: IntArray
    opportunity: IntArray
    start_s: FloatArray
    end_s: FloatArray
    second_start_s: FloatArray
    pointing_start: FloatArray
    pointing_end: FloatArray
    off_nadir_deg: FloatArray
    volume_mbit: FloatArray

    def __len__(self) -> int:
        return int(self.start_s.size)

    def take(self, rows: IntArray) -> Candidates:
        """Return the candidates at the given rows, in that order."""
        return Candidates(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def candidates(
    problem: PlanningProblem, orbits: Sequence[Orbit], opportunities: Opportunities
) -> Candidates:
    """Return the observations the planner may choose among, within the opportunities.

    A look lasts the request's ``min_duration_s`` (``duration_s`` for the sky).
    Looks start at each window's start, every ``problem.options.start_step_s``
    after, and at its latest start; a long window gets a coarser step, so that it
    offers at most ``max_starts_per_window`` starts. A stereo pair takes each such first look and
    the earliest second look (on a 1-s grid from the window's start) that leaves
    time to slew from the first look's end to its own start and sees the target at
    least ``stereo_angle_deg`` apart at the two looks' midpoints; it is kept when
    the second look ends within the window. The largest off-nadir angle of a look
    is at one of its ends: within a pass the angle has a single minimum.
    """
    matched = match_orbits(problem, orbits)
    sights = _Sights.of(problem, matched, TimeOrigin.of(opportunities.start))
    requests = problem.requests
    o_request = opportunities.request
    look = np.array([_look_s(requests[int(i)]) for i in o_request], dtype=float)
    stereo = np.array([_is_stereo(requests[int(i)]) for i in o_request], dtype=np.bool_)
    a, b = opportunities.start_s, opportunities.end_s
    usable = b - a >= look * np.where(stereo, 2.0, 1.0)
    spare = np.maximum(b - look - a, 0.0)
    most = problem.options.max_starts_per_window
    step = np.maximum(problem.options.start_step_s, spare / max(most - 1, 1))
    on_grid = np.where(usable, np.ceil(spare / step - 1e-9), 0).astype(np.int64)
    owner, k = ranges(np.zeros(a.size, dtype=np.int64), np.where(usable, on_grid + 1, 0))
    t1 = np.where(k < on_grid[owner], a[owner] + k * step[owner], b[owner] - look[owner])
    rate = np.array([s.imaging_rate_mbps for s in problem.satellites])

    mono = ~stereo[owner]
    o, t = owner[mono], t1[mono]
    sat, req, d = opportunities.satellite[o], o_request[o], look[o]
    los_start, off_start = sights.at(sat, req, t)
    end = np.minimum(t + d, b[o])  # the latest look ends with its window, to the last bit
    los_end, off_end = sights.at(sat, req, end)
    parts = [
        (
            o,
            t,
            end,
            np.full(o.size, np.nan),
            los_start,
            los_end,
            np.maximum(off_start, off_end),
            d * rate[sat],
        )
    ]
    parts.append(_stereo(problem, sights, opportunities, owner[~mono], t1[~mono], look, rate))
    o = np.concatenate([p[0] for p in parts])
    start = np.concatenate([p[1] for p in parts])
    satellite = opportunities.satellite[o]
    order = np.lexsort((o, start, satellite))
    columns = [np.concatenate([p[n] for p in parts])[order] for n in range(8)]
    return Candidates(
        request=o_request[columns[0]],
        satellite=satellite[order],
        opportunity=columns[0],
        start_s=columns[1],
        end_s=columns[2],
        second_start_s=columns[3],
        pointing_start=columns[4],
        pointing_end=columns[5],
        off_nadir_deg=columns[6],
        volume_mbit=columns[7],
    )


def _is_stereo(request: Request) -> bool:
    return isinstance(request, EarthTarget) and request.mode is Mode.STEREO


def _look_s(request: Request) -> float:
    return request.min_duration_s if isinstance(request, EarthTarget) else request.duration_s


@dataclass(frozen=True)
class _Sights:
    """Lines of sight and off-nadir angles of (satellite, request, time) rows."""

    orbits: Sequence[Orbit]
    origin: TimeOrigin
    site: FloatArray  # (R, 3) Earth-fixed, NaN for sky requests
    up: FloatArray  # (R, 3)
    direction: FloatArray  # (R, 3) for sky requests, NaN for Earth ones
    sky: BoolArray

    @classmethod
    def of(cls, problem: PlanningProblem, orbits: Sequence[Orbit], origin: TimeOrigin) -> _Sights:
        def field(name: str) -> FloatArray:
            return np.array([getattr(r, name, np.nan) for r in problem.requests], dtype=float)

        sky = np.array([isinstance(r, SkyTarget) for r in problem.requests], dtype=np.bool_)
        direction = sky_direction(field("ra_deg"), field("dec_deg")).reshape(-1, 3)
        site, up = ground_site(field("lat_deg"), field("lon_deg"), field("alt_m"))
        return cls(orbits, origin, site.reshape(-1, 3), up.reshape(-1, 3), direction, sky)

    def at(
        self, satellite: IntArray, request: IntArray, t: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        los = np.empty((t.size, 3))
        off = np.full(t.size, np.nan)
        sky = self.sky[request]
        los[sky] = self.direction[request[sky]]
        ground = np.flatnonzero(~sky)
        if ground.size:
            jd, fr = self.origin.julian(t[ground])
            err, r, _ = propagate_rows(self.orbits, satellite[ground], jd, fr)
            epochs = Epochs(r, err, gmst82_rad(jd, fr), sun_position_km(jd, fr))
            k = request[ground]
            off[ground], _, _, los[ground] = earth_look(epochs, self.site[k], self.up[k])
        return los, off


def _stereo(
    problem: PlanningProblem,
    sights: _Sights,
    opportunities: Opportunities,
    owner: IntArray,
    t1: FloatArray,
    look: FloatArray,
    rate: FloatArray,
) -> tuple[
    IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray
]:
    """Pair each first look of a stereo opportunity with its earliest valid second look."""
    a, b = opportunities.start_s, opportunities.end_s
    fits = t1 + 2.0 * look[owner] <= b[owner]
    owner, t1 = owner[fits], t1[fits]
    d = look[owner]
    sat, req = opportunities.satellite[owner], opportunities.request[owner]
    los_first_end, off_first_end = sights.at(sat, req, t1 + d)
    los_first_mid, _ = sights.at(sat, req, t1 + 0.5 * d)

    # The second look's starts a + j STEREO_GRID_S, with its lines of sight there and
    # at the look's middle, once per opportunity.
    used = np.unique(owner)
    n_grid = np.zeros(a.size, dtype=np.int64)
    n_grid[used] = np.floor((b[used] - look[used] - a[used]) / STEREO_GRID_S) + 1
    base = np.cumsum(n_grid) - n_grid
    g_owner, j = ranges(np.zeros(a.size, dtype=np.int64), n_grid)
    g_t = a[g_owner] + j * STEREO_GRID_S
    g_sat, g_req = opportunities.satellite[g_owner], opportunities.request[g_owner]
    g_los, g_off = sights.at(g_sat, g_req, g_t)
    g_los_mid, _ = sights.at(g_sat, g_req, g_t + 0.5 * look[g_owner])

    requests = problem.requests
    angle = np.array(
        [getattr(requests[int(i)], "stereo_angle_deg", np.nan) for i in req], dtype=float
    )
    j_next = np.ceil((t1 + d - a[owner]) / STEREO_GRID_S - 1e-9).astype(np.int64)
    j_end = n_grid[owner]
    second = np.full(owner.size, -1, dtype=np.int64)  # index into the grid, -1: none
    active = np.flatnonzero(j_next < j_end)
    block = STEREO_FIRST_BLOCK
    while active.size:
        # Try the next `block` starts of each unpaired first look, in order.
        count = np.minimum(block, j_end[active] - j_next[active])
        p_row, p_j = ranges(j_next[active], count)
        p_row = active[p_row]
        gi = base[owner[p_row]] + p_j
        slew_angle = angle_deg(los_first_end[p_row], g_los[gi])
        needed = np.empty(p_row.size)
        for s in np.unique(sat[p_row]):
            mine = sat[p_row] == s
            needed[mine] = problem.satellites[int(s)].agility.slew_s(slew_angle[mine])
        good = (g_t[gi] >= t1[p_row] + d[p_row] + needed) & (
            angle_deg(los_first_mid[p_row], g_los_mid[gi]) >= angle[p_row]
        )
        hit_row, first_hit = np.unique(p_row[good], return_index=True)
        second[hit_row] = gi[np.flatnonzero(good)[first_hit]]
        j_next[active] += count
        active = active[(second[active] < 0) & (j_next[active] < j_end[active])]
        block = max(STEREO_FIRST_BLOCK, min(2 * block, STEREO_CHUNK_PAIRS // max(active.size, 1)))

    paired = np.flatnonzero(second >= 0)
    owner, t1, d, sat, req = owner[paired], t1[paired], d[paired], sat[paired], req[paired]
    gi = second[paired]
    t2 = g_t[gi]
    los_start, off_start = sights.at(sat, req, t1)
    end = np.minimum(t2 + d, b[owner])
    los_end, off_end = sights.at(sat, req, end)
    off = np.maximum.reduce([off_start, off_first_end[paired], g_off[gi], off_end])
    return owner, t1, end, t2, los_start, los_end, off, 2.0 * d * rate[sat]
