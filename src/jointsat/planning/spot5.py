"""Read CNES's SPOT5 daily photograph selection instances, check answers, solve them.

The format (Bensana, Lemaitre, Verfaillie 1999; ../shared/data/spot5/FORMAT.md): photos
with a gain and a domain of values (1, 2, 3: the front, middle, rear instrument of a
mono image; 13: a stereo image), each value with a recorder consumption; hard
constraints listing forbidden value tuples, binding only when all their photos are
selected; for multi-orbit instances, a recorder capacity. Answers: photo id -> value.

The recorder is read in the normalised units the published best values use: a value
consumes round(consumption / 451) units and the capacity is 200 units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import gcd
from typing import Any

from ortools.sat.python import cp_model

from jointsat.errors import InputError
from jointsat.planning import spot5_search

RECORDER_UNIT = 451.0  # raw consumption per normalised unit (451.15 per mono image)
RECORDER_CAPACITY_UNITS = 200
STEREO = 13


class Spot5Error(InputError):
    """Reject a SPOT5 file that cannot be read, naming the line."""


@dataclass(frozen=True)
class Photo:
    """A candidate photograph: its gain and, per possible value, the recorder it consumes."""

    id: int
    gain: int
    values: tuple[int, ...]
    consumption: tuple[float, ...]  # raw, one per value

    def units(self, value: int) -> int:
        """Return the normalised recorder units the photo takes with this value."""
        return round(self.consumption[self.values.index(value)] / RECORDER_UNIT)


@dataclass(frozen=True)
class Constraint:
    """Value tuples the listed photos may not take together (if all are selected)."""

    photos: tuple[int, ...]
    forbidden: frozenset[tuple[int, ...]]


@dataclass(frozen=True)
class Spot5:
    """One SPOT5 instance."""

    name: str
    photos: tuple[Photo, ...]
    constraints: tuple[Constraint, ...]
    capacity_units: int | None  # None: a single-orbit instance, no recorder limit

    @property
    def by_id(self) -> dict[int, Photo]:
        """Return the photos by id."""
        return {p.id: p for p in self.photos}


def read_spot5(text: str, *, source: str = "<string>") -> Spot5:
    """Read a SPOT5 instance (CRLF line ends, blank lines and extra photo fields allowed)."""
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    position = 0

    def take() -> tuple[int, list[str]]:
        nonlocal position
        if position >= len(lines):
            raise Spot5Error("the file ends too early", source=source)
        found = lines[position]
        position += 1
        return found

    def integer(token: str, n: int, what: str) -> int:
        try:
            return int(token)
        except ValueError:
            raise Spot5Error(
                f"{what} {token!r} is not an integer", source=source, location=f"line {n}"
            ) from None

    n, header = take()
    photos = []
    for _ in range(integer(header[0], n, "the photo count")):
        n, fields = take()
        if len(fields) < 3:
            raise Spot5Error(
                "a photo needs id, gain and domain size", source=source, location=f"line {n}"
            )
        size = integer(fields[2], n, "the domain size")
        pairs = fields[3 : 3 + 2 * size]
        if len(pairs) < 2 * size:
            raise Spot5Error(
                f"the photo lists fewer than {size} values", source=source, location=f"line {n}"
            )
        try:
            consumption = tuple(float(c) for c in pairs[1::2])
        except ValueError:
            raise Spot5Error(
                "a consumption is not a number", source=source, location=f"line {n}"
            ) from None
        photos.append(
            Photo(
                id=integer(fields[0], n, "the photo id"),
                gain=integer(fields[1], n, "the gain"),
                values=tuple(integer(v, n, "a value") for v in pairs[0::2]),
                consumption=consumption,
            )
        )
    n, header = take()
    count = integer(header[0], n, "the constraint count")
    constraints = []
    capacity = None
    for k in range(count):
        n, fields = take()
        if k == count - 1 and len(fields) == 1:  # multi-orbit: the count includes the capacity
            capacity = RECORDER_CAPACITY_UNITS
            break
        arity = integer(fields[0], n, "the arity")
        numbers = [integer(f, n, "a constraint field") for f in fields[1:]]
        ids, rest = tuple(numbers[:arity]), numbers[arity:]
        if arity not in (1, 2, 3) or len(ids) < arity or len(rest) % arity:
            raise Spot5Error(
                "a constraint's tuples do not match its arity", source=source, location=f"line {n}"
            )
        constraints.append(
            Constraint(
                ids, frozenset(tuple(rest[i : i + arity]) for i in range(0, len(rest), arity))
            )
        )
    known = {p.id for p in photos}
    for c in constraints:
        if not set(c.photos) <= known:
            raise Spot5Error(
                f"a constraint names unknown photos {sorted(set(c.photos) - known)}", source=source
            )
    return Spot5(source, tuple(photos), tuple(constraints), capacity)


def check(instance: Spot5, answer: Mapping[int, int]) -> list[str]:
    """Return every rule an answer (photo id -> value) breaks; none when it is valid."""
    problems = []
    photos = instance.by_id
    for photo, value in answer.items():
        if photo not in photos:
            problems.append(f"photo {photo} is not in the instance")
        elif value not in photos[photo].values:
            problems.append(f"photo {photo} cannot take value {value}")
    for c in instance.constraints:
        if all(p in answer for p in c.photos):
            chosen = tuple(answer[p] for p in c.photos)
            if chosen in c.forbidden:
                problems.append(f"photos {c.photos} may not take values {chosen} together")
    if instance.capacity_units is not None:
        used = sum(
            photos[p].units(v) for p, v in answer.items() if p in photos and v in photos[p].values
        )
        if used > instance.capacity_units:
            problems.append(
                f"the recorder holds {instance.capacity_units} units, the answer needs {used}"
            )
    return problems


def gain(instance: Spot5, answer: Mapping[int, int]) -> int:
    """Return the total gain of the selected photos."""
    photos = instance.by_id
    return sum(photos[p].gain for p in answer if p in photos)


def format_answer(answer: Mapping[int, int]) -> str:
    """Return an answer as lines ``photo_id value``, one per selected photo, by id."""
    return "".join(f"{p} {answer[p]}\n" for p in sorted(answer))


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
    tuple is a clause; the recorder a knapsack in normalised units.

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
