"""Share fairly: the weighted leximin that the network scheduler and the planner both solve.

Each partner p receives some amount T_p (contact seconds, observation gain) and is
entitled to a share w_p. Its normalized amount is T_p / w_p, written with small
integer weights for CP-SAT (``integer_weights``). The weighted leximin maximises the
smallest normalized amount, then the next smallest, and so on: level k maximises the
sum of the k smallest, written exactly as max k*t - sum_p max(0, t - N_p) (Ogryczak
and Sliwinski, 2003; ``smallest_sum``). Maximising these sums in turn is maximising
the sorted vector lexicographically.

The levels (the leximin's, then a total, then whatever a caller adds) are solved one
after another by ``solve_levels``, each optimum kept as a constraint for the next. A
level is ``optimal`` when CP-SAT proves it within ``relative_gap`` of its bound; the
``Level`` records keep that evidence, and ``Evidence`` reads a result's bound, gap and
fairness gap from them.

This module sits above ``scheduling`` and ``planning`` because both use it; it is pure
(no I/O, no clock).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce
from math import gcd, lcm
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:  # OR-Tools loads in ~0.4 s: results (Level, Evidence) are read without it
    from ortools.sat.python import cp_model

MAX_DENOMINATOR = 10_000  # shares and fractions read as rationals p/q with q up to this
MAX_COEFFICIENT = 100_000  # beyond this, f/w is rounded instead (see integer_weights)
MIN_LEVEL_TIME_S = 0.05  # a level with less time left than this is not started
DEFAULT_RELATIVE_GAP = 1e-4


class Status(enum.StrEnum):
    """Say whether every objective level was proven optimal."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"


@dataclass(frozen=True)
class Level:
    """One objective of the lexicographic sequence: the value reached and its proven bound."""

    name: str
    value: float
    bound: float
    optimal: bool
    maximize: bool = True
    tolerance: float = 0.0  # optimal means: proven within this fraction of the bound
    wall_s: float = 0.0  # the solver's time on this level

    @property
    def gap(self) -> float:
        """Return how far the value may be from the optimum, relative to the larger of the two."""
        worst = max(abs(self.bound), abs(self.value))
        return 0.0 if worst == 0 else abs(self.bound - self.value) / worst

    def to_dict(self) -> dict[str, Any]:
        """Return the level as its JSON object (docs/scheduling.md)."""
        return {
            "name": self.name,
            "sense": "maximize" if self.maximize else "minimize",
            "value": self.value,
            "bound": self.bound,
            "optimal": self.optimal,
            "tolerance": self.tolerance,
            "wall_s": self.wall_s,
        }


def lexicographic_key(levels: Sequence[Level]) -> list[float]:
    """Return levels as a list compared lexicographically, larger better."""
    return [lv.value if lv.maximize else -lv.value for lv in levels]


class Share(Protocol):
    """What a partner got against what it is entitled to."""

    @property
    def share_received(self) -> float: ...

    @property
    def share_entitled(self) -> float: ...

    @property
    def demand_met(self) -> bool: ...


def fairness_gap(partners: Mapping[str, Share]) -> float:
    """Return the largest |received - entitled share| among partners whose demand is unmet.

    Partners that got all they could use are left out: they asked for less than
    their share.
    """
    gaps = [abs(r.share_received - r.share_entitled) for r in partners.values() if not r.demand_met]
    return max(gaps, default=0.0)


class Evidence:
    """How good a result is, read from its levels: the deciding level's bound and gap."""

    levels: tuple[Level, ...]
    partners: Mapping[str, Share]

    def _total_level(self) -> Level:
        """Return the level to report when there are none: the total, proven."""
        raise NotImplementedError

    def _deciding(self) -> Level:
        if not self.levels:
            return self._total_level()
        return next((lv for lv in self.levels if not lv.optimal), self.levels[-1])

    @property
    def bound(self) -> float:
        """Return the proven bound of the first level not proven optimal (else the last's)."""
        return self._deciding().bound

    @property
    def gap(self) -> float:
        """Return |bound - value| / max(|bound|, |value|) at the deciding level."""
        return self._deciding().gap

    @property
    def fairness_gap(self) -> float:
        """Return the largest |received - entitled share| among partners whose demand is unmet."""
        return fairness_gap(self.partners)

    def evidence_dict(self) -> dict[str, Any]:
        """Return the evidence's part of the result's JSON document."""
        return {
            "bound": self.bound,
            "bound_level": self._deciding().name,
            "gap": self.gap,
            "fairness_gap": self.fairness_gap,
            "levels": [lv.to_dict() for lv in self.levels],
        }


@dataclass(frozen=True)
class SearchSettings:
    """Say how long CP-SAT may search, with how many workers, and how exact a proof must be."""

    time_limit_s: float = 30.0
    workers: int = 0  # 0: one CP-SAT worker per core
    seed: int = 0
    relative_gap: float = DEFAULT_RELATIVE_GAP  # a level is optimal when proven this close
    # True: ``time_limit_s`` counts CP-SAT's deterministic time (its measure of the work
    # done, about 2-3 s of an idle core per unit here) instead of the clock, and CP-SAT's
    # portfolio of strategies is interleaved in a set order on one worker (``workers``
    # must be 1: with more, CP-SAT 9.15's interleaved search aborted on the scheduler's
    # sub-models), so that a result depends on the problem and these settings only,
    # never on the machine's speed or load. The wall time is then unbounded.
    deterministic: bool = False
    # The CP-SAT strategies (subsolvers, e.g. "max_lp") to search with; empty: its whole
    # portfolio. The demo's schedule is proven 4-5 times sooner by "max_lp" alone.
    subsolvers: tuple[str, ...] = ()
    # Hears of each level as its search starts (its number from 1, its name): progress.
    on_level: Callable[[int, str], None] | None = field(
        default=None, kw_only=True, compare=False, repr=False
    )

    def as_dict(self) -> dict[str, Any]:
        """Return the settings for a result's provenance."""
        found: dict[str, Any] = {
            "time_limit_s": self.time_limit_s,
            "workers": self.workers,
            "seed": self.seed,
            "relative_gap": self.relative_gap,
        }
        if self.deterministic:
            found["deterministic"] = True
        if self.subsolvers:
            found["subsolvers"] = list(self.subsolvers)
        return found

    def cp_sat(self, seconds: float) -> cp_model.CpSolver:
        """Return a CP-SAT solver with these settings, searching at most ``seconds``.

        Deterministic settings bound its deterministic time instead of its wall time.
        """
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        if self.deterministic:
            if self.workers != 1:
                raise ValueError("deterministic search runs on one worker (workers=1)")
            solver.parameters.max_deterministic_time = seconds
            solver.parameters.interleave_search = True
        else:
            solver.parameters.max_time_in_seconds = seconds
        solver.parameters.random_seed = self.seed
        solver.parameters.num_workers = self.workers
        solver.parameters.relative_gap_limit = self.relative_gap
        solver.parameters.subsolvers.extend(self.subsolvers)
        return solver

    def spent(self, wall_s: float, deterministic_s: float) -> float:
        """Return what a search used of ``time_limit_s``: the one of its times it counts."""
        return deterministic_s if self.deterministic else wall_s


def ortools_version() -> str:
    """Return the version of OR-Tools, for a result's ``solver``."""
    from importlib.metadata import version

    return version("ortools")


def integer_weights(operators: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, float]:
    """Return integers C and a scale L with C[s, p] / L = operators[s, p] / shares[p].

    Exact when every fraction and share is a rational with a denominator up to
    ``MAX_DENOMINATOR`` (any decimal with four places) and the integers stay small;
    otherwise f/w is rounded to ``MAX_COEFFICIENT`` steps of the largest weight.
    Small integers matter: CP-SAT proves the fair levels in milliseconds with
    weights like 3, 4, 6 and not in minutes with weights scaled by a million.
    """
    wanted = operators / shares
    as_fraction = [Fraction(float(w)).limit_denominator(MAX_DENOMINATOR) for w in shares]
    if all(w > 0 for w in as_fraction):
        flat = [
            Fraction(float(f)).limit_denominator(MAX_DENOMINATOR) / w
            for row in operators
            for f, w in zip(row, as_fraction, strict=True)
        ]
        exact = all(
            abs(float(r) - v) <= 1e-12 * max(1.0, v)
            for r, v in zip(flat, wanted.ravel(), strict=True)
        )
        scale = 1
        for r in flat:
            scale = lcm(scale, r.denominator)
        numerators = [int(r * scale) for r in flat]
        divisor = reduce(gcd, numerators, 0) or 1
        if exact and max(numerators, default=0) // divisor <= MAX_COEFFICIENT:
            weights = np.array(numerators, dtype=np.int64).reshape(operators.shape) // divisor
            return weights, scale / divisor
    rounded = MAX_COEFFICIENT / (float(wanted.max()) or 1.0)
    return np.rint(wanted * rounded).astype(np.int64), rounded


@dataclass(frozen=True)
class SmallestSum:
    """The helpers of one leximin level in CP-SAT: the threshold t and max(0, t - v) per value."""

    k: int
    group: list[int]
    t: cp_model.IntVar
    excess: list[cp_model.IntVar]


def smallest_sum(
    model: cp_model.CpModel,
    values: Sequence[Any],
    top: int,
    k: int,
    name: str,
    group: list[int],
    helpers: list[SmallestSum],
) -> Any:
    """Return an expression whose maximum is the sum of the k smallest values.

    ``values`` are linear expressions between 0 and ``top`` (those of the partners
    in ``group``). The threshold t and the excesses max(0, t - v) are added to
    ``helpers``, to hint them; none when k counts every value (the sum itself).
    """
    if k == len(values):
        return sum(values)
    t = model.new_int_var(0, top, f"t{k}_{name}")
    excess = []
    for j, value in enumerate(values):
        d = model.new_int_var(0, top, f"d{k}_{name}_{j}")
        model.add(d >= t - value)
        excess.append(d)
    helpers.append(SmallestSum(k, group, t, excess))
    return k * t - sum(excess)


def hint_smallest_sums(
    model: cp_model.CpModel, helpers: Iterable[SmallestSum], normalized: np.ndarray
) -> None:
    """Hint each level's helpers from the normalized amounts of a solution (model units)."""
    for level in helpers:
        theta = int(np.sort(normalized[level.group])[level.k - 1])
        model.add_hint(level.t, theta)
        for p, d in zip(level.group, level.excess, strict=True):
            model.add_hint(d, max(0, theta - int(normalized[p])))


def sum_of_smallest(values: np.ndarray, k: int) -> float:
    """Return the sum of the k smallest values: a leximin level's value for a solution."""
    return float(np.sort(values)[:k].sum())


@dataclass(frozen=True)
class Goal:
    """One level to solve: its name, its CP-SAT expression, its units and sense."""

    name: str
    expression: Any  # cp_model.LinearExprT
    scale: float  # divide the model's integer value by this to report it
    maximize: bool = True


@dataclass(frozen=True)
class Attempt:
    """What one level's search found: the level (or none), its integer value, a solution."""

    level: Level | None
    value: int = 0  # the model's integer value, kept as a constraint
    solution: list[int] | None = None
    wall_s: float = 0.0
    deterministic_s: float = 0.0  # CP-SAT's deterministic time (SearchSettings.deterministic)


@dataclass
class Run:
    """The levels proven or reached so far, the last solution meeting them, the time taken."""

    levels: list[Level] = field(default_factory=list)
    solution: list[int] | None = None
    wall_s: float = 0.0
    deterministic_s: float = 0.0


G = TypeVar("G", bound=Goal)


def solve_levels(
    model: cp_model.CpModel,
    goals: Iterable[G],
    settings: SearchSettings,
    search: Callable[[G, float, list[int]], Attempt],
    *,
    start: Sequence[int] = (),
    stop_when_unproven: bool = True,
    kept: Callable[[G, int], None] | None = None,
) -> Run:
    """Solve the levels in turn, each one's value kept as a constraint for the next.

    ``search(goal, left_s, solution)`` solves one level from the last solution, with
    the objective set; ``left_s`` counts the time the settings count (``spent``). The
    run stops when time runs out, a level finds nothing, or (``stop_when_unproven``) a
    level is not proven. Only the first level not proven
    optimal has a bound valid for the objective; the later levels' bounds hold given
    the values kept before them. ``kept(goal, value)`` hears of each value kept.
    """
    run = Run()
    solution = sorted(start)
    for number, goal in enumerate(goals, 1):
        left = settings.time_limit_s - settings.spent(run.wall_s, run.deterministic_s)
        if left < MIN_LEVEL_TIME_S:
            break
        if settings.on_level is not None:
            settings.on_level(number, goal.name)
        if goal.maximize:
            model.maximize(goal.expression)
        else:
            model.minimize(goal.expression)
        found = search(goal, left, solution)
        run.wall_s += found.wall_s
        run.deterministic_s += found.deterministic_s
        if found.solution is not None:
            solution = found.solution
        if found.level is None:
            break
        run.solution = solution
        run.levels.append(found.level)
        if goal.maximize:
            model.add(goal.expression >= found.value)
        else:
            model.add(goal.expression <= found.value)
        if kept is not None:
            kept(goal, found.value)
        if stop_when_unproven and not found.level.optimal:
            break
    return run


def search_whole(
    model: cp_model.CpModel,
    goal: Goal,
    solver: cp_model.CpSolver,
    choices: Iterable[tuple[int, cp_model.IntVar]],
    relative_gap: float,
) -> Attempt:
    """Solve a level on the whole model; return it, with the chosen indices, or no level."""
    from ortools.sat.python import cp_model

    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Attempt(None, wall_s=solver.wall_time, deterministic_s=solver.deterministic_time)
    value = round(solver.objective_value)
    exact = relative_gap == 0 and status == cp_model.OPTIMAL
    bound = value if exact else solver.best_objective_bound
    level = Level(
        name=goal.name,
        value=value / goal.scale,
        bound=bound / goal.scale,
        optimal=status == cp_model.OPTIMAL,
        maximize=goal.maximize,
        tolerance=relative_gap,
        wall_s=solver.wall_time,
    )
    chosen = [i for i, var in choices if solver.value(var)]
    return Attempt(level, value, chosen, solver.wall_time, solver.deterministic_time)
