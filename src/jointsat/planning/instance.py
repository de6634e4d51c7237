"""The planner's instance: candidates as arrays, their clashes, dominance, greedy growth.

Two candidates of one satellite clash when the second starts before the first ends
plus the slew between their lines of sight (``Agility.slew_s``); overlapping ones form
the cliques of an interval graph. The instance also keeps each satellite's downlinks
for the memory's book-keeping (memory.py) and the partners' gains and weights of the
weighted leximin (fairness.py). The CP-SAT model and the levels are in planner.py.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jointsat import fairness
from jointsat.orbits.vectors import FloatArray, IntArray, angle_deg
from jointsat.planning.candidates import Candidates
from jointsat.planning.memory import accounted
from jointsat.planning.plan import Objective
from jointsat.planning.problem import PlanningProblem

HALF_TURN_DEG = 180.0


def clashes(problem: PlanningProblem, candidates: Candidates) -> tuple[IntArray, IntArray]:
    """Return the pairs (a, b) of candidates of different requests one satellite cannot both make.

    ``a`` starts no later than ``b``; they clash unless b starts after a ends plus
    the slew between them. Only pairs closer than a half-turn's slew are examined.
    """
    firsts: list[IntArray] = []
    seconds: list[IntArray] = []
    for s, imager in enumerate(problem.satellites):
        mine = np.flatnonzero(candidates.satellite == s)
        if mine.size < 2:
            continue
        order = mine[np.lexsort((candidates.end_s[mine], candidates.start_s[mine]))]
        start = candidates.start_s[order]
        reach = candidates.end_s[order] + float(imager.agility.slew_s(HALF_TURN_DEG))
        last = np.searchsorted(start, reach, side="left")
        count = np.maximum(last - np.arange(order.size) - 1, 0)
        first_local = np.repeat(np.arange(order.size), count)
        offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        a, b = order[first_local], order[first_local + 1 + offset]
        angle = angle_deg(candidates.pointing_end[a], candidates.pointing_start[b])
        clash = candidates.start_s[b] < candidates.end_s[a] + imager.agility.slew_s(angle)
        clash &= candidates.request[a] != candidates.request[b]
        firsts.append(a[clash])
        seconds.append(b[clash])
    if not firsts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(firsts).astype(np.int64), np.concatenate(seconds).astype(np.int64)


def overlap_cliques(
    problem: PlanningProblem, candidates: Candidates, clash_a: IntArray, clash_b: IntArray
) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Return the clashes as cliques of overlapping candidates, and the pairs left over.

    Two candidates of a satellite whose spans, each lengthened by the settling time,
    overlap always clash (no slew takes less than the settling); the maximal sets of
    such candidates are the cliques of an interval graph, found by one sweep. A
    clique gives CP-SAT's linear relaxation far more than its pairs. The clashing
    pairs that overlap nowhere (the slew is longer than the gap) are left as pairs.
    """
    cliques: list[list[int]] = []
    c = candidates
    for s, imager in enumerate(problem.satellites):
        mine = np.flatnonzero(c.satellite == s)
        order = mine[np.argsort(c.start_s[mine], kind="stable")]
        open_: list[tuple[float, int]] = []  # (end + settle, candidate), a heap
        grown = False  # a candidate joined since the last clique was written
        for i in order.tolist():
            while open_ and open_[0][0] <= c.start_s[i]:
                if grown:
                    cliques.append([j for _, j in open_])
                    grown = False
                heapq.heappop(open_)
            heapq.heappush(open_, (float(c.end_s[i]) + imager.agility.settle_s, i))
            grown = True
        if grown and len(open_) > 1:
            cliques.append([j for _, j in open_])
    settle = np.array([s.agility.settle_s for s in problem.satellites])
    apart = c.start_s[clash_b] >= c.end_s[clash_a] + settle[c.satellite[clash_a]]
    pairs = list(zip(clash_a[apart].tolist(), clash_b[apart].tolist(), strict=True))
    return [q for q in cliques if len(q) > 1], pairs


class Instance:
    """The candidates as arrays: gains, partners, clashes, downlinks per satellite."""

    def __init__(self, problem: PlanningProblem, candidates: Candidates) -> None:
        self.problem = problem
        self.candidates = candidates
        partner_index = {p.id: k for k, p in enumerate(problem.partners)}
        request_partner = np.array(
            [partner_index[r.partner] for r in problem.requests], dtype=np.int64
        )
        request_gain = np.array([r.gain for r in problem.requests], dtype=np.int64)
        self.n = len(candidates)
        self.request = candidates.request.astype(np.int64)
        self.satellite = candidates.satellite.astype(np.int64)
        self.gain = request_gain[self.request]
        self.partner = request_partner[self.request]
        self.volume = np.ceil(candidates.volume_mbit - 1e-9).astype(np.int64)
        self.shares = np.array([p.share for p in problem.partners])
        observable = np.zeros(len(problem.requests), dtype=bool)
        observable[self.request] = True
        self.observable = observable
        self.reachable = np.bincount(
            request_partner[observable],
            weights=request_gain[observable],
            minlength=len(problem.partners),
        ).astype(np.int64)
        self.requested = np.bincount(
            request_partner, weights=request_gain, minlength=len(problem.partners)
        ).astype(np.int64)
        weights, self.scale = fairness.integer_weights(np.eye(len(self.shares)), self.shares)
        self.weights = np.diag(weights).astype(np.int64)  # gain x weight / scale = gain / share
        a, b = clashes(problem, candidates)
        self.clash_a, self.clash_b = a, b
        both = np.concatenate([a, b])
        other = np.concatenate([b, a])
        order = np.argsort(both, kind="stable")
        self.neighbour_start = np.searchsorted(both[order], np.arange(self.n + 1))
        self.neighbours = other[order]
        self.by_request: dict[int, IntArray] = {}
        for r in np.unique(self.request):
            self.by_request[int(r)] = np.flatnonzero(self.request == r)
        self.downlinks: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        for imager in problem.satellites:
            spans = np.array(problem.downlink_spans_s(imager.id), dtype=float).reshape(-1, 2)
            start, end = spans[:, 0], spans[:, 1]
            self.downlinks.append((start, end, np.floor((end - start) * imager.downlink_rate_mbps)))

    def neighbours_of(self, i: int) -> IntArray:
        """Return the candidates clashing with candidate i."""
        return self.neighbours[self.neighbour_start[i] : self.neighbour_start[i + 1]]

    def memory_fits(self, s: int, chosen: Sequence[int]) -> bool:
        """Return whether the planner's book-keeping accepts these candidates on satellite s."""
        imager = self.problem.satellites[s]
        rows = np.asarray(chosen, dtype=np.int64)
        c = self.candidates
        level = accounted(
            float(np.ceil(imager.initial_memory_mbit)),
            c.start_s[rows],
            c.end_s[rows],
            self.volume[rows].astype(float),
            *self.downlinks[s],
        )
        return bool(level.peak_mbit <= np.floor(imager.memory_mbit))

    def memory_binds(self, s: int) -> bool:
        """Return whether satellite s could overflow its memory, serving every request it can."""
        imager = self.problem.satellites[s]
        mine = self.satellite == s
        largest = np.zeros(len(self.problem.requests), dtype=np.int64)
        np.maximum.at(largest, self.request[mine], self.volume[mine])
        total = float(largest.sum()) + np.ceil(imager.initial_memory_mbit)
        return bool(total > np.floor(imager.memory_mbit))

    def received(self, chosen: Sequence[int]) -> IntArray:
        """Return each partner's gain from the chosen candidates."""
        rows = np.asarray(chosen, dtype=np.int64)
        return np.bincount(
            self.partner[rows], weights=self.gain[rows], minlength=len(self.shares)
        ).astype(np.int64)


def undominated(instance: Instance) -> IntArray:
    """Return the candidates no other candidate of the same opportunity dominates.

    Candidate j dominates i when every candidate clashing with j clashes with i,
    j writes no more data, and, where the memory binds, j's data is held from no
    earlier downlink and ready for no later one: any plan with i stays valid, and as
    good, with j instead. Among equals the least off-nadir (then earliest) is kept.
    """
    c = instance.candidates
    started = np.zeros(instance.n, dtype=np.int64)
    ended = np.zeros(instance.n, dtype=np.int64)
    for s in range(len(instance.problem.satellites)):
        if instance.memory_binds(s):
            chain = Chain.of(instance, s)
            started[chain.rows], ended[chain.rows] = chain.started, chain.ended
    clashing = np.diff(instance.neighbour_start)
    off_nadir = np.nan_to_num(c.off_nadir_deg, nan=0.0)
    order = np.lexsort((c.start_s, off_nadir, clashing, c.opportunity))
    keep = np.ones(instance.n, dtype=bool)
    bounds = np.flatnonzero(np.diff(c.opportunity[order])) + 1
    for group in np.split(order, bounds):
        kept: list[tuple[int, frozenset[int]]] = []
        for i in group.tolist():
            mine = frozenset(instance.neighbours_of(i).tolist())
            if any(
                theirs <= mine
                and instance.volume[j] <= instance.volume[i]
                and started[j] >= started[i]
                and ended[j] <= ended[i]
                for j, theirs in kept
            ):
                keep[i] = False
            else:
                kept.append((i, mine))
    return np.flatnonzero(keep).astype(np.int64)


def order_key(instance: Instance, i: int) -> tuple[float, float]:
    off_nadir = float(instance.candidates.off_nadir_deg[i])
    return (0.0 if np.isnan(off_nadir) else off_nadir, float(instance.candidates.start_s[i]))


class Growing:
    """A growing feasible plan: chosen candidates, blocked candidates, served requests."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.blocked = np.zeros(instance.n, dtype=bool)
        self.chosen: list[int] = []
        self.by_satellite: dict[int, list[int]] = {}
        self.binds = [instance.memory_binds(s) for s in range(len(instance.problem.satellites))]

    def fits(self, i: int) -> bool:
        if self.blocked[i]:
            return False
        s = int(self.instance.satellite[i])
        return not self.binds[s] or self.instance.memory_fits(s, [*self.by_satellite.get(s, []), i])

    def take(self, i: int) -> None:
        self.chosen.append(i)
        self.by_satellite.setdefault(int(self.instance.satellite[i]), []).append(i)
        self.blocked[self.instance.by_request[int(self.instance.request[i])]] = True
        self.blocked[self.instance.neighbours_of(i)] = True

    def first_fitting(self, options: Sequence[int]) -> int | None:
        return next((i for i in options if self.fits(i)), None)


def grow_greedily(instance: Instance, objective: Objective, start: Sequence[int] = ()) -> list[int]:
    state = Growing(instance)
    for i in start:
        state.take(i)
    options = {
        r: sorted(rows.tolist(), key=lambda i: order_key(instance, i))
        for r, rows in instance.by_request.items()
    }
    requests = instance.problem.requests
    by_gain = sorted(options, key=lambda r: (-requests[r].gain, requests[r].id))
    if objective is Objective.MAX_GAIN:
        for r in by_gain:
            found = state.first_fitting(options[r])
            if found is not None:
                state.take(found)
        return state.chosen
    queues: dict[int, list[int]] = {}
    for r in by_gain:
        queues.setdefault(int(instance.partner[instance.by_request[r][0]]), []).append(r)
    got = instance.received(state.chosen).astype(float)
    heap = [(got[p] / instance.shares[p], p) for p in queues]
    heapq.heapify(heap)
    position = dict.fromkeys(queues, 0)
    while heap:
        _, p = heapq.heappop(heap)
        queue = queues[p]
        while position[p] < len(queue):
            r = queue[position[p]]
            position[p] += 1
            found = state.first_fitting(options[r])
            if found is not None:
                state.take(found)
                got[p] += instance.gain[found]
                heapq.heappush(heap, (got[p] / instance.shares[p], p))
                break
    return state.chosen


@dataclass(frozen=True)
class Chain:
    """A satellite's candidates placed among its downlinks, for the memory's book-keeping.

    ``started[j]``: the first downlink k whose end comes after candidate j starts (its
    volume is held from there on); ``ended[j]``: the first downlink k that begins
    after candidate j ends (its data can be sent from there on); K for none.
    """

    rows: IntArray
    started: IntArray
    ended: IntArray
    sent: FloatArray  # each downlink's capacity
    initial: int

    @classmethod
    def of(cls, instance: Instance, s: int) -> Chain:
        rows = np.flatnonzero(instance.satellite == s)
        start, end, sent = instance.downlinks[s]
        c = instance.candidates
        return cls(
            rows=rows,
            started=np.searchsorted(end, c.start_s[rows], side="right").astype(np.int64),
            ended=np.searchsorted(start, c.end_s[rows], side="left").astype(np.int64),
            sent=sent,
            initial=int(np.ceil(instance.problem.satellites[s].initial_memory_mbit)),
        )
