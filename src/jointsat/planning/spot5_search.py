"""Improve a SPOT5 answer by large-neighbourhood search over the constraint graph's components.

Photos that share no constraint, directly or through others, meet only in the recorder:
the constraint graph of a multi-orbit day falls into components (stretches of the
orbits), and each component's selection matters to the rest only by the recorder units
it takes. For every component the search keeps a *profile*, the best selection known
for it alone at each number of units; a knapsack over the profiles then gives the best
answer they allow, and the incumbent is always that answer. Small components get their
whole profile at the start, by solving them exactly at every capacity that can matter.

Each step frees a window of a larger component (consecutive photos in the file's
orbit order, or a ball of constraint-graph neighbours), fixes the rest of that
component, and asks CP-SAT for the window's selection that gives the most gain together
with the best the other components can do with the units left, read off their
profiles. So a window may give up recorder units for no gain of its own when the
other components turn them into gain, which a plain window search cannot see. The
window grows while CP-SAT proves its steps optimal and shrinks while it does not. The
sub-problems run on one worker with a deterministic time limit and seeded choices:
the same instance and budget take the same steps.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.sat.python import cp_model

if TYPE_CHECKING:
    from jointsat.planning.spot5 import Spot5

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


def solve_window(
    ix: Indexed,
    choice: Sequence[int],
    window: Sequence[int],
    others: Sequence[tuple[int, int]],
    budget: int,
    *,
    deterministic_s: float,
    seed: int,
    hint_other: int = 0,
) -> Step:
    """Re-select the photos of a window, all else fixed, for the most gain with the others'.

    ``others`` lists (units, gain) options for everything outside the window's
    component, exactly one of which is taken; the window and that option share
    ``budget`` units. Constraints reaching outside the window bind at the photos
    ``choice`` fixes there. ``hint_other`` is the option the current answer takes.
    """
    inside = set(window)
    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    negated: dict[tuple[int, int], Any] = {}
    for i in window:
        options = [model.new_bool_var("") for _ in ix.values[i]]
        for k, b in enumerate(options):
            x[i, k] = b
            negated[i, k] = b.Not()
        model.add_at_most_one(options)
    done: set[int] = set()
    for i in window:
        for n in ix.touching[i]:
            if n in done:
                continue
            done.add(n)
            where, forbidden = ix.constraints[n]
            if all(p in inside for p in where):
                for values in forbidden:
                    model.add_bool_or([negated[key] for key in zip(where, values, strict=True)])
                continue
            fixed = [(j, p) for j, p in enumerate(where) if p not in inside]
            if any(choice[p] == REJECTED for _, p in fixed):
                continue
            for values in forbidden:
                if all(values[j] == choice[p] for j, p in fixed):
                    model.add_bool_or(
                        [negated[p, values[j]] for j, p in enumerate(where) if p in inside]
                    )
    y = [model.new_bool_var("") for _ in others]
    model.add_exactly_one(y)
    literals = [*x.values(), *y]
    units = [ix.units[i][k] for i, k in x] + [u for u, _ in others]
    if any(units):
        model.add(cp_model.LinearExpr.weighted_sum(literals, units) <= budget)
    base = others[0][1]  # the objective counts the others' gain above their least option
    gains = [ix.gains[i] for i, _ in x] + [g - base for _, g in others]
    model.maximize(cp_model.LinearExpr.weighted_sum(literals, gains))
    for (i, k), b in x.items():
        model.add_hint(b, choice[i] == k)
    for n, b in enumerate(y):
        model.add_hint(b, n == hint_other)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = deterministic_s
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Step(None, False, solver.wall_time)
    new = dict.fromkeys(window, REJECTED)
    for (i, k), b in x.items():
        if solver.value(b):
            new[i] = k
    return Step(new, status == cp_model.OPTIMAL, solver.wall_time)


SWEEP_SIZE = 40  # components up to this many photos get their whole profile first
STEP_DETERMINISTIC_S = 0.5  # CP-SAT's deterministic time per step
FIRST_WINDOW = 60  # photos freed by the first step in a large component
SMALLEST_WINDOW = 15
EXCHANGE = 8  # recorder units a step may move between a window and the others
GROW, SHRINK = 1.15, 0.85  # the window after a proven step, after an unproven one


class Search:
    """The profiles of every component, and the steps that improve them."""

    def __init__(self, ix: Indexed, choice: Sequence[int], *, seed: int = 0) -> None:
        """Start from a valid answer: each component's part of it is its first point."""
        self.ix = ix
        self.profiles = []
        for positions in ix.components():
            profile = Profile(positions)
            part = tuple(choice[i] for i in positions)
            profile.add(ix.units_of(positions, choice), ix.gain_of(positions, choice), part)
            self.profiles.append(profile)
        self.exact = [False] * len(self.profiles)  # every point proven: nothing to search
        self.settled = [-1] * len(self.profiles)  # version when solved whole and proven
        self.version = 0  # counts changes to the profiles' points
        self.rng = random.Random(seed)
        self.window = FIRST_WINDOW
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

    def run(self, time_limit_s: float) -> None:
        """Sweep the small components, then take steps until the solver time is spent."""
        for k, profile in enumerate(self.profiles):
            # A component that takes no recorder is swept by one solve, of any size.
            free = not any(any(self.ix.units[i]) for i in profile.positions)
            if len(profile.positions) <= SWEEP_SIZE or free:
                self.exact[k] = self.sweep(k)
            if self.wall_s >= time_limit_s:
                return
        while self.wall_s < time_limit_s:
            open_ = [
                k
                for k in range(len(self.profiles))
                if not self.exact[k] and self.settled[k] != self.version
            ]
            if not open_:
                return
            weights = [len(self.profiles[k].positions) for k in open_]
            self.step(self.rng.choices(open_, weights)[0])

    def _solve(
        self,
        choice: Sequence[int],
        window: Sequence[int],
        others: Sequence[tuple[int, int]],
        budget: int,
        hint_other: int = 0,
    ) -> Step:
        self.steps += 1
        step = solve_window(
            self.ix,
            choice,
            window,
            others,
            budget,
            deterministic_s=STEP_DETERMINISTIC_S,
            seed=self.steps,
            hint_other=hint_other,
        )
        self.wall_s += step.wall_s
        return step

    def _keep(self, k: int, part: tuple[int, ...]) -> bool:
        positions = self.profiles[k].positions
        full = [REJECTED] * len(self.ix.values)
        for i, c in zip(positions, part, strict=True):
            full[i] = c
        changed = self.profiles[k].add(
            self.ix.units_of(positions, full), self.ix.gain_of(positions, full), part
        )
        if changed:
            self.version += 1
        return changed

    def sweep(self, k: int) -> bool:
        """Fill component k's profile at every capacity from its most units down.

        Return whether every point was proven optimal: the profile is then exact.
        """
        positions = self.profiles[k].positions
        if len(positions) == 1:  # a lone photo: each value is a point
            (i,) = positions
            for c, units in enumerate(self.ix.units[i]):
                self.profiles[k].add(units, self.ix.gains[i], (c,))
            return True
        hint = [REJECTED] * len(self.ix.values)
        exact = True
        cap = min(sum(max(self.ix.units[i]) for i in positions), self.ix.capacity)
        while True:
            step = self._solve(hint, positions, [(0, 0)], cap)
            if step.choice is None:
                return False
            exact &= step.optimal
            part = tuple(step.choice[i] for i in positions)
            self._keep(k, part)
            for i, c in step.choice.items():
                hint[i] = c
            used = self.ix.units_of(positions, hint)
            if used == 0:
                return exact
            cap = used - 1

    def step(self, k: int) -> None:
        """Re-select a window of component k against the best the others can do."""
        choice, _ = self.answer()
        positions = self.profiles[k].positions
        others = self.profiles[:k] + self.profiles[k + 1 :]
        capacity = self.ix.capacity
        frontier = _frontier(knapsack(others, capacity)[0])
        whole = len(positions) <= self.window
        if whole:
            window = list(positions)
        elif self.rng.random() < 0.5:
            start = self.rng.randrange(len(positions) - self.window + 1)
            window = list(positions[start : start + self.window])
        else:
            window = _ball(self.ix, self.rng.choice(positions), self.window)
        inside = set(window)
        rest = [i for i in positions if i not in inside]
        budget = capacity - self.ix.units_of(rest, choice)
        held = capacity - self.ix.units_of(positions, choice)  # by the others now
        # A step moves at most EXCHANGE units between the window and the others.
        floor = max(u for u, _ in frontier if u <= max(held - EXCHANGE, 0))
        usable = [(u, g) for u, g in frontier if floor <= u <= min(budget, held + EXCHANGE)]
        hint_other = max(n for n, (u, _) in enumerate(usable) if u <= held)
        step = self._solve(choice, window, usable, budget, hint_other)
        if not whole:
            grown = int(self.window * GROW) + 1 if step.optimal else int(self.window * SHRINK)
            self.window = max(SMALLEST_WINDOW, grown)
        if step.choice is None:
            return
        for i, c in step.choice.items():
            choice[i] = c
        self._keep(k, tuple(choice[i] for i in positions))
        if whole and step.optimal:
            self.settled[k] = self.version

    @property
    def proven(self) -> bool:
        """Whether every profile is exact, so that the best answer they allow is optimal."""
        return all(self.exact)


@dataclass(frozen=True)
class Improved:
    """The best answer found (a choice per position), its gain, whether proven, seconds."""

    choice: list[int]
    gain: int
    optimal: bool
    wall_s: float


def improve(ix: Indexed, choice: Sequence[int], time_limit_s: float, *, seed: int = 0) -> Improved:
    """Search from a valid answer for about time_limit_s seconds of solver time."""
    search = Search(ix, choice, seed=seed)
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
