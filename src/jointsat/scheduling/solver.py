"""Share the pooled network by policy with OR-Tools CP-SAT, with proofs and a time limit.

The model: one Boolean per eligible pass; at most one contact in each maximal clique
of conflicting passes (network.py); per satellite an integer ``useful_s`` no more
than its demand and no more than the seconds of its contacts. Partner p receives
T_p = sum over satellites of operators[s][p] * useful_s, and its normalized time
is T_p / share_p, written with integer weights (``integer_weights``).

Policies are sequences of objectives solved one after another, each optimum kept
as a constraint for the next (lexicographic optimisation):

* ``fair``: weighted leximin of normalized times. Level k maximises the sum of the
  k smallest normalized times, written exactly as max k*t - sum_p max(0, t - N_p)
  (Ogryczak and Sliwinski); maximising these sums in turn is maximising the sorted
  vector lexicographically. Then the total received time.
* ``max-total``: the total received time.
* ``priority``: the fair levels of each priority class in turn, then the total.

A re-plan adds a last level: change the fewest contacts of the previous schedule.

Each level is optimal when proven within ``relative_gap`` of its bound (1e-4 by
default, the default of commercial MIP solvers; 0 asks for exact proofs). Balancing
partners to the last second is a subset-sum puzzle: on a week of 12,000 passes CP-SAT
finds the balance within a second of the bound but cannot prove that second in a
minute, and no partner's share hangs on it.

Each level is first solved as a linear relaxation (relaxation.py); CP-SAT then searches
only the satellites whose passes the relaxation splits and stops once a schedule is
within the tolerance of the relaxation's bound, which proves the level. Otherwise CP-SAT
searches the whole model from that schedule, with the time left. A level stopped by the
time limit keeps the best value found (status ``feasible``, with the best bound known)
and the later levels are not solved; the schedule is then completed greedily. The
greedy schedule (greedy.py) is computed first: the answer when CP-SAT finds nothing
better in time or the problem has more than ``max_model_passes``, and CP-SAT's first
hint on large problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from jointsat.fairness import (
    MIN_LEVEL_TIME_S,
    Attempt,
    Goal,
    Level,
    Run,
    SearchSettings,
    SmallestSum,
    Status,
    hint_smallest_sums,
    integer_weights,
    lexicographic_key,
    ortools_version,
    search_whole,
    smallest_sum,
    solve_levels,
    sum_of_smallest,
)
from jointsat.scheduling.bounds import CheapBounds
from jointsat.scheduling.decompose import combine, components, pack, sub_network
from jointsat.scheduling.greedy import fill, greedy, rounded
from jointsat.scheduling.network import Network
from jointsat.scheduling.problem import Problem, Window
from jointsat.scheduling.relaxation import Relaxation
from jointsat.scheduling.result import (
    Policy,
    Schedule,
    contacts_of,
    evaluate,
    fair_groups,
    total_volume_bytes,
)

DEFAULT_MAX_MODEL_PASSES = 300_000
# From this many passes CP-SAT starts from the greedy schedule (below, the hint only
# slows it down) and the dominance reduction is skipped (it costs more than it saves).
LARGE_MODEL_PASSES = 50_000
# Independent components are solved in parts of at least this many eligible passes:
# below it, a part's own model costs more than it saves.
DEFAULT_MIN_PART_PASSES = 50
RELAXATION_ROUNDING = 1e-9  # relative; GLOP's optimum is accurate to well within this
# A level's relaxation-led search gets this share of the time left, capped: from the
# last level's schedule it proves a level in 0.2-0.4 s or not at all (the relaxation's
# bound too loose); from the relaxation rounded (the first level) in 2-3 s.
NEIGHBOURHOOD_SHARE = 0.5
FROM_LAST_LEVEL_MAX_S = 1.5
FROM_RELAXATION_MAX_S = 5.0


@dataclass(frozen=True)
class SolverSettings(SearchSettings):
    """Say how long CP-SAT may search, with how many workers, and when to use the greedy."""

    # CP-SAT's portfolio of 8 strategies, even on 2 cores: with 1 or 2 workers it lacks
    # the ones that prove these models (a week of 2,627 passes: 0.2 s with 8 workers,
    # not proven in 20 s with 2).
    workers: int = 8
    max_model_passes: int = DEFAULT_MAX_MODEL_PASSES
    # Solve independent components apart (decompose.py); False: always one model.
    decompose: bool = True
    min_part_passes: int = DEFAULT_MIN_PART_PASSES

    def as_dict(self) -> dict[str, Any]:
        """Return the settings for a schedule's provenance."""
        found = super().as_dict()
        gap = found.pop("relative_gap")
        return {**found, "max_model_passes": self.max_model_passes, "relative_gap": gap}


@dataclass(frozen=True)
class _Objective(Goal):
    relaxed: Any = None  # the same objective in the linear relaxation, if there is one


def solve(
    problem: Problem,
    policy: Policy = Policy.FAIR,
    settings: SolverSettings | None = None,
    *,
    executor: Executor | None = None,
) -> Schedule:
    """Return the schedule the policy asks for, proven optimal when time allows.

    A network whose passes fall into independent components (decompose.py) is solved
    in parts, each with the whole time limit and its own proofs, and the schedules
    combined: exactly the whole's optimum (docs/scheduling.md, "Decomposition").
    The parts run on ``executor`` when one is handed in (a process pool, a Dask
    client's ``get_executor()``), else one after another here. The schedule's
    ``settings["decomposition"]`` says how many components and parts there were and
    which parts were proven.
    """
    settings = settings or SolverSettings()
    network = Network.of(problem)
    if not settings.decompose:
        return _solve(network, policy, settings)
    found = components(network, policy)
    parts = pack(found, settings.min_part_passes)
    record: dict[str, Any] = {
        "components": len(found),
        "parts": max(len(parts), 1),
        "min_part_passes": settings.min_part_passes,
    }
    if len(parts) <= 1:
        whole = _solve(network, policy, settings)
        return replace(whole, settings={**whole.settings, "decomposition": record})
    networks = [sub_network(network, part) for part in parts]
    if executor is None:
        solved = [_solve(sub, policy, settings) for sub in networks]
    else:
        remote = replace(settings, on_level=None)  # progress stays here: not sent
        futures = [executor.submit(solve_part, sub, policy, remote) for sub in networks]
        solved = [future.result() for future in futures]
    record |= {
        "part_passes": [len(part) for part in parts],
        "part_status": [part.status.value for part in solved],
        "parts_proven": sum(part.status is Status.OPTIMAL for part in solved),
    }
    return combine(
        network,
        policy,
        solved,
        {**settings.as_dict(), "kept_contacts": 0, "decomposition": record},
    )


def solve_part(network: Network, policy: Policy, settings: SolverSettings) -> Schedule:
    """Solve one part of a decomposed network (a task an executor runs)."""
    return _solve(network, policy, settings)


def replan(
    problem: Problem,
    previous: Sequence[str],
    *,
    now: datetime,
    outage: tuple[str, datetime, datetime] | None = None,
    policy: Policy = Policy.FAIR,
    settings: SolverSettings | None = None,
) -> Schedule:
    """Re-plan after an outage: keep contacts started before ``now``, re-solve the rest.

    ``previous`` holds the pass ids of the previous schedule's contacts. Passes
    starting before ``now`` that it did not use stay unused. Among the schedules
    optimal for the policy, the one changing the fewest later contacts is chosen.
    """
    if outage is not None:
        problem = _with_outage(problem, *outage)
    network = Network.of(problem)
    index = {p.id: i for i, p in enumerate(problem.passes)}
    unknown = [p for p in previous if p not in index]
    if unknown:
        from jointsat.errors import ProblemInputError

        raise ProblemInputError(f"the previous schedule names unknown passes: {unknown[:5]}")
    before = {index[p] for p in previous}
    started = np.array([p.start < now for p in problem.passes], dtype=bool)
    kept = sorted(i for i in before if started[i])
    return _solve(
        network,
        policy,
        settings or SolverSettings(),
        kept=kept,
        allowed=~started,
        previous=before,
    )


def _with_outage(problem: Problem, station: str, start: datetime, end: datetime) -> Problem:
    from jointsat.errors import ProblemInputError

    ids = [g.id for g in problem.stations]
    if station not in ids:
        raise ProblemInputError(f"unknown station {station!r}", location="outage")
    if end <= start:
        raise ProblemInputError("end must be after start", location="outage")
    stations = tuple(
        replace(g, unavailable=(*g.unavailable, Window(start, end))) if g.id == station else g
        for g in problem.stations
    )
    return replace(problem, stations=stations)


def _solve(
    network: Network,
    policy: Policy,
    settings: SolverSettings,
    *,
    kept: Sequence[int] = (),
    allowed: np.ndarray | None = None,
    previous: set[int] | None = None,
) -> Schedule:
    free = network.eligible.copy()
    if allowed is not None:
        free &= allowed
    free[list(kept)] = False
    start = greedy(network, policy, kept=kept, allowed=allowed)
    large = int(free.sum()) > LARGE_MODEL_PASSES
    if previous is None and not large:  # dominance keeps the optimum, not the fewest changes
        free[list(network.dominated(np.flatnonzero(free)))] = False
    run = (
        _cp_sat(network, policy, settings, kept, free, previous, hint=start if large else ())
        if int(free.sum()) <= settings.max_model_passes
        else None
    )
    solution, solver, proven = start, "greedy (fallback)", []
    usable = free.copy()
    usable[list(kept)] = True
    cheap = CheapBounds.of(network, usable)
    greedy_levels = _levels_of(network, policy, cheap, start, previous)
    if run is not None and run.solution is not None:
        found = run.solution
        if len(run.levels) < len(greedy_levels) and previous is None:
            # The search stopped early: book whatever still fits and is useful to
            # someone (it can only raise what partners receive).
            found = fill(network, found, allowed=free)
        done = len(run.levels) == len(greedy_levels) and all(lv.optimal for lv in run.levels)
        reached = _levels_of(network, policy, cheap, found, previous)
        if done or lexicographic_key(reached) >= lexicographic_key(greedy_levels):
            solution, solver, proven = found, f"cp-sat {ortools_version()}", run.levels
        else:
            solver = f"greedy (better than the cp-sat {ortools_version()} incumbent)"
    reached = _levels_of(network, policy, cheap, solution, previous)
    if policy is Policy.FAIR and reached and not (proven and proven[0].optimal):
        # The first level is unproven: bound it by Lagrangian relaxation.
        cheap = cheap.with_smallest(network, usable, reached[0].value)
        reached = _levels_of(network, policy, cheap, solution, previous)
    levels = [
        replace(
            proven[k],
            value=got.value,
            bound=min(proven[k].bound, got.bound) if got.maximize else proven[k].bound,
        )
        if k < len(proven)
        else got
        for k, got in enumerate(reached)
    ]
    partners, total = evaluate(network, solution)
    status = Status.OPTIMAL if all(lv.optimal for lv in levels) else Status.FEASIBLE
    return Schedule(
        status=status,
        policy=policy,
        contacts=contacts_of(network, solution),
        partners=partners,
        total_seconds=total,
        levels=tuple(levels),
        solver=solver,
        settings={**settings.as_dict(), "kept_contacts": len(kept)},
        wall_s=run.wall_s if run else 0.0,
        measure=network.measure,
        total_volume_bytes=total_volume_bytes(network, solution),
    )


class _Model:
    """The CP-SAT model of one problem: pass choices, useful seconds, normalized times."""

    def __init__(self, network: Network, kept: Sequence[int], free: np.ndarray) -> None:
        self.network = network
        self.model = cp_model.CpModel()
        candidates = sorted({*np.flatnonzero(free).tolist(), *kept})
        self.x: dict[int, cp_model.IntVar] = {}
        for i in candidates:
            self.x[i] = self.model.new_bool_var(f"x{i}")
        for i in kept:
            self.model.add(self.x[i] == 1)
        for clique in network.cliques(candidates):
            self.model.add_at_most_one(self.x[i] for i in clique)
        problem = network.problem
        by_satellite: dict[int, list[int]] = {}
        for i in candidates:
            by_satellite.setdefault(int(network.satellite[i]), []).append(i)
        self.useful: list[Any] = []
        self.capped: list[tuple[int, cp_model.IntVar, int]] = []  # satellite, var, demand
        self.levels: list[SmallestSum] = []
        tops: list[int] = []
        for s in range(len(problem.satellites)):
            mine = by_satellite.get(s, [])
            reachable = int(sum(int(network.duration_s[i]) for i in mine))
            top = min(int(network.demand_s[s]), reachable)
            tops.append(max(top, 0))
            seconds = cp_model.LinearExpr.weighted_sum(
                [self.x[i] for i in mine], [int(network.duration_s[i]) for i in mine]
            )
            if top == reachable:  # the demand cannot bind: every contact second is useful
                self.useful.append(seconds)
                continue
            y = self.model.new_int_var(0, tops[-1], f"useful{s}")
            self.model.add(y <= seconds)
            self.useful.append(y)
            self.capped.append((s, y, top))
        self.coefficients, self.scale = integer_weights(network.operators, network.shares)
        self.normalized = [
            sum(
                int(self.coefficients[s, p]) * self.useful[s]
                for s in range(len(problem.satellites))
                if self.coefficients[s, p]
            )
            for p in range(len(problem.partners))
        ]
        self.normalized_top = [
            int(sum(int(self.coefficients[s, p]) * tops[s] for s in range(len(problem.satellites))))
            for p in range(len(problem.partners))
        ]


def _objectives(
    model: _Model,
    network: Network,
    policy: Policy,
    previous: set[int] | None,
    relaxation: Relaxation | None,
) -> list[_Objective]:
    objectives: list[_Objective] = []
    for group, label in _fair_groups(network, policy):
        for k in range(1, len(group) + 1):
            objectives.append(
                _Objective(
                    name=f"sum of the {k} smallest normalized times{label}",
                    expression=_smallest_sum(model, group, k),
                    scale=model.scale,
                    relaxed=relaxation.smallest_sum(group, k) if relaxation else None,
                )
            )
    objectives.append(
        _Objective(
            name="total received seconds",
            expression=sum(model.useful),
            scale=1.0,
            relaxed=relaxation.total() if relaxation else None,
        )
    )
    if previous is not None:
        dropped = len(previous - model.x.keys())  # previous contacts no longer possible
        changes = dropped + sum((1 - var) if i in previous else var for i, var in model.x.items())
        objectives.append(
            _Objective(
                name="contacts changed",
                expression=changes,
                scale=1.0,
                maximize=False,
            )
        )
    return objectives


def _fair_groups(network: Network, policy: Policy) -> list[tuple[list[int], str]]:
    """Return the policy's groups of partners for the leximin, with their level labels."""
    partners = network.problem.partners
    return [
        (
            group,
            "" if policy is Policy.FAIR else f" of priority class {partners[group[0]].priority}",
        )
        for group in fair_groups(partners, policy)
    ]


def _smallest_sum(model: _Model, group: list[int], k: int) -> Any:
    """Return an expression whose maximum is the sum of the k smallest normalized times."""
    top = max(model.normalized_top[p] for p in group)
    values = [model.normalized[p] for p in group]
    return smallest_sum(model.model, values, top, k, str(group[0]), group, model.levels)


def _hint(model: _Model, solution: set[int], target: Any = None) -> None:
    """Hint a whole solution: passes, useful seconds and every level's helper variables.

    A partial hint (passes only) leaves CP-SAT to complete the helpers, which it may
    fail to do; then it searches from nothing. ``target`` is the model or a clone of it.
    """
    m = model.model if target is None else target
    network = model.network
    m.clear_hints()
    for i, var in model.x.items():
        m.add_hint(var, i in solution)
    useful, _ = network.received_s(sorted(solution))
    got = np.bincount(
        network.satellite[sorted(solution)],
        weights=network.duration_s[sorted(solution)],
        minlength=len(network.problem.satellites),
    ).astype(np.int64)
    for s, var, top in model.capped:
        m.add_hint(var, int(min(got[s], top)))
    hint_smallest_sums(m, model.levels, useful @ model.coefficients)  # model units


def _cp_sat(
    network: Network,
    policy: Policy,
    settings: SolverSettings,
    kept: Sequence[int],
    free: np.ndarray,
    previous: set[int] | None,
    *,
    hint: Sequence[int] = (),
) -> Run:
    model = _Model(network, kept, free)
    relaxation = (
        Relaxation(network, sorted(model.x), kept, model.coefficients)
        if len(model.x) <= LARGE_MODEL_PASSES
        else None
    )

    def search(objective: _Objective, left: float, solution: list[int]) -> Attempt:
        """Prove the level from the relaxation if it can, else search the whole model."""
        wall_s, deterministic_s, start = 0.0, 0.0, set(solution)
        if relaxation is not None and objective.relaxed is not None:
            found = _neighbourhood(model, relaxation, objective, settings, left, start)
            wall_s, deterministic_s = found.wall_s, found.deterministic_s
            start = set(found.solution or start)
            if found.level is not None:
                return replace(found, solution=sorted(start))
        left -= settings.spent(wall_s, deterministic_s)
        if left < MIN_LEVEL_TIME_S:
            return Attempt(
                None, solution=sorted(start), wall_s=wall_s, deterministic_s=deterministic_s
            )
        if start:  # the last level's optimum satisfies this level's constraints
            _hint(model, start)
        else:
            model.model.clear_hints()  # type: ignore[no-untyped-call]
        found = search_whole(
            model.model, objective, settings.cp_sat(left), model.x.items(), settings.relative_gap
        )
        return replace(
            found,
            solution=found.solution or sorted(start),
            wall_s=wall_s + found.wall_s,
            deterministic_s=deterministic_s + found.deterministic_s,
        )

    def keep(objective: _Objective, value: int) -> None:
        if relaxation is not None and objective.relaxed is not None:
            relaxation.keep_at_least(objective.relaxed, value)

    goals = _objectives(model, network, policy, previous, relaxation)
    return solve_levels(model.model, goals, settings, search, start=hint, kept=keep)


class _StopAt(cp_model.CpSolverSolutionCallback):
    """Stop the search at the first solution whose objective reaches a target."""

    def __init__(self, target: float) -> None:
        super().__init__()
        self.target = target

    def on_solution_callback(self) -> None:
        if self.objective_value >= self.target:
            self.stop_search()


def _neighbourhood(
    model: _Model,
    relaxation: Relaxation,
    objective: _Objective,
    settings: SolverSettings,
    left: float,
    previous: set[int],
) -> Attempt:
    """Try to prove a level from the relaxation: search only the satellites it splits.

    The relaxation's bound proves the level for any schedule within the tolerance of
    it. CP-SAT looks for one, changing only the passes of the satellites the relaxation
    splits: from the last level's schedule (it meets every earlier level, and the next
    level often needs only a few changes), or for the first level from the relaxation
    rounded, its whole values kept. When it does not get there, the best schedule
    found seeds the search of the whole model.
    """
    relaxed, wall_s = relaxation.maximize(objective.relaxed)
    deterministic_s = 0.0  # GLOP's time counts on the clock only
    if relaxed is None:
        return Attempt(None, wall_s=wall_s)
    # Within the tolerance of the relaxation's bound, the level is proven; exact proofs
    # need the bound itself (up to GLOP's rounding, far below one integer unit).
    bound = relaxed.bound
    slack = settings.relative_gap * abs(bound) or RELAXATION_ROUNDING * max(1.0, abs(bound))
    satellite = model.network.satellite
    starts = (
        [(previous, FROM_LAST_LEVEL_MAX_S)]
        if previous
        else [(set(rounded(model.network, relaxed.values)), FROM_RELAXATION_MAX_S)]
    )
    best: tuple[int, set[int]] | None = None
    for start, cap_s in starts:
        seconds = min((left - settings.spent(wall_s, deterministic_s)) * NEIGHBOURHOOD_SHARE, cap_s)
        if seconds < MIN_LEVEL_TIME_S:
            break
        sub = model.model.clone()
        _hint(model, start, sub)
        for i, var in model.x.items():
            if int(satellite[i]) not in relaxed.split_satellites:
                sub.add(sub.get_bool_var_from_proto_index(var.index) == int(i in start))
        solver = settings.cp_sat(seconds)
        status = solver.solve(sub, _StopAt(bound - slack))
        wall_s += solver.wall_time
        deterministic_s += solver.deterministic_time
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            continue
        value = round(solver.objective_value)
        found = {i for i, var in model.x.items() if solver.value(var)}
        if best is None or value > best[0]:
            best = (value, found)
        if value >= bound - slack:
            level = Level(
                name=objective.name,
                value=value / objective.scale,
                bound=max(bound, value) / objective.scale,
                optimal=True,
                maximize=True,
                tolerance=settings.relative_gap,
                wall_s=wall_s,
            )
            return Attempt(level, value, sorted(found), wall_s, deterministic_s)
    return Attempt(
        None,
        solution=sorted(best[1]) if best else None,
        wall_s=wall_s,
        deterministic_s=deterministic_s,
    )


def _levels_of(
    network: Network,
    policy: Policy,
    cheap: CheapBounds,
    chosen: Sequence[int],
    previous: set[int] | None,
) -> list[Level]:
    """Return the levels a schedule reaches, against bounds that need no solver."""
    useful, received = network.received_s(chosen)
    normalized = received / network.shares
    levels: list[Level] = []
    for group, label in _fair_groups(network, policy):
        tops = np.sort(cheap.normalized[group])
        if len(group) == len(network.problem.partners):  # the Lagrangian bound's group
            tops[0] = min(tops[0], cheap.smallest)
        for k in range(1, len(group) + 1):
            value, bound = sum_of_smallest(normalized[group], k), float(tops[:k].sum())
            levels.append(
                Level(
                    name=f"sum of the {k} smallest normalized times{label}",
                    value=value,
                    bound=bound,
                    optimal=value >= bound - 1e-9,
                )
            )
    total = float(useful.sum())
    levels.append(Level("total received seconds", total, cheap.total, total >= cheap.total - 1e-9))
    if previous is not None:
        changes = len(previous.symmetric_difference(chosen))
        levels.append(Level("contacts changed", changes, 0.0, changes == 0, maximize=False))
    return levels
