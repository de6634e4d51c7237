"""Improve a SPOT5 answer by large-neighbourhood search over the constraint graph's components.

Photos that share no constraint, directly or through others, meet only in the recorder:
the constraint graph of a multi-orbit day falls into components (stretches of the
orbits), and each component's selection matters to the rest only by the recorder units
it takes. For every component the search keeps a *profile*, the best selection known
for it alone at each number of units; a knapsack over the profiles gives the best
answer they allow, and the incumbent is always that answer. Small components, and
those that take no recorder, are solved exactly at the start at every capacity that
can matter; when every profile is exact, the answer is proven optimal.

Each step frees a window of a larger component (a third of the time consecutive
photos in the file's orbit order, a third a ball of constraint-graph neighbours, a
third photos drawn at random from it, which breaks the dense knots the other two stall
in), fixes the rest of that component, and asks CP-SAT for the window's selection that
gives the most gain together with the best the other components can do with the units
left, read off their profiles. So a window may give up recorder units for no gain of
its own when the other components turn them into gain, which a plain window search
cannot see. A component that fits a window and is already solved against the others
as they stand is probed instead, solved alone at capacities near its current use,
which prices its units for the others' steps.

The window grows while CP-SAT proves its steps optimal and shrinks while it does not;
the steps' time doubles while rounds bring no gain. Steps run two (``threads``) at a
time on one CP-SAT worker each, with deterministic time limits and seeded choices:
the same instance takes the same steps, however loaded the machine.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.sat.python import cp_model

if TYPE_CHECKING:
    from jointsat.spot5.instance import Spot5

REJECTED = -1  # a position's choice when the photo is not selected
_NEVER = -(10**15)  # a knapsack entry no selection reaches


@dataclass(frozen=True)
class Indexed:
    """An instance by photo position: gains, units per value, constraints, neighbours.

    A choice per position is the index of the value in ``values`` or ``REJECTED``.
    Without a recorder the capacity is 0 and every value takes 0 units.
    """

    values: tuple[tuple[int, ...], ...]
    gains: tuple[int, ...]
    units: tuple[tuple[int, ...], ...]
    constraints: tuple[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]], ...]
    touching: tuple[tuple[int, ...], ...]  # constraint numbers, per position
    neighbours: tuple[tuple[int, ...], ...]
    capacity: int

    @classmethod
    def of(cls, instance: Spot5) -> Indexed:
        """Index an instance; forbidden tuples naming a value outside a domain are dropped."""
        position = {p.id: i for i, p in enumerate(instance.photos)}
        values = tuple(p.values for p in instance.photos)
        recorder = instance.capacity_units is not None
        units = tuple(
            tuple(p.units(v) if recorder else 0 for v in p.values) for p in instance.photos
        )
        constraints: list[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]] = []
        touching: list[list[int]] = [[] for _ in values]
        neighbours: list[set[int]] = [set() for _ in values]
        for c in instance.constraints:
            where = tuple(position[p] for p in c.photos)
            forbidden = tuple(
                tuple(values[i].index(v) for i, v in zip(where, t, strict=True))
                for t in sorted(c.forbidden)
                if all(v in values[i] for i, v in zip(where, t, strict=True))
            )
            for i in set(where):
                touching[i].append(len(constraints))
                neighbours[i].update(j for j in where if j != i)
            constraints.append((where, forbidden))
        return cls(
            values=values,
            gains=tuple(p.gain for p in instance.photos),
            units=units,
            constraints=tuple(constraints),
            touching=tuple(tuple(t) for t in touching),
            neighbours=tuple(tuple(sorted(n)) for n in neighbours),
            capacity=instance.capacity_units or 0,
        )

    def components(self) -> list[tuple[int, ...]]:
        """Return the connected components of the constraint graph, positions in order."""
        seen = [False] * len(self.values)
        found = []
        for start in range(len(self.values)):
            if seen[start]:
                continue
            seen[start] = True
            stack, members = [start], []
            while stack:
                i = stack.pop()
                members.append(i)
                for j in self.neighbours[i]:
                    if not seen[j]:
                        seen[j] = True
                        stack.append(j)
            found.append(tuple(sorted(members)))
        return found

    def gain_of(self, positions: Sequence[int], choice: Sequence[int]) -> int:
        """Return the gain of the selected photos among positions."""
        return sum(self.gains[i] for i in positions if choice[i] != REJECTED)

    def units_of(self, positions: Sequence[int], choice: Sequence[int]) -> int:
        """Return the recorder units the selected photos among positions take."""
        return sum(self.units[i][choice[i]] for i in positions if choice[i] != REJECTED)


class Profile:
    """The best selections known for one component alone, by the recorder units they take.

    Only undominated points are kept: more units always buy strictly more gain. The
    empty selection (no units, no gain) is always a point.
    """

    def __init__(self, positions: tuple[int, ...]) -> None:
        self.positions = positions
        self.points: dict[int, tuple[int, tuple[int, ...]]] = {0: (0, (REJECTED,) * len(positions))}

    def add(self, units: int, gain: int, choice: tuple[int, ...]) -> bool:
        """Keep a selection unless another with no more units has at least its gain.

        One with the same units and gain replaces the kept one (the search moves on
        plateaus). Return whether the profile's (units, gain) points changed.
        """
        for u, (g, _) in self.points.items():
            if u <= units and g >= gain and (u, g) != (units, gain):
                return False
        changed = self.points.get(units, (None,))[0] != gain
        for u in [u for u, (g, _) in self.points.items() if u > units and g <= gain]:
            del self.points[u]
            changed = True
        self.points[units] = (gain, choice)
        return changed

    def pairs(self) -> list[tuple[int, int]]:
        """Return the (units, gain) points by units."""
        return sorted((u, g) for u, (g, _) in self.points.items())


def knapsack(profiles: Sequence[Profile], capacity: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return the most gain the profiles give within each budget 0..capacity, and the picks.

    ``picks[k][b]`` is the units of the point component k takes when components 0..k
    share a budget of b; walk them back from the last to read an allocation.
    """
    best = np.zeros(capacity + 1, dtype=np.int64)
    picks = []
    for profile in profiles:
        new = np.full(capacity + 1, _NEVER, dtype=np.int64)
        pick = np.zeros(capacity + 1, dtype=np.int64)
        for u, g in profile.pairs():
            if u > capacity:
                break
            candidate = np.full(capacity + 1, _NEVER, dtype=np.int64)
            candidate[u:] = best[: capacity + 1 - u] + g
            better = candidate > new
            new[better] = candidate[better]
            pick[better] = u
        best = new
        picks.append(pick)
    return best, picks


def _frontier(best: np.ndarray) -> list[tuple[int, int]]:
    """Return the budgets at which the most gain rises, with that gain."""
    points, top = [], _NEVER
    for u, g in enumerate(best.tolist()):
        if g > top:
            points.append((u, g))
            top = g
    return points


@dataclass(frozen=True)
class Step:
    """What CP-SAT chose for a window (position -> choice), whether proven, its seconds."""

    choice: dict[int, int] | None  # None: nothing found in time
    optimal: bool
    wall_s: float


class Component:
    """A component's photos and constraints as a CP-SAT model, copied for each step.

    Copying the model and fixing the photos outside a window in one constraint costs
    far less than writing a window's clauses again, and CP-SAT's presolve (which runs
    without holding the interpreter) drops what the fixed photos settle.
    """

    def __init__(self, ix: Indexed, positions: Sequence[int]) -> None:
        model = cp_model.CpModel()
        x: dict[tuple[int, int], cp_model.IntVar] = {}
        negated: dict[tuple[int, int], Any] = {}
        for i in positions:
            options = [model.new_bool_var("") for _ in ix.values[i]]
            for k, b in enumerate(options):
                x[i, k] = b
                negated[i, k] = b.Not()
            model.add_at_most_one(options)
        for n in sorted({n for i in positions for n in ix.touching[i]}):
            where, forbidden = ix.constraints[n]
            for values in forbidden:
                model.add_bool_or([negated[key] for key in zip(where, values, strict=True)])
        self.ix = ix
        self.positions = tuple(positions)
        self.model = model
        self.keys = list(x)
        self.indices = [b.index for b in x.values()]
        self.units = [ix.units[i][k] for i, k in x]
        self.gains = [ix.gains[i] for i, _ in x]


class Window:
    """A step's model: a window of a component re-selected, the rest of it fixed.

    ``others`` lists (units, gain) options for everything outside the component,
    exactly one of which is taken; the component and that option share ``capacity``
    units. ``choice`` fixes the component outside the window and hints inside it;
    ``hint_other`` is the option the current answer takes.
    """

    def __init__(
        self,
        component: Component,
        choice: Sequence[int],
        window: Sequence[int],
        others: Sequence[tuple[int, int]],
        capacity: int,
        hint_other: int = 0,
    ) -> None:
        model = component.model.clone()
        x = [model.get_bool_var_from_proto_index(n) for n in component.indices]
        inside = set(window)
        fixed = []
        for (i, k), b in zip(component.keys, x, strict=True):
            if i in inside:
                model.add_hint(b, choice[i] == k)
            else:
                fixed.append(b if choice[i] == k else b.Not())
        model.add_bool_and(fixed)
        y = [model.new_bool_var("") for _ in others]
        model.add_exactly_one(y)
        for n, b in enumerate(y):
            model.add_hint(b, n == hint_other)
        literals = [*x, *y]
        units = component.units + [u for u, _ in others]
        if any(units):
            model.add(cp_model.LinearExpr.weighted_sum(literals, units) <= capacity)
        base = others[0][1]  # the objective counts the others' gain above their least option
        gains = component.gains + [g - base for _, g in others]
        model.maximize(cp_model.LinearExpr.weighted_sum(literals, gains))
        self.component = component
        self.model = model
        self.x = x

    def solve(self, *, deterministic_s: float, seed: int) -> Step:
        """Solve on one worker within a deterministic time limit, seeded."""
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.max_deterministic_time = deterministic_s
        solver.parameters.random_seed = seed
        status = solver.solve(self.model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Step(None, False, solver.wall_time)
        new = dict.fromkeys(self.component.positions, REJECTED)
        for (i, k), b in zip(self.component.keys, self.x, strict=True):
            if solver.value(b):
                new[i] = k
        return Step(new, status == cp_model.OPTIMAL, solver.wall_time)


SWEEP_SIZE = 40  # components up to this many photos get their whole profile first
STEP_DETERMINISTIC_S = 0.25  # CP-SAT's deterministic time per step, at first
FREE_DETERMINISTIC_S = 2.0  # for a component that takes no recorder: solved once, alone
MOST_EFFORT = 4  # times that, at most, after rounds without gain
STALL_ROUNDS = 8  # rounds without gain before the steps get twice the time
FIRST_WINDOW = 60  # photos freed by the first step in a large component
SMALLEST_WINDOW = 15
EXCHANGE = 8  # recorder units a step may move between a window and the others
GROW, SHRINK = 1.15, 0.85  # the window after a proven step, after an unproven one


@dataclass(frozen=True)
class _Plan:
    k: int  # the component
    kind: str  # "probe": alone at a capacity; else against the others: "whole" or a window
    base: tuple[int, ...]  # the component's choice the window starts from
    window: Window
    seed: int
    others_version: int  # of the other components' profiles, when planned
    deterministic_s: float


class Search:
    """The profiles of every component, and the steps that improve them.

    Steps run ``threads`` at a time (CP-SAT releases the interpreter while it
    solves); each returns a valid selection of its component alone, so results from
    the same round never conflict: each becomes a point of its component's profile.
    """

    def __init__(
        self, ix: Indexed, choice: Sequence[int], *, seed: int = 0, threads: int = 1
    ) -> None:
        """Start from a valid answer: each component's part of it is its first point."""
        self.ix = ix
        self.profiles = []
        for positions in ix.components():
            profile = Profile(positions)
            part = tuple(choice[i] for i in positions)
            profile.add(ix.units_of(positions, choice), ix.gain_of(positions, choice), part)
            self.profiles.append(profile)
        self.exact = [False] * len(self.profiles)  # every point proven: nothing to search
        self.free = [not any(any(ix.units[i]) for i in p.positions) for p in self.profiles]
        self.changes = [0] * len(self.profiles)  # to each profile's points
        self.settled = [-1] * len(self.profiles)  # others' version when solved whole, proven
        self.probed: list[set[int]] = [set() for _ in self.profiles]  # capacities probed
        self.models: dict[int, Component] = {}
        self.rng = random.Random(seed)
        self.threads = threads
        self.window = FIRST_WINDOW
        self.effort = 1  # the steps' time, in STEP_DETERMINISTIC_S
        self.wall_s = 0.0
        self.steps = 0

    def answer(self) -> tuple[list[int], int]:
        """Return the best answer the profiles allow (a choice per position) and its gain."""
        best, picks = knapsack(self.profiles, self.ix.capacity)
        choice = [REJECTED] * len(self.ix.values)
        budget = self.ix.capacity
        for profile, pick in zip(reversed(self.profiles), reversed(picks), strict=True):
            units = int(pick[budget])
            budget -= units
            for i, k in zip(profile.positions, profile.points[units][1], strict=True):
                choice[i] = k
        return choice, int(best[-1])

    @property
    def proven(self) -> bool:
        """Whether every profile is exact, so that the best answer they allow is optimal."""
        return all(self.exact)

    def run(self, time_limit_s: float, *, rounds: int | None = None) -> None:
        """Sweep the small components, then take steps until the solver time is spent.

        ``rounds`` stops the steps after that many rounds, whatever the time left.
        """
        for k, profile in enumerate(self.profiles):
            # A component that takes no recorder is swept by one solve, of any size.
            if len(profile.positions) <= SWEEP_SIZE or self.free[k]:
                self.exact[k] = self.sweep(k)
            if self.wall_s >= time_limit_s:
                return
        # Steps start short; while rounds bring no gain their time doubles (and with
        # it the windows they prove, so the windows grow), back to short on a gain.
        gain, stalled = self.answer()[1], 0
        with ThreadPoolExecutor(self.threads) as pool:
            while self.wall_s < time_limit_s and rounds != 0:
                rounds = None if rounds is None else rounds - 1
                plans = self._plans()
                if not plans:
                    return
                steps = list(pool.map(_solve_plan, plans))
                self.wall_s += max(step.wall_s for step in steps)
                for plan, step in zip(plans, steps, strict=True):
                    self._apply(plan, step)
                now = self.answer()[1]
                if now > gain:
                    gain, stalled, self.effort = now, 0, 1
                else:
                    stalled += 1
                    if stalled >= STALL_ROUNDS:
                        stalled, self.effort = 0, min(2 * self.effort, MOST_EFFORT)

    def step(self, k: int) -> None:
        """Take one step on component k (whatever its state calls for)."""
        plan = self._plan(k, self.answer()[0])
        step = _solve_plan(plan)
        self.wall_s += step.wall_s
        self._apply(plan, step)

    def sweep(self, k: int) -> bool:
        """Fill component k's profile at every capacity from its most units down.

        Return whether every point was proven optimal: the profile is then exact.
        """
        positions = self.profiles[k].positions
        if len(positions) == 1:  # a lone photo: each value is a point
            (i,) = positions
            for c, units in enumerate(self.ix.units[i]):
                self._keep(k, units, self.ix.gains[i], (c,))
            return True
        hint = [REJECTED] * len(self.ix.values)
        exact = True
        cap = min(sum(max(self.ix.units[i]) for i in positions), self.ix.capacity)
        while True:
            self.steps += 1
            step = Window(self._component(k), hint, positions, [(0, 0)], cap).solve(
                deterministic_s=FREE_DETERMINISTIC_S if self.free[k] else STEP_DETERMINISTIC_S,
                seed=self.steps,
            )
            self.wall_s += step.wall_s
            if step.choice is None:
                return False
            exact &= step.optimal
            for i, c in step.choice.items():
                hint[i] = c
            used = self.ix.units_of(positions, hint)
            part = tuple(hint[i] for i in positions)
            self._keep(k, used, self.ix.gain_of(positions, hint), part)
            if used == 0:
                return exact
            cap = used - 1

    def _time(self) -> float:
        return STEP_DETERMINISTIC_S * self.effort

    def _component(self, k: int) -> Component:
        if k not in self.models:
            self.models[k] = Component(self.ix, self.profiles[k].positions)
        return self.models[k]

    def _keep(self, k: int, units: int, gain: int, part: tuple[int, ...]) -> None:
        if self.profiles[k].add(units, gain, part):
            self.changes[k] += 1

    def _others_version(self, k: int) -> int:
        return sum(self.changes) - self.changes[k]

    def _open(self, choice: Sequence[int]) -> list[int]:
        """Return the components a step may still improve."""
        return [
            k
            for k in range(len(self.profiles))
            if not self.exact[k]
            and (self.settled[k] != self._others_version(k) or self._probe(k, choice) is not None)
        ]

    def _plans(self) -> list[_Plan]:
        """Plan a round of steps: components drawn by size, a whole one at most once."""
        choice = self.answer()[0]
        open_ = self._open(choice)
        plans: list[_Plan] = []
        for _ in range(self.threads):
            taken = {p.k for p in plans}
            drawable = [
                k for k in open_ if k not in taken or len(self.profiles[k].positions) > self.window
            ]
            if not drawable:
                break
            weights = [len(self.profiles[k].positions) for k in drawable]
            plans.append(self._plan(self.rng.choices(drawable, weights)[0], choice))
        return plans

    def _probe(self, k: int, choice: Sequence[int]) -> int | None:
        """Return a capacity near component k's current units not yet probed, if any."""
        profile = self.profiles[k]
        if len(profile.positions) > self.window or self.free[k]:
            return None
        units = self.ix.units_of(profile.positions, choice)
        for delta in range(1, EXCHANGE + 1):
            for cap in (units + delta, units - delta):
                if 0 <= cap <= self.ix.capacity and cap not in self.probed[k]:
                    return cap
        return None

    def _plan(self, k: int, choice: Sequence[int]) -> _Plan:
        """Plan a step on component k.

        A window of it is re-selected against the best the other components can do
        with the units left, read off their profiles. A component that fits the window
        and was already solved whole against the others as they stand is probed
        instead: solved alone at a capacity near its current use, which prices its
        units for the others' steps.
        """
        self.steps += 1
        positions = self.profiles[k].positions
        base = tuple(choice[i] for i in positions)
        version = self._others_version(k)
        if self.settled[k] == version:
            cap = self._probe(k, choice)
            if cap is not None:
                self.probed[k].add(cap)
                probe = Window(self._component(k), choice, positions, [(0, 0)], cap)
                return _Plan(k, "probe", base, probe, self.steps, version, self._time())
        others = self.profiles[:k] + self.profiles[k + 1 :]
        capacity = self.ix.capacity
        frontier = _frontier(knapsack(others, capacity)[0])
        if len(positions) <= self.window:
            kind, window = "whole", list(positions)
        else:
            kind = ("run", "ball", "scatter")[self.rng.randrange(3)]
            if kind == "run":  # consecutive photos along the orbit
                start = self.rng.randrange(len(positions) - self.window + 1)
                window = list(positions[start : start + self.window])
            elif kind == "ball":  # a photo and its nearest neighbours in the constraint graph
                window = _ball(self.ix, self.rng.choice(positions), self.window)
            else:  # photos drawn at random: far apart, they free each other less
                window = sorted(self.rng.sample(positions, self.window))
        inside = set(window)
        rest = [i for i in positions if i not in inside]
        budget = capacity - self.ix.units_of(rest, choice)
        held = capacity - self.ix.units_of(positions, choice)  # by the others now
        # A step moves at most EXCHANGE units between the window and the others.
        floor = max(u for u, _ in frontier if u <= max(held - EXCHANGE, 0))
        usable = [(u, g) for u, g in frontier if floor <= u <= min(budget, held + EXCHANGE)]
        hint_other = max(n for n, (u, _) in enumerate(usable) if u <= held)
        model = Window(self._component(k), choice, window, usable, capacity, hint_other)
        return _Plan(k, kind, base, model, self.steps, version, self._time())

    def _apply(self, plan: _Plan, step: Step) -> None:
        """Keep a step's selection as a point of its component's profile."""
        if plan.kind in ("run", "ball", "scatter"):
            grown = int(self.window * GROW) + 1 if step.optimal else int(self.window * SHRINK)
            self.window = max(SMALLEST_WINDOW, grown)
        if step.choice is None:
            return
        positions = self.profiles[plan.k].positions
        full = [REJECTED] * len(self.ix.values)
        for i, c in zip(positions, plan.base, strict=True):
            full[i] = c
        for i, c in step.choice.items():
            full[i] = c
        part = tuple(full[i] for i in positions)
        self._keep(
            plan.k, self.ix.units_of(positions, full), self.ix.gain_of(positions, full), part
        )
        if plan.kind == "whole" and step.optimal:
            self.settled[plan.k] = plan.others_version
            if self.free[plan.k]:  # its best does not depend on the others
                self.exact[plan.k] = True


def _solve_plan(plan: _Plan) -> Step:
    return plan.window.solve(deterministic_s=plan.deterministic_s, seed=plan.seed)


@dataclass(frozen=True)
class Improved:
    """The best answer found (a choice per position), its gain, whether proven, seconds."""

    choice: list[int]
    gain: int
    optimal: bool
    wall_s: float


def improve(
    ix: Indexed, choice: Sequence[int], time_limit_s: float, *, seed: int = 0, threads: int = 1
) -> Improved:
    """Search from a valid answer for about time_limit_s seconds of solver time."""
    search = Search(ix, choice, seed=seed, threads=threads)
    search.run(time_limit_s)
    found, gain = search.answer()
    return Improved(found, gain, search.proven, search.wall_s)


def _ball(ix: Indexed, start: int, size: int) -> list[int]:
    seen = {start}
    queue = deque([start])
    while queue and len(seen) < size:
        for j in ix.neighbours[queue.popleft()]:
            if j not in seen:
                seen.add(j)
                queue.append(j)
                if len(seen) >= size:
                    break
    return sorted(seen)
