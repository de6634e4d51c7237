"""Choose and time partners' observations with OR-Tools CP-SAT, with proofs, or greedily.

The planner picks among candidates (opportunities.py): each is one way to serve one
request, one satellite busy over a fixed span, looking along known lines of sight
at its start and end, writing a known volume of data. The model:

* at most one candidate per request;
* one observation at a time per satellite, with time to slew between consecutive
  ones: two candidates a, b (a starting first) clash unless
  ``b.start >= a.end + slew(angle between a's last and b's first line of sight)``
  (``Agility.slew_s``). Clashing pairs are forbidden pairwise, which also keeps
  non-consecutive observations apart; slewing is subadditive, so this costs nothing
  in practice;
* the memory never overflows, emptied by the downlinks of the network schedule, in
  the conservative book-keeping of memory.py (one linear inequality per downlink).

Objectives, solved one after another, each optimum kept as a constraint for the next:

* ``fair``: the weighted leximin of gains per partner normalised by share (level k
  maximises the sum of the k smallest, as in the network scheduler), then the total
  gain. Partners with nothing observable are left out of the leximin.
* ``max-gain``: the total gain.

Each level is optimal when CP-SAT proves it within ``relative_gap`` of its bound. A
level stopped by the time limit keeps the best plan found (status ``feasible``), the
later levels are not solved and the plan is completed greedily. The greedy plan
(highest gain first, or for ``fair`` the partner furthest below its share first) is
CP-SAT's first hint and the answer when CP-SAT finds nothing better in time.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from jointsat import fairness
from jointsat.fairness import Attempt, Goal, Level, Run, SearchSettings, Status
from jointsat.planning.candidates import Candidates
from jointsat.planning.memory import accounted, simulate
from jointsat.planning.plan import (
    MemoryUse,
    Objective,
    Observation,
    PartnerGain,
    Plan,
    Unserved,
)
from jointsat.planning.problem import PlanningProblem

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
HALF_TURN_DEG = 180.0
# CP-SAT's presolve took 8-45 s on a week of 30,000-40,000 candidates and hardly shrank
# a model already written as cliques; it runs for the first level only, without probing
# (24 of those 45 s).
PROBING_LEVEL = 0
# A level may take this share of the time left (the last level all of it); one stopped
# unproven keeps its best value as a constraint and the next levels are still searched.
LEVEL_SHARE = 0.5


PlannerSettings = SearchSettings
"""The planner's settings: the search's (its default workers, 0, is one per core; on
2 cores, 8 were slower here)."""


def angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    """Return the angles between unit vectors, row by row, in degrees."""
    cosine = np.clip(np.einsum("...j,...j->...", a, b), -1.0, 1.0)
    return np.asarray(np.degrees(np.arccos(cosine)))


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


class _Instance:
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


def _undominated(instance: _Instance) -> IntArray:
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
            chain = _Chain.of(instance, s)
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


def _order_key(instance: _Instance, i: int) -> tuple[float, float]:
    off_nadir = float(instance.candidates.off_nadir_deg[i])
    return (0.0 if np.isnan(off_nadir) else off_nadir, float(instance.candidates.start_s[i]))


class _Growing:
    """A growing feasible plan: chosen candidates, blocked candidates, served requests."""

    def __init__(self, instance: _Instance) -> None:
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


def _greedy(instance: _Instance, objective: Objective, start: Sequence[int] = ()) -> list[int]:
    state = _Growing(instance)
    for i in start:
        state.take(i)
    options = {
        r: sorted(rows.tolist(), key=lambda i: _order_key(instance, i))
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


class _Model:
    """The CP-SAT model: a Boolean per candidate, drains per downlink, gains per partner."""

    def __init__(self, instance: _Instance) -> None:
        self.instance = instance
        m = self.model = cp_model.CpModel()
        n = instance.n
        self.x = [m.new_bool_var(f"x{i}") for i in range(n)]
        for rows in instance.by_request.values():
            if rows.size > 1:
                m.add_at_most_one(self.x[i] for i in rows)
        cliques, pairs = overlap_cliques(
            instance.problem, instance.candidates, instance.clash_a, instance.clash_b
        )
        for clique in cliques:
            m.add_at_most_one(self.x[i] for i in clique)
        for a, b in pairs:
            m.add_bool_or([self.x[a].Not(), self.x[b].Not()])
        self.chains: list[tuple[_Chain, list[Any], list[Any], list[Any]]] = []
        for s in range(len(instance.problem.satellites)):
            if instance.memory_binds(s):
                self._memory(s)
        self.gain_expr = [
            cp_model.LinearExpr.weighted_sum(
                [self.x[i] for i in np.flatnonzero(instance.partner == p)],
                instance.gain[instance.partner == p].tolist(),
            )
            for p in range(len(instance.shares))
        ]
        self.total = sum(self.gain_expr)
        self.weights = instance.weights
        self.normalized = [
            int(self.weights[p]) * self.gain_expr[p] for p in range(len(self.weights))
        ]
        self.helpers: list[fairness.SmallestSum] = []

    def _memory(self, s: int) -> None:
        """Add the book-keeping of memory.py for satellite s, as two chains over its downlinks.

        ``held[k]``: the book-kept level just before downlink k ends (k = K: the end of
        the horizon), at most the capacity; ``unsent[k]``: data ended before downlink k
        began and not yet sent, never negative. Each candidate enters each chain once,
        which keeps the model sparse.
        """
        instance, m = self.instance, self.model
        imager = instance.problem.satellites[s]
        chain = _Chain.of(instance, s)
        capacity = int(np.floor(imager.memory_mbit))
        most = chain.initial + int(instance.volume[chain.rows].sum())
        drains = [m.new_int_var(0, int(v), f"drain{s}_{k}") for k, v in enumerate(chain.sent)]
        held = [m.new_int_var(0, capacity, f"held{s}_{k}") for k in range(len(drains) + 1)]
        unsent = [m.new_int_var(0, most, f"unsent{s}_{k}") for k in range(len(drains))]
        for k, level in enumerate(held):
            before = chain.initial if k == 0 else held[k - 1] - drains[k - 1]
            m.add(level == before + self._volume(chain.rows[chain.started == k]))
        for k, level in enumerate(unsent):
            before = chain.initial if k == 0 else unsent[k - 1]
            m.add(level == before + self._volume(chain.rows[chain.ended == k]) - drains[k])
        self.chains.append((chain, drains, held, unsent))

    def _volume(self, rows: IntArray) -> Any:
        return cp_model.LinearExpr.weighted_sum(
            [self.x[i] for i in rows], self.instance.volume[rows].tolist()
        )

    def expression(self, goal: _Goal) -> Any:
        """Return the goal's expression in the model (adding the leximin's helpers)."""
        if not goal.k:
            return self.total
        group = list(goal.group)
        top = max(int(self.weights[p] * self.instance.reachable[p]) for p in group)
        values = [self.normalized[p] for p in group]
        return fairness.smallest_sum(self.model, values, top, goal.k, "gain", group, self.helpers)

    def hint(self, chosen: Sequence[int]) -> None:
        """Hint a whole solution: candidates, memory chains and the leximin's helpers."""
        instance, m = self.instance, self.model
        m.clear_hints()  # type: ignore[no-untyped-call]
        picked = np.zeros(instance.n, dtype=bool)
        picked[list(chosen)] = True
        for i, var in enumerate(self.x):
            m.add_hint(var, bool(picked[i]))
        for chain, drains, held, unsent in self.chains:
            taken = instance.volume[chain.rows] * picked[chain.rows]
            count = len(drains) + 1
            started = np.bincount(chain.started, weights=taken, minlength=count)
            ended = np.bincount(chain.ended, weights=taken, minlength=count)[: count - 1]
            ready = chain.initial + np.cumsum(ended)
            capacity = np.cumsum(chain.sent)
            sent = capacity + np.minimum(0.0, np.minimum.accumulate(ready - capacity))
            each = np.diff(np.concatenate([[0.0], sent]))
            before = np.concatenate([[0.0], sent])
            for var, value in zip(drains, each.tolist(), strict=True):
                m.add_hint(var, round(value))
            for var, value in zip(
                held, (chain.initial + np.cumsum(started) - before).tolist(), strict=True
            ):
                m.add_hint(var, round(value))
            for var, value in zip(unsent, (ready - sent).tolist(), strict=True):
                m.add_hint(var, round(value))
        fairness.hint_smallest_sums(m, self.helpers, instance.received(chosen) * self.weights)


@dataclass(frozen=True)
class _Chain:
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
    def of(cls, instance: _Instance, s: int) -> _Chain:
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


@dataclass(frozen=True)
class _Goal:
    """One level of the objective: its name, a bound that needs no solver, its units."""

    name: str
    group: tuple[int, ...]  # the partners of the leximin; () for the total gain
    k: int  # the number of smallest normalised gains summed; 0 for the total gain
    scale: float  # the model's integer value / scale = the value reported
    bound: float

    def value(self, instance: _Instance, chosen: Sequence[int]) -> float:
        """Return the level's value for a set of candidates, in reported units."""
        received = instance.received(chosen)
        if not self.k:
            return float(received.sum())
        normalized = (received * instance.weights)[list(self.group)] / instance.scale
        return fairness.sum_of_smallest(normalized, self.k)


def plan(
    problem: PlanningProblem,
    candidates: Candidates,
    objective: Objective = Objective.FAIR,
    settings: PlannerSettings | None = None,
) -> Plan:
    """Return the plan the objective asks for, proven optimal when time allows."""
    settings = settings or PlannerSettings()
    instance = _Instance(problem, candidates)
    offered = instance.n
    rows = _undominated(instance)
    if rows.size < instance.n:
        instance = _Instance(problem, candidates.take(rows))
    start = _greedy(instance, objective)
    goals = _goals(instance, objective)
    if all(lv.optimal for lv in _levels(instance, goals, start, [])):
        run, fallback = Run(), "greedy (serves every observable request)"
    else:
        run, fallback = _search(_Model(instance), goals, settings, start), "greedy (fallback)"
    solution, solver, proven = start, fallback, []
    if run.solution is not None:
        # Add what still fits: a level stopped by its time may leave room, and more gain
        # for anyone never lowers a level (each is a sum of the smallest gains, or the total).
        found = _greedy(instance, objective, run.solution)
        reached = fairness.lexicographic_key(_levels(instance, goals, found, []))
        if reached >= fairness.lexicographic_key(_levels(instance, goals, start, [])):
            solution, solver, proven = found, f"cp-sat {fairness.ortools_version()}", run.levels
        else:
            solver = f"greedy (better than the cp-sat {fairness.ortools_version()} incumbent)"
    return _result(
        instance,
        solution,
        objective,
        _levels(instance, goals, solution, proven),
        solver,
        {**settings.as_dict(), "candidates": offered, "undominated": instance.n},
        run.wall_s,
    )


def greedy(
    problem: PlanningProblem,
    candidates: Candidates,
    objective: Objective = Objective.MAX_GAIN,
) -> Plan:
    """Return the greedy plan: no search, its levels against bounds that need no solver.

    ``max-gain``: requests by gain, highest first, each taking its first candidate
    (least off-nadir, then earliest) that fits. ``fair``: the partner with the least
    gain per unit of share so far books its best request that still fits.
    """
    instance = _Instance(problem, candidates)
    chosen = _greedy(instance, objective)
    levels = _levels(instance, _goals(instance, objective), chosen, [])
    return _result(instance, chosen, objective, levels, "greedy", {"candidates": instance.n}, 0.0)


def _goals(instance: _Instance, objective: Objective) -> list[_Goal]:
    """Return the objective's levels: the leximin's (``fair``), then the total gain."""
    goals: list[_Goal] = []
    if objective is Objective.FAIR:
        group = tuple(p for p in range(len(instance.shares)) if instance.reachable[p] > 0)
        tops = np.sort([instance.weights[p] * instance.reachable[p] for p in group])
        for k in range(1, len(group) + 1):
            goals.append(
                _Goal(
                    name=f"sum of the {k} smallest normalised gains",
                    group=group,
                    k=k,
                    scale=instance.scale,
                    bound=float(tops[:k].sum() / instance.scale),
                )
            )
    goals.append(_Goal("total gain", (), 0, 1.0, float(instance.reachable.sum())))
    return goals


def _levels(
    instance: _Instance, goals: Sequence[_Goal], chosen: Sequence[int], proven: Sequence[Level]
) -> list[Level]:
    """Return the levels a plan reaches, with the solver's bounds where it proved them."""
    levels = []
    for k, goal in enumerate(goals):
        value = goal.value(instance, chosen)
        if k < len(proven):
            bound = min(proven[k].bound, goal.bound)
            optimal = proven[k].optimal or value >= bound - 1e-9
            levels.append(replace(proven[k], value=value, bound=bound, optimal=optimal))
        else:
            levels.append(Level(goal.name, value, goal.bound, value >= goal.bound - 1e-9))
    return levels


@dataclass(frozen=True)
class _Step(Goal):
    index: int = 0  # the level's place in the sequence


def _search(
    model: _Model, goals: Sequence[_Goal], settings: PlannerSettings, start: Sequence[int]
) -> Run:
    """Solve the levels in turn; one stopped unproven keeps its best value, the next run.

    A level may take ``LEVEL_SHARE`` of the time left, the last level all of it.
    CP-SAT's presolve runs for the first level only.
    """

    def search(step: _Step, left: float, solution: list[int]) -> Attempt:
        model.hint(solution)
        last = step.index == len(goals) - 1
        solver = settings.cp_sat(left if last else left * LEVEL_SHARE)
        solver.parameters.cp_model_presolve = step.index == 0
        solver.parameters.cp_model_probing_level = PROBING_LEVEL
        return fairness.search_whole(
            model.model, step, solver, enumerate(model.x), settings.relative_gap
        )

    steps = (_Step(g.name, model.expression(g), g.scale, index=k) for k, g in enumerate(goals))
    return fairness.solve_levels(
        model.model, steps, settings, search, start=start, stop_when_unproven=False
    )


def _result(
    instance: _Instance,
    chosen: Sequence[int],
    objective: Objective,
    levels: list[Level],
    solver: str,
    settings: dict[str, Any],
    wall_s: float,
) -> Plan:
    problem, c = instance.problem, instance.candidates
    origin = problem.horizon.start

    def at(seconds: float) -> Any:
        return origin + timedelta(seconds=float(seconds))

    order = sorted(chosen, key=lambda i: (float(c.start_s[i]), int(c.satellite[i])))
    observations = tuple(
        Observation(
            request=problem.requests[int(c.request[i])].id,
            partner=problem.requests[int(c.request[i])].partner,
            satellite=problem.satellites[int(c.satellite[i])].id,
            start=at(c.start_s[i]),
            end=at(c.end_s[i]),
            gain=int(instance.gain[i]),
            volume_mbit=float(c.volume_mbit[i]),
            second_start=None if np.isnan(c.second_start_s[i]) else at(c.second_start_s[i]),
            off_nadir_deg=None if np.isnan(c.off_nadir_deg[i]) else float(c.off_nadir_deg[i]),
        )
        for i in order
    )
    received = instance.received(chosen)
    total = int(received.sum())
    partners = {
        p.id: PartnerGain(
            gain=int(received[k]),
            normalized=float(received[k] / p.share),
            share_received=float(received[k] / total) if total else 0.0,
            share_entitled=p.share,
            reachable_gain=int(instance.reachable[k]),
            requested_gain=int(instance.requested[k]),
        )
        for k, p in enumerate(problem.partners)
    }
    served = {int(c.request[i]) for i in chosen}
    unserved = {
        r.id: Unserved.NOT_SELECTED if instance.observable[k] else Unserved.NO_OPPORTUNITY
        for k, r in enumerate(problem.requests)
        if k not in served
    }
    return Plan(
        status=Status.OPTIMAL if all(lv.optimal for lv in levels) else Status.FEASIBLE,
        objective=objective,
        observations=observations,
        partners=partners,
        total_gain=total,
        levels=tuple(levels),
        unserved=unserved,
        memory=memory_use(problem, looks_of(c, chosen)),
        solver=solver,
        settings={**settings, "clashes": int(instance.clash_a.size)},
        wall_s=wall_s,
    )


def looks_of(candidates: Candidates, chosen: Sequence[int]) -> dict[int, list[tuple[float, float]]]:
    """Return the imaging looks (start, end) of the chosen candidates, per satellite index.

    A stereo candidate's second look ends with it and lasts as long as the first.
    """
    c = candidates
    looks: dict[int, list[tuple[float, float]]] = {}
    for i in chosen:
        start, end, second = float(c.start_s[i]), float(c.end_s[i]), float(c.second_start_s[i])
        spans = (
            [(start, end)] if np.isnan(second) else [(start, start + end - second), (second, end)]
        )
        looks.setdefault(int(c.satellite[i]), []).extend(spans)
    return looks


def memory_use(
    problem: PlanningProblem, looks: dict[int, list[tuple[float, float]]]
) -> dict[str, MemoryUse]:
    """Return each satellite's memory peak and what is left, by the physical process."""
    found = {}
    for s, imager in enumerate(problem.satellites):
        level = simulate(
            imager.initial_memory_mbit,
            imager.imaging_rate_mbps,
            imager.downlink_rate_mbps,
            looks.get(s, []),
            problem.downlink_spans_s(imager.id),
        )
        found[imager.id] = MemoryUse(imager.memory_mbit, level.peak_mbit, level.left_mbit)
    return found
