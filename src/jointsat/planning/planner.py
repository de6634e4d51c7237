"""Choose and time partners' observations with OR-Tools CP-SAT, with proofs, or greedily.

The planner picks among candidates (candidates.py): each is one way to serve one
request, one satellite busy over a fixed span, looking along known lines of sight
at its start and end, writing a known volume of data. The model:

* at most one candidate per request;
* one observation at a time per satellite, with time to slew between consecutive
  ones: two candidates a, b (a starting first) clash unless
  ``b.start >= a.end + slew(angle between a's last and b's first line of sight)``
  (``Agility.slew_s``; instance.py finds the clashes). Clashing pairs are forbidden
  pairwise, which also keeps non-consecutive observations apart; slewing is
  subadditive, so this costs nothing in practice;
* the memory never overflows, emptied by the downlinks of the network schedule, in
  the conservative book-keeping of memory.py (one linear inequality per downlink).

Objectives, solved one after another, each optimum kept as a constraint for the next:

* ``fair``: the weighted leximin of gains per partner normalized by share (level k
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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from jointsat import fairness
from jointsat.fairness import Attempt, Goal, Level, Run, SearchSettings, Status
from jointsat.orbits.vectors import IntArray
from jointsat.planning.candidates import Candidates
from jointsat.planning.instance import Chain, Instance, grow_greedily, overlap_cliques, undominated
from jointsat.planning.memory import simulate
from jointsat.planning.plan import (
    MemoryUse,
    Objective,
    Observation,
    PartnerGain,
    Plan,
    Unserved,
)
from jointsat.planning.problem import PlanningProblem

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


class _Model:
    """The CP-SAT model: a Boolean per candidate, drains per downlink, gains per partner."""

    def __init__(self, instance: Instance) -> None:
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
        self.chains: list[tuple[Chain, list[Any], list[Any], list[Any]]] = []
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
        chain = Chain.of(instance, s)
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
class _Goal:
    """One level of the objective: its name, a bound that needs no solver, its units."""

    name: str
    group: tuple[int, ...]  # the partners of the leximin; () for the total gain
    k: int  # the number of smallest normalized gains summed; 0 for the total gain
    scale: float  # the model's integer value / scale = the value reported
    bound: float

    def value(self, instance: Instance, chosen: Sequence[int]) -> float:
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
    instance = Instance(problem, candidates)
    offered = instance.n
    rows = undominated(instance)
    if rows.size < instance.n:
        instance = Instance(problem, candidates.take(rows))
    start = grow_greedily(instance, objective)
    goals = _goals(instance, objective)
    if all(lv.optimal for lv in _levels(instance, goals, start, [])):
        run, fallback = Run(), "greedy (serves every observable request)"
    else:
        run, fallback = _search(_Model(instance), goals, settings, start), "greedy (fallback)"
    solution, solver, proven = start, fallback, []
    if run.solution is not None:
        # Add what still fits: a level stopped by its time may leave room, and more gain
        # for anyone never lowers a level (each is a sum of the smallest gains, or the total).
        found = grow_greedily(instance, objective, run.solution)
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
    instance = Instance(problem, candidates)
    chosen = grow_greedily(instance, objective)
    levels = _levels(instance, _goals(instance, objective), chosen, [])
    return _result(instance, chosen, objective, levels, "greedy", {"candidates": instance.n}, 0.0)


def _goals(instance: Instance, objective: Objective) -> list[_Goal]:
    """Return the objective's levels: the leximin's (``fair``), then the total gain."""
    goals: list[_Goal] = []
    if objective is Objective.FAIR:
        group = tuple(p for p in range(len(instance.shares)) if instance.reachable[p] > 0)
        tops = np.sort([instance.weights[p] * instance.reachable[p] for p in group])
        for k in range(1, len(group) + 1):
            goals.append(
                _Goal(
                    name=f"sum of the {k} smallest normalized gains",
                    group=group,
                    k=k,
                    scale=instance.scale,
                    bound=float(tops[:k].sum() / instance.scale),
                )
            )
    goals.append(_Goal("total gain", (), 0, 1.0, float(instance.reachable.sum())))
    return goals


def _levels(
    instance: Instance, goals: Sequence[_Goal], chosen: Sequence[int], proven: Sequence[Level]
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
    instance: Instance,
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
