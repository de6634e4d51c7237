"""Solve a SPOT5 instance: CP-SAT for the proof, then the search with the time left."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import gcd
from typing import Any

from ortools.sat.python import cp_model

from jointsat.spot5 import search as spot5_search
from jointsat.spot5.instance import Spot5, gain


@dataclass(frozen=True)
class Spot5Result:
    """An answer, its gain, the proven bound and whether it is optimal."""

    answer: dict[int, int]
    value: int
    bound: float
    optimal: bool
    wall_s: float


def solve(instance: Spot5, *, time_limit_s: float = 60.0, workers: int = 8) -> Spot5Result:
    """Select photographs for the most gain under every constraint, with CP-SAT.

    One Boolean per photo and value, at most one value per photo; each forbidden
    tuple is a clause; the recorder a knapsack in normalized units.

    When the gains split into big ones, all multiples of some g, and small ones that
    sum to less than g (SPOT5's 1000 and 2000 against 1, 2, 5), the big gains decide
    alone: any schedule with more big gain beats any with less. The search then runs
    in two phases, big gains first (a coarse objective, found far sooner), then the
    small gains with the big gain kept; the answer is the same optimum.
    """
    model = cp_model.CpModel()
    chosen: dict[tuple[int, int], cp_model.IntVar] = {}
    for photo in instance.photos:
        options = [model.new_bool_var(f"p{photo.id}v{v}") for v in photo.values]
        chosen.update(zip(((photo.id, v) for v in photo.values), options, strict=True))
        model.add_at_most_one(options)
    for c in instance.constraints:
        for values in c.forbidden:
            literals = [chosen.get((p, v)) for p, v in zip(c.photos, values, strict=True)]
            if all(lit is not None for lit in literals):
                model.add_bool_or([lit.Not() for lit in literals if lit is not None])
    photos = instance.by_id
    if instance.capacity_units is not None:
        model.add(
            sum(photos[p].units(v) * var for (p, v), var in chosen.items())
            <= instance.capacity_units
        )
    step = _big_gain_step(instance)
    phases: list[tuple[Any, float]] = []
    if step is not None:
        big = sum(
            (photos[p].gain // step) * var
            for (p, _), var in chosen.items()
            if photos[p].gain >= step
        )
        small = sum(photos[p].gain * var for (p, _), var in chosen.items() if photos[p].gain < step)
        phases = [(big, BIG_GAIN_SHARE), (small, LAST_PHASE_SHARE)]
    else:
        phases = [(sum(photos[p].gain * var for (p, _), var in chosen.items()), LAST_PHASE_SHARE)]
    wall_s, bounds, proven = 0.0, [], []
    answer: dict[int, int] = {}
    for objective, share in phases:
        model.maximize(objective)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max((time_limit_s - wall_s) * share, 0.01)
        solver.parameters.num_workers = workers
        status = solver.solve(model)
        wall_s += solver.wall_time
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Spot5Result(answer, gain(instance, answer), float("inf"), False, wall_s)
        answer = {p: v for (p, v), var in chosen.items() if solver.value(var)}
        value = round(solver.objective_value)
        bounds.append(solver.best_objective_bound)
        proven.append(status == cp_model.OPTIMAL)
        model.add(objective >= value)
        model.clear_hints()  # type: ignore[no-untyped-call]
        for var in chosen.values():
            model.add_hint(var, solver.value(var))
    total = gain(instance, answer)
    if step is None:
        bound = bounds[0]
    elif not proven[0]:  # more big gain may exist, with any small gain
        bound = bounds[0] * step + sum(p.gain for p in instance.photos if p.gain < step)
    else:  # the big gain is proven; every answer with it has at most bounds[1] small gain
        bound = (total - _small_gain(instance, answer, step)) + bounds[1]
    if not proven[-1] and time_limit_s > wall_s:
        # Search on with the time left (spot5_search): the answer only gets better.
        ix = spot5_search.Indexed.of(instance)
        start = [
            ix.values[i].index(answer[p.id]) if p.id in answer else spot5_search.REJECTED
            for i, p in enumerate(instance.photos)
        ]
        found = spot5_search.improve(
            ix,
            start,
            (time_limit_s - wall_s) * SEARCH_SOLVER_SHARE,
            threads=min(workers, SEARCH_THREADS),
        )
        wall_s += found.wall_s
        if found.gain > total:
            answer = {
                p.id: ix.values[i][c]
                for i, (p, c) in enumerate(zip(instance.photos, found.choice, strict=True))
                if c != spot5_search.REJECTED
            }
            total = gain(instance, answer)
        if found.optimal:  # every component's profile is exact
            bound = total
    return Spot5Result(answer, total, bound, all(proven) or total >= bound, wall_s)


BIG_GAIN_SHARE = 0.6  # of the time, for the big gains when the gains split
LAST_PHASE_SHARE = 0.15  # of the time left, for CP-SAT's last phase; the search has the rest
SEARCH_THREADS = 2  # steps at a time: two cores busy, each step from a fresh answer
SEARCH_SOLVER_SHARE = 0.9  # of the search's time, in CP-SAT: building its models takes the rest


def _big_gain_step(instance: Spot5) -> int | None:
    """Return g when gains split into multiples of g and smaller ones summing below g."""
    gains = sorted({p.gain for p in instance.photos})
    for threshold in gains:
        small = sum(p.gain for p in instance.photos if p.gain < threshold)
        big = [g for g in gains if g >= threshold]
        step = 0
        for g in big:
            step = gcd(step, g)
        if small > 0 and step > small:
            return step
    return None


def _small_gain(instance: Spot5, answer: Mapping[int, int], step: int) -> int:
    photos = instance.by_id
    return sum(photos[p].gain for p in answer if photos[p].gain < step)
